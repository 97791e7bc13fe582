"""Where in the user's program an error happened, and how mindlab words its errors.

Every error raised on bad input names the op, the shapes/dtypes involved and the user's source line: the first
stack frame outside the mindlab package (and outside numpy/numba, which the user did not write). The exceptions
raised by the dispatcher, by ``GraphModeSyntaxError`` and by anything that fails while a graph is being compiled
also carry that line as data: ``exc.source`` is a ``Source(file, line, text)`` (the notebook Inspector reads it).
"""
import linecache
import os
import sys
import threading
from dataclasses import dataclass

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP = (_PKG_DIR, os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + "kernels")


def _is_internal(filename):
    if filename.startswith(_SKIP):
        return True
    return (os.sep + "numpy" + os.sep) in filename or (os.sep + "numba" + os.sep) in filename


def is_user_file(filename):
    """Whether ``filename`` holds the user's code (not mindlab's, numpy's or numba's; notebook cells count)."""
    return filename.startswith("<") or not _is_internal(os.path.abspath(filename))


_THREAD = threading.local()   # .caller: the user's frame that started this worker thread (parallel sim ranks)


def set_thread_caller(frame):
    """In a worker thread: the user's (filename, lineno, text) that the work stands for (``user_frame`` falls back
    to it, where the thread's own stack holds only mindlab and ``threading``)."""
    _THREAD.caller = frame


def user_frame(depth=1):
    """(filename, lineno, source text) of the innermost frame that belongs to the user's code, or None."""
    f = sys._getframe(depth)
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith("<mindlab ") or fn == threading.__file__:   # a generated program (runtime/executor.py),
            f = f.f_back                                              # a thread's bootstrap: not the user's
            continue
        if fn.startswith("<") or not _is_internal(os.path.abspath(fn)):
            line = linecache.getline(fn, f.f_lineno, f.f_globals).strip()
            return fn, f.f_lineno, line
        f = f.f_back
    return getattr(_THREAD, "caller", None)


@dataclass(frozen=True)
class Source:
    """The user's source line an error is about: file name, line number and the line's stripped text."""
    file: str
    line: int
    text: str = ""

    @classmethod
    def of(cls, info):
        """A Source from anything with ``file`` / ``line`` / ``text`` (the IR's ``SourceInfo``); None stays None."""
        if info is None or isinstance(info, cls):
            return info
        return cls(str(info.file), int(info.line), str(getattr(info, "text", "") or ""))

    @property
    def tail(self):
        """What mindlab appends to an error message: '\\n  at FILE:LINE: TEXT'."""
        return f"\n  at {self.file}:{self.line}: {self.text}" if self.text else f"\n  at {self.file}:{self.line}"


def locate(depth=1):
    """The user's line for an error being raised now, as a ``Source`` (None when none can be found). While a graph
    is being compiled, it is the line in the user's function being compiled, not the caller of the compiler."""
    s = user_source()
    if s is not None:
        return Source.of(s)
    fr = user_frame(depth + 1)
    return None if fr is None else Source(*fr)


def where():
    """'\\n  at FILE:LINE: SOURCE' for the user's calling line ('' when none can be found); see ``locate``."""
    s = locate(2)
    return "" if s is None else s.tail


def located(exc, source=None):
    """``exc`` with ``exc.source`` set to ``source`` (a ``Source`` or ``SourceInfo``; default: the user's line now),
    unless it carries one already. Returns ``exc``, so ``raise located(ValueError(f"...{where()}"))`` works."""
    if getattr(exc, "source", None) is None:
        try:
            exc.source = Source.of(source) if source is not None else locate(2)
        except AttributeError:   # an exception type without an instance dict
            pass
    return exc


class MindlabError(Exception):
    """Base of mindlab's own error types."""


class ShapeError(MindlabError, ValueError):
    """Shapes that an op cannot accept (a ValueError)."""


class DTypeError(MindlabError, TypeError):
    """Dtypes that an op cannot accept (a TypeError)."""


class GraphModeSyntaxError(MindlabError, SyntaxError):
    """Python that GRAPH_MODE cannot compile: names the construct, quotes the line, suggests the fix."""

    def __init__(self, message, source=None):
        source = Source.of(source)
        super().__init__(message + (f"\n  at {source.file}:{source.line}: {source.text}" if source else ""))
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
