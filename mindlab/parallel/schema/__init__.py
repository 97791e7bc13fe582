"""The JSON Schema of plan JSON (``application/vnd.mindlab.plan+json``), shipped with the package:
``load("plan")`` returns it as a fresh dict."""
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
    suffix = ".schema.json"
    return sorted(p.name[:-len(suffix)] for p in resources.files(__name__).iterdir() if p.name.endswith(suffix))


def load(name="plan"):
    """The schema ``name`` as a fresh dict (callers may modify it)."""
    return copy.deepcopy(_read(name))
