"""nnlite.latent: PCA against its SVD definition (and scikit-learn when present), t-SNE's optional
dependency and its error message, the class-coloured scatter, the PCA | t-SNE panel."""
import sys

import numpy as np
import pytest

import nnlite.latent as latent
from nnlite.latent import PCA, PROJECTIONS, TSNE_MISSING, pca, pca_tsne_views, plot_projection, project, tsne


@pytest.fixture
def data():
    g = np.random.default_rng(0)
    # anisotropic Gaussian cloud in 6-D, rotated, shifted: variances 25, 9, 4, 1, .25, .01
    A = g.standard_normal((300, 6)) * np.array([5, 3, 2, 1, 0.5, 0.1])
    Q, _ = np.linalg.qr(g.standard_normal((6, 6)))
    return A @ Q.T + 7.0


def test_pca_matches_the_svd_definition(data):
    p = PCA(3).fit(data)
    Xc = data - data.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    Z = p.transform(data)
    # projections = U S up to the sign of each component
    for j in range(3):
        ref = U[:, j] * S[j]
        sign = np.sign(ref @ Z[:, j])
        np.testing.assert_allclose(Z[:, j], sign * ref, atol=1e-10)
    np.testing.assert_allclose(p.explained_variance_, S[:3] ** 2 / (len(data) - 1), rtol=1e-12)
    np.testing.assert_allclose(p.explained_variance_ratio_, S[:3] ** 2 / np.sum(S ** 2), rtol=1e-12)
    # components orthonormal, variances decreasing, equal to the covariance's top eigenvalues
    np.testing.assert_allclose(p.components_ @ p.components_.T, np.eye(3), atol=1e-12)
    eig = np.sort(np.linalg.eigvalsh(np.cov(data.T)))[::-1]
    np.testing.assert_allclose(p.explained_variance_, eig[:3], rtol=1e-10)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), eig[:3], rtol=1e-10)
    # sign convention: the largest-magnitude loading of each component is positive
    assert np.all(p.components_[np.arange(3), np.abs(p.components_).argmax(axis=1)] > 0)
    # full rank: the inverse transform reconstructs exactly; the function form agrees
    full = PCA(6).fit(data)
    np.testing.assert_allclose(full.inverse_transform(full.transform(data)), data, atol=1e-10)
    np.testing.assert_allclose(pca(data, 3), Z, atol=1e-12)
    np.testing.assert_allclose(project(data, "PCA", n_components=3), Z, atol=1e-12)


def test_pca_matches_scikit_learn_up_to_sign(data):
    sk = pytest.importorskip("sklearn.decomposition", reason="scikit-learn (nnlite[tsne]) is not installed")
    ref = sk.PCA(2).fit(data)
    p = PCA(2).fit(data)
    signs = np.sign(np.sum(ref.components_ * p.components_, axis=1))
    np.testing.assert_allclose(p.components_, ref.components_ * signs[:, None], atol=1e-10)
    np.testing.assert_allclose(p.explained_variance_, ref.explained_variance_, rtol=1e-10)


