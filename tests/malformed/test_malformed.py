"""Malformed input across the API: each case must fail with a clear error of the right type whose message says
what was wrong (the op or API, the offending values) — never a crash deep in a kernel, a hang (every case runs
under a deadline) or partial state (a failed training step leaves the parameters as they were).

Cases are rows of ``CASES``: ``(id, action, exception type, regexes the message must match)``. Op errors must also
name this file and line (the user's source line), which ``OWN_LINE`` checks.
"""
import json
import math
import os
import signal
import struct
from contextlib import contextmanager

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter
from mindlab.ops import operations as P
from mindlab.errors import GraphModeSyntaxError
from mindlab.train import CheckpointError
from mindlab.ir.graph_json import validate_graph_json
from mindlab.parallel import validate_plan_json, check_strategy
from mindlab.dataset import NumpySlicesDataset

HERE = os.path.basename(__file__)
DEADLINE_S = 60
OWN_LINE = rf"{HERE}:\d+"          # the user's file:line in the message


def T(*shape, dtype=np.float32, value=1.0):
    return Tensor(np.full(shape, value, dtype))


@contextmanager
def deadline(seconds):
    """Fail (instead of hanging the suite) when the case runs longer than ``seconds``."""
    def boom(signum, frame):
        raise TimeoutError(f"case still running after {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------------------------- ops, every family
OP_CASES = [
    # math
    ("add-broadcast", lambda: ops.add(T(2, 3), T(4, 3)), ValueError, [r"add", r"\[2, 3\]", r"\[4, 3\]"]),
    ("mul-broadcast", lambda: T(5) * T(4), ValueError, [r"mul", r"\[5\]", r"\[4\]"]),
    ("sub-string", lambda: ops.sub(T(2), "x"), TypeError, [r"sub|Tensor", r"str|'x'"]),
    ("div-shapes", lambda: ops.div(T(2, 2), T(3)), ValueError, [r"div", r"\[2, 2\]", r"\[3\]"]),
    ("pow-shapes", lambda: ops.pow(T(3), T(2)), ValueError, [r"pow", r"\[3\]"]),
    ("maximum-shapes", lambda: ops.maximum(T(2, 3), T(3, 2)), ValueError, [r"maximum", r"\[2, 3\]"]),
    ("exp-string", lambda: ops.exp("x"), TypeError, [r"^exp: ", r"str"]),
    ("log-none", lambda: ops.log(None), TypeError, [r"^log: ", r"NoneType"]),
    ("add-dict", lambda: ops.add(T(3), {"a": 1}), TypeError, [r"^add: ", r"dict"]),
    ("where-shapes", lambda: ops.where(T(3, dtype=np.bool_), T(4), T(4)), ValueError, [r"where|select", r"\[3\]"]),
    ("where-cond-float", lambda: ops.where(T(3), T(3), T(3)), TypeError, [r"where|select", r"[Ff]loat32"]),
    # reduce
    ("sum-axis", lambda: ops.sum(T(2, 3), axis=2), ValueError, [r"sum", r"axis", r"2"]),
    ("mean-axis", lambda: ops.mean(T(2, 3), axis=-3), ValueError, [r"mean", r"axis", r"-3"]),
    ("argmax-axis", lambda: ops.argmax(T(4), axis=1), ValueError, [r"arg", r"axis"]),
    ("max-axis-type", lambda: ops.max(T(2, 3), axis="x"), (TypeError, ValueError), [r"max", r"axis"]),
    ("prod-axis-dup", lambda: ops.prod(T(2, 3), axis=(0, 0)), ValueError, [r"prod", r"axis"]),
    # array
    ("reshape-size", lambda: ops.reshape(T(2, 3), (4, 2)), ValueError, [r"reshape", r"\[2, 3\]", r"4, 2"]),
    ("reshape-two-minus-one", lambda: ops.reshape(T(2, 3), (-1, -1)), ValueError, [r"reshape", r"-1"]),
    ("transpose-perm", lambda: ops.transpose(T(2, 3), (0, 0)), ValueError, [r"transpose", r"perm|\(0, 0\)"]),
    ("transpose-rank", lambda: ops.transpose(T(2, 3), (1, 0, 2)), ValueError, [r"transpose", r"\[2, 3\]"]),
    ("concat-shapes", lambda: ops.concat((T(2, 3), T(2, 4)), axis=0), ValueError, [r"concat", r"\[2, 3\]", r"\[2, 4\]"]),
    ("concat-dtypes", lambda: ops.concat((T(2), T(2, dtype=np.int32))), TypeError, [r"concat", r"[Ii]nt32"]),
    ("stack-shapes", lambda: ops.stack((T(2), T(3))), ValueError, [r"stack", r"\[2\]", r"\[3\]"]),
    ("split-sections", lambda: ops.split(T(5), (2, 2)), ValueError, [r"split", r"\[2, 2\]", r"5"]),
    ("gather-float-index", lambda: ops.gather(T(4, 2), T(2), 0), TypeError, [r"gather", r"[Ff]loat32"]),
    ("gather-axis", lambda: ops.gather(T(4, 2), T(2, dtype=np.int32), 3), ValueError, [r"gather", r"axis"]),
    ("expand-dims-axis", lambda: ops.expand_dims(T(2, 3), 4), ValueError, [r"expand_dims", r"axis|4"]),
    ("squeeze-not-one", lambda: ops.squeeze(T(2, 3), axis=0), ValueError, [r"squeeze", r"\[2, 3\]"]),
    ("broadcast-to", lambda: ops.broadcast_to(T(3), (2, 4)), ValueError, [r"broadcast_to", r"\[3\]"]),
    ("tile-reps", lambda: ops.tile(T(2, 3), (2, -1)), ValueError, [r"tile", r"\(2, -1\)"]),
    ("sum-axis-float", lambda: ops.sum(T(2, 3), 1.5), TypeError, [r"sum", r"axis must be an int", r"1.5"]),
    ("one-hot-float", lambda: ops.one_hot(T(3), 4, T(), T(value=0.0)), TypeError, [r"one_hot", r"[Ff]loat32"]),
    # linalg
    ("matmul-inner", lambda: ops.matmul(T(2, 3), T(4, 5)), ValueError, [r"matmul", r"\[2, 3\]", r"\[4, 5\]", r"3", r"4"]),
    ("matmul-dtypes", lambda: P.MatMul()(T(2, 3), T(3, 2, dtype=np.float64)), TypeError, [r"matmul", r"[Ff]loat64"]),
    ("matmul-rank", lambda: P.MatMul()(T(2, 3, 4), T(4, 2)), ValueError, [r"matmul", r"2-D|\[2, 3, 4\]"]),
    ("batch-matmul-batch", lambda: ops.bmm(T(2, 3, 4), T(3, 4, 5)) if hasattr(ops, "bmm")
        else P.BatchMatMul()(T(2, 3, 4), T(3, 4, 5)), ValueError, [r"batch_matmul|bmm", r"\[2, 3, 4\]"]),
    # nn
    ("conv2d-channels", lambda: nn.Conv2d(3, 4, 3)(T(1, 2, 8, 8)), ValueError, [r"conv2d", r"\[1, 2, 8, 8\]"]),
    ("conv2d-rank", lambda: nn.Conv2d(1, 4, 3)(T(8, 8)), ValueError, [r"conv2d", r"\[8, 8\]"]),
    ("conv2d-too-small", lambda: nn.Conv2d(1, 1, 5, pad_mode="valid")(T(1, 1, 3, 3)), ValueError, [r"conv2d", r"3"]),
    ("maxpool-window", lambda: nn.MaxPool2d(4, 4)(T(1, 1, 2, 2)), ValueError, [r"pool", r"\[1, 1, 2, 2\]"]),
    ("softmax-axis", lambda: ops.softmax(T(2, 3), axis=5), ValueError, [r"softmax", r"axis"]),
    ("dense-in", lambda: nn.Dense(4, 2)(T(3, 5)), ValueError, [r"matmul|dense", r"\[3, 5\]"]),
    ("layernorm-shape", lambda: nn.LayerNorm((4,))(T(2, 3)), ValueError, [r"layer_norm", r"\[2, 3\]"]),
    ("batchnorm-channels", lambda: nn.BatchNorm2d(3)(T(2, 4, 5, 5)), ValueError, [r"batch_norm", r"\[2, 4, 5, 5\]"]),
    ("xent-label-shape", lambda: nn.SoftmaxCrossEntropyWithLogits(sparse=True)(T(4, 10), T(5, dtype=np.int32)),
        ValueError, [r"softmax_cross_entropy|cross", r"\[4, 10\]", r"\[5\]"]),
    ("xent-label-float", lambda: nn.SoftmaxCrossEntropyWithLogits(sparse=True)(T(4, 10), T(4)),
        TypeError, [r"cross", r"[Ff]loat32"]),
    ("embedding-float-ids", lambda: nn.Embedding(10, 4)(T(3)), TypeError, [r"gather|embedding", r"[Ff]loat32"]),
    ("mse-shapes", lambda: nn.MSELoss()(T(3), T(4)), ValueError, [r"sub|mse", r"\[3\]", r"\[4\]"]),
    ("flatten-scalar", lambda: nn.Flatten()(T()), ValueError, [r"flatten|reshape", r"\[\]"]),
]

# ------------------------------------------------------------------------------------------- GRAPH_MODE syntax
def _try(x):
    try:
        return x + 1
    except ValueError:
        return x


def _with(x):
    with open(os.devnull):
        return x + 1


def _yield(x):
    yield x


def _genexp(x):
    return sum(v for v in (x, x) if ops.sum(v) > 0)     # (generators compile; a tensor filter cannot)


G_VALUE = 0


def _global(x):
    global G_VALUE
    G_VALUE = 1
    return x


def _foreign(x):
    return math.sqrt(x)


def _mutate_under_tensor_if(x):
    items = []
    if ops.sum(x) > 0:
        items.append(x)
    return x


def _del(x):
    y = x + 1
    del y
    return x


def _async_for(x):
    async def inner():
        return x
    return inner()


def _set_comp(x):
    return {v for v in (1, 2)} and x


def _starred_call(x, *rest):
    return x


def _lambda_default(x):
    f = lambda v, k=[]: v   # noqa: E731  (a default bound at definition time)
    return f(x)


SYNTAX_CASES = [(f"graph-{fn.__name__.strip('_')}", fn, word) for fn, word in [
    (_try, "try"), (_with, "with"), (_yield, "yield|generator"), (_genexp, "comprehension filtered by a tensor condition"), (_global, "global"),
    (_foreign, "sqrt|math|C function|foreign"), (_mutate_under_tensor_if, "append|list|mutat"), (_del, "del"),
    (_async_for, "async"),
]]

# ------------------------------------------------------------------------------------------- shard strategies
MM = {"transpose_a": False, "transpose_b": False}
SHARD_CASES = [
    ("shard-not-divisible", lambda: check_strategy("matmul", ((3, 1), (1, 1)), T(8, 4), T(4, 2), **MM),
        ValueError, [r"matmul", r"\(3, 1\)", r"8"]),
    ("shard-wrong-rank", lambda: check_strategy("matmul", ((2, 1, 1), (1, 1)), T(8, 4), T(4, 2), **MM),
        ValueError, [r"matmul", r"\(2, 1, 1\)"]),
    ("shard-wrong-count", lambda: check_strategy("matmul", ((2, 1),), T(8, 4), T(4, 2), **MM),
        ValueError, [r"matmul", r"2 inputs|one .* per input|inputs"]),
    ("shard-contracted-mismatch", lambda: check_strategy("matmul", ((1, 2), (4, 1)), T(8, 4), T(4, 2), **MM),
        ValueError, [r"matmul", r"\(1, 2\)", r"\(4, 1\)"]),
    ("shard-zero", lambda: P.MatMul().shard(((0, 1), (1, 1))), ValueError, [r"MatMul|matmul", r"positive"]),
    ("shard-garbage", lambda: P.MatMul().shard("2x2"), ValueError, [r"MatMul|matmul", r"in_strategy"]),
    ("shard-out-strategy", lambda: P.MatMul().shard(((2, 1), (1, 1)), ((2, 1),)), ValueError, [r"out_strategy"]),
    ("shard-relu-split", lambda: check_strategy("relu", ((5,),), T(8)), ValueError, [r"relu", r"\(5,\)", r"8"]),
]

# ------------------------------------------------------------------------------------------- context values
CONTEXT_CASES = [
    ("ctx-mode", lambda: ms.set_context(mode=7), ValueError, [r"mode", r"GRAPH_MODE"]),
    ("ctx-device", lambda: ms.set_context(device_target="TPU"), ValueError, [r"device_target", r"TPU"]),
    ("ctx-unknown", lambda: ms.set_context(bogus=1), ValueError, [r"bogus", r"known"]),
    ("ctx-device-id", lambda: ms.set_context(device_id=-1), ValueError, [r"device_id"]),
    ("ctx-get-unknown", lambda: ms.get_context("nope"), ValueError, [r"nope"]),
    ("par-mode", lambda: ms.set_auto_parallel_context(parallel_mode="everything"), ValueError,
        [r"parallel_mode", r"everything"]),
    ("par-device-num", lambda: ms.set_auto_parallel_context(device_num=0), ValueError, [r"device_num", r"0"]),
    ("par-search", lambda: ms.set_auto_parallel_context(search_mode="random"), ValueError, [r"search_mode", r"random"]),
    ("par-unknown", lambda: ms.set_auto_parallel_context(colour="red"), ValueError, [r"colour"]),
    ("seed-type", lambda: ms.set_seed("abc"), (TypeError, ValueError), [r"seed"]),
]

# ------------------------------------------------------------------------------------------- construction
BUILD_CASES = [
    ("dense-zero", lambda: nn.Dense(0, 3), ValueError, [r"Dense", r"in_channels"]),
    ("conv-kernel", lambda: nn.Conv2d(1, 2, 0), ValueError, [r"Conv2d", r"kernel_size"]),
    ("conv-pad-mode", lambda: nn.Conv2d(1, 2, 3, pad_mode="mirror"), ValueError, [r"pad_mode", r"mirror"]),
    ("dropout-prob", lambda: nn.Dropout(keep_prob=1.5), ValueError, [r"keep_prob|p", r"1.5"]),
    ("maxpool-stride", lambda: nn.MaxPool2d(2, 0), ValueError, [r"MaxPool2d|pool", r"stride"]),
    ("momentum-lr", lambda: nn.Momentum(nn.Dense(2, 2).trainable_params(), learning_rate=-1.0, momentum=0.9),
        ValueError, [r"learning_rate", r"-1"]),
    ("optimizer-params", lambda: nn.SGD([1, 2, 3], learning_rate=0.1), TypeError, [r"SGD|Optimizer", r"Parameter"]),
    ("optimizer-empty", lambda: nn.Adam([], learning_rate=0.1), ValueError, [r"Adam|Optimizer", r"empty|no param"]),
    ("tensor-ragged", lambda: Tensor([[1.0, 2.0], [3.0]]), (TypeError, ValueError), [r"Tensor", r"ragged|inhomogeneous|shape"]),
    ("tensor-object", lambda: Tensor(np.array([object()])), TypeError, [r"dtype\('O'\)|object", r"supported"]),
    ("parameter-data", lambda: Parameter("abc"), TypeError, [r"Tensor|Parameter", r"str"]),
    ("dataset-lengths", lambda: NumpySlicesDataset({"x": np.ones(3), "y": np.ones(4)}), ValueError,
        [r"NumpySlicesDataset", r"3", r"4"]),
    ("dataset-batch", lambda: NumpySlicesDataset({"x": np.ones(3)}).batch(0), ValueError, [r"batch", r"0"]),
    ("cell-child", lambda: nn.SequentialCell([nn.Dense(2, 2), "relu"]), TypeError, [r"SequentialCell|Cell", r"str"]),
    ("jit-non-callable", lambda: ms.jit(42), TypeError, [r"jit", r"42|int"]),
]


def _checkpoint_cases(tmp):
    net = nn.Dense(3, 2)
    good = os.path.join(tmp, "good.ckpt")
    ms.save_checkpoint(net, good)
    data = open(good, "rb").read()

    def variant(name, content):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    flipped = bytearray(data)
    flipped[-3] ^= 0x40
    pickle_payload = b"\x80\x04\x95" + struct.pack("<Q", 20) + b"cos\nsystem\n(S'echo pwned'\ntR."
    return [
        ("ckpt-truncated", lambda: ms.load_checkpoint(variant("trunc.ckpt", data[: len(data) // 2])), CheckpointError,
            [r"trunc\.ckpt", r"truncated|short|incomplete|end"]),
        ("ckpt-bitflip", lambda: ms.load_checkpoint(variant("flip.ckpt", bytes(flipped))), CheckpointError,
            [r"flip\.ckpt", r"checksum|SHA|corrupt"]),
        ("ckpt-empty", lambda: ms.load_checkpoint(variant("empty.ckpt", b"")), CheckpointError, [r"empty\.ckpt"]),
        ("ckpt-pickle", lambda: ms.load_checkpoint(variant("evil.ckpt", pickle_payload)), CheckpointError,
            [r"evil\.ckpt", r"not a mindlab checkpoint|magic|format"]),
        ("ckpt-missing", lambda: ms.load_checkpoint(os.path.join(tmp, "nope.ckpt")), (CheckpointError, FileNotFoundError),
            [r"nope\.ckpt"]),
        ("ckpt-directory", lambda: ms.load_checkpoint(tmp), (CheckpointError, IsADirectoryError), [os.path.basename(tmp)]),
        ("ckpt-wrong-shape", lambda: ms.load_param_into_net(nn.Dense(4, 2), ms.load_checkpoint(good)),
            (CheckpointError, ValueError), [r"weight", r"\(2, 3\)|\[2, 3\]", r"\(2, 4\)|\[2, 4\]"]),
        ("ckpt-not-a-tensor", lambda: ms.load_param_into_net(nn.Dense(3, 2), {"weight": "garbage"}), TypeError,
            [r"load_param_into_net", r"'weight'", r"str"]),
        ("ckpt-save-bad-target", lambda: ms.save_checkpoint(net, os.path.join(tmp, "no", "such", "dir", "x.ckpt")),
            (CheckpointError, OSError), [r"x\.ckpt|no/such"]),
    ]


def _json_cases():
    g = {"format": "application/vnd.mindlab.graph+json", "version": 1, "kind": "forward", "title": "t", "root": "g0",
         "graphs": [{"id": "g0", "name": "f", "kind": "function", "parent": None, "source": None, "params": [],
                     "outputs": [], "effects": []}], "nodes": [], "edges": []}

    def graph_with(**change):
        d = json.loads(json.dumps(g))
        d.update(change)
        return d

    return [
        ("graph-json-not-object", lambda: validate_graph_json([1, 2]), ValueError, [r"object|type"]),
        ("graph-json-format", lambda: validate_graph_json(graph_with(format="text/html")), ValueError, [r"format"]),
        ("graph-json-nodes-type", lambda: validate_graph_json(graph_with(nodes="<img onerror=alert(1)>")), ValueError,
            [r"nodes"]),
        ("graph-json-root", lambda: validate_graph_json(graph_with(root="g9")), ValueError, [r"root|g9"]),
        ("graph-json-edge", lambda: validate_graph_json(graph_with(edges=[{"src": "n1", "dst": "n2", "index": 0}])),
            ValueError, [r"n1|n2|edge"]),
        ("plan-json-empty", lambda: validate_plan_json({}), ValueError, [r"format|required|mesh"]),
        ("plan-json-format", lambda: validate_plan_json({"format": "x"}), ValueError, [r"format|required"]),
        ("plan-json-not-object", lambda: validate_plan_json("<script>"), ValueError, [r"object|type"]),
    ]


def _ids(cases):
    return [c[0] for c in cases]


def _check(action, exc_type, patterns, own_line=False):
    with deadline(DEADLINE_S):
        with pytest.raises(exc_type) as info:
            action()
    msg = str(info.value)
    for pat in patterns:
        assert __import__("re").search(pat, msg), f"message lacks {pat!r}:\n{msg}"
    if own_line:
        assert __import__("re").search(OWN_LINE, msg), f"message does not name the user's line:\n{msg}"
    return msg


@pytest.mark.parametrize("case", OP_CASES, ids=_ids(OP_CASES))
def test_op_errors(case):
    _, action, exc, pats = case
    _check(action, exc, pats, own_line=True)


@pytest.mark.parametrize("case", SYNTAX_CASES, ids=_ids(SYNTAX_CASES))
def test_graph_mode_refuses_with_file_and_line(case):
    _, fn, word = case
    msg = _check(lambda: ms.jit(fn)(T(3)), GraphModeSyntaxError, [word])
    assert HERE in msg and f"{fn.__code__.co_firstlineno}" <= msg.split(HERE + ":")[1].split(":")[0], msg


@pytest.mark.parametrize("case", SHARD_CASES + CONTEXT_CASES + BUILD_CASES,
                         ids=_ids(SHARD_CASES + CONTEXT_CASES + BUILD_CASES))
def test_api_errors(case):
    _, action, exc, pats = case
    before = (ms.get_context("mode"), ms.get_context("device_target"), ms.get_auto_parallel_context("parallel_mode"),
              ms.get_auto_parallel_context("device_num"))
    _check(action, exc, pats)
    after = (ms.get_context("mode"), ms.get_context("device_target"), ms.get_auto_parallel_context("parallel_mode"),
             ms.get_auto_parallel_context("device_num"))
    assert after == before          # a rejected setting changes nothing


def test_checkpoint_errors(tmp_path):
    cases = _checkpoint_cases(str(tmp_path))
    assert len(cases) >= 9
    for cid, action, exc, pats in cases:
        try:
            _check(action, exc, pats)
        except AssertionError as err:
            raise AssertionError(f"{cid}: {err}") from None
    assert not os.path.exists(os.path.join(str(tmp_path), "pwned"))


@pytest.mark.parametrize("case", _json_cases(), ids=_ids(_json_cases()))
def test_malformed_json(case):
    _, action, exc, pats = case
    _check(action, exc, pats)


# ------------------------------------------------------------------------------------------- no partial state
class _Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(4, 3)

    def construct(self, x):
        return self.fc(x)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE], ids=["pynative", "graph"])
@pytest.mark.parametrize("bad", ["label-shape", "input-shape", "label-dtype"])
def test_failed_step_leaves_parameters_unchanged(mode, bad):
    ms.set_context(mode=mode)
    ms.set_seed(0)
    net = _Net()
    opt = nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               opt)
    step(T(2, 4), Tensor(np.zeros(2, np.int32)))            # one good step: optimizer state exists
    before = {p.name: p.asnumpy().copy() for p in net.trainable_params() + list(opt.parameters)}
    x, y = {"label-shape": (T(2, 4), Tensor(np.zeros(3, np.int32))),
            "input-shape": (T(2, 5), Tensor(np.zeros(2, np.int32))),
            "label-dtype": (T(2, 4), T(2))}[bad]
    with deadline(DEADLINE_S), pytest.raises((ValueError, TypeError)) as info:
        step(x, y)
    assert HERE in str(info.value) or "[2, 5]" in str(info.value) or "[3]" in str(info.value)
    after = {p.name: p.asnumpy() for p in net.trainable_params() + list(opt.parameters)}
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=f"{name} changed by a failed step")
    step(T(2, 4), Tensor(np.zeros(2, np.int32)))            # and the network still trains afterwards


def test_failed_model_train_leaves_parameters_unchanged():
    from mindlab.train import Model
    ms.set_seed(0)
    net = _Net()
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), 0.1, 0.9))
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    bad = NumpySlicesDataset({"x": np.ones((4, 5), np.float32), "y": np.zeros(4, np.int32)}).batch(2)
    with deadline(DEADLINE_S), pytest.raises(ValueError, match=r"\[2, 5\]"):
        model.train(1, bad, progress_bar=False)
    for p, b in zip(net.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)


def test_the_suite_has_at_least_100_cases():
    n = (len(OP_CASES) + len(SYNTAX_CASES) + len(SHARD_CASES) + len(CONTEXT_CASES) + len(BUILD_CASES) +
         len(_checkpoint_cases(__import__("tempfile").mkdtemp())) + len(_json_cases()) + 6 + 1)
    assert n >= 100, n
