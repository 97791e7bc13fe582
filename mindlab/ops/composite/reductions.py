"""reductions composites (see package docstring)."""

__all__ = []
