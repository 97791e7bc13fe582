"""The JupyterLab extension's own TypeScript unit tests (extension/test/*.test.ts, run with vitest): the graph and
plan JSON -> view model code and the Inspector's comm protocol. Needs Node.js and the extension's node_modules
(``./dev setup`` installs them); skips with the reason otherwise."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXT = Path(__file__).resolve().parents[2] / "extension"


def test_extension_unit_tests_pass():
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed (./dev setup needs it for the extension)")
    vitest = EXT / "node_modules" / ".bin" / "vitest"
    if not vitest.exists():
        pytest.skip("extension/node_modules has no vitest: run ./dev setup")
    proc = subprocess.run([str(vitest), "run", "--reporter=verbose"], cwd=EXT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "CI": "1", "NO_COLOR": "1"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert re.search(r"Test Files\s+\d+ passed", out) and " failed" not in out, out[-3000:]
