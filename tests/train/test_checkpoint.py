"""Checkpoints: round trips, exact resume of training (optimizer state included), and faults: interrupted saves,
truncated / bit-flipped / foreign files, mismatched parameters — all without ever unpickling."""
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, dataset as ds
from mindlab.train import Model, ModelCheckpoint, CheckpointConfig, CheckpointError
from mindlab.train import serialization


class MLP(nn.Cell):
    def __init__(self, hidden=16):
        super().__init__()
        self.fc1 = nn.Dense(8, hidden, activation="relu")
        self.fc2 = nn.Dense(hidden, 3)

    def construct(self, x):
        return self.fc2(self.fc1(x))


def params(cell):
    return {p.name: p.asnumpy() for p in cell.get_parameters()}


def assert_same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


# ---------------------------------------------------------------------------------------------------- round trips
def test_round_trip_of_a_network(tmp_path):
    ms.set_seed(0)
    net = MLP()
    path = tmp_path / "net"                       # ".ckpt" is appended
    ms.save_checkpoint(net, str(path))
    assert os.listdir(tmp_path) == ["net.ckpt"]
    loaded = ms.load_checkpoint(str(tmp_path / "net.ckpt"))
    assert list(loaded) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert all(isinstance(p, ms.Parameter) and p.name == k for k, p in loaded.items())
    assert_same({k: p.asnumpy() for k, p in loaded.items()}, params(net))

    ms.set_seed(1)
    other = MLP()
    assert not np.array_equal(other.fc1.weight.asnumpy(), net.fc1.weight.asnumpy())
    assert ms.load_param_into_net(other, loaded) == ([], [])
    assert_same(params(other), params(net))


def test_every_dtype_and_odd_shapes_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    values = {
        "b": rng.random((3, 2)) > 0.5, "i8": np.array([-128, 0, 127], np.int8), "u8": np.arange(5, dtype=np.uint8),
        "i16": np.array([-3, 9], np.int16), "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "i64": np.array(2 ** 40, np.int64), "f16": rng.random(7).astype(np.float16),
        "f32": rng.random((2, 3, 4)).astype(np.float32), "f64": np.array([np.pi, -np.inf, np.nan]),
        "empty": np.zeros((0, 4), np.float32),
    }
    ms.save_checkpoint({k: ms.Tensor(v) for k, v in values.items()}, str(tmp_path / "all.ckpt"),
                       append_dict={"epoch": 3, "lr": 0.5, "done": True, "note": "warm restart"})
    loaded = ms.load_checkpoint(str(tmp_path / "all.ckpt"))
    for k, v in values.items():
        got = loaded[k].asnumpy()
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, v)
    assert loaded["epoch"].dtype == ms.int64 and int(loaded["epoch"].asnumpy()) == 3
    assert loaded["lr"].dtype == ms.float32 and float(loaded["lr"].asnumpy()) == 0.5
    assert loaded["done"].dtype == ms.bool_ and loaded["note"] == "warm restart"


def test_save_forms_filters_and_requires_grad(tmp_path):
    ms.set_seed(0)
    net = MLP()
    opt = nn.Momentum(net.trainable_params(), 0.1, 0.9)
    f = str(tmp_path / "both.ckpt")
    ms.save_checkpoint([net, opt], f)                            # a network and its optimizer together
    loaded = ms.load_checkpoint(f)
    assert {"fc1.weight", "moments.fc1.weight", "global_step", "learning_rate"} <= set(loaded)
    assert loaded["fc1.weight"].requires_grad and not loaded["moments.fc1.weight"].requires_grad

    ms.save_checkpoint([{"name": "w", "data": ms.Tensor(np.ones(2, np.float32))}], str(tmp_path / "list.ckpt"))
    assert ms.load_checkpoint(str(tmp_path / "list.ckpt"))["w"].asnumpy().tolist() == [1.0, 1.0]

    assert set(ms.load_checkpoint(f, filter_prefix="moments")) == set(loaded) - {
        k for k in loaded if k.startswith("moments")}
    assert set(ms.load_checkpoint(f, specify_prefix=["fc2"])) == {"fc2.weight", "fc2.bias"}
    ms.save_checkpoint(net, str(tmp_path / "w.ckpt"), choice_func=lambda n: n.endswith("weight"))
    assert set(ms.load_checkpoint(str(tmp_path / "w.ckpt"))) == {"fc1.weight", "fc2.weight"}


def test_load_param_into_net_reports_what_was_not_loaded(tmp_path):
    ms.set_seed(0)
    net = MLP()
    ms.save_checkpoint({"backbone.fc1.weight": net.fc1.weight, "extra": ms.Tensor(np.zeros(1))},
                       str(tmp_path / "p.ckpt"))
    ms.set_seed(1)
    other = MLP()
    loaded = ms.load_checkpoint(str(tmp_path / "p.ckpt"))
    not_loaded, unused = ms.load_param_into_net(other, loaded, strict_load=True)
    assert not_loaded == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] and unused == list(loaded)
    not_loaded, unused = ms.load_param_into_net(other, loaded)      # non-strict: prefixes may differ
    assert not_loaded == ["fc1.bias", "fc2.weight", "fc2.bias"] and unused == ["extra"]
    assert np.array_equal(other.fc1.weight.asnumpy(), net.fc1.weight.asnumpy())


