"""Momentum: SGD with (Nesterov) momentum through the fused ApplyMomentum kernel."""
from ... import ops
from .optimizer import Optimizer, _f32

__all__ = ["Momentum"]


class Momentum(Optimizer):
    """Momentum optimizer (MindSpore's ``nn.Momentum``): ``v = momentum * v + g``; ``p -= lr * v`` (Nesterov:
    ``p -= lr * (g + momentum * v)``), with ``g`` the gradient plus weight decay. State: ``moments.<name>``."""

    def __init__(self, params, learning_rate, momentum, weight_decay=0.0, loss_scale=1.0, use_nesterov=False):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = self._check_number(momentum, "momentum", low=0.0)
        self.use_nesterov = bool(use_nesterov)
        self._momentum = _f32(self.momentum)
        self.moments = self._clone_state("moments", "zeros")

    def construct(self, gradients):
        grads = self.decay_weight(self.scale_grad(self.check_gradients(gradients)))
        lrs = self._lrs_per_param()
        for p, g, lr, m in zip(self.parameters, grads, lrs, self.moments):
            ops.apply_momentum(p, m, lr, g, self._momentum, self.use_nesterov)
        return self.parameters
