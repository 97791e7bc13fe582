"""Composite activations and losses (mindlab/ops/composite/activations.py, losses.py) through the public API:
values against numpy references, GRAPH_MODE against PyNative and gradients against finite differences
(composite_check.check), every reduction mode and option, and clear errors on bad arguments."""
import numpy as np
import pytest
from scipy.special import expit, log_expit, logsumexp, xlogy

import mindlab as ms
from mindlab import ops, Tensor
from mindlab.ops import functional as F

from .composite_check import check

RNG = np.random.default_rng(0)
REDUCTIONS = ("mean", "sum", "none")

# away from every kink (0, +-0.5, +-1, +-3, 6)
X = np.array([[-3.7, -1.3, -0.2], [0.35, 1.6, 4.2]])


@pytest.fixture(autouse=True)
def _fresh_rng():
    global RNG
    RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def red(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


# ---------------------------------------------------------------- activations
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
ACTIVATIONS = {
    "leaky_relu": (lambda x: ops.leaky_relu(x), lambda x: np.where(x > 0, x, 0.01 * x)),
    "leaky_relu_0.2": (lambda x: ops.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: ops.elu(x), lambda x: np.where(x > 0, x, np.expm1(x))),
    "elu_0.5": (lambda x: ops.elu(x, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    "selu": (lambda x: ops.selu(x), lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x))),
    "celu": (lambda x: ops.celu(x), lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(x))),
    "celu_2": (lambda x: ops.celu(x, 2.0), lambda x: np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2))),
    "silu": (lambda x: ops.silu(x), lambda x: x * expit(x)),
    "swish": (lambda x: ops.swish(x), lambda x: x * expit(x)),
    "mish": (lambda x: ops.mish(x), lambda x: x * np.tanh(np.logaddexp(0, x))),
    "hardswish": (lambda x: ops.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "hardsigmoid": (lambda x: ops.hardsigmoid(x), lambda x: np.clip(x + 3, 0, 6) / 6),
    "hardtanh": (lambda x: ops.hardtanh(x), lambda x: np.clip(x, -1, 1)),
    "hardtanh_range": (lambda x: ops.hardtanh(x, -2.0, 3.0), lambda x: np.clip(x, -2, 3)),
    "relu6": (lambda x: ops.relu6(x * 2), lambda x: np.clip(x * 2, 0, 6)),
    "softsign": (lambda x: ops.softsign(x), lambda x: x / (1 + np.abs(x))),
    "logsigmoid": (lambda x: ops.logsigmoid(x), lambda x: log_expit(x)),
    "tanhshrink": (lambda x: ops.tanhshrink(x), lambda x: x - np.tanh(x)),
    "softshrink": (lambda x: ops.softshrink(x), lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "softshrink_1": (lambda x: ops.softshrink(x, 1.0), lambda x: np.where(x > 1, x - 1, np.where(x < -1, x + 1, 0))),
    "hardshrink": (lambda x: ops.hardshrink(x), lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "hardshrink_1.5": (lambda x: ops.hardshrink(x, lambd=1.5), lambda x: np.where(np.abs(x) > 1.5, x, 0)),
    "threshold": (lambda x: ops.threshold(x, 0.1, -7.0), lambda x: np.where(x > 0.1, x, -7.0)),
    "glu": (lambda x: ops.glu(x, axis=0), lambda x: x[:1] * expit(x[1:])),
    "glu_last": (lambda x: ops.glu(x[:, :2]), lambda x: x[:, :1] * expit(x[:, 1:2])),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name):
    fn, ref = ACTIVATIONS[name]
    check(fn, ref, X)


def test_exponential_activations_do_not_overflow():
    x = np.array([-1000.0, -2.0, 3.0, 1000.0])
    m = np.minimum(x, 0)
    check(ops.elu, lambda x: np.where(x > 0, x, np.expm1(m)), x)
    check(ops.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(m)), x)
    check(lambda x: ops.celu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(m / 0.5)), x)
    check(ops.logsigmoid, log_expit, x)
    g = ms.grad(lambda x: ops.sum(ops.elu(x) + ops.selu(x) + ops.celu(x) + ops.logsigmoid(x)))(Tensor(x))
    assert np.all(np.isfinite(g.asnumpy()))


