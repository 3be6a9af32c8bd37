"""Every loss: gradient check w.r.t. the prediction (float64), values against their definitions,
both reductions, stability at extreme logits, and shape errors."""
import numpy as np
import pytest

import nnlite
from nnlite import losses

SHAPES = [(1, 4), (5, 3), (2, 3, 4)]


def _pair(name, shape, rng):
    if name in ("BCELoss",):
        return rng.uniform(0.05, 0.95, shape), rng.integers(0, 2, shape).astype(float)
    if name == "BCEWithLogitsLoss":  # binary targets: soft ones near sigmoid(x) give gradients ~0,
        # where an elementwise relative error measures only round-off
        return rng.standard_normal(shape) * 1.5, rng.integers(0, 2, shape).astype(float)
    if name == "L1Loss":  # keep |pred - target| >= 0.05: |.| has a kink at 0
        t = rng.standard_normal(shape)
        d = rng.uniform(0.05, 1.0, shape) * rng.choice([-1, 1], shape)
        return t + d, t
    return rng.standard_normal(shape), rng.standard_normal(shape)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"])
def test_gradcheck_elementwise_losses(name, shape, reduction, rng):
    loss = getattr(losses, name)(reduction=reduction)
    pred, target = _pair(name, shape, rng)
    result = nnlite.gradcheck(loss, pred, target)
    assert result.passed, f"{name}:\n{result}"


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n, c", [(1, 3), (6, 5)])
def test_gradcheck_cross_entropy(n, c, reduction, rng):
    loss = losses.CrossEntropyLoss(reduction=reduction)
    result = nnlite.gradcheck(loss, rng.standard_normal((n, c)), rng.integers(0, c, n))
    assert result.passed, str(result)


def test_values_match_definitions(rng):
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert np.isclose(losses.MSELoss()(p, t), np.mean((p - t) ** 2))
    assert np.isclose(losses.MSELoss(reduction="sum")(p, t), np.sum((p - t) ** 2))
    assert np.isclose(losses.L1Loss()(p, t), np.mean(np.abs(p - t)))
    q, y = rng.uniform(0.1, 0.9, (4, 3)), rng.integers(0, 2, (4, 3))
    assert np.isclose(losses.BCELoss()(q, y), -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    logits = np.log(q / (1 - q))
    assert np.isclose(losses.BCEWithLogitsLoss()(logits, y), losses.BCELoss()(q, y))
    x, lab = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    assert np.isclose(losses.CrossEntropyLoss()(x, lab), -logp[np.arange(5), lab].mean())


def test_bce_with_logits_is_stable_for_huge_logits():
    x = np.array([[-1000.0, -150.0, 150.0, 1000.0]])
    t = np.array([[0.0, 1.0, 0.0, 1.0]])
    loss = losses.BCEWithLogitsLoss(reduction="sum")
    value = loss(x, t)
    assert np.isclose(value, 150.0 + 150.0)  # the two wrong ones cost |x| each, the right ones ~0
    np.testing.assert_allclose(loss.backward(), [[0.0, -1.0, 1.0, 0.0]], atol=1e-12)


def test_bce_clips_probabilities_of_zero_and_one():
    loss = losses.BCELoss()
    value = loss(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert np.isfinite(value) and value > 30
    assert np.all(np.isfinite(loss.backward()))


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1000.0, 0.0, -1000.0]])
    loss = losses.CrossEntropyLoss()
    assert np.isclose(loss(x, np.array([0])), 0.0) and np.isclose(loss(x, np.array([1])), 1000.0)


def test_shape_and_label_errors():
    with pytest.raises(ValueError, match=r"MSELoss: pred and target must have the same shape, got pred \(2, 3\) and target \(3, 2\)"):
        losses.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\], got values in \[0, 3\]"):
        losses.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"integer labels of shape \(2,\)"):
        losses.CrossEntropyLoss()(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="valid names"):
        losses.get_loss("hinge")
