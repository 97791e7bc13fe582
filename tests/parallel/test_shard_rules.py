"""Every registered primitive has a shard rule, and each rule is right: for every sample case (tests/ops/samples_*.py,
plus the cases below where the samples' shapes leave nothing to split), every non-trivial way to split the op on a
2-device and a 2x2 mesh runs on the sim backend — per-device slices, the kernel, the collectives the rule implies —
and assembles to the unsharded kernel's result. Strategy errors name the op, the strategy, the shapes and the dim."""
import numpy as np
import pytest

from mindlab.ops import REGISTRY
from mindlab.ops.abstract import AbstractTensor
from mindlab.ops.shard import ShardSpec
from mindlab import dtype as mdt
from mindlab.parallel import DeviceMesh
from mindlab.parallel.strategy import (StrategyError, check_strategy, from_strategy, run_kernel, shard_spec,
                                       shardings, simulate)

from tests.ops.samples import Case, all_samples, rand, positive

MESHES = (DeviceMesh((2,)), DeviceMesh((2, 2)))

_G = dict(stride=(1, 1), pad=(1, 1, 1, 1), dilation=(1, 1), groups=1)
_GG = dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=2)
_P = dict(kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0))

# cases whose shapes have something to split where the ops' own samples have none, or deterministic cases of
# random ops (keep_prob 1: the mask is all ones, whoever draws it)
EXTRA = {
    "conv2d": [Case((rand(2, 4, 5, 5), rand(6, 4, 3, 3, seed=1)), _G),
               Case((rand(2, 4, 4, 4), rand(4, 2, 3, 3, seed=1)), _GG)],
    "conv2d_backprop_input": [Case((rand(2, 6, 5, 5), rand(6, 4, 3, 3, seed=1)), dict(input_size=(2, 4, 5, 5), **_G)),
                              Case((rand(2, 4, 2, 2), rand(4, 2, 3, 3, seed=1)),
                                   dict(input_size=(2, 4, 4, 4), **_GG))],
    "conv2d_backprop_filter": [Case((rand(2, 6, 5, 5), rand(2, 4, 5, 5, seed=1)),
                                    dict(filter_size=(6, 4, 3, 3), **_G)),
                               Case((rand(2, 4, 2, 2), rand(2, 4, 4, 4, seed=1)),
                                    dict(filter_size=(4, 2, 3, 3), **_GG))],
    "max_pool": [Case((rand(2, 2, 4, 4),), _P)],
    "max_pool_grad": [Case((rand(2, 2, 4, 4), rand(2, 2, 2, 2, seed=1)), _P)],
    "max_pool_grad_grad": [Case((rand(2, 2, 4, 4), rand(2, 2, 4, 4, seed=1)), _P)],
    "avg_pool": [Case((rand(2, 2, 4, 4),), dict(count_include_pad=True, **_P))],
    "avg_pool_grad": [Case((rand(2, 2, 2, 2),), dict(input_size=(2, 2, 4, 4), count_include_pad=True, **_P))],
    "batch_norm": [Case((rand(2, 4, 3, 3), positive(4), rand(4, seed=2)), dict(epsilon=1e-5))],
    "batch_norm_grad": [Case((rand(2, 4, 3, 3), rand(2, 4, 3, 3, seed=1), rand(4, seed=2), rand(4, seed=3),
                              positive(4, seed=4)), dict(epsilon=1e-5))],
    "batch_norm_infer": [Case((rand(2, 4, 3, 3), positive(4), rand(4, seed=2), rand(4, seed=3), positive(4, seed=4)),
                              dict(epsilon=1e-5))],
    "dropout_gen_mask": [Case((rand(4, 6),), dict(keep_prob=1.0, seed=None)),
                         Case((rand(4, 6),), dict(keep_prob=0.0, seed=3))],
    "fill": [Case((), dict(dtype=mdt.float32, shape=(4, 6), value=1.5))],
    "gather": [Case((rand(6, 4), np.array([[0, 5], [2, 2]], dtype=np.int64)), dict(axis=0))],
    "one_hot": [Case((np.array([[0, 3], [2, 1]], dtype=np.int64), np.array(1.0), np.array(0.0)),
                     dict(depth=4, axis=-1))],
    "sparse_softmax_cross_entropy": [Case((rand(4, 5), np.array([1, 0, 4, 2], dtype=np.int32)))],
    "sparse_softmax_cross_entropy_grad": [Case((rand(4, 5), np.array([1, 0, 4, 2], dtype=np.int32)))],
    "layer_norm_grad": [Case((rand(2, 4, 6), rand(2, 4, 6, seed=1), rand(2, 4, 1, seed=2), rand(2, 4, 1, seed=3),
                              positive(4, 6)), dict(begin_norm_axis=2, begin_params_axis=1, epsilon=1e-5))],
    "tile": [Case((rand(1, 4),), dict(dims=(2, 1))), Case((rand(4,),), dict(dims=(2, 1)))],
    "broadcast_to": [Case((rand(4, 1),), dict(shape=(2, 4, 6)))],
    "reshape": [Case((rand(4, 6),), dict(shape=(24,))), Case((rand(8,),), dict(shape=(2, 4)))],
    "scatter_nd": [Case((np.array([[0], [2], [0], [3]], dtype=np.int64), rand(4, 6)), dict(shape=(5, 6)))],
    "unsorted_segment_sum": [Case((rand(4, 6), np.array([0, 2, 0, 1], dtype=np.int64)), dict(num_segments=3))],
    "prod_except_self": [Case((positive(4, 3),), dict(axis=1))],
    "strided_slice": [Case((rand(4, 6),), dict(begin=(1, 0), end=(3, 6), strides=(1, 1), masks=(0, 0, 0, 0, 0)))],
    "argmax": [Case((rand(4, 6),), dict(axis=1, keep_dims=False, output_type=mdt.int64))],
    "argmin": [Case((rand(4, 6),), dict(axis=0, keep_dims=True, output_type=mdt.int32))],
}

