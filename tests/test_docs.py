"""The documentation: the site builds with ``mkdocs build --strict`` (so a broken link or an API reference to a
name that no longer exists fails), and every ```python block of the user guide runs (each page's blocks in order,
as one script, in a fresh interpreter — so the examples stay true to the code)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = sorted((ROOT / "docs" / "guide").glob("*.md")) + [ROOT / "docs" / "index.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(page):
    return BLOCK.findall(page.read_text())


def test_every_guide_page_has_examples():
    assert GUIDE and all(p.exists() for p in GUIDE)
    assert sum(bool(_blocks(p)) for p in GUIDE) >= 5


@pytest.mark.parametrize("page", [p for p in GUIDE if _blocks(p)], ids=lambda p: p.name)
def test_guide_examples_run(page, tmp_path):
    script = tmp_path / f"{page.stem}.py"       # a real file: GRAPH_MODE needs the functions' source
    script.write_text("\n\n".join(_blocks(page)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env={**__import__("os").environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, f"{page.name}'s examples failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def test_site_builds_strict(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    if mkdocs is None:
        pytest.fail("mkdocs is not installed in this environment (it is a dev dependency: pip install -e '.[dev]')")
    proc = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "nn.html").exists()
    html = (tmp_path / "site" / "api" / "nn.html").read_text()
    assert "TrainOneStepCell" in html and "construct" in html
