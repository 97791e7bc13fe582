"""mindlab in Jupyter: the IPython extension (``%load_ext mindlab``: the ``%mindlab`` line magic and the
``%%graph`` / ``%%pynative`` cell magics, see ``magics``), the Inspector feed (``inspector``), and the prebuilt
JupyterLab extension (``labextension/``, built from the repository's ``extension/`` folder) that renders graph and
plan JSON.

Importing this package is cheap (no IPython import): the framework's event hooks live in ``events``.
"""
from pathlib import Path

LABEXTENSION_NAME = "mindlab-jupyter"
LABEXTENSION_DIR = Path(__file__).resolve().parent / "labextension"


def _jupyter_labextension_paths():
    """Where the prebuilt JupyterLab extension is (``jupyter labextension develop`` reads this)."""
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]


def load_ipython_extension(ipython):
    """``%load_ext mindlab`` (or ``%load_ext mindlab.jupyter``): register the magics."""
    from .magics import load_ipython_extension as load
    load(ipython)


def unload_ipython_extension(ipython):
    from .magics import unload_ipython_extension as unload
    unload(ipython)
