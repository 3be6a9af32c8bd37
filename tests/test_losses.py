"""Every loss: gradient check w.r.t. the prediction (float64), values against their definitions,
both reductions, stability at extreme logits, and shape errors; the adversarial losses of GANs."""
import numpy as np
import pytest

import nnlite
from nnlite import losses
from nnlite.gradcheck import check_gradient, numerical_gradient, rel_error
from nnlite.losses import bce_with_logits, discriminator_loss, generator_loss

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


# ---------------------------------------------------------------------------------------- adversarial losses
@pytest.mark.parametrize("target", [0.0, 0.9, 1.0])
def test_bce_with_logits_gradient_and_value(target):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(7, 1))
    res = check_gradient(lambda l: bce_with_logits(l, target)[0], lambda l: bce_with_logits(l, target)[1], logits)
    assert res.passed, str(res)
    p = 1 / (1 + np.exp(-logits))
    want = -np.mean(target * np.log(p) + (1 - target) * np.log(1 - p))
    assert bce_with_logits(logits, target)[0] == pytest.approx(want, rel=1e-12)


def test_bce_with_logits_is_finite_for_huge_logits():
    value, grad = bce_with_logits(np.array([[-1000.0], [1000.0]]), np.array([[1.0], [0.0]]))
    assert np.isfinite(value) and value == pytest.approx(1000.0)
    np.testing.assert_allclose(grad, [[-0.5], [0.5]])


@pytest.mark.parametrize("kind", ["non_saturating", "minimax"])
def test_generator_losses(kind):
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, size=(6, 1))
    res = check_gradient(lambda l: generator_loss(l, kind)[0], lambda l: generator_loss(l, kind)[1], logits)
    assert res.passed, str(res)
    # the point of the non-saturating loss: where D confidently rejects a fake (logit -6) its gradient
    # is ~ -1/n, while the minimax loss' gradient has all but vanished
    _, g = generator_loss(np.array([[-6.0]]), kind)
    assert (abs(g[0, 0]) > 0.99) if kind == "non_saturating" else (abs(g[0, 0]) < 0.003)


class _LogitsAreInputs(nnlite.Module):
    """A discriminator whose logits are its inputs; it records every gradient backpropagated into it."""

    def __init__(self):
        super().__init__()
        self.received = []

    def forward(self, x):
        return x

    def backward(self, dy):
        self.received.append(dy)
        return dy


def test_discriminator_loss_one_sided_label_smoothing():
    real, fake = np.array([[3.0], [-1.0]]), np.array([[0.5], [-2.0]])
    D = _LogitsAreInputs()
    L, real_logits, fake_logits = discriminator_loss(D, real, fake, real_target=0.9)
    g_real, g_fake = D.received                                   # real first, then fake
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(g_real, (sig(real) - 0.9) / 2)
    np.testing.assert_allclose(g_fake, (sig(fake) - 0.0) / 2)     # fakes keep the target 0
    assert L == pytest.approx(bce_with_logits(real, 0.9)[0] + bce_with_logits(fake, 0.0)[0])
    np.testing.assert_array_equal(real_logits, real)
    np.testing.assert_array_equal(fake_logits, fake)


def test_gradcheck_discriminator_loss_through_a_discriminator(rng):
    D = nnlite.Sequential(nnlite.Linear(3, 4, random_state=0), nnlite.Tanh(), nnlite.Linear(4, 1, random_state=1))
    D.double()
    real, fake = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    D.zero_grad()
    discriminator_loss(D, real, fake, 0.9)
    analytic = {n: p.grad.copy() for n, p in D.named_parameters()}
    assert len(analytic) == 4
    for name, p in D.named_parameters():
        numeric = numerical_gradient(lambda: discriminator_loss(D, real, fake, 0.9)[0], p.data, 1e-5)
        err, where = rel_error(analytic[name], numeric)
        assert err < 1e-7, f"{name}: relative error {err:.2e} at {where}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_function_is_the_loss_class(rng, dtype):
    x = (rng.standard_normal((6, 3)) * 3).astype(dtype)
    t = rng.uniform(size=(6, 3)).astype(dtype)
    value, grad = bce_with_logits(x, t)
    loss = losses.BCEWithLogitsLoss()
    for pred in (x, np.asfortranarray(x)):                       # the fused kernel and the NumPy path
        assert loss(pred, t) == pytest.approx(value, rel=1e-6)
        np.testing.assert_allclose(loss.backward(), grad, rtol=1e-5, atol=1e-7)
    assert grad.dtype == dtype
