"""Views of every graph stage: graph JSON (+ its schema, tested from both sides), Graphviz DOT/SVG, GraphView."""
import copy
import inspect
import json
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.frontend.jit import jit
from mindlab.ir import dot as dot_mod
from mindlab.ir.anf import Graph, SourceInfo
from mindlab.ir.clone import clone
from mindlab.ir.dot import graph_to_dot, graph_to_svg, json_to_dot
from mindlab.ir.graph_json import MIME, GraphJSONError, check_references, graph_to_json, validate_graph_json
from mindlab.ir.printer import dump
from mindlab.ir.schema import load, names
from mindlab.ir.views import GraphView, pass_views, stage_kind, views_of
from mindlab.ops.abstract import AbstractTensor
from mindlab.ops.registry import REGISTRY

HAVE_DOT = shutil.which("dot") is not None
X = np.array([0.5, -1.0, 2.0], np.float32)
Y = np.array([1.0, 2.0, 3.0], np.float32)
BIG = np.arange(20, dtype=np.float32)
SMALL = np.array([1.0, 2.0, 3.0], np.float32)


# ------------------------------------------------------------------------------------------- programs
def straight(x, y):
    z = x * y + 1
    return ops.sum(ops.exp(z))


def with_constants(x):
    return x + Tensor(SMALL), ops.sum(x) + Tensor(BIG)


def control(x, y):
    z = x * y
    if ops.sum(z) > 0:
        z = ops.exp(z) * x
    else:
        z = z - x
    k = ops.sum(x) * 0
    while k < 3:
        z = z * y
        k = k + 1
    return ops.sum(z)


def hostile(x):
    return x * 2  # <script>alert(1)</script> & "quotes" \l


class DenseReLU(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 4)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.relu(self.fc(x))


def _line_of(fn, text):
    src, start = inspect.getsourcelines(fn)
    return start + next(k for k, line in enumerate(src) if text in line)


def compile_straight():
    return jit(straight).compiled(Tensor(X), Tensor(Y))


def compile_control():
    return jit(control).compiled(Tensor(X), Tensor(Y))


def compile_cell():
    ms.set_context(mode=ms.GRAPH_MODE)
    net = DenseReLU()
    return net, net.compiled(Tensor(np.ones((2, 3), np.float32)))


def compile_train():
    ms.set_context(mode=ms.GRAPH_MODE)
    net = DenseReLU()
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()),
                                nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9))
    x, y = Tensor(np.ones((2, 3), np.float32)), Tensor(np.zeros((2, 4), np.float32))
    train(x, y)
    return train.compiled(x, y)


def compile_grad():
    ms.set_context(mode=ms.GRAPH_MODE)
    gf = ms.grad(control, grad_position=(0, 1))
    gf(Tensor(X), Tensor(Y))
    (entry,) = gf.graph_cache.values()
    return entry


PROGRAMS = {"straight": compile_straight, "control": compile_control, "cell": lambda: compile_cell()[1],
            "train": compile_train, "grad": compile_grad}


def _ops(doc):
    return [n["op"] for n in doc["nodes"]]


def _node(doc, op, k=0):
    return [n for n in doc["nodes"] if n["op"] == op][k]


def _graph(doc, gid):
    return next(g for g in doc["graphs"] if g["id"] == gid)


def _check_plain_json(doc):
    """Plain JSON types only: survives a strict round trip unchanged (tuples or numpy scalars would not)."""
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


# ------------------------------------------------------------------------------------------- every dump validates
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_every_stage_and_every_pass_validates(program):
    c = PROGRAMS[program]()
    docs = [graph_to_json(c.graph, stage_kind(c.graph)), graph_to_json(c.optimized, "optimized")]
    assert c.pass_log
    for r in c.pass_log:
        docs += [r.before_json, r.after_json]
        # the documents are the pass's before/after graphs: same number of op nodes as the log counted
        for doc, count in ((r.before_json, r.nodes_before), (r.after_json, r.nodes_after)):
            assert sum(n["kind"] in ("primitive", "builtin", "call") for n in doc["nodes"]) == count
    assert c.pass_log[0].before_json["title"].endswith("before " + c.pass_log[0].name)
    for doc in docs:
        assert validate_graph_json(doc) is doc
        _check_plain_json(doc)
    # the last pass's after document is the optimized graph
    last = c.pass_log[-1].after_json
    assert _ops(last) == _ops(docs[1]) and last["edges"] == docs[1]["edges"]