SAMPLES = all_samples()


def cases(name):
    out = [c for c in SAMPLES.get(name, []) if not REGISTRY[name].random] + EXTRA.get(name, [])
    return out


def _aval(a):
    a = np.asarray(a)
    return AbstractTensor(a.shape, mdt.from_np(a.dtype))


def _copies(arrays):
    return [np.array(a, copy=True) for a in arrays]


def _check_one(prim, case, sh):
    ref_in = _copies(case.inputs)
    ref = prim.impl["CPU"](*ref_in, **case.attrs)
    refs = ref if isinstance(ref, tuple) else (ref,)
    refs = [np.asarray(r, dtype=a.dtype.np) for r, a in zip(refs, sh.out_avals)]
    outs, after = simulate(sh, _copies(case.inputs))
    for k, (o, r) in enumerate(zip(outs, refs)):
        np.testing.assert_allclose(o, r, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{prim.name} output {k} with {sh.strategy} ({sh.describe()})")
    for i in sh.spec.inplace:
        np.testing.assert_allclose(after[i], ref_in[i], rtol=1e-9, atol=1e-12,
                                   err_msg=f"{prim.name} in-place input {i} with {sh.strategy}")


def test_every_primitive_has_a_shard_rule():
    missing = sorted(n for n, p in REGISTRY.items() if not callable(getattr(p, "shard", None)))
    assert not missing, f"primitives without a shard rule (defprim(..., shard=...)): {missing}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_shard_rule_matches_the_unsharded_kernel(name):
    prim = REGISTRY[name]
    checked = 0
    for case in cases(name):
        avals = [_aval(a) for a in case.inputs]
        spec = shard_spec(prim, avals, case.attrs)
        assert isinstance(spec, ShardSpec)
        for mesh in MESHES:
            for sh in shardings(prim, avals, case.attrs, mesh, spec):
                if sh.is_split:
                    _check_one(prim, case, sh)
                    checked += 1
    assert checked, f"{name}: no sample case has a non-trivial strategy to check (add one to EXTRA)"


def test_matmul_strategies_and_partial_sums():
    x, y = np.ones((8, 6), np.float32), np.ones((6, 4), np.float32)
    sh = check_strategy("matmul", ((2, 1), (1, 4)), x, y, transpose_a=False, transpose_b=False)
    assert sh.out_strategy == ((2, 4),) and not sh.out_layouts[0].is_partial and sh.post == ()
    sh = check_strategy("matmul", ((2, 2), (2, 1)), x, y, transpose_a=False, transpose_b=False)
    # k split in two: each device holds partial sums over the k mesh axis (an AllReduce where they are needed)
    assert sh.out_layouts[0].is_partial and sh.out_layouts[0].splits == (2, 1)
    sh = check_strategy("matmul", ((1, 2), (4, 2)), x, np.ones((4, 6), np.float32), transpose_a=False,
                        transpose_b=True)
    assert sh.out_strategy == ((1, 4),) and sh.out_layouts[0].is_partial


def test_reductions_over_a_split_axis():
    x = np.ones((4, 6))
    sh = check_strategy("sum", ((2, 2),), x, axis=1, keep_dims=False)
    assert sh.out_layouts[0].is_partial and sh.post == ()
    sh = check_strategy("mean", ((2, 2),), x, axis=(0, 1), keep_dims=False)
    assert [(op, len(axes)) for _, op, axes in sh.post] == [("mean", 2)]
    sh = check_strategy("max", ((1, 2),), x, axis=1, keep_dims=True)
    assert [op for _, op, _ in sh.post] == ["max"] and sh.out_strategy == ((1, 1),)


@pytest.mark.parametrize("prim, strategy, avals, attrs, words", [
    ("matmul", ((2, 1), (2, 4)), [(8, 6), (6, 4)], dict(transpose_a=False, transpose_b=False),
     ["matmul: strategy ((2, 1), (2, 4))", "[8, 6], [6, 4]", "dim 0 of input 1 and dim 1 of input 0",
      "must be split the same way, got 2 and 1"]),
    ("softmax", ((1, 2),), [(4, 6)], dict(axis=-1), ["softmax", "dim 1 of input 0 cannot be split", "softmax axis"]),
    ("layer_norm", ((2, 2), (2,), (2,)), [(4, 6), (6,), (6,)],
     dict(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5), ["layer_norm", "dim 1 of input 0", "normalised"]),
    ("conv2d", ((2, 1, 2, 1), (1, 1, 1, 1)), [(2, 3, 8, 8), (4, 3, 3, 3)],
     dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1), ["conv2d", "dim 2 of input 0", "spatial"]),
    ("gather", ((2, 1), (1,)), [(6, 4), (3,)], dict(axis=0), ["gather", "dim 0 of input 0", "gathered axis"]),
    ("matmul", ((3, 1), (1, 1)), [(6, 4), (4, 4)], dict(transpose_a=False, transpose_b=False),
     ["3 pieces", "does not divide the 4 devices"]),
    ("matmul", ((4, 1), (1, 1)), [(6, 4), (4, 4)], dict(transpose_a=False, transpose_b=False),
     ["dim 0 of input 0 has size 6, not divisible by 4"]),
    ("add", ((2,),), [(4,), (4,)], {}, ["1 entries but the op has 2 inputs"]),
])
def test_invalid_strategies_say_why(prim, strategy, avals, attrs, words):
    args = [AbstractTensor(s, mdt.float32) if prim != "gather" or k == 0 else AbstractTensor(s, mdt.int64)
            for k, s in enumerate(avals)]
    mesh = DeviceMesh((2, 2))
    with pytest.raises(StrategyError) as info:
        from_strategy(REGISTRY[prim], strategy, args, attrs, mesh)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_grouped_convolution_needs_whole_groups():
    x, w = AbstractTensor((2, 4, 4, 4), mdt.float32), AbstractTensor((4, 2, 3, 3), mdt.float32)
    geo = dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=2)
    sh = from_strategy(REGISTRY["conv2d"], ((1, 2, 1, 1), (2, 1, 1, 1)), [x, w], geo, DeviceMesh((2, 2)))[0]
    assert sh.local_attrs["groups"] == 1
    with pytest.raises(StrategyError, match="do not hold whole groups"):
        from_strategy(REGISTRY["conv2d"], ((1, 4, 1, 1), (4, 1, 1, 1)), [x, w], geo, DeviceMesh((2, 2)))


def test_inplace_and_gradient_inputs_are_marked():
    var = AbstractTensor((4, 6), mdt.float32)
    s = AbstractTensor((), mdt.float32)
    spec = shard_spec(REGISTRY["apply_momentum"], [var, var, s, var, s], dict(use_nesterov=False))
    assert spec.inplace == (0, 1) and spec.gradients == (3,)
    sh = check_strategy("apply_momentum", ((2, 2), (2, 2), (), (2, 2), ()), var, var, s, var, s, use_nesterov=False)
    assert sh.in_layouts[0] == sh.in_layouts[1] == sh.in_layouts[3]
