"""What ``nnlite train`` shows and saves while a model trains: progress, checkpoints, Ctrl-C.

:class:`RunMonitor` is one :class:`nnlite.Callback` that

* draws a progress bar (tqdm) with the elapsed time, the ETA, the loss and samples/s, redrawn in place,
  only when its stream is a terminal: a pipe or a log file gets no progress lines at all;
* prints the plan (epochs x steps) as training starts and, once the speed is known, an estimate of a
  long run's duration;
* writes the checkpoint and the history files together on a budget (every ``every_seconds`` of
  training, and at most :data:`MAX_SAVE_SHARE` of it; or every ``every_epochs`` epochs / ``every_steps``
  steps when asked), never after every one of thousands of tiny epochs: the history grows with the run,
  so rewriting it each epoch is quadratic;
* on Ctrl-C (see :func:`catch_sigint`) saves a checkpoint at the step just finished, from which
  ``--resume`` continues bit for bit, and stops training by raising :class:`Interrupted`.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
import warnings

from .. import Callback
from ..callbacks import HistoryLogger
from ..checkpoint import CheckpointError, save_checkpoint

__all__ = ["RunMonitor", "WorkProgress", "Interrupted", "catch_sigint", "format_duration"]

#: Default budget between two checkpoint + history writes, in seconds of training.
SAVE_EVERY_SECONDS = 2.0
#: Most of the training time that budgeted saves may take: on a slow disk (each save fsyncs four files)
#: the gap between saves grows to ``save time / MAX_SAVE_SHARE``.
MAX_SAVE_SHARE = 0.03
#: Least time between two redraws of the progress bar.
REDRAW_SECONDS = 0.25
#: The speed is measured over this much training before the estimate is printed.
ESTIMATE_AFTER_SECONDS = 2.0
#: Runs estimated to take longer than this get an estimate line.
LONG_RUN_SECONDS = 60.0


def run_position(epochs_done: int, step: int, mid_epoch: bool) -> str:
    """Where a run stands, in the words both the interruption and the resume use: ``'in epoch 7 (step
    1471)'`` inside an epoch (6 done), ``'after epoch 6 (step 1200)'`` at an epoch's end."""
    return f"in epoch {epochs_done + 1} (step {step})" if mid_epoch else f"after epoch {epochs_done} (step {step})"


class Interrupted(Exception):
    """Training stopped by Ctrl-C after a checkpoint was written at ``epoch``/``step`` to ``path``."""

    def __init__(self, path, epoch, step, mid_epoch):
        super().__init__(f"interrupted at step {step}")
        self.path, self.epoch, self.step, self.mid_epoch = path, epoch, step, mid_epoch


def format_duration(seconds: float) -> str:
    """``42 s``, ``13 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class RunMonitor(Callback):
    """Progress, budgeted checkpoints + history, and Ctrl-C for one training run of a model.

    Parameters
    ----------
    path : Path
        The run's checkpoint.
    history : Path
        Stem of ``history.json`` / ``history.csv``.
    model : object
        What the checkpoint saves (the nnlite.models estimator, so ``restore_model`` rebuilds it).
    n_samples : int
        Training images per epoch.
    extra : dict
        Saved with every checkpoint (the CLI's arguments).
    every_seconds, every_epochs, every_steps :
        When to save at the end of an epoch: every ``every_epochs`` epochs if given, else once
        ``every_seconds`` have passed since the last save; and every ``every_steps`` steps if given.
    show_bar : bool, optional
        Default: when ``stream`` is a terminal.
    say : callable
        Prints one line for a person (the plan, the estimate, resuming).
    stream : file
        Where the bar is drawn (default ``sys.stderr``).
    """

    def __init__(self, path, history, model, n_samples, extra=None, every_seconds: float = SAVE_EVERY_SECONDS,
                 every_epochs: int | None = None, every_steps: int | None = None, show_bar: bool | None = None,
                 say=print, stream=None, copies: int = 1):
        # an epoch is ``copies`` corrupted copies of the ``n_samples`` images (a denoising autoencoder's)
        self.copies = max(1, int(copies))
        self.path, self.model, self.n_samples, self.extra = path, model, int(n_samples) * self.copies, extra
        self.history = HistoryLogger(history)
        self.every_seconds, self.every_epochs, self.every_steps = every_seconds, every_epochs, every_steps
        self.stream = stream if stream is not None else sys.stderr
        self.show_bar = show_bar if show_bar is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self._say = say
        self.interrupt_requested = False
        self.trainer = None
        self.bar = None
        self.resumed_from = None   # (epoch, step) the run continued from, if it did
        self.saves = 0             # checkpoints this monitor wrote
        self._started = False
        self.gap = every_seconds   # seconds between budgeted saves (grows if saving is slow)

    # ------------------------------------------------------------------------------ lines for a person
    def say(self, line):
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            self._say(line)

    def _start(self, trainer):
        """First hook after the checkpoint (if any) was loaded: plan, bar and clocks."""
        self._started = True
        self.trainer = trainer
        self.steps_per_epoch = max(1, math.ceil(self.n_samples / trainer.batch_size))
        self.target_epochs = int(trainer.epochs)
        self.total_steps = self.target_epochs * self.steps_per_epoch
        self.first_step = trainer.global_step
        if trainer.global_step > 0:
            self.resumed_from = (trainer.epoch, trainer.global_step)
            # the words of the interruption's message: "in epoch 7 (step 1471)" resumes "in epoch 7 (step 1471)"
            where = run_position(trainer.epoch, trainer.global_step, trainer._resume_position is not None)
            self.say(f"resumed {where} of {self.path}")
        batch = min(int(trainer.batch_size), self.n_samples)          # the last batch of an epoch may be smaller
        each = (f" ({self.copies} noisy copies of each of the {self.n_samples // self.copies} images)"
                if self.copies > 1 else "")
        self.say(f"plan: {self.target_epochs} epochs x {self.steps_per_epoch} steps of {batch} "
                 f"images{each} = {self.total_steps:,} steps")
        now = time.monotonic()
        self.t_start = self.t_saved = self.t_drawn = now
        self.estimated = False
        self.t_warm, self.warm_step = None, 0
        self.samples_done, self.pending_steps = 0, 0
        self.loss_sum, self.loss_n = 0.0, 0
        if self.show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total_steps, initial=self.first_step, unit="step", file=self.stream,
                            desc=f"epoch {trainer.epoch + 1}/{self.target_epochs}", dynamic_ncols=True,
                            leave=True, mininterval=REDRAW_SECONDS,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps "
                                       "[{elapsed}<{remaining}]{postfix}")

    # ------------------------------------------------------------------------------ saving
    def save(self, trainer):
        """Checkpoint at the trainer's position, then the history it holds (never ahead of it)."""
        t0 = time.monotonic()
        try:
            save_checkpoint(self.path, self.model, optimizer=trainer.optimizer, trainer=trainer, extra=self.extra)
        except CheckpointError as exc:  # weights not finite: keep the last good checkpoint
            warnings.warn(f"nnlite train: {exc}", RuntimeWarning, stacklevel=2)
            return False
        self.history.write(trainer.history)
        self.saves += 1
        now = time.monotonic()
        self.gap = max(self.every_seconds, (now - t0) / MAX_SAVE_SHARE)
        self.t_saved = now
        return True

    def _stop_if_asked(self, trainer, mid_epoch):
        if self.interrupt_requested:
            self.close()
            if not self.save(trainer):
                raise KeyboardInterrupt
            raise Interrupted(self.path, trainer.epoch, trainer.global_step, mid_epoch)

    # ------------------------------------------------------------------------------ hooks
    def on_epoch_begin(self, trainer, epoch):
        if not self._started:
            self._start(trainer)
        if self.bar is not None:
            self.bar.set_description_str(f"epoch {epoch}/{self.target_epochs}", refresh=False)
        self.loss_sum, self.loss_n = 0.0, 0

    def on_batch_end(self, trainer, step, logs):
        if not self._started:
            self._start(trainer)
        self.pending_steps += 1
        if logs:
            self.loss_name = "loss" if "loss" in logs else next(iter(logs))
            self.loss_sum += float(logs[self.loss_name])
            self.loss_n += 1
        if self.every_steps is not None and step % self.every_steps == 0:
            self.save(trainer)
        self._stop_if_asked(trainer, mid_epoch=True)
        now = time.monotonic()
        if now - self.t_drawn >= REDRAW_SECONDS:
            self._draw(trainer, now)

    def _draw(self, trainer, now):
        done = trainer.global_step - self.first_step
        elapsed = max(now - self.t_start, 1e-9)
        rate = done * trainer.batch_size / elapsed
        if self.t_warm is None:  # the first step compiles kernels: the speed is measured from its end
            self.t_warm, self.warm_step = now, trainer.global_step
        if self.bar is not None:
            loss = f", {self.loss_name} {self.loss_sum / self.loss_n:.4g}" if self.loss_n else ""
            self.bar.set_postfix_str(f"{rate:,.0f} samples/s{loss}", refresh=False)
            self.bar.update(self.pending_steps)
        self.pending_steps = 0
        self.t_drawn = now
        warm = now - self.t_warm
        if not self.estimated and warm >= ESTIMATE_AFTER_SECONDS and trainer.global_step > self.warm_step:
            self.estimated = True
            per_step = warm / (trainer.global_step - self.warm_step)
            left = (self.total_steps - trainer.global_step) * per_step
            if left > LONG_RUN_SECONDS:
                self.say(f"estimate: about {format_duration(elapsed + left)} in all at "
                         f"{trainer.batch_size / per_step:,.0f} samples/s "
                         "(Ctrl-C stops with a checkpoint and tells how to resume)")

    def on_epoch_end(self, trainer, epoch, logs):
        if not self._started:
            self._start(trainer)
        self._stop_if_asked(trainer, mid_epoch=False)
        if self.every_epochs is not None:
            if epoch % self.every_epochs == 0:
                self.save(trainer)
        elif time.monotonic() - self.t_saved >= self.gap:
            self.save(trainer)

    def on_train_end(self, trainer):
        self.close()

    def on_train_abort(self, trainer, error):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.update(self.pending_steps)
            self.pending_steps = 0
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def catch_sigint(monitor: RunMonitor):
    """While inside, Ctrl-C asks ``monitor`` to save and stop after the current step; a second Ctrl-C
    interrupts at once (the checkpoint on disk stays the last complete one: writes are atomic)."""
    previous = signal.getsignal(signal.SIGINT)

    def ask(signum, frame):
        monitor.interrupt_requested = True
        signal.signal(signal.SIGINT, previous)
        print("\nnnlite: stopping after this step to write a checkpoint (Ctrl-C again to quit at once)",
              file=sys.stderr, flush=True)

    try:
        signal.signal(signal.SIGINT, ask)
    except ValueError:  # not the main thread: Ctrl-C stays Python's KeyboardInterrupt
        yield monitor
        return
    try:
        yield monitor
    finally:
        signal.signal(signal.SIGINT, previous)


class WorkProgress:
    """A ``progress(done, total)`` callback (as :func:`nnlite.images.apply_tiled` and the denoisers call
    it) drawn as a tqdm bar on a terminal, and nothing elsewhere. ``scale`` converts the caller's units
    (tiles, pixels) into the bar's ``unit``."""

    def __init__(self, desc: str, unit: str, scale: float = 1.0, stream=None, show: bool | None = None):
        self.desc, self.unit, self.scale = desc, unit, scale
        self.stream = stream if stream is not None else sys.stderr
        self.show = show if show is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = None

    def __call__(self, done, total):
        if not self.show:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total * self.scale, desc=self.desc, unit=self.unit, file=self.stream,
                            dynamic_ncols=True, leave=False, mininterval=REDRAW_SECONDS,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} {unit} "
                                       "[{elapsed}<{remaining}, {rate_fmt}]")
        self.bar.update(done * self.scale - self.bar.n)
        if done >= total:
            self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