def test_schema_is_shipped_and_is_valid_draft_2020_12():
    import jsonschema
    schema = load("graph")
    assert "graph" in names()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    load("graph")["title"] = "changed"            # load returns a fresh copy
    assert load("graph")["title"] == schema["title"]
    with pytest.raises(ValueError, match="no schema named 'plan2'"):
        load("plan2")


# ------------------------------------------------------------------------------------------- content
def test_straight_line_function_nodes_edges_sources_and_costs():
    c = compile_straight()
    doc = graph_to_json(c.graph)
    assert doc["format"] == MIME and doc["version"] == 1 and doc["kind"] == "forward"
    assert doc["title"] == c.graph.name and doc["root"] == "g0"
    (g,) = doc["graphs"]
    assert g["kind"] == "function" and g["parent"] is None
    assert [(p["name"], p["shape"], p["dtype"], p["is_weight"]) for p in g["params"]] == [
        ("arg0", [3], "Float32", False), ("arg1", [3], "Float32", False)]
    assert [n["op"] for n in doc["nodes"] if n["kind"] != "constant"] == [
        "param", "param", "mul", "add", "exp", "sum", "make_tuple"]
    mul, add, sm = _node(doc, "mul"), _node(doc, "add"), _node(doc, "sum")
    assert mul["inputs"] == [p["id"] for p in g["params"]]
    const = next(n for n in doc["nodes"] if n["id"] == add["inputs"][1])
    assert const["kind"] == "constant" and const["value"] == 1.0 and const["shape"] == []
    assert add["inputs"][0] == mul["id"]
    assert sm["attrs"] == {"axis": None, "keep_dims": False} and sm["shape"] == [] and sm["dtype"] == "Float32"
    assert g["outputs"] == [_node(doc, "make_tuple")["id"]]
    tup = _node(doc, "make_tuple")
    assert tup["shape"] == [[]] and tup["dtype"] == ["Float32"] and tup["kind"] == "builtin"
    # one edge per input, in order
    assert len(doc["edges"]) == sum(len(n["inputs"]) for n in doc["nodes"])
    assert {"src": mul["id"], "dst": add["id"], "index": 0} in doc["edges"]
    # source lines of the user's program
    assert mul["source"]["line"] == _line_of(straight, "z = x * y + 1")
    assert mul["source"]["text"] == "z = x * y + 1" and mul["source"]["function"] == "straight"
    assert mul["source"]["file"].endswith("test_views.py")
    # costs from the registry's cost rules: 3 multiplies over float32[3] (two inputs read, one output written)
    assert mul["cost"] == {"flops": 3, "bytes": 36}
    assert const["cost"] is None and tup["cost"] is None


def test_dumps_are_deterministic():
    c = compile_control()
    a = graph_to_json(c.optimized, "optimized")
    assert json.dumps(a) == json.dumps(graph_to_json(c.optimized, "optimized"))
    assert [n["id"] for n in a["nodes"]] == [f"n{k}" for k in range(len(a["nodes"]))]
    assert [g["id"] for g in a["graphs"]] == [f"g{k}" for k in range(len(a["graphs"]))]

    def unnamed(doc):
        """The document without names: graph names (and lifted free variables' names) carry process-wide
        counters of the IR; ids, edges, ops, shapes and sources must not."""
        def strip(v):
            if isinstance(v, dict):
                return {k: strip(x) for k, x in v.items() if k not in ("name", "title")}
            return [strip(x) for x in v] if isinstance(v, list) else v
        return json.dumps(strip(doc))
    again = compile_control()                       # a fresh compile: new IR node ids, same document
    assert again.optimized is not c.optimized
    assert unnamed(graph_to_json(again.optimized, "optimized")) == unnamed(a)
    assert unnamed(graph_to_json(again.graph)) == unnamed(graph_to_json(c.graph))


def test_constants_small_by_value_large_by_shape_only():
    doc = graph_to_json(jit(with_constants).compiled(Tensor(X)).graph)
    consts = [n for n in doc["nodes"] if n["kind"] == "constant"]
    small = next(n for n in consts if n["shape"] == [3])
    big = next(n for n in consts if n["shape"] == [20])
    assert small["value"] == [1.0, 2.0, 3.0] and small["dtype"] == "Float32"
    assert "value" not in big and big["dtype"] == "Float32"
    validate_graph_json(doc)


