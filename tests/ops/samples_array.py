from .samples import Case, rand

SAMPLES = {
    "identity": [Case((rand(3, 4),))],
    "reshape": [Case((rand(3, 4),), dict(shape=(2, 6))), Case((rand(2, 3, 4),), dict(shape=(-1, 4)))],
    "broadcast_to": [Case((rand(3, 1),), dict(shape=(2, 3, 4))), Case((rand(4),), dict(shape=(3, 4)))],
    "zeros_like": [Case((rand(3, 4),))],
    "ones_like": [Case((rand(3, 4),))],
    "stop_gradient": [Case((rand(3, 4),))],
}