# ---------------------------------------------------------------------------------------------------- exact resume
def make_batches(n=6):
    rng = np.random.default_rng(0)
    return [(ms.Tensor(rng.normal(size=(16, 8)).astype(np.float32)),
             ms.Tensor(rng.integers(0, 3, 16).astype(np.int32))) for _ in range(n)]


def momentum_trainer(seed):
    ms.set_seed(seed)
    net = MLP()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.1, 0.9))


def test_resume_from_a_train_cell_checkpoint_is_bit_exact(tmp_path):
    batches = make_batches()
    straight = momentum_trainer(0)
    for x, y in batches:
        straight(x, y)

    first = momentum_trainer(0)
    for x, y in batches[:3]:
        first(x, y)
    f = str(tmp_path / "mid.ckpt")
    ms.save_checkpoint(first, f)                  # weights + momentum buffers + global_step + learning_rate
    assert "moments.fc1.weight" in ms.load_checkpoint(f)

    resumed = momentum_trainer(123)               # different initial weights, fresh optimizer state
    assert ms.load_param_into_net(resumed, ms.load_checkpoint(f)) == ([], [])
    for x, y in batches[3:]:
        resumed(x, y)
    assert_same(params(resumed), params(straight))

    weights_only = momentum_trainer(123)          # without the optimizer's state the run diverges
    ms.load_param_into_net(weights_only.network, ms.load_checkpoint(f))
    for x, y in batches[3:]:
        weights_only(x, y)
    assert not np.array_equal(weights_only.network.backbone_network.fc1.weight.asnumpy(),
                              straight.network.backbone_network.fc1.weight.asnumpy())


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_model_resume_with_adam_matches_an_uninterrupted_run(mode, tmp_path):
    pytest.importorskip("sklearn")
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)

    def build(seed):
        ms.set_seed(seed)
        net = nn.SequentialCell([nn.Dense(64, 32, activation="relu"), nn.Dense(32, 10)])
        return Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                     nn.Adam(net.trainable_params(), 1e-2))

    def data():
        ms.set_seed(7)
        return ds.DigitsDataset("train", num_samples=192).batch(32)

    straight = build(0)
    straight.train(4, data())

    first = build(0)
    ckpt = ModelCheckpoint("run", str(tmp_path), CheckpointConfig(save_checkpoint_steps=1000))
    first.train(2, data(), callbacks=ckpt)        # saved once, at the end of training
    assert os.listdir(tmp_path) == ["run-2_6.ckpt"]

    resumed = build(1)
    ms.load_checkpoint(ckpt.latest_ckpt_file_name, net=resumed.train_network, strict_load=True)
    resumed.train(4, data(), initial_epoch=2)     # epochs 3 and 4, with the same shuffles as the straight run
    assert_same(params(resumed.train_network), params(straight.train_network))


# ---------------------------------------------------------------------------------------------------- faults
def saved_pair(tmp_path):
    ms.set_seed(0)
    net = MLP()
    f = str(tmp_path / "model.ckpt")
    ms.save_checkpoint(net, f)
    return net, f


