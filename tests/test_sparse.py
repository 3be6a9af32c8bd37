"""SparseAutoencoder: the L1 and KL sparsity penalties, derived by hand and checked by central differences.

Every check runs in float64 with CS231n's relative error (< 1e-7). The L1 penalty has a kink at 0:
its check uses codes bounded away from 0 (|h| >= 0.1), and the end-to-end check uses a sigmoid or a
softplus code, which is never exactly 0.
"""
import numpy as np
import pytest

from nnlite.gradcheck import check_gradient, numerical_gradient, rel_error
from nnlite.models import NotFittedError
from nnlite.models.sparse import SparseAutoencoder, kl_sparsity, kl_sparsity_backward, l1_penalty, l1_penalty_backward

TOL = 1e-7
# The end-to-end checks difference a scalar loss of size ~1: float64 round-off (~1e-16 / eps) in the
# numerical gradient is ~1e-10 with eps=1e-6, a relative 2e-7 for weights whose gradient is ~5e-4.
# A step of 1e-4 keeps both round-off and the O(eps^2) truncation error near 1e-9.
EPS = 1e-4


def _away_from_zero(rng, shape):
    h = rng.uniform(0.1, 2.0, size=shape)
    return h * rng.choice([-1.0, 1.0], size=shape)


def test_l1_penalty_gradient_away_from_zero():
    rng = np.random.default_rng(0)
    h = _away_from_zero(rng, (6, 5))
    res = check_gradient(lambda a: l1_penalty(a, 1e-2), lambda a: l1_penalty_backward(a, 1e-2), h)
    assert res.passed, str(res)


def test_l1_penalty_value_matches_definition():
    h = np.array([[1.0, -2.0, 0.0], [0.5, 0.0, -0.5]])
    assert l1_penalty(h, 0.1) == pytest.approx(0.1 * 4.0 / 2)
    np.testing.assert_array_equal(l1_penalty_backward(h, 0.1), 0.05 * np.sign(h))


@pytest.mark.parametrize("rho", [0.05, 0.2, 0.7])
def test_kl_sparsity_gradient(rho):
    rng = np.random.default_rng(1)
    h = rng.uniform(0.02, 0.9, size=(7, 4))          # sigmoid outputs: strictly inside (0, 1)
    res = check_gradient(lambda a: kl_sparsity(a, rho, 3.0), lambda a: kl_sparsity_backward(a, rho, 3.0), h)
    assert res.passed, str(res)


def test_kl_sparsity_is_zero_at_target_and_positive_elsewhere():
    h = np.full((5, 3), 0.05)
    assert kl_sparsity(h, 0.05, 1.0) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(kl_sparsity_backward(h, 0.05, 1.0), 0.0, atol=1e-12)
    # rho_hat = 0.5 against rho = 0.05: KL = 0.05 log(0.1) + 0.95 log(1.9) per unit
    h = np.full((4, 3), 0.5)
    want = 3 * (0.05 * np.log(0.05 / 0.5) + 0.95 * np.log(0.95 / 0.5))
    assert kl_sparsity(h, 0.05, 1.0) == pytest.approx(want)


def _fitted(X, **kw):
    params = dict(latent_dim=3, hidden=(), epochs=1, batch_size=len(X), dtype=np.float64, random_state=0)
    params.update(kw)
    return SparseAutoencoder(**params).fit(X)


