"""MLPClassifier: it learns, its probabilities are probabilities, and its backward passes a gradcheck."""
import numpy as np
import pytest

from nnlite.gradcheck import gradcheck
from nnlite.models import MLPClassifier, NotFittedError


def blobs(n=300, d=10, k=3, seed=0, spread=0.6):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, size=(k, d))
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(0, spread, (n, d)), y


def test_learns_separable_classes_and_generalises():
    X_all, y_all = blobs(n=700, seed=0)
    clf = MLPClassifier(hidden=(32,), epochs=30, batch_size=32, random_state=0).fit(X_all[:500], y_all[:500])
    assert clf.score(X_all[500:], y_all[500:]) > 0.95
    assert clf.loss_curve_[-1] < 0.3 * clf.loss_curve_[0]


def test_predict_proba_rows_are_distributions_and_labels_are_kept():
    X, y = blobs(k=3, seed=1)
    labels = np.array(["coat", "bag", "shirt"])[y]
    clf = MLPClassifier(hidden=(16,), epochs=5, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["bag", "coat", "shirt"]
    P = clf.predict_proba(X)
    assert P.shape == (len(X), 3) and np.allclose(P.sum(1), 1) and (P >= 0).all()
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[P.argmax(1)])


def test_gradcheck_network_every_parameter():
    X, y = blobs(n=20, d=5, k=3, seed=2)
    clf = MLPClassifier(hidden=(6,), activation="tanh", epochs=1, dtype=np.float64, random_state=0).fit(X, y)
    # the first layer skips dL/dX (needs_input_grad=False: nobody uses it), so only the weights are checked
    res = gradcheck(clf, X[:4], wrt_input=False)
    assert set(res.errors) == {n for n, _ in clf.named_parameters()}
    assert res.passed, str(res)


def test_validation_history_and_reproducibility():
    X, y = blobs(seed=3)
    a = MLPClassifier(hidden=(8,), dropout=0.2, epochs=3, random_state=4).fit(X[:200], y[:200],
                                                                              validation_data=(X[200:], y[200:]))
    b = MLPClassifier(hidden=(8,), dropout=0.2, epochs=3, random_state=4).fit(X[:200], y[:200])
    assert len(a.history_["val_accuracy"]) == 3
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_errors():
    X, y = blobs(n=10)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier(epochs=1).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="one label per sample"):
        MLPClassifier(epochs=1).fit(X, y[:5])
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(dropout=1.0).fit(X, y)
    clf = MLPClassifier(epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="were not seen in fit"):
        clf.fit(X, y, validation_data=(X, y + 10))


def test_fit_on_no_samples_names_the_problem():
    with pytest.raises(ValueError, match=r"MLPClassifier: X has no samples \(shape \(0, 144\)\)"):
        MLPClassifier(epochs=1).fit(np.zeros((0, 144), np.float32), np.zeros(0, int))
