"""The IPython extension (``%load_ext mindlab``) driven through a real IPython InteractiveShell (no browser): mode
switches, the graph / gradient / pass / plan displays (their mimebundles), and the errors users see."""
import json
import shutil

import numpy as np
import pytest

pytest.importorskip("IPython")
from IPython.core.interactiveshell import InteractiveShell   # noqa: E402
from IPython.utils.capture import capture_output             # noqa: E402

import mindlab as ms                                          # noqa: E402
from mindlab.ir.graph_json import MIME as GRAPH_MIME, graph_to_json, validate_graph_json   # noqa: E402
from mindlab.jupyter import events                            # noqa: E402
from mindlab.parallel.plan_json import MIME as PLAN_MIME      # noqa: E402

HAVE_DOT = shutil.which("dot") is not None

NET_CELL = '''
import numpy as np
import mindlab as ms
from mindlab import nn, ops, Tensor

class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)

    def construct(self, x):
        y = self.fc(x)
        return ops.relu(y * 1.0 + y * 1.0)  # <script>window.__pwned = 1</script>

ms.set_seed(1)
net = Net()
x = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5)
'''


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    result = sh.run_cell("%load_ext mindlab")
    assert result.success, result.error_in_exec
    yield sh
    from mindlab.jupyter.inspector import get_inspector
    get_inspector().stop()
    InteractiveShell.clear_instance()


