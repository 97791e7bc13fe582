"""Adam and AdamWeightDecay, each a fused one-pass kernel per parameter."""
import numpy as np

from ... import ops
from ...tensor import Parameter, _wrap
from .optimizer import Optimizer, _f32

__all__ = ["Adam", "AdamWeightDecay"]


class Adam(Optimizer):
    """Adam (MindSpore's ``nn.Adam``): ``m = beta1*m + (1-beta1)*g``, ``v = beta2*v + (1-beta2)*g²``,
    ``p -= lr * sqrt(1-beta2^t)/(1-beta1^t) * m / (sqrt(v) + eps)``, with ``g`` the gradient plus L2 weight decay.
    State: ``moment1.<name>``, ``moment2.<name>``, ``beta1_power``, ``beta2_power``."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, use_locking=False,
                 use_nesterov=False, weight_decay=0.0, loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.beta1 = self._check_number(beta1, "beta1", 0.0, 1.0, open_low=True, open_high=True)
        self.beta2 = self._check_number(beta2, "beta2", 0.0, 1.0, open_low=True, open_high=True)
        self.eps = self._check_number(eps, "eps", low=0.0, open_low=True)
        self.use_locking, self.use_nesterov = bool(use_locking), bool(use_nesterov)
        self._beta1, self._beta2, self._eps = _f32(self.beta1), _f32(self.beta2), _f32(self.eps)
        self.beta1_power = Parameter(_wrap(np.array(1.0, np.float32)), name="beta1_power", requires_grad=False)
        self.beta2_power = Parameter(_wrap(np.array(1.0, np.float32)), name="beta2_power", requires_grad=False)
        self.moment1 = self._clone_state("moment1", "zeros")
        self.moment2 = self._clone_state("moment2", "zeros")

    def construct(self, gradients):
        grads = self.decay_weight(self.scale_grad(self.check_gradients(gradients)))
        lrs = self._lrs_per_param()
        b1p = ops.assign(self.beta1_power, self.beta1_power * self._beta1)
        b2p = ops.assign(self.beta2_power, self.beta2_power * self._beta2)
        for p, g, lr, m, v in zip(self.parameters, grads, lrs, self.moment1, self.moment2):
            ops.adam(p, m, v, b1p, b2p, lr, self._beta1, self._beta2, self._eps, g, self.use_locking,
                     self.use_nesterov)
        return self.parameters


class AdamWeightDecay(Optimizer):
    """Adam with decoupled weight decay and no bias correction (MindSpore's ``nn.AdamWeightDecay``):
    ``p -= lr * (m / (sqrt(v) + eps) + weight_decay * p)``. Without parameter groups the decay skips parameters
    whose names contain 'beta' or 'gamma'. State: ``adam_m.<name>``, ``adam_v.<name>``."""

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0):
        super().__init__(learning_rate, params, weight_decay)
        self.beta1 = self._check_number(beta1, "beta1", 0.0, 1.0, open_low=True, open_high=True)
        self.beta2 = self._check_number(beta2, "beta2", 0.0, 1.0, open_low=True, open_high=True)
        self.eps = self._check_number(eps, "eps", low=0.0, open_low=True)
        self._beta1, self._beta2, self._eps = _f32(self.beta1), _f32(self.beta2), _f32(self.eps)
        self._decays = tuple(_f32(wd) for wd in self._wd)
        self.moments1 = self._clone_state("adam_m", "zeros")
        self.moments2 = self._clone_state("adam_v", "zeros")

    def construct(self, gradients):
        grads = self.scale_grad(self.check_gradients(gradients))
        lrs = self._lrs_per_param()
        for p, g, lr, m, v, wd in zip(self.parameters, grads, lrs, self.moments1, self.moments2, self._decays):
            ops.adam_weight_decay(p, m, v, lr, self._beta1, self._beta2, self._eps, wd, g)
        return self.parameters