def test_clamp_gradients_at_the_bounds_follow_pytorch():
    x = Tensor(np.array([-1.0, 0.0, 1.0, 6.0, -3.0, 3.0, 0.5]))
    for fn, expected in ((ops.hardtanh, [0, 1, 0, 0, 0, 0, 1]), (ops.relu6, [0, 0, 1, 0, 0, 1, 1]),
                         (ops.hardsigmoid, [1 / 6, 1 / 6, 1 / 6, 0, 0, 0, 1 / 6]),
                         (ops.leaky_relu, [0.01, 0.01, 1, 1, 0.01, 1, 1]),
                         (ops.elu, [np.exp(-1), 1, 1, 1, np.exp(-3), 1, 1]),
                         (lambda x: ops.threshold(x, 0.5, 2.0), [0, 0, 1, 1, 0, 1, 0])):
        np.testing.assert_allclose(ms.grad(lambda x: ops.sum(fn(x)))(x).asnumpy(), expected, rtol=1e-12)
    assert np.isnan(ops.hardtanh(Tensor(np.array([np.nan]))).asnumpy()).all()


def test_prelu_per_channel_and_shared():
    x = np.array([[[-1.5, 0.4], [2.0, -0.3], [-0.7, 1.1]], [[0.6, -2.2], [-0.9, 0.8], [1.3, -0.1]]])  # (N, C, L)
    w = np.array([0.1, 0.25, -0.5])
    check(ops.prelu, lambda x, w: np.where(x > 0, x, w[None, :, None] * x), x, w)
    check(ops.prelu, lambda x, w: np.where(x > 0, x, w * x), x, np.array([0.3]))
    check(ops.prelu, lambda x, w: np.where(x > 0, x, w * x), X, np.array([0.1, 0.2, 0.3]))
    check(ops.prelu, lambda x, w: np.where(x > 0, x, w * x), X[0], np.array([0.2]))


def test_activations_are_public():
    for name in ("leaky_relu", "elu", "selu", "celu", "silu", "swish", "mish", "hardswish", "hardsigmoid",
                 "hardtanh", "relu6", "softsign", "logsigmoid", "prelu", "glu", "tanhshrink", "softshrink",
                 "hardshrink", "threshold"):
        assert getattr(ops, name) is getattr(F, name)
        assert name in F.__all__
        assert getattr(ops, name).__doc__


def test_activation_errors():
    x = Tensor(X)
    with pytest.raises(ValueError, match=r"celu: alpha must not be 0, got 0\.0[\s\S]*test_composite_nn\.py"):
        ops.celu(x, 0.0)
    with pytest.raises(ValueError, match=r"softshrink: lambd must be >= 0, got -0\.5"):
        ops.softshrink(x, -0.5)
    with pytest.raises(ValueError, match=r"hardtanh: max_val .* min_val=1\.0, max_val=-1\.0"):
        ops.hardtanh(x, 1.0, -1.0)
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope must be a real number, got 'a'"):
        ops.leaky_relu(x, "a")
    with pytest.raises(TypeError, match=r"threshold: value must be a real number, got None"):
        ops.threshold(x, 0.0, None)
    with pytest.raises(ValueError, match=r"glu: the halved axis 1 must have even size, got 3"):
        ops.glu(x, axis=1)
    with pytest.raises(ValueError, match=r"glu: axis 2 is out of range for input of shape \[2, 3\]"):
        ops.glu(x, axis=2)
    with pytest.raises(ValueError, match=r"prelu: weight has 2 elements but input of shape \[2, 3\] has 3 channels"):
        ops.prelu(x, Tensor(np.array([0.1, 0.2])))
    with pytest.raises(ValueError, match=r"prelu: weight must be a scalar or 1-D tensor, got shape \[1, 3\]"):
        ops.prelu(x, Tensor(np.ones((1, 3))))


