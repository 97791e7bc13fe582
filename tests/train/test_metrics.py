"""Metrics: values against hand-computed references, accumulation over batches, names and aliases."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn
from mindlab import train


def test_accuracy_classification_sparse_and_one_hot():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], np.float32)
    labels = np.array([1, 0, 0, 0])
    acc = train.Accuracy()
    acc.update(ms.Tensor(logits), ms.Tensor(labels))
    assert acc.eval() == 0.75
    acc.update(logits[:2], np.eye(2)[[0, 0]])                    # one-hot labels; accumulates: 1 more right
    assert acc.eval() == 4 / 6
    acc.clear()
    with pytest.raises(RuntimeError, match="no samples"):
        acc.eval()
    assert train.Accuracy()(logits, labels) == 0.75


def test_accuracy_multilabel_and_errors():
    acc = train.Accuracy("multilabel")
    acc.update(np.array([[0.9, 0.2], [0.6, 0.7]]), np.array([[1, 0], [1, 0]]))
    assert acc.eval() == 0.5
    with pytest.raises(ValueError, match="eval_type"):
        train.Accuracy("regression")
    with pytest.raises(ValueError, match=r"labels of shape \[3\] do not match predictions of shape \[2, 2\]"):
        train.Accuracy().update(np.zeros((2, 2)), np.zeros(3))


def test_loss_mae_mse_and_top_k():
    loss = train.Loss()
    loss.update(ms.Tensor(np.float32(2.0)))
    loss.update(np.array(4.0))
    assert loss.eval() == 3.0
    y_pred, y = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[1.5, 2.0], [3.0, 3.0]])
    assert train.MAE()(y_pred, y) == pytest.approx((0.5 + 2.0) / 2)    # per-sample error sums, averaged
    assert train.MSE()(y_pred, y) == pytest.approx((0.25 + 4.0) / 2)
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1]])
    assert train.TopKCategoricalAccuracy(2)(scores, np.array([2, 2])) == 0.5
    assert train.Top1CategoricalAccuracy()(scores, np.array([1, 0])) == 1.0


def test_names_and_nn_aliases():
    assert isinstance(train.get_metric_fn("acc"), train.Accuracy)
    assert {"acc", "accuracy", "loss", "mae", "mse"} <= set(train.names())
    with pytest.raises(KeyError, match="Unknown metric 'f2'"):
        train.get_metric_fn("f2")
    assert nn.Accuracy is train.Accuracy and nn.MAE is train.MAE and ms.train.Accuracy is train.Accuracy
