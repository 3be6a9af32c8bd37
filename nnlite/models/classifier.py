"""A small multilayer-perceptron classifier, scikit-learn style, trained with nnlite itself.

Its job in nnlite is to *judge generated images* without any pretrained network: train it on the
real training images, then read the class histogram of a generator's samples (mode coverage, see
:func:`nnlite.metrics.evaluate_samples`). It is also a plain, useful classifier.

.. math::
    p(y = c \\mid x) = \\mathrm{softmax}(f_\\theta(x))_c, \\qquad
    L = -\\frac1N \\sum_i \\log p(y_i \\mid x_i), \\qquad
    \\frac{\\partial L}{\\partial \\mathrm{logits}} = \\frac{\\mathrm{softmax} - \\mathrm{onehot}(y)}{N}

>>> from nnlite.models import MLPClassifier
>>> clf = MLPClassifier(hidden=(256,), epochs=5, random_state=0).fit(X_train, y_train)  # doctest: +SKIP
>>> clf.score(X_test, y_test)                                                           # doctest: +SKIP
0.87
"""
from __future__ import annotations

import numpy as np

from ..layers import Dense, Dropout, Sequential
from ..losses import CrossEntropyLoss
from ..optim import OPTIMIZERS, get_optimizer
from ..random import as_generator, spawn
from ..trainer import Trainer
from ._base import HIDDEN_ACTIVATIONS, BaseModel

__all__ = ["MLPClassifier"]