# ---------------------------------------------------------------- elementwise losses
def ref_smooth_l1(x, t, beta):
    d = np.abs(x - t)
    return np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)


def ref_huber(x, t, delta):
    d = np.abs(x - t)
    return np.where(d < delta, 0.5 * d ** 2, delta * (d - 0.5 * delta))


def ref_poisson(x, t, log_input, full, eps=1e-8):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        ts = np.where(t > 1, t, 1)
        loss = loss + np.where(t > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * np.pi * ts), 0)
    return loss


# X - T keeps |d| away from the smooth_l1 / huber switch points (0.5, 1, 1.5)
T = np.array([[-3.0, -2.1, 0.1], [0.0, 1.2, 2.0]])
POS = np.array([[0.3, 1.7, 0.9], [2.4, 0.6, 1.2]])        # positive inputs
COUNTS = np.array([[0.0, 2.0, 0.8], [3.0, 0.5, 7.0]])     # Poisson targets, away from the full=True switch at 1
SIGNS = np.array([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0]])

ELEMENTWISE = {
    "mse_loss": (ops.mse_loss, lambda x, t: (x - t) ** 2, X, T),
    "l1_loss": (ops.l1_loss, lambda x, t: np.abs(x - t), X, T),
    "smooth_l1_loss": (ops.smooth_l1_loss, lambda x, t: ref_smooth_l1(x, t, 1.0), X, T),
    "smooth_l1_loss_beta": (lambda x, t, reduction: ops.smooth_l1_loss(x, t, beta=1.5, reduction=reduction),
                            lambda x, t: ref_smooth_l1(x, t, 1.5), X, T),
    "smooth_l1_loss_beta0": (lambda x, t, reduction: ops.smooth_l1_loss(x, t, 0.0, reduction),
                             lambda x, t: np.abs(x - t), X, T),
    "huber_loss": (ops.huber_loss, lambda x, t: ref_huber(x, t, 1.0), X, T),
    "huber_loss_delta": (lambda x, t, reduction: ops.huber_loss(x, t, delta=0.5, reduction=reduction),
                         lambda x, t: ref_huber(x, t, 0.5), X, T),
    "soft_margin_loss": (ops.soft_margin_loss, lambda x, t: np.logaddexp(0, -t * x), X, SIGNS),
    "poisson_nll_loss": (ops.poisson_nll_loss, lambda x, t: ref_poisson(x, t, True, False), X * 0.5, COUNTS),
    "poisson_nll_loss_rate": (lambda x, t, reduction: ops.poisson_nll_loss(x, t, log_input=False, reduction=reduction),
                              lambda x, t: ref_poisson(x, t, False, False), POS, COUNTS),
    "poisson_nll_loss_full": (lambda x, t, reduction: ops.poisson_nll_loss(x, t, True, True, reduction=reduction),
                              lambda x, t: ref_poisson(x, t, True, True), X * 0.5, COUNTS),
    "poisson_nll_loss_rate_full": (lambda x, t, reduction: ops.poisson_nll_loss(x, t, False, True, 1e-3, reduction),
                                   lambda x, t: ref_poisson(x, t, False, True, 1e-3), POS, COUNTS),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_loss(name, reduction):
    fn, ref, x, t = ELEMENTWISE[name]
    check(lambda x, t: fn(x, t, reduction=reduction), lambda x, t: red(ref(x, t), reduction), x, t)


def test_default_reduction_is_mean():
    x, t = Tensor(X), Tensor(T)
    np.testing.assert_allclose(ops.mse_loss(x, t).asnumpy(), np.mean((X - T) ** 2))
    np.testing.assert_allclose(ops.l1_loss(x, t).asnumpy(), np.mean(np.abs(X - T)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_loss(reduction):
    def ref(x, t, margin):
        return red(np.where(t == 1, x, np.maximum(0, margin - x)), reduction)
    # the target only selects a branch: differentiate w.r.t. the input
    check(lambda x, t: ops.hinge_embedding_loss(x, t, reduction=reduction), lambda x, t: ref(x, t, 1.0),
          X, SIGNS, wrt=(0,))
    check(lambda x, t: ops.hinge_embedding_loss(x, t, margin=2.5, reduction=reduction), lambda x, t: ref(x, t, 2.5),
          X, SIGNS, wrt=(0,))
    check(lambda x, t: ops.hinge_embedding_loss(x, t, reduction=reduction), lambda x, t: ref(x, t, 1.0),
          X, SIGNS.astype(np.int64))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction):
    x1, x2 = X, X[::-1] * 0.7
    check(lambda a, b, t: ops.margin_ranking_loss(a, b, t, reduction=reduction),
          lambda a, b, t: red(np.maximum(0, -t * (a - b)), reduction), x1, x2, SIGNS)
    check(lambda a, b, t: ops.margin_ranking_loss(a, b, t, margin=0.3, reduction=reduction),
          lambda a, b, t: red(np.maximum(0, -t * (a - b) + 0.3), reduction), x1, x2, SIGNS)


# ---------------------------------------------------------------- binary cross entropy
PROBS = np.array([[0.12, 0.85, 0.4], [0.67, 0.05, 0.93]])
SOFT = np.array([[0.0, 1.0, 0.3], [1.0, 0.2, 0.75]])


def ref_bce(p, t, w=1.0):
    return -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


def ref_bce_logits(x, t, w=1.0, pw=1.0):
    return w * ((1 - t) * np.logaddexp(0, x) + pw * t * np.logaddexp(0, -x))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    check(lambda p, t: ops.binary_cross_entropy(p, t, reduction=reduction),
          lambda p, t: red(ref_bce(p, t), reduction), PROBS, SOFT)
    w = np.array([0.5, 2.0, 1.5])
    check(lambda p, t, w: ops.binary_cross_entropy(p, t, w, reduction=reduction),
          lambda p, t, w: red(ref_bce(p, t, w), reduction), PROBS, SOFT, w)


def test_binary_cross_entropy_clamps_log():
    p, t = np.array([0.0, 1.0, 0.5, 1e-60]), np.array([1.0, 0.0, 1.0, 1.0])
    with np.errstate(divide="ignore"):
        check(ops.binary_cross_entropy, lambda p, t: np.mean(ref_bce(p, t)), p, t, grad=False)
    g = ms.grad(ops.binary_cross_entropy)(Tensor(p), Tensor(t))
    assert np.all(np.isfinite(g.asnumpy()))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    fn = ops.binary_cross_entropy_with_logits
    check(lambda x, t: fn(x, t, reduction=reduction), lambda x, t: red(ref_bce_logits(x, t), reduction), X, SOFT)
    w, pw = np.array([[0.5], [2.0]]), np.array([3.0, 0.5, 1.2])
    check(lambda x, t, w: fn(x, t, weight=w, reduction=reduction),
          lambda x, t, w: red(ref_bce_logits(x, t, w), reduction), X, SOFT, w)
    check(lambda x, t, pw: fn(x, t, pos_weight=pw, reduction=reduction),
          lambda x, t, pw: red(ref_bce_logits(x, t, pw=pw), reduction), X, SOFT, pw)
    check(lambda x, t, w, pw: fn(x, t, w, pw, reduction),
          lambda x, t, w, pw: red(ref_bce_logits(x, t, w, pw), reduction), X, SOFT, w, pw)


def test_binary_cross_entropy_with_logits_is_stable():
    x, t = np.array([-800.0, -40.0, 40.0, 800.0]), np.array([1.0, 0.0, 1.0, 0.0])
    check(lambda x, t: ops.binary_cross_entropy_with_logits(x, t, reduction="none"), ref_bce_logits, x, t,
          rtol=1e-9, atol=0)


# ---------------------------------------------------------------- nll_loss / cross_entropy
LOGITS = np.array([[1.2, -0.3, 0.5], [0.1, 2.0, -1.1], [-0.7, 0.4, 0.9], [0.3, -1.5, 1.8]])
LABELS = np.array([0, 2, 1, 2])
CW = np.array([0.5, 2.0, 1.25])


def ref_class_loss(x, t, w=None, ignore_index=-100, ls=0.0, reduction="mean", logits=True, axis=1):
    """PyTorch's cross_entropy (logits=True) / nll_loss (logits=False) for integer targets, class axis 1."""
    c = x.shape[axis]
    logp = x - logsumexp(x, axis=axis, keepdims=True) if logits else x
    w = np.ones(c) if w is None else w
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    picked = np.take_along_axis(logp, np.expand_dims(tt, axis), axis).squeeze(axis)
    wt = w[tt] * keep
    loss = -picked * wt
    if ls:
        wb = w.reshape((c,) + (1,) * (x.ndim - axis - 1))
        loss = (1 - ls) * loss + ls / c * (-(logp * wb).sum(axis) * keep)
    if reduction == "mean":
        return loss.sum() / wt.sum()
    return red(loss, reduction)


def ref_prob_ce(x, t, w=None, ls=0.0, reduction="mean"):
    c = x.shape[1]
    logp = x - logsumexp(x, axis=1, keepdims=True)
    t = t * (1 - ls) + ls / c
    w = np.ones(c) if w is None else w
    return red(-(logp * t * w.reshape((c,) + (1,) * (x.ndim - 2))).sum(1), reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    logp = LOGITS - logsumexp(LOGITS, axis=1, keepdims=True)
    check(lambda x, t: ops.nll_loss(x, t, reduction=reduction),
          lambda x, t: ref_class_loss(x, t, reduction=reduction, logits=False), logp, LABELS)
    check(lambda x, t, w: ops.nll_loss(x, t, w, reduction=reduction),
          lambda x, t, w: ref_class_loss(x, t, w, reduction=reduction, logits=False), logp, LABELS, CW)
    ignored = np.array([0, -100, 1, 2])
    check(lambda x, t, w: ops.nll_loss(x, t, w, reduction=reduction),
          lambda x, t, w: ref_class_loss(x, t, w, reduction=reduction, logits=False), logp, ignored, CW)
    check(lambda x, t, w: ops.nll_loss(x, t, w, ignore_index=2, reduction=reduction),
          lambda x, t, w: ref_class_loss(x, t, w, 2, reduction=reduction, logits=False), logp, LABELS, CW)


def test_nll_loss_spatial_and_single_sample():
    x, t = randn(2, 3, 2), np.array([[2, 0], [1, 1]])
    check(lambda x, t: ops.nll_loss(x, t, reduction="none"),
          lambda x, t: ref_class_loss(x, t, reduction="none", logits=False), x, t)
    check(lambda x, t, w: ops.nll_loss(x, t, w), lambda x, t, w: ref_class_loss(x, t, w, logits=False), x, t, CW)
    check(lambda x, t: ops.nll_loss(x, t), lambda x, t: -x[t], LOGITS[0], np.array(1))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_targets(reduction):
    check(lambda x, t: ops.cross_entropy(x, t, reduction=reduction),
          lambda x, t: ref_class_loss(x, t, reduction=reduction), LOGITS, LABELS)
    check(lambda x, t, w: ops.cross_entropy(x, t, w, reduction=reduction),
          lambda x, t, w: ref_class_loss(x, t, w, reduction=reduction), LOGITS, LABELS, CW)
    check(lambda x, t: ops.cross_entropy(x, t, ignore_index=1, reduction=reduction, label_smoothing=0.2),
          lambda x, t: ref_class_loss(x, t, ignore_index=1, ls=0.2, reduction=reduction), LOGITS, LABELS)
    ignored = np.array([-100, 2, 1, -100])
    check(lambda x, t, w: ops.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.1),
          lambda x, t, w: ref_class_loss(x, t, w, ls=0.1, reduction=reduction), LOGITS, ignored, CW)


def test_cross_entropy_spatial():
    x, t = randn(2, 3, 2), np.array([[2, 0], [1, -100]])
    check(lambda x, t, w: ops.cross_entropy(x, t, w, label_smoothing=0.3),
          lambda x, t, w: ref_class_loss(x, t, w, ls=0.3), x, t, CW)
    check(lambda x, t: ops.cross_entropy(x, t, reduction="none"),
          lambda x, t: ref_class_loss(x, t, reduction="none"), x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    probs = expit(randn(4, 3))
    probs /= probs.sum(1, keepdims=True)
    check(lambda x, t: ops.cross_entropy(x, t, reduction=reduction),
          lambda x, t: ref_prob_ce(x, t, reduction=reduction), LOGITS, probs)
    check(lambda x, t, w: ops.cross_entropy(x, t, w, reduction=reduction, label_smoothing=0.25),
          lambda x, t, w: ref_prob_ce(x, t, w, 0.25, reduction), LOGITS, probs, CW)


def test_cross_entropy_matches_sparse_softmax_cross_entropy():
    x, t = Tensor(LOGITS.astype(np.float32)), Tensor(LABELS.astype(np.int32))
    np.testing.assert_allclose(ops.cross_entropy(x, t, reduction="none").asnumpy(),
                               ops.sparse_softmax_cross_entropy(x, t).asnumpy(), rtol=1e-6)
    assert ops.cross_entropy(x, t).dtype == ms.float32


# ---------------------------------------------------------------- kl_div
LOGP = np.log(np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]))
Q = np.array([[0.1, 0.6, 0.3], [0.0, 0.25, 0.75]])


@pytest.mark.parametrize("reduction", REDUCTIONS + ("batchmean",))
def test_kl_div(reduction):
    def reduce(loss):
        return loss.sum() / loss.shape[0] if reduction == "batchmean" else red(loss, reduction)
    # the target has a 0 (whose term is 0): differentiate w.r.t. the input only
    check(lambda x, t: ops.kl_div(x, t, reduction=reduction), lambda x, t: reduce(xlogy(t, t) - t * x),
          LOGP, Q, wrt=(0,))
    q = np.array([[0.1, 0.6, 0.3], [0.05, 0.2, 0.75]])
    check(lambda x, t: ops.kl_div(x, t, reduction=reduction), lambda x, t: reduce(t * (np.log(t) - x)), LOGP, q)
    check(lambda x, t: ops.kl_div(x, t, reduction=reduction, log_target=True),
          lambda x, t: reduce(np.exp(t) * (t - x)), LOGP, np.log(q))


# ---------------------------------------------------------------- distances
def ref_cos(a, b, axis, eps=1e-8):
    a, b = np.broadcast_arrays(a, b)
    na = np.maximum(np.linalg.norm(a, axis=axis), eps)
    nb = np.maximum(np.linalg.norm(b, axis=axis), eps)
    return (a * b).sum(axis) / (na * nb)


def test_cosine_similarity():
    a, b = randn(3, 4), randn(3, 4)
    check(ops.cosine_similarity, lambda a, b: ref_cos(a, b, 1), a, b)
    check(lambda a, b: ops.cosine_similarity(a, b, axis=0), lambda a, b: ref_cos(a, b, 0), a, b)
    check(lambda a, b: ops.cosine_similarity(a, b, -1), lambda a, b: ref_cos(a, b, -1), randn(2, 1, 3), randn(4, 3))
    z = np.zeros((2, 3))
    check(lambda a, b: ops.cosine_similarity(a, b, eps=0.5), lambda a, b: ref_cos(a, b, 1, 0.5), z, a[:2, :3])


def ref_pdist(a, b, p, eps=1e-6, keepdim=False):
    return np.linalg.norm(a - b + eps, ord=p, axis=-1, keepdims=keepdim)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, float("inf")])
