"""Model.train / fit / eval / predict with the callbacks, on real data (scikit-learn's digits), in PyNative and
GRAPH_MODE."""
import os

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, dataset as ds
from mindlab.train import (Model, Callback, LossMonitor, TimeMonitor, History, ModelCheckpoint, CheckpointConfig,
                           EarlyStopping, ProgressBar, RunContext, InternalCallbackParam)

pytest.importorskip("sklearn")

MODES = {"pynative": ms.PYNATIVE_MODE, "graph": ms.GRAPH_MODE}


class MLP(nn.Cell):
    def __init__(self, hidden=128):
        super().__init__()
        self.fc1 = nn.Dense(64, hidden, activation="relu")
        self.fc2 = nn.Dense(hidden, 10)

    def construct(self, x):
        return self.fc2(self.fc1(x))


def digits_model(lr=3e-3, metrics=("acc", "loss"), hidden=128):
    net = MLP(hidden)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    return net, Model(net, loss, nn.Adam(net.trainable_params(), learning_rate=lr), metrics=set(metrics))


@pytest.mark.parametrize("mode", list(MODES))
def test_fit_digits_with_callbacks_reaches_95_percent(mode, tmp_path, capsys):
    ms.set_context(mode=MODES[mode])
    ms.set_seed(0)
    net, model = digits_model()
    train, test = ds.DigitsDataset("train").batch(64), ds.DigitsDataset("test").batch(512)
    history = History()
    ckpt = ModelCheckpoint(prefix="digits", directory=str(tmp_path),
                           config=CheckpointConfig(save_checkpoint_steps=23, keep_checkpoint_max=3,
                                                   append_info=["epoch_num"]))
    stop = EarlyStopping(monitor="acc", patience=2, restore_best_weights=True)
    model.fit(25, train, test, callbacks=[LossMonitor(per_print_times=23), history, ckpt, stop])

    # early stopping ended the run and put back the best epoch's weights
    assert 0 < stop.stopped_epoch < 25 and len(history.epoch) == stop.stopped_epoch
    result = model.eval(test)
    assert result["acc"] == pytest.approx(stop.best) and result["acc"] >= 0.95, (result, history.history)
    assert history.epoch == list(range(1, stop.stopped_epoch + 1))
    losses = history.history["loss"]
    assert losses[-1] < 0.2 * losses[0] and len(history.history["acc"]) == len(history.epoch)

    # LossMonitor printed once per epoch (23 steps) and the evaluation results
    out = capsys.readouterr().out
    assert "epoch: 1 step: 23, loss is" in out and "Eval result: epoch 1, metrics: {" in out

    # one checkpoint per epoch, the newest three kept, each holding weights, optimizer state and the epoch
    files = sorted(os.listdir(tmp_path))
    last = stop.stopped_epoch
    assert files == sorted(f"digits-{e}_23.ckpt" for e in range(last - 2, last + 1))
    saved = ms.load_checkpoint(ckpt.latest_ckpt_file_name)
    assert {"fc1.weight", "moment1.fc1.weight", "global_step", "beta1_power", "epoch_num"} <= set(saved)
    assert int(saved["epoch_num"].asnumpy()) == last
    assert int(saved["global_step"].asnumpy()[0]) == 23 * last

    pred = model.predict(ms.Tensor(ds.load_digits()[1][0][:5]))
    assert pred.shape == (5, 10) and pred.dtype == ms.float32


def test_pynative_and_graph_mode_train_the_same():
    runs = {}
    for mode in MODES:
        ms.set_context(mode=MODES[mode])
        ms.set_seed(0)
        _, model = digits_model(hidden=32)
        history = History()
        model.train(2, ds.DigitsDataset("train", num_samples=512).batch(64), callbacks=history)
        runs[mode] = history.history["loss"]
    np.testing.assert_allclose(runs["pynative"], runs["graph"], rtol=1e-5)


class Recorder(Callback):
    """Records the hooks called and the step counters they saw."""

    def __init__(self, stop_at_step=None):
        self.calls, self.stop_at_step = [], stop_at_step

    def on_train_begin(self, rc):
        self.calls.append(("begin", rc.original_args().cur_step_num))

    def on_train_epoch_begin(self, rc):
        self.calls.append(("epoch_begin", rc.original_args().cur_epoch_num))

    def on_train_step_end(self, rc):
        p = rc.original_args()
        self.calls.append(("step", p.cur_epoch_num, p.cur_step_num, round(float(p.net_outputs.asnumpy()), 6)))
        if p.cur_step_num == self.stop_at_step:
            rc.request_stop()

    def on_train_epoch_end(self, rc):
        self.calls.append(("epoch_end", rc.original_args().cur_epoch_num))

    def on_train_end(self, rc):
        self.calls.append(("end", rc.original_args().cur_step_num))


def test_callback_order_step_numbers_and_request_stop():
    ms.set_seed(0)
    _, model = digits_model(hidden=16)
    data = ds.DigitsDataset("train", num_samples=96).batch(32)           # 3 steps per epoch
    rec = Recorder()
    model.train(2, data, callbacks=[rec])
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["begin", "epoch_begin", "step", "step", "step", "epoch_end",
                     "epoch_begin", "step", "step", "step", "epoch_end", "end"]
    assert [c[2] for c in rec.calls if c[0] == "step"] == [1, 2, 3, 4, 5, 6]
    assert [c[1] for c in rec.calls if c[0] == "step"] == [1, 1, 1, 2, 2, 2]

    stopper = Recorder(stop_at_step=2)
    model.train(3, data, callbacks=[stopper])
    assert [c[0] for c in stopper.calls] == ["begin", "epoch_begin", "step", "step", "epoch_end", "end"]


