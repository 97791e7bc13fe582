"""Writing a file all-or-nothing: a temporary file beside it, then ``os.replace`` — a crash mid-write leaves the
old file (or none) intact, never a half-written one. Used by checkpoints and by the on-disk kernel cache."""
import os
import tempfile

__all__ = ["atomic_write"]

_UMASK = os.umask(0)
os.umask(_UMASK)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:   # some filesystems cannot fsync a directory; the rename itself is still atomic
        pass
    finally:
        os.close(fd)


def atomic_write(path, chunks, write=None, durable=True):
    """Write the bytes ``chunks`` to ``path`` all-or-nothing. ``write(f, data)`` writes one chunk (a seam for
    tests that simulate a failing disk; default ``f.write``). ``durable``: fsync the file and its directory before
    returning (checkpoints); caches that can be rebuilt skip it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                (write or type(f).write)(f, chunk)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        _fsync_dir(directory)