def test_pairwise_distance(p):
    a, b = randn(3, 4), randn(3, 4)
    check(lambda a, b: ops.pairwise_distance(a, b, p), lambda a, b: ref_pdist(a, b, p), a, b)
    check(lambda a, b: ops.pairwise_distance(a, b, p, eps=0.01, keepdim=True),
          lambda a, b: ref_pdist(a, b, p, 0.01, True), a, b[:1])
    check(lambda a, b: ops.pairwise_distance(a, b, p), lambda a, b: ref_pdist(a, b, p), a[0], b[0])


def ref_triplet(a, p_, n, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    d_pos, d_neg = ref_pdist(a, p_, p, eps), ref_pdist(a, n, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, ref_pdist(p_, n, p, eps))
    return red(np.maximum(d_pos - d_neg + margin, 0), reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_loss(reduction):
    a, p_, n = randn(4, 3), randn(4, 3), randn(4, 3)
    check(lambda a, p_, n: ops.triplet_margin_loss(a, p_, n, reduction=reduction),
          lambda a, p_, n: ref_triplet(a, p_, n, reduction=reduction), a, p_, n)
    check(lambda a, p_, n: ops.triplet_margin_loss(a, p_, n, margin=2.0, p=1.0, swap=True, reduction=reduction),
          lambda a, p_, n: ref_triplet(a, p_, n, 2.0, 1.0, swap=True, reduction=reduction), a, p_, n)


def test_losses_are_public():
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div", "cosine_similarity",
                 "pairwise_distance", "triplet_margin_loss", "margin_ranking_loss", "soft_margin_loss",
                 "hinge_embedding_loss", "poisson_nll_loss"):
        assert getattr(ops, name) is getattr(F, name)
        assert getattr(ops, name).__doc__


def test_float32_stays_float32():
    x, t = Tensor(np.abs(X).astype(np.float32)), Tensor(np.abs(T).astype(np.float32))
    for fn in (ops.mse_loss, ops.l1_loss, ops.smooth_l1_loss, ops.huber_loss, ops.soft_margin_loss,
               ops.binary_cross_entropy_with_logits, ops.kl_div, ops.cosine_similarity, ops.pairwise_distance):
        assert fn(x, t).dtype == ms.float32, fn.__name__
    for fn in (ops.elu, ops.selu, ops.celu, ops.hardtanh, ops.leaky_relu, ops.softshrink, ops.logsigmoid):
        assert fn(x).dtype == ms.float32, fn.__name__


# ---------------------------------------------------------------- loss errors
PAIR_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
               "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss", "hinge_embedding_loss",
               "poisson_nll_loss")


