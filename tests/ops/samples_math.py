from .samples import Case, rand

SAMPLES = {
    "add": [Case((rand(3, 4), rand(3, 4))), Case((rand(2, 3, 4), rand(4))), Case((rand(3, 1), rand(1, 4)))],
    "sub": [Case((rand(3, 4), rand(3, 4))), Case((rand(3, 1), rand(2, 1, 4)))],
    "mul": [Case((rand(3, 4), rand(3, 4))), Case((rand(2, 3, 4), rand(3, 1)))],
    "div": [Case((rand(3, 4), rand(3, 4, low=0.5, high=2.0))), Case((rand(3, 4), rand(4, low=0.5, high=2.0)))],
    "neg": [Case((rand(3, 4),))],
    "exp": [Case((rand(3, 4),))],
}