def test_legacy_hooks_run_in_training_and_evaluation():
    seen = []

    class Legacy(Callback):
        def step_end(self, rc):
            seen.append(rc.original_args().mode)

    ms.set_seed(0)
    _, model = digits_model(hidden=16, metrics=("acc",))
    data = ds.DigitsDataset("test", num_samples=64).batch(32)
    model.train(1, data, callbacks=Legacy())
    model.eval(data, callbacks=Legacy())
    assert seen == ["train", "train", "eval", "eval"]


def test_early_stopping_rule_on_a_known_sequence():
    stop = EarlyStopping(monitor="eval_loss", patience=2, min_delta=0.01)
    params = InternalCallbackParam(cur_epoch_num=0, eval_results=None)
    rc = RunContext(params)
    stop.on_train_begin(rc)
    for epoch, value in enumerate([1.0, 0.8, 0.795, 0.9, 0.5], start=1):
        params.cur_epoch_num, params.eval_results = epoch, {"loss": value}    # "eval_loss" reads "loss"
        stop.on_train_epoch_end(rc)
        if rc.get_stop_requested():
            break
    # 0.795 is not better than 0.8 by more than min_delta, nor is 0.9: stop after epoch 4
    assert stop.stopped_epoch == 4 and stop.best == 0.8 and stop.best_epoch == 2


def test_early_stopping_warns_when_the_monitor_is_missing():
    ms.set_seed(0)
    _, model = digits_model(hidden=16)
    with pytest.warns(UserWarning, match="monitor 'eval_loss' is not available"):
        model.train(1, ds.DigitsDataset("test", num_samples=64).batch(32), callbacks=EarlyStopping())


def test_time_monitor_progress_bar_and_history_plot(capsys):
    ms.set_seed(0)
    _, model = digits_model(hidden=16)
    history, bar = History(), ProgressBar()
    model.fit(2, ds.DigitsDataset("train", num_samples=128).batch(32), ds.DigitsDataset("test").batch(512),
              callbacks=[TimeMonitor(), history, bar])
    captured = capsys.readouterr()
    assert captured.out.count("Train epoch time:") == 2 and "per step time:" in captured.out
    assert "Eval epoch time:" in captured.out
    assert "epoch 2/2" in captured.err and "8/8" in captured.err       # the tqdm bar, 4 steps x 2 epochs
    assert bar.bar is None                                              # closed at the end

    fig = history.plot()
    left, right = fig.axes
    assert [line.get_label() for line in left.lines] == ["loss", "eval_loss"]
    assert [line.get_label() for line in right.lines] == ["acc"]
    assert list(left.lines[0].get_xdata()) == [1, 2]
    np.testing.assert_allclose(right.lines[0].get_ydata(), history.history["acc"])
    with pytest.raises(KeyError, match="no record named"):
        history.plot(keys=["f1"])


def test_model_errors_are_clear():
    ms.set_seed(0)
    net, model = digits_model(metrics=())
    data = ds.DigitsDataset("test", num_samples=32).batch(32)
    with pytest.raises(ValueError, match="no metrics"):
        model.eval(data)
    with pytest.raises(TypeError, match="must be a mindlab.dataset Dataset"):
        model.train(1, [(np.zeros((2, 64)), np.zeros(2))])
    with pytest.raises(ValueError, match="endless"):
        model.train(1, data.repeat())
    with pytest.raises(ValueError, match="initial_epoch"):
        model.train(2, data, initial_epoch=2)
    with pytest.raises(ValueError, match="Unknown metric 'f1'"):
        Model(net, nn.MSELoss(), nn.SGD(net.trainable_params()), metrics={"f1"})
    with pytest.raises(ValueError, match="O1"):
        Model(net, nn.MSELoss(), nn.SGD(net.trainable_params()), amp_level="O1")


def test_model_with_a_complete_training_cell():
    ms.set_seed(0)
    net = MLP(16)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train_cell = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.SGD(net.trainable_params(), 0.1))
    model = Model(train_cell)
    before = net.fc1.weight.asnumpy()
    history = History()
    model.train(1, ds.DigitsDataset("test", num_samples=64).batch(32), callbacks=history)
    assert not np.array_equal(before, net.fc1.weight.asnumpy()) and len(history.history["loss"]) == 1


def test_regression_metrics_through_model():
    ms.set_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    net = nn.Dense(3, 1)
    model = Model(net, nn.MSELoss(), nn.Momentum(net.trainable_params(), 0.05, 0.9), metrics={"mae", "mse"})
    data = ds.NumpySlicesDataset((x, y), column_names=["x", "y"]).batch(16)
    first = model.eval(data)
    model.train(15, data)
    last = model.eval(data)
    assert last["mse"] < 0.01 * first["mse"] and last["mae"] < first["mae"]
    pred = model.predict(ms.Tensor(x)).asnumpy()
    assert last["mse"] == pytest.approx(float(((pred - y) ** 2).sum(1).mean()), rel=1e-5)
