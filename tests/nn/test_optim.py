"""Optimizers: three update steps of each against a numpy re-implementation; weight decay, parameter groups,
learning-rate lists and schedules, loss scaling, state naming, the training wrappers, and bad arguments."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter


def T(x, dtype=np.float32):
    return Tensor(np.asarray(x, dtype=dtype))


RNG = np.random.default_rng(0)
W0 = RNG.normal(size=(3, 4)).astype(np.float32)
G0 = RNG.normal(size=(4,)).astype(np.float32)
GRADS = [(RNG.normal(size=(3, 4)), RNG.normal(size=(4,))) for _ in range(3)]


def make_params():
    """A weight and a normalization scale (its name contains 'gamma': no weight decay without groups)."""
    return [Parameter(T(W0), name="fc.weight"), Parameter(T(G0), name="bn.gamma")]


def run(opt, params, steps=3):
    for gs in GRADS[:steps]:
        opt(tuple(T(g) for g in gs))
    return [p.asnumpy() for p in params]


def check(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=1e-6)


# ---------------------------------------------------------------- numpy references (float64)
def np_sgd(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, decays=(True, False)):
    ps = [W0.astype(np.float64), G0.astype(np.float64)]
    accs = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(GRADS):
        for i, (p, g) in enumerate(zip(ps, gs)):
            g = g + wd * p if decays[i] else g
            if momentum > 0:
                accs[i] = g if t == 0 else momentum * accs[i] + (1 - dampening) * g
                g = g + momentum * accs[i] if nesterov else accs[i]
            ps[i] = p - lr[t] * g
    return ps


def np_momentum(lr, momentum, wd=0.0, nesterov=False, scale=1.0):
    ps = [W0.astype(np.float64), G0.astype(np.float64)]
    vs = [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(GRADS):
        for i, (p, g) in enumerate(zip(ps, gs)):
            g = g / scale + (wd * p if i == 0 else 0)
            vs[i] = momentum * vs[i] + g
            ps[i] = p - lr[t] * (g + momentum * vs[i] if nesterov else vs[i])
    return ps


def np_adam(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, nesterov=False):
    ps = [W0.astype(np.float64), G0.astype(np.float64)]
    ms_, vs = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(GRADS, start=1):
        for i, (p, g) in enumerate(zip(ps, gs)):
            g = g + (wd * p if i == 0 else 0)
            ms_[i] = b1 * ms_[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            lr_t = lr[t - 1] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            m = b1 * ms_[i] + (1 - b1) * g if nesterov else ms_[i]
            ps[i] = p - lr_t * m / (np.sqrt(vs[i]) + eps)
    return ps


def np_adamw(lr, b1=0.9, b2=0.999, eps=1e-6, wds=(0.0, 0.0)):
    ps = [W0.astype(np.float64), G0.astype(np.float64)]
    ms_, vs = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]
    for t, gs in enumerate(GRADS):
        for i, (p, g) in enumerate(zip(ps, gs)):
            ms_[i] = b1 * ms_[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            ps[i] = p - lr[t] * (ms_[i] / (np.sqrt(vs[i]) + eps) + wds[i] * p)
    return ps


# ---------------------------------------------------------------- the updates
@pytest.mark.parametrize("kw", [
    dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3), dict(momentum=0.8, nesterov=True),
    dict(momentum=0.9, weight_decay=0.1)], ids=["plain", "momentum", "dampening", "nesterov", "decay"])
def test_sgd_matches_numpy(kw):
    params = make_params()
    got = run(nn.SGD(params, learning_rate=0.05, **kw), params)
    check(got, np_sgd([0.05] * 3, kw.get("momentum", 0.0), kw.get("dampening", 0.0), kw.get("weight_decay", 0.0),
                      kw.get("nesterov", False)))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_numpy(nesterov):
    params = make_params()
    got = run(nn.Momentum(params, 0.1, 0.9, weight_decay=0.01, use_nesterov=nesterov), params)
    check(got, np_momentum([0.1] * 3, 0.9, wd=0.01, nesterov=nesterov))


@pytest.mark.parametrize("kw", [dict(), dict(use_nesterov=True), dict(weight_decay=0.1, beta1=0.8, eps=1e-6)],
                         ids=["default", "nesterov", "decay"])
def test_adam_matches_numpy(kw):
    params = make_params()
    opt = nn.Adam(params, learning_rate=0.01, **kw)
    got = run(opt, params)
    check(got, np_adam([0.01] * 3, b1=kw.get("beta1", 0.9), eps=kw.get("eps", 1e-8), wd=kw.get("weight_decay", 0.0),
                       nesterov=kw.get("use_nesterov", False)))
    np.testing.assert_allclose(opt.beta1_power.asnumpy(), kw.get("beta1", 0.9) ** 3, rtol=1e-6)
    np.testing.assert_allclose(opt.beta2_power.asnumpy(), 0.999 ** 3, rtol=1e-6)


def test_adam_weight_decay_matches_numpy():
    params = make_params()
    got = run(nn.AdamWeightDecay(params, learning_rate=0.01, weight_decay=0.1), params)
    check(got, np_adamw([0.01] * 3, wds=(0.1, 0.0)))     # no decay on the 'gamma' parameter


def test_state_parameters_are_named_like_mindspore():
    params = make_params()
    names = lambda opt: [n for n, _ in opt.parameters_and_names()]   # noqa: E731
    assert names(nn.Adam(params)) == ["fc.weight", "bn.gamma", "global_step", "learning_rate", "beta1_power",
                                      "beta2_power", "moment1.fc.weight", "moment1.bn.gamma", "moment2.fc.weight",
                                      "moment2.bn.gamma"]
    assert names(nn.Momentum(params, 0.1, 0.9))[-2:] == ["moments.fc.weight", "moments.bn.gamma"]
    assert names(nn.SGD(params))[-4:] == ["accum.fc.weight", "accum.bn.gamma", "stat.fc.weight", "stat.bn.gamma"]
    assert names(nn.AdamWeightDecay(params))[-4:] == ["adam_m.fc.weight", "adam_m.bn.gamma", "adam_v.fc.weight",
                                                      "adam_v.bn.gamma"]
    opt = nn.Adam(params)
    assert all(not p.requires_grad for p in opt.moment1) and opt.moment1[0].shape == (3, 4)
    assert [p.name for p in opt.trainable_params()] == ["fc.weight", "bn.gamma"]


# ---------------------------------------------------------------- learning rates, groups, scaling
def test_learning_rate_list_tensor_and_schedule():
    lrs = [0.1, 0.05, 0.02]
    params = make_params()
    opt = nn.Momentum(params, lrs, 0.9)
    assert opt.dynamic_lr
    check(run(opt, params), np_momentum(lrs, 0.9))
    assert int(opt.global_step.asnumpy()[0]) == 3
    params = make_params()      # a 1-D Tensor is a per-step list too; past its end the last value repeats
    check(run(nn.Momentum(params, T([0.1, 0.05]), 0.9), params), np_momentum([0.1, 0.05, 0.05], 0.9))

    class Halving(nn.LearningRateSchedule):
        def construct(self, global_step):
            return 0.2 * 0.5 ** global_step.astype(ms.float32)

    params = make_params()
    opt = nn.Adam(params, learning_rate=Halving())
    check(run(opt, params), np_adam([0.2, 0.1, 0.05]))
    params = make_params()   # any callable of the step works too (in PyNative: it reads the step's value)
    opt = nn.SGD(params, learning_rate=lambda step: 0.1 / (1 + float(step.asnumpy()[0])))
    if ms.get_context("mode") == ms.PYNATIVE_MODE:
        check(run(opt, params), np_sgd([0.1, 0.05, 0.1 / 3]))
    else:   # a compiled step cannot read tensor values while compiling: a clear error names the line
        with pytest.raises(ms.errors.MindlabError, match="not known while a graph is being compiled"):
            run(opt, params)


def test_get_lr_constant_and_steps():
    opt = nn.SGD(make_params(), learning_rate=0.3)
    assert not opt.dynamic_lr and not opt.is_group_lr
    np.testing.assert_allclose(opt.get_lr().asnumpy(), 0.3, rtol=1e-7)
    opt = nn.SGD(make_params(), learning_rate=[0.3, 0.2])
    assert [round(float(opt.get_lr().asnumpy()), 6) for _ in range(3)] == [0.3, 0.2, 0.2]
    lr = Parameter(T(0.5), name="lr")              # a Parameter rate is used as is: set_data changes it
    params = make_params()
    opt = nn.SGD(params, learning_rate=lr)
    assert opt.learning_rate is lr
    lr.set_data(T(0.25))
    opt((T(GRADS[0][0]), T(GRADS[0][1])))
    check([p.asnumpy() for p in params], [W0 - 0.25 * GRADS[0][0], G0 - 0.25 * GRADS[0][1]])
    with pytest.raises(TypeError):
        nn.SGD(make_params(), learning_rate=Parameter(Tensor(np.array(1, np.int32)), name="lr"))


def test_parameter_groups():
    params = make_params()
    groups = [{"params": [params[0]], "lr": 0.1, "weight_decay": 0.01}, {"params": [params[1]]}]
    opt = nn.SGD(groups, learning_rate=0.02, momentum=0.9)
    assert opt.is_group and opt.is_group_lr
    got = run(opt, params)
    w = np_sgd([0.1] * 3, 0.9, wd=0.01)[0]
    g = np_sgd([0.02] * 3, 0.9)[1]
    check(got, [w, g])
    # with groups, a group's weight decay applies to all its parameters (even 'gamma' ones)
    params = make_params()
    opt = nn.AdamWeightDecay([{"params": params, "weight_decay": 0.2}], learning_rate=0.01)
    check(run(opt, params), np_adamw([0.01] * 3, wds=(0.2, 0.2)))
    # order_params sets the order of opt.parameters
    params = make_params()
    opt = nn.SGD([{"params": [params[0]], "lr": 0.5}, {"order_params": [params[1], params[0]]}], 0.1)
    assert [p.name for p in opt.parameters] == ["bn.gamma", "fc.weight"]
    opt((T(GRADS[0][1]), T(GRADS[0][0])))
    check([p.asnumpy() for p in params], [W0 - 0.5 * GRADS[0][0], G0 - 0.1 * GRADS[0][1]])


def test_loss_scale_divides_gradients():
    params = make_params()
    check(run(nn.Momentum(params, 0.1, 0.9, loss_scale=8.0), params), np_momentum([0.1] * 3, 0.9, scale=8.0))


# ---------------------------------------------------------------- with a network: TrainOneStepCell
def test_train_one_step_cell_equals_manual_step():
    ms.set_seed(3)
    x, y = T(RNG.normal(size=(6, 4))), T(RNG.normal(size=(6, 2)))
    net = nn.Dense(4, 2)
    w0, b0 = net.weight.asnumpy(), net.bias.asnumpy()
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), sens=2.0)
    assert [p.name for p in train.trainable_params()] == ["weight", "bias"]   # wrappers add no prefix
    loss = train(x, y)
    err = x.asnumpy() @ w0.T + b0 - y.asnumpy()
    np.testing.assert_allclose(loss.asnumpy(), np.mean(err ** 2), rtol=1e-5)
    dw = 2 * err.T @ x.asnumpy() / err.size
    db = 2 * err.sum(0) / err.size
    np.testing.assert_allclose(net.weight.asnumpy(), w0 - 0.1 * 2.0 * dw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.bias.asnumpy(), b0 - 0.1 * 2.0 * db, rtol=1e-5, atol=1e-6)
    losses = [float(train(x, y).asnumpy()) for _ in range(20)]
    assert losses[-1] < losses[0]


def test_train_one_step_cell_freezes_untrainable_parameters():
    net = nn.SequentialCell([nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Dense(2 * 5 * 5, 3)])
    net.set_train()
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(True, "mean")),
                                nn.Momentum(net.trainable_params(), 0.1, 0.9))
    x, y = T(RNG.normal(size=(4, 1, 5, 5))), Tensor(np.array([0, 1, 2, 1], np.int32))
    before = {p.name: p.asnumpy() for p in net.get_parameters()}
    train(x, y)
    after = {p.name: p.asnumpy() for p in net.get_parameters()}
    changed = sorted(n for n in before if not np.array_equal(before[n], after[n]))
    # every trainable parameter moves; the moving statistics change through BatchNorm's update, not the optimizer
    assert changed == sorted(before)
    assert "1.moving_mean" not in [p.name for p in train.optimizer.parameters]


# ---------------------------------------------------------------- bad arguments and inputs
def test_bad_optimizer_arguments():
    params = make_params()
    with pytest.raises(ValueError):
        nn.SGD([], 0.1)
    with pytest.raises(TypeError):
        nn.SGD([params[0], "w"], 0.1)
    with pytest.raises(ValueError):
        nn.SGD([params[0], params[0]], 0.1)
    with pytest.raises(ValueError):
        nn.SGD(params, -0.1)
    with pytest.raises(TypeError):
        nn.SGD(params, "fast")
    with pytest.raises(ValueError):
        nn.SGD(params, 0.1, momentum=-1)
    with pytest.raises(ValueError):
        nn.SGD(params, 0.1, nesterov=True)                 # needs momentum > 0
    with pytest.raises(ValueError):
        nn.Adam(params, beta1=1.0)
    with pytest.raises(ValueError):
        nn.Adam(params, eps=0.0)
    with pytest.raises(ValueError):
        nn.Momentum(params, 0.1, 0.9, weight_decay=-0.1)
    with pytest.raises(ValueError):
        nn.SGD([{"params": [params[0]], "momentum": 0.9}], 0.1)
    with pytest.raises(TypeError):
        nn.TrainOneStepCell(nn.Dense(2, 2), "sgd")


def test_bad_gradients_name_parameter_shapes_and_line():
    opt = nn.Adam(make_params())
    with pytest.raises(ValueError) as info:
        opt((T(np.ones((3, 4))),))
    assert "2 gradients" in str(info.value) and "test_optim.py:" in str(info.value)
    with pytest.raises(ValueError) as info:
        opt((T(np.ones((3, 4))), T(np.ones(5))))
    msg = str(info.value)
    assert "bn.gamma" in msg and "[4]" in msg and "[5]" in msg and "test_optim.py:" in msg


def test_optimizer_subclass_with_primitives():
    class PlainSGD(nn.Optimizer):
        def construct(self, gradients):
            lr = self.get_lr()
            for p, g in zip(self.parameters, gradients):
                ops.assign(p, p - lr * g)
            return self.parameters

    params = make_params()
    check(run(PlainSGD(0.1, params), params), np_sgd([0.1] * 3, decays=(False, False)))
