"""The training loop: minibatches, seeded shuffling, validation, history, progress and a NaN guard.

Two ways to say what one step does:

* supervised (default): ``Trainer(model, optimizer, loss=MSELoss())`` runs
  ``pred = model(xb); L = loss(pred, yb); model.backward(loss.backward())``;
* custom: ``Trainer(model, optimizer, step=fn)`` where ``fn(xb, yb)`` does the forward and backward
  itself (a VAE's ELBO, a GAN's two players) and returns the loss as a float or a dict of floats
  whose first entry is the loss to watch.

Either way the trainer zeroes the gradients before the step, checks that every reported loss is
finite, and only then lets the optimizer update the weights. A non-finite loss stops training with
:class:`TrainingDivergedError` and the weights rolled back to the end of the last good epoch.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from .losses import Loss
from .module import Module
from .random import as_generator


class TrainingDivergedError(RuntimeError):
    """Raised when a loss becomes NaN or infinite; the model holds the last good weights."""


class Callback:
    """Hooks called by :class:`Trainer`. Set ``trainer.stop_training = True`` to stop early."""

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


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda tr, ep, logs: print(logs))``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}; valid: "
                                 f"{[n for n in vars(Callback) if n.startswith('on_')]}")
            setattr(self, name, fn)


def iterate_batches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays covering ``range(n)`` in batches, shuffled by ``rng`` (or in order when ``None``)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


class ProgressBar:
    """A dependency-free progress line: ``epoch 3/10 [=====>    ] 45% loss 0.1234 12,345 samples/s``.

    On a terminal it redraws in place; elsewhere (CI, logs) it prints one line per epoch.
    """

    def __init__(self, total_epochs: int, stream=None, width: int = 24):
        self.total_epochs, self.width = total_epochs, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def update(self, epoch, done, total, logs, rate, final=False):
        now = time.perf_counter()
        if not final and (not self.tty or now - self._last < 0.1):
            return
        self._last = now
        frac = done / max(total, 1)
        filled = int(self.width * frac)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        metrics = " ".join(f"{k} {v:.4g}" for k, v in logs.items())
        line = f"epoch {epoch}/{self.total_epochs} [{bar}] {frac:4.0%} {metrics} {rate:,.0f} samples/s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Trainer:
    """Minibatch training of a Module.

    Parameters
    ----------
    model : nnlite.Module
    optimizer : nnlite.optim.Optimizer
    loss : nnlite.losses.Loss, optional
        For the default supervised step.
    step : callable ``(xb, yb) -> float | dict``, optional
        A custom training step that runs forward and backward itself.
    eval_step : callable ``(xb, yb) -> float | dict``, optional
        Validation loss of one batch (default: the model in eval mode under ``loss``).
    batch_size, epochs : int
    shuffle : bool
        Reshuffle the samples every epoch, from ``random_state``.
    random_state : None, int or Generator
    callbacks : list of Callback
    verbose : int
        0 silent, 1 progress line per epoch.

    Attributes
    ----------
    history : dict of lists
        One value per epoch for every loss the step reports (``'loss'``, ...), ``'val_*'`` for
        validation, and ``'samples_per_s'``.
    """

    def __init__(self, model: Module, optimizer, loss: Loss | None = None, step=None, eval_step=None,
                 batch_size: int = 32, epochs: int = 10, shuffle: bool = True, random_state=None,
                 callbacks=(), verbose: int = 1):
        if not isinstance(model, Module):
            raise TypeError(f"Trainer: model must be an nnlite Module, got {type(model).__name__}")
        if loss is None and step is None:
            raise ValueError("Trainer needs either loss= (supervised step) or step= (custom step)")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"Trainer: batch_size must be an int >= 1, got {batch_size!r}")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Trainer: epochs must be an int >= 0, got {epochs!r}")
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.step_fn = step if step is not None else self._supervised_step
        self.eval_fn = eval_step if eval_step is not None else (self._supervised_eval if loss is not None else None)
        self.batch_size, self.epochs, self.shuffle = int(batch_size), int(epochs), shuffle
        self.rng = as_generator(random_state)
        self.callbacks = list(callbacks)
        self.verbose = verbose
        self.history: dict[str, list[float]] = {}
        self.epoch = 0          # epochs completed
        self.global_step = 0    # optimizer steps taken
        self.stop_training = False

    # -------------------------------------------------------------- default steps
    def _supervised_step(self, xb, yb):
        pred = self.model(xb)
        value = self.loss.forward(pred, yb)
        self.model.backward(self.loss.backward())
        return value

    def _supervised_eval(self, xb, yb):
        return self.loss.forward(self.model(xb), yb)

    # -------------------------------------------------------------- loop
    def fit(self, X, Y=None, validation_data=None, epochs: int | None = None) -> dict:
        """Train for ``epochs`` more epochs (default: the constructor's) and return ``history``.

        ``Y=None`` trains towards ``X`` itself (autoencoders). ``validation_data`` is ``X_val`` or
        ``(X_val, Y_val)``. Calling ``fit`` again continues where the last call stopped.
        """
        X = _check_data("X", X)
        Y = X if Y is None else _check_data("Y", Y, n=len(X))
        val = None
        if validation_data is not None:
            if self.eval_fn is None:
                raise ValueError("Trainer.fit: validation_data needs loss= or eval_step=")
            if isinstance(validation_data, (tuple, list)):
                Xv = _check_data("validation X", validation_data[0])
                Yv = _check_data("validation Y", validation_data[1], n=len(Xv)) if len(validation_data) > 1 else Xv
            else:
                Xv = _check_data("validation X", validation_data)
                Yv = Xv
            val = (Xv, Yv)
        n_epochs = self.epochs if epochs is None else epochs
        bar = ProgressBar(self.epoch + n_epochs) if self.verbose else None
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        for _ in range(n_epochs):
            self._run_epoch(X, Y, val, bar)
            if self.stop_training:
                break
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _run_epoch(self, X, Y, val, bar):
        epoch = self.epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        good_state = self.model.state_dict()
        self.model.train()
        n = len(X)
        n_batches = math.ceil(n / self.batch_size)
        sums: dict[str, float] = {}
        seen = 0
        t0 = time.perf_counter()
        for b, idx in enumerate(iterate_batches(n, self.batch_size, self.rng if self.shuffle else None)):
            xb, yb = X[idx], Y[idx]
            self.optimizer.zero_grad()
            logs = _as_logs(self.step_fn(xb, yb))
            for name, value in logs.items():
                if not math.isfinite(value):
                    self.model.load_state_dict(good_state)
                    lr = self.optimizer.hyper.get("lr")
                    raise TrainingDivergedError(
                        f"training diverged: {name} = {value} at epoch {epoch}, step {b + 1} of {n_batches} "
                        f"(global step {self.global_step + 1}); the model holds the weights from the end of "
                        f"epoch {self.epoch}. Try a lower learning rate (lr is {lr})."
                    )
            self.optimizer.step()
            self.global_step += 1
            seen += len(idx)
            for name, value in logs.items():
                sums[name] = sums.get(name, 0.0) + value * len(idx)
            means = {k: v / seen for k, v in sums.items()}
            for cb in self.callbacks:
                cb.on_batch_end(self, self.global_step, logs)
            if bar is not None:
                bar.update(epoch, b + 1, n_batches, means, seen / max(time.perf_counter() - t0, 1e-9))
        elapsed = time.perf_counter() - t0
        epoch_logs = {k: v / max(seen, 1) for k, v in sums.items()}
        if val is not None:
            epoch_logs.update({f"val_{k}": v for k, v in self.evaluate(*val).items()})
            self.model.train()
        epoch_logs["samples_per_s"] = seen / max(elapsed, 1e-9)
        for k, v in epoch_logs.items():
            self.history.setdefault(k, []).append(v)
        self.epoch = epoch
        if bar is not None:
            shown = {k: v for k, v in epoch_logs.items() if k != "samples_per_s"}
            bar.update(epoch, n_batches, n_batches, shown, epoch_logs["samples_per_s"], final=True)
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, epoch_logs)

    def evaluate(self, X, Y=None, batch_size: int | None = None) -> dict:
        """Mean of ``eval_step`` over ``X`` (weighted by batch size), with the model in eval mode."""
        if self.eval_fn is None:
            raise ValueError("Trainer.evaluate needs loss= or eval_step=")
        Y = X if Y is None else Y
        self.model.eval()
        sums, seen = {}, 0
        bs = batch_size or max(self.batch_size, 256)
        for idx in iterate_batches(len(X), bs, None):
            logs = _as_logs(self.eval_fn(X[idx], Y[idx]))
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v * len(idx)
            seen += len(idx)
        return {k: v / max(seen, 1) for k, v in sums.items()}


def _as_logs(value) -> dict[str, float]:
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items()}
    return {"loss": float(value)}


def _check_data(name, A, n=None):
    A = np.asarray(A)
    if A.ndim == 0 or len(A) == 0:
        raise ValueError(f"fit: {name} must be a non-empty array with samples on axis 0, got shape {A.shape}")
    if n is not None and len(A) != n:
        raise ValueError(f"fit: {name} has {len(A)} samples, expected {n} (one per sample of X)")
    if np.issubdtype(A.dtype, np.floating):
        bad = ~np.isfinite(A)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"fit: {name} contains NaN or inf ({int(bad.sum())} values), first at index {where}; "
                             "clean or impute the data before training")
    return A


def fit(model: Module, X, Y=None, loss="mse", optimizer="adam", lr: float = 1e-3, epochs: int = 10,
        batch_size: int = 32, validation_data=None, random_state=None, callbacks=(), verbose: int = 1) -> Trainer:
    """Keras-style one-liner: build a Trainer with a named loss and optimizer, train, return the Trainer.

    >>> trainer = nnlite.fit(model, X, Y, loss="cross_entropy", lr=1e-2, epochs=20)  # doctest: +SKIP
    >>> trainer.history["loss"][-1]  # doctest: +SKIP
    """
    from .losses import get_loss
    from .optim import get_optimizer

    opt = get_optimizer(optimizer, model.parameters(), lr=lr)
    trainer = Trainer(model, opt, loss=get_loss(loss), batch_size=batch_size, epochs=epochs,
                      random_state=random_state, callbacks=callbacks, verbose=verbose)
    trainer.fit(X, Y, validation_data=validation_data)
    return trainer
