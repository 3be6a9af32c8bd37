"""Loading a checkpoint into a model, optimizer and trainer: everything checked first, rolled back on failure."""
from __future__ import annotations

import json

import numpy as np

from ..module import Module
from ._format import CheckpointError
from .read import Checkpoint, read_checkpoint
from .validate import _check_array_dtypes, _check_generator_state, _check_optimizer_state, _is_int
from .write import _as_module

__all__ = ["load_checkpoint"]


# ---------------------------------------------------------------------------------------------- loading
def load_checkpoint(path, model=None, optimizer=None, trainer=None, generators=None, strict: bool = True) -> Checkpoint:
    """Read a checkpoint and restore it into whatever is given; return the :class:`Checkpoint`.

    Parameters
    ----------
    path : str or Path
    model : Module or model object, optional
        Receives the weights and the states of its :meth:`~nnlite.Module.random_generators`. Pass
        ``model=None`` and call :func:`nnlite.restore_model` to rebuild it from the stored configuration.
    optimizer : Optimizer, optional
        Receives hyper-parameters, step count and buffers (must be of the saved type and size).
    trainer : Trainer, optional
        Receives epoch, global step, history, generator states and the position inside an epoch.
    generators : dict of str -> Generator, optional
        Restored by name from the generators passed to :func:`save_checkpoint`.
    strict : bool
        Missing/unexpected weight keys are errors (shape mismatches always are).

    Nothing is modified unless everything fits: every check runs before the first assignment, and if
    an assignment still fails, what was already assigned is put back.

    Raises
    ------
    CheckpointError
        Naming the file and what does not fit (keys, shapes, dtypes, optimizer type, generator counts).
    """
    ck = read_checkpoint(path)
    meta = ck.meta
    saved_class = (ck.config or {}).get("class", "?")
    module = None
    if model is not None:
        try:
            module = _as_module(model)
        except TypeError as exc:
            raise CheckpointError(f"cannot load into this model: {exc}", path) from None
        problems = _diff_state(module, ck.model_state, strict)
        if problems:
            this = f"{type(model).__module__}.{type(model).__qualname__}"
            raise CheckpointError(
                f"the checkpoint was made for another architecture ({saved_class} with config "
                f"{json.dumps((ck.config or {}).get('config', {}))[:500]}), it does not fit this {this}: "
                + " | ".join(problems), path)
        _check_array_dtypes(module, ck.model_state, path)
        gens, saved = module.random_generators(), meta.get("model_generators", [])
        if len(gens) != len(saved):
            raise CheckpointError(f"the checkpoint holds {len(saved)} random generator(s) of the model, this model "
                                  f"has {len(gens)}; it was made for another architecture ({saved_class})", path)
        for i, (g, st) in enumerate(zip(gens, saved)):
            _check_generator_state(st, g, f"the model's generator {i}", path)
    if optimizer is not None:
        if ck.optimizer_error:
            raise CheckpointError(ck.optimizer_error + "; the weights can be loaded, but the run cannot be resumed",
                                  path)
        if ck.optimizer_state is None:
            raise CheckpointError("the checkpoint holds no optimizer state (it was saved without optimizer=); "
                                  "load the weights only, with load_checkpoint(path, model=...)", path)
        own = optimizer.state_dict()
        saved_type = ck.optimizer_state.get("type", meta["optimizer"].get("type"))
        if saved_type != own.get("type", type(optimizer).__name__):
            raise CheckpointError(f"the checkpoint's optimizer is {saved_type}, this one is "
                                  f"{type(optimizer).__name__}; use the same optimizer to resume", path)
        params = getattr(optimizer, "params", None)
        n_saved = meta["optimizer"].get("n_params")
        if params is not None and n_saved is not None:
            if n_saved != len(params):
                raise CheckpointError(f"the checkpoint's optimizer updates {n_saved} parameters, this one "
                                      f"{len(params)}; it was made for another architecture", path)
            for i, st in ck.optimizer_state.get("state", {}).items():
                if not (_is_int(i) or (isinstance(i, str) and i.isdigit())) or not 0 <= int(i) < len(params):
                    raise CheckpointError(f"damaged checkpoint: optimizer state for parameter {i!r}, this "
                                          f"optimizer has {len(params)}", path)
                for k, v in (st.items() if isinstance(st, dict) else ()):
                    if np.shape(v) != params[int(i)].shape:
                        raise CheckpointError(f"optimizer state {k!r} of parameter {i} has shape {np.shape(v)}, "
                                              f"the parameter has {params[int(i)].shape}; another architecture", path)
        _check_optimizer_state(optimizer, ck.optimizer_state, path)
    tstate = meta.get("trainer")
    if trainer is not None:
        if tstate is None:
            raise CheckpointError("the checkpoint holds no trainer state (saved without trainer=); it cannot "
                                  "resume a run, only provide weights", path)
        if len(tstate.get("generators", [])) != len(trainer.generators):
            raise CheckpointError(f"the checkpoint's trainer had {len(tstate.get('generators', []))} extra "
                                  f"generator(s), this trainer has {len(trainer.generators)}", path)
        if tstate.get("position") and int(tstate.get("batch_size", trainer.batch_size)) != trainer.batch_size:
            raise CheckpointError(f"the checkpoint was saved in the middle of an epoch with batch_size="
                                  f"{tstate['batch_size']}, this trainer has batch_size={trainer.batch_size}", path)
        _check_generator_state(tstate["rng"], trainer.rng, "the trainer's shuffling generator", path)
        for i, (g, st) in enumerate(zip(trainer.generators, tstate.get("generators", []))):
            _check_generator_state(st, g, f"the trainer's generator {i}", path)
        if tstate.get("position"):
            _check_generator_state(tstate["position"]["rng_at_epoch_start"], trainer.rng,
                                   "the shuffling generator at the epoch's start", path)
    named = meta.get("generators", {})
    for name, g in (generators or {}).items():
        if name not in named:
            raise CheckpointError(f"the checkpoint holds no generator named {name!r} (it has: {sorted(named)})", path)
        _check_generator_state(named[name], g, f"generator {name!r}", path)

    # everything fits: apply, and put everything back if an assignment still fails
    snapshot = _Snapshot(module, optimizer, trainer, generators)
    try:
        if module is not None:
            snapshot.applying("module")
            module.load_state_dict(ck.model_state, strict=strict)
            for g, st in zip(module.random_generators(), meta.get("model_generators", [])):
                g.bit_generator.state = st
        if optimizer is not None:
            snapshot.applying("optimizer")
            optimizer.load_state_dict(ck.optimizer_state)
        if trainer is not None:
            snapshot.applying("trainer")
            trainer.load_state_dict(tstate)
        snapshot.applying("generators")
        for name, g in (generators or {}).items():
            g.bit_generator.state = named[name]
    except Exception as exc:
        snapshot.restore()
        raise CheckpointError(f"the checkpoint does not fit ({type(exc).__name__}: {exc}); nothing was changed",
                              path) from None
    return ck


