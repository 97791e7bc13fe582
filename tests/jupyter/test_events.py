"""The framework's event hooks (mindlab.jupyter.events) and the kernel side of the Inspector (its comm protocol),
without a browser: a fake comm stands in for the JupyterLab panel."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops
from mindlab.ir.graph_json import validate_graph_json
from mindlab.jupyter import events
from mindlab.jupyter.inspector import Inspector, PROTOCOL, describe


def scaled_exp(a):
    return ops.exp(a) * 3


def loss(a):
    return ops.sum(ops.exp(a) * 3)


X = Tensor(np.array([0.0, 0.5, 1.0], np.float32))


@pytest.fixture
def recorder():
    seen = []
    fn = events.subscribe(seen.append)
    yield seen
    events.unsubscribe(fn)


def test_publish_without_subscribers_does_nothing():
    assert events.subscribers() == []
    assert events.publish("compile", compiled=object()) is None


def test_compile_and_grad_publish_events(recorder):
    f = ms.jit(scaled_exp)
    np.testing.assert_allclose(f(X).asnumpy(), np.exp(X.asnumpy()) * 3, rtol=1e-6)
    f(X)                                           # cache hit: no new event
    assert [e.kind for e in recorder] == ["compile"]
    (compiled,) = f.cache.values()
    assert recorder[0].payload["compiled"] is compiled and recorder[0].time > 0
    ms.set_context(mode=ms.GRAPH_MODE)
    g = ms.grad(loss)
    np.testing.assert_allclose(g(X).asnumpy(), np.exp(X.asnumpy()) * 3, rtol=1e-6)
    kinds = [e.kind for e in recorder[1:]]
    assert kinds[-1] == "grad" and "compile" in kinds
    (entry,) = g.graph_cache.values()
    assert recorder[-1].payload["compiled"] is entry and recorder[-1].payload["function"] is g


def test_a_failing_subscriber_warns_and_the_compile_still_works():
    def broken(event):
        raise KeyError("oops")
    events.subscribe(broken)
    try:
        with pytest.warns(RuntimeWarning, match="failed on 'compile': KeyError"):
            out = ms.jit(scaled_exp)(X)
    finally:
        events.unsubscribe(broken)
    np.testing.assert_allclose(out.asnumpy(), np.exp(X.asnumpy()) * 3, rtol=1e-6)


class FakeComm:
    """What ipykernel's Comm offers the Inspector: send, on_msg, on_close."""

    def __init__(self):
        self.sent, self.recv, self.close = [], None, None

    def send(self, data):
        self.sent.append(data)

    def on_msg(self, fn):
        self.recv = fn
        return fn

    def on_close(self, fn):
        self.close = fn
        return fn

    def request(self, data):
        self.recv({"content": {"data": data}})
        return self.sent[-1]


def test_inspector_over_a_comm():
    printed = []
    ins = Inspector(echo=printed.append)
    ins.start()
    try:
        ms.jit(scaled_exp)(X)                             # before any panel: printed
        assert len(printed) == 1 and printed[0] == describe(ins.records[0])
        comm = FakeComm()
        ins.attach(comm, hello=False)                     # opened by the kernel: nothing sent until ready
        assert comm.sent == [] and ins.comms == [comm] and ins.ready == []
        ms.jit(ops.exp)(X)
        assert len(printed) == 2                          # no panel yet: still printed
        hello = comm.request({"request": "ready"})
        assert hello["type"] == "hello" and hello["protocol"] == PROTOCOL and hello["on"] is True
        assert [r["seq"] for r in hello["records"]] == [1, 2]
        assert "compiled" not in hello["records"][0]      # only JSON goes over the wire
        ms.set_context(mode=ms.GRAPH_MODE)
        ms.grad(loss)(X)                                 # with a panel: sent, not printed
        assert len(printed) == 2
        kinds = [m["type"] for m in comm.sent[1:]]
        assert kinds == ["mode", "event", "update"]        # set_context told the panel the mode first
        assert comm.sent[1] == {"type": "mode", "mode": "GRAPH_MODE"}
        update = comm.sent[-1]["record"]
        assert update["kind"] == "grad" and update["function"] == "loss" and update["seq"] == 3
        summary = update["summary"]
        from mindlab.passes.pipeline import PIPELINE
        assert summary["inputs"][0]["type"] == "Float32[3]" and len(summary["passes"]) == len(PIPELINE)
        doc = comm.request({"request": "graph", "seq": 3, "stage": "optimized"})
        assert doc["type"] == "graph" and doc["seq"] == 3
        validate_graph_json(doc["doc"])
        assert doc["doc"]["kind"] == "optimized"
        assert comm.request({"request": "graph", "seq": 99})["type"] == "error"
        assert comm.request({"request": "nope"})["message"] == "unknown request 'nope'"
        assert comm.request({"request": "clear"})["type"] == "cleared" and ins.records == []
        comm.request({"request": "off"})
        assert not ins.on and events.subscribers() == [] and comm.sent[-1] == {"type": "status", "on": False}
        comm.close({})
        assert ins.comms == [] and ins.ready == []
    finally:
        ins.stop()
