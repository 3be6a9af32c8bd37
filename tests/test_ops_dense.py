"""Every dense, loss, VAE and optimizer op of nnlite.ops: the fast backend against its readable twin,
the reference backend, on random and odd shapes (batch 1, odd widths, non-contiguous inputs), in float32
and float64.

Tolerances: float64 agrees to rounding (1e-12 relative); float32 to rounding of the largest value
(the fast kernels use vectorized exp/log1p and fused multiply-adds, and sum in another order, so an
entry that cancels to near zero keeps the absolute error of the terms it came from).
"""
import numpy as np
import pytest

from nnlite import ops
from nnlite.ops import fast, reference

DTYPES = [np.float32, np.float64]
ACTS = [("identity", 0.0), ("relu", 0.0), ("leaky_relu", 0.2), ("elu", 0.7), ("sigmoid", 0.0), ("tanh", 0.0),
        ("softplus", 0.0)]
SHAPES = [(1, 1, 1), (1, 7, 3), (5, 3, 8), (13, 37, 11), (64, 33, 65)]     # (N, n_in, n_out)


def tol(dtype):
    return dict(rtol=3e-6, atol=3e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


def assert_close(actual, desired, dtype, what):
    """Equal up to rounding: relative to each entry, or to the largest entry for ones that cancelled."""
    big = float(np.max(np.abs(desired), initial=1.0))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * big, err_msg=what)


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def non_contiguous(a):
    """The same values as ``a`` in a strided view (every other column of a wider array)."""
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] == 1
    return view


def test_both_backends_define_every_op_of_the_contract():
    for name in ops._DENSE_OPS + ops._OPTIM_OPS:
        assert callable(getattr(reference, name)) and callable(getattr(fast, name)), name


# ------------------------------------------------------------------------------------- dense layers
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act,alpha", ACTS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dense_forward_and_backward_agree(shape, act, alpha, dtype, rng):
    N, n_in, n_out = shape
    x, W, b = rand(rng, (N, n_in), dtype), rand(rng, (n_in, n_out), dtype, 0.5), rand(rng, n_out, dtype)
    dy = rand(rng, (N, n_out), dtype)
    y_ref, y = reference.dense_forward(x, W, b, act, alpha), fast.dense_forward(x, W, b, act, alpha)
    assert y.dtype == y_ref.dtype == dtype and y.shape == (N, n_out)
    assert_close(y, y_ref, dtype, "y")
    grads = {}
    for name, backend in (("reference", reference), ("fast", fast)):
        dW, db = np.full((n_in, n_out), 0.5, dtype), np.full(n_out, -0.25, dtype)     # something to add to
        dx = backend.dense_backward(dy.copy(), x, W, y_ref, act, alpha, dW, db)
        grads[name] = dx, dW, db
        assert dx.dtype == dtype and dW.dtype == dtype
    for what, a, r in zip(("dx", "dW", "db"), grads["fast"], grads["reference"]):
        assert_close(a, r, dtype, what)


@pytest.mark.parametrize("backend", [reference, fast], ids=["reference", "fast"])
def test_dense_backward_overwrite_writes_and_need_dx_false_returns_none(backend, rng):
    x, W, dy = rand(rng, (4, 3), np.float64), rand(rng, (3, 2), np.float64), rand(rng, (4, 2), np.float64)
    y = backend.dense_forward(x, W, None, "tanh")
    dW = np.full((3, 2), 7.0)                                            # stale values: overwritten
    assert backend.dense_backward(dy, x, W, y, "tanh", 0.0, dW, None, overwrite=True, need_dx=False) is None
    np.testing.assert_allclose(dW, x.T @ (dy * (1 - y * y)), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_ops_accept_non_contiguous_inputs(dtype, rng):
    x, W, b = rand(rng, (9, 5), dtype), rand(rng, (5, 4), dtype), rand(rng, 4, dtype)
    want = reference.dense_forward(x, W, b, "relu")
    np.testing.assert_allclose(fast.dense_forward(non_contiguous(x), W, b, "relu"), want, **tol(dtype))
    np.testing.assert_allclose(reference.dense_forward(non_contiguous(x), W, b, "relu"), want, **tol(dtype))


# ------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (1, 1), (3, 7), (32, 101), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("op", ["bce_with_logits", "mse"])
def test_loss_ops_agree(op, shape, dtype, rng):
    x = rand(rng, shape, dtype, 4.0)
    t = rng.random(shape).astype(dtype)
    scale = 1.0 / x.size
    for inputs in ((x, t), (non_contiguous(x), non_contiguous(t))):
        total_ref, g_ref = getattr(reference, op)(*inputs, scale)
        total, g = getattr(fast, op)(*inputs, scale)
        assert isinstance(total, float) and isinstance(total_ref, float)
        assert g.dtype == g_ref.dtype == dtype and g.shape == shape
        np.testing.assert_allclose(total, total_ref, **tol(dtype))
        np.testing.assert_allclose(g, g_ref, **tol(dtype))


def test_bce_with_logits_reference_is_finite_for_huge_logits():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    total, g = reference.bce_with_logits(x, np.array([1, 1, 0.5, 0, 0], np.float32))
    assert np.isfinite(total) and np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [-1, -1, 0, 1, 1], atol=1e-6)


