"""An on-disk cache for generated numba kernels, so a new process (a restarted notebook kernel, an MPI rank, the
next test run) loads a fused kernel instead of compiling it again.

numba caches only functions defined in a real source file (``cache=True`` keys its ``__pycache__`` entry on the
file). So a generated kernel's source is written, once, to ``<cache dir>/k_<hash>.py`` (atomically: a temporary file
then ``os.replace``), imported from there, and compiled with ``cache=True``; numba stores the machine code beside it
and later processes load it. The cache directory is ``$MINDLAB_CACHE_DIR`` or ``~/.cache/mindlab``, with one
sub-folder per version of the code generator and of numba (a change to either starts a fresh folder, so stale
machine code is never loaded).

Like Python's own ``__pycache__``, numba's cache files are compiler output that numba reads back with pickle: they
live in the user's own cache directory and are never exchanged (checkpoints and graph files, which are, never
unpickle). When the directory cannot be used — not writable, not a directory, a file that cannot be read back —
kernels are compiled in memory as before, with one ``KernelCacheWarning`` saying why.
"""
import hashlib
import importlib.util
import os
import re
import sys
import threading
import warnings
from pathlib import Path

import numba

from ...common.atomic import atomic_write

__all__ = ["KernelCacheWarning", "cache_root", "load_kernel", "disable", "forget", "from_disk", "has_machine_code",
           "STATS"]

STATS = {"written": 0, "imported": 0, "fallbacks": 0, "damaged": 0}
_FILES = {}                   # id(kernel loaded from the cache) -> its source file
_state = {"broken": None}     # the reason the cache is unusable in this process, once found
_lock = threading.Lock()
_PACKAGE = "mindlab_kernel_cache"


class KernelCacheWarning(UserWarning):
    """The kernel cache directory could not be used; kernels are compiled in memory instead."""


def cache_root(salt):
    """The folder for kernels of generator version ``salt`` (created on first use)."""
    base = os.environ.get("MINDLAB_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "mindlab")
    return Path(base) / f"kernels-{salt}-numba{numba.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"


def disable(reason):
    """Stop using the disk cache in this process (warns once with ``reason``)."""
    if _state["broken"] is None:
        _state["broken"] = reason
        warnings.warn(f"mindlab kernel cache disabled: {reason}. Kernels are compiled in memory (slower first "
                      f"calls in every new process); set MINDLAB_CACHE_DIR to a writable folder to fix it.",
                      KernelCacheWarning, stacklevel=3)


def _usable():
    return _state["broken"] is None and os.environ.get("MINDLAB_KERNEL_CACHE", "1") not in ("0", "")


def _source_file(text, salt):
    """The cache file of module source ``text``: named by its content."""
    return cache_root(salt) / f"k_{hashlib.sha256(text.encode()).hexdigest()[:32]}.py"


def load_kernel(text, name, salt):
    """The object ``name`` defined by module source ``text`` (which compiles it with ``numba.njit(cache=True)``),
    imported from the disk cache; None when the cache is unusable (the caller compiles in memory)."""
    if not _usable():
        return None
    try:
        with _lock:
            path = _write(text, salt)
            module = _import(path)
        kernel = getattr(module, name)
        _FILES[id(kernel)] = path
        return kernel
    except Exception as exc:      # unwritable / not a directory / numba cannot cache there: compile in memory
        STATS["fallbacks"] += 1
        disable(f"{type(exc).__name__}: {exc}")
        return None


def _write(text, salt):
    path = _source_file(text, salt)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        current = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        current = None
    if current != text:           # missing, or damaged: (re)write it whole
        atomic_write(path, [text.encode()], durable=False)
        STATS["written"] += 1
    return path


def _import(path):
    mod_name = f"{_PACKAGE}.{path.stem}"
    module = sys.modules.get(mod_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)   # our own generated kernel source (written by _write)
        sys.modules[mod_name] = module
        STATS["imported"] += 1
    return module


def write_source(text, salt):
    """Write module source ``text`` to its cache file without importing it (for another process to compile);
    returns the path, or None when the cache is unusable."""
    if not _usable():
        return None
    try:
        with _lock:
            return _write(text, salt)
    except OSError:
        return None


def import_file(path):
    """Import a cache file written by ``load_kernel`` / ``write_source`` (in this or another process) under its
    module name, ``mindlab_kernel_cache.<stem>``, so generated sources that import it resolve."""
    path = Path(path)
    if not (path.parent.name.startswith("kernels-") and re.fullmatch(r"k_[0-9a-f]{32}\.py", path.name)):
        raise ValueError(f"not a mindlab kernel cache file: {path}")
    with _lock:
        return _import(path)


def has_machine_code(text, name, salt):
    """Whether numba's cache holds machine code for ``name`` of module source ``text`` (written by an earlier
    ``load_kernel`` and compiled since), without writing or importing anything."""
    if not _usable():
        return False
    path = _source_file(text, salt)
    try:
        return path.is_file() and any(path.parent.glob(f"__pycache__/{path.stem}.{name}-*.nbi"))
    except OSError:
        return False


def from_disk(kernel):
    """Whether ``kernel`` came from the disk cache (so a failure to load its machine code may be the cache's)."""
    return id(kernel) in _FILES


def forget(kernel, exc):
    """``kernel``'s cached files could not be loaded (``exc``): delete them (the next process writes them again)
    and warn; the caller compiles the kernel in memory."""
    path = _FILES.pop(id(kernel), None)
    STATS["damaged"] += 1
    if path is None:
        return
    for f in [path, *path.parent.glob(f"__pycache__/{path.stem}.*")]:
        try:
            f.unlink()
        except OSError:
            pass
    warnings.warn(f"mindlab kernel cache: {path.name} could not be loaded ({type(exc).__name__}: {exc}); its "
                  f"cache files were removed and the kernel is compiled again", KernelCacheWarning, stacklevel=3)
