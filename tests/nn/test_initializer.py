"""mindlab.common.initializer: names, distributions, fans, seeding, and bad arguments."""
import math

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.common.initializer import (initializer, Initializer, Zero, One, Constant, Normal, Uniform,
                                        TruncatedNormal, XavierUniform, XavierNormal, HeUniform, HeNormal, Identity)


def test_constant_initializers_and_names():
    np.testing.assert_array_equal(initializer("zeros", (2, 3)).asnumpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializer("ones", [4]).asnumpy(), np.ones(4))
    np.testing.assert_array_equal(initializer(Zero(), 3).asnumpy(), np.zeros(3))
    np.testing.assert_array_equal(initializer(One(), (2,), ms.int32).asnumpy(), np.ones(2, np.int32))
    np.testing.assert_array_equal(initializer(2.5, (2, 2)).asnumpy(), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializer(Constant(np.arange(3)), (2, 3)).asnumpy(), np.tile(np.arange(3), (2, 1)))
    np.testing.assert_array_equal(initializer("identity", (2, 3)).asnumpy(), np.eye(2, 3))
    np.testing.assert_array_equal(initializer(Identity(), (3, 3)).asnumpy(), np.eye(3))
    assert initializer("ones", (2,), ms.float64).dtype == ms.float64
    assert initializer("zeros", (2,)).dtype == ms.float32
    t = Tensor(np.ones((2, 2), np.float32))
    assert initializer(t, (2, 2)) is t
    for name, cls in (("normal", Normal), ("uniform", Uniform), ("truncatedNormal", TruncatedNormal),
                      ("truncated_normal", TruncatedNormal), ("xavier_uniform", XavierUniform),
                      ("xavier_normal", XavierNormal), ("he_uniform", HeUniform), ("he_normal", HeNormal),
                      ("HeUniform", HeUniform), ("zeros", Zero), ("ones", One)):
        ms.set_seed(5)
        a = initializer(name, (20, 30)).asnumpy()
        ms.set_seed(5)
        b = initializer(cls(), (20, 30)).asnumpy()
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_random_distributions():
    shape = (200, 300)
    fan_in, fan_out = 300, 200
    w = initializer(Normal(sigma=0.5, mean=1.0), shape).asnumpy()
    assert abs(w.mean() - 1.0) < 0.01 and abs(w.std() - 0.5) < 0.01
    w = initializer("normal", shape).asnumpy()
    assert abs(w.std() - 0.01) < 0.001                               # MindSpore's default sigma
    w = initializer(Uniform(0.3), shape).asnumpy()
    assert w.min() >= -0.3 and w.max() <= 0.3 and abs(w.std() - 0.3 / math.sqrt(3)) < 0.003
    w = initializer(TruncatedNormal(1.0), shape).asnumpy()
    assert w.min() >= -2 and w.max() <= 2 and 0.85 < w.std() < 0.9   # std of N(0,1) cut at ±2 is 0.880
    w = initializer(TruncatedNormal(sigma=0.1, mean=0.5, a=0.4, b=0.7), shape).asnumpy()
    assert w.min() >= 0.4 and w.max() <= 0.7
    bound = math.sqrt(6 / (fan_in + fan_out))
    w = initializer(XavierUniform(), shape).asnumpy()
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.002
    w = initializer(XavierNormal(gain=2), shape).asnumpy()
    assert abs(w.std() - 2 * math.sqrt(2 / (fan_in + fan_out))) < 0.002
    w = initializer(HeUniform(), shape).asnumpy()            # leaky_relu gain with slope 0: sqrt(2)
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.002
    w = initializer(HeUniform(math.sqrt(5)), shape).asnumpy()
    assert np.abs(w).max() <= 1 / math.sqrt(fan_in)
    w = initializer(HeNormal(mode="fan_out", nonlinearity="relu"), shape).asnumpy()
    assert abs(w.std() - math.sqrt(2 / fan_out)) < 0.002
    w = initializer(HeUniform(), (16, 3, 5, 5)).asnumpy()     # conv weights: fan_in = 3 * 5 * 5
    assert np.abs(w).max() <= math.sqrt(6 / 75)


def test_seeded_initialization_is_reproducible():
    ms.set_seed(42)
    a = [p.asnumpy() for p in nn.Dense(8, 4).get_parameters()]
    ms.set_seed(42)
    b = [p.asnumpy() for p in nn.Dense(8, 4).get_parameters()]
    c = [p.asnumpy() for p in nn.Dense(8, 4).get_parameters()]
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        assert not np.array_equal(x, z)


def test_tensor_constructor_uses_initializers():
    t = Tensor(shape=(2, 3), dtype=ms.float32, init=One())
    np.testing.assert_array_equal(t.asnumpy(), np.ones((2, 3)))
    assert Tensor(shape=(4,), dtype=ms.float64, init="normal").dtype == ms.float64


def test_custom_initializer_subclass():
    class Arange(Initializer):
        def _initialize(self, arr):
            arr[...] = np.arange(arr.size).reshape(arr.shape)

    np.testing.assert_array_equal(initializer(Arange(), (2, 2)).asnumpy(), [[0, 1], [2, 3]])


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown initializer"):
        initializer("glorot", (2, 2))
    with pytest.raises(TypeError):
        initializer([1, 2], (2,))
    with pytest.raises(ValueError):
        initializer("ones", (2, 0))
    with pytest.raises(ValueError):
        initializer("ones", None)
    with pytest.raises(ValueError, match="fan_in"):
        initializer(XavierUniform(), (5,))
    with pytest.raises(ValueError):
        initializer(HeUniform(mode="fan_avg"), (2, 2))
    with pytest.raises(ValueError):
        initializer(HeUniform(nonlinearity="swish"), (2, 2))
    with pytest.raises(ValueError):
        initializer(Tensor(np.ones(3, np.float32)), (4,))
    with pytest.raises(ValueError):
        Normal(sigma=-1)
    with pytest.raises(ValueError):
        TruncatedNormal(a=1, b=0)
