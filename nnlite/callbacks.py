"""Callbacks for :class:`nnlite.Trainer`: checkpoints, history files, early stopping, and for generative
models (anything with ``generate(codes)`` and ``latent_dim``) sample grids and a collapse monitor.

>>> trainer = Trainer(model, opt, loss=MSELoss(), epochs=20, random_state=0,          # doctest: +SKIP
...                   callbacks=[ModelCheckpoint("runs/ae/checkpoint.npz"),
...                              HistoryLogger("runs/ae/history")])
>>> trainer.fit(X)                                                                     # doctest: +SKIP
>>> trainer.fit(X, epochs=20, resume_from="runs/ae/checkpoint.npz")  # after a crash   # doctest: +SKIP
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from ._validation import check_int, check_number
from .atomic import RunLock, atomic_write_text
from .checkpoint import CheckpointError, nonfinite_entries, save_checkpoint
from .metrics import spread_statistics
from .random import as_generator

__all__ = ["Callback", "LambdaCallback", "TrainingDivergedError", "ModelCheckpoint", "HistoryLogger", "EarlyStopping",
           "CosineLR", "history_to_csv", "SaveSamples", "SampleMonitor", "DenoisingValidation"]


class Callback:
    """Hooks called by :class:`nnlite.Trainer`. Set ``trainer.stop_training = True`` to stop early."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass

    def on_train_abort(self, trainer, error: BaseException):
        """Called instead of ``on_train_end`` when training stops with an exception (divergence,
        Ctrl-C), for the callbacks whose ``on_train_begin`` ran: release what they hold."""


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda tr, ep, logs: print(logs))``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; valid: "
                                 f"{[n for n in vars(Callback) if n.startswith('on_')]}")
            setattr(self, name, fn)


class TrainingDivergedError(RuntimeError):
    """Training stopped because a loss, a weight or an optimizer buffer became NaN or infinite.

    The model holds the last good weights, and a :class:`ModelCheckpoint` file, if any, the last good
    checkpoint.
    """


