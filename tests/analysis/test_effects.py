"""The effect / aliasing analysis the passes rely on: its tables agree with what the registry's kernels really do,
and on a training step it finds the written state (weights, optimizer accumulators) and nothing else."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.analysis.effects import EffectInfo, VIEW_OPS, WRITES
from mindlab.ir.anf import Param
from mindlab.ops.registry import REGISTRY

from ..ops.samples import all_samples

SAMPLES = all_samples()


def _run(name, case):
    inputs = [np.array(a) for a in case.inputs]        # fresh, writeable copies
    before = [a.copy() for a in inputs]
    out = REGISTRY[name].impl["CPU"](*inputs, **case.attrs)
    return inputs, before, out


def test_tables_name_registered_primitives():
    assert VIEW_OPS <= set(REGISTRY), VIEW_OPS - set(REGISTRY)
    assert all(REGISTRY[n].effect for n in WRITES), [n for n in WRITES if not REGISTRY[n].effect]
    missing = sorted(n for n, p in REGISTRY.items() if p.effect and n not in WRITES)
    assert not missing, f"effect primitives without an entry in mindlab.analysis.effects.WRITES: {missing}"


@pytest.mark.parametrize("name", sorted(n for n, p in REGISTRY.items() if not p.effect))
def test_kernels_returning_views_are_in_view_ops(name):
    """A kernel whose output shares memory with an input must be listed, or rewrites could hide a write."""
    for case in SAMPLES.get(name, []):
        inputs, _, out = _run(name, case)
        outs = out if isinstance(out, tuple) else (out,)
        shares = any(isinstance(o, np.ndarray) and np.shares_memory(o, i) for o in outs for i in inputs)
        assert not shares or name in VIEW_OPS, f"{name}'s kernel returns a view of an input: add it to VIEW_OPS"


@pytest.mark.parametrize("name", sorted(WRITES))
def test_effect_kernels_write_only_the_listed_inputs(name):
    seen = set()
    for case in SAMPLES[name]:
        inputs, before, _ = _run(name, case)
        for k, (a, b) in enumerate(zip(inputs, before)):
            if not np.array_equal(a, b):
                assert k in WRITES[name], f"{name} writes input {k}, which WRITES does not list"
                seen.add(k)
    assert seen, f"no sample case of {name} writes anything"


def test_training_step_written_state():
    ms.set_context(mode=ms.GRAPH_MODE)
    net = nn.Dense(3, 2)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    x, y = Tensor(np.ones((4, 3), np.float32)), Tensor(np.zeros((4, 2), np.float32))
    g = train.compiled(x, y).optimized
    info = EffectInfo(g)
    written = {p.name for p in g.params if info.is_written(p)}
    assert written == {"weight", "bias", "moments.weight", "moments.bias", "global_step"}
    updates = [n for n in g.nodes if n.op_name == "apply_momentum"]
    assert len(updates) == 2
    for u in updates:
        grad = u.inputs[3]
        assert not isinstance(grad, Param) and not info.is_written(grad)   # gradients are only read
    loss = g.output.inputs[0]
    assert info.epoch[id(loss)] == 0 and info.epoch[id(updates[1])] == info.epoch[id(updates[0])] + 1
    assert info.effects_after(loss) and not info.effects_after(updates[1])
