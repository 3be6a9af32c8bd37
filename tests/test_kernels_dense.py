"""Every Numba kernel of nnlite.ops._kernels.{dense,elementwise,blas} against a slow, obvious NumPy twin
(float32 and float64, odd shapes, batch 1), and the Dense layer against Linear + activation and
gradcheck.

Twins compute in float64 with NumPy's own functions. Tolerances: float64 kernels use ``math`` exactly, so
1e-12; float32 kernels use the vectorizable exp/log1p of ``elementwise`` (about 1 ulp) and sum in
float32 lanes, so a few 1e-7 relative.

Also run with ``NUMBA_DISABLE_JIT=1`` by tests/test_kernels_nojit.py, then with tiny shapes (the kernels
are pure Python loops there).
"""
import copy
import os

import numba
import numpy as np
import pytest

import nnlite
from nnlite.layers.dense import Dense
from nnlite.ops import fast
from nnlite.ops._kernels import blas
from nnlite.ops._kernels import dense as kd
from nnlite.ops._kernels import elementwise as ew

NOJIT = os.environ.get("NUMBA_DISABLE_JIT", "0") == "1"
SHAPES = [(1, 1), (1, 7), (3, 5)] if NOJIT else [(1, 1), (1, 7), (5, 3), (13, 37), (128, 101)]
DTYPES = [np.float32, np.float64]
ACTS = ["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus"]


def code(act):
    """The fused kernels' branch for an activation name, as the fast backend's dense ops choose it."""
    return fast._ACT_CODES[act]


def tol(dtype):
    return dict(rtol=2e-6, atol=2e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------ NumPy twins
def act_twin(v, name, alpha):
    v = v.astype(np.float64)
    if name == "identity":
        return v
    if name == "relu":
        return np.maximum(v, 0)
    if name == "leaky_relu":
        return np.where(v > 0, v, alpha * v)
    if name == "elu":
        return np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0)))
    if name == "sigmoid":
        return 1 / (1 + np.exp(-v))
    if name == "tanh":
        return np.tanh(v)
    return np.logaddexp(v, 0)  # softplus


def dact_twin(v, name, alpha):
    """The derivative written from the input v (the kernel uses the output: an independent route)."""
    v = v.astype(np.float64)
    if name == "identity":
        return np.ones_like(v)
    if name == "relu":
        return (v > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(v > 0, 1.0, alpha)
    if name == "elu":
        return np.where(v > 0, 1.0, alpha * np.exp(np.minimum(v, 0)))
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-v))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(v) ** 2
    return 1 / (1 + np.exp(-v))


def _pre(rng, shape, dtype):
    v = rng.standard_normal(shape) * 2.5
    v = np.where(np.abs(v) < 0.05, 0.05 * np.sign(v + 1e-12), v)  # away from the ReLU kink
    return v.astype(dtype)


