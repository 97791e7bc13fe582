from .samples import Case, rand

SAMPLES = {
    "sum": [Case((rand(3, 4),), dict(axis=None, keep_dims=False)), Case((rand(2, 3, 4),), dict(axis=1, keep_dims=True)),
            Case((rand(2, 3, 4),), dict(axis=(0, 2), keep_dims=False))],
}
