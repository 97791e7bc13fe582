"""Every notebook in notebooks/ runs top to bottom without an error, on a kernel that is this interpreter.

The kernel is pinned to ``sys.executable`` (the venv's python when run through ``./dev test``) whatever kernel
name a notebook's metadata carries, so a stray per-user "python3" kernel spec can never run the notebooks on
another interpreter that lacks (or has a different) mindlab.
"""
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT_S = 300


class _ThisInterpreter(KernelSpecManager):
    """Resolves every kernel name to an ipykernel started by this very interpreter."""

    def get_kernel_spec(self, kernel_name):
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name=f"mindlab ({sys.executable})", language="python", resource_dir="")


def _execute(nb):
    km = KernelManager(kernel_name="mindlab", kernel_spec_manager=_ThisInterpreter())
    NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOKS)}},
                   extra_arguments=["--InteractiveShell.colors=nocolor"]).execute()   # plain tracebacks in logs
    return nb


def test_there_are_notebooks():
    assert BOOKS, f"no notebooks in {NOTEBOOKS}"


def test_kernel_runs_this_interpreter():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys, mindlab; print(sys.prefix)")])
    out = _execute(nb).cells[0].outputs
    assert out and out[0].get("text", "").strip() == sys.prefix, out


@pytest.mark.parametrize("path", BOOKS, ids=[p.name for p in BOOKS])
def test_notebook_runs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name} is stored with outputs; clear them before committing"
    _execute(nb)   # raises CellExecutionError (with the cell's traceback) on the first failing cell
