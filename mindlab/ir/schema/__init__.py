"""JSON Schemas of mindlab's interchange formats, shipped with the package: ``load("graph")`` returns the schema
of graph JSON (``application/vnd.mindlab.graph+json``), ``load("plan")`` that of plan JSON
(``application/vnd.mindlab.plan+json``), as dicts. Each schema is ``<name>.schema.json`` here."""
import copy
import functools
import json
from importlib import resources

__all__ = ["load", "names"]


@functools.lru_cache(maxsize=None)
def _read(name):
    try:
        text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"no schema named {name!r}; available: {', '.join(names()) or 'none'}") from None
    return json.loads(text)


def names():
    """Names of the schemas shipped here (``graph``, ...)."""
    suffix = ".schema.json"
    return sorted(p.name[:-len(suffix)] for p in resources.files(__name__).iterdir() if p.name.endswith(suffix))


def load(name):
    """The schema ``name`` (e.g. ``"graph"``) as a fresh dict (callers may modify it)."""
    return copy.deepcopy(_read(name))
