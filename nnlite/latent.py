r"""2-D views of latent codes: PCA (NumPy SVD), t-SNE (scikit-learn, optional), and a class-coloured scatter.

A VAE with ``latent_dim=20`` cannot be plotted directly; project its posterior means to two dimensions:

* **PCA** -- the best linear 2-D view (largest variance), computed here from the SVD of the centred
  data, no dependency beyond NumPy:

  .. math::
      X_c = X - \bar x = U S V^\top, \qquad Z = X_c V_{:, :k} = U_{:, :k} S_{:k}, \qquad
      \mathrm{explained\_variance}_j = \frac{S_j^2}{N - 1}

  Each component's sign is fixed so that its largest-magnitude loading is positive (the SVD alone
  leaves it arbitrary), so the same data always gives the same picture.
* **t-SNE** (van der Maaten & Hinton, 2008) -- a non-linear view that keeps neighbourhoods, usually
  separating classes much more clearly than PCA. It is scikit-learn's ``TSNE``; install it with
  ``pip install nnlite[tsne]``. Without scikit-learn :func:`tsne` raises an ImportError saying so.

>>> from nnlite.latent import project, plot_projection
>>> mu = vae.transform(X_test)                          # (N, 20) posterior means
>>> Z = project(mu, "pca")                              # (N, 2)
>>> fig = plot_projection(Z, y_test, class_names=FASHION_MNIST_CLASSES, title="PCA of the VAE means")
>>> views = pca_tsne_views(mu, y_test, FASHION_MNIST_CLASSES)   # both, side by side  # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PCA", "pca", "tsne", "project", "PROJECTIONS", "plot_projection", "pca_tsne_views", "LatentViews"]

TSNE_MISSING = ("t-SNE needs scikit-learn, which is not installed. Install the optional extra with "
                "`pip install nnlite[tsne]` (or `pip install scikit-learn`), or use method='pca', which "
                "needs only NumPy.")


def _check_2d(fn, X, min_samples=2):
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{fn}: X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"{fn}: X must be numeric, got dtype {X.dtype}")
    if len(X) < min_samples:
        raise ValueError(f"{fn}: X needs at least {min_samples} samples, got {len(X)}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{fn}: X contains NaN or inf")
    return X


class PCA:
    """Principal component analysis by the SVD of the centred data (scikit-learn's names).

    Parameters
    ----------
    n_components : int, default 2
        Number of components kept (at most ``min(n_samples, n_features)``).

    Attributes
    ----------
    mean_ : ndarray ``(n_features,)``
    components_ : ndarray ``(n_components, n_features)``
        Orthonormal rows, by decreasing variance; the largest-magnitude loading of each is positive.
    explained_variance_ : ndarray ``(n_components,)``
        ``S**2 / (N - 1)``: the variance of the data along each component.
    explained_variance_ratio_ : ndarray ``(n_components,)``
        Fraction of the total variance.
    singular_values_ : ndarray ``(n_components,)``
    """

    def __init__(self, n_components: int = 2):
        self.n_components = n_components

    def fit(self, X):
        X = _check_2d("PCA.fit", X)
        k = self.n_components
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= min(X.shape):
            raise ValueError(f"PCA: n_components must be an int in [1, min(n_samples, n_features) = "
                             f"{min(X.shape)}], got {k!r}")
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_                                                  # (N, d)
        _, S, Vt = np.linalg.svd(Xc, full_matrices=False)                   # S (r,), Vt (r, d)
        Vt = Vt[:k]
        signs = np.sign(Vt[np.arange(k), np.argmax(np.abs(Vt), axis=1)])     # largest loading -> positive
        signs[signs == 0] = 1.0
        self.components_ = Vt * signs[:, None]                               # (k, d)
        var = S ** 2 / max(len(X) - 1, 1)
        self.singular_values_ = S[:k]
        self.explained_variance_ = var[:k]
        total = var.sum()
        self.explained_variance_ratio_ = var[:k] / total if total > 0 else np.zeros(k)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        """Coordinates ``(N, n_components)`` of ``X`` on the components: ``(X - mean_) @ components_.T``."""
        if not hasattr(self, "components_"):
            raise ValueError("This PCA instance is not fitted yet. Call 'fit' first.")
        X = _check_2d("PCA.transform", X, min_samples=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"PCA.transform: X has {X.shape[1]} features, the PCA was fitted on "
                             f"{self.n_features_in_}")
        return (X - self.mean_) @ self.components_.T

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Back to feature space: ``Z @ components_ + mean_`` (the best rank-k reconstruction)."""
        return np.asarray(Z, dtype=np.float64) @ self.components_ + self.mean_


def pca(X, n_components: int = 2) -> np.ndarray:
    """``PCA(n_components).fit_transform(X)``: ``(N, n_components)`` coordinates, in float64."""
    return PCA(n_components).fit_transform(X)


def tsne(X, n_components: int = 2, perplexity: float = 30.0, random_state=0, init: str = "pca",
         n_threads: int | None = None, **kwargs):
    """t-SNE embedding ``(N, n_components)`` by scikit-learn's ``TSNE`` (optional: ``pip install nnlite[tsne]``).

    ``perplexity`` (about the number of neighbours each point keeps close) must be below ``N``;
    ``random_state`` must be an int or None (scikit-learn's convention); further keyword arguments go
    to ``sklearn.manifold.TSNE``. Raises ImportError with an install hint when scikit-learn is missing.

    ``n_threads`` caps the OpenMP/BLAS threads scikit-learn uses (``None``: what
    :func:`nnlite.ops.threads.parallel_threads` gives under the current policy -- all cores under
    ``'auto'``, 1 under ``'adaptive'`` when other programs hold the cores). On a shared machine pass
    ``n_threads=1``: on 2 cores at load 12 a 120-point t-SNE took 62 s with scikit-learn's 2 spinning
    OpenMP threads and 2.8 s with one.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError as exc:
        raise ImportError(TSNE_MISSING) from exc
    X = _check_2d("tsne", X)
    if not perplexity < len(X):
        raise ValueError(f"tsne: perplexity must be smaller than the number of samples ({len(X)}), "
                         f"got {perplexity!r}")
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"tsne: random_state must be an int or None (scikit-learn's TSNE), got {random_state!r}")
    from threadpoolctl import threadpool_limits

    from . import ops

    n = ops.threads.parallel_threads() if n_threads is None else int(n_threads)
    model = TSNE(n_components=n_components, perplexity=perplexity, random_state=random_state, init=init, **kwargs)
    with threadpool_limits(limits=max(n, 1)):
        return model.fit_transform(X)


#: Projection methods by name: ``f(X, n_components, **kwargs) -> (N, n_components)``.
PROJECTIONS = {"pca": pca, "tsne": tsne}


def project(X, method: str = "pca", n_components: int = 2, **kwargs) -> np.ndarray:
    """``X`` ``(N, d)`` projected to ``(N, n_components)`` by ``method`` ('pca' or 'tsne')."""
    if not isinstance(method, str) or method.lower() not in PROJECTIONS:
        raise ValueError(f"project: unknown method {method!r}; valid: {sorted(PROJECTIONS)}")
    return PROJECTIONS[method.lower()](X, n_components=n_components, **kwargs)


def plot_projection(Z, labels, class_names=None, title=None, xlabel="component 1", ylabel="component 2",
                    ax=None, size=6.5, s=5, alpha=0.7, legend=True):
    """A 2-D scatter of ``Z`` ``(N, 2)`` coloured by integer class ``labels`` ``(N,)``, with a legend.

    ``class_names[k]`` names class ``k`` in the legend (default: the number). Draws into ``ax`` if
    given (returns its figure), else into a new headless :class:`matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure

    Z = np.asarray(Z, dtype=np.float64)
    labels = np.asarray(labels)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"plot_projection: Z must have shape (N, 2), got {Z.shape}")
    if labels.shape != (len(Z),):
        raise ValueError(f"plot_projection: labels must have shape ({len(Z)},), got {labels.shape}")
    classes = np.unique(labels)
    if class_names is not None and len(classes) and int(classes.max()) >= len(class_names):
        raise ValueError(f"plot_projection: label {int(classes.max())} has no name in class_names "
                         f"({len(class_names)} names)")
    if ax is None:
        fig = Figure(figsize=(size + (2.0 if legend else 0.0), size))
        ax = fig.subplots()
    else:
        fig = ax.figure
    cmap = _class_colors(len(classes))
    for i, c in enumerate(classes):
        sel = labels == c
        name = class_names[int(c)] if class_names is not None else str(c)
        ax.scatter(Z[sel, 0], Z[sel, 1], s=s, alpha=alpha, color=cmap[i], label=name, linewidths=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    if legend:
        leg = ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), markerscale=max(12 / max(s, 1), 1.5),
                        frameon=False, fontsize=9)
        for h in leg.legend_handles:
            h.set_alpha(1.0)
    fig.tight_layout()
    return fig


@dataclass
class LatentViews:
    """What :func:`pca_tsne_views` computed and drew; each projection is computed once, here.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        Two panels: PCA on the left, t-SNE on the right (a note on how to install scikit-learn in its place
        when it is missing).
    pca : ndarray ``(N, 2)``
    explained_variance_ratio : ndarray ``(2,)``
        The fraction of the variance on each principal component.
    tsne : ndarray ``(N, 2)`` or None
        ``None`` when scikit-learn is missing.
    tsne_seconds : float or None
        Wall time of the t-SNE.
    tsne_missing : str or None
        The ImportError's message (with the install hint) when scikit-learn is missing.
    scores : dict of str -> float
        ``score(view, labels)`` of each view drawn, keyed ``'PCA'`` and ``'t-SNE'`` (empty without ``score``).
    """

    figure: object
    pca: np.ndarray
    explained_variance_ratio: np.ndarray
    tsne: np.ndarray | None = None
    tsne_seconds: float | None = None
    tsne_missing: str | None = None
    scores: dict = field(default_factory=dict)


def pca_tsne_views(X, labels, class_names=None, title=None, perplexity: float = 30.0, random_state=0,
                   score=None, score_name: str = "score", n_threads: int | None = None, size=(15.5, 6.8),
                   s=5) -> LatentViews:
    """PCA and t-SNE of ``X`` ``(N, d)`` side by side, coloured by integer class ``labels`` ``(N,)``.

    The left panel is the PCA (:class:`PCA`, axes labelled with each component's share of the
    variance), the right one the t-SNE (:func:`tsne` with ``perplexity``, ``random_state`` and
    ``n_threads``), with the legend; without scikit-learn the right panel says how to install it and
    the PCA is still drawn. ``score``, a function ``(view (N, 2), labels) -> float`` (say a k-NN
    accuracy), is computed once per view and shown in its panel's title as ``score_name value``.
    ``title`` is the figure's title. Returns a :class:`LatentViews` with the figure and every number
    drawn on it; nothing is printed. Save the figure with :func:`nnlite.plots.save`.
    """
    from matplotlib.figure import Figure

    X = _check_2d("pca_tsne_views", X)
    labels = np.asarray(labels)
    if labels.shape != (len(X),):
        raise ValueError(f"pca_tsne_views: labels must have shape ({len(X)},), got {labels.shape}")
    fig = Figure(figsize=size)
    ax_pca, ax_tsne = fig.subplots(1, 2)
    model = PCA(2).fit(X)
    views = LatentViews(figure=fig, pca=model.transform(X), explained_variance_ratio=model.explained_variance_ratio_)

    def scored(name, Z, text):
        if score is None:
            return text
        views.scores[name] = float(score(Z, labels))
        return f"{text}\n{score_name} {views.scores[name]:.3f}"

    r = views.explained_variance_ratio
    plot_projection(views.pca, labels, class_names, ax=ax_pca, legend=False, s=s,
                    xlabel=f"PC 1 ({r[0]:.0%} of the variance)", ylabel=f"PC 2 ({r[1]:.0%})",
                    title=scored("PCA", views.pca, f"PCA (linear; {r.sum():.0%} of the variance in 2-D)"))
    try:
        start = time.perf_counter()
        views.tsne = tsne(X, perplexity=perplexity, random_state=random_state, n_threads=n_threads)
        views.tsne_seconds = time.perf_counter() - start
    except ImportError as exc:
        views.tsne_missing = str(exc)
        ax_tsne.axis("off")
        ax_tsne.text(0.5, 0.5, "t-SNE needs scikit-learn:\npip install nnlite[tsne]", ha="center", va="center",
                     fontsize=14, transform=ax_tsne.transAxes)
    else:
        plot_projection(views.tsne, labels, class_names, ax=ax_tsne, legend=True, s=s, xlabel="t-SNE 1",
                        ylabel="t-SNE 2",
                        title=scored("t-SNE", views.tsne,
                                     f"t-SNE (perplexity {perplexity:g}; neighbourhoods kept, distances not)"))
    if title:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return views


def _class_colors(n):
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    return [colormaps["tab20"](i % 20) for i in range(n)]
