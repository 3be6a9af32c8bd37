"""The checks a checkpoint's content passes before anything is assigned: metadata types, generator
states, weight dtypes, optimizer hyper-parameters."""
from __future__ import annotations

import json
import math

import numpy as np

from ..module import Module
from ._format import _MAX_NDIM, _WEIGHT_DTYPES, FORMAT_VERSION, CheckpointError


def _validate_meta(meta: dict, path):
    """Every field read later has the type :func:`save_checkpoint` writes; else a CheckpointError naming it."""
    def need(ok, field, expected):
        if not ok:
            value = meta
            for part in field.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            shown = json.dumps(value)[:80] if value is not None else "nothing"
            raise CheckpointError(f"damaged checkpoint: its metadata field {field!r} should be {expected}, "
                                  f"it holds {shown}", path)

    version = meta.get("version")
    need(_is_int(version) and version >= 0, "version", "a whole number")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {version} is newer than this nnlite reads "
                              f"({FORMAT_VERSION}); upgrade nnlite", path)
    model = meta.get("model", {})
    need(isinstance(model, dict) and isinstance(model.get("class", ""), str)
         and isinstance(model.get("config") or {}, dict), "model", 'an object {"class": str, "config": object}')
    keys = meta.get("model_keys", {})
    need(isinstance(keys, dict) and all(isinstance(s, list) and len(s) <= _MAX_NDIM and all(_is_int(d) and d >= 0
                                                                                       for d in s)
                                        for s in keys.values()),
         "model_keys", "an object of weight name -> shape (a list of sizes)")
    need(isinstance(meta.get("fitted", {}), dict), "fitted", "an object")
    need(isinstance(meta.get("extra", {}), dict), "extra", "an object")
    gens = meta.get("model_generators", [])
    need(isinstance(gens, list) and all(isinstance(g, dict) for g in gens), "model_generators",
         "a list of generator states")
    named = meta.get("generators", {})
    need(isinstance(named, dict) and all(isinstance(g, dict) for g in named.values()), "generators",
         "an object of name -> generator state")
    om = meta.get("optimizer")
    need(om is None or (isinstance(om, dict) and isinstance(om.get("type", ""), str)
                        and (om.get("n_params") is None or _is_int(om.get("n_params")))),
         "optimizer", 'null or an object {"type": str, "n_params": int, "tree": ...}')
    tr = meta.get("trainer")
    need(tr is None or isinstance(tr, dict), "trainer", "null or an object")
    if tr is not None:
        for name in ("epoch", "global_step"):
            need(_is_int(tr.get(name, 0)) and tr.get(name, 0) >= 0, f"trainer.{name}", "a whole number >= 0")
        need(_is_int(tr.get("batch_size", 1)) and tr.get("batch_size", 1) >= 1, "trainer.batch_size",
             "a whole number >= 1")
        history = tr.get("history", {})
        need(isinstance(history, dict) and all(isinstance(v, list) and all(_is_number(x) for x in v)
                                               for v in history.values()),
             "trainer.history", "an object of name -> list of numbers")
        need(isinstance(tr.get("rng"), dict), "trainer.rng", "a generator state")
        need(isinstance(tr.get("generators", []), list) and all(isinstance(g, dict) for g in tr.get("generators", [])),
             "trainer.generators", "a list of generator states")
        pos = tr.get("position")
        need(pos is None or (isinstance(pos, dict) and all(_is_int(pos.get(k)) and pos.get(k) >= 0
                                                           for k in ("batch", "seen", "n_samples"))
                             and isinstance(pos.get("sums"), dict)
                             and all(_is_number(v) for v in pos.get("sums").values())
                             and isinstance(pos.get("rng_at_epoch_start"), dict)),
             "trainer.position", "null or the position inside an epoch")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_generator_state(state, generator: np.random.Generator, what, path):
    """A bit-generator state that ``generator`` accepts: tried on a fresh bit generator of its kind."""
    kind = type(generator.bit_generator)
    probe = kind()
    try:
        probe.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CheckpointError(f"damaged checkpoint: {what} is not a valid {kind.__name__} state ({exc})",
                              path) from None


def _check_array_dtypes(module: Module, state: dict, path):
    """A float weight takes float32 or float64 values; an integer buffer takes integers of its dtype."""
    own = module.state_dict()
    for k, v in state.items():
        if k not in own:
            continue
        want = own[k].dtype
        ok = v.dtype in _WEIGHT_DTYPES if np.issubdtype(want, np.floating) else v.dtype == want
        if not ok:
            raise CheckpointError(f"the checkpoint's {k!r} holds {v.dtype} values, the model's is {want}", path)


def _check_optimizer_state(optimizer, state, path, where="optimizer"):
    """The saved state has this optimizer's hyper-parameter names, values its constructor accepts, and
    float buffers; an optimizer group's members are checked one by one."""
    own = optimizer.state_dict()
    if not isinstance(state, dict):
        raise CheckpointError(f"damaged checkpoint: the {where} state is malformed", path)
    if "hyper" not in own:  # a group: {"type": ..., member: member's state, ...}
        for key, sub in own.items():
            if isinstance(sub, dict):
                if key not in state:
                    raise CheckpointError(f"damaged checkpoint: the {where} state has no {key!r} member", path)
                _check_optimizer_state(optimizer[key], state[key], path, f"{where} {key!r}")
        return
    if not isinstance(state.get("hyper"), dict) or not isinstance(state.get("state", {}), dict):
        raise CheckpointError(f"damaged checkpoint: the {where} state is malformed", path)
    if not _is_int(state.get("step_count", 0)) or state.get("step_count", 0) < 0:
        raise CheckpointError(f"damaged checkpoint: {where} step_count {state.get('step_count')!r} is not a "
                              "whole number >= 0", path)
    hyper_own = own.get("hyper", {})
    if set(state["hyper"]) - set(hyper_own):
        raise CheckpointError(f"the checkpoint's {where} has hyper-parameters {sorted(state['hyper'])}, this "
                              f"{own.get('type')} has {sorted(hyper_own)}", path)
    for name, value in state["hyper"].items():
        mine = hyper_own[name]
        if isinstance(mine, (tuple, list)):
            ok = isinstance(value, (tuple, list)) and len(value) == len(mine) and all(
                _is_number(v) and math.isfinite(v) for v in value)
        elif _is_number(mine):
            ok = _is_number(value) and math.isfinite(value)
        else:
            ok = type(value) is type(mine)
        if not ok:
            raise CheckpointError(f"damaged checkpoint: {where} hyper-parameter {name}={value!r} is not of "
                                  f"the kind {own.get('type')} uses ({mine!r})", path)
    try:  # the values themselves, by the optimizer's own rules (eps > 0, betas in [0, 1), ...)
        type(optimizer)(optimizer.params, **{**hyper_own, **state["hyper"]})
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"damaged checkpoint: {where} hyper-parameters refused ({exc})", path) from None
    for i, st in state.get("state", {}).items():
        if not isinstance(st, dict):
            raise CheckpointError(f"damaged checkpoint: {where} state of parameter {i} is malformed", path)
        for k, v in st.items():
            if not isinstance(v, np.ndarray) or v.dtype not in _WEIGHT_DTYPES:
                raise CheckpointError(f"damaged checkpoint: {where} state {k!r} of parameter {i} is not a "
                                      "float array", path)
