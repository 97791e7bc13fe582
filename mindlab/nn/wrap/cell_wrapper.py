"""``WithLossCell`` (network + loss) and ``TrainOneStepCell`` (forward, backward and optimizer update in one call)."""
import numbers

from ...autodiff.grad import value_and_grad
from ...errors import where
from ..cell import Cell
from ..optim.optimizer import Optimizer

__all__ = ["WithLossCell", "TrainOneStepCell"]


class WithLossCell(Cell):
    """``loss_fn(backbone(data), label)``: ties a network to its loss. Parameter names are the backbone's."""

    def __init__(self, backbone, loss_fn):
        super().__init__(auto_prefix=False)
        if not isinstance(backbone, Cell) or not isinstance(loss_fn, Cell):
            raise TypeError(f"WithLossCell: backbone and loss_fn must be Cells, got {type(backbone).__name__} and "
                            f"{type(loss_fn).__name__}.{where()}")
        self._backbone = backbone
        self._loss_fn = loss_fn

    def construct(self, data, label):
        return self._loss_fn(self._backbone(data), label)

    @property
    def backbone_network(self):
        return self._backbone


class TrainOneStepCell(Cell):
    """One training step per call: the loss of ``network(*inputs)`` (a cell returning the loss, e.g. a
    WithLossCell), its gradients with respect to ``optimizer.parameters`` (scaled by ``sens``), and the optimizer
    update. Returns the loss (computed before the update)."""

    def __init__(self, network, optimizer, sens=1.0):
        super().__init__(auto_prefix=False)
        if not isinstance(network, Cell):
            raise TypeError(f"TrainOneStepCell: network must be a Cell, got {type(network).__name__}.{where()}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"TrainOneStepCell: optimizer must be an nn.Optimizer, got {type(optimizer).__name__}."
                            f"{where()}")
        if isinstance(sens, bool) or not isinstance(sens, numbers.Real):
            raise TypeError(f"TrainOneStepCell: sens must be a number, got {type(sens).__name__}.{where()}")
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.sens = float(sens)
        self.grad_fn = value_and_grad(network, grad_position=None, weights=self.weights)

    def construct(self, *inputs):
        loss, grads = self.grad_fn(*inputs)
        if self.sens != 1.0:   # the output sensitivity scales every gradient linearly
            grads = tuple([g * self.sens for g in grads])
        self.optimizer(grads)
        return loss
