"""Each Ascend kernel against numpy on shapes that are and are not multiples of 16 (ragged tails included)."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops
from mindlab.ops.registry import REGISTRY
from mindlab.kernels import ascend
from mindlab.kernels.ascend import k_rows, k_conv
from mindlab.kernels.ascend.k_cube import matmul, batch_matmul, matmul_tiling
from mindlab.kernels.ascend.k_vector import elementwise

RNG = np.random.default_rng(0)
SIZES = [16, 17, 31, 256, 4097, 100_003]
MM_SHAPES = [(16, 16, 16), (17, 33, 5), (1, 300, 1), (100, 300, 70), (128, 64, 256), (300, 517, 260)]


def _h(a):   # what the Cube sees: float16 operands
    return np.asarray(a).astype(np.float16).astype(np.float32)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_elementwise(n, dtype):
    x = RNG.standard_normal(n).astype(dtype)
    y = RNG.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(elementwise("Add", np.add, [x, y], ["full", "full"], [dtype], (n,)), x + y)
    z = elementwise("MulExp", lambda a, b: np.exp(a) * b, [x, y], ["full", "full"], [dtype], (n,), passes=5)
    np.testing.assert_allclose(z, np.exp(x) * y, rtol=1e-3 if dtype == np.float16 else 1e-6)
    rec = ascend.last_profile().kernels[0]
    assert rec.bytes_in == 2 * x.nbytes and rec.bytes_out == x.nbytes


def test_elementwise_scalar_and_row_inputs():
    x = RNG.standard_normal((37, 45)).astype(np.float32)
    b = RNG.standard_normal(45).astype(np.float32)
    out = elementwise("BiasRelu", lambda v, r, s: np.maximum(v + r, 0) * s, [x, b, np.array([2.0], np.float32)],
                      ["full", "row", "scalar"], [np.float32], x.shape, passes=3, row=45)
    np.testing.assert_allclose(out, np.maximum(x + b, 0) * 2, rtol=1e-6)


@pytest.mark.parametrize("M,K,N", MM_SHAPES)
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul(M, K, N, ta, tb):
    a = RNG.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = RNG.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    c = matmul(a, b, ta, tb)
    A, B = (a.T if ta else a), (b.T if tb else b)
    np.testing.assert_allclose(c, _h(A) @ _h(B), rtol=1e-4, atol=1e-4)
    assert c.dtype == np.float32


def test_matmul_tiling_fits_and_fills_cores():
    t = matmul_tiling(4096, 4096, 4096, 2)
    assert (t.baseM, t.baseN) == (256, 256) and t.block_dim == 32 and t.c_slots == 1
    p = ascend.ASCEND910
    assert 2 * t.baseM * t.baseK * 2 <= p.l0a and 2 * t.baseK * t.baseN * 2 <= p.l0b
    assert 2 * (t.baseM + t.baseN) * t.stepK * 2 <= p.l1 and t.c_slots * t.baseM * t.baseN * 4 <= p.l0c
    small = matmul_tiling(512, 512, 512, 4)
    assert small.block_dim == 32           # smaller tiles so that no core idles


def test_batch_matmul_broadcast():
    x = RNG.standard_normal((2, 3, 5, 7)).astype(np.float32)
    y = RNG.standard_normal((3, 7, 20)).astype(np.float32)
    np.testing.assert_allclose(batch_matmul(x, y), _h(x) @ _h(y), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batch_matmul(x, np.swapaxes(y, -1, -2).copy(), transpose_b=True), _h(x) @ _h(y),
                               rtol=1e-4, atol=1e-4)


CONV_CASES = [((2, 1, 12, 12), (6, 1, 5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 1),
              ((2, 3, 9, 10), (4, 3, 3, 3), (2, 1), (1, 1, 2, 0), (1, 2), 1),
              ((1, 4, 7, 7), (6, 2, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
              ((2, 20, 8, 8), (17, 20, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1)]


@pytest.mark.parametrize("xs,ws,stride,pad,dil,groups", CONV_CASES)
def test_conv2d_and_backprops(xs, ws, stride, pad, dil, groups):
    x = RNG.standard_normal(xs).astype(np.float32)
    w = RNG.standard_normal(ws).astype(np.float32)
    attrs = dict(stride=stride, pad=pad, dilation=dil, groups=groups)
    ref = REGISTRY["conv2d"].impl["CPU"](_h(x), _h(w), **attrs)
    np.testing.assert_allclose(k_conv.conv2d(x, w, **attrs), ref, rtol=1e-4, atol=1e-4)
    d = RNG.standard_normal(ref.shape).astype(np.float32)
    ref = REGISTRY["conv2d_backprop_input"].impl["CPU"](_h(d), _h(w), input_size=xs, **attrs)
    np.testing.assert_allclose(k_conv.conv2d_backprop_input(d, w, xs, **attrs), ref, rtol=1e-4, atol=1e-4)
    ref = REGISTRY["conv2d_backprop_filter"].impl["CPU"](_h(d), _h(x), filter_size=ws, **attrs)
    np.testing.assert_allclose(k_conv.conv2d_backprop_filter(d, x, ws, **attrs), ref, rtol=1e-4, atol=1e-4)


ROW_SHAPES = [(3, 5), (16, 16), (33, 100), (7, 1000), (2, 4000)]


@pytest.mark.parametrize("shape", ROW_SHAPES)
def test_reductions_softmax_layernorm(shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    for op in ("sum", "mean", "max", "min", "argmax", "argmin"):
        if shape[1] > 8192 and op != "sum":
            continue
        out = k_rows.reduce_rows(x, op, np.int64 if op.startswith("arg") else None)
        np.testing.assert_allclose(out, getattr(np, op)(x, axis=1), rtol=1e-5, atol=1e-4)
    e = np.exp(x - x.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(k_rows.softmax_rows(x), sm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(k_rows.log_softmax_rows(x), np.log(sm), rtol=1e-5, atol=1e-5)
    g = RNG.standard_normal(shape).astype(np.float32)
    b = RNG.standard_normal(shape[1]).astype(np.float32)
    y, mean, var = k_rows.layer_norm_rows(x, g[0], b, 1e-5)
    np.testing.assert_allclose(y, (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5) * g[0] + b,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(var, x.var(1), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("shape,axis,keep", [((5, 7, 9), (0, 2), False), ((40, 33), 0, True), ((3, 50000), None, False)])
def test_reduce_any_axes_through_the_registry(shape, axis, keep):
    ms.set_context(device_target="Ascend")
    x = RNG.standard_normal(shape).astype(np.float32)
    out = ops.sum(Tensor(x), axis, keep).asnumpy()
    np.testing.assert_allclose(out, x.sum(axis=axis, keepdims=keep), rtol=1e-4, atol=1e-3)
    names = [k.name for k in ascend.last_profile().kernels]
    if axis == 0:
        assert names == ["ReduceSum(rows)"]   # leading axes: rows accumulated into a UB vector
    else:
        assert "ReduceSum" in names
    if axis == (0, 2):
        assert "Transpose" in names           # reduced axes moved last by an MTE gather


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "prod"])
@pytest.mark.parametrize("shape", [(1, 5), (33, 17), (300, 1000), (5, 9000)])
def test_column_reduction(op, shape):
    x = RNG.uniform(0.9, 1.1, shape).astype(np.float32)
    np.testing.assert_allclose(k_rows.reduce_cols(x, op), getattr(np, op)(x, axis=0), rtol=1e-4)


def test_long_rows_overflow_the_row_kernel_and_decompose_in_the_registry():
    x = RNG.standard_normal((3, 40000)).astype(np.float32)
    with pytest.raises(ascend.BufferOverflowError, match="Unified Buffer"):
        k_rows.softmax_rows(x)                     # one row alone (156 KB, double-buffered) cannot fit
    ms.set_context(device_target="Ascend")
    e = np.exp(x - x.max(1, keepdims=True))
    for f, ref in ((ops.softmax, e / e.sum(1, keepdims=True)), (ops.log_softmax, np.log(e / e.sum(1, keepdims=True)))):
        np.testing.assert_allclose(f(Tensor(x)).asnumpy(), ref, rtol=1e-4, atol=1e-6)
    assert {"ReduceMax", "ReduceSum"} <= {k.name for k in ascend.last_profile().kernels}


def test_layer_norm_grad_matches_cpu():
    x = RNG.standard_normal((6, 40)).astype(np.float32)
    dy = RNG.standard_normal((6, 40)).astype(np.float32)
    dm = RNG.standard_normal((6, 1)).astype(np.float32)
    dv = RNG.standard_normal((6, 1)).astype(np.float32)
    gamma = RNG.standard_normal(40).astype(np.float32)
    attrs = dict(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5)
    ascend.enable()
    p = REGISTRY["layer_norm_grad"]
    for a, c in zip(p.impl["Ascend"](x, dy, dm, dv, gamma, **attrs), p.impl["CPU"](x, dy, dm, dv, gamma, **attrs)):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4)


def test_fused_chain_is_one_vector_kernel_with_intermediates_in_ub():
    from mindlab.passes.fusion import fusion_options, fused_nodes
    ms.set_context(mode=ms.GRAPH_MODE, device_target="Ascend")

    @ms.jit
    def f(x, b):
        return ops.tanh(x * 1.5 + b) * ops.sigmoid(x)

    x = RNG.standard_normal((64, 100)).astype(np.float32)
    b = RNG.standard_normal(100).astype(np.float32)
    with fusion_options(min_elements=0):
        with ascend.profile() as prof:
            out = f(Tensor(x), Tensor(b)).asnumpy()
    np.testing.assert_allclose(out, np.tanh(x * 1.5 + b) / (1 + np.exp(-x)) * 1.0, rtol=1e-5, atol=1e-6)
    fused = [r for r in prof if r.op.startswith("fused(")]
    assert len(fused) == 1 and len(fused[0].kernels) == 1, [r.op for r in prof]
    k = fused[0].kernels[0]
    assert k.bytes_in == x.nbytes + b.nbytes and k.bytes_out == x.nbytes   # only the group's inputs/outputs move
    assert k.instructions.get("DataCopy", 0) + k.instructions.get("DataCopyPad", 0) >= 2


def test_optimizer_updates_in_place():
    ascend.enable()
    var = RNG.standard_normal(1000).astype(np.float32)
    acc = RNG.standard_normal(1000).astype(np.float32)
    g = RNG.standard_normal(1000).astype(np.float32)
    v2, a2 = var.copy(), acc.copy()
    lr, mom = np.array(0.1, np.float32), np.array(0.9, np.float32)
    out = REGISTRY["apply_momentum"].impl["Ascend"](var, acc, lr, g, mom, use_nesterov=False)
    a_ref = a2 * 0.9 + g
    np.testing.assert_allclose(acc, a_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, v2 - 0.1 * a_ref, rtol=1e-5, atol=1e-6)
    assert out is var
    assert ascend.last_profile().kernels[0].name == "apply_momentum"


@pytest.mark.parametrize("kernel,stride,pad", [((2, 2), (2, 2), (0, 0, 0, 0)), ((3, 3), (1, 2), (1, 1, 1, 0)),
                                               ((3, 2), (2, 1), (0, 1, 1, 1))])
def test_pooling_forward_and_backward_match_cpu(kernel, stride, pad):
    ascend.enable()
    x = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
    geo = dict(kernel=kernel, stride=stride, pad=pad)
    y = REGISTRY["max_pool"].impl["CPU"](x, **geo)
    np.testing.assert_array_equal(REGISTRY["max_pool"].impl["Ascend"](x, **geo), y)
    d = RNG.standard_normal(y.shape).astype(np.float32)
    for name, args in (("max_pool_grad", (x, d)), ("max_pool_grad_grad", (x, RNG.standard_normal(x.shape)
                                                                            .astype(np.float32)))):
        np.testing.assert_allclose(REGISTRY[name].impl["Ascend"](*args, **geo), REGISTRY[name].impl["CPU"](*args, **geo),
                                   rtol=1e-6, atol=1e-6)
    for cip in (True, False):
        a = dict(geo, count_include_pad=cip)
        np.testing.assert_allclose(REGISTRY["avg_pool"].impl["Ascend"](x, **a), REGISTRY["avg_pool"].impl["CPU"](x, **a),
                                   rtol=1e-6, atol=1e-6)
        a = dict(a, input_size=x.shape)
        np.testing.assert_allclose(REGISTRY["avg_pool_grad"].impl["Ascend"](d, **a),
                                   REGISTRY["avg_pool_grad"].impl["CPU"](d, **a), rtol=1e-5, atol=1e-6)
    assert ascend.last_profile().op == "avg_pool_grad"


def test_integer_matmul_is_refused_clearly():
    ms.set_context(device_target="Ascend")
    a = Tensor(np.ones((4, 4), np.int32))
    with pytest.raises(RuntimeError, match=r"(?s)matmul: .*Cube multiplies floating-point operands.*int32.*test_kernels"):
        ops.matmul(a, a)


def test_fused_builder_matches_the_cpu_fused_kernel_on_every_construct():
    """not / if-else / comparisons / casts / fast-math names in the fuse templates, full + scalar + row inputs."""
    from mindlab.kernels.cpu import fused as cf
    from mindlab.kernels.ascend import fused as af
    R = lambda name, args, dt, **attrs: cf.render(REGISTRY[name], args, np.dtype(dt), attrs)   # noqa: E731
    e = cf.FusedExpr()
    a = e.add_input("full", np.float32)
    b = e.add_input("row", np.float32)
    s = e.add_input("scalar", np.float32, 0.25)
    steps = {}
    steps["gt"] = e.add_step(R("greater", [a, s], np.bool_), np.bool_, "greater")
    steps["not"] = e.add_step(R("logical_not", [steps["gt"]], np.bool_), np.bool_, "logical_not")
    steps["sel"] = e.add_step(R("select", [steps["not"], a, b], np.float32), np.float32, "select")
    steps["th"] = e.add_step(R("tanh", [steps["sel"]], np.float32), np.float32, "tanh")
    steps["sg"] = e.add_step(R("sigmoid", [steps["th"]], np.float32), np.float32, "sigmoid")
    steps["ge"] = e.add_step(R("gelu", [steps["sg"]], np.float32, approximate="tanh"), np.float32, "gelu")
    steps["sq"] = e.add_step(R("square", [steps["ge"]], np.float32), np.float32, "square")
    steps["mx"] = e.add_step(R("maximum", [steps["sq"], b], np.float32), np.float32, "maximum")
    steps["ci"] = e.add_step(R("cast", [steps["mx"]], np.int32, dtype=ms.int32), np.int32, "cast")
    for k in ("ge", "mx", "not", "ci"):
        e.add_output(steps[k])
    shape = (37, 20)
    x = RNG.standard_normal(shape).astype(np.float32) * 3
    row = RNG.standard_normal(20).astype(np.float32)
    sc = np.array([0.25], np.float32)
    want = cf.compile_expr(e, shape, 20)(x, row, sc)
    got = af.compile_expr(e, shape, 20)(x, row, sc)
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=2e-6, atol=2e-6)
    rec = ascend.last_profile().kernels[0]
    assert rec.busy["Vector"] > 0 and rec.bytes_in == x.nbytes + row.nbytes


def test_conv_forward_builds_patches_in_core_with_load3d():
    x = RNG.standard_normal((4, 6, 14, 14)).astype(np.float32)
    w = RNG.standard_normal((16, 6, 5, 5)).astype(np.float32)
    geo = dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    out = k_conv.conv2d(x, w, **geo)
    np.testing.assert_allclose(out, REGISTRY["conv2d"].impl["CPU"](_h(x), _h(w), **geo), rtol=1e-4, atol=1e-4)
    kernels = {k.name: k for k in ascend.last_profile().kernels}
    assert "Img2Col" not in kernels                        # no patch matrix in GM
    conv = kernels["Conv2D"]
    assert conv.instructions["LoadData3D"] > 0 and conv.busy["Cube"] > 0
    # GM reads: each sample's NC1HWC0 image once and the weight once per block — not the patch matrix
    image_bytes, weight_bytes, patch_bytes = 4 * 14 * 14 * 16 * 2, 16 * 400 * 2, 4 * 100 * 400 * 2
    assert conv.bytes_in == image_bytes + conv.block_dim * weight_bytes < patch_bytes / 3
    # the weight gradient: patches Load3D'd into L0B, partial sums per sample group reduced in a workspace
    d = RNG.standard_normal(out.shape).astype(np.float32)
    dw = k_conv.conv2d_backprop_filter(d, x, w.shape, **geo)
    np.testing.assert_allclose(dw, REGISTRY["conv2d_backprop_filter"].impl["CPU"](_h(d), _h(x), filter_size=w.shape,
                                                                                   **geo), rtol=1e-4, atol=1e-4)
    kernels = {k.name: k for k in ascend.last_profile().kernels}
    assert kernels["Conv2DBackpropFilter"].instructions["LoadData3D"] > 0 and "Img2Col" not in kernels
    # the input gradient: the same kernel over dout, with the transposed Load3D map (strided too)
    for geo2 in (geo, dict(geo, stride=(2, 2), pad=(1, 1, 1, 1))):
        y2 = REGISTRY["conv2d"].impl["CPU"](x, w, **geo2)
        d2 = RNG.standard_normal(y2.shape).astype(np.float32)
        dx = k_conv.conv2d_backprop_input(d2, w, x.shape, **geo2)
        np.testing.assert_allclose(dx, REGISTRY["conv2d_backprop_input"].impl["CPU"](_h(d2), _h(w), input_size=x.shape,
                                                                                      **geo2), rtol=1e-4, atol=1e-4)
        kernels = {k.name: k for k in ascend.last_profile().kernels}
        assert kernels["Conv2DBackpropInput"].instructions["LoadData3D"] > 0 and "Col2Img(gather)" not in kernels
    # an image too large for L1 takes the GM img2col path, with the same result
    big = RNG.standard_normal((1, 3, 200, 200)).astype(np.float32)
    wb = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
    out = k_conv.conv2d(big, wb, **geo)
    np.testing.assert_allclose(out, REGISTRY["conv2d"].impl["CPU"](_h(big), _h(wb), **geo), rtol=1e-3, atol=1e-3)
    assert "Img2Col" in {k.name for k in ascend.last_profile().kernels}