def test_control_flow_subgraphs_kinds_and_references():
    c = compile_control()
    for doc in (graph_to_json(c.graph), graph_to_json(c.optimized, "optimized")):
        kinds = {g["kind"]: g for g in doc["graphs"]}
        assert set(kinds) == {"function", "then", "else", "cond", "body"}
        root = kinds["function"]["id"]
        assert all(g["parent"] == root for g in doc["graphs"] if g["id"] != root)
        if_node, while_node = _node(doc, "if"), _node(doc, "while")
        assert if_node["subgraphs"] == [kinds["else"]["id"], kinds["then"]["id"]]   # attribute-name order
        assert if_node["attrs"]["then_graph"] == {"graph": kinds["then"]["id"]}
        assert while_node["attrs"]["body_graph"] == {"graph": kinds["body"]["id"]}
        assert sorted(while_node["subgraphs"]) == sorted([kinds["cond"]["id"], kinds["body"]["id"]])
        assert if_node["shape"] == [[3]] and while_node["dtype"] == ["Float32", "Float32"]
        assert [p["name"] for p in kinds["body"]["params"]][:2] == ["z", "k"]
        then_nodes = [n["op"] for n in doc["nodes"] if n["graph"] == kinds["then"]["id"] and n["kind"] != "param"]
        assert then_nodes == ["exp", "mul", "make_tuple"]
        assert _node(doc, "exp")["source"]["text"] == "z = ops.exp(z) * x"
    # as parsed, the branches use x and z of the function (free variables: edges across graphs) ...
    parsed = graph_to_json(c.graph)
    exp = _node(parsed, "exp")
    src = next(n for n in parsed["nodes"] if n["id"] == exp["inputs"][0])
    assert src["op"] == "mul" and src["graph"] == "g0" and exp["graph"] != "g0"
    # ... after closure conversion they are parameters, passed in by the if node
    opt = graph_to_json(c.optimized, "optimized")
    assert _node(opt, "if")["attrs"]["captures"] == 2 and len(_node(opt, "if")["inputs"]) == 3


def test_cell_weights_are_params_with_is_weight():
    net, c = compile_cell()
    doc = graph_to_json(c.graph)
    params = doc["graphs"][0]["params"]
    assert [(p["name"], p["shape"], p["is_weight"]) for p in params] == [
        ("arg0", [2, 3], False), ("fc.weight", [4, 3], True), ("fc.bias", [4], True)]
    mm = _node(doc, "matmul")
    assert mm["attrs"] == {"transpose_a": False, "transpose_b": True}
    assert mm["cost"] == {"flops": 2 * 2 * 4 * 3, "bytes": (6 + 12 + 8) * 4}
    assert _ops(doc)[-3:] == ["add", "relu", "make_tuple"]


def test_train_one_step_graph_has_forward_backward_and_optimizer():
    c = compile_train()
    opt = graph_to_json(c.optimized, "optimized")
    ops_ = _ops(opt)
    assert ops_.count("apply_momentum") == 2 and ops_.count("matmul") >= 2    # forward + weight gradient
    assert "relu" in ops_ and "greater" in ops_                                # relu and its bprop mask
    root = opt["graphs"][0]
    effects = {n["id"]: n["op"] for n in opt["nodes"] if n["id"] in root["effects"]}
    assert sorted(effects.values()).count("apply_momentum") == 2
    mom = _node(opt, "apply_momentum")
    by_id = {n["id"]: n for n in opt["nodes"]}
    assert by_id[mom["inputs"][0]]["is_weight"] and by_id[mom["inputs"][0]]["name"] == "fc.weight"
    assert mom["cost"]["flops"] > 0
    parsed = graph_to_json(c.graph)
    assert "call" in _ops(parsed)                   # the gradient graph is called, then inlined by the passes
    call = _node(parsed, "call")
    assert _graph(parsed, call["subgraphs"][0])["kind"] == "grad"
    assert "call" not in ops_


