"""Automatic differentiation: the PyNative tape (``tape``) and the gradient transforms (``grad``)."""
