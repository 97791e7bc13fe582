"""mindlab's JupyterLab renderers in a real browser: a real ``jupyter lab`` (started here on a free loopback port,
token off), headless Chromium driven by playwright-core (tests/browser/drive.cjs), a notebook that compiles a
small Cell in GRAPH_MODE and displays its graph and a parallel plan.

Needs Node.js, /usr/bin/chromium (``./dev setup`` installs it as root) and the built extension with its
node_modules (``./dev setup``); skips with the reason when one is missing. Screenshots go to the test's tmp dir
(build/browser-screenshots, git-ignored: kept after the run as the test's artifacts).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from mindlab.passes.pipeline import PIPELINE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PLAYWRIGHT = ROOT / "extension" / "node_modules" / "playwright-core"
LABEXTENSION = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "mindlab-jupyter" / "package.json"
CHROMIUM = os.environ.get("MINDLAB_CHROMIUM", "/usr/bin/chromium")
DONE = "mindlab-notebook-done"

CELLS = [
    "%load_ext mindlab\n"
    "import json\n"
    "import numpy as np\n"
    "import mindlab as ms\n"
    "from mindlab import nn, ops, Tensor\n"
    "\n"
    "class Gate(nn.Cell):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.fc = nn.Dense(4, 4)\n"
    "\n"
    "    def construct(self, x):\n"
    "        y = self.fc(x)\n"
    "        if ops.mean(y) > 0:\n"
    "            y = ops.tanh(y)  # <script>window.__mindlab_pwned = 1</script>\n"
    "        else:\n"
    "            y = ops.sigmoid(y)\n"
    "        return y * 2\n"
    "\n"
    "def uses_try(x):\n"
    "    try:\n"
    "        return x * 2\n"
    "    except ValueError:\n"
    "        return x",
    "%mindlab inspect on",
    "%%graph\n"
    "ms.set_seed(0)\n"
    "net = Gate()\n"
    "x = Tensor(np.ones((2, 4), np.float32))\n"
    "y = net(x)\n"
    "g = ms.grad(net, grad_position=None, weights=net.trainable_params())\n"
    "gw, gb = g(x)",
    "%mindlab ir net",
    "from mindlab.parallel import DeviceMesh, TensorLayout, Plan, OpCost, Alternative, redistribute\n"
    "mesh = DeviceMesh((2, 2), ('dp', 'mp'))\n"
    "plan = Plan(mesh, 'semi_auto_parallel', 'manual', 'cpu', title='<b>tiny</b>')\n"
    "a = plan.add_tensor('x', TensorLayout.from_strategy((2, 2), mesh, (8, 4)), 'float32', role='input')\n"
    "w = plan.add_tensor('w', TensorLayout.from_strategy((2, 1), mesh, (4, 6)), 'float32', role='parameter')\n"
    "partial = TensorLayout(mesh, (1, -1), (8, 6), partial=['mp'])\n"
    "y = plan.add_tensor('y', partial, 'float32', role='output')\n"
    "mm = plan.add_op('MatMul', ((2, 2), (2, 1)), [a, w], [y], OpCost(1e-6, 0, 96),\n"
    "                 [Alternative(((2, 2), (2, 1)), OpCost(1e-6, 2e-6, 96), True, 'lowest cost'),\n"
    "                  Alternative(((1, 1), (1, 4)), OpCost(2e-6, 0, 128), False, 'slower')], 'lowest cost')\n"
    "r = redistribute(partial, TensorLayout(mesh, (1, -1), (8, 6)), profile=plan.profile)\n"
    "plan.add_redistribution(y, r, op=mm, where='output', index=0, reason='the contracted dim is split over mp')\n"
    "%mindlab plan plan",
    # hostile and malformed documents: a huge graph, an <img onerror> op name, a graph and a plan missing parts
    "from IPython.display import display\n"
    "G = 'application/vnd.mindlab.graph+json'\n"
    "def doc(n, op='relu'):\n"
    "    nodes = [{'id': f'n{k}', 'graph': 'g0', 'op': op, 'kind': 'primitive', 'inputs': [f'n{k-1}'] if k else [],\n"
    "              'attrs': {}, 'shape': [2], 'dtype': 'Float32', 'source': None, 'subgraphs': [], 'cost': None}\n"
    "             for k in range(n)]\n"
    "    return {'format': G, 'version': 1, 'kind': 'forward', 'title': 'hostile', 'root': 'g0',\n"
    "            'graphs': [{'id': 'g0', 'name': 'f', 'kind': 'function', 'parent': None, 'source': None,\n"
    "                        'params': [], 'outputs': [], 'effects': []}],\n"
    "            'nodes': nodes, 'edges': [{'src': f'n{k-1}', 'dst': f'n{k}', 'index': 0} for k in range(1, n)]}\n"
    "display({G: doc(5000)}, raw=True)\n"
    "display({G: doc(2, op='<img src=x onerror=\"window.__mindlab_pwned = 2\">')}, raw=True)\n"
    "display({G: {'format': G, 'graphs': []}}, raw=True)\n"
    "display({'application/vnd.mindlab.plan+json': {'format': 'application/vnd.mindlab.plan+json'}}, raw=True)",
    "with open('graph.json', 'w') as f:\n"
    "    json.dump(net.compiled(x).views()['graph'].json(), f)\n"
    "with open('plan.json', 'w') as f:\n"
    "    json.dump(plan.to_json(), f)\n"
    f"print('{DONE}')",
]


def _missing():
    """Why the browser test cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed (./dev setup needs it to build the extension)"
    if not Path(CHROMIUM).exists():
        how = "run ./dev setup as root (apt-get install chromium)" if os.geteuid() == 0 else \
            "install the Debian chromium package (needs root)"
        return f"{CHROMIUM} is missing: {how}"
    if not PLAYWRIGHT.is_dir():
        return "extension/node_modules/playwright-core is missing: run ./dev setup"
    if not LABEXTENSION.is_file():
        return f"the mindlab JupyterLab extension is not installed in {sys.prefix}: run ./dev setup"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free loopback port serving a fresh folder; stopped by PID afterwards."""
    why = _missing()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("lab-home")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "renderers.ipynb")
    settings = home / "settings"
    for plugin, values in {"@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    env = dict(os.environ, JUPYTER_PREFER_ENV_PATH="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
               OPENBLAS_NUM_THREADS="1")
    log = open(home / "lab.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip", "127.0.0.1", "--port", str(port),
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"jupyter lab did not start:\n{(home / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.25)
        yield {"base": base, "root": root, "log": home / "lab.log"}
    finally:
        # SIGTERM: the server shuts its kernels down, then exits
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def report(lab, tmp_path_factory):
    """Run the browser script once; its JSON report (what the page showed)."""
    shots = ROOT / "build" / "browser-screenshots"      # git-ignored; kept after the run as test artifacts
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MINDLAB_LAB_URL=lab["base"], MINDLAB_NOTEBOOK="renderers.ipynb", MINDLAB_SHOTS=str(shots),
               MINDLAB_PLAYWRIGHT=str(PLAYWRIGHT), MINDLAB_CHROMIUM=CHROMIUM, MINDLAB_DONE=DONE)
    done = subprocess.run(["node", str(Path(__file__).with_name("drive.cjs"))], env=env, capture_output=True,
                          text=True, timeout=240)
    lines = done.stdout.strip().splitlines()
    assert lines, f"drive.cjs printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}"
    rep = json.loads(lines[-1])
    print(f"\nscreenshots in {shots}")
    assert "error" not in rep, (f"{rep['error']}\nscreenshots in {shots}\nsteps done: {rep.get('steps')}\n"
                                f"page errors: {rep.get('pageErrors')}\nconsole: {rep.get('console')}\n"
                                f"server log:\n{lab['log'].read_text()[-3000:]}")
    rep["shots"] = shots
    rep["graph"] = json.loads((lab["root"] / "graph.json").read_text())
    rep["plan_doc"] = json.loads((lab["root"] / "plan.json").read_text())
    return rep


def test_the_graph_view_draws_every_node_of_the_json(report):
    doc, drawn = report["graph"], report["drawn"]
    assert sorted(drawn["nodeIds"], key=lambda i: int(i[1:])) == [n["id"] for n in doc["nodes"]]
    assert sorted(drawn["clusters"]) == sorted(g["id"] for g in doc["graphs"] if g["id"] != doc["root"])
    assert drawn["edges"] >= len(doc["edges"]) // 2            # merged duplicates, plus the dashed "runs" edges
    assert f"{len(doc['nodes'])} nodes in {len(doc['graphs'])} graphs" in drawn["info"]
    assert drawn["svgFallback"] == 0                           # the interactive view, not the Graphviz SVG
    assert not report["pageErrors"], report["pageErrors"]
    assert not [c for c in report["console"] if "mindlab" in c], report["console"]
    assert (report["shots"] / "graph.png").stat().st_size > 5000


def test_source_lines_are_text_and_never_run(report):
    script_line = "y = ops.tanh(y)  # <script>window.__mindlab_pwned = 1</script>"
    assert script_line in report["drawn"]["sourceLines"]
    assert report["drawn"]["scripts"] == 0 and report["selection"]["scripts"] == 0
    assert report["pwnedAfterRender"] is None and report["pwned"] is None
    assert "<script>window.__mindlab_pwned = 1</script>" in report["scriptTooltip"]


def test_hover_shows_op_shapes_dtypes_and_cost(report):
    doc = report["graph"]
    node = next(n for n in doc["nodes"] if n["id"] == report["tooltip"]["id"])
    text = report["tooltip"]["text"]
    assert node["op"] == "matmul"
    assert "matmul (primitive)" in text and "Float32[2, 4]" in text and "[2,4]" in text
    assert "FLOP" in text and "moved" in text
    assert report["tooltipHidden"]


def test_click_selects_a_node_and_its_source_line(report):
    doc, sel = report["graph"], report["selection"]
    (selected,) = sel["selected"]
    node = next(n for n in doc["nodes"] if n["id"] == selected)
    assert node["op"] == "tanh"
    assert sel["currentLine"] == [node["source"]["text"]]
    assert f"Selected: {selected} tanh" in sel["details"]
    # ... and the notebook cell it came from is made active with that line selected and marked
    cell_lines = CELLS[0].split("\n")
    line = next(k for k, text in enumerate(cell_lines, 1) if text.strip() == node["source"]["text"])
    assert sel["notebook"] == {"markedCells": [0], "line": line, "activeCell": 0}


def test_wheel_zooms_and_drag_pans(report):
    z = report["zoom"]
    assert z["after"] > z["before"]
    assert z["transformAfter"] != z["transformBefore"]


def test_clusters_collapse_and_expand(report):
    doc, c = report["graph"], report["collapse"]
    target = c["target"]
    inside = sum(1 for n in doc["nodes"] if n["graph"] == target)
    assert c["before"] == len(doc["nodes"]) == c["expandedCount"] == c["allExpanded"]
    assert c["collapsedCount"] == c["before"] - inside
    name = next(g["name"] for g in doc["graphs"] if g["id"] == target)
    assert name in c["collapsedLabel"] and f"{inside} nodes" in c["collapsedLabel"]
    root_nodes = sum(1 for n in doc["nodes"] if n["graph"] == doc["root"])
    assert c["allCollapsed"] == root_nodes


def test_the_plan_view(report):
    doc, p = report["plan_doc"], report["plan"]
    assert p["title"] == "Parallel plan: <b>tiny</b>" and p["bold"] == 0
    assert p["devices"] == [str(d) for d in doc["mesh"]["device_ids"]]
    assert p["opRows"] == len(doc["ops"]) and p["tensorRows"] == len(doc["tensors"])
    assert p["barRows"] == len(doc["mesh"]["device_ids"])
    assert p["slices"] == 0
    # tensor x (8 x 4) split over dp (rows) and mp (columns)
    assert p["slicesAfterClick"] == ["[0:4, 0:2]", "[0:4, 2:4]", "[4:8, 0:2]", "[4:8, 2:4]"]
    (coll,) = doc["collectives"]
    (text,) = p["collectiveRows"]
    assert coll["kind"] == "all_reduce" and "all_reduce" in text and "mp" in text and "split over mp" in text
    assert f"{format(coll['bytes_per_device'], 'g')} B" in text
    assert len(p["alternatives"]) == 2 and "chosen" in p["alternatives"][0] and "slower" in p["alternatives"][1]


def test_the_inspector_panel_lists_compiles_and_gradients(report):
    ins = report["inspector"]
    assert ins["connected"] == "true"
    titles = ins["titles"]                                  # newest first
    assert len(titles) == 2, titles
    assert titles[1].startswith("#1 compiled construct") and titles[0].startswith("#2 gradient of Gate")
    assert ins["passRows"] == len(PIPELINE)                  # one row per pass of the pipeline
    assert ins["viewerTitle"].endswith("(optimized)")
    assert ins["viewerNodes"] > 0 and f"{ins['viewerNodes']} nodes" in ins["viewerInfo"]
    assert "optimized graph" in ins["viewerInfo"]


def test_the_inspector_shows_the_mode_and_switches_with_the_magics(report):
    live = report["live"]
    assert live["modeBefore"] == "PYNATIVE_MODE"
    assert live["afterGraph"]["mode"] == "GRAPH_MODE" and "GRAPH_MODE" in live["afterGraph"]["status"]
    assert live["afterPynative"]["mode"] == "PYNATIVE_MODE" and "PYNATIVE_MODE" in live["afterPynative"]["status"]
    # ... and in JupyterLab's status bar, next to the kernel's status
    assert live["afterGraph"]["statusBar"] == "mindlab: GRAPH_MODE"
    assert live["afterPynative"]["statusBar"] == "mindlab: PYNATIVE_MODE"


def test_the_inspector_lists_a_compile_within_two_seconds(report):
    live = report["live"]
    assert live["compileMs"] < 2000, live["compileMs"]
    assert re.fullmatch(r"#3 compiled <lambda>_\d+\(arg0: Float32\[3\]\)", live["afterCompile"]["titles"][0])


def test_the_inspector_explains_a_refused_compile_with_the_source_line(report):
    err = report["live"]["error"]
    assert err["title"].startswith("#4 could not compile uses_try: GraphModeSyntaxError")
    assert "try" in err["message"]
    assert err["source"] is not None and err["source"].endswith("try:") and ":" in err["source"]
    assert [t for t in report["live"]["filtered"]] == [err["title"]]     # the filter keeps only the error


def test_the_inspector_follows_a_kernel_restart(report):
    live = report["live"]
    restarted = live["afterRestart"]
    assert restarted["connected"] == "false" and restarted["stale"] is True
    assert "restarted" in restarted["status"] and len(restarted["titles"]) == 5     # old records kept, marked
    assert live["reconnected"]["connected"] == "true" and live["reconnected"]["connection"] == "connected"
    after = live["afterReconnect"]
    assert len(after["titles"]) == 1 and after["stale"] is False
    assert re.fullmatch(r"#1 compiled <lambda>_\d+\(arg0: Float32\[4\]\)", after["titles"][0])
    assert live["reconnectCompileMs"] < 2000, live["reconnectCompileMs"]
    assert (report["shots"] / "inspector-restarted.png").stat().st_size > 5000


def test_hostile_and_malformed_documents_show_a_message_and_never_run(report):
    h = report["hostile"]
    huge, malformed_graph = h["graphErrors"]
    assert "5000 boxes are too many to lay out" in huge and "%mindlab ir" in huge
    assert "Cannot draw this mindlab graph" in malformed_graph and "graph document has no" in malformed_graph
    assert "Cannot" in h["planError"] and "plan document has no mesh" in h["planError"]
    assert h["imgLabel"].startswith('<img src=x onerror="window.__')     # drawn as (clipped) text
    assert h["imgs"] == 0 and report["pwned"] is None
    assert h["hugeMs"] < 5000, h["hugeMs"]                                       # refused at once, no freeze


def test_the_inspector_profiles_the_ascend_ops_of_a_cell(report):
    prof = report["live"]["profile"]
    assert re.fullmatch(r"#5 Ascend \(.+\): 1 op\(s\), [0-9.]+ µs simulated", prof["title"]), prof["title"]
    assert set(prof["pipes"]) >= {"MTE2", "Vector", "MTE3"} and prof["ops"] == ["relu"]