def test_gradient_graph_dump():
    c = compile_grad()
    assert stage_kind(c.graph) == "grad" and stage_kind(compile_control().graph) == "forward"
    doc = graph_to_json(c.optimized, "optimized")
    ops_ = _ops(doc)
    assert "while_grad" in ops_ and ops_.count("if") == 2
    wg = _node(doc, "while_grad")
    assert _graph(doc, wg["subgraphs"][0])["kind"] == "grad"
    rec = _node(doc, "while")
    assert rec["attrs"]["record"] is True and rec["dtype"][-1] == "Stack" and rec["shape"][-1] is None
    validate_graph_json(graph_to_json(c.graph, "grad"))


def test_json_values_are_plain_and_never_repr():
    g = Graph("attrs")
    x = g.add_param("x", AbstractTensor((2,), ms.float32))

    class Secret:
        def __repr__(self):
            return "<img src=x onerror=alert(1)>"

    node = g.apply(REGISTRY["identity"], [x], {
        "dt": ms.float32, "tup": (1, (2, None)), "np_int": np.int64(3), "np_float": np.float32(0.5),
        "nan": float("nan"), "inf": -np.inf, "arr": np.arange(4).reshape(2, 2), "big": np.zeros((5, 5)),
        "sl": slice(1, None, 2), "ell": Ellipsis, "obj": Secret(), "d": {"k": (1, 2)}, "sub": g},
        AbstractTensor((2,), ms.float32))
    g.output = node
    doc = graph_to_json(g)
    attrs = doc["nodes"][1]["attrs"]
    assert attrs == {"arr": [[0, 1], [2, 3]], "big": {"shape": [5, 5], "dtype": "Float64"}, "d": {"dict": {"k": [1, 2]}},
                     "dt": "Float32", "ell": "...", "inf": "-inf", "nan": "nan", "np_float": 0.5, "np_int": 3,
                     "obj": {"object": "Secret"}, "sl": {"slice": [1, None, 2]}, "sub": {"graph": "g0"},
                     "tup": [1, [2, None]]}
    assert "onerror" not in json.dumps(doc)
    _check_plain_json(doc)
    validate_graph_json(doc)


# ------------------------------------------------------------------------------------------- hostile strings
def test_hostile_source_text_comes_through_unchanged():
    c = jit(hostile).compiled(Tensor(X))
    doc = graph_to_json(c.graph)
    mul = _node(doc, "mul")
    assert mul["source"]["text"] == 'return x * 2  # <script>alert(1)</script> & "quotes" \\l'
    assert json.loads(json.dumps(doc))["nodes"] == doc["nodes"]
    validate_graph_json(doc)
    # DOT: the text is escaped for Graphviz's HTML-like labels, never left as markup
    src = graph_to_dot(c.graph)
    assert "<script>" not in src and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;" in src


def test_hostile_graph_and_param_names_in_dot():
    g = Graph('<b onmouseover="x">')
    g.kind = "then"
    root = Graph("root")
    p = root.add_param('</TD>"\\N', AbstractTensor((2,), ms.float32))
    call = root.apply(g, [p], {}, AbstractTensor((2,), ms.float32),
                      SourceInfo('evil"\\.py', 3, "<script>x</script>", "f"))
    q = g.add_param("q", AbstractTensor((2,), ms.float32))
    g.output = q
    root.output = call
    src = graph_to_dot(root)
    assert "<script>" not in src and "<b onmouseover" not in src and "</TD>\"" not in src
    assert "&lt;/TD&gt;&quot;\\N" in src
    doc = graph_to_json(root)
    assert doc["graphs"][1]["name"] == g.name and doc["nodes"][0]["name"] == '</TD>"\\N'
    validate_graph_json(doc)
    if HAVE_DOT:
        svg = graph_to_svg(root)
        ET.fromstring(svg)                                     # well-formed XML
        assert "<script>" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg


# ------------------------------------------------------------------------------------------- the schema's other side
def _valid_doc():
    return graph_to_json(compile_control().optimized, "optimized")


def _raises(doc, pattern):
    with pytest.raises(GraphJSONError, match=pattern):
        validate_graph_json(doc)


