"""Writing a checkpoint: the model's configuration as JSON, its weights and optimizer state as arrays."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_write, atomic_write_text
from ..module import Module
from ._format import _MAGIC, _META, FORMAT_VERSION, CheckpointError

__all__ = ["save_checkpoint", "model_config", "class_name", "nonfinite_entries"]


# ---------------------------------------------------------------------------------------------- model config
def model_config(model) -> dict:
    """``{"class": "module.Name", "config": {...}}`` describing how to rebuild ``model``.

    Uses ``model.get_config()`` when the model has it (Keras style), else ``model.get_params()``
    (scikit-learn style, keeping JSON-able values only), else an empty configuration. Values that
    JSON cannot hold (generators, arrays) are dropped: the weights come from the checkpoint anyway.
    nnlite's own models are named ``nnlite.models.<Name>``, whichever file defines them.
    """
    cls = type(model)
    if hasattr(model, "get_config"):
        cfg = model.get_config()
    elif hasattr(model, "get_params"):
        cfg = model.get_params() if _accepts_no_args(model.get_params) else model.get_params(deep=False)
    else:
        cfg = {}
    module = "nnlite.models" if cls.__module__.startswith("nnlite.models.") else cls.__module__
    return {"class": f"{module}.{cls.__qualname__}", "config": _jsonable(cfg)}


def class_name(dotted: str) -> str:
    """The class name a checkpoint's ``model.class`` stands for (its last component)."""
    return dotted.rpartition(".")[2] if isinstance(dotted, str) else ""


def _accepts_no_args(fn):
    import inspect
    try:
        inspect.signature(fn).bind()
        return True
    except TypeError:
        return False


def _jsonable(value):
    """Keep what JSON can hold exactly; tuples become lists; drop generators and other objects."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return items if all(i is not _DROP for i in items) else _DROP
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _jsonable(v)
            if v is not _DROP:
                out[str(k)] = v
        return out
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    return _DROP


_DROP = object()


def _as_module(model) -> Module:
    """The Module holding the weights: the model itself, or the ``module_`` / ``net_`` of a wrapper."""
    if isinstance(model, Module):
        return model
    for attr in ("module_", "net_", "network_", "model_", "module", "net"):
        m = getattr(model, attr, None)
        if isinstance(m, Module):
            return m
    raise TypeError(f"{type(model).__name__} is not an nnlite Module and holds none (looked for "
                    "module_, net_, network_, model_); is the model fitted?")


# ---------------------------------------------------------------------------------------------- saving
def nonfinite_entries(module: Module | None = None, optimizer=None) -> list[str]:
    """Names of the weights and optimizer buffers that hold NaN or inf (empty when all are finite).

    Reads the arrays in place (no copies), so the trainer can afford it after every epoch.
    """
    bad = []
    if module is not None:
        for name, p in module.named_parameters():
            if not np.isfinite(p.data).all():
                bad.append(name)
        for name, buf in module.named_buffers():
            if np.issubdtype(np.asarray(buf).dtype, np.floating) and not np.isfinite(buf).all():
                bad.append(name)

    def walk(obj, where):
        if isinstance(obj, np.ndarray):
            if np.issubdtype(obj.dtype, np.floating) and not np.isfinite(obj).all():
                bad.append(f"optimizer state {where}")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}/{k}" if where else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{where}/{i}")

    if optimizer is not None:
        state = getattr(optimizer, "state", None)
        walk(state if isinstance(state, dict) else optimizer.state_dict(), "")
    return bad


def _check_finite(path, module: Module, optimizer):
    bad = nonfinite_entries(module, optimizer)
    if bad:
        raise CheckpointError(f"refusing to save a checkpoint whose weights contain NaN or inf ({', '.join(bad[:5])}"
                              f"{', ...' if len(bad) > 5 else ''}); the previous checkpoint, if any, is kept. "
                              "The run has diverged: try a lower learning rate.", path)


def save_checkpoint(path, model, optimizer=None, trainer=None, config=None, generators=None, extra=None,
                    sidecar: bool = True) -> Path:
    """Write a checkpoint atomically and return its path.

    Parameters
    ----------
    path : str or Path
        Destination, conventionally ending in ``.npz`` (appended if missing).
    model : Module, or a model object holding one (``module_``/``net_`` attribute)
    optimizer : nnlite.optim.Optimizer, optional
    trainer : nnlite.Trainer, optional
        Epoch, global step, history, shuffling generator, extra generators, position in the epoch.
    config : dict, optional
        The model's configuration (default: :func:`model_config` of ``model``).
    generators : dict of str -> numpy.random.Generator, optional
        More generators to save by name (restored by the same names in :func:`load_checkpoint`).
    extra : dict, optional
        Any JSON-able data of yours (CLI arguments, data set name, ...), returned as ``Checkpoint.extra``.
    sidecar : bool
        Also write ``<name>.json`` with the same metadata for people to read (never read back).
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    module = _as_module(model)
    _check_finite(path, module, optimizer)
    arrays = {}
    for k, v in module.state_dict().items():
        arrays[f"model/{k}"] = v
    meta = {
        "format": _MAGIC,
        "version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nnlite_version": _nnlite_version(),
        "model": model_config(model) if config is None else {"class": model_config(model)["class"],
                                                              "config": _jsonable(config)},
        "module_class": f"{type(module).__module__}.{type(module).__qualname__}",
        "model_keys": {k: list(v.shape) for k, v in module.state_dict().items()},
        "fitted": _fitted_attributes(model),
        "model_generators": [g.bit_generator.state for g in module.random_generators()],
        "generators": {str(k): g.bit_generator.state for k, g in (generators or {}).items()},
        "extra": _jsonable(extra or {}),
        "optimizer": None,
        "trainer": None,
    }
    if meta["extra"] is _DROP:
        raise TypeError("save_checkpoint: extra= must be JSON-able data (dict of str, numbers, lists)")
    if optimizer is not None:
        sd = optimizer.state_dict()
        params = getattr(optimizer, "params", None)
        meta["optimizer"] = {"type": sd.get("type", type(optimizer).__name__),
                             "n_params": None if params is None else len(params),
                             "tree": _encode_tree(sd, "optimizer", arrays)}
    if trainer is not None:
        meta["trainer"] = trainer.state_dict()
    text = json.dumps(meta, indent=1, allow_nan=True)
    arrays[_META] = np.array(text)

    atomic_write(path, lambda f: np.savez(f, **arrays))
    if sidecar:
        atomic_write_text(path.with_suffix(".json"), text + "\n")
    return path