@pytest.mark.parametrize("kw", [
    dict(sparsity_target=0.1, sparsity_weight=2.0),                          # KL on a sigmoid code
    dict(l1=0.05, code_activation="softplus"),                                # L1 on a code that is never 0
    dict(l1=0.05, sparsity_target=0.2, sparsity_weight=0.5),                  # both at once (sigmoid code)
])
def test_end_to_end_gradcheck_every_parameter(kw):
    rng = np.random.default_rng(2)
    # The classic one-layer sparse AE 6 -> 3 -> 6: deeper nets add gradient entries of ~1e-7 (cancellation
    # across samples) whose relative error round-off alone pushes above 1e-7.
    X = rng.uniform(0.6, 0.95, size=(4, 6))
    model = _fitted(X, **kw)
    model.zero_grad()
    _, dx = model.loss_and_grad(X)
    analytic = {name: p.grad.copy() for name, p in model.named_parameters()}
    for name, p in model.named_parameters():
        num = numerical_gradient(lambda: model._loss_forward_backward(X, X)[0], p.data, EPS)
        model.zero_grad()
        err, where = rel_error(analytic[name], num)
        assert err < TOL, f"{name}: relative error {err:.2e} at {where}"
    # and w.r.t. the input (the target stays fixed)
    Xin = X.copy()
    num = numerical_gradient(lambda: model._loss_forward_backward(Xin, X)[0], Xin, EPS)
    err, where = rel_error(dx, num)
    assert err < TOL, f"input: relative error {err:.2e} at {where}"


def test_loss_includes_the_penalty():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, size=(8, 9))
    plain = _fitted(X, l1=0.0)
    sparse = _fitted(X, l1=0.5)
    h = sparse.encode(X)
    total, _ = sparse.loss_and_grad(X)
    assert total == pytest.approx(sparse.compute_loss(X) + 0.5 * np.abs(h).sum() / len(X), rel=1e-10)
    total_plain, _ = plain.loss_and_grad(X)
    assert total_plain == pytest.approx(plain.compute_loss(X), rel=1e-12)


def test_penalty_makes_codes_sparser():
    rng = np.random.default_rng(4)
    protos = (rng.uniform(size=(4, 25)) > 0.5).astype(np.float64)
    X = np.clip(protos[rng.integers(0, 4, 200)] + rng.normal(0, 0.05, (200, 25)), 0, 1)
    common = dict(latent_dim=16, epochs=60, batch_size=50, lr=3e-3, random_state=0)
    plain = SparseAutoencoder(l1=0.0, **common).fit(X)
    sparse = SparseAutoencoder(l1=0.05, **common).fit(X)
    a_plain = plain.code_activation_stats(X)["mean_activation"]
    a_sparse = sparse.code_activation_stats(X)["mean_activation"]
    assert a_sparse < 0.5 * a_plain, (a_sparse, a_plain)
    assert set(sparse.history_) >= {"loss", "recon", "penalty", "mean_activation"}


def test_kl_penalty_pulls_mean_activation_towards_target():
    rng = np.random.default_rng(5)
    X = rng.uniform(size=(100, 16))
    kl = SparseAutoencoder(latent_dim=8, sparsity_target=0.05, sparsity_weight=3.0, epochs=200, batch_size=100,
                           lr=5e-3, random_state=0).fit(X)
    free = SparseAutoencoder(latent_dim=8, code_activation="sigmoid", epochs=200, batch_size=100, lr=5e-3,
                             random_state=0).fit(X)
    m_kl = kl.code_activation_stats(X)["mean_activation"]
    m_free = free.code_activation_stats(X)["mean_activation"]
    assert abs(m_kl - 0.05) < 0.05 and m_free > 0.15, (m_kl, m_free)


def test_argument_errors_and_not_fitted():
    X = np.random.default_rng(0).uniform(size=(4, 5))
    with pytest.raises(ValueError, match="code_activation='sigmoid'"):
        SparseAutoencoder(sparsity_target=0.05, code_activation="relu").fit(X)
    with pytest.raises(ValueError, match="sparsity_target"):
        SparseAutoencoder(sparsity_target=1.5).fit(X)
    with pytest.raises(ValueError, match="l1"):
        SparseAutoencoder(l1=-1).fit(X)
    with pytest.raises(NotFittedError):
        SparseAutoencoder().features()


def test_features_shape_and_seeded_reproducibility():
    X = np.random.default_rng(0).uniform(size=(20, 12))
    a = SparseAutoencoder(latent_dim=5, l1=1e-3, epochs=3, random_state=7).fit(X)
    b = SparseAutoencoder(latent_dim=5, l1=1e-3, epochs=3, random_state=7).fit(X)
    assert a.features().shape == (5, 12)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=na)
