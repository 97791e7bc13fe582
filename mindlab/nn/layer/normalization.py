"""Normalization layers: BatchNorm2d, LayerNorm."""
from ... import dtype as mdt
from ... import ops
from ...common.initializer import initializer
from ...errors import where
from ...tensor import Parameter
from ..cell import Cell
from ._validate import positive_int, real_in, data_format as check_format

__all__ = ["BatchNorm2d", "LayerNorm"]


class BatchNorm2d(Cell):
    """Batch normalization over the channel dim of NCHW inputs: ``gamma * (x - mean) / sqrt(var + eps) + beta``.

    Training (``set_train()``) normalizes with the batch's statistics and updates the moving ones as
    ``moving = momentum * moving + (1 - momentum) * batch`` (MindSpore's convention, momentum=0.9); evaluation uses
    the moving statistics. ``use_batch_statistics`` True/False forces either behaviour. Parameters: ``gamma``,
    ``beta`` (trainable when ``affine``), ``moving_mean``, ``moving_variance`` (never trainable).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.9, affine=True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, data_format="NCHW",
                 dtype=mdt.float32):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features", "BatchNorm2d")
        self.eps = real_in(eps, "eps", "BatchNorm2d", 0.0, float("inf"), low_closed=False)
        self.momentum = real_in(momentum, "momentum", "BatchNorm2d", 0.0, 1.0)
        self.affine = bool(affine)
        self.use_batch_statistics = use_batch_statistics
        self.data_format = check_format(data_format, "BatchNorm2d")
        n = self.num_features
        self.moving_mean = Parameter(initializer(moving_mean_init, (n,), dtype), name="mean", requires_grad=False)
        self.moving_variance = Parameter(initializer(moving_var_init, (n,), dtype), name="variance",
                                         requires_grad=False)
        self.gamma = Parameter(initializer(gamma_init, (n,), dtype), name="gamma", requires_grad=self.affine)
        self.beta = Parameter(initializer(beta_init, (n,), dtype), name="beta", requires_grad=self.affine)

    def construct(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: expected an NCHW input with C=num_features={self.num_features}, got "
                             f"{x.dtype}{list(x.shape)}.{where()}")
        training = self.training if self.use_batch_statistics is None else bool(self.use_batch_statistics)
        # ops.batch_norm weights the batch statistic by its momentum: the complement of this layer's convention
        return ops.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta, training=training,
                              momentum=1.0 - self.momentum, eps=self.eps)

    def extend_repr(self):
        return (f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, gamma={self.gamma!r}, "
                f"beta={self.beta!r}, moving_mean={self.moving_mean!r}, moving_variance={self.moving_variance!r}")


class LayerNorm(Cell):
    """Layer normalization: normalizes over the dims from ``begin_norm_axis`` on, then scales by ``gamma`` and
    shifts by ``beta`` (shape ``normalized_shape``, applied from ``begin_params_axis`` on)."""

    def __init__(self, normalized_shape, begin_norm_axis=-1, begin_params_axis=-1, gamma_init="ones",
                 beta_init="zeros", epsilon=1e-7, dtype=mdt.float32):
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape:
            raise TypeError(f"For 'LayerNorm', 'normalized_shape' must be a non-empty tuple or list, but got "
                            f"{normalized_shape!r}.{where()}")
        self.normalized_shape = tuple(positive_int(s, "normalized_shape", "LayerNorm") for s in normalized_shape)
        self.begin_norm_axis = int(begin_norm_axis)
        self.begin_params_axis = int(begin_params_axis)
        self.epsilon = real_in(epsilon, "epsilon", "LayerNorm", 0.0, float("inf"), low_closed=False)
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape, dtype), name="gamma")
        self.beta = Parameter(initializer(beta_init, self.normalized_shape, dtype), name="beta")

    def construct(self, x):
        return ops.layer_norm(x, self.gamma, self.beta, begin_norm_axis=self.begin_norm_axis,
                              begin_params_axis=self.begin_params_axis, epsilon=self.epsilon)

    def extend_repr(self):
        return (f"normalized_shape={self.normalized_shape}, begin_norm_axis={self.begin_norm_axis}, "
                f"begin_params_axis={self.begin_params_axis}, gamma={self.gamma!r}, beta={self.beta!r}")
