"""The Inspector beyond compiles: it tells the panel the execution mode, explains why GRAPH_MODE could not compile
a function (with the user's source line), and lists auto-parallel plan choices with their plan JSON."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.errors import GraphModeSyntaxError
from mindlab.jupyter import events
from mindlab.jupyter.inspector import Inspector, describe
from mindlab.parallel import validate_plan_json

from .test_events import FakeComm


def uses_try(x):
    try:                                   # GRAPH_MODE refuses try/except
        return x * 2
    except ValueError:
        return x


def bad_matmul(x):
    return ops.matmul(x, x)                # (2, 3) @ (2, 3): inner dimensions differ


@pytest.fixture
def panel():
    ins = Inspector(echo=None)
    ins.start()
    comm = FakeComm()
    ins.attach(comm)
    try:
        yield ins, comm
    finally:
        ins.stop()
        ms.set_context(mode=ms.PYNATIVE_MODE)


def test_hello_and_mode_changes_carry_the_mode(panel):
    ins, comm = panel
    assert comm.sent[0]["type"] == "hello" and comm.sent[0]["mode"] == "PYNATIVE_MODE"
    ms.set_context(mode=ms.GRAPH_MODE)
    assert comm.sent[-1] == {"type": "mode", "mode": "GRAPH_MODE"}
    ms.set_context(mode=ms.PYNATIVE_MODE)
    assert comm.sent[-1] == {"type": "mode", "mode": "PYNATIVE_MODE"}


def test_unsupported_syntax_is_explained_with_the_source_line(panel):
    ins, comm = panel
    with pytest.raises(GraphModeSyntaxError):
        ms.jit(uses_try)(Tensor(np.ones(3, np.float32)))
    (record,) = [m["record"] for m in comm.sent if m["type"] == "event"]
    s = record["summary"]
    assert record["kind"] == "error" and s["name"] == "uses_try" and s["error"] == "GraphModeSyntaxError"
    assert "try" in s["message"] and "\n  at " not in s["message"]
    assert s["source"]["file"] == __file__ and s["source"]["text"].startswith("try:")
    assert s["source"]["line"] == uses_try.__code__.co_firstlineno + 1
    assert "could not compile uses_try" in describe(ins.records[0])


def test_shape_errors_while_compiling_are_explained_once(panel):
    ins, comm = panel
    with pytest.raises(ValueError, match="matmul"):
        ms.jit(bad_matmul)(Tensor(np.ones((2, 3), np.float32)))
    errors = [m["record"] for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "error"]
    assert len(errors) == 1
    s = errors[0]["summary"]
    assert s["name"] == "bad_matmul" and "matmul" in s["message"] and "[2, 3]" in s["message"]
    assert s["source"] is not None and s["source"]["text"] == "return ops.matmul(x, x)                # (2, 3) @ (2, 3): inner dimensions differ"
    assert s["source"]["line"] == bad_matmul.__code__.co_firstlineno + 1
    assert comm.request({"request": "graph", "seq": errors[0]["seq"]})["type"] == "error"   # no graph for errors


def test_plan_choices_are_listed_with_their_plan_json(panel):
    ins, comm = panel
    from mindlab.parallel import ParallelProgram
    ms.set_seed(0)
    net = nn.Dense(8, 4)
    prog = ParallelProgram(net, Tensor(np.ones((4, 8), np.float32)), mesh=(2,), parallel_mode="data_parallel")
    events.publish("plan", plan=prog.plan, program=prog, target="Dense")
    (record,) = [m["record"] for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "plan"]
    s = record["summary"]
    assert s["name"] == "Dense" and s["mesh"] == [2] and s["parallel_mode"] == "data_parallel"
    assert s["cost"]["total"] == pytest.approx(prog.plan.cost["total"]) and s["ops"] >= 1
    reply = comm.request({"request": "plan", "seq": record["seq"]})
    assert reply["type"] == "plan" and reply["seq"] == record["seq"]
    validate_plan_json(reply["doc"])
    assert reply["doc"]["mesh"]["shape"] == [2]
    assert comm.request({"request": "plan", "seq": 999})["type"] == "error"


def test_ascend_ops_of_a_cell_become_one_profile_record(panel):
    ins, comm = panel
    ms.set_context(device_target="Ascend")
    try:
        x = Tensor(np.ones((32, 64), np.float32))
        w = Tensor(np.ones((64, 16), np.float32))
        y = ops.relu(ops.matmul(x, w))
        y = ops.add(y, y)
    finally:
        ms.set_context(device_target="CPU")
    assert not [m for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "profile"]
    ins.flush_profile()                          # (IPython calls it when the cell ends)
    (record,) = [m["record"] for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "profile"]
    s = record["summary"]
    ops_run = {o["op"]: o for o in s["ops"]}
    assert {"matmul", "relu", "add"} <= set(ops_run) and s["calls"] == 3
    assert s["cycles"] == pytest.approx(sum(o["cycles"] for o in s["ops"])) and s["cycles"] > 0
    assert s["pipes"]["Cube"] > 0 and s["pipes"]["Vector"] > 0 and s["pipes"]["MTE2"] > 0
    assert ops_run["matmul"]["cycles"] > 0 and "ascend" in s["profile"].lower()
    ins.flush_profile()                          # nothing new: no second record
    assert len([m for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "profile"]) == 1
    assert "us simulated" in describe(ins.records[-1])


# ------------------------------------------------------------------ the user's line as data (exc.source)
def op_error(x):
    return ops.matmul(x, x)                # the op error's line


class FlattenTooFar(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten(start_dim=3)

    def construct(self, x):
        return self.flatten(x) * 2         # a layer's own check fails here


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_an_op_error_carries_the_user_line_as_source(mode):
    from mindlab.errors import Source
    ms.set_context(mode=mode)
    try:
        with pytest.raises(ValueError, match="matmul") as info:
            if mode == ms.GRAPH_MODE:
                ms.jit(op_error)(Tensor(np.ones((2, 3), np.float32)))
            else:
                op_error(Tensor(np.ones((2, 3), np.float32)))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    src = info.value.source
    assert isinstance(src, Source)
    assert src.file == __file__ and src.line == op_error.__code__.co_firstlineno + 1
    assert src.text == "return ops.matmul(x, x)                # the op error's line"
    assert str(info.value).endswith(src.tail)          # the message still names the same line


def test_a_layer_error_while_compiling_carries_the_user_line_as_source():
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        with pytest.raises(ValueError, match="Flatten") as info:
            FlattenTooFar()(Tensor(np.ones((2, 3), np.float32)))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    src = info.value.source
    assert src.file == __file__ and src.text.startswith("return self.flatten(x) * 2")
    assert src.line == FlattenTooFar.construct.__code__.co_firstlineno + 1
    assert str(info.value).endswith(src.tail)


def test_the_error_record_uses_the_errors_source(panel):
    ins, comm = panel
    with pytest.raises(ValueError) as info:
        ms.jit(op_error)(Tensor(np.ones((2, 3), np.float32)))
    (record,) = [m["record"] for m in comm.sent if m["type"] == "event" and m["record"]["kind"] == "error"]
    s = record["summary"]
    src = info.value.source
    assert s["source"] == {"file": src.file, "line": src.line, "text": src.text}
    assert s["message"] == str(info.value)[:-len(src.tail)].strip() and "\n  at " not in s["message"]
    assert f"at {src.file}:{src.line}: {src.text}" in describe(record)


def test_the_error_record_never_parses_the_message():
    from mindlab.jupyter.inspector import error_summary
    s = error_summary("f", ValueError("bad thing\n  at /elsewhere.py:12: y = f(x)"))   # no .source
    assert s["source"] is None and s["message"] == "bad thing\n  at /elsewhere.py:12: y = f(x)"


def test_a_frontend_error_outside_any_compile_carries_the_user_line():
    with pytest.raises(TypeError, match="jit: expected a function") as info:
        ms.jit(42)                         # not a function
    src = info.value.source
    assert src.file == __file__ and src.text.startswith("ms.jit(42)")
    assert str(info.value).endswith(src.tail)