class MLPClassifier(BaseModel):
    """Fully connected classifier ``n_features -> hidden -> n_classes`` with a softmax cross-entropy loss.

    Parameters
    ----------
    hidden : tuple of int, default (256,)
        Hidden widths.
    activation : str, default 'relu'
        Hidden activation (fused into :class:`nnlite.Dense`).
    dropout : float, default 0.0
        Dropout probability after every hidden layer (training only).
    optimizer : str, default 'adam'
    lr : float, default 1e-3
    epochs : int or None, default None
        ``None``: enough epochs for about 3000 optimizer steps (at least 5).
    batch_size : int, default 128
    weight_decay : float, default 0.0
    dtype : float32 or float64
    random_state : None, int or Generator
        Seeds weights, dropout masks and shuffling; same int => bit-identical fits.

    Attributes
    ----------
    classes_ : ndarray
        The sorted distinct labels seen in ``fit``; ``predict`` returns values from it.
    network_ : nnlite.Sequential
        Outputs logits ``(N, n_classes)``.
    history_ : dict of lists
        Per epoch ``'loss'`` (and ``'val_loss'``, ``'val_accuracy'`` with ``validation_data``).
    loss_curve_ : list of float
    n_features_in_, input_shape_ : int, tuple
    """

    _default_steps = 3000
    _min_epochs = 5
    _fitted_attribute = "network_"

    def __init__(self, hidden=(256,), activation="relu", dropout=0.0, optimizer="adam", lr=1e-3, epochs=None,
                 batch_size=128, weight_decay=0.0, dtype=np.float32, random_state=None):
        super().__init__()
        self.hidden = hidden
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.dtype = dtype
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _validate_params(self):
        self._check_hidden(self.hidden)
        self._check_choice("activation", self.activation, HIDDEN_ACTIVATIONS)
        self._check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        self._check_positive("lr", self.lr)
        self._check_int("epochs", self.epochs, allow_none=True)
        self._check_int("batch_size", self.batch_size)
        if self.dtype is None or np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"{self._name()}: dtype must be float32 or float64, got {self.dtype!r}")
        as_generator(self.random_state)
        self._check_positive("weight_decay", self.weight_decay, allow_zero=True)
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"{self._name()}: dropout must be a number in [0, 1), got {self.dropout!r}")

    def _check_y(self, y, n):
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"{self._name()}: y must be a 1-D array with one label per sample ({n}), "
                             f"got shape {y.shape}")
        return y

    # ------------------------------------------------------------------ training
    def fit(self, X, y, epochs=None, validation_data=None, verbose=1, callbacks=()):
        """Train from scratch on ``X`` (``(N, n_features)`` or images ``(N, H, W)``) and labels ``y``.

        ``validation_data=(X_val, y_val)`` adds ``val_loss`` and ``val_accuracy`` to ``history_``;
        ``callbacks`` are extra :class:`~nnlite.Callback` hooks for the trainer. ``verbose=1`` (default)
        shows a progress bar with the run's ETA on stderr (a line per epoch off a terminal), ``0`` nothing.
        Returns ``self``.
        """
        self._validate_params()
        X = self._check_X(X, reset=True)
        y = self._check_y(y, len(X))
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{self._name()}: y must contain at least 2 classes, got {self.classes_.tolist()}")
        rng = as_generator(self.random_state)
        init_rng, drop_rng, shuffle_rng = spawn(rng), spawn(rng), spawn(rng)
        dtype = np.dtype(self.dtype)
        sizes = (self.n_features_in_, *self._check_hidden(self.hidden))
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers.append(Dense(a, b, activation=self.activation, dtype=dtype, random_state=init_rng))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout, random_state=drop_rng))
        layers.append(Dense(sizes[-1], len(self.classes_), activation=None, dtype=dtype, random_state=init_rng))
        layers[0].needs_input_grad = False           # nobody needs dL/dX: skip that product
        self.network_ = Sequential(*layers)
        bs, ep, lr, _ = self._resolve_schedule(len(X), epochs, None, None)
        kwargs = {"weight_decay": float(self.weight_decay)} if self.weight_decay else {}
        opt = get_optimizer(self.optimizer, self.network_.parameters(), lr=float(lr), **kwargs)
        loss = CrossEntropyLoss()
        Xv = yv = None
        if validation_data is not None:
            Xv = self._check_X(validation_data[0], "validation X")
            yv = self._label_indices(self._check_y(validation_data[1], len(Xv)))

        def step(xb, yb):
            logits = self.network_(xb)                                   # (B, n_classes)
            value = loss.forward(logits, yb)
            self.network_.backward(loss.backward())
            return value

        def eval_step(xb, yb):
            logits = self.network_(xb)
            return {"loss": loss.forward(logits, yb), "accuracy": float(np.mean(logits.argmax(1) == yb))}

        trainer = Trainer(self, opt, step=step, eval_step=eval_step, batch_size=bs, epochs=ep, shuffle=True,
                          random_state=shuffle_rng, callbacks=list(callbacks), verbose=verbose)
        history = trainer.fit(X, y_idx, validation_data=None if Xv is None else (Xv, yv))
        self.history_ = {k: list(v) for k, v in history.items()}
        self.loss_curve_ = self.history_["loss"]
        self.n_epochs_, self.n_iter_ = trainer.epoch, trainer.global_step
        self.eval()
        return self

    def _label_indices(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        bad = self.classes_[idx] != y
        if np.any(bad):
            raise ValueError(f"{self._name()}: labels {np.unique(y[bad]).tolist()} were not seen in fit "
                             f"(classes_ = {self.classes_.tolist()})")
        return idx

    # ------------------------------------------------------------------ Module interface
    def forward(self, x):
        """Logits ``(N, n_classes)`` of flat inputs (no validation)."""
        return self.network_(x)

    def backward(self, dy):
        return self.network_.backward(dy)

    # ------------------------------------------------------------------ inference
    def decision_function(self, X):
        """Logits ``(N, n_classes)``."""
        self._check_fitted()
        X = self._check_X(X)
        self.eval()
        return self._in_chunks(self.network_, X)

    def predict_proba(self, X):
        """Class probabilities ``(N, n_classes)``, columns in the order of ``classes_``."""
        z = self.decision_function(X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class of each sample, ``(N,)``, values from ``classes_``."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def __sklearn_tags__(self):
        """scikit-learn's tags of a classifier (scikit-learn is optional)."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags(two_d_array=True, three_d_array=True))

    def score(self, X, y):
        """Accuracy: the fraction of samples whose predicted class equals ``y``."""
        pred = self.predict(X)
        y = self._check_y(y, len(pred))
        return float(np.mean(pred == y))
