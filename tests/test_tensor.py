import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, Parameter, ParameterTuple, context


def test_construction_and_default_dtypes():
    assert Tensor([1.0, 2.0]).dtype == ms.float32
    assert Tensor([1, 2]).dtype == ms.int64
    assert Tensor(True).dtype == ms.bool_
    assert Tensor(3.5).shape == ()
    assert Tensor(np.zeros((2, 3), np.float64)).dtype == ms.float64
    assert Tensor(np.zeros(3, np.float16)).dtype is ms.float16
    assert Tensor([1, 2], dtype=ms.float64).dtype == ms.float64
    assert Tensor(Tensor([1.0])).dtype == ms.float32


def test_tensor_copies_input_and_asnumpy_copies_output():
    a = np.ones(3, np.float32)
    t = Tensor(a)
    a[0] = 5
    assert t.asnumpy()[0] == 1
    b = t.asnumpy()
    b[1] = 7
    assert t.asnumpy()[1] == 1


def test_bad_construction():
    with pytest.raises(TypeError, match="ragged"):
        Tensor([[1.0], [1.0, 2.0]])
    with pytest.raises(TypeError, match="does not support dtype"):
        Tensor(np.array(["a"]))
    with pytest.raises(TypeError, match="input_data"):
        Tensor({"a": 1})


def test_printing_like_mindspore():
    t = Tensor(np.array([4.0, 10.0, 18.0], np.float32))
    assert str(t) == "[ 4. 10. 18.]"
    assert repr(t) == "Tensor(shape=[3], dtype=Float32, value=[ 4. 10. 18.])"
    assert str(ms.float32) == "Float32"


def test_scalar_conversions():
    t = Tensor(2.5)
    assert float(t) == 2.5 and t.item() == 2.5
    assert int(Tensor(3)) == 3
    with pytest.raises(ValueError, match="one element"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_arithmetic_operators_and_weak_scalars():
    x = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    y = Tensor(np.array([4.0, 5.0, 6.0], np.float32))
    np.testing.assert_allclose((x + y).asnumpy(), [5, 7, 9])
    np.testing.assert_allclose((x * 2).asnumpy(), [2, 4, 6])
    np.testing.assert_allclose((2 * x).asnumpy(), [2, 4, 6])
    np.testing.assert_allclose((1 - x).asnumpy(), [0, -1, -2])
    np.testing.assert_allclose((x / 2).asnumpy(), [0.5, 1, 1.5])
    assert (x * 2.0).dtype == ms.float32          # python scalars are weakly typed
    assert (Tensor([1, 2]) * 2.5).dtype == ms.float32
    assert (Tensor([1, 2], ms.int32) + 1).dtype == ms.int32
    # MindSpore promotion, not numpy's: int32 with float16 gives float16
    assert (Tensor([1, 2], ms.int32) + Tensor([1, 2], ms.float16)).dtype == ms.float16


def test_numpy_operand_on_the_left_defers_to_tensor():
    x = Tensor(np.array([1.0, 2.0], np.float32))
    out = np.float32(2.0) * x
    assert isinstance(out, Tensor)


def test_parameter():
    p = Parameter(Tensor(np.ones((2, 2), np.float32)), name="w")
    assert p.name == "w" and p.requires_grad
    assert "name=w" in repr(p)
    p.set_data(Tensor(np.zeros((2, 2), np.float32)))
    assert p.asnumpy().sum() == 0
    with pytest.raises(ValueError, match="does not match"):
        p.set_data(Tensor(np.zeros((3,), np.float32)))
    assert isinstance(p + 1, Tensor)
    with pytest.raises(TypeError, match="Parameter"):
        ParameterTuple([p, Tensor([1.0])])


def test_context():
    context.set_context(mode=context.GRAPH_MODE)
    assert ms.get_context("mode") == ms.GRAPH_MODE
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    assert context.get_context("device_target") == "CPU"
    with pytest.raises(ValueError, match="mode"):
        ms.set_context(mode=5)
    with pytest.raises(ValueError, match="device_target"):
        ms.set_context(device_target="TPU")
    with pytest.raises(ValueError, match="unknown option"):
        ms.set_context(colour="red")
    assert ms.get_context("mode") == ms.PYNATIVE_MODE   # a failed call changes nothing


def test_gpu_without_cuda_is_a_clear_error():
    if context.device_available("GPU"):
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        ms.set_context(device_target="GPU")
    assert ms.get_context("device_target") == "CPU"


def test_shape_error_names_op_shapes_and_user_line():
    a = Tensor(np.ones((3, 4), np.float32))
    b = Tensor(np.ones((5, 4), np.float32))
    with pytest.raises(ValueError) as err:
        ms.ops.matmul(a, b)
    msg = str(err.value)
    assert "matmul" in msg and "[3, 4]" in msg and "[5, 4]" in msg and "Float32" in msg
    assert "test_tensor.py:" in msg and "ms.ops.matmul(a, b)" in msg
    with pytest.raises(ValueError) as err:
        a + Tensor(np.ones((2, 3), np.float32))
    assert "add" in str(err.value) and "test_tensor.py:" in str(err.value)


def test_flatten_method_merges_all_dims_like_mindspore():
    t = Tensor(np.ones((2, 3, 4), np.float32))
    assert t.flatten().shape == (24,)
    assert t.flatten(start_dim=1).shape == (2, 12)
    assert ms.ops.flatten(t).shape == (2, 12)     # ops.flatten keeps the batch dim
