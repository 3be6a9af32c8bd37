"""Models from checkpoints: rebuild a fitted model from its file, and train with checkpoints and resume.

The file format itself is :mod:`nnlite.checkpoint`; this module adds what a *model* needs:

* :func:`build_model` -- an unfitted model from the configuration a checkpoint stores. The class is
  looked up by name in :data:`nnlite.models._registry.MODELS` (nothing else can be named), and the
  configuration is checked against the class's constructor before it is called: known argument names
  only, JSON values of the kinds the constructor's defaults have, then the model's own validation.
* :func:`restore_model` -- a ready-to-use (fitted, eval-mode) model: rebuilt, its fitted attributes
  checked and put back, its networks built within a parameter budget of exactly the weights the file
  holds (:func:`parameter_budget`), so a configuration that asks for a larger network
  than its weights fails before it takes any memory, then the weights loaded.
* :func:`fit_resumable` -- ``model.fit`` with a :class:`~nnlite.callbacks.ModelCheckpoint` and an exact
  resume from it.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import re
from pathlib import Path

import numpy as np

from ..atomic import RunLock
from ..callbacks import Callback, ModelCheckpoint
from ..checkpoint import (
    Checkpoint,
    CheckpointError,
    class_name,
    load_checkpoint,
    model_config,
    read_checkpoint,
    save_checkpoint,
)
from ..checkpoint.load import _diff_state
from ..checkpoint.validate import _check_array_dtypes
from ..checkpoint.write import _as_module
from ..module import ALLOCATION_HOOK, Module
from ..random import as_generator
from ._registry import MODELS, lookup

__all__ = ["build_model", "restore_model", "fit_resumable"]

_MAX_STRING = 256        # characters in one configuration value
_MAX_LIST = 64           # entries in one configuration list (layer widths, channels, betas)
_FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
_PRIVATE_NAME = re.compile(r"^_[a-z][a-z0-9_]*$")


class AllocationLimitError(MemoryError):
    """More parameter elements were asked for than the enclosing :func:`parameter_budget` allows."""


@contextlib.contextmanager
def parameter_budget(max_elements: int):
    """Inside the block, Parameters and buffers of more than ``max_elements`` elements in all raise
    :class:`AllocationLimitError` before their memory is written.

    :func:`restore_model` rebuilds a model from a file inside it: the file says how many weights it holds,
    so a configuration that asks for a larger network is refused before it can take the machine's memory.
    """
    left = int(max_elements)

    def claim(n_elements, what):
        nonlocal left
        left -= n_elements
        if left < 0:
            raise AllocationLimitError(f"creating {what} of {n_elements:,} elements exceeds the parameter budget")

    token = ALLOCATION_HOOK.set(claim)
    try:
        yield
    finally:
        ALLOCATION_HOOK.reset(token)


def build_model(info, **overrides):
    """An unfitted model from a checkpoint's ``model`` entry (``{"class": ..., "config": {...}}``) or a
    :class:`~nnlite.checkpoint.Checkpoint`.

    Raises :class:`~nnlite.checkpoint.CheckpointError` when the class is not one of nnlite's models or
    the configuration does not fit its constructor.
    """
    path = None
    if isinstance(info, Checkpoint):
        path, info = info.path, info.config
    if not isinstance(info, dict):
        raise CheckpointError(f"the model entry must be an object with 'class' and 'config', got {type(info).__name__}",
                              path)
    name = info.get("class", "")
    cls = lookup(name)
    if cls is None:
        if isinstance(name, str) and name.startswith("nnlite."):
            raise CheckpointError(f"the checkpoint's model class {name!r} is not one of nnlite's models "
                                  f"({', '.join(sorted(MODELS))})", path)
        raise CheckpointError(f"the checkpoint's model class {str(name)[:100]!r} is not an nnlite class; "
                              "build the model yourself and pass it to load_checkpoint(model=...)", path)
    config = info.get("config") or {}
    if not isinstance(config, dict):
        raise CheckpointError(f"the checkpoint's configuration of {cls.__name__} must be an object, got "
                              f"{type(config).__name__}", path)
    config = dict(config)
    config.update(overrides)
    _check_config(cls, config, path)
    try:
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
        if hasattr(model, "_validate_params"):
            model._validate_params()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot rebuild the model {cls.__name__} from its stored configuration "
                              f"({type(exc).__name__}: {exc})", path) from None
    return model


def _check_config(cls, config: dict, path):
    """Known constructor arguments only, each a JSON value of the kind its default has."""
    params = {p.name: p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    unknown = sorted(set(config) - set(params))
    if unknown:
        raise CheckpointError(f"the stored configuration of {cls.__name__} has unknown argument(s) {unknown}; "
                              f"{cls.__name__} takes {sorted(params)}", path)
    for key, value in config.items():
        problem = _value_problem(value, params[key].default)
        if problem:
            raise CheckpointError(f"the stored configuration of {cls.__name__} has {key}={json.dumps(value)[:80]}: "
                                  f"{problem}", path)


def _value_problem(value, default) -> str | None:
    if isinstance(value, str):
        return f"a string longer than {_MAX_STRING} characters" if len(value) > _MAX_STRING else None
    if isinstance(value, list):
        if len(value) > _MAX_LIST:
            return f"a list of more than {_MAX_LIST} entries"
        for v in value:
            plain = v is None or isinstance(v, (bool, int, float, str))
            if not plain or (isinstance(v, str) and len(v) > _MAX_STRING):
                return "a list may hold only numbers, short strings, booleans and null"
        return None
    if value is None or isinstance(value, (bool, int, float)):
        if isinstance(default, bool) and value is not None and not isinstance(value, bool):
            return "expected true or false"
        return None
    return f"a {type(value).__name__} is not a configuration value (numbers, strings, lists only)"


def restore_model(path, checkpoint: Checkpoint | None = None):
    """A ready-to-use (fitted, eval-mode) model from a checkpoint written while training an nnlite model.

    Works for nnlite's model classes (``nnlite.models``). Raises
    :class:`~nnlite.checkpoint.CheckpointError` for anything else, for a configuration that does not
    fit the class, and for a configuration that implies more weights than the file holds.
    """
    ck = checkpoint if checkpoint is not None else read_checkpoint(path)
    model = build_model(ck)
    fitted = dict(ck.meta.get("fitted", {}))
    private = fitted.pop("_private", {})
    if not isinstance(private, dict):
        raise CheckpointError("damaged checkpoint: its fitted '_private' entry is not an object", ck.path)
    _check_fitted(model, fitted, private, ck.path)
    for name, value in fitted.items():
        if name.endswith("shape_") and isinstance(value, list):
            value = tuple(value)
        object.__setattr__(model, name, value)
    if isinstance(model, Module) and not model.parameters() and hasattr(model, "_build"):
        if "n_features_in_" not in fitted:
            raise CheckpointError("the checkpoint does not record n_features_in_: cannot rebuild the networks",
                                  ck.path)
        try:
            with parameter_budget(ck.n_weights):
                model._build(int(fitted["n_features_in_"]), as_generator(0))
        except (AllocationLimitError, MemoryError):
            raise CheckpointError(f"the stored configuration asks for a larger {type(model).__name__} than the "
                                  f"{ck.n_weights:,} weights the file holds; the file is damaged or crafted",
                                  ck.path) from None
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"cannot build {type(model).__name__}'s networks from the stored configuration "
                                  f"({type(exc).__name__}: {exc})", ck.path) from None
    clash = sorted(set(fitted) & set(getattr(model, "_modules", {})))
    if clash:
        raise CheckpointError(f"damaged checkpoint: fitted attributes {clash} name the model's own networks",
                              ck.path)
    for name, value in private.items():
        if name not in vars(model):
            object.__setattr__(model, name, value)
    history = {k: list(v) for k, v in ck.history.items()}
    if history and "history_" not in fitted:
        object.__setattr__(model, "history_", history)
        object.__setattr__(model, "loss_curve_", history.get("loss", []))
        object.__setattr__(model, "n_epochs_", ck.epoch)
        object.__setattr__(model, "n_iter_", ck.global_step)
        if hasattr(model, "_after_fit"):
            model._after_fit()
    if isinstance(model, Module) and "_rng" not in vars(model):
        object.__setattr__(model, "_rng", as_generator(0))
    try:
        _load_weights(model, ck)
    except CheckpointError as exc:
        raise CheckpointError(f"the rebuilt model does not match the stored weights: {exc}", ck.path) from None
    model.eval()
    return model


def _load_weights(model, ck: Checkpoint):
    """The weights of an already read checkpoint into ``model`` (the checks of load_checkpoint, no re-read)."""
    module = _as_module(model)
    problems = _diff_state(module, ck.model_state, True)
    if problems:
        raise CheckpointError(" | ".join(problems), ck.path)
    _check_array_dtypes(module, ck.model_state, ck.path)
    module.load_state_dict(ck.model_state)


def _check_fitted(model, fitted: dict, private: dict, path):
    """Fitted attributes: plain names of plain values, sizes that agree, nothing that shadows the class."""
    for name in fitted:
        if not _FITTED_NAME.match(name) or hasattr(type(model), name):
            raise CheckpointError(f"damaged checkpoint: {name!r} is not a fitted attribute of "
                                  f"{type(model).__name__}", path)
    for name, value in private.items():
        plain = value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 64)
        if not _PRIVATE_NAME.match(name) or hasattr(type(model), name) or name in Module.__dict__ or not plain:
            raise CheckpointError(f"damaged checkpoint: {name!r} = {str(value)[:40]!r} is not a private setting of "
                                  f"{type(model).__name__}", path)
    n = fitted.get("n_features_in_")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise CheckpointError(f"damaged checkpoint: n_features_in_ must be a whole number >= 1, got {n!r}", path)
    for key in ("input_shape_", "image_shape_"):
        shape = fitted.get(key)
        if shape is None:
            continue
        if not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)):
            raise CheckpointError(f"damaged checkpoint: {key} must be a list of 1-4 sizes >= 1, got "
                                  f"{json.dumps(shape)[:60]}", path)
        if n is not None and int(np.prod(shape, dtype=np.int64)) != n:
            raise CheckpointError(f"damaged checkpoint: {key} {shape} holds {int(np.prod(shape, dtype=np.int64)):,} "
                                  f"values, n_features_in_ says {n:,}", path)


class _ResumeCallback(Callback):
    """Loads a checkpoint into model, optimizer and trainer as training begins, then stops the run when
    the planned number of epochs (``target``, default the trainer's ``epochs``) is reached in total."""

    def __init__(self, path, target):
        self.path, self.target = path, target
        self.trainer = None

    def on_train_begin(self, trainer):
        self.trainer = trainer
        if self.path is not None:
            load_checkpoint(self.path, model=trainer.model, optimizer=trainer.optimizer, trainer=trainer)
            target = self.target if self.target is not None else trainer.epochs
            if trainer.epoch >= target and trainer._resume_position is None:
                raise _AlreadyComplete

    def on_epoch_end(self, trainer, epoch, logs):
        target = self.target if self.target is not None else trainer.epochs
        if trainer.epoch >= target:
            trainer.stop_training = True


class _AlreadyComplete(Exception):
    """The checkpoint already holds the whole planned run: nothing to train."""


#: Constructor arguments that may differ between a run and its resumption (train longer than planned).
_MAY_CHANGE_ON_RESUME = ("epochs",)


def config_differences(saved: dict, here: dict) -> list[str]:
    """``["lr: checkpoint 0.001, this run 0.01", ...]`` for the arguments that differ (those that may
    change on resume left out)."""
    out = []
    for key in sorted(set(saved) | set(here)):
        if key in _MAY_CHANGE_ON_RESUME or saved.get(key) == here.get(key):
            continue
        out.append(f"{key}: checkpoint {json.dumps(saved.get(key))}, this run {json.dumps(here.get(key))}")
    return out


def fit_resumable(model, X, path, resume: bool = False, epochs: int | None = None, every_epochs: int = 1,
                  every_steps: int | None = None, callbacks=(), extra=None, **fit_kwargs):
    """``model.fit(X, epochs=epochs, **fit_kwargs)`` with a checkpoint at ``path`` and optional resume.

    With ``resume=True`` and an existing checkpoint at ``path``, the run continues from it (weights,
    optimizer, trainer counters and every generator restored as training begins) until ``epochs``
    epochs in total; the result is bit-identical to an uninterrupted run with the same seed, data and
    arguments. ``random_state`` must be an int for that (a seed, not a Generator). Only ``epochs`` may
    differ from the interrupted run's arguments (to train longer; the learning-rate schedule then follows
    the new length from the resumed step on); any other difference is refused, naming the arguments.
    ``every_epochs=None, every_steps=None``: no periodic saves (a callback of yours saves, as the
    command line's run monitor does); the checkpoint is still written at the end.
    The checkpoint's folder is locked for the whole call (:class:`nnlite.atomic.RunLock`), so a second
    process writing into it gets a clear error. Returns ``(model, resumed_from_epoch)``; the latter is
    ``None`` for a fresh run.
    """
    with RunLock(Path(path).parent if str(Path(path).parent) else Path(".")):
        return _fit_resumable(model, X, path, resume, epochs, every_epochs, every_steps, callbacks, extra,
                              fit_kwargs)


def _fit_resumable(model, X, path, resume, epochs, every_epochs, every_steps, callbacks, extra, fit_kwargs):
    resumed = None
    if resume and Path(path).exists():
        ck = read_checkpoint(path)
        saved = ck.config.get("class")
        here = model_config(model)
        differences = config_differences(ck.config.get("config") or {}, here["config"])
        if class_name(saved) != class_name(here["class"]) or differences:
            what = f"the checkpoint is a {class_name(saved)}, this run a {class_name(here['class'])}" \
                if class_name(saved) != class_name(here["class"]) else "; ".join(differences)
            raise CheckpointError(f"cannot resume: {what}; use the same arguments as the interrupted run "
                                  "(only epochs may change)", path)
        resumed = ck.epoch
        if epochs is not None and ck.epoch >= epochs and not ck.mid_epoch:
            return restore_model(path, ck), resumed
    periodic = every_epochs is not None or every_steps is not None
    ours = [ModelCheckpoint(path, every_epochs=every_epochs, every_steps=every_steps, extra=extra, model=model)] \
        if periodic else []
    ours += list(callbacks)
    resume_cb = _ResumeCallback(path if resumed is not None else None, epochs)
    ours.append(resume_cb)
    if "callbacks" not in inspect.signature(model.fit).parameters:
        raise TypeError(f"fit_resumable: {type(model).__name__}.fit takes no callbacks=, so it cannot save "
                        "checkpoints while it trains")
    try:
        model.fit(X, epochs=epochs, callbacks=ours, **fit_kwargs)
    except _AlreadyComplete:
        return restore_model(path), resumed
    # Once more at the end: the same weights, now with everything fit sets after the last epoch
    # (history_, n_iter_, ...), so restore_model gives exactly the fitted model.
    tr = resume_cb.trainer
    save_checkpoint(path, model, optimizer=None if tr is None else tr.optimizer, trainer=tr, extra=extra)
    return model, resumed
