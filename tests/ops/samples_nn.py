import numpy as np

from .samples import Case, rand, positive

_G1 = dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)
_G2 = dict(stride=(2, 2), pad=(1, 0, 1, 1), dilation=(1, 1), groups=1)            # asymmetric pads, stride 2
_G3 = dict(stride=(1, 1), pad=(1, 1, 1, 1), dilation=(2, 2), groups=2)            # dilation + groups
_G4 = dict(stride=(2, 2), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)            # last input row / col uncovered
_G5 = dict(stride=(1, 1), pad=(1, 0, 2, 1), dilation=(2, 1), groups=1)            # stride 1 (row layout), pads, dilation
_P1 = dict(kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0))
_P2 = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1, 1, 1))                        # overlapping, padded
_P3 = dict(kernel=(2, 3), stride=(1, 2), pad=(0, 1, 1, 1))                        # 'same'-style asymmetric pads
_LN = dict(begin_norm_axis=2, begin_params_axis=2, epsilon=1e-5)
_LN_G_LT_D = dict(begin_norm_axis=1, begin_params_axis=2, epsilon=1e-5)           # params repeat within a row
_LN_G_GT_D = dict(begin_norm_axis=2, begin_params_axis=1, epsilon=1e-5)           # params vary across rows
_MASK = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]])
_LABELS = np.array([1, 0, 4, 2], dtype=np.int32)

SAMPLES = {
    "conv2d": [Case((rand(1, 2, 4, 4), rand(3, 2, 2, 2, seed=1)), _G1),
               Case((rand(2, 2, 5, 5), rand(2, 2, 3, 3, seed=1)), _G2),
               Case((rand(1, 4, 4, 4), rand(2, 2, 3, 3, seed=1)), _G3),
               Case((rand(2, 2, 5, 4), rand(3, 2, 2, 3, seed=1)), _G5)],
    "conv2d_backprop_input": [
        Case((rand(1, 3, 3, 3), rand(3, 2, 2, 2, seed=1)), dict(input_size=(1, 2, 4, 4), **_G1)),
        Case((rand(1, 2, 2, 2), rand(2, 2, 2, 2, seed=1)), dict(input_size=(1, 2, 5, 5), **_G4)),
        Case((rand(1, 2, 2, 2), rand(2, 2, 3, 3, seed=1)), dict(input_size=(1, 4, 4, 4), **_G3)),
        Case((rand(2, 3, 4, 5), rand(3, 2, 2, 3, seed=1)), dict(input_size=(2, 2, 5, 4), **_G5))],
    "conv2d_backprop_filter": [
        Case((rand(1, 3, 3, 3), rand(1, 2, 4, 4, seed=1)), dict(filter_size=(3, 2, 2, 2), **_G1)),
        Case((rand(1, 2, 2, 2), rand(1, 2, 5, 5, seed=1)), dict(filter_size=(2, 2, 2, 2), **_G4)),
        Case((rand(1, 2, 2, 2), rand(1, 4, 4, 4, seed=1)), dict(filter_size=(2, 2, 3, 3), **_G3)),
        Case((rand(2, 3, 4, 5), rand(2, 2, 5, 4, seed=1)), dict(filter_size=(3, 2, 2, 3), **_G5))],
    "max_pool": [Case((rand(1, 2, 4, 4),), _P1), Case((rand(1, 1, 5, 5),), _P2), Case((rand(1, 2, 3, 4),), _P3)],
    "max_pool_grad": [Case((rand(1, 2, 4, 4), rand(1, 2, 2, 2, seed=1)), _P1),
                      Case((rand(1, 1, 5, 5), rand(1, 1, 3, 3, seed=1)), _P2)],
    "max_pool_grad_grad": [Case((rand(1, 2, 4, 4), rand(1, 2, 4, 4, seed=1)), _P1),
                           Case((rand(1, 1, 5, 5), rand(1, 1, 5, 5, seed=1)), _P2)],
    "avg_pool": [Case((rand(1, 2, 4, 4),), dict(count_include_pad=True, **_P1)),
                 Case((rand(1, 1, 5, 5),), dict(count_include_pad=True, **_P2)),
                 Case((rand(1, 2, 3, 4),), dict(count_include_pad=False, **_P3))],
    "avg_pool_grad": [Case((rand(1, 2, 2, 2),), dict(input_size=(1, 2, 4, 4), count_include_pad=True, **_P1)),
                      Case((rand(1, 1, 3, 3),), dict(input_size=(1, 1, 5, 5), count_include_pad=False, **_P2))],
    "softmax": [Case((rand(3, 4),), dict(axis=-1)), Case((rand(2, 3, 4),), dict(axis=1))],
    "softmax_grad": [Case((rand(3, 4), rand(3, 4, seed=1)), dict(axis=-1)),
                     Case((rand(2, 3, 4), rand(2, 3, 4, seed=1)), dict(axis=1))],
    "log_softmax": [Case((rand(3, 4),), dict(axis=-1)), Case((rand(2, 3, 4),), dict(axis=0))],
    "log_softmax_grad": [Case((rand(3, 4), rand(3, 4, seed=1)), dict(axis=-1)),
                         Case((rand(2, 3, 4), rand(2, 3, 4, seed=1)), dict(axis=0))],
    "sparse_softmax_cross_entropy": [Case((rand(4, 5), _LABELS)),
                                     Case((rand(4, 5), _LABELS.astype(np.int64)))],
    "sparse_softmax_cross_entropy_grad": [Case((rand(4, 5), _LABELS))],
    "dropout_gen_mask": [Case((rand(3, 4),), dict(keep_prob=0.5, seed=None)),
                         Case((rand(3, 4),), dict(keep_prob=0.8, seed=3))],
    "dropout": [Case((rand(3, 4), _MASK), dict(keep_prob=0.5), wrt=(0,))],
    "layer_norm": [Case((rand(2, 3, 4), rand(4, seed=1), rand(4, seed=2)), _LN),
                   Case((rand(2, 3, 4), rand(4, seed=1), rand(4, seed=2)), _LN_G_LT_D),
                   Case((rand(2, 2, 3), rand(2, 3, seed=1), rand(2, 3, seed=2)), _LN_G_GT_D)],
    "layer_norm_grad": [
        Case((rand(2, 4), rand(2, 4, seed=1), rand(2, 1, seed=2), rand(2, 1, seed=3), rand(4, seed=4)),
             dict(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5)),
        Case((rand(2, 2, 3), rand(2, 2, 3, seed=1), rand(2, 1, 1, seed=2), rand(2, 1, 1, seed=3), rand(3, seed=4)),
             _LN_G_LT_D)],
    "batch_norm": [Case((rand(3, 2, 2, 2), rand(2, seed=1), rand(2, seed=2)), dict(epsilon=1e-5)),
                   Case((rand(4, 3), rand(3, seed=1), rand(3, seed=2)), dict(epsilon=1e-5))],
    "batch_norm_grad": [
        Case((rand(3, 2, 2, 2), rand(3, 2, 2, 2, seed=1), rand(2, seed=2), rand(2, seed=3), rand(2, seed=4)),
             dict(epsilon=1e-5)),
        Case((rand(4, 3), rand(4, 3, seed=1), rand(3, seed=2), rand(3, seed=3), rand(3, seed=4)), dict(epsilon=1e-5))],
    "batch_norm_infer": [Case((rand(2, 3, 2, 2), rand(3, seed=1), rand(3, seed=2), rand(3, seed=3), positive(3)),
                              dict(epsilon=1e-5))],
}
