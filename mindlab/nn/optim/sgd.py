"""SGD: stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""
from ... import ops
from ...errors import where
from .optimizer import Optimizer, _f32

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (MindSpore's ``nn.SGD``), one fused kernel per parameter.

    With ``g = gradient + weight_decay * p``: ``v = g`` on the first step, then ``v = momentum * v + (1 -
    dampening) * g``; ``p -= lr * v`` (Nesterov: ``p -= lr * (g + momentum * v)``). ``momentum=0`` is plain SGD.
    State: ``accum.<name>`` (v) and ``stat.<name>`` (1 until the first step).
    """

    def __init__(self, params, learning_rate=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 loss_scale=1.0):
        super().__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = self._check_number(momentum, "momentum", low=0.0)
        self.dampening = self._check_number(dampening, "dampening")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError(f"For 'SGD', nesterov momentum needs momentum > 0 and dampening == 0, but got "
                             f"momentum={momentum}, dampening={dampening}.{where()}")
        self._momentum = _f32(self.momentum)
        self.accum = self._clone_state("accum", "zeros")
        self.stat = self._clone_state("stat", "ones")

    def construct(self, gradients):
        grads = self.scale_grad(self.check_gradients(gradients))
        lrs = self._lrs_per_param()   # weight decay is fused into the kernel
        for p, g, lr, acc, st, wd in zip(self.parameters, grads, lrs, self.accum, self.stat, self._wd):
            ops.sgd(p, g, lr, acc, self._momentum, st, self.dampening, wd, self.nesterov)
        return self.parameters