def _positive_int_or_none(owner, name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be an int >= 1 or None, got {value!r}")
    return int(value)


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint (model, optimizer, trainer state, RNGs) during training.

    Parameters
    ----------
    path : str or Path
        The checkpoint file, overwritten atomically each time, so it always holds the **last good**
        state. May contain ``{epoch}`` / ``{step}`` to keep one file per save instead.
    every_epochs : int or None
        Save at the end of every ``every_epochs``-th epoch (default 1).
    every_steps : int or None
        Also save every ``every_steps`` optimizer steps, in the middle of epochs (resume replays the rest
        of the epoch exactly).
    best_path : str or Path, optional
        Also keep the checkpoint with the lowest ``monitor`` value seen so far here.
    monitor : str
        History key for ``best_path`` (default ``'val_loss'`` falling back to ``'loss'``).
    config, extra, generators :
        Passed to :func:`nnlite.checkpoint.save_checkpoint` (model configuration, your JSON-able data,
        named generators).
    model : object, optional
        What to save as the model (default ``trainer.model``); e.g. a scikit-learn-like wrapper whose
        configuration should be recorded.
    verbose : int
        1 prints a line to stderr each time a checkpoint is written.

    When the weights or the optimizer's buffers are not finite (Adam's second moment can overflow to
    inf while the loss and the weights stay finite), the save is refused, the previous file is kept and
    training stops with :class:`TrainingDivergedError`: a run that diverges leaves its last good
    checkpoint in place, and never trains on without one.

    While training, the checkpoint's folder is locked (:class:`nnlite.atomic.RunLock`): a second
    process that writes checkpoints into the same folder stops at once with a clear error.
    """

    def __init__(self, path, every_epochs: int | None = 1, every_steps: int | None = None, best_path=None,
                 monitor: str | None = None, config=None, extra=None, generators=None, model=None,
                 verbose: int = 0):
        self.every_epochs = _positive_int_or_none("ModelCheckpoint", "every_epochs", every_epochs)
        self.every_steps = _positive_int_or_none("ModelCheckpoint", "every_steps", every_steps)
        if self.every_epochs is None and self.every_steps is None and best_path is None:
            raise ValueError("ModelCheckpoint: nothing to do: give every_epochs, every_steps or best_path")
        self.path = str(path)
        self.best_path = None if best_path is None else str(best_path)
        self.monitor = monitor
        self.config, self.extra, self.generators, self.model = config, extra, generators, model
        self.verbose = verbose
        self.best = math.inf
        self.last_saved: Path | None = None
        self._locks: list[RunLock] = []

    def on_train_begin(self, trainer):
        folders = {Path(self.path).parent} | ({Path(self.best_path).parent} if self.best_path else set())
        for folder in folders:
            self._locks.append(RunLock(folder).acquire())

    def on_train_end(self, trainer):
        while self._locks:
            self._locks.pop().release()

    def on_train_abort(self, trainer, error):
        self.on_train_end(trainer)

    def _save(self, trainer, template):
        path = Path(template.format(epoch=trainer.epoch, step=trainer.global_step))
        bad = nonfinite_entries(trainer.model, trainer.optimizer)
        if bad:
            self.on_train_end(trainer)
            lr = getattr(trainer.optimizer, "lr", None)
            kept = f"the last good checkpoint is kept: {self.last_saved}" if self.last_saved else \
                "no checkpoint was written before"
            raise TrainingDivergedError(
                f"training diverged: {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''} became NaN or inf at "
                f"epoch {trainer.epoch}, global step {trainer.global_step}; {kept}. Try a lower learning rate"
                f"{f' (lr is {lr})' if lr is not None else ''}.")
        try:
            written = save_checkpoint(path, self.model if self.model is not None else trainer.model,
                                      optimizer=trainer.optimizer, trainer=trainer, config=self.config,
                                      extra=self.extra, generators=self.generators)
        except CheckpointError as exc:
            warnings.warn(f"ModelCheckpoint: {exc}", RuntimeWarning, stacklevel=3)
            return None
        if self.verbose:
            print(f"checkpoint: {written} (epoch {trainer.epoch}, step {trainer.global_step})", file=sys.stderr)
        return written

    def on_batch_end(self, trainer, step, logs):
        if self.every_steps is not None and step % self.every_steps == 0:
            self.last_saved = self._save(trainer, self.path) or self.last_saved

    def on_epoch_end(self, trainer, epoch, logs):
        if self.every_epochs is not None and epoch % self.every_epochs == 0:
            self.last_saved = self._save(trainer, self.path) or self.last_saved
        if self.best_path is not None:
            key = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
            if key not in logs:
                raise ValueError(f"ModelCheckpoint: monitor {key!r} is not in the epoch logs {sorted(logs)}")
            value = logs[key]
            if math.isfinite(value) and value < self.best:
                if self._save(trainer, self.best_path) is not None:
                    self.best = value


def history_to_csv(history: dict) -> str:
    """``epoch,<key>,...`` rows, one per epoch (shorter series are left blank)."""
    keys = list(history)
    n = max((len(v) for v in history.values()), default=0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch"] + keys)
    for i in range(n):
        w.writerow([i + 1] + [repr(float(history[k][i])) if i < len(history[k]) else "" for k in keys])
    return buf.getvalue()


class HistoryLogger(Callback):
    """Write the trainer's history to ``<stem>.json`` and ``<stem>.csv`` after every epoch (atomically).

    The JSON is ``{"loss": [...], "val_loss": [...], ...}``; the CSV has one row per epoch.
    """

    def __init__(self, stem):
        stem = Path(stem)
        if stem.suffix in (".json", ".csv"):
            stem = stem.with_suffix("")
        self.json_path, self.csv_path = stem.with_suffix(".json"), stem.with_suffix(".csv")

    def write(self, history):
        atomic_write_text(self.json_path, json.dumps(history, indent=1) + "\n")
        atomic_write_text(self.csv_path, history_to_csv(history))

    def on_epoch_end(self, trainer, epoch, logs):
        self.write(trainer.history)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (Keras' rule)."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0):
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a finite number >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.best, self.wait, self.stopped_epoch = math.inf, 0, None

    def on_train_begin(self, trainer):
        self.best, self.wait, self.stopped_epoch = math.inf, 0, None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor {self.monitor!r} is not in the epoch logs {sorted(logs)}; "
                             "pass validation_data to fit() to get 'val_loss'")
        value = logs[self.monitor]
        if value < self.best - self.min_delta:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True


class CosineLR(Callback):
    r"""Cosine decay of the learning rate from ``lr`` to ``lr * final_fraction`` over ``total_steps`` steps,
    set after every optimizer step (the models' ``lr_schedule='cosine'``).

    .. math:: \eta_t = \eta \Big(f + (1 - f)\, \tfrac12 \big(1 + \cos(\pi \min(t, T) / T)\big)\Big)

    Parameters
    ----------
    lr : float > 0
        :math:`\eta`, the learning rate at step 0.
    total_steps : int >= 1
        :math:`T`, the step at which the decay ends; later steps keep ``lr * final_fraction``.
    final_fraction : float in (0, 1], default 0.01
        :math:`f`, the share of ``lr`` left at the end (not 0: the optimizers refuse a rate of 0).
    """

    def __init__(self, lr, total_steps, final_fraction=0.01):
        self.lr = check_number("CosineLR", "lr", lr)
        self.total = check_int("CosineLR", "total_steps", total_steps)
        self.f = check_number("CosineLR", "final_fraction", final_fraction)
        if self.f > 1:
            raise ValueError(f"CosineLR: final_fraction must be in (0, 1], got {final_fraction!r}")

    def lr_at(self, t):
        return self.lr * (self.f + (1 - self.f) * 0.5 * (1 + math.cos(math.pi * min(t, self.total) / self.total)))

    def on_train_begin(self, trainer):
        trainer.optimizer.lr = self.lr_at(0)

    def on_batch_end(self, trainer, step, logs):
        trainer.optimizer.lr = self.lr_at(step)


class SaveSamples(Callback):
    """Save a grid of samples from a fixed batch of codes after every ``every`` epochs (and the last).

    For a model with ``latent_dim`` and ``generate(codes) -> images`` (:class:`~nnlite.models.GAN`).

    Parameters
    ----------
    path : str
        A file name with ``{epoch}`` in it (``'out/gan_epoch{epoch:03d}.png'``).
    n : int
        Number of samples (from the same ``z`` every epoch, so the grids show one set of codes evolving).
    every : int
    title : str
        Figure title; the epoch is appended.
    random_state : seed of the fixed codes.

    Attributes
    ----------
    paths : list of str
        Files written, in order. ``snapshots`` holds ``(epoch, images)`` for a summary figure.
    """

    def __init__(self, path, n=64, every=1, title="GAN samples", random_state=0):
        if "{epoch" not in path:
            raise ValueError(f"SaveSamples: path must contain '{{epoch}}' (e.g. 'samples_{{epoch:03d}}.png'), "
                             f"got {path!r}")
        self.path, self.n, self.every, self.title = path, int(n), int(every), title
        self.random_state = random_state
        self.paths, self.snapshots = [], []

    def on_train_begin(self, trainer):
        model = trainer.model
        self._z = as_generator(self.random_state).standard_normal((self.n, model.latent_dim))

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch % self.every and epoch != trainer.epochs:
            return
        from . import plots

        model = trainer.model
        images = model.generate(self._z)
        model.train()
        self.snapshots.append((epoch, images))
        fig = plots.image_grid(images, ncols=int(math.ceil(math.sqrt(self.n))),
                               title=f"{self.title}, epoch {epoch} (same {self.n} codes z every epoch)")
        self.paths.append(plots.save(fig, self.path.format(epoch=epoch)))


class SampleMonitor(Callback):
    """After every epoch: the spread of the samples a generative model draws from fixed codes.

    Adds ``sample_pixel_std``, ``sample_mean`` and ``sample_intensity_std``
    (:func:`nnlite.metrics.spread_statistics` of ``trainer.model.generate(codes)``) to the epoch's logs
    and the trainer's history. A ``sample_pixel_std`` falling towards 0 means the generator is
    collapsing onto one image; compare with the same statistics of the training data.

    Parameters
    ----------
    codes : array ``(n, latent_dim)``
        The same codes every epoch.
    """

    def __init__(self, codes):
        self.codes = codes

    def on_epoch_end(self, trainer, epoch, logs):
        model = trainer.model
        stats = spread_statistics(model.generate(self.codes).reshape(len(self.codes), -1))
        for k, v in stats.items():
            trainer.history.setdefault("sample_" + k, []).append(v)
            logs["sample_" + k] = v
        model.train()


class DenoisingValidation(Callback):
    """After every epoch: the PSNR of the model's :meth:`denoise` on fixed noisy versions of held-out images.

    The noisy images are drawn once, in the constructor: ``gaussian(image, sigma)`` clipped to [0, 1]
    (:func:`nnlite.noise.gaussian`) for every ``sigma`` in ``noise_levels``, from ``random_state``, so
    every epoch (and a resumed run) sees the same ones. After each epoch the model (``trainer.model``,
    anything with ``denoise(image)`` that takes one image ``(H, W)`` or ``(H, W, C)`` in [0, 1])
    denoises each in eval mode, and ``val_psnr_<sigma>`` (``val_psnr_0.1``, ...: the mean over the
    images of :func:`nnlite.metrics.psnr`) is added to the epoch's logs and the trainer's history.

    Parameters
    ----------
    images : list of arrays ``(H, W)`` or ``(H, W, C)`` in [0, 1]
        The clean held-out images (sizes may differ). Crops keep an epoch's validation short: it
        costs about one forward pass per pixel and level.
    noise_levels : tuple of float, default (0.1, 0.2)
        Sigmas of the Gaussian noise.
    random_state : None, int or numpy.random.Generator, default 0
        Seed of the noise.

    Attributes
    ----------
    noisy : dict
        ``{sigma: [noisy image, ...]}``, the fixed inputs.
    keys : list of str
        The history keys, in the order of ``noise_levels``.
    """

    def __init__(self, images, noise_levels=(0.1, 0.2), random_state=0):
        from .noise import gaussian

        images = [np.asarray(im, dtype=np.float32) for im in images]
        if not images or any(im.ndim not in (2, 3) for im in images):
            raise ValueError("DenoisingValidation: images must be a non-empty list of images (H, W) or (H, W, C), "
                             f"got shapes {[im.shape for im in images]}")
        levels = tuple(noise_levels) if isinstance(noise_levels, (tuple, list)) else (noise_levels,)
        if not levels or any(isinstance(s, bool) or not isinstance(s, (int, float, np.floating)) or not s >= 0
                             or not math.isfinite(s) for s in levels):
            raise ValueError(f"DenoisingValidation: noise_levels must be finite sigmas >= 0, got {noise_levels!r}")
        rng = as_generator(random_state)
        self.images = images
        self.levels = tuple(float(s) for s in levels)
        self.noisy = {s: [gaussian(im, s, rng) for im in images] for s in self.levels}
        self.keys = [f"val_psnr_{s:g}" for s in self.levels]

    def evaluate(self, model) -> dict:
        """``{key: mean PSNR}`` of ``model.denoise`` on the fixed noisy images."""
        from .metrics import psnr

        out = {}
        for key, s in zip(self.keys, self.levels):
            values = [psnr(clean[None], np.asarray(model.denoise(noisy), dtype=np.float32)[None])
                      for clean, noisy in zip(self.images, self.noisy[s])]
            out[key] = float(np.mean(values))
        return out

    def on_epoch_end(self, trainer, epoch, logs):
        for key, value in self.evaluate(trainer.model).items():
            trainer.history.setdefault(key, []).append(value)
            logs[key] = value