def test_schema_rejects_malformed_documents():
    doc = _valid_doc()
    validate_graph_json(doc)

    bad = copy.deepcopy(doc)
    del bad["nodes"][3]["id"]
    _raises(bad, r"at nodes/3: 'id' is a required property")

    user = next(k for k, n in enumerate(doc["nodes"]) if n["inputs"])
    bad = copy.deepcopy(doc)
    bad["nodes"][user]["inputs"][0] = 42
    _raises(bad, rf"at nodes/{user}/inputs/0: 42 is not of type 'string'")

    bad = copy.deepcopy(doc)
    bad["nodes"][2]["shape"] = "3"
    _raises(bad, r"at nodes/2/shape")

    bad = copy.deepcopy(doc)
    bad["nodes"][2]["html"] = "<script>"
    _raises(bad, r"at nodes/2: Additional properties are not allowed \('html' was unexpected\)")

    bad = copy.deepcopy(doc)
    bad["graphs"][1]["kind"] = "loop"
    _raises(bad, r"at graphs/1/kind: 'loop' is not one of")

    bad = copy.deepcopy(doc)
    bad["kind"] = "backward"
    _raises(bad, r"at kind")

    bad = copy.deepcopy(doc)
    bad["version"] = 2
    _raises(bad, r"at version")

    bad = copy.deepcopy(doc)
    other = next(k for k, n in enumerate(bad["nodes"]) if n["kind"] != "constant")
    bad["nodes"][other]["value"] = 1.0                 # only constants carry values
    _raises(bad, rf"at nodes/{other}")

    bad = copy.deepcopy(doc)
    prim = next(k for k, n in enumerate(bad["nodes"]) if n["kind"] == "primitive")
    bad["nodes"][prim]["cost"] = {"flops": -1, "bytes": 0}
    _raises(bad, rf"at nodes/{prim}/cost")


def test_check_references_rejects_unknown_ids():
    doc = _valid_doc()
    assert check_references(doc) is doc

    bad = copy.deepcopy(doc)
    bad["edges"][5]["dst"] = "n9999"
    with pytest.raises(GraphJSONError, match=r"edges/5/dst: refers to unknown node 'n9999'"):
        validate_graph_json(bad)            # schema-valid, caught by the reference check

    user = next(k for k, n in enumerate(doc["nodes"]) if n["inputs"])
    bad = copy.deepcopy(doc)
    bad["nodes"][user]["inputs"][0] = "n9999"
    with pytest.raises(GraphJSONError, match=rf"nodes/{user}/inputs/0: refers to unknown node 'n9999'"):
        check_references(bad)

    bad = copy.deepcopy(doc)
    k = next(k for k, n in enumerate(bad["nodes"]) if n["op"] == "if")
    bad["nodes"][k]["attrs"]["then_graph"] = {"graph": "g77"}
    with pytest.raises(GraphJSONError, match=rf"nodes/{k}/attrs/then_graph/graph: refers to unknown graph 'g77'"):
        check_references(bad)

    bad = copy.deepcopy(doc)
    bad["root"] = "g42"
    with pytest.raises(GraphJSONError, match=r"root: refers to unknown graph 'g42'"):
        check_references(bad)

    bad = copy.deepcopy(doc)
    bad["nodes"][3]["id"] = bad["nodes"][2]["id"]
    with pytest.raises(GraphJSONError, match=r"nodes/3/id: node id 'n2' is defined twice"):
        check_references(bad)

    bad = copy.deepcopy(doc)
    bad["edges"][0]["index"] = 7
    with pytest.raises(GraphJSONError, match=r"edges/0: edge .* does not match input 7"):
        check_references(bad)


# ------------------------------------------------------------------------------------------- DOT / SVG
def test_dot_clusters_labels_styles_and_edges():
    c = compile_control()
    doc = graph_to_json(c.optimized, "optimized")
    src = json_to_dot(doc)
    assert src == graph_to_dot(c.optimized, "optimized")
    for g in doc["graphs"][1:]:                      # one cluster per subgraph, labelled with kind and name
        assert f"subgraph cluster_{g['id']} {{" in src
        assert f"<B>{g['kind']}  {g['name']}</B>" in src
    assert "subgraph cluster_g0" not in src          # the root graph is the top level
    # op, shape/dtype and source line in each label
    exp = _node(doc, "exp")
    assert f"<B>exp</B><BR/>Float32[3]<BR/>" in src
    assert f"test_views.py:{exp['source']['line']}  z = ops.exp(z) * x" in src
    # one edge per input, one per graph output, one dashed edge per subgraph a node runs
    arrows = [line for line in src.splitlines() if "->" in line]
    n_sub = sum(len(n["subgraphs"]) for n in doc["nodes"])
    assert len(arrows) == len(doc["edges"]) + len(doc["graphs"]) + n_sub
    assert sum("lhead=cluster_" in a for a in arrows) == n_sub
    assert f"\t{doc['edges'][0]['src']} -> {doc['edges'][0]['dst']}\n" in src


