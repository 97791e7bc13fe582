import numpy as np

from mindlab import dtype as mdt
from .samples import Case, rand

_S = (None, None, None)   # a full slice ``:`` in the normalised index form of tensor_getitem
_int = np.array

SAMPLES = {
    "identity": [Case((rand(3, 4),))],
    "reshape": [Case((rand(3, 4),), dict(shape=(2, 6))), Case((rand(2, 3, 4),), dict(shape=(-1, 4)))],
    "broadcast_to": [Case((rand(3, 1),), dict(shape=(2, 3, 4))), Case((rand(4),), dict(shape=(3, 4))),
                     Case((rand(3, 1),), dict(shape=(-1, 4)))],
    "zeros_like": [Case((rand(3, 4),))],
    "ones_like": [Case((rand(3, 4),))],
    "stop_gradient": [Case((rand(3, 4),))],
    "transpose": [Case((rand(2, 3, 4),), dict(perm=(2, 0, 1))), Case((rand(3, 4),), dict(perm=(-1, 0)))],
    "expand_dims": [Case((rand(3, 4),), dict(axis=1)), Case((rand(3, 4),), dict(axis=-1))],
    "squeeze": [Case((rand(3, 1, 4, 1),), dict(axis=())), Case((rand(3, 1, 4, 1),), dict(axis=(-1,)))],
    "tensor_getitem": [Case((rand(3, 4),), dict(index=(1,))),
                       Case((rand(3, 4, 2),), dict(index=((None, None, -1), Ellipsis, 1))),
                       Case((rand(4, 5),), dict(index=(None, (1, None, 2), (-4, -1, None))))],
    "tensor_getitem_grad": [Case((rand(2, 4),), dict(shape=(3, 4), index=((0, 3, 2),))),
                            Case((rand(3),), dict(shape=(3, 4), index=(_S, -1)))],
    "tensor_setitem": [Case((rand(3, 4), rand(4)), dict(index=(1,))),
                       Case((rand(3, 4), rand(2, 1)), dict(index=((0, 3, 2), (1, 3, None)))),
                       Case((rand(3, 4), rand(1, 1, 3)), dict(index=(_S, 0)))],
    "strided_slice": [
        Case((rand(3, 4, 5),), dict(begin=(0, 1, 4), end=(3, 4, 0), strides=(2, 1, -2), masks=(0, 0, 0, 0, 0))),
        Case((rand(3, 4, 5),), dict(begin=(1, 0, 2), end=(0, 3, 5), strides=(1, 1, 1), masks=(2, 1, 0, 0, 1))),
        Case((rand(3, 4),), dict(begin=(0, 0, 1), end=(0, 0, 3), strides=(1, 1, 1), masks=(0, 0, 1, 2, 0)))],
    "concat": [Case((rand(2, 3), rand(1, 3), rand(4, 3)), dict(axis=0)), Case((rand(2, 3), rand(2, 2)), dict(axis=-1))],
    "stack": [Case((rand(2, 3), rand(2, 3)), dict(axis=0)), Case((rand(2, 3), rand(2, 3), rand(2, 3)), dict(axis=-1))],
    "gather": [Case((rand(5, 3), _int([4, 0, 4, 2])), dict(axis=0)),
               Case((rand(2, 4, 3), _int([[1, 1], [3, 0]])), dict(axis=1)),
               Case((rand(3, 4), _int(2)), dict(axis=-1))],
    "unsorted_segment_sum": [Case((rand(5, 3), _int([0, 2, 0, 3, 2])), dict(num_segments=4)),
                             Case((rand(2, 3, 2), _int([[1, 0, 1], [1, 1, 0]])), dict(num_segments=2))],
    "gather_nd": [Case((rand(3, 4), _int([[0, 1], [2, 3], [0, 1]])), ),
                  Case((rand(3, 4, 2), _int([[[1], [0]], [[2], [1]]])), )],
    "scatter_nd": [Case((_int([[0, 1], [2, 3], [0, 1]]), rand(3)), dict(shape=(3, 4))),
                   Case((_int([[1], [0], [1]]), rand(3, 2)), dict(shape=(2, 2)))],
    "tensor_scatter_update": [Case((rand(3, 4), _int([[0, 1], [2, 3]]), rand(2))),
                              Case((rand(3, 2), _int([[2], [0]]), rand(2, 2)))],
    "one_hot": [Case((_int([0, 2, -1, 1]), np.array(1.5), np.array(-0.5)), dict(depth=3, axis=-1)),
                Case((_int([[0, 2], [1, 1]]), np.array(2.0), np.array(0.25)), dict(depth=3, axis=0))],
    "tile": [Case((rand(2, 3),), dict(dims=(2, 1))), Case((rand(3),), dict(dims=(2, 1, 2))),
             Case((rand(2, 1, 3),), dict(dims=(3, 2)))],
    "fill": [Case((), dict(dtype=mdt.float32, shape=(2, 3), value=1.5)),
             Case((), dict(dtype=mdt.int32, shape=(4,), value=7))],
    "split": [Case((rand(6, 4),), dict(axis=0, sizes=(2, 4))), Case((rand(3, 5),), dict(axis=1, sizes=(1, 1, 3))),
              Case((rand(2, 3, 4),), dict(axis=2, sizes=(4,)))],
}