def test_a_failing_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    net, f = saved_pair(tmp_path)
    old = open(f, "rb").read()
    real_write = serialization._write
    written = []

    def failing_write(fh, data):             # the disk fills up halfway through the new file
        if sum(written) > len(old) // 2:
            raise OSError(28, "No space left on device")
        written.append(len(data))
        real_write(fh, data)

    ms.set_seed(5)
    newer = MLP()
    monkeypatch.setattr(serialization, "_write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        ms.save_checkpoint(newer, f)
    monkeypatch.undo()
    assert sum(written) > 0
    assert os.listdir(tmp_path) == ["model.ckpt"]              # the temporary file was removed
    assert open(f, "rb").read() == old
    assert_same({k: p.asnumpy() for k, p in ms.load_checkpoint(f).items()}, params(net))


def test_a_process_killed_mid_save_leaves_the_old_checkpoint_intact(tmp_path):
    net, f = saved_pair(tmp_path)
    old = open(f, "rb").read()
    script = textwrap.dedent(f"""
        import os, numpy as np, mindlab as ms
        from mindlab.train import serialization
        real, count = serialization._write, [0]
        def dying_write(fh, data):
            real(fh, data)
            count[0] += 1
            if count[0] == 3:                 # killed after part of the file is on disk
                fh.flush()
                os._exit(9)
        serialization._write = dying_write
        ms.save_checkpoint({{"big": ms.Tensor(np.ones((256, 256), np.float32)),
                            "more": ms.Tensor(np.ones(10, np.float32))}}, {f!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert open(f, "rb").read() == old
    assert_same({k: p.asnumpy() for k, p in ms.load_checkpoint(f).items()}, params(net))


def test_truncated_files_are_reported_with_the_file_name(tmp_path):
    _, f = saved_pair(tmp_path)
    blob = open(f, "rb").read()
    for keep in (len(blob) - 1, len(blob) // 2, 40, 5, 0):
        cut = str(tmp_path / f"cut{keep}.ckpt")
        open(cut, "wb").write(blob[:keep])
        with pytest.raises(CheckpointError) as err:
            ms.load_checkpoint(cut)
        assert cut in str(err.value)
        assert "truncated" in str(err.value) or "not a mindlab checkpoint" in str(err.value)


def test_any_flipped_bit_is_detected(tmp_path):
    _, f = saved_pair(tmp_path)
    blob = open(f, "rb").read()
    rng = np.random.default_rng(0)
    positions = [0, 7, 9, 13, 17, 25, 40, 100, len(blob) // 2, len(blob) - 33, len(blob) - 1]
    positions += rng.integers(0, len(blob), 20).tolist()
    for pos in positions:
        bad = bytearray(blob)
        bad[pos] ^= 1 << int(rng.integers(8))
        path = str(tmp_path / "flipped.ckpt")
        open(path, "wb").write(bytes(bad))
        with pytest.raises(CheckpointError) as err:
            ms.load_checkpoint(path)
        msg = str(err.value)
        assert path in msg and any(w in msg for w in ("corrupt", "truncated", "not a mindlab checkpoint")), \
            (pos, msg)


def test_foreign_files_are_refused_without_unpickling(tmp_path, monkeypatch):
    path = str(tmp_path / "foreign.ckpt")
    open(path, "wb").write(pickle.dumps({"fc1.weight": np.zeros(3)}))

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used while loading a checkpoint")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    with pytest.raises(CheckpointError, match="not a mindlab checkpoint.*looks like a pickle") as err:
        ms.load_checkpoint(path)
    assert path in str(err.value)
    open(path, "wb").write(b"PK\x03\x04 not a checkpoint at all" * 4)
    with pytest.raises(CheckpointError, match="bad magic"):
        ms.load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ms.load_checkpoint(str(tmp_path / "missing.ckpt"))


def test_loading_never_calls_pickle(tmp_path, monkeypatch):
    net, f = saved_pair(tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle / np.load was used while loading a checkpoint")

    class ForbiddenUnpickler:
        def __init__(self, *args, **kwargs):
            forbidden()

    for name in ("loads", "load"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(pickle, "Unpickler", ForbiddenUnpickler)
    monkeypatch.setattr(np, "load", forbidden)
    ms.set_seed(9)
    other = MLP()
    ms.load_checkpoint(f, net=other)
    assert_same(params(other), params(net))


def test_mismatched_shape_or_dtype_names_the_parameter_and_file_and_loads_nothing(tmp_path):
    ms.set_seed(0)
    small = MLP(hidden=16)
    f = str(tmp_path / "small.ckpt")
    ms.save_checkpoint(small, f)
    ms.set_seed(1)
    wide = MLP(hidden=32)
    before = params(wide)
    with pytest.raises(CheckpointError) as err:
        ms.load_checkpoint(f, net=wide)
    msg = str(err.value)
    assert "'fc1.weight'" in msg and "Float32[32, 8]" in msg and "Float32[16, 8]" in msg and f in msg
    assert "shape mismatch" in msg and "test_checkpoint.py:" in msg
    assert_same(params(wide), before)                          # nothing was loaded

    ms.save_checkpoint({"fc1.bias": ms.Tensor(np.zeros(16, np.float64))}, str(tmp_path / "f64.ckpt"))
    ms.set_seed(2)
    target = MLP(hidden=16)
    with pytest.raises(CheckpointError, match=r"'fc1.bias' is Float32\[16\] in the network but .* is "
                                              r"Float64\[16\] \(dtype mismatch\)"):
        ms.load_param_into_net(target, ms.load_checkpoint(str(tmp_path / "f64.ckpt")))


def test_save_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError, match="save_obj must be a Cell, a dict or a list"):
        ms.save_checkpoint("weights", str(tmp_path / "x.ckpt"))
    with pytest.raises(TypeError, match="'s' is a set"):
        ms.save_checkpoint({"s": {1, 2}}, str(tmp_path / "x.ckpt"))
    a, b = ms.Parameter(ms.Tensor(np.zeros(1)), name="w"), ms.Parameter(ms.Tensor(np.ones(1)), name="w")
    with pytest.raises(ValueError, match="two different values are named 'w'"):
        ms.save_checkpoint([a, b], str(tmp_path / "x.ckpt"))
    assert not os.path.exists(tmp_path / "x.ckpt")