# ---------------------------------------------------------------------------------------------- VAE
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N,L", [(1, 1), (3, 2), (64, 20)])
def test_gaussian_sample_kl_and_backward_agree(N, L, dtype, rng):
    h = rand(rng, (N, 2 * L), dtype, 3.0)
    h[0, L] = -45.0                                                      # logvar below the clip
    if N > 1:
        h[-1, -1] = 25.0                                                 # and above it
    eps, dz = rand(rng, (N, L), dtype), rand(rng, (N, L), dtype)
    out = {}
    for name, backend in (("reference", reference), ("fast", fast)):
        z, std, kl = backend.gaussian_sample_kl(h, eps, -30.0, 20.0)
        dh = backend.gaussian_sample_kl_backward(dz, h, std, eps, 0.7, -30.0, 20.0)
        assert z.dtype == std.dtype == dh.dtype == dtype and dh.shape == h.shape and isinstance(kl, float)
        out[name] = z, std, kl, dh
    for what, a, r in zip(("z", "std", "kl", "dh"), out["fast"], out["reference"]):
        assert_close(a, r, dtype, what)
    assert out["reference"][3][0, L] == 0                                # no gradient through the clip


def test_gaussian_sample_kl_reference_gradient_is_the_derivative(rng):
    """The reference op's backward against central differences, in float64."""
    from nnlite.gradcheck import check_gradient

    N, L = 4, 3
    h, eps, R = rng.standard_normal((N, 2 * L)), rng.standard_normal((N, L)), rng.standard_normal((N, L))

    def loss(hh):
        z, _, kl = reference.gaussian_sample_kl(hh, eps)
        return float(np.sum(z * R)) + 0.7 * kl

    def grad(hh):
        _, std, _ = reference.gaussian_sample_kl(hh, eps)
        return reference.gaussian_sample_kl_backward(R, hh, std, eps, 0.7)

    result = check_gradient(loss, grad, h)
    assert result.passed, str(result)


# --------------------------------------------------------------------------------------- optimizers
def _state(rng, shape, dtype):
    p, g = rand(rng, shape, dtype), rand(rng, shape, dtype)
    return p, g, rand(rng, shape, dtype, 0.1), np.abs(rand(rng, shape, dtype, 0.1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (5, 3), (33, 17)], ids=str)
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.1, False), (0.05, True)])
def test_adam_update_agrees(weight_decay, decoupled, shape, dtype, rng):
    arrays = _state(rng, shape, dtype)
    ref, fst = [a.copy() for a in arrays], [a.copy() for a in arrays]
    for step in (1, 2, 3):
        reference.adam_update(*ref, step, 1e-2, 0.9, 0.999, 1e-8, weight_decay, decoupled)
        fast.adam_update(*fst, step, 1e-2, 0.9, 0.999, 1e-8, weight_decay, decoupled)
    for what, a, r in zip(("p", "g", "m", "v"), fst, ref):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, r, **tol(dtype), err_msg=what)


def test_adam_update_fast_on_non_contiguous_arrays_updates_in_place(rng):
    arrays = _state(rng, (6, 4), np.float64)
    views = [non_contiguous(a) for a in arrays]
    ref = [a.copy() for a in arrays]
    fast.adam_update(*views, 1, 1e-2)
    reference.adam_update(*ref, 1, 1e-2)
    for a, r in zip(views, ref):
        np.testing.assert_allclose(a, r, rtol=1e-12)
    assert not np.array_equal(views[0], arrays[0])                       # the views moved, not copies


def test_adam_reference_is_the_textbook_rule_on_the_first_step():
    """Step 1 with bias correction: m_hat = g, v_hat = g^2, so p moves by lr * g / (|g| + eps)."""
    p, g = np.array([1.0, -2.0, 0.5]), np.array([0.3, -4.0, 0.0])
    m, v = np.zeros(3), np.zeros(3)
    reference.adam_update(p, g, m, v, 1, 0.1)
    np.testing.assert_allclose(p, [1.0 - 0.1, -2.0 + 0.1, 0.5], rtol=1e-7)


@pytest.mark.parametrize("backend", [reference, fast], ids=["reference", "fast"])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_update(backend, momentum, nesterov, rng):
    p, g = rng.standard_normal(5), rng.standard_normal(5)
    buf = np.zeros(5) if momentum else None
    p0 = p.copy()
    backend.sgd_update(p, g, buf, 0.1, momentum, 0.0, 0.0, nesterov, True)
    step = g + momentum * g if nesterov else g                           # first step: b = g
    np.testing.assert_allclose(p, p0 - 0.1 * step, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (True, 0.9)])
def test_rmsprop_update_agrees_and_is_the_rule(centered, momentum, dtype, rng):
    p, g = rand(rng, (4, 3), dtype), rand(rng, (4, 3), dtype)
    states = {b: (p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)) for b in ("ref", "fast")}
    reference.rmsprop_update(states["ref"][0], g, *states["ref"][1:], 0.01, 0.9, 1e-8, 0.0, momentum, centered)
    fast.rmsprop_update(states["fast"][0], g, *states["fast"][1:], 0.01, 0.9, 1e-8, 0.0, momentum, centered)
    np.testing.assert_allclose(states["fast"][0], states["ref"][0], **tol(dtype))
    s = 0.1 * g.astype(np.float64) ** 2
    d = np.sqrt(s - (0.1 * g.astype(np.float64)) ** 2 if centered else s) + 1e-8
    np.testing.assert_allclose(states["ref"][0], p - 0.01 * g / d, rtol=1e-5 if dtype == np.float32 else 1e-12)
