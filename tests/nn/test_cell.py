"""Cell: parameter / sub-cell registration and naming, the tree walks, modes, to_float, printing, containers."""
from collections import OrderedDict

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter, ParameterTuple


def T(x, dtype=np.float32):
    return Tensor(np.asarray(x, dtype=dtype))


class Block(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(4, 3)
        self.scale = Parameter(T(np.full(3, 2.0)))          # auto-named -> "scale"
        self.act = nn.ReLU()

    def construct(self, x):
        return self.act(self.dense(x)) * self.scale


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Dense(3, 2, has_bias=False)

    def construct(self, x):
        return self.head(self.block(x))


def test_parameter_names_are_attribute_paths_in_registration_order():
    net = Net()
    names = [n for n, _ in net.parameters_and_names()]
    # a cell's own parameters come before its sub-cells' (MindSpore's order)
    assert names == ["block.scale", "block.dense.weight", "block.dense.bias", "bn.moving_mean",
                     "bn.moving_variance", "bn.gamma", "bn.beta", "head.weight"]
    assert [p.name for p in net.get_parameters()] == names          # Parameter.name follows the path
    assert [p.name for p in net.trainable_params()] == [n for n in names if "moving" not in n]
    assert [p.name for p in net.untrainable_params()] == ["bn.moving_mean", "bn.moving_variance"]
    assert list(net.parameters_dict()) == names
    net.check_names()


def test_nesting_again_prefixes_the_whole_path():
    class Outer(nn.Cell):
        def __init__(self):
            super().__init__()
            self.net = Net()

    outer = Outer()
    assert outer.trainable_params()[1].name == "net.block.dense.weight"
    assert [n for n, _ in outer.parameters_and_names(expand=False)] == []
    assert [n for n, _ in outer.net.block.parameters_and_names(expand=False)] == ["scale"]


def test_cells_and_names_name_cells_cells():
    net = Net()
    paths = [n for n, _ in net.cells_and_names()]
    assert paths == ["", "block", "block.dense", "block.act", "bn", "head"]
    assert list(net.name_cells()) == ["block", "bn", "head"]
    assert [type(c).__name__ for c in net.cells()] == ["Block", "BatchNorm2d", "Dense"]


def test_shared_parameter_and_cell_listed_once():
    class Tied(nn.Cell):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(3, 3)
            self.b = self.a
            self.w = Parameter(T(np.ones(3)), name="w")
            self.w2 = self.w

    t = Tied()
    assert len(list(t.get_parameters())) == 3
    assert len(list(t.cells_and_names())) == 2
    assert list(t.name_cells()) == ["a"]


def test_auto_prefix_false_keeps_names():
    class Wrapper(nn.Cell):
        def __init__(self, inner):
            super().__init__(auto_prefix=False)
            self.inner = inner

    d = nn.Dense(2, 2)
    w = Wrapper(d)
    assert [p.name for p in w.get_parameters()] == ["weight", "bias"]
    assert [n for n, _ in w.parameters_and_names()] == ["inner.weight", "inner.bias"]


def test_update_parameters_name_and_insert_param_to_cell():
    d = nn.Dense(2, 2)
    d.update_parameters_name("enc.")
    assert [p.name for p in d.get_parameters()] == ["enc.weight", "enc.bias"]
    c = nn.Cell()
    c.insert_param_to_cell("alpha", Parameter(T([1.0])))
    assert c.alpha.name == "alpha" and [n for n, _ in c.parameters_and_names()] == ["alpha"]
    with pytest.raises(KeyError):
        c.insert_param_to_cell("a.b", Parameter(T([1.0])))
    with pytest.raises(TypeError):
        c.insert_param_to_cell("beta", T([1.0]))


def test_explicit_name_kept_until_nested():
    c = nn.Cell()
    c.p = Parameter(T([1.0]), name="custom")
    assert c.p.name == "custom"
    holder = nn.SequentialCell([c])
    assert c.p.name == "0.p" and holder is not None


def test_reassigning_attributes():
    d = nn.Dense(2, 2)
    d.weight = T(np.zeros((2, 2)))                # a Tensor sets the parameter's data
    assert isinstance(d.weight, Parameter) and np.all(d.weight.asnumpy() == 0)
    with pytest.raises(TypeError):
        d.weight = nn.ReLU()                       # a Cell into a parameter slot
    with pytest.raises(TypeError):
        d.weight = "not a tensor"
    net = Net()
    with pytest.raises(TypeError):
        net.head = Parameter(T([1.0]))             # a Parameter into a cell slot
    net.bn = None                                  # None removes a sub-cell from the tree
    assert "bn" not in net.name_cells() and net.bn is None
    assert not any(n.startswith("bn.") for n, _ in net.parameters_and_names())
    del net.head
    assert list(net.name_cells()) == ["block"]


def test_parameter_tuple_attribute_registers_each_parameter():
    c = nn.Cell()
    a, b = Parameter(T([1.0]), name="x.a"), Parameter(T([2.0]), name="x.b")
    c.pt = ParameterTuple([a, b])
    assert [n for n, _ in c.parameters_and_names()] == ["x.a", "x.b"]
    assert isinstance(c.pt, ParameterTuple)
    c.pt = ParameterTuple([a])
    assert [n for n, _ in c.parameters_and_names()] == ["x.a"]


def test_set_train_is_recursive_and_returns_self():
    net = Net()
    assert not net.training and not net.block.dense.training
    assert net.set_train() is net
    assert all(c.training for _, c in net.cells_and_names())
    net.set_train(False)
    assert not any(c.training for _, c in net.cells_and_names())


def test_call_runs_construct_in_both_modes():
    ms.set_seed(1)
    net = Net()
    x = T(np.random.default_rng(0).normal(size=(5, 4)))
    out_py = net(x).asnumpy()
    w1, b1 = net.block.dense.weight.asnumpy(), net.block.dense.bias.asnumpy()
    ref = (np.maximum(x.asnumpy() @ w1.T + b1, 0) * 2.0) @ net.head.weight.asnumpy().T
    np.testing.assert_allclose(out_py, ref, rtol=1e-5, atol=1e-6)
    ms.set_context(mode=ms.GRAPH_MODE)
    np.testing.assert_allclose(net(x).asnumpy(), out_py, rtol=1e-6)


def test_gradients_flow_to_cell_parameters():
    net = Block()
    x = T(np.random.default_rng(1).normal(size=(3, 4)))
    grads = ms.grad(lambda inp: ops.sum(net(inp)), grad_position=None, weights=net.trainable_params())(x)
    assert [g.shape for g in grads] == [(3,), (3, 4), (3,)]       # scale, dense.weight, dense.bias
    h = x.asnumpy() @ net.dense.weight.asnumpy().T + net.dense.bias.asnumpy()
    np.testing.assert_allclose(grads[0].asnumpy(), np.maximum(h, 0).sum(0), rtol=1e-5)
    np.testing.assert_allclose(grads[2].asnumpy(), 2.0 * (h > 0).sum(0), rtol=1e-5)


def test_to_float_casts_compute_not_storage():
    net = Block()
    net.to_float(ms.float16)
    x = T(np.random.default_rng(2).normal(size=(2, 4)))
    out = net(x)
    assert out.dtype == ms.float16
    assert all(p.dtype == ms.float32 for p in net.get_parameters())
    ref = np.maximum(x.asnumpy() @ net.dense.weight.asnumpy().T + net.dense.bias.asnumpy(), 0) * 2
    np.testing.assert_allclose(out.asnumpy().astype(np.float32), ref, rtol=1e-2, atol=1e-2)
    grads = ms.grad(lambda inp: ops.sum(net(inp)), grad_position=None, weights=net.trainable_params())(x)
    assert [g.dtype for g in grads] == [ms.float32] * 3
    with pytest.raises(ValueError):
        net.to_float(ms.int32)


def test_repr_lists_sub_cells_like_mindspore():
    net = nn.SequentialCell([nn.Dense(2, 3, activation="relu"), nn.Dense(3, 1)])
    assert repr(net) == ("SequentialCell<\n"
                         "  (0): Dense<\n"
                         "    input_channels=2, output_channels=3, has_bias=True, activation=ReLU<>\n"
                         "    (activation): ReLU<>\n"
                         "    >\n"
                         "  (1): Dense<input_channels=3, output_channels=1, has_bias=True>\n"
                         "  >")
    assert repr(nn.ReLU()) == "ReLU<>"


def test_missing_construct_and_missing_init_are_clear_errors():
    class NoConstruct(nn.Cell):
        pass

    with pytest.raises(NotImplementedError) as info:
        NoConstruct()(T([1.0]))
    assert "NoConstruct" in str(info.value) and "test_cell.py:" in str(info.value)

    class NoInit(nn.Cell):
        def __init__(self):   # forgets super().__init__()
            self.w = Parameter(T([1.0]))

    with pytest.raises(AttributeError) as info:
        NoInit()
    assert "Cell.__init__" in str(info.value) and "test_cell.py:" in str(info.value)


def test_readme_style_cell_with_primitive_attribute():
    class Mul(nn.Cell):
        def __init__(self):
            super(Mul, self).__init__()
            self.mul = ops.operations.Mul()

        def construct(self, x, y):
            return self.mul(x, y)

    np.testing.assert_array_equal(Mul()(T([1, 2, 3]), T([4, 5, 6])).asnumpy(), [4, 10, 18])


# ---------------------------------------------------------------- SequentialCell
def test_sequential_cell_forms_and_forward():
    a, b = nn.Dense(3, 4), nn.Dense(4, 2)
    x = T(np.random.default_rng(3).normal(size=(2, 3)))
    seq = nn.SequentialCell([a, nn.ReLU(), b])
    ref = b(nn.ReLU()(a(x))).asnumpy()
    np.testing.assert_allclose(seq(x).asnumpy(), ref, rtol=1e-6)
    assert [p.name for p in seq.trainable_params()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    named = nn.SequentialCell(OrderedDict([("fc", nn.Dense(3, 4)), ("act", nn.ReLU())]))
    assert list(named.name_cells()) == ["fc", "act"] and named.fc.weight.name == "fc.weight"
    varargs = nn.SequentialCell(nn.Dense(3, 4), nn.ReLU())
    assert len(varargs) == 2 and isinstance(varargs[1], nn.ReLU) and isinstance(varargs[-1], nn.ReLU)
    with pytest.raises(TypeError):
        nn.SequentialCell([nn.Dense(3, 4), "relu"])


def test_sequential_cell_editing():
    seq = nn.SequentialCell([nn.Dense(3, 3), nn.ReLU(), nn.Dense(3, 3)])
    head = seq[:2]
    assert isinstance(head, nn.SequentialCell) and len(head) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq.name_cells())[-1] == "3"
    del seq[1]
    assert list(seq.name_cells()) == ["0", "1", "2"]
    assert [type(c).__name__ for c in seq] == ["Dense", "Dense", "Sigmoid"]
    assert seq[1].weight.name == "1.weight"
    seq[2] = nn.Tanh()
    assert isinstance(seq[2], nn.Tanh)
    with pytest.raises(IndexError):
        seq[5]


# ---------------------------------------------------------------- CellList
def test_cell_list():
    cl = nn.CellList([nn.Dense(2, 2), nn.ReLU()])
    cl.append(nn.Dense(2, 1))
    cl.extend([nn.Sigmoid()])
    cl.insert(1, nn.Tanh())
    assert [type(c).__name__ for c in cl] == ["Dense", "Tanh", "ReLU", "Dense", "Sigmoid"]
    assert len(cl) == 5 and cl.index(cl[3]) == 3
    assert [p.name for p in cl.trainable_params()] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    del cl[1]
    assert [type(c).__name__ for c in cl] == ["Dense", "ReLU", "Dense", "Sigmoid"]
    assert list(cl.name_cells()) == ["0", "1", "2", "3"] and cl[2].weight.name == "2.weight"
    assert isinstance(cl[1:], nn.CellList) and len(cl[1:]) == 3

    class Stack(nn.Cell):
        def __init__(self):
            super().__init__()
            self.layers = nn.CellList([nn.Dense(2, 2) for _ in range(3)])

        def construct(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    s = Stack()
    assert [p.name for p in s.trainable_params()][:2] == ["layers.0.weight", "layers.0.bias"]
    x = T(np.ones((1, 2)))
    ref = x
    for layer in s.layers:
        ref = layer(ref)
    np.testing.assert_allclose(s(x).asnumpy(), ref.asnumpy())
    with pytest.raises(TypeError):
        cl.append(3)
