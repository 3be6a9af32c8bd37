"""The training loop: minibatches, seeded shuffling, validation, history, progress and a NaN guard.

Two ways to say what one step does:

* supervised (default): ``Trainer(model, optimizer, loss=MSELoss())`` runs
  ``pred = model(xb); L = loss(pred, yb); model.backward(loss.backward())``;
* custom: ``Trainer(model, optimizer, step=fn)`` where ``fn(xb, yb)`` does the forward and backward
  itself (a VAE's ELBO, a GAN's two players) and returns the loss as a float or a dict of floats
  whose first entry is the loss to watch.

Either way the trainer zeroes the gradients before the step, checks that every reported loss is
finite, and only then lets the optimizer update the weights. A non-finite loss stops training with
:class:`TrainingDivergedError` and the weights rolled back to the end of the last good epoch. At the
end of an epoch it also checks the optimizer's buffers (every epoch, unless an epoch is shorter than
the check: see ``STATE_CHECK_RATIO``): Adam's second moment can overflow to inf while the loss and the
weights stay finite, and that stops training the same way.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from .callbacks import Callback, LambdaCallback, TrainingDivergedError
from .checkpoint import load_checkpoint, nonfinite_entries
from .losses import Loss
from .module import Module
from .random import as_generator

#: The optimizer-state check runs once the training time since the last one is this many times what the
#: last check took (every epoch for real data sets; every few epochs for a full-batch bitmap model whose
#: epoch is shorter than the check), and always after the last epoch: at most about 2% of the time.
STATE_CHECK_RATIO = 50

__all__ = ["Trainer", "fit", "Callback", "LambdaCallback", "TrainingDivergedError", "iterate_batches", "ProgressBar"]


def iterate_batches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays covering ``range(n)`` in batches, shuffled by ``rng`` (or in order when ``None``)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


#: Least time between two redraws of the progress line on a terminal.
REDRAW_SECONDS = 0.1
#: Least time between two kept progress lines: epochs shorter than this share a line (a run of 2,000
#: full-batch epochs of a tiny data set prints a line a second, not 2,000 lines).
LINE_SECONDS = 1.0
#: Off a terminal, a line is also printed inside an epoch once this long has passed without one.
MID_EPOCH_SECONDS = 10.0


def format_clock(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``: a duration as a clock reads it."""
    s = max(int(round(seconds)), 0)
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressBar:
    """The progress of a training run: ``epoch 3/10 [=====>    ] 45% loss 0.1234 12,345 samples/s 0:12 ETA 0:31``.

    The ETA is that of the whole run (the call to ``fit``), from the speed of its steps after the first
    (which mostly compiles the kernels); it shows from the second step on. On a
    terminal the line is redrawn in place (at most every :data:`REDRAW_SECONDS`) and an epoch's final
    line is kept; elsewhere (a pipe, a log file, a notebook) each epoch prints one line, and a long
    epoch also prints a line every :data:`MID_EPOCH_SECONDS`. Epochs shorter than :data:`LINE_SECONDS`
    share a line: the first and last epochs are always shown, the others at most one a second.

    Parameters
    ----------
    total_epochs : int
        The epoch count the run ends at (shown as ``epoch k/total_epochs``).
    total_steps : int, optional
        Optimizer steps this run will take, for the ETA (none shown without it).
    stream : file-like, optional
        Default: ``sys.stderr`` when the bar is made.
    width : int
        Characters of the bar itself.
    """

    def __init__(self, total_epochs: int, total_steps: int | None = None, stream=None, width: int = 24):
        self.total_epochs, self.total_steps, self.width = total_epochs, total_steps, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._t0 = time.perf_counter()
        self._last_draw, self._last_line = -math.inf, self._t0
        self._drawn = 0            # characters of the line being redrawn in place (terminal)
        self._pending = None       # an epoch's final line that was not kept (shown by finish)
        self._first = None         # (time, steps) at the first update: the ETA's clock starts there, after
                                   # the first step, whose time is mostly compiling and warming caches

    def _line(self, epoch, done, total, logs, rate, steps):
        elapsed = time.perf_counter() - self._t0
        frac = done / max(total, 1)
        filled = int(self.width * frac)
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(self.width - filled - 1, 0)
        metrics = " ".join(f"{k} {v:.4g}" for k, v in logs.items())
        clock = format_clock(elapsed)
        if self.total_steps and steps and self._first is not None and steps < self.total_steps:
            t1, s1 = self._first
            if steps > s1:
                per_step = (time.perf_counter() - t1) / (steps - s1)
                clock += f" ETA {format_clock(per_step * (self.total_steps - steps))}"
        return f"epoch {epoch}/{self.total_epochs} [{bar}] {frac:4.0%} {metrics} {rate:,.0f} samples/s {clock}"

    def _write(self, line, keep):
        if self.tty:
            pad = " " * max(self._drawn - len(line), 0)
            self.stream.write("\r" + line + pad + ("\n" if keep else ""))
            self._drawn = 0 if keep else len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def update(self, epoch, done, total, logs, rate, final=False, steps=None):
        """Batch ``done`` of ``total`` of ``epoch`` finished (``final``: the epoch is over, ``logs`` are
        its means); ``steps``: optimizer steps of this run so far, for the ETA."""
        now = time.perf_counter()
        if self._first is None and steps:
            self._first = (now, steps)
        if final:
            line = self._line(epoch, done, total, logs, rate, steps)
            keep = epoch == 1 or epoch >= self.total_epochs or now - self._last_line >= LINE_SECONDS
            if keep:
                self._write(line, keep=True)
                self._last_line = self._last_draw = now
                self._pending = None
                return
            self._pending = line
            if self.tty and now - self._last_draw >= REDRAW_SECONDS:
                self._write(line, keep=False)
                self._last_draw = now
            return
        if self.tty and now - self._last_draw >= REDRAW_SECONDS:
            self._write(self._line(epoch, done, total, logs, rate, steps), keep=False)
            self._last_draw = now
        elif not self.tty and done < total and now - self._last_line >= MID_EPOCH_SECONDS:
            self._write(self._line(epoch, done, total, logs, rate, steps), keep=True)
            self._last_line = now

    def finish(self):
        """The run ended (also early): show the last epoch's line if it was not kept."""
        if self._pending is not None:
            self._write(self._pending, keep=True)
            self._pending = None
        elif self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


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
        0 silent; 1 (default) a progress bar with the ETA, redrawn in place on a terminal, and a line
        per epoch elsewhere (see :class:`ProgressBar`).
    generators : sequence of Generator, optional
        Other ``numpy.random.Generator`` objects the step draws from (input noise, ...) that are not
        held by the model itself. They are saved and restored with the trainer's state, so that a
        resumed run draws exactly the numbers an uninterrupted run would have drawn.

    Attributes
    ----------
    history : dict of lists
        One value per epoch for every loss the step reports (``'loss'``, ...), ``'val_*'`` for
        validation, and ``'samples_per_s'``.
    epoch, global_step : int
        Epochs completed and optimizer steps taken.

    Resuming
    --------
    :meth:`state_dict` / :meth:`load_state_dict` hold everything the loop itself needs to continue bit
    for bit: counters, history, the shuffling generator, ``generators`` and, for a state taken in the
    middle of an epoch, the position in that epoch. ``fit(X, resume_from="ckpt.npz")`` loads a
    checkpoint (model, optimizer and all of this, see :mod:`nnlite.checkpoint`) and continues.
    """

    def __init__(self, model: Module, optimizer, loss: Loss | None = None, step=None, eval_step=None,
                 batch_size: int = 32, epochs: int = 10, shuffle: bool = True, random_state=None,
                 callbacks=(), verbose: int = 1, generators=()):
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
        self.generators = list(generators)
        for i, g in enumerate(self.generators):
            if not isinstance(g, np.random.Generator):
                raise TypeError(f"Trainer: generators[{i}] is a {type(g).__name__}, expected numpy.random.Generator")
        self._position = None         # where we are inside the running epoch (for mid-epoch checkpoints)
        self._resume_position = None  # a mid-epoch position loaded by load_state_dict, used by the next epoch
        self._since_state_check = 0.0  # training seconds since the optimizer state was last checked
        self._state_check_cost = 0.0   # seconds the last check took
        self._steps_at_fit_start = 0   # global_step when the running fit began (for the progress bar's ETA)

    # -------------------------------------------------------------- state (exact resume)
    def state_dict(self) -> dict:
        """The loop's own state as plain Python data (JSON-able): counters, history, generator states.

        ``position`` is ``None`` between epochs; inside an epoch (e.g. from an ``on_batch_end`` callback)
        it holds the shuffling generator's state at the start of the epoch, the number of batches done
        and the running loss sums, which is what it takes to replay the rest of the epoch exactly.
        """
        return {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": {k: list(v) for k, v in self.history.items()},
            "rng": self.rng.bit_generator.state,
            "generators": [g.bit_generator.state for g in self.generators],
            "batch_size": self.batch_size,
            "shuffle": bool(self.shuffle),
            "position": None if self._position is None else dict(self._position, sums=dict(self._position["sums"])),
        }

    def load_state_dict(self, state: dict):
        """Restore what :meth:`state_dict` returned (the model and optimizer are restored separately)."""
        gens = state.get("generators", [])
        if len(gens) != len(self.generators):
            raise ValueError(f"Trainer.load_state_dict: the state has {len(gens)} extra generator(s), this trainer "
                             f"has {len(self.generators)} (generators=...); build the trainer as the saved run did")
        pos = state.get("position")
        if pos is not None and int(state.get("batch_size", self.batch_size)) != self.batch_size:
            raise ValueError(f"Trainer.load_state_dict: the state was saved in the middle of an epoch with "
                             f"batch_size={state['batch_size']}, this trainer has batch_size={self.batch_size}; "
                             "the rest of that epoch cannot be replayed with another batch size")
        self.rng.bit_generator.state = state["rng"]
        for g, st in zip(self.generators, gens):
            g.bit_generator.state = st
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history = {k: [float(x) for x in v] for k, v in state.get("history", {}).items()}
        self._resume_position = None if pos is None else dict(pos, sums=dict(pos["sums"]))
        self._position = None

    # -------------------------------------------------------------- default steps
    def _supervised_step(self, xb, yb):
        pred = self.model(xb)
        value = self.loss.forward(pred, yb)
        self.model.backward(self.loss.backward())
        return value

    def _supervised_eval(self, xb, yb):
        return self.loss.forward(self.model(xb), yb)

    # -------------------------------------------------------------- loop
    def fit(self, X, Y=None, validation_data=None, epochs: int | None = None, resume_from=None) -> dict:
        """Train for ``epochs`` more epochs (default: the constructor's) and return ``history``.

        ``Y=None`` trains towards ``X`` itself (autoencoders). ``validation_data`` is ``X_val`` or
        ``(X_val, Y_val)``. Calling ``fit`` again continues where the last call stopped.

        ``resume_from`` (a checkpoint path written by :class:`nnlite.callbacks.ModelCheckpoint` or
        :func:`nnlite.checkpoint.save_checkpoint`) first restores model, optimizer and this trainer's
        state, then trains until ``epochs`` epochs **in total** have run (Keras' ``initial_epoch``
        semantics), so re-running the command of a killed run finishes the original plan. With the
        same data, seed and settings the final weights are bit-identical to an uninterrupted run.
        """
        if resume_from is not None:
            load_checkpoint(resume_from, model=self.model, optimizer=self.optimizer, trainer=self)
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
        if resume_from is not None:
            n_epochs = max(n_epochs - self.epoch, 0)
        self._position = None
        if self._resume_position is not None and self._resume_position.get("n_samples", len(X)) != len(X):
            raise ValueError(f"Trainer.fit: the resumed state was saved in the middle of an epoch over "
                             f"{self._resume_position['n_samples']} samples, X has {len(X)}; resume with the same data")
        bar = None
        if self.verbose:
            skipped = int(self._resume_position["batch"]) if self._resume_position is not None else 0
            bar = ProgressBar(self.epoch + n_epochs, n_epochs * math.ceil(len(X) / self.batch_size) - skipped)
        self._steps_at_fit_start = self.global_step
        self.stop_training = False
        started = []
        try:
            for cb in self.callbacks:
                cb.on_train_begin(self)
                started.append(cb)
            for i in range(n_epochs):
                self._run_epoch(X, Y, val, bar, last=i == n_epochs - 1)
                if self.stop_training:
                    break
        except BaseException as error:
            for cb in started:
                cb.on_train_abort(self, error)
            raise
        finally:
            if bar is not None:
                bar.finish()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _run_epoch(self, X, Y, val, bar, last=False):
        epoch = self.epoch + 1
        for cb in self.callbacks:
            cb.on_epoch_begin(self, epoch)
        good_state = self.model.state_dict()
        self.model.train()
        n = len(X)
        n_batches = math.ceil(n / self.batch_size)
        sums: dict[str, float] = {}
        seen, start = 0, 0
        resume, self._resume_position = self._resume_position, None
        if resume is not None:  # replay the epoch's shuffle, skip the batches already done
            self.rng.bit_generator.state = resume["rng_at_epoch_start"]
            start, seen, sums = int(resume["batch"]), int(resume["seen"]), dict(resume["sums"])
        rng_at_epoch_start = self.rng.bit_generator.state
        t0 = time.perf_counter()
        for b, idx in enumerate(iterate_batches(n, self.batch_size, self.rng if self.shuffle else None)):
            if b < start:
                continue
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
            self._position = {"epoch": epoch, "batch": b + 1, "n_batches": n_batches, "n_samples": n, "seen": seen,
                              "sums": dict(sums), "rng_at_epoch_start": rng_at_epoch_start}
            for cb in self.callbacks:
                cb.on_batch_end(self, self.global_step, logs)
            if bar is not None:
                bar.update(epoch, b + 1, n_batches, means, seen / max(time.perf_counter() - t0, 1e-9),
                           steps=self.global_step - self._steps_at_fit_start)
        elapsed = time.perf_counter() - t0
        epoch_logs = {k: v / max(seen, 1) for k, v in sums.items()}
        if val is not None:
            epoch_logs.update({f"val_{k}": v for k, v in self.evaluate(*val).items()})
            self.model.train()
        epoch_logs["samples_per_s"] = seen / max(elapsed, 1e-9)
        self._since_state_check += elapsed
        if last or self.stop_training or self._since_state_check >= STATE_CHECK_RATIO * self._state_check_cost:
            t_check = time.perf_counter()
            bad = nonfinite_entries(optimizer=self.optimizer)
            self._state_check_cost, self._since_state_check = time.perf_counter() - t_check, 0.0
            if bad:
                self.model.load_state_dict(good_state)
                raise TrainingDivergedError(
                    f"training diverged: {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''} became NaN or inf "
                    f"by epoch {epoch} while the loss stayed finite; the model holds the weights from the end of "
                    f"epoch {self.epoch}. Try a lower learning rate (lr is {self.optimizer.hyper.get('lr')}).")
        for k, v in epoch_logs.items():
            self.history.setdefault(k, []).append(v)
        self.epoch = epoch
        self._position = None
        if bar is not None:
            shown = {k: v for k, v in epoch_logs.items() if k != "samples_per_s"}
            bar.update(epoch, n_batches, n_batches, shown, epoch_logs["samples_per_s"], final=True,
                       steps=self.global_step - self._steps_at_fit_start)
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
