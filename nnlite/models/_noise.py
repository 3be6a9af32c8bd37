"""Randomness the models draw besides their weights: corrupted training inputs and validation noise.

Two mixins for :class:`~nnlite.models._base.BaseModel` subclasses (listed before the model base, so
their hooks take precedence):

* :class:`_ValidationNoise` -- one scheme for every model whose validation loss is random (the
  denoisers' corruption, the VAE's reparameterisation noise): a seed drawn once per ``fit`` from the
  model's generator, and a validation generator re-seeded with it at every epoch. Each validation
  batch gets its own draws, every epoch the same ones, so validation losses compare across epochs;
  :meth:`score` starts from the same draws, so scoring the same data twice gives the same number.
  The training streams are untouched after the one seed.
* :class:`_NoisyInputs` -- a denoiser's ``noise`` / ``noise_level`` arguments, :meth:`add_noise`, fresh
  noise for every training batch (``_train_input``) and the fixed validation noise (``_val_input``).
  ``noise_level`` is one level or a range ``(low, high)``: with a range every sample gets its own
  level, drawn uniformly from the same generator as its noise.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..noise import NOISES, get_noise
from ..random import as_generator
from ..trainer import Callback

__all__ = []

#: Validation seeds are drawn in ``[0, _SEED_BOUND)`` (any non-negative int64).
_SEED_BOUND = 2**63 - 1


class _ValidationGenerator(Callback):
    """The generator validation draws from, re-seeded with the model's ``_val_seed`` at every epoch."""

    def __init__(self, model):
        self.model = model
        self.reset()

    def reset(self):
        self.rng = np.random.default_rng(self.model._val_seed)
        if self.model._val_rng_in_checkpoint:
            self.model._val_rng = self.rng

    def on_epoch_begin(self, trainer, epoch):
        self.reset()


class _ValidationNoise:
    """Validation randomness: ``_val_generator()``, the same sequence of draws every epoch."""

    #: Also hold the validation generator as the attribute ``_val_rng``, so that it is one of the
    #: model's generators a checkpoint saves (the denoisers' checkpoints hold it, the VAE's do not).
    _val_rng_in_checkpoint = False

    def _before_fit(self, X, Xv):
        super()._before_fit(X, Xv)
        self._val_seed = int(self._rng.integers(_SEED_BOUND))
        self._val_noise = _ValidationGenerator(self)

    def _extra_callbacks(self):
        return [*super()._extra_callbacks(), self._val_noise]

    def _val_generator(self):
        if "_val_noise" not in vars(self):       # restored from a checkpoint: the seed came back, not the stream
            self._val_noise = _ValidationGenerator(self)
        return self._val_noise.rng

    def score(self, X, y=None) -> float:
        """As :meth:`BaseModel.score`, with the noise of every validation pass: the same ``X`` always
        gets the same score."""
        self._check_fitted()
        self._val_generator()
        self._val_noise.reset()
        return super().score(X, y)


class _NoisyInputs(_ValidationNoise):
    """A model trained to undo ``noise`` at ``noise_level`` (attributes set by its constructor)."""

    _val_rng_in_checkpoint = True

    def _check_noise(self):
        """Validate ``noise`` and ``noise_level``; sets ``_noise_fn`` and ``_noise_range`` (``(low, high)``
        for a range, ``None`` for one level)."""
        name = self._name()
        fn = get_noise(self.noise) if (callable(self.noise) or self.noise in NOISES) else None
        if fn is None:
            raise ValueError(f"{name}: unknown noise {self.noise!r}; valid names are: {', '.join(sorted(NOISES))} "
                             "(or a callable noise(x, level, rng))")
        lvl = self.noise_level
        if isinstance(lvl, (tuple, list)):
            if len(lvl) != 2 or not all(_finite_real(v) for v in lvl) or not lvl[0] <= lvl[1]:
                raise ValueError(f"{name}: noise_level as a range must be a pair (low, high) of finite numbers "
                                 f"with low <= high, got {lvl!r}")
            levels = tuple(float(v) for v in lvl)
        elif _finite_real(lvl):
            levels = (lvl,)
        else:
            raise ValueError(f"{name}: noise_level must be a finite number or a pair (low, high), got {lvl!r}")
        for v in levels:
            if self.noise == "gaussian" and v < 0:
                raise ValueError(f"{name}: noise_level (sigma of 'gaussian') must be >= 0, got {lvl!r}")
            if isinstance(self.noise, str) and self.noise != "gaussian" and not 0 <= v <= 1:
                raise ValueError(f"{name}: noise_level (probability p of {self.noise!r}) must be in [0, 1], "
                                 f"got {lvl!r}")
        self._noise_fn = fn
        self._noise_range = levels if len(levels) == 2 else None

    def _corrupt(self, X, rng):
        """``X`` with this model's noise from ``rng``. With a range ``(low, high)``: one level per sample
        (axis 0), all drawn first, ``rng.uniform(low, high, len(X))``, then each sample's noise in turn."""
        return self._corrupt_with_levels(X, rng)[0]

    def _corrupt_with_levels(self, X, rng):
        """``(noisy X, levels)``: :meth:`_corrupt`'s result and every sample's level, float64 ``(N,)``."""
        if self._noise_range is None:
            return self._noise_fn(X, self.noise_level, rng), np.full(len(X), float(self.noise_level))
        low, high = self._noise_range
        levels = rng.uniform(low, high, len(X))
        out = np.empty_like(X) if np.issubdtype(X.dtype, np.floating) else np.empty(X.shape, np.float32)
        for i, level in enumerate(levels):
            out[i] = self._noise_fn(X[i], float(level), rng)
        return out, levels

    def add_noise(self, X, random_state=None):
        """``X`` corrupted with this model's noise and level (a convenience for making test inputs); with a
        range of levels, each sample (axis 0) gets its own level, drawn uniformly from it."""
        self._validate_params()
        return self._corrupt(np.asarray(X), as_generator(random_state))

    def _train_input(self, xb):
        """The training batch ``xb`` with fresh noise (the model's generator: new noise every epoch)."""
        return self._corrupt(xb, self._rng)

    def _val_input(self, xb):
        """The validation batch ``xb`` with the epoch-independent validation noise."""
        return self._corrupt(xb, self._val_generator())


def _finite_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))
