"""The PyNative tape skips gradients nobody uses: differentiating a network with respect to its weights does not
compute the gradient of its input (a whole GEMM for a Dense layer, a col2im for a convolution), and the weight
gradients are unchanged by it."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.ops.registry import REGISTRY


@pytest.fixture
def calls(monkeypatch):
    counts = {}
    device = ms.get_context("device_target")       # the kernels of the device the tests run on
    for name in ("matmul", "conv2d_backprop_input", "conv2d_backprop_filter"):
        prim = REGISTRY[name]
        impl = prim.impl[device]

        def counted(*args, _impl=impl, _name=name, **kw):
            counts[_name] = counts.get(_name, 0) + 1
            return _impl(*args, **kw)
        monkeypatch.setitem(prim.impl, device, counted)
    return counts


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, pad_mode="valid")
        self.flat = nn.Flatten()
        self.fc = nn.Dense(2 * 4 * 4, 3)

    def construct(self, x):
        return ops.sum(self.fc(self.flat(ops.relu(self.conv(x)))))


def test_weight_gradients_skip_the_input_gradient(calls):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(0)
    net = Net()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32))
    _, grads = ms.value_and_grad(net, None, net.trainable_params())(x)
    # forward: 1 matmul (Dense); backward: only dW of the Dense (its input comes from the conv, whose weight
    # needs it: so dx of the Dense IS needed), conv: only the filter gradient, never the input's
    assert calls.get("conv2d_backprop_input", 0) == 0
    assert calls["conv2d_backprop_filter"] == 1
    assert calls["matmul"] == 3          # forward, dW and dx of the Dense (dx feeds the conv weight's gradient)
    calls.clear()
    _, (gx, grads2) = ms.value_and_grad(net, 0, net.trainable_params())(x)   # the input's gradient too
    assert calls["conv2d_backprop_input"] == 1 and gx.shape == x.shape
    assert len(grads) == len(grads2) == 3
    for a, b in zip(grads, grads2):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_dense_only_network_skips_the_first_input_gemm(calls):
    ms.set_seed(0)
    net = nn.Dense(5, 4)
    x = Tensor(np.ones((3, 5), np.float32))
    ms.grad(lambda v: ops.sum(net(v)), None, net.trainable_params())(x)
    assert calls["matmul"] == 2          # forward + dW; no dx
