"""MLP and LeNet-5 train on the simulated Ascend AI core, in PyNative and GRAPH_MODE, and agree with CPU.

Tolerance (fp16): the Cube multiplies float16 operands (float32 accumulate), so matmul / conv results carry
float16 input rounding (relative 2^-11 ~ 4.9e-4 per operand); everything else runs in float32 on the Vector unit.
Over three training steps losses agree with CPU within 2e-3 relative and parameters within 2e-3 absolute + 1e-2
relative — the tolerance stated in docs/benchmarks.md (measured: at most 2.1e-4 and 3.2e-4).
"""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.kernels import ascend
from mindlab.passes.fusion import fusion_options

from ..parallel.nets import LeNet5
from ..graph.test_modes_agree import BNNet

LOSS_RTOL = 2e-3
PARAM_ATOL, PARAM_RTOL = 2e-3, 1e-2


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(32, 64)
        self.fc2 = nn.Dense(64, 10)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def _train(make_net, x, y, mode, device, steps=3, optimizer="momentum"):
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    ms.set_seed(7)
    net = make_net()
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), 0.05, 0.9) if optimizer == "momentum" else \
        nn.Adam(net.trainable_params(), 1e-2)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), opt)
    step.set_train()
    ms.set_context(mode=mode, device_target=device)
    with ascend.profile() as prof:
        losses = [float(step(Tensor(x), Tensor(y)).asnumpy()) for _ in range(steps)]
    ms.set_context(device_target="CPU")
    return losses, [p.asnumpy() for p in net.get_parameters()], prof


CASES = {"mlp": (MLP, (8, 32), 10, "momentum"), "lenet5": (LeNet5, (2, 1, 32, 32), 10, "momentum"),
         "batchnorm_dropout": (BNNet, (4, 3, 6, 6), 5, "momentum")}
# (Adam is left to the kernel tests: its normalised step turns fp16-sized gradient differences near zero into
# lr-sized parameter differences, which says nothing about the kernels)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE], ids=["pynative", "graph"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_training_on_ascend_agrees_with_cpu(name, mode):
    make, xshape, classes, optimizer = CASES[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(xshape).astype(np.float32)
    y = rng.integers(0, classes, xshape[0]).astype(np.int32)
    with fusion_options(min_elements=0):     # GRAPH_MODE: fused chains run as Ascend Vector kernels too
        cpu_losses, cpu_params, _ = _train(make, x, y, mode, "CPU", optimizer=optimizer)
        asc_losses, asc_params, prof = _train(make, x, y, mode, "Ascend", optimizer=optimizer)
    np.testing.assert_allclose(asc_losses, cpu_losses, rtol=LOSS_RTOL)
    assert asc_losses[-1] < asc_losses[0]            # it trains
    for a, c in zip(asc_params, cpu_params):
        np.testing.assert_allclose(a, c, atol=PARAM_ATOL, rtol=PARAM_RTOL)
    # the run went through the simulator: Cube work for the matmuls, Vector work, records per op
    ops = prof.by_op()
    assert any(op in ops for op in ("matmul", "MatMul")), sorted(ops)
    busy = prof.pipe_busy()
    assert busy["Cube"] > 0 and busy["Vector"] > 0 and busy["MTE2"] > 0 and prof.seconds > 0
    if mode == ms.GRAPH_MODE:
        assert any(op.startswith("fused(") for op in ops), sorted(ops)
    if name == "lenet5":
        assert "conv2d" in ops and "conv2d_backprop_filter" in ops and "max_pool" in ops
