"""``python -m mindlab.runtime.native_build SOURCE SALT TYPES [DEP ...]``: compile a native program's cached module
for one signature, in a process of its own, so that numba's disk cache holds its machine code (runtime/native.py
starts this for its background compiles, then loads the result).

SOURCE is the program's file in the kernel cache, SALT its cache folder's salt, TYPES the argument types as JSON
(``["array", dtype, ndim, layout, readonly]`` or ``["scalar", name]``), each DEP a cache file the program imports
(a fused kernel). Exit status 0 when compiled; the process runs at nice 10."""
import json
import os
import sys
from pathlib import Path

import numba
import numpy as np


def _type(spec):
    if spec[0] == "array":
        _, dtype, ndim, layout, readonly = spec
        return numba.types.Array(numba.from_dtype(np.dtype(dtype)), int(ndim), layout, readonly=bool(readonly))
    return numba.from_dtype(np.dtype(spec[1]))


def main(argv):
    source, salt, types, *deps = argv
    try:
        os.nice(10)
    except OSError:
        pass
    from mindlab.kernels.cpu import kernel_cache, mkl
    mkl.jit_callers()          # loads MKL for the compiled GEMM callers (unbound symbols abort LLVM)
    for dep in deps:
        kernel_cache.import_file(dep)
    program = kernel_cache.load_kernel(Path(source).read_text(), "program", salt)
    if program is None:
        return 2
    program.compile(tuple(_type(s) for s in json.loads(types)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
