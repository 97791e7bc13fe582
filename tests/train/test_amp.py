"""Mixed precision: O2 trains in float16 with float32 master weights and a dynamic loss scale; an overflow skips
the step (weights and optimizer state unchanged) and shrinks the scale; the scale grows after a clean window."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, amp, dataset as ds, ops
from mindlab.train import Model, History

MODES = {"pynative": ms.PYNATIVE_MODE, "graph": ms.GRAPH_MODE}


def mlp(hidden=64):
    return nn.SequentialCell([nn.Dense(64, hidden, activation="relu"), nn.Dense(hidden, 10)])


def ce():
    return nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")


def state(cell):
    return {p.name: p.asnumpy() for p in cell.get_parameters()}


@pytest.mark.parametrize("mode", list(MODES))
def test_o2_trains_digits_to_95_percent_in_float16(mode):
    pytest.importorskip("sklearn")
    ms.set_context(mode=MODES[mode])
    ms.set_seed(0)
    net = mlp()
    model = Model(net, ce(), nn.Momentum(net.trainable_params(), 0.05, 0.9), metrics={"acc"}, amp_level="O2")
    train = model.train_network
    assert isinstance(train, amp.TrainOneStepWithLossScaleCell)
    assert float(train.scale_sense.asnumpy()) == 2.0 ** 16               # DynamicLossScaleManager's default
    history = History()
    model.train(6, ds.DigitsDataset("train").batch(64), callbacks=history)
    result = model.eval(ds.DigitsDataset("test").batch(512))
    assert result["acc"] >= 0.95, (result, history.history)

    x = ms.Tensor(ds.load_digits()[1][0][:4])
    assert net(x).dtype == ms.float16                                    # the network itself computes in float16
    assert model.predict(x).dtype == ms.float32                          # outputs are cast back for the loss
    assert all(p.dtype == ms.float32 for p in net.trainable_params())    # float32 master weights
    loss, overflow, scale = train(x, ms.Tensor(np.array([0, 1, 2, 3], np.int32)))
    assert loss.dtype == ms.float32 and overflow.dtype == ms.bool_ and scale.dtype == ms.float32
    # a step that overflowed halved the scale; one that did not left it (the window is 2000 steps)
    assert float(train.scale_sense.asnumpy()) == float(scale.asnumpy()) / (2 if bool(overflow) else 1)


@pytest.mark.parametrize("mode", list(MODES))
def test_an_overflow_skips_the_step_and_halves_the_scale(mode):
    ms.set_context(mode=MODES[mode])
    ms.set_seed(0)
    net = mlp(16)
    opt = nn.Adam(net.trainable_params(), 1e-2)
    manager = amp.DynamicLossScaleManager(init_loss_scale=2.0 ** 10, scale_factor=2, scale_window=3)
    train = amp.build_train_network(net, opt, ce(), level="O2", loss_scale_manager=manager)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 64)).astype(np.float32)
    y = ms.Tensor(rng.integers(0, 10, 8).astype(np.int32))

    loss, overflow, scale = train(ms.Tensor(x), y)                       # a normal step updates everything
    assert not bool(overflow) and float(scale.asnumpy()) == 1024.0
    before = state(train)
    bad = x.copy()
    bad[0, 0] = np.inf                                                   # injected overflow
    loss, overflow, scale = train(ms.Tensor(bad), y)
    assert bool(overflow) and float(scale.asnumpy()) == 1024.0           # the scale this step used
    after = state(train)
    changed = sorted(k for k in before if not np.array_equal(before[k], after[k]))
    assert changed == ["current_iterator_step", "last_overflow_iterator_step", "scale_sense"]
    assert float(after["scale_sense"]) == 512.0                          # halved
    assert int(after["global_step"][0]) == 1                             # the optimizer did not step

    for step in range(3):                                                # three clean steps: the scale doubles
        _, overflow, _ = train(ms.Tensor(x), y)
        assert not bool(overflow)
    assert float(train.scale_sense.asnumpy()) == 1024.0
    assert int(opt.global_step.asnumpy()[0]) == 4


def test_a_huge_scale_overflows_float16_gradients_and_backs_off():
    ms.set_seed(0)
    net = mlp(16)
    manager = amp.DynamicLossScaleManager(init_loss_scale=2.0 ** 40, scale_window=1000)
    train = amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), ce(), level="O2",
                                    loss_scale_manager=manager)
    rng = np.random.default_rng(1)
    x = ms.Tensor(rng.normal(size=(16, 64)).astype(np.float32))
    y = ms.Tensor(rng.integers(0, 10, 16).astype(np.int32))
    w0 = net[0].weight.asnumpy()
    flags = [bool(train(x, y)[1]) for _ in range(30)]
    k = sum(flags)                                                       # 2**40 overflows float16; it backs off
    assert 0 < k < 30 and flags == [True] * k + [False] * (30 - k)
    assert float(train.scale_sense.asnumpy()) == 2.0 ** 40 / 2 ** k
    assert not np.array_equal(w0, net[0].weight.asnumpy())               # later steps did train


def test_fixed_loss_scale_managers():
    ms.set_seed(0)
    net = mlp(16)
    fixed = amp.FixedLossScaleManager(128.0)
    train = amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), ce(), level="O2",
                                    loss_scale_manager=fixed)
    assert isinstance(train, amp.TrainOneStepWithLossScaleCell)
    x = np.zeros((4, 64), np.float32)
    x[0, 0] = np.nan
    _, overflow, _ = train(ms.Tensor(x), ms.Tensor(np.zeros(4, np.int32)))
    assert bool(overflow) and float(train.scale_sense.asnumpy()) == 128.0   # skipped, scale unchanged

    no_check = amp.FixedLossScaleManager(128.0, drop_overflow_update=False)
    plain = amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1, loss_scale=128.0), ce(), level="O2",
                                    loss_scale_manager=no_check)
    assert type(plain) is nn.TrainOneStepCell and plain.sens == 128.0


def test_loss_scale_matches_an_unscaled_float32_step():
    """With a power-of-two scale and no overflow the update equals the unscaled one (O0 with a loss scale)."""
    rng = np.random.default_rng(2)
    x = ms.Tensor(rng.normal(size=(8, 64)).astype(np.float32))
    y = ms.Tensor(rng.integers(0, 10, 8).astype(np.int32))
    results = []
    for manager in (None, amp.FixedLossScaleManager(1024.0)):
        ms.set_seed(0)
        net = mlp(16)
        train = amp.build_train_network(net, nn.SGD(net.trainable_params(), 0.1), ce(), level="O0",
                                        loss_scale_manager=manager)
        train(x, y)
        results.append(state(net))
    for k in results[0]:
        np.testing.assert_allclose(results[0][k], results[1][k], rtol=1e-5, atol=1e-7)


def test_manager_python_rule_and_levels():
    m = amp.DynamicLossScaleManager(init_loss_scale=8.0, scale_factor=2, scale_window=2)
    m.update_loss_scale(True)
    assert m.get_loss_scale() == 4.0
    m.update_loss_scale(False)
    m.update_loss_scale(False)
    assert m.get_loss_scale() == 8.0
    for _ in range(10):
        m.update_loss_scale(True)
    assert m.get_loss_scale() == 1.0                                     # never below 1
    with pytest.raises(ValueError, match="scale_factor must be > 1"):
        amp.DynamicLossScaleManager(scale_factor=1)
    with pytest.raises(ValueError, match="'O1'"):
        amp.build_train_network(mlp(), nn.SGD(mlp().trainable_params()), ce(), level="O1")
    with pytest.raises(ValueError, match="level must be one of"):
        amp.build_train_network(mlp(), nn.SGD(mlp().trainable_params()), ce(), level="fp16")
    net = mlp(8)
    casted = amp.auto_mixed_precision(net, "O3")
    assert casted(ms.Tensor(np.zeros((2, 64), np.float32))).dtype == ms.float32
    assert net(ms.Tensor(np.zeros((2, 64), np.float32))).dtype == ms.float16


def test_all_finite_and_the_functional_dynamic_scaler():
    assert bool(amp.all_finite([ms.Tensor(np.ones(3, np.float32)), ms.Tensor(np.zeros((2, 2)))]))
    assert not bool(amp.all_finite([ms.Tensor(np.array([1.0, np.inf], np.float32))]))
    assert not bool(amp.all_finite([ms.Tensor(np.array([np.nan], np.float16))]))

    scaler = amp.DynamicLossScaler(scale_value=2.0 ** 4, scale_factor=2, scale_window=1)
    loss = ms.Tensor(np.float32(3.0))
    assert float(scaler.scale(loss).asnumpy()) == 48.0
    assert [float(g.asnumpy()) for g in scaler.unscale((ms.Tensor(np.float32(32.0)),))] == [2.0]
    scaler.adjust(amp.all_finite([ms.Tensor(np.array([np.inf], np.float32))]))
    assert float(scaler.scale_value.asnumpy()) == 8.0
    scaler.adjust(ops.logical_not(ms.Tensor(False)))                     # finite -> grows after the window
    assert float(scaler.scale_value.asnumpy()) == 16.0


def test_o2_keeps_batchnorm_in_float32():
    class ConvBN(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, pad_mode="same")
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Dense(4 * 64, 10)

        def construct(self, x):
            return self.fc(ops.reshape(self.bn(self.conv(x)), (x.shape[0], -1)))

    ms.set_seed(0)
    net = ConvBN()
    train = amp.build_train_network(net, nn.Momentum(net.trainable_params(), 0.01, 0.9), ce(), level="O2")
    train.set_train()
    x = ms.Tensor(np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32))
    loss, overflow, _ = train(x, ms.Tensor(np.array([1, 2], np.int32)))
    assert loss.dtype == ms.float32 and overflow.dtype == ms.bool_
    assert net.bn.moving_mean.dtype == ms.float32 and not np.all(net.bn.moving_mean.asnumpy() == 0)
    ms.set_context(mode=ms.PYNATIVE_MODE)       # the layers one by one, eagerly
    assert net.conv(x).dtype == ms.float16 and net.bn(net.conv(x)).dtype == ms.float32


@pytest.mark.parametrize("mode", list(MODES))
def test_o3_runs_batchnorm_in_float16_with_float32_statistics_in_training_and_evaluation(mode):
    ms.set_context(mode=MODES[mode])
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Conv2d(1, 4, 3, pad_mode="same"), nn.BatchNorm2d(4), nn.Flatten(),
                             nn.Dense(4 * 64, 10)])
    casted = amp.auto_mixed_precision(net, "O3")
    x = ms.Tensor(np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32))
    net.set_train(True)
    casted(x)                                                             # updates the float32 running statistics
    bn = net[1]
    assert bn.moving_mean.dtype == ms.float32 and not np.all(bn.moving_mean.asnumpy() == 0)
    net.set_train(False)
    out = casted(x)                                                       # inference reads them in float16
    assert out.dtype == ms.float32
    conv = net[0](x).asnumpy().astype(np.float32)
    mean, var = bn.moving_mean.asnumpy()[:, None, None], bn.moving_variance.asnumpy()[:, None, None]
    ref = (conv - mean) / np.sqrt(var + bn.eps) * bn.gamma.asnumpy()[:, None, None] + bn.beta.asnumpy()[:, None, None]
    np.testing.assert_allclose(bn(net[0](x)).asnumpy().astype(np.float32), ref, rtol=1e-2, atol=1e-2)
    ms.set_context(mode=ms.PYNATIVE_MODE)
