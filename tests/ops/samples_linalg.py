from .samples import Case, rand

SAMPLES = {
    "matmul": [Case((rand(3, 4), rand(4, 5)), dict(transpose_a=False, transpose_b=False)),
               Case((rand(4, 3), rand(4, 5)), dict(transpose_a=True, transpose_b=False)),
               Case((rand(3, 4), rand(5, 4)), dict(transpose_a=False, transpose_b=True)),
               Case((rand(4, 3), rand(5, 4)), dict(transpose_a=True, transpose_b=True))],
    "batch_matmul": [Case((rand(2, 3, 4), rand(2, 4, 5)), dict(transpose_a=False, transpose_b=False)),
                     Case((rand(2, 1, 4, 3), rand(3, 5, 4)), dict(transpose_a=True, transpose_b=True)),
                     Case((rand(3, 4), rand(2, 4, 5)), dict(transpose_a=False, transpose_b=False))],
}