# ------------------------------------------------------------------------------------------ dense kernels
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_bias_act_forward_matches_twin(shape, act, dtype, rng):
    v = _pre(rng, shape, dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    alpha = 0.2 if act == "leaky_relu" else 1.3 if act == "elu" else 0.0
    y = v - b                                                   # so that y + b = v (up to rounding)
    want = act_twin(y.astype(np.float64) + b, act, alpha)
    for kernel in (kd._bias_act_forward_serial, kd._bias_act_forward_parallel):
        got = y.copy()
        kernel(got, b, code(act), alpha)
        np.testing.assert_allclose(got, want, **tol(dtype), err_msg=f"{kernel} {act}")
    no_bias = y.copy()
    kd.bias_act_forward(no_bias, None, code(act), alpha)
    np.testing.assert_allclose(no_bias, act_twin(y, act, alpha), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_act_backward_matches_twin(shape, act, dtype, rng):
    v = _pre(rng, shape, dtype)
    alpha = 0.2 if act == "leaky_relu" else 1.3 if act == "elu" else 0.0
    y = act_twin(v, act, alpha).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    dz_want = dy.astype(np.float64) * dact_twin(v, act, alpha)
    db0 = rng.standard_normal(shape[1]).astype(dtype)
    branch = code(act)
    # serial (one block) and parallel with small blocks (several threads' worth of column blocks)
    for kernel, chunk in ((kd._act_backward_serial, shape[1]), (kd._act_backward_parallel, 2)):
        dz, db = np.empty_like(dy), db0.copy()
        kernel(dy, y, branch, alpha, dz, db, chunk)
        # the derivative from a rounded output: float32 relative error ~ a few ulp of y
        t = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dz, dz_want, **t, err_msg=f"dz {act} chunk {chunk}")
        np.testing.assert_allclose(db, db0 + dz.astype(np.float64).sum(0), **tol(dtype), err_msg="db")
    # in place (out=dy) and without a bias gradient
    inplace = dy.copy()
    out = kd.act_backward(inplace, y, branch, alpha, out=inplace)
    assert out is inplace
    np.testing.assert_allclose(inplace, dz_want, **t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES + [(4,)])
def test_bce_with_logits_matches_twin(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    x.flat[0] = 95.0                                            # far tails: exp(-|x|) underflows softly
    if x.size > 1:
        x.flat[1] = -120.0
    t = rng.random(shape).astype(dtype)
    xd, td = x.astype(np.float64), t.astype(np.float64)
    loss_want = np.sum(np.maximum(xd, 0) - xd * td + np.log1p(np.exp(-np.abs(xd))))
    grad_want = 0.25 * (1 / (1 + np.exp(-xd)) - td)
    for kernel in (kd._bce_with_logits_serial, kd._bce_with_logits_parallel):
        grad = np.empty_like(x)
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        loss = kernel(x2, t.reshape(x2.shape), grad.reshape(x2.shape), 0.25)
        np.testing.assert_allclose(loss, loss_want, rtol=2e-6 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(grad, grad_want, rtol=2e-6 if dtype == np.float32 else 1e-12,
                                   atol=1e-7 if dtype == np.float32 else 1e-15)
    grad = np.empty_like(x)
    assert np.isclose(kd.bce_with_logits(x, t, grad, 0.25), loss_want, rtol=2e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_mse_matches_twin(shape, dtype, rng):
    p, t = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    d = p.astype(np.float64) - t
    for kernel in (kd._mse_serial, kd._mse_parallel):
        grad = np.empty_like(p)
        loss = kernel(p, t, grad, 0.5)
        np.testing.assert_allclose(loss, np.sum(d * d), **tol(dtype))
        np.testing.assert_allclose(grad, 2 * 0.5 * d, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("N, L", [(1, 1), (3, 2)] if NOJIT else [(1, 1), (7, 5), (128, 20)])
def test_gaussian_sample_kl_and_backward_match_twin(N, L, dtype, rng):
    ml = rng.standard_normal((N, 2 * L)).astype(dtype)         # [mu | logvar], as a VAE head gives it
    mu, logvar = ml[:, :L], ml[:, L:]                             # column slices: non-contiguous views
    eps = rng.standard_normal((N, L)).astype(dtype)
    z, std = np.empty((N, L), dtype), np.empty((N, L), dtype)
    kl = kd.gaussian_sample_kl(mu, logvar, eps, z, std)
    m64, lv64, e64 = mu.astype(np.float64), logvar.astype(np.float64), eps.astype(np.float64)
    s64 = np.exp(0.5 * lv64)                                      # the standard deviation is exp(logvar / 2)
    np.testing.assert_allclose(std, s64, **tol(dtype))
    np.testing.assert_allclose(z, m64 + s64 * e64, **tol(dtype))
    np.testing.assert_allclose(kl, -0.5 * np.sum(1 + lv64 - m64 ** 2 - np.exp(lv64)), **tol(dtype))
    dz = rng.standard_normal((N, L)).astype(dtype)
    dml = np.zeros((N, 2 * L), dtype)
    kd.gaussian_sample_kl_backward(dz, mu, logvar, std, eps, 0.7, dml[:, :L], dml[:, L:])
    np.testing.assert_allclose(dml[:, :L], dz + 0.7 * m64, **tol(dtype))
    np.testing.assert_allclose(dml[:, L:], 0.5 * dz * e64 * s64 + 0.7 * 0.5 * (np.exp(lv64) - 1), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_sample_kl_clamps_logvar(dtype):
    mu = np.zeros((1, 3), dtype)
    logvar = np.array([[-40.0, 0.5, 30.0]], dtype)
    eps = np.ones((1, 3), dtype)
    z, std = np.empty((1, 3), dtype), np.empty((1, 3), dtype)
    kl = kd.gaussian_sample_kl(mu, logvar, eps, z, std, -30.0, 20.0)
    lv = np.array([-30.0, 0.5, 20.0])
    np.testing.assert_allclose(std[0], np.exp(0.5 * lv), rtol=1e-6)
    np.testing.assert_allclose(kl, -0.5 * np.sum(1 + lv - np.exp(lv)), rtol=1e-6)
    dmu, dlv = np.empty((1, 3), dtype), np.empty((1, 3), dtype)
    kd.gaussian_sample_kl_backward(np.ones((1, 3), dtype), mu, logvar, std, eps, 1.0, dmu, dlv, -30.0, 20.0)
    assert dlv[0, 0] == 0 and dlv[0, 2] == 0 and dlv[0, 1] != 0        # no gradient through the clamp


def test_gaussian_sample_kl_backward_is_the_gradient():
    """Central differences of sum(z * R) + beta * KL w.r.t. mu and logvar, float64."""
    rng = np.random.default_rng(3)
    N, L, beta = 2, 3, 0.7
    mu, logvar, eps, R = (rng.standard_normal((N, L)) for _ in range(4))

    def f(m, lv):
        z, s = np.empty((N, L)), np.empty((N, L))
        kl = kd.gaussian_sample_kl(m, lv, eps, z, s)
        return float(np.sum(z * R) + beta * kl)

    z, std = np.empty((N, L)), np.empty((N, L))
    kd.gaussian_sample_kl(mu, logvar, eps, z, std)
    dmu, dlv = np.empty((N, L)), np.empty((N, L))
    kd.gaussian_sample_kl_backward(R, mu, logvar, std, eps, beta, dmu, dlv)
    r1 = nnlite.check_gradient(lambda m: f(m, logvar), lambda m: dmu, mu)
    r2 = nnlite.check_gradient(lambda lv: f(mu, lv), lambda lv: dlv, logvar)
    assert r1.passed and r2.passed, (str(r1), str(r2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_sample_kl_equals_the_vae_pure_functions(dtype, rng):
    """The fused pass the VAE trains with against nnlite.models.vae's NumPy functions of the same maths
    (reparameterize, kl_divergence and their backwards), clamped entries of logvar included."""
    from nnlite.models import vae as V

    N, L, beta = (3, 2, 0.7) if NOJIT else (64, 20, 0.7)
    h = (rng.standard_normal((N, 2 * L)) * 3).astype(dtype)
    h[0, L], h[-1, -1] = -45.0, 25.0                           # below LOGVAR_MIN and above LOGVAR_MAX
    mu, logvar = h[:, :L], h[:, L:]
    eps, dz = rng.standard_normal((N, L)).astype(dtype), rng.standard_normal((N, L)).astype(dtype)
    z, std = np.empty((N, L), dtype), np.empty((N, L), dtype)
    kl = kd.gaussian_sample_kl(mu, logvar, eps, z, std, V.LOGVAR_MIN, V.LOGVAR_MAX)
    dh = np.empty_like(h)
    kd.gaussian_sample_kl_backward(dz, mu, logvar, std, eps, beta / N, dh[:, :L], dh[:, L:], V.LOGVAR_MIN,
                                   V.LOGVAR_MAX)
    z_ref, std_ref = V.reparameterize(mu, logvar, eps)
    dmu, dlogvar = V.reparameterize_backward(dz, eps, std_ref, logvar)
    kmu, klv = V.kl_divergence_backward(mu, logvar)
    t = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z, z_ref, **t)
    np.testing.assert_allclose(std, std_ref, **t)
    np.testing.assert_allclose(kl, V.kl_divergence(mu, logvar).astype(np.float64).sum(), **t)
    np.testing.assert_allclose(dh[:, :L], dmu + beta / N * kmu, **t)
    np.testing.assert_allclose(dh[:, L:], dlogvar + beta / N * klv, **t)
    assert dh[0, L] == 0 and dh[-1, -1] == 0                    # no gradient through the clamp


# ------------------------------------------------------------------------------- float32 scalar math
if NOJIT:
    def _map(f):
        def run(x):
            return np.array([f(v) for v in x], dtype=x.dtype)
        return run
else:
    def _map(f):
        @numba.njit(error_model="numpy")
        def run(x):
            out = np.empty_like(x)
            for i in range(x.size):
                out[i] = f(x[i])
            return out
        return run


_exp, _expm1, _log1p, _sig, _tanh = (_map(f) for f in (ew.exp, ew.expm1, ew.log1p_unit, ew.sigmoid, ew.tanh))
_N = 201 if NOJIT else 200_001


def _rel(got, want):
    return np.max(np.abs(got.astype(np.float64) - want) / np.maximum(np.abs(want), 1e-300))


@pytest.mark.parametrize("dtype", DTYPES)
def test_fast_exp_log1p_expm1_tanh_sigmoid(dtype):
    r32 = dtype == np.float32
    x = np.linspace(-87, 88, _N).astype(dtype)
    assert _rel(_exp(x), np.exp(x.astype(np.float64))) < (2.5e-7 if r32 else 1e-15)
    e = np.concatenate([[0.0, 1e-30, 1e-8, 0.4142, 0.4143, 1.0], np.linspace(0, 1, _N)]).astype(dtype)
    assert _rel(_log1p(e), np.log1p(e.astype(np.float64))) < (2.5e-7 if r32 else 1e-15)
    s = np.concatenate([np.linspace(-6, 6, _N), [-1e-9, 1e-7, -0.0999, 0.1001]]).astype(dtype)
    assert _rel(_expm1(s), np.expm1(s.astype(np.float64))) < (1e-6 if r32 else 1e-15)
    assert _rel(_tanh(s), np.tanh(s.astype(np.float64))) < (1e-6 if r32 else 1e-15)
    w = np.linspace(-80, 80, _N).astype(dtype)
    assert _rel(_sig(w), 1 / (1 + np.exp(-w.astype(np.float64)))) < (1e-6 if r32 else 1e-14)
    # extremes: no overflow, NaN propagates
    big = np.array([-1e4, -100.0, 100.0, 1e4, np.nan], dtype)
    sig = _sig(big)
    assert np.all(sig[:2] < 1e-37) and np.all(sig[2:4] == 1) and np.isnan(sig[4])
    assert np.isnan(_exp(np.array([np.nan], dtype))[0])


# --------------------------------------------------------------------------------------- gemm accumulate
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (7, 3, 5), (37, 128, 23)])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_acc_matches_numpy(m, k, n, trans_a, trans_b, dtype, rng):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    want = c0.astype(np.float64) + a.astype(np.float64) @ b
    for force in (False, True):
        c = c0.copy()
        out = blas.matmul_acc(c, a, b, force_numpy=force)
        assert out is c
        np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
def test_matmul_acc_overwrite_ignores_the_old_values(trans_a, dtype, rng):
    """``overwrite=True`` is BLAS's beta = 0: the old contents of c, even NaN, must not leak in."""
    a = rng.standard_normal((9, 5) if trans_a else (5, 9)).astype(dtype)
    a = a.T if trans_a else a
    b = rng.standard_normal((9, 4)).astype(dtype)
    for force in (False, True):
        c = np.full((5, 4), np.nan, dtype)
        blas.matmul_acc(c, a, b, force_numpy=force, overwrite=True)
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_matmul_acc_falls_back_for_mixed_dtypes_and_strided_operands(rng):
    a = rng.standard_normal((12, 6))[::2]                        # row stride 2: not a BLAS operand
    b = rng.standard_normal((6, 4)).astype(np.float32)
    c = np.zeros((6, 4), np.float32)
    blas.matmul_acc(c, a, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5)


def test_direct_blas_is_found_in_numpys_openblas():
    info = nnlite.ops.threads.blas_info()
    if not any("openblas" in str(i.get("internal_api")) for i in info) or os.environ.get("NNLITE_DIRECT_BLAS") == "0":
        pytest.skip("direct gemm is only looked up in NumPy's bundled OpenBLAS")
    assert blas.direct_available()


# ----------------------------------------------------------------------------------------- Dense layer
def _inputs_away_from_kinks(layer, rng, n=3, margin=0.05):
    """Inputs whose pre-activations x W + b are all at least ``margin`` from 0 (ReLU's kink)."""
    for _ in range(200):
        x = rng.standard_normal((n, layer.n_in))
        pre = x @ layer.weight.data.astype(np.float64)
        if layer.bias is not None:
            pre += layer.bias.data
        if np.min(np.abs(pre)) > margin:
            return x
    raise AssertionError("could not draw inputs away from the kink")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradcheck(act, bias):
    """Input and parameter gradients by central differences, float64, pre-activations away from 0."""
    rng = np.random.default_rng(7)
    layer = Dense(5, 4, activation=act, bias=bias, random_state=1)
    x = _inputs_away_from_kinks(layer, rng)
    result = nnlite.gradcheck(layer, x)
    assert result.max_rel_error < 1e-7, str(result)
    assert set(result.errors) == {"input", "weight"} | ({"bias"} if bias else set())


TWIN_ACTS = ACTS + [nnlite.LeakyReLU(0.2), nnlite.ELU(0.7)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", TWIN_ACTS, ids=str)
def test_dense_equals_its_twin_sequential_linear_activation(act, dtype, rng):
    """Dense(6, 4, act) and Sequential(Linear(6, 4), act) from the same seed: same weights, same forward
    output, dx, dW and db (two batches, so the second backward adds into the first one's gradients)."""
    n = 1 if NOJIT else 9
    act_module = copy.deepcopy(act) if isinstance(act, nnlite.Module) else nnlite.layers.get_activation(act)
    twin = nnlite.Sequential(nnlite.Linear(6, 4, dtype=dtype, random_state=3), act_module)
    dense = Dense(6, 4, activation=act, dtype=dtype, random_state=3)
    assert list(dense.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(dense.weight.data, twin[0].weight.data)   # same init draws, same layout
    np.testing.assert_array_equal(dense.bias.data, twin[0].bias.data)
    t = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    twin.zero_grad()
    dense.zero_grad()
    for _ in range(2):
        x = _pre(rng, (n, 6), dtype)
        y_ref, y = twin(x), dense(x)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dx_ref, dx = twin.backward(dy), dense.backward(dy)
        assert y.dtype == dtype and dx.dtype == dtype and dense.weight.grad.dtype == dtype
        np.testing.assert_allclose(y, y_ref, **t, err_msg="forward")
        np.testing.assert_allclose(dx, dx_ref, **t, err_msg="dx")
        np.testing.assert_allclose(dense.weight.grad, twin[0].weight.grad, **t, err_msg="dW")
        np.testing.assert_allclose(dense.bias.grad, twin[0].bias.grad, **t, err_msg="db")


def test_linear_backward_is_the_plain_numpy_reference(rng):
    """Linear's gradients are the textbook expressions, added (+=) into what is there."""
    layer = nnlite.Linear(5, 3, dtype=np.float64, random_state=0)
    x, dy = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    layer.zero_grad()
    layer.weight.grad += 1.0                                             # something to add to
    layer(x)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(layer.weight.grad, 1.0 + x.T @ dy)
    np.testing.assert_array_equal(layer.bias.grad, dy.sum(axis=0))
    np.testing.assert_array_equal(dx, dy @ layer.weight.data.T)


def test_dense_write_after_zero_grad_equals_adding_to_zeros(rng):
    """The fused gemm writes a cleared gradient (beta = 0) instead of adding to zeros: bit for bit the
    same result as the protocol's ``+=`` onto a zero-filled gradient."""
    x = rng.standard_normal((16, 7)).astype(np.float32)
    dy = rng.standard_normal((16, 5)).astype(np.float32)
    lazy, eager = Dense(7, 5, "tanh", random_state=0), Dense(7, 5, "tanh", random_state=0)
    lazy.zero_grad()                                                     # cleared: the gemm writes
    eager.zero_grad()
    assert not eager.weight.grad.any()                                   # a read fills the zeros: the gemm adds
    for layer in (lazy, eager):
        layer(x)
        layer.backward(dy)
    np.testing.assert_array_equal(lazy.weight.grad, eager.weight.grad)
    np.testing.assert_array_equal(lazy.bias.grad, eager.bias.grad)


def test_dense_fuses_exactly_the_registrys_elementwise_activations():
    assert list(nnlite.layers.ELEMENTWISE_ACTIVATIONS) == sorted(set(nnlite.layers.ACTIVATIONS) - {"softmax"})
    for name in nnlite.layers.ELEMENTWISE_ACTIVATIONS:
        cls = nnlite.layers.ACTIVATIONS[name]
        layer = Dense(2, 2, name)
        assert nnlite.layers.ACTIVATIONS[layer.activation] is cls
        assert layer.activation in fast._ACT_CODES and layer.activation in nnlite.ops.reference.ACTIVATIONS
    codes = {fast._ACT_CODES[a] for a in ACTS}
    assert codes == {kd.IDENTITY, kd.RELU, kd.LEAKY_RELU, kd.ELU, kd.SIGMOID, kd.TANH, kd.SOFTPLUS}


def test_dense_accumulates_grads_and_loads_linear_weights(rng):
    lin = nnlite.Sequential(nnlite.Linear(5, 3, random_state=0), nnlite.ReLU())
    dense = Dense(5, 3, "relu", random_state=1)
    dense.load_state_dict({k.split(".", 1)[1]: v for k, v in lin.state_dict().items()})
    x = rng.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(dense(x), lin(x), rtol=1e-6)
    dy = np.ones((2, 3), np.float32)
    dense.backward(dy)
    g1 = dense.weight.grad.copy()
    dense(x)
    dense.backward(dy)
    np.testing.assert_allclose(dense.weight.grad, 2 * g1, rtol=1e-6)      # backward adds (+=)


def test_dense_needs_input_grad_false_skips_dx(rng):
    layer = Dense(4, 3, "tanh", random_state=0)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    layer(x)
    dx = layer.backward(np.ones((2, 3), np.float32))
    g = layer.weight.grad.copy()
    layer.zero_grad()
    layer.needs_input_grad = False
    layer(x)
    assert layer.backward(np.ones((2, 3), np.float32)) is None
    np.testing.assert_allclose(layer.weight.grad, g)
    assert dx.shape == (2, 4)


def test_dense_batch_1_nd_input_and_float64(rng):
    layer = Dense(4, 3, "elu", alpha=0.5, dtype=np.float64, random_state=0)
    x = rng.standard_normal((2, 1, 4))
    y = layer(x)
    assert y.shape == (2, 1, 3) and y.dtype == np.float64
    assert layer.backward(np.ones_like(y)).shape == (2, 1, 4)
    assert layer(rng.standard_normal((1, 4))).shape == (1, 3)


def test_dense_accepts_activation_instances_and_rejects_bad_arguments():
    assert Dense(2, 2, nnlite.LeakyReLU(0.3)).alpha == 0.3
    assert Dense(2, 2, nnlite.ELU).activation == "elu"
    assert Dense(2, 2, None).activation == "identity"
    assert "activation='leaky_relu', alpha=0.01" in repr(Dense(2, 2, "leaky_relu"))
    with pytest.raises(ValueError, match=r"unknown or non-elementwise activation 'softmax'; valid: \["):
        Dense(2, 2, "softmax")
    with pytest.raises(ValueError, match="cannot fuse activation"):
        Dense(2, 2, nnlite.Softmax())
    with pytest.raises(ValueError, match="alpha is only used by 'leaky_relu' and 'elu'"):
        Dense(2, 2, "relu", alpha=0.1)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0 for 'elu'"):
        Dense(2, 2, "elu", alpha=0.0)
    with pytest.raises(ValueError, match=r"Dense\(3, 2, activation='relu', bias=True\) expects 3 features"):
        Dense(3, 2)(np.zeros((4, 5), np.float32))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Dense(3, 2).backward(np.zeros((1, 2)))


# ------------------------------------------------------------------------- fused loss paths = NumPy paths
@pytest.mark.parametrize("cls", [nnlite.losses.MSELoss, nnlite.losses.BCEWithLogitsLoss])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_loss_equals_numpy_path(cls, reduction, rng):
    x = (rng.standard_normal((6, 10)) * 3).astype(np.float32)
    t = rng.random((6, 10)).astype(np.float32)
    fused, plain, ref = cls(reduction=reduction), cls(reduction=reduction), cls(reduction=reduction)
    v1 = fused(x, t)                                   # C-contiguous: the Numba kernel
    v2 = plain(np.asfortranarray(x), np.asfortranarray(t))  # not C-contiguous: the fast op falls back to NumPy
    with nnlite.ops.using("reference"):
        v3 = ref(x, t)                                 # the reference backend's NumPy
    np.testing.assert_allclose(v1, v2, rtol=2e-6)
    np.testing.assert_allclose(v1, v3, rtol=2e-6)
    np.testing.assert_allclose(fused.backward(), plain.backward(), rtol=2e-6, atol=1e-8)
    np.testing.assert_allclose(fused.backward(), ref.backward(), rtol=2e-6, atol=1e-8)


def test_dense_reads_activation_specs_as_the_models_do():
    """One parser of activation specs: Dense and the models' ``activation=`` read 'leaky_relu:0.2' alike."""
    from nnlite.models._base import parse_activation

    assert parse_activation is nnlite.layers.activations.parse_activation
    layer = Dense(3, 2, "leaky_relu:0.2")
    assert (layer.activation, layer.alpha) == ("leaky_relu", 0.2)
    assert Dense(3, 2, "ELU:0.5", alpha=0.5).alpha == 0.5
    with pytest.raises(ValueError, match=r"Dense: alpha=0.3 contradicts activation 'elu:0.5'"):
        Dense(3, 2, "elu:0.5", alpha=0.3)
    with pytest.raises(ValueError, match=r"Dense: activation 'relu:0.2' gives a parameter to 'relu', but only elu"):
        Dense(3, 2, "relu:0.2")