@pytest.mark.parametrize("name", PAIR_LOSSES + ("nll_loss", "cross_entropy", "margin_ranking_loss",
                                                "triplet_margin_loss"))
def test_bad_reduction(name):
    x = Tensor(np.abs(X) / 5)
    args = {"nll_loss": (x, Tensor(np.array([0, 1]))), "cross_entropy": (x, Tensor(np.array([0, 1]))),
            "margin_ranking_loss": (x, x, x), "triplet_margin_loss": (x, x, x)}.get(name, (x, x))
    with pytest.raises(ValueError, match=rf"{name}: reduction must be one of 'mean', 'sum', 'none'.*got 'avg'"
                                         rf"[\s\S]*test_composite_nn\.py"):
        getattr(ops, name)(*args, reduction="avg")
    if name != "kl_div":
        with pytest.raises(ValueError, match=rf"{name}: reduction .*got 'batchmean'"):
            getattr(ops, name)(*args, reduction="batchmean")


@pytest.mark.parametrize("name", PAIR_LOSSES)
def test_shape_mismatch(name):
    with pytest.raises(ValueError, match=rf"{name}: input and target must have the same shape, got \[2, 3\] and "
                                         rf"\[3, 2\][\s\S]*test_composite_nn\.py"):
        getattr(ops, name)(Tensor(np.abs(X) / 5), Tensor(np.abs(X.T) / 5))
    with pytest.raises(ValueError, match=rf"{name}: .*got \[2, 3\] and \[3\]"):
        getattr(ops, name)(Tensor(np.abs(X) / 5), Tensor(np.ones(3)))


