"""scikit-learn's conventions: clone, score, GridSearchCV and cross_val_score run on nnlite's models."""
import warnings

import numpy as np
import pytest

from nnlite.models import VAE, Autoencoder, ConvDenoisingAutoencoder, DenoisingAutoencoder, MLPClassifier

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install nnlite[sklearn])")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402


def _flat(n=60):
    return np.random.default_rng(0).random((n, 36)).astype(np.float32)


def test_grid_search_picks_a_vae_latent_size_by_its_elbo():
    X = _flat()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no "estimator has no __sklearn_tags__" warnings either
        search = GridSearchCV(VAE(hidden=(16,), epochs=2, random_state=0), {"latent_dim": [2, 8]}, cv=3).fit(X)
    assert search.best_params_["latent_dim"] in (2, 8)
    fitted = search.best_estimator_
    assert search.best_score_ == pytest.approx(np.mean([
        search.cv_results_[f"split{i}_test_score"][search.best_index_] for i in range(3)]))
    assert fitted.score(X) == pytest.approx(-fitted.history_["loss"][-1], rel=0.2)  # the ELBO, higher is better


@pytest.mark.parametrize("model, X", [
    (Autoencoder(hidden=(8,), epochs=2, random_state=0), _flat()),
    (DenoisingAutoencoder(hidden=(8,), latent_dim=4, epochs=2, random_state=0), _flat()),
    (ConvDenoisingAutoencoder(channels=(4, 6), epochs=1, random_state=0),
     np.random.default_rng(0).random((30, 8, 8)).astype(np.float32)),
])
def test_cross_val_score_on_reconstruction_models(model, X):
    scores = cross_val_score(model, X, cv=3)
    assert scores.shape == (3,) and np.all(scores < 0) and np.all(np.isfinite(scores))


def test_a_better_fit_scores_higher():
    X = _flat()
    short = Autoencoder(hidden=(16,), epochs=1, random_state=0).fit(X)
    long = clone(short).set_params(epochs=60).fit(X)
    assert long.score(X) > short.score(X)


def test_the_classifier_is_a_classifier_to_sklearn():
    from sklearn.base import is_classifier

    X, y = _flat(), np.arange(60) % 3
    assert is_classifier(MLPClassifier())
    scores = cross_val_score(MLPClassifier(hidden=(8,), epochs=2, random_state=0), X, y, cv=3)
    assert np.all((0 <= scores) & (scores <= 1))


def test_score_needs_a_fitted_model():
    from nnlite.models import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        VAE().score(_flat())