def _fitted_attributes(model) -> dict:
    """The model's JSON-able fitted attributes: scikit-learn style ``name_`` (``input_shape_``, ...) and,
    under ``"_private"``, private scalars/strings set by ``fit`` (``_layout``, ...), which
    the model's restore puts back only where rebuilding the model did not set them."""
    out, private = {}, {}
    for name, value in vars(model).items():
        if isinstance(value, Module) or name.startswith("__") or name in ("_parameters", "_buffers", "_modules"):
            continue
        if name.endswith("_") and not name.startswith("_"):
            v = _jsonable(value)
            if v is not _DROP:
                out[name] = v
        elif name.startswith("_") and (value is None or isinstance(value, (bool, int, float, str))):
            private[name] = value
    if private:
        out["_private"] = private
    return out


def _encode_tree(obj, path, arrays):
    """JSON-able copy of a nested state (dicts, lists, numbers) with arrays moved to ``arrays[path]``."""
    if isinstance(obj, np.ndarray):
        arrays[path] = obj
        return {"__array__": path}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode_key(k), _encode_tree(v, f"{path}/{k}", arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__tuple__" if isinstance(obj, tuple) else "__list__":
                [_encode_tree(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save_checkpoint: cannot store a {type(obj).__name__} in an optimizer state (at {path})")


def _encode_key(k):
    if isinstance(k, (bool, str, int, float)) or k is None:
        return k
    raise TypeError(f"save_checkpoint: optimizer state keys must be str or int, got {type(k).__name__}")


def _nnlite_version():
    try:
        from .._version import __version__
        return __version__
    except ImportError:  # pragma: no cover - during partial imports
        return "unknown"