def test_class_loss_errors():
    x = Tensor(LOGITS)
    for fn in (ops.nll_loss, ops.cross_entropy):
        name = fn.__name__
        with pytest.raises(ValueError, match=rf"{name}: input of shape \[4, 3\] needs class targets of shape \[4\].*"
                                             rf"got target shape \[3\]"):
            fn(x, Tensor(np.array([0, 1, 2])))
        with pytest.raises(ValueError, match=rf"{name}: weight must have shape \[3\].*got \[2\]"):
            fn(x, Tensor(LABELS), Tensor(np.ones(2)))
        with pytest.raises(TypeError, match=rf"{name}: ignore_index must be an int, got 1.5"):
            fn(x, Tensor(LABELS), ignore_index=1.5)
    with pytest.raises(TypeError, match=r"nll_loss: class targets must be integers, got dtype Float64"):
        ops.nll_loss(x, Tensor(LOGITS))
    with pytest.raises(ValueError, match=r"cross_entropy: input and probability target must have the same shape, "
                                         r"got \[4, 3\] and \[4\]"):
        ops.cross_entropy(x, Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"cross_entropy: ignore_index is not supported with probability"):
        ops.cross_entropy(x, Tensor(np.ones((4, 3)) / 3), ignore_index=0)
    with pytest.raises(ValueError, match=r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"):
        ops.cross_entropy(x, Tensor(LABELS), label_smoothing=1.5)


def test_other_loss_errors():
    x, t = Tensor(X), Tensor(T)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be >= 0, got -1"):
        ops.smooth_l1_loss(x, t, beta=-1)
    with pytest.raises(ValueError, match=r"huber_loss: delta must be > 0, got 0"):
        ops.huber_loss(x, t, delta=0)
    with pytest.raises(TypeError, match=r"huber_loss: delta must be a real number, got '1'"):
        ops.huber_loss(x, t, delta="1")
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \[4\] does not broadcast to the "
                                         r"input's shape \[2, 3\]"):
        ops.binary_cross_entropy(Tensor(PROBS), Tensor(SOFT), Tensor(np.ones(4)))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \[2, 2, 3\] does "
                                         r"not broadcast"):
        ops.binary_cross_entropy_with_logits(x, t, pos_weight=Tensor(np.ones((2, 2, 3))))
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1 and target must have the same shape, got "
                                         r"\[2, 3\] and \[3\]"):
        ops.margin_ranking_loss(x, t, Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1 and input2 .*\[2, 3\] and \[3, 2\]"):
        ops.margin_ranking_loss(x, Tensor(X.T), t)
    with pytest.raises(ValueError, match=r"pairwise_distance: p must be > 0 \(or inf\), got 0"):
        ops.pairwise_distance(x, t, p=0)
    with pytest.raises(ValueError, match=r"pairwise_distance: x1 and x2 must broadcast together, got shapes "
                                         r"\[2, 3\] and \[2\]"):
        ops.pairwise_distance(x, Tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"cosine_similarity: axis 2 is out of range for inputs of rank 2"):
        ops.cosine_similarity(x, t, axis=2)
    with pytest.raises(ValueError, match=r"triplet_margin_loss: anchor, positive and negative must have the same "
                                         r"rank, got shapes \[2, 3\], \[2, 3\] and \[3\]"):
        ops.triplet_margin_loss(x, t, Tensor(np.ones(3)))