@pytest.fixture(autouse=True)
def _pynative():
    """These tests switch modes themselves: start each in PyNative (also under MINDLAB_TEST_MODE=graph)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)


def run(shell, code):
    """Run a cell; (result, captured stdout/stderr/displays)."""
    with capture_output() as cap:
        result = shell.run_cell(code)
    return result, cap


def ok(shell, code):
    result, cap = run(shell, code)
    assert result.success, f"{code!r} failed: {result.error_before_exec or result.error_in_exec}\n{cap.stderr}"
    return cap


def fails(shell, code):
    """The UsageError message a cell fails with."""
    result, cap = run(shell, code)
    err = result.error_before_exec or result.error_in_exec
    assert err is not None, f"{code!r} should have failed"
    assert type(err).__name__ == "UsageError", f"{type(err).__name__}: {err}"
    return str(err)


def bundles(cap):
    return [o.data for o in cap.outputs]


def graph_bundle(cap):
    (data,) = [d for d in bundles(cap) if GRAPH_MIME in d]
    return data


def mode():
    return ms.get_context("mode")


# ------------------------------------------------------------------------------------------------- modes
def test_help_lists_every_command(shell):
    out = ok(shell, "%mindlab --help").stdout
    for cmd in ("graph", "pynative", "ir F", "grad F", "passes F", "code F", "plan NET", "inspect on", "%%graph"):
        assert cmd in out, cmd
    assert ok(shell, "%mindlab -h").stdout == out


def test_global_mode_switches(shell):
    assert mode() == ms.PYNATIVE_MODE
    assert "GRAPH_MODE" in ok(shell, "%mindlab graph").stdout
    assert mode() == ms.GRAPH_MODE
    assert "GRAPH_MODE" in ok(shell, "%mindlab").stdout
    assert "PYNATIVE_MODE" in ok(shell, "%mindlab pynative").stdout
    assert mode() == ms.PYNATIVE_MODE
    assert "takes no arguments" in fails(shell, "%mindlab graph now")
    assert "unknown command 'grpah'" in fails(shell, "%mindlab grpah")


def test_graph_cell_compiles_and_restores_the_mode(shell):
    ok(shell, NET_CELL)
    eager = ok(shell, "print(net(x))").stdout
    assert mode() == ms.PYNATIVE_MODE
    assert shell.user_ns["net"].__dict__.get("_jit_construct") is None   # eager: nothing compiled
    cap = ok(shell, "%%graph\nmode_inside = ms.get_context('mode')\ny_graph = net(x)\nprint(y_graph)")
    assert shell.user_ns["mode_inside"] == ms.GRAPH_MODE
    assert mode() == ms.PYNATIVE_MODE                                    # restored
    assert cap.stdout == eager                                           # same values
    np.testing.assert_allclose(shell.user_ns["y_graph"].asnumpy(), shell.user_ns["net"](shell.user_ns["x"]).asnumpy(),
                               rtol=1e-6)
    assert shell.user_ns["net"]._jit_construct.cache_info()["size"] == 1  # construct was compiled


def test_pynative_cell_inside_graph_mode(shell):
    ok(shell, "%mindlab graph")
    ok(shell, "%%pynative\nmode_inside = ms.get_context('mode')")
    assert shell.user_ns["mode_inside"] == ms.PYNATIVE_MODE
    assert mode() == ms.GRAPH_MODE
    ok(shell, "%mindlab pynative")


def test_failing_graph_cell_fails_and_restores_the_mode(shell):
    msg = fails(shell, "%%graph\nraise ValueError('boom')")
    assert "ValueError" in msg and "PYNATIVE_MODE" in msg
    assert mode() == ms.PYNATIVE_MODE


# ------------------------------------------------------------------------------------------------- ir
def test_ir_before_the_first_call_says_so(shell):
    ok(shell, NET_CELL)
    msg = fails(shell, "%mindlab ir net")
    assert "net has not been compiled yet" in msg and "GRAPH_MODE" in msg
    ok(shell, "f = ms.jit(lambda a: a * 2)")
    assert "f has not been compiled yet" in fails(shell, "%mindlab ir f")
    assert "is a int, not a mindlab.jit function" in fails(shell, "%mindlab ir 3")
    assert "cannot evaluate 'nope'" in fails(shell, "%mindlab ir nope")
    assert "needs an expression" in fails(shell, "%mindlab ir")
    assert "unknown option -x" in fails(shell, "%mindlab ir net -x")
    assert "needs a value (an integer)" in fails(shell, "%mindlab ir net -s one")
    assert "does not apply" in fails(shell, "%mindlab ir net -p cse")


def test_ir_of_a_cell_displays_graph_json_svg_and_text(shell):
    ok(shell, NET_CELL)
    ok(shell, "%%graph\nnet(x)")
    data = graph_bundle(ok(shell, "%mindlab ir net"))
    assert set(data) == {GRAPH_MIME, "text/plain"} | ({"image/svg+xml"} if HAVE_DOT else set())
    doc = validate_graph_json(data[GRAPH_MIME])
    compiled = shell.user_ns["net"].compiled(shell.user_ns["x"])
    assert doc == graph_to_json(compiled.graph, "forward", compiled.graph.name)
    assert doc["kind"] == "forward"
    ops = {n["op"] for n in doc["nodes"]}
    assert {"matmul", "relu"} <= ops
    # the user's source line arrives verbatim, as plain text in the JSON (the renderer shows it as text)
    lines = {n["source"]["text"] for n in doc["nodes"] if n["source"]}
    assert any("<script>window.__pwned = 1</script>" in t for t in lines)
    assert "relu" in data["text/plain"]
    if HAVE_DOT:
        assert data["image/svg+xml"].lstrip().startswith(("<?xml", "<svg"))
        assert "<script>" not in data["image/svg+xml"]
    opt = graph_bundle(ok(shell, "%mindlab ir net -o"))[GRAPH_MIME]
    assert opt["kind"] == "optimized"
    assert len(opt["nodes"]) < len(doc["nodes"])            # cse merged the two y * 1.0 (and simplify dropped them)


def test_ir_picks_the_last_signature_or_the_one_asked_for(shell):
    ok(shell, NET_CELL)
    ok(shell, "%%graph\nnet(x)\nnet(Tensor(np.ones((7, 3), np.float32)))")
    cap = ok(shell, "%mindlab ir net")
    assert "compiled for 2 input signatures" in cap.stdout and "Float32[7, 3]" in cap.stdout
    last = graph_bundle(cap)[GRAPH_MIME]
    first = graph_bundle(ok(shell, "%mindlab ir net -s 0"))[GRAPH_MIME]
    param = lambda doc: doc["graphs"][0]["params"][0]["shape"]   # noqa: E731
    assert param(last) == [7, 3] and param(first) == [4, 3]
    assert "has 2 compiled signature(s)" in fails(shell, "%mindlab ir net -s 5")


def test_ir_of_a_jit_function(shell):
    ok(shell, "@ms.jit\ndef double_exp(a):\n    return ops.exp(a) * 2\n\nz = double_exp(x)")
    doc = graph_bundle(ok(shell, "%mindlab ir double_exp"))[GRAPH_MIME]
    assert [n["op"] for n in doc["nodes"] if n["kind"] == "primitive"] == ["exp", "mul"]


def test_code_shows_the_generated_program_and_fused_kernels_as_text_only(shell):
    ok(shell, "from mindlab.passes.fusion import fusion_options\n"
              "@ms.jit\ndef chain(a):\n    return ops.tanh(a * 1.5 + 0.25) * ops.sigmoid(a)\n\n"
              "with fusion_options(min_elements=0):\n    zc = chain(x)")
    cap = ok(shell, "%mindlab code chain")
    (data,) = bundles(cap)
    assert set(data) == {"text/plain"}                      # text only: nothing becomes HTML
    text = data["text/plain"]
    assert "-- runs as" in text and "def program(" in text
    assert "# fused(mul,add,tanh,sigmoid,mul) <- " in text          # each line says its op and the user's line
    assert "def fused_kernel(" in text and "kernel of fused(mul,add,tanh,sigmoid,mul)" in text
    ok(shell, "@ms.jit\ndef never(a):\n    return a")
    assert "has not been compiled yet" in fails(shell, "%mindlab code never")


# ------------------------------------------------------------------------------------------------- grad
def test_grad_of_a_cell_is_a_gradient_graph_that_computes_the_gradients(shell):
    from mindlab.passes.pipeline import optimize
    from mindlab.runtime.executor import Program
    from mindlab.jupyter.magics import compiled_entries, gradient_view
    ok(shell, NET_CELL)
    ok(shell, "%%graph\nnet(x)")
    doc = graph_bundle(ok(shell, "%mindlab grad net"))[GRAPH_MIME]
    validate_graph_json(doc)
    assert doc["kind"] == "grad"
    root = doc["graphs"][0]
    names = [p["name"] for p in root["params"]]
    assert names[1:] == ["fc.weight", "fc.bias", "sens0"] and [p["is_weight"] for p in root["params"]] == \
        [False, True, True, False]
    # run the displayed gradient graph and compare with ms.grad's gradients
    net, x = shell.user_ns["net"], shell.user_ns["x"]
    view = gradient_view(compiled_entries(net)[-1])
    program = Program(optimize(view.graph, record=False)[0])
    w, b = net.fc.weight, net.fc.bias
    out = program(x.asnumpy(), w.asnumpy(), b.asnumpy(), np.ones((4, 2), np.float32))
    value, gx, gw, gb = (np.asarray(o) for o in out)
    gx_ref, (gw_ref, gb_ref) = ms.grad(net, grad_position=0, weights=net.trainable_params())(x)
    np.testing.assert_allclose(value, net(x).asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(gx, gx_ref.asnumpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw, gw_ref.asnumpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gb, gb_ref.asnumpy(), rtol=1e-5, atol=1e-6)
    assert graph_bundle(ok(shell, "%mindlab grad net -o"))[GRAPH_MIME]["kind"] == "optimized"


def test_ir_and_grad_of_a_gradient_function(shell):
    ok(shell, NET_CELL)
    ok(shell, "g = ms.grad(net, grad_position=None, weights=net.trainable_params())")
    assert "g has not been compiled yet" in fails(shell, "%mindlab grad g")
    ok(shell, "%%graph\ngw, gb = g(x)")
    for cmd in ("%mindlab ir g", "%mindlab grad g"):
        doc = graph_bundle(ok(shell, cmd))[GRAPH_MIME]
        assert doc["kind"] == "grad"
        assert any(gr["kind"] == "grad" for gr in doc["graphs"])


# ------------------------------------------------------------------------------------------------- passes
def test_passes_shows_a_table_and_the_graphs(shell):
    ok(shell, NET_CELL)
    ok(shell, "%%graph\nnet(x)")
    cap = ok(shell, "%mindlab passes net")
    compiled = shell.user_ns["net"].compiled(shell.user_ns["x"])
    log = compiled.pass_log
    table = bundles(cap)[0]
    assert set(table) == {"text/plain", "text/html"}
    for r in log:
        assert r.name in table["text/plain"] and f"<td>{r.name}</td>" in table["text/html"]
    changed = [r for r in log if r.changed]
    assert changed, "the test program should give the passes something to do"
    docs = [d[GRAPH_MIME] for d in bundles(cap) if GRAPH_MIME in d]
    assert len(docs) == 1 + len(changed)                      # before the passes, then after each changed pass
    assert docs[0] == log[0].before_json and docs[-1] == changed[-1].after_json
    for r in changed:
        assert f"after {r.name}: {r.nodes_before} -> {r.nodes_after} nodes" in cap.stdout
    one = ok(shell, f"%mindlab passes net -p {changed[0].name}")
    docs = [d[GRAPH_MIME] for d in bundles(one) if GRAPH_MIME in d]
    assert docs == [changed[0].before_json, changed[0].after_json]
    assert "no pass 'nothing'" in fails(shell, "%mindlab passes net -p nothing")


# ------------------------------------------------------------------------------------------------- plans
PLAN_CELL = '''
from mindlab.parallel import DeviceMesh, TensorLayout, Plan, OpCost, Alternative
mesh = DeviceMesh((2, 2), ("dp", "mp"))
plan = Plan(mesh, "semi_auto_parallel", "manual", "cpu", title="<b>tiny</b>")
a = plan.add_tensor("x", TensorLayout.from_strategy((2, 1), mesh, (8, 4)), "float32", role="input")
w = plan.add_tensor("w", TensorLayout.from_strategy((1, 2), mesh, (4, 6)), "float32", role="parameter")
y = plan.add_tensor("y", TensorLayout.from_strategy((2, 2), mesh, (8, 6)), "float32", role="output")
plan.add_op("MatMul", ((2, 1), (1, 2)), [a, w], [y], OpCost(1e-6, 0, 96),
            [Alternative(((2, 1), (1, 2)), OpCost(1e-6, 0, 96), True, "lowest cost")], "lowest cost")
'''


def test_plan_displays_plan_json(shell, tmp_path):
    ok(shell, PLAN_CELL)
    doc = shell.user_ns["plan"].to_json()
    for expr in ("plan", "plan.to_json()"):
        (data,) = bundles(ok(shell, f"%mindlab plan {expr}"))
        assert data[PLAN_MIME] == doc and "MatMul" in data["text/plain"]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    (data,) = bundles(ok(shell, f"%mindlab plan '{path}'"))
    assert data[PLAN_MIME] == doc
    ok(shell, "class Planned:\n    def to_plan(self):\n        return plan\n\nclass Carrier:\n    plan = Planned()")
    for expr in ("Planned()", "Carrier()"):         # a planner result, and an object that carries one
        (data,) = bundles(ok(shell, f"%mindlab plan {expr}"))
        assert data[PLAN_MIME] == doc
    ok(shell, NET_CELL)
    assert "net has no parallel plan" in fails(shell, "%mindlab plan net")
    ok(shell, "broken = plan.to_json(); broken['ops'][0]['inputs'] = ['t9']")
    assert "broken is not a valid plan" in fails(shell, "%mindlab plan broken")
    assert "no plan JSON file" in fails(shell, "%mindlab plan '/nonexistent/plan.json'")


# ------------------------------------------------------------------------------------------------- inspector
def test_inspect_reports_each_compile_and_gradient_transform(shell):
    ok(shell, NET_CELL)
    assert "inspector on" in ok(shell, "%mindlab inspect on").stdout
    try:
        out = ok(shell, "%%graph\nnet(x)\nnet(x)\ng = ms.grad(net, grad_position=None, weights=net.trainable_params())"
                        "\ng(x)").stdout
    finally:
        assert "inspector off" in ok(shell, "%mindlab inspect off").stdout
    lines = [l for l in out.splitlines() if l.startswith("[mindlab]")]
    assert len(lines) == 3, out                               # one compile (second call hits the cache), one grad
    from mindlab.passes.pipeline import PIPELINE
    assert "compiled construct" in lines[0] and ": Float32[4, 3])" in lines[0] and f"{len(PIPELINE)} passes" in lines[0]
    assert "compiled Net_grad" in lines[1] and "#2 was the gradient transform of Net" in lines[2]
    assert "was the gradient transform of" in lines[2]
    assert events.subscribers() == []
    out = ok(shell, "%%graph\nnet(Tensor(np.ones((2, 3), np.float32)))").stdout
    assert "[mindlab]" not in out
    assert "one argument: on or off" in fails(shell, "%mindlab inspect maybe")


def test_expressions_keep_their_quotes_and_spaces(shell):
    from mindlab.jupyter.magics import parse_args
    assert parse_args("ir", 'nets["a b"] -o -s 1', ("optimized", "signature")) == \
        ('nets["a b"]', {"optimized": True, "signature": 1})
    assert parse_args("ir", "-o fs[-1]", ("optimized", "signature")) == ("fs[-1]", {"optimized": True,
                                                                                    "signature": None})
    assert parse_args("passes", "net --pass=cse", ("pass_name", "signature")) == \
        ("net", {"pass_name": "cse", "signature": None})
    ok(shell, NET_CELL)
    ok(shell, "%%graph\nnets = {'a b': net}\nnets['a b'](x)")
    doc = graph_bundle(ok(shell, "%mindlab ir nets['a b'] -o"))[GRAPH_MIME]
    assert doc["kind"] == "optimized"


def test_mode_toggle_widget_follows_the_context_both_ways(shell):
    from mindlab.jupyter.widgets import mode_toggle
    (data,) = bundles(ok(shell, "%mindlab toggle"))
    assert "application/vnd.jupyter.widget-view+json" in data
    toggle = mode_toggle()
    assert toggle.value == ms.PYNATIVE_MODE
    toggle.value = ms.GRAPH_MODE                       # a click
    assert mode() == ms.GRAPH_MODE
    ms.set_context(mode=ms.PYNATIVE_MODE)              # code elsewhere
    assert toggle.value == ms.PYNATIVE_MODE
    ok(shell, "%mindlab graph")
    assert toggle.value == ms.GRAPH_MODE
    toggle.close()
    ms.set_context(mode=ms.PYNATIVE_MODE)              # a closed toggle stops following (and is dropped)
    assert toggle.value == ms.GRAPH_MODE
    from mindlab import context
    mode_toggle().close()                              # making a toggle drops the followers of closed ones
    followers = [fn for fn in context._listeners if hasattr(fn, "toggle")]
    assert all(fn.toggle() is not toggle for fn in followers)
    assert "takes no arguments" in fails(shell, "%mindlab toggle now")