class _Snapshot:
    """The state of everything :func:`load_checkpoint` may assign, to put back what was assigned (or half
    assigned) when a later assignment fails."""

    def __init__(self, module, optimizer, trainer, generators):
        self.module, self.optimizer, self.trainer = module, optimizer, trainer
        self.weights = None if module is None else module.state_dict()
        self.module_gens = [] if module is None else [(g, g.bit_generator.state) for g in module.random_generators()]
        self.optimizer_state = None if optimizer is None else optimizer.state_dict()
        self.trainer_state = None if trainer is None else (trainer.state_dict(), trainer._resume_position)
        self.named = [(g, g.bit_generator.state) for g in (generators or {}).values()]
        self.touched: list[str] = []

    def applying(self, part: str):
        self.touched.append(part)

    def restore(self):
        """Put back the parts touched so far, the one that failed included (it may be half assigned)."""
        if "module" in self.touched:
            self.module.load_state_dict(self.weights)
            for g, st in self.module_gens:
                g.bit_generator.state = st
        if "optimizer" in self.touched:
            _restore_optimizer(self.optimizer, self.optimizer_state)
        if "trainer" in self.touched:
            state, resume_position = self.trainer_state
            self.trainer.load_state_dict(state)
            self.trainer._resume_position = resume_position
        if "generators" in self.touched:
            for g, st in self.named:
                g.bit_generator.state = st


def _restore_optimizer(optimizer, state):
    try:
        optimizer.load_state_dict(state)
    except Exception:  # noqa: BLE001 - its own loader is what failed: put the fields back directly
        if hasattr(optimizer, "hyper") and isinstance(state.get("hyper"), dict):
            optimizer.hyper.clear()
            optimizer.hyper.update(state["hyper"])
            optimizer.step_count = state["step_count"]
            optimizer.state = {i: {k: v.copy() for k, v in st.items()} for i, st in state["state"].items()}


def _diff_state(module: Module, state: dict, strict: bool) -> list[str]:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched[:20]))
    if strict and missing:
        problems.append("missing from the checkpoint: " + ", ".join(missing[:20]))
    if strict and unexpected:
        problems.append("not in the model: " + ", ".join(unexpected[:20]))
    return problems
