"""``Compiled.code()`` (runtime/listing.py): what a compiled function runs, as text — checked against the program
that actually ran (its lines, the ops they call, the user's lines they name, the kernels' sources)."""
import inspect

import numpy as np

import mindlab as ms
from mindlab import ops, Tensor
from mindlab.frontend.jit import jit
from mindlab.passes.fusion import fusion_options, fused_nodes


def looped(x, n):
    y = x * 2.0
    while n < 3:
        y = ops.exp(y) * 0.5
        n = n + 1
    return ops.sum(y)


def test_the_listing_has_every_program_and_names_each_nodes_line():
    x, n = Tensor(np.linspace(-1, 1, 12).astype(np.float32)), Tensor(np.int32(0))
    f = jit(looped)
    np.testing.assert_allclose(f(x, n).asnumpy(), looped(x, n).asnumpy(), rtol=1e-6)
    c = f.compiled(x, n)
    code = c.code()
    text = code.text()
    first = inspect.getsourcelines(looped)[1]
    programs = [h for h, _ in code.sections if h.startswith("executor program")]
    assert len(programs) == 3, programs                      # the function, the loop's condition and body
    body = next(t for h, t in code.sections if "body" in h)
    assert f"# exp <- test_listing.py:{first + 3}" in body and f"# mul <- test_listing.py:{first + 3}" in body
    assert f"# while <- test_listing.py:{first + 2}" in code.section("executor program looped")
    assert code.section("runs as") == c.runs_as
    assert c.program.source in text                          # the very source the executor compiled and ran
    assert set(code._repr_mimebundle_()) == {"text/plain"}


def test_fused_kernels_and_native_programs_are_listed_with_their_sources():
    x = Tensor(np.linspace(-2, 2, 64).reshape(8, 8).astype(np.float32))
    with fusion_options(min_elements=0):
        f = jit(lambda a, b: ops.tanh(a * b + 1.0) * ops.sigmoid(a))
        f(x, x)
        c = f.compiled(x, x)
    (node,) = fused_nodes(c.optimized)
    device = ms.get_context("device_target")
    kernel = node.op.impl[device].source
    assert code_section(c, "kernel of fused(") == kernel
    assert ("cuda.grid(1)" in kernel) == (device == "GPU")
    from mindlab.kernels.cpu import mkl
    from mindlab.runtime.native import NativeProgram
    if device == "CPU" and mkl.jit_callers() is not None:     # (native programs call MKL's compiled GEMM)
        assert isinstance(c.program, NativeProgram)
        assert code_section(c, "native program") == c.program.source
        assert "_fused_kernel(64, 1, a0.reshape((64,)), a1.reshape((64,))" in c.program.source
    else:
        assert code_section(c, "native program") is None


def code_section(compiled, start):
    return compiled.code().section(start)
