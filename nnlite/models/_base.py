"""What every scikit-learn-like nnlite model shares: parameters, validation, the fit loop, not-fitted errors.

A model is both an estimator (``__init__`` only stores its arguments; ``fit`` resolves the seed, builds
the networks and trains; fitted attributes end in ``_``) and an :class:`nnlite.Module` whose children
are the fitted networks (``encoder_``, ``decoder_``), so ``parameters()``, ``state_dict()``,
``double()`` and :func:`nnlite.gradcheck` work on a fitted model as on any layer.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from .._validation import check_choice, check_finite, check_int, check_number, int_tuple
from ..callbacks import CosineLR
from ..images.layout import data_domain
from ..layers import Dense, Sequential, get_activation
from ..layers.activations import ELEMENTWISE_ACTIVATIONS, parse_activation
from ..module import Module
from ..optim import OPTIMIZERS, get_optimizer
from ..random import as_generator, spawn
from ..summary import Summary, summary
from ..trainer import Trainer
from ._registry import register

__all__ = ["NotFittedError", "BaseModel", "mlp"]


class NotFittedError(ValueError, AttributeError):
    """Raised when a model is used before ``fit`` (like ``sklearn.exceptions.NotFittedError``)."""


#: Activation names a hidden layer may use (softmax is not elementwise; 'linear' is an alias of identity).
HIDDEN_ACTIVATIONS = ELEMENTWISE_ACTIVATIONS

LR_SCHEDULES = ("cosine", "constant")


def mlp(sizes, activation, random_state=None, dtype=np.float32, output_activation=None) -> Sequential:
    """``Dense(act) -> ... -> Dense(act) -> Dense(identity) [-> output_activation]`` through
    ``sizes = (n_in, h1, ..., n_out)``. ``activation`` is a name, with a parameter where it takes one
    (``'leaky_relu:0.2'``, see :func:`parse_activation`).

    :class:`~nnlite.Dense` is ``Linear`` followed by the activation, fused (same weights, same maths,
    one pass less over memory). Every layer uses PyTorch's default initialisation and draws from
    ``random_state`` in order. The output activation, if any, is a separate last module so that the
    models can stop before it and compute a BCE on logits.
    """
    rng = as_generator(random_state)
    n = len(sizes) - 1
    act, alpha = parse_activation("mlp", activation)
    layers = [Dense(a, b, act, alpha=alpha, dtype=dtype, random_state=rng) if i < n - 1
              else Dense(a, b, "identity", dtype=dtype, random_state=rng)
              for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]
    if output_activation is not None:
        layers.append(get_activation(output_activation))
    return Sequential(*layers)


class _NoInputGrad:
    """``with _NoInputGrad(seq): ...`` -- the first layer of ``seq`` skips ``dL/dx`` (training needs none)."""

    def __init__(self, seq):
        self.layer = seq[0] if len(seq) and hasattr(seq[0], "needs_input_grad") else None

    def __enter__(self):
        if self.layer is not None:
            self.layer.needs_input_grad = False

    def __exit__(self, *exc):
        if self.layer is not None:
            self.layer.needs_input_grad = True


class BaseModel(Module):
    """Shared machinery. Subclasses define ``__init__`` (storing arguments only), ``_validate_params``,
    ``_build(n_features, rng)``, ``_train_step(xb, yb)`` and ``_eval_step(xb, yb)``.

    Class attributes
    ----------------
    _default_steps : int
        ``epochs=None`` trains for ``max(_min_epochs, ceil(_default_steps / batches_per_epoch))`` epochs.
    _default_batch_size : int
        ``batch_size=None`` uses ``min(n_samples, _default_batch_size)``.
    _fitted_attribute : str
        A network ``fit`` builds; until it exists the model raises :class:`NotFittedError`.
    _inference_rows : int
        Samples per forward pass at inference (:meth:`_in_chunks`), which bounds the layers' caches.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)  # the classes a checkpoint may name (nnlite.models._registry)

    _default_steps = 2000
    _fitted_attribute = "decoder_"
    _inference_rows = 4096
    _min_epochs = 10
    _default_batch_size = 256
    _final_lr_fraction = 0.01

    # ------------------------------------------------------------------ scikit-learn protocol
    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind != p.VAR_KEYWORD]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, as in scikit-learn."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments (takes effect at the next ``fit``); unknown names raise ValueError."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter {name!r}; valid: {valid}")
            setattr(self, name, value)
        return self

    def summary(self, input_shape=None) -> Summary:
        """Keras-style table of the fitted networks' layers, output shapes and parameter counts."""
        self._check_fitted()
        return summary(self, input_shape)

    # ------------------------------------------------------------------ model selection
    #: Samples per evaluation batch in :meth:`score` (memory, not results: the loss is a mean over samples).
    _score_batch_size = 512

    def score(self, X, y=None) -> float:
        """Higher is better, as scikit-learn's model selection expects: minus the mean per-sample loss
        the model trains on, evaluated on ``X`` in eval mode (for a VAE the ELBO; for an autoencoder
        minus the reconstruction loss, after the same corruption as validation for a denoiser).

        ``GridSearchCV(VAE(), {"latent_dim": [2, 8]}).fit(X)`` picks the setting with the best score.
        """
        self._check_fitted()
        X = self._check_X(X)
        was_training = self.training
        self.eval()
        total, seen = 0.0, 0
        try:
            for start in range(0, len(X), self._score_batch_size):
                xb = X[start:start + self._score_batch_size]
                logs = self._eval_step(xb, xb)
                loss = logs["loss"] if isinstance(logs, dict) else logs
                total += float(loss) * len(xb)
                seen += len(xb)
        finally:
            if was_training:
                self.train()
        return -total / seen

    def __sklearn_tags__(self):
        """scikit-learn's estimator tags (used by its model selection; scikit-learn is optional)."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags() if hasattr(self, "transform") else None,
                    input_tags=InputTags(two_d_array=True, three_d_array=True), non_deterministic=False)

    # ------------------------------------------------------------------ Keras protocol
    def get_config(self) -> dict:
        """The constructor arguments as JSON-ready values, as in Keras: tuples become lists and dtypes
        their names; a ``numpy.random.Generator`` as ``random_state`` is left out (it cannot be written
        down), so ``from_config`` then gives ``random_state=None``. ``json.dumps`` accepts the result."""
        from ..checkpoint.write import _jsonable  # the same rules checkpoints use

        return _jsonable(self.get_params(deep=False))

    @classmethod
    def from_config(cls, config: dict):
        """A new, unfitted model from :meth:`get_config`'s output (``cls(**config)``)."""
        valid = cls._param_names()
        unknown = sorted(set(config) - set(valid))
        if unknown:
            raise ValueError(f"{cls.__name__}.from_config: unknown parameter(s) {unknown}; valid: {valid}")
        return cls(**config)

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name in self._param_names():
            default = sig.parameters[name].default
            value = getattr(self, name)
            if default is inspect.Parameter.empty or not _same(value, default):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # ------------------------------------------------------------------ validation helpers
    def _name(self):
        return type(self).__name__

    # The checks of nnlite._validation, with this model's name first in the message.
    def _check_int(self, name, value, low=1, allow_none=False):
        return check_int(self._name(), name, value, low, allow_none)

    def _check_positive(self, name, value, allow_zero=False):
        return check_number(self._name(), name, value, allow_zero)

    def _check_hidden(self, hidden, name="hidden"):
        return int_tuple(self._name(), name, hidden, "layer widths")

    def _check_choice(self, name, value, choices):
        return check_choice(self._name(), name, value, choices)

    def _check_common(self):
        """Arguments every MLP model has: hidden, activation, and the training ones."""
        self._check_hidden(self.hidden)
        parse_activation(self._name(), self.activation)
        self._check_training()

    def _check_training(self):
        """Arguments every model has: optimizer, lr, epochs, batch_size, lr_schedule, dtype, random_state."""
        self._check_choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        self._check_positive("lr", self.lr)
        self._check_int("epochs", self.epochs, allow_none=True)
        self._check_int("batch_size", self.batch_size, allow_none=True)
        self._check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.dtype is None or np.dtype(self.dtype) not in (np.float32, np.float64):
            raise ValueError(f"{self._name()}: dtype must be float32 or float64, got {self.dtype!r}")
        as_generator(self.random_state)  # raises on a negative or non-int seed

    # ------------------------------------------------------------------ data
    def _param_dtype(self):
        params = self.parameters()
        return params[0].dtype if params else np.dtype(self.dtype)

    def _check_X(self, X, name="X", reset=False):
        """``X`` as a C-contiguous ``(N, n_features)`` array of the model's dtype (images are flattened)."""
        if not isinstance(X, np.ndarray):
            X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(f"{self._name()}: {name} must have samples on axis 0 and features after "
                             f"(2-D, or images (N, H, W)), got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
            raise TypeError(f"{self._name()}: {name} must be numeric, got dtype {X.dtype}")
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
            self.n_features_in_ = int(np.prod(X.shape[1:]))
        elif tuple(X.shape[1:]) != self.input_shape_ and int(np.prod(X.shape[1:])) != self.n_features_in_:
            raise ValueError(f"{self._name()}: {name} has shape {X.shape}, but the model was fitted on samples of "
                             f"shape {self.input_shape_} ({self.n_features_in_} features)")
        if len(X) == 0:
            raise ValueError(f"{self._name()}: {name} has no samples (shape {X.shape})")
        dtype = np.dtype(self.dtype) if reset else self._param_dtype()
        X = np.ascontiguousarray(X.reshape(len(X), -1), dtype=dtype)
        return check_finite(self._name(), name, X)

    def _as_input_shape(self, Y):
        """Reshape flat outputs ``(N, n_features_in_)`` back to the sample shape seen in ``fit``."""
        return Y.reshape((len(Y),) + self.input_shape_)

    def _check_fitted(self):
        if not hasattr(self, self._fitted_attribute):
            raise NotFittedError(f"This {self._name()} instance is not fitted yet. Call 'fit' with appropriate "
                                 "data before using this method.")

    def _check_codes(self, Z, code_shape, owner):
        """Codes ``Z`` ``(N, *code_shape)`` for a decoder: finite, in the parameters' dtype, C-contiguous."""
        Z = np.asarray(Z)
        if Z.ndim != 1 + len(code_shape) or Z.shape[1:] != tuple(code_shape):
            raise ValueError(f"{owner} expects codes of shape (N, {', '.join(map(str, code_shape))}), got {Z.shape}")
        if not (np.issubdtype(Z.dtype, np.number) or Z.dtype == np.bool_):
            raise TypeError(f"{owner}: Z must be numeric, got dtype {Z.dtype}")
        return check_finite(owner, "Z", np.ascontiguousarray(Z, dtype=self._param_dtype()))

    def _in_chunks(self, fn, A):
        """``fn(A)``, ``_inference_rows`` rows at a time (the layers' caches stay small), concatenated."""
        n = self._inference_rows
        if len(A) <= n:
            return fn(A)
        return np.concatenate([fn(A[s:s + n]) for s in range(0, len(A), n)])

    # ------------------------------------------------------------------ training
    def _resolve_schedule(self, n, epochs, batch_size, lr):
        bs = self.batch_size if batch_size is None else self._check_int("batch_size", batch_size)
        bs = min(n, self._default_batch_size) if bs is None else min(bs, n)
        steps_per_epoch = math.ceil(n / bs)
        ep = self.epochs if epochs is None else self._check_int("epochs", epochs)
        if ep is None:
            ep = max(self._min_epochs, math.ceil(self._default_steps / steps_per_epoch))
        lr = self.lr if lr is None else self._check_positive("lr", lr)
        return bs, ep, lr, steps_per_epoch

    def fit(self, X, epochs=None, batch_size=None, lr=None, validation_data=None, verbose=1, callbacks=()):
        """Build the networks for ``X`` and train them from scratch (a second ``fit`` starts over).

        Parameters
        ----------
        X : array of shape ``(N, n_features)`` or ``(N, H, W)``
            Training samples, values in [0, 1] for a BCE loss.
        epochs : int, optional
            ``None``: the constructor's ``epochs``, and if that is ``None`` too, the model's default
            (enough epochs for ``_default_steps`` optimizer steps, at least ``_min_epochs``).
        batch_size : int, optional
            ``None``: the constructor's, else ``min(N, 256)`` (full batch on the tiny bitmaps).
        lr : float, optional
            Initial learning rate (``None``: the constructor's ``lr``); with ``lr_schedule='cosine'``
            it decays to 1% of that over the run.
        validation_data : array, optional
            Samples to evaluate after every epoch (``history_['val_loss']``, ...).
        verbose : int
            1 (default): a progress bar with the loss, samples/s and the run's ETA on stderr, redrawn in
            place on a terminal, one line per epoch elsewhere (:class:`nnlite.trainer.ProgressBar`);
            0: silent.
        callbacks : list of nnlite.Callback
            Extra hooks for the :class:`~nnlite.Trainer` (checkpoints, early stopping, logging).

        Returns
        -------
        self
        """
        self._validate_params()
        given = getattr(X, "shape", None)
        X = self._check_X(X, reset=True)
        self.fit_domain_ = data_domain(X, (given or X.shape)[1:])  # what the model was fitted on, kept in checkpoints
        Xv = None if validation_data is None else self._check_X(validation_data, "validation_data")
        self._check_data_range(X)
        rng = as_generator(self.random_state)
        init_rng, shuffle_rng, self._rng = spawn(rng), spawn(rng), spawn(rng)
        self._build(self.n_features_in_, init_rng)
        bs, ep, lr, steps_per_epoch = self._resolve_schedule(len(X), epochs, batch_size, lr)
        opt = get_optimizer(self.optimizer, self.parameters(), lr=lr)
        schedule = []
        if self.lr_schedule == "cosine":
            schedule.append(CosineLR(lr, ep * steps_per_epoch, self._final_lr_fraction))
        self._before_fit(X, Xv)
        all_callbacks = [*schedule, *self._extra_callbacks(), *callbacks]
        trainer = Trainer(self, self._trainer_optimizer(opt), step=self._train_step, eval_step=self._eval_step,
                          batch_size=bs, epochs=ep, shuffle=True, random_state=shuffle_rng, callbacks=all_callbacks,
                          verbose=verbose)
        history = trainer.fit(X, validation_data=Xv)
        self.history_ = {k: list(v) for k, v in history.items()}
        self._after_fit()
        self.loss_curve_ = self.history_["loss"]
        self.n_epochs_ = trainer.epoch
        self.n_iter_ = trainer.global_step
        self.batch_size_ = bs
        self.eval()
        return self

    def _check_data_range(self, X):
        pass

    def _before_fit(self, X, Xv):
        pass

    def _after_fit(self):
        pass

    def _extra_callbacks(self):
        return []

    def _trainer_optimizer(self, opt):
        """What the Trainer steps, schedules and checkpoints: ``opt``, or a model's wrapper around it and
        the other optimizers it steps itself (so a checkpoint holds every optimizer's state)."""
        return opt

    def _validate_params(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _build(self, n_features, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _train_step(self, xb, yb):  # pragma: no cover - abstract
        raise NotImplementedError

    def _eval_step(self, xb, yb):  # pragma: no cover - abstract
        raise NotImplementedError


def run_layers(layers, x):
    """Forward through a list of layers (a Sequential without its last layer, say)."""
    for layer in layers:
        x = layer(x)
    return x


def backward_layers(layers, dy):
    """Backward through a list of layers, last first."""
    for layer in reversed(layers):
        dy = layer.backward(dy)
    return dy


def _same(a, b):
    """``a`` equals the default ``b``, also when one went through JSON (a checkpoint's configuration):
    ``[32, 64]`` is the default ``(32, 64)`` and ``'float32'`` the default ``np.float32``."""
    from ..checkpoint.write import _jsonable

    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        if bool(a == b):
            return True
    except Exception:  # noqa: BLE001 - comparison of odd types
        return False
    ja, jb = _jsonable(a), _jsonable(b)
    return ja is not None and ja == jb and not isinstance(ja, (dict,)) and type(ja) is type(jb)