def test_dot_styles_weights_differently_from_inputs():
    _, c = compile_cell()
    src = graph_to_dot(c.graph)
    lines = {line.split(" [")[0].strip(): line for line in src.splitlines() if "[label=" in line}
    doc = graph_to_json(c.graph)
    x, w, b = (p["id"] for p in doc["graphs"][0]["params"])
    assert "shape=cylinder" in lines[w] and "shape=cylinder" in lines[b] and "weight fc.weight" in lines[w]
    assert "shape=ellipse" in lines[x] and "cylinder" not in lines[x]


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
def test_svg_renders_with_dot():
    c = compile_control()
    svg = graph_to_svg(c.optimized, "optimized")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text") and t.text]
    assert "while" in texts and "if" in texts and "exp" in texts
    assert any("z = ops.exp(z) * x" in t for t in texts)
    clusters = [e for e in root.iter() if e.get("class") == "cluster"]
    assert len(clusters) == len(graph_to_json(c.optimized)["graphs"]) - 1


def test_svg_is_none_without_dot(monkeypatch):
    c = compile_straight()
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert graph_to_svg(c.graph) is None
    assert "image/svg+xml" not in GraphView(c.graph)._repr_mimebundle_()


def test_svg_is_none_when_graphviz_cannot_run_dot(monkeypatch):
    import graphviz
    c = compile_straight()
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/dot")

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot", "-Tsvg"])
    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    assert graph_to_svg(c.graph) is None
    assert dot_mod.dot_to_svg("digraph { a }") is None


# ------------------------------------------------------------------------------------------- GraphView
def test_graph_view_mimebundle():
    c = compile_control()
    view = GraphView(c.optimized, "optimized", "control")
    bundle = view._repr_mimebundle_()
    expected = {MIME, "text/plain"} | ({"image/svg+xml"} if HAVE_DOT else set())
    assert set(bundle) == expected
    validate_graph_json(bundle[MIME])
    assert bundle[MIME]["title"] == "control" and bundle[MIME]["kind"] == "optimized"
    assert bundle["text/plain"] == dump(c.optimized) == view.text()
    assert view.dot() == graph_to_dot(c.optimized, "optimized", "control")
    if HAVE_DOT:
        assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert set(view._repr_mimebundle_(include=[MIME])) == {MIME}
    assert set(view._repr_mimebundle_(exclude=[MIME, "image/svg+xml"])) == {"text/plain"}
    assert repr(view) == "GraphView(optimized: control)"


def test_views_of_compiled_and_pass_log():
    c = compile_grad()
    views = views_of(c)
    assert views["graph"].json()["kind"] == "grad" and views["optimized"].json()["kind"] == "optimized"
    for v in views.values():
        validate_graph_json(v._repr_mimebundle_()[MIME])
    steps = pass_views(c.pass_log)
    assert [s[0] for s in steps] == [r.name for r in c.pass_log]
    for (name, before, after), r in zip(steps, c.pass_log):
        assert before.text() == r.before and after.text() == r.after
        assert after._repr_mimebundle_(include=[MIME])[MIME] is r.after_json
        assert name in after.json()["title"]


def test_graph_view_needs_a_graph():
    with pytest.raises(TypeError, match="needs a graph"):
        GraphView()
    with pytest.raises(ValueError, match="kind must be one of"):
        graph_to_json(compile_straight().graph, kind="backward")


def test_graph_view_from_a_document_alone():
    c = compile_straight()
    doc = c.pass_log[-1].after_json
    view = GraphView(doc=doc, kind="optimized")
    text = view.text()
    mul = _node(doc, "mul")
    assert f"%{mul['id']} = mul(%n0, %n1) : Float32[3]  # test_views.py:{mul['source']['line']}  z = x * y + 1" \
        in [line.strip() for line in text.splitlines()]
    assert f"%{_node(doc, 'add')['id']} = add(%{mul['id']}, 1.0)" in text      # small constants inline
    assert set(view._repr_mimebundle_(exclude=["image/svg+xml"])) == {MIME, "text/plain"}
    assert view.dot() == json_to_dot(doc)
