"""Training on the GPU in both modes: the same losses and weights as on the CPU (1e-5), and no host<->device
transfer inside a training step (the transfer counter stays at zero until the loss is read)."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor, device
from tests.graph.test_modes_agree import MLP, BNNet


def _train(make_net, x, y, device_target, mode, optimizer="momentum", steps=3):
    ms.set_context(device_target=device_target, mode=ms.PYNATIVE_MODE)
    ms.set_seed(7)
    net = make_net()
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), 0.05, 0.9) if optimizer == "momentum" else \
        nn.Adam(net.trainable_params(), 1e-2)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), opt)
    step.set_train()
    ms.set_context(mode=mode)
    xt, yt = Tensor(x), Tensor(y)
    first = step(xt, yt)                                  # compiles (graph mode) and warms up
    device.reset_transfer_count()
    losses = [step(xt, yt) for _ in range(steps)]
    moved = device.transfer_count()
    values = [first.asnumpy()] + [l.asnumpy() for l in losses]
    params = [p.asnumpy() for p in net.get_parameters()]
    ms.set_context(device_target="CPU", mode=ms.PYNATIVE_MODE)
    return np.array(values), params, moved, losses


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE], ids=["pynative", "graph"])
@pytest.mark.parametrize("net,optimizer", [(MLP, "momentum"), (MLP, "adam")], ids=["mlp_momentum", "mlp_adam"])
def test_training_on_gpu_matches_cpu_without_transfers(mode, net, optimizer):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32)).astype(np.float32)
    y = rng.integers(0, 10, 16).astype(np.int32)
    lc, pc, _, _ = _train(net, x, y, "CPU", mode, optimizer)
    lg, pg, moved, losses = _train(net, x, y, "GPU", mode, optimizer)
    assert all(device.is_device_array(l._data) for l in losses)
    assert moved["h2d"] == 0 and moved["d2h"] == 0, moved        # nothing crossed inside the steps
    np.testing.assert_allclose(lg, lc, rtol=1e-5, atol=1e-6)
    for a, b in zip(pg, pc):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_conv_batchnorm_training_on_gpu_matches_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 6, 6)).astype(np.float32)
    y = rng.integers(0, 5, 4).astype(np.int32)

    class NoDrop(BNNet):       # dropout masks come from a different generator on the GPU
        def construct(self, x):
            return self.fc(self.flatten(self.bn(self.conv(x))))
    lc, pc, _, _ = _train(NoDrop, x, y, "CPU", ms.GRAPH_MODE)
    lg, pg, moved, _ = _train(NoDrop, x, y, "GPU", ms.GRAPH_MODE)
    assert moved["h2d"] == 0 and moved["d2h"] == 0, moved
    np.testing.assert_allclose(lg, lc, rtol=1e-5, atol=1e-6)
    for a, b in zip(pg, pc):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