def test_pca_errors(data):
    with pytest.raises(ValueError, match=r"n_components must be an int in \[1, min"):
        PCA(7).fit(data)
    with pytest.raises(ValueError, match="2-D array"):
        pca(data[0])
    with pytest.raises(ValueError, match="not fitted"):
        PCA(2).transform(data)
    with pytest.raises(ValueError, match="fitted on 6"):
        PCA(2).fit(data).transform(data[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        pca(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match=r"unknown method 'umap'; valid: \['pca', 'tsne'\]"):
        project(data, "umap")
    assert sorted(PROJECTIONS) == ["pca", "tsne"]


def test_tsne_missing_scikit_learn_gives_install_hint(data, monkeypatch):
    # A None entry in sys.modules makes `import sklearn.manifold` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install nnlite\[tsne\]") as info:
        tsne(data)
    assert "method='pca'" in str(info.value) and str(info.value) == TSNE_MISSING
    with pytest.raises(ImportError, match="scikit-learn"):
        project(data, "tsne")
    # PCA still works without it
    assert pca(data).shape == (300, 2)


def test_tsne_separates_clusters_when_installed():
    pytest.importorskip("sklearn.manifold", reason="scikit-learn (nnlite[tsne]) is not installed")
    g = np.random.default_rng(1)
    centers = g.standard_normal((3, 10)) * 10
    labels = np.repeat(np.arange(3), 40)
    X = centers[labels] + g.standard_normal((120, 10))
    Z = tsne(X, perplexity=15, random_state=0, n_threads=1)   # 1 thread: fast on a shared machine
    assert Z.shape == (120, 2)
    # every point's nearest neighbour in the embedding has its class
    d = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert np.mean(labels[d.argmin(axis=1)] == labels) == 1.0
    with pytest.raises(ValueError, match="perplexity must be smaller"):
        tsne(X[:10], perplexity=30)
    with pytest.raises(TypeError, match="random_state must be an int"):
        tsne(X, random_state=np.random.default_rng(0))


def test_plot_projection_colours_classes_with_named_legend(data):
    labels = np.arange(300) % 4
    fig = plot_projection(pca(data), labels, class_names=["a", "b", "c", "d"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c", "d"]
    assert len(ax.collections) == 4 and sum(len(c.get_offsets()) for c in ax.collections) == 300
    with pytest.raises(ValueError, match="has no name"):
        plot_projection(pca(data), labels, class_names=["a"])
    with pytest.raises(ValueError, match=r"Z must have shape \(N, 2\)"):
        plot_projection(data, labels)


def _points(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections])


def test_pca_tsne_views_draws_each_view_computed_once_with_its_score(data, monkeypatch):
    labels = np.arange(300) % 3
    fake = np.random.default_rng(1).standard_normal((300, 2))
    calls = {"tsne": 0, "score": 0}

    def fake_tsne(X, perplexity, random_state, n_threads):
        calls["tsne"] += 1
        assert (perplexity, random_state, n_threads) == (12.0, 3, 1) and X.shape == (300, 6)
        return fake

    def score(Z, y):
        calls["score"] += 1
        return float(Z[0, 0])                       # a number that tells the two views apart

    monkeypatch.setattr(latent, "tsne", fake_tsne)
    views = pca_tsne_views(data, labels, ["a", "b", "c"], title="codes", perplexity=12.0, random_state=3,
                           n_threads=1, score=score, score_name="5-NN accuracy")
    assert calls == {"tsne": 1, "score": 2}
    fig = views.figure
    assert len(fig.axes) == 2 and fig.get_suptitle() == "codes"
    ax_pca, ax_tsne = fig.axes
    ref = PCA(2).fit(data)
    np.testing.assert_allclose(views.pca, ref.transform(data))
    np.testing.assert_allclose(views.explained_variance_ratio, ref.explained_variance_ratio_)
    r = ref.explained_variance_ratio_
    assert ax_pca.get_title() == (f"PCA (linear; {r.sum():.0%} of the variance in 2-D)\n"
                                  f"5-NN accuracy {views.pca[0, 0]:.3f}")
    assert ax_pca.get_xlabel() == f"PC 1 ({r[0]:.0%} of the variance)"
    assert ax_tsne.get_title() == ("t-SNE (perplexity 12; neighbourhoods kept, distances not)\n"
                                   f"5-NN accuracy {fake[0, 0]:.3f}")
    assert views.scores == {"PCA": views.pca[0, 0], "t-SNE": fake[0, 0]}
    assert views.tsne is fake and views.tsne_missing is None and views.tsne_seconds >= 0
    # what is drawn is what was returned: the same points (grouped by class), the legend on the right only
    order = np.argsort(labels, kind="stable")
    np.testing.assert_allclose(_points(ax_pca), views.pca[order])
    np.testing.assert_allclose(_points(ax_tsne), fake[order])
    assert ax_pca.get_legend() is None
    assert [t.get_text() for t in ax_tsne.get_legend().get_texts()] == ["a", "b", "c"]


def test_pca_tsne_views_without_scikit_learn_keeps_the_pca_and_says_how_to_install(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    views = pca_tsne_views(data, np.zeros(300, int))
    assert views.tsne is None and views.tsne_seconds is None and views.tsne_missing == TSNE_MISSING
    assert views.scores == {}
    ax_pca, ax_tsne = views.figure.axes
    assert ax_pca.get_title().startswith("PCA (linear;") and len(_points(ax_pca)) == 300
    assert not ax_tsne.axison and not ax_tsne.collections
    assert [t.get_text() for t in ax_tsne.texts] == ["t-SNE needs scikit-learn:\npip install nnlite[tsne]"]
    with pytest.raises(ValueError, match=r"pca_tsne_views: labels must have shape \(300,\), got \(3,\)"):
        pca_tsne_views(data, [0, 1, 2])
