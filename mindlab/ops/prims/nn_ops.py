"""nn_ops primitives."""
__all__ = []
__operations__ = []
