"""Where in the user's program an error happened, and how mindlab words its errors.

Every error raised on bad input names the op, the shapes/dtypes involved and the user's source line: the first
stack frame outside the mindlab package (and outside numpy/numba, which the user did not write).
"""
import linecache
import os
import sys

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP = (_PKG_DIR, os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + "kernels")


def _is_internal(filename):
    if filename.startswith(_SKIP):
        return True
    return (os.sep + "numpy" + os.sep) in filename or (os.sep + "numba" + os.sep) in filename


def user_frame(depth=1):
    """(filename, lineno, source text) of the innermost frame that belongs to the user's code, or None."""
    f = sys._getframe(depth)
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith("<") or not _is_internal(os.path.abspath(fn)):
            line = linecache.getline(fn, f.f_lineno, f.f_globals).strip()
            return fn, f.f_lineno, line
        f = f.f_back
    return None


def where():
    """' at FILE:LINE: SOURCE' for the user's calling line ('' when none can be found). While a graph is being
    compiled, the line is the one in the user's function being compiled, not the caller of the compiler."""
    s = user_source()
    if s is not None:
        return f"\n  at {s.file}:{s.line}: {s.text}"
    fr = user_frame(2)
    if fr is None:
        return ""
    fn, lineno, line = fr
    return f"\n  at {fn}:{lineno}: {line}" if line else f"\n  at {fn}:{lineno}"


class MindlabError(Exception):
    """Base of mindlab's own error types."""


class ShapeError(MindlabError, ValueError):
    """Shapes that an op cannot accept (a ValueError)."""


class DTypeError(MindlabError, TypeError):
    """Dtypes that an op cannot accept (a TypeError)."""


class GraphModeSyntaxError(MindlabError, SyntaxError):
    """Python that GRAPH_MODE cannot compile: names the construct, quotes the line, suggests the fix."""

    def __init__(self, message, source=None):
        loc = f"\n  at {source.file}:{source.line}: {source.text}" if source is not None else ""
        super().__init__(message + loc)
        self.source = source


_SOURCE_STACK = []   # while compiling a graph: the user's line being compiled (innermost last)


def push_source(info):
    _SOURCE_STACK.append(info)


def pop_source():
    _SOURCE_STACK.pop()


def current_source():
    return _SOURCE_STACK[-1] if _SOURCE_STACK else None


def user_source():
    """While compiling: the innermost line being compiled that belongs to the user's code (not mindlab's own
    layers), or None when the compiled code so far is all mindlab's (then the caller's frame is the user's line)."""
    for s in reversed(_SOURCE_STACK):
        if s.file.startswith("<") or not _is_internal(os.path.abspath(s.file)):
            return s
    return None
