"""Checkpoints: one ``.npz`` file with everything a run needs to continue bit for bit.

What is inside
--------------
A checkpoint is a plain NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without nnlite and
loaded with ``allow_pickle=False``: no pickle, so opening a checkpoint cannot run code):

==============================  ======================================================================
entry                           content
==============================  ======================================================================
``nnlite.json``                 a JSON string (0-d unicode array): format version, model class and
                                **configuration**, epoch, global step, history, optimizer type and
                                hyper-parameters, and the state of every random generator involved
                                (the trainer's shuffling generator, the model's
                                :meth:`~nnlite.Module.random_generators`, the trainer's extra
                                ``generators`` such as input-noise streams, and any named ones passed to
                                :func:`save_checkpoint`), plus the position inside an epoch when saved
                                in the middle of one
``model/<dotted.key>``          the model's ``state_dict()`` (weights and buffers)
``optimizer/<i>/<name>``        the optimizer's per-parameter buffers (Adam's ``exp_avg``, ...)
==============================  ======================================================================

The model configuration lives **inside** the archive, so weights and configuration can never get out
of step. A human-readable copy of the JSON is also written next to it as ``<name>.json`` (sidecar,
``sidecar=True``, the default); it is informational only and never read back.

Crash safety
------------
:func:`save_checkpoint` writes to a temporary file in the destination folder, flushes and ``fsync``\\ s
it, then renames it over the destination with :func:`os.replace` (atomic on POSIX and Windows) and
syncs the folder. A crash or ``SIGKILL`` at any moment leaves either the previous checkpoint or the new
one, never a half-written file. It refuses to write weights that contain NaN or inf, so a diverging run
cannot overwrite a good checkpoint with garbage.

Errors
------
Every problem reading or applying a checkpoint raises :class:`CheckpointError` (a ``ValueError``)
naming the file: truncated or damaged archives, files that are not nnlite checkpoints, and
checkpoints made for another architecture (listing the missing, unexpected and mis-shaped keys).

Models and their configuration
------------------------------
``save_checkpoint(..., config=None)`` asks :func:`model_config` for the model's configuration: the
model's own ``get_config()`` if it has one, else scikit-learn's ``get_params()``, else only the class
name. :func:`build_model` turns it back into an (unfitted) model via ``cls.from_config(config)`` or
``cls(**config)``.
"""
from __future__ import annotations

import datetime
import importlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .module import Module
from .trainer import Callback

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "CheckpointError",
           "model_config", "build_model", "restore_model", "fit_resumable", "atomic_write_bytes", "atomic_write_text", "FORMAT_VERSION"]

#: Bumped when the layout changes incompatibly; newer files are refused with a clear message.
FORMAT_VERSION = 1
_META = "nnlite.json"
_MAGIC = "nnlite-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, or does not fit the model/optimizer/trainer it is loaded into.

    The message names the file and the problem. ``path`` holds the file name.
    """

    def __init__(self, message: str, path=None):
        self.path = None if path is None else os.fspath(path)
        if self.path is not None and not message.startswith(self.path):
            message = f"{self.path}: {message}"
        super().__init__(message)


# ---------------------------------------------------------------------------------------------- atomic files
def _fsync_dir(folder: Path):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened; os.replace is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file next to ``path``, fsync it and rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)
    _remove_stale_temporaries(path)


def _remove_stale_temporaries(path: Path):
    """Temporary files left by a writer that was killed mid-write (same name pattern, ours only)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            pass


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename)."""
    _atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text: str):
    """Write ``text`` (UTF-8) to ``path`` atomically (temporary file + fsync + rename)."""
    atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------- model config
def model_config(model) -> dict:
    """``{"class": "module.QualName", "config": {...}}`` describing how to rebuild ``model``.

    Uses ``model.get_config()`` when the model has it (Keras style), else ``model.get_params()``
    (scikit-learn style, keeping JSON-able values only), else an empty configuration. Values that
    JSON cannot hold (generators, arrays) are dropped: the weights come from the checkpoint anyway.
    """
    cls = type(model)
    if hasattr(model, "get_config"):
        cfg = model.get_config()
    elif hasattr(model, "get_params"):
        cfg = model.get_params() if _accepts_no_args(model.get_params) else model.get_params(deep=False)
    else:
        cfg = {}
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "config": _jsonable(cfg)}


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


def build_model(info: dict, **overrides):
    """An unfitted model from :func:`model_config`'s output (or a checkpoint's ``model`` entry).

    Calls ``cls.from_config(config)`` if the class has it, else ``cls(**config)``. Only classes inside
    the ``nnlite`` package are imported (a checkpoint cannot make us import arbitrary code).
    """
    name = info.get("class", "")
    if not name.startswith("nnlite."):
        raise CheckpointError(f"the checkpoint's model class {name!r} is not an nnlite class; "
                              "build the model yourself and pass it to load_checkpoint(model=...)")
    module_name, _, qual = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), qual)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"the checkpoint's model class {name!r} does not exist in this version of nnlite "
                              f"({exc})") from None
    cfg = dict(info.get("config") or {})
    cfg.update(overrides)
    if hasattr(cls, "from_config"):
        return cls.from_config(cfg)
    return cls(**cfg)


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
def _check_finite(path, module: Module, optimizer):
    bad = [k for k, v in module.state_dict().items() if np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all()]
    if optimizer is not None:
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
        walk(optimizer.state_dict(), "")
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

    _atomic_write(path, lambda f: np.savez(f, **arrays))
    if sidecar:
        atomic_write_text(path.with_suffix(".json"), text + "\n")
    return path


def _fitted_attributes(model) -> dict:
    """The model's JSON-able fitted attributes: scikit-learn style ``name_`` (``input_shape_``, ...) and,
    under ``"_private"``, private scalars/strings set by ``fit`` (``_layout``, ...), which
    :func:`restore_model` puts back only where rebuilding the model did not set them."""
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


def _decode_tree(obj, arrays):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__dict__" in obj:
            return {k: _decode_tree(v, arrays) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode_tree(v, arrays) for v in obj["__tuple__"])
        if "__list__" in obj:
            return [_decode_tree(v, arrays) for v in obj["__list__"]]
    return obj


def _nnlite_version():
    try:
        from . import __version__
        return __version__
    except ImportError:  # pragma: no cover - during partial imports
        return "unknown"


# ---------------------------------------------------------------------------------------------- loading
class Checkpoint:
    """The content of a checkpoint file, as returned by :func:`read_checkpoint` / :func:`load_checkpoint`.

    Attributes
    ----------
    path : Path
    meta : dict
        The whole JSON metadata.
    model_state : dict of str -> ndarray
        Weights and buffers under their dotted keys.
    optimizer_state : dict or None
        In the form ``Optimizer.load_state_dict`` takes.
    config : dict
        ``{"class": ..., "config": {...}}`` of the model.
    epoch, global_step : int
    history : dict of lists
    extra : dict
    """

    def __init__(self, path, meta, model_state, optimizer_state):
        self.path = Path(path)
        self.meta = meta
        self.model_state = model_state
        self.optimizer_state = optimizer_state
        tr = meta.get("trainer") or {}
        self.config = meta.get("model") or {}
        self.epoch = int(tr.get("epoch", 0))
        self.global_step = int(tr.get("global_step", 0))
        self.history = tr.get("history", {})
        self.extra = meta.get("extra", {})

    @property
    def mid_epoch(self) -> bool:
        return bool((self.meta.get("trainer") or {}).get("position"))

    def build_model(self, **overrides):
        """Rebuild the model from the stored configuration (see :func:`build_model`), weights not loaded."""
        return build_model(self.config, **overrides)

    def __repr__(self):
        return (f"Checkpoint({str(self.path)!r}, model={self.config.get('class')}, epoch={self.epoch}, "
                f"global_step={self.global_step})")


def read_checkpoint(path) -> Checkpoint:
    """Read and validate a checkpoint file (no pickle); raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.exists():
        hint = ""
        if path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            hint = f" (did you mean {path.with_name(path.name + '.npz')}?)"
        raise CheckpointError(f"no such checkpoint file{hint}", path)
    if path.is_dir():
        raise CheckpointError("is a folder, not a checkpoint file (pass the .npz file inside it)", path)
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if _META not in files:
                raise CheckpointError(f"not an nnlite checkpoint: the archive has no {_META!r} entry "
                                      f"(entries: {', '.join(files[:6])}{', ...' if len(files) > 6 else ''})", path)
            arrays = {k: z[k] for k in files}  # read everything now: errors surface here, not later
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, IndexError) as exc:
        raise CheckpointError(f"cannot read the checkpoint: the file is truncated, damaged or not a .npz archive "
                              f"({type(exc).__name__}: {exc}); use an earlier checkpoint or retrain", path) from None
    try:
        meta = json.loads(str(arrays.pop(_META)))
    except (json.JSONDecodeError, ValueError) as exc:
        raise CheckpointError(f"damaged checkpoint: its {_META} entry is not valid JSON ({exc})", path) from None
    if not isinstance(meta, dict) or meta.get("format") != _MAGIC:
        raise CheckpointError("not an nnlite checkpoint (its metadata has no nnlite-checkpoint marker)", path)
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {meta['version']} is newer than this nnlite reads "
                              f"({FORMAT_VERSION}); upgrade nnlite", path)
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    want = meta.get("model_keys", {})
    if set(want) != set(model_state) or any(list(model_state[k].shape) != list(s) for k, s in want.items()):
        raise CheckpointError("damaged checkpoint: its weights do not match its own list of keys and shapes", path)
    opt, opt_error = None, None
    om = meta.get("optimizer")
    if om:
        try:
            if "tree" in om:
                opt = _decode_tree(om["tree"], arrays)
            else:  # layout of the first checkpoints (a plain Optimizer's state only)
                state = {int(i): {n: arrays[f"optimizer/{i}/{n}"] for n in names}
                         for i, names in om["state_keys"].items()}
                hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in om["hyper"].items()}
                opt = {"type": om["type"], "hyper": hyper, "step_count": om["step_count"], "state": state}
        except (KeyError, TypeError, ValueError) as exc:
            # the weights are still usable (sample, denoise, ...); resuming is not
            opt_error = f"damaged checkpoint: optimizer entry {exc} is missing or malformed"
    ck = Checkpoint(path, meta, model_state, opt)
    ck.optimizer_error = opt_error
    return ck


def load_checkpoint(path, model=None, optimizer=None, trainer=None, generators=None, strict: bool = True) -> Checkpoint:
    """Read a checkpoint and restore it into whatever is given; return the :class:`Checkpoint`.

    Parameters
    ----------
    path : str or Path
    model : Module or model object, optional
        Receives the weights and the states of its :meth:`~nnlite.Module.random_generators`. Pass
        ``model=None`` and call ``Checkpoint.build_model()`` to rebuild it from the stored configuration.
    optimizer : Optimizer, optional
        Receives hyper-parameters, step count and buffers (must be of the saved type and size).
    trainer : Trainer, optional
        Receives epoch, global step, history, generator states and the position inside an epoch.
    generators : dict of str -> Generator, optional
        Restored by name from the generators passed to :func:`save_checkpoint`.
    strict : bool
        Missing/unexpected weight keys are errors (shape mismatches always are).

    Nothing is modified unless everything fits: the checks run before the first assignment.

    Raises
    ------
    CheckpointError
        Naming the file and what does not fit (keys, shapes, optimizer type, generator counts).
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
                f"{json.dumps((ck.config or {}).get('config', {}))}), it does not fit this {this}: "
                + " | ".join(problems), path)
        gens, saved = module.random_generators(), meta.get("model_generators", [])
        if len(gens) != len(saved):
            raise CheckpointError(f"the checkpoint holds {len(saved)} random generator(s) of the model, this model "
                                  f"has {len(gens)}; it was made for another architecture ({saved_class})", path)
    if optimizer is not None:
        if getattr(ck, "optimizer_error", None):
            raise CheckpointError(ck.optimizer_error + "; the weights can be loaded, but the run cannot be resumed",
                                  path)
        if ck.optimizer_state is None:
            raise CheckpointError("the checkpoint holds no optimizer state (it was saved without optimizer=); "
                                  "load the weights only, with load_checkpoint(path, model=...)", path)
        saved_type = ck.optimizer_state.get("type", meta["optimizer"]["type"])
        if saved_type != optimizer.state_dict().get("type", type(optimizer).__name__):
            raise CheckpointError(f"the checkpoint's optimizer is {saved_type}, this one is "
                                  f"{type(optimizer).__name__}; use the same optimizer to resume", path)
        params = getattr(optimizer, "params", None)
        n_saved = meta["optimizer"].get("n_params")
        if params is not None and n_saved is not None:
            if n_saved != len(params):
                raise CheckpointError(f"the checkpoint's optimizer updates {n_saved} parameters, this one "
                                      f"{len(params)}; it was made for another architecture", path)
            for i, st in ck.optimizer_state.get("state", {}).items():
                for k, v in st.items():
                    if np.shape(v) != params[int(i)].shape:
                        raise CheckpointError(f"optimizer state {k!r} of parameter {i} has shape {np.shape(v)}, "
                                              f"the parameter has {params[int(i)].shape}; another architecture", path)
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
    named = meta.get("generators", {})
    for name in (generators or {}):
        if name not in named:
            raise CheckpointError(f"the checkpoint holds no generator named {name!r} (it has: {sorted(named)})", path)

    # everything fits: apply
    if module is not None:
        module.load_state_dict(ck.model_state, strict=strict)
        for g, st in zip(module.random_generators(), meta.get("model_generators", [])):
            g.bit_generator.state = st
    if optimizer is not None:
        try:
            optimizer.load_state_dict(ck.optimizer_state)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"the optimizer state does not fit this optimizer ({type(exc).__name__}: {exc})",
                                  path) from None
    if trainer is not None:
        trainer.load_state_dict(tstate)
    for name, g in (generators or {}).items():
        g.bit_generator.state = named[name]
    return ck


def _diff_state(module: Module, state: dict, strict: bool) -> list[str]:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched))
    if strict and missing:
        problems.append("missing from the checkpoint: " + ", ".join(missing))
    if strict and unexpected:
        problems.append("not in the model: " + ", ".join(unexpected))
    return problems


# ---------------------------------------------------------------------------------------------- model adapter
# The scikit-learn-like models of nnlite.models (Autoencoder, DenoisingAutoencoder, VAE, ...) build their
# networks inside ``fit``. Two adapters make them checkpointable without changing them:
#   * restore_model(path): rebuild from the stored configuration, re-create the networks with the model's
#     ``_build(n_features, rng)`` hook, load the weights and the fitted attributes (``input_shape_``, ...);
#   * fit_resumable(model, X, path, resume=...): run the model's own ``fit`` with a ModelCheckpoint (and, on
#     resume, a callback that loads the checkpoint into the model, optimizer and trainer as training begins).
# If a model's ``fit`` accepts ``callbacks=`` itself, that is used instead of the ``_extra_callbacks`` hook.

def restore_model(path, checkpoint: Checkpoint | None = None):
    """A ready-to-use (fitted, eval-mode) model from a checkpoint written while training an nnlite model.

    Works for models whose class is in ``nnlite`` and which either define ``from_checkpoint(path)`` or
    follow nnlite.models' protocol (``get_params``, ``_validate_params``, ``_build(n_features, rng)``,
    fitted attributes ``n_features_in_``/``input_shape_``). Raises :class:`CheckpointError` otherwise.
    """
    from .random import as_generator

    ck = checkpoint if checkpoint is not None else read_checkpoint(path)
    try:
        model = ck.build_model()
    except CheckpointError:
        raise
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot rebuild the model {ck.config.get('class')} from its stored configuration "
                              f"({type(exc).__name__}: {exc})", ck.path) from None
    if hasattr(type(model), "from_checkpoint"):
        return type(model).from_checkpoint(ck.path)
    fitted = dict(ck.meta.get("fitted", {}))
    private = fitted.pop("_private", {})
    for name, value in fitted.items():
        if name.endswith("shape_") and isinstance(value, list):
            value = tuple(value)
        object.__setattr__(model, name, value)
    if isinstance(model, Module) and not model.parameters() and hasattr(model, "_build"):
        if "n_features_in_" not in fitted:
            raise CheckpointError("the checkpoint does not record n_features_in_: cannot rebuild the networks",
                                  ck.path)
        if hasattr(model, "_validate_params"):
            model._validate_params()
        model._build(int(fitted["n_features_in_"]), as_generator(0))
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
    module = _as_module(model)
    problems = _diff_state(module, ck.model_state, True)
    if problems:
        raise CheckpointError("the rebuilt model does not match the stored weights: " + " | ".join(problems), ck.path)
    module.load_state_dict(ck.model_state)
    module.eval()
    return model


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


def fit_resumable(model, X, path, resume: bool = False, epochs: int | None = None, every_epochs: int = 1,
                  every_steps: int | None = None, callbacks=(), extra=None, **fit_kwargs):
    """``model.fit(X, epochs=epochs, **fit_kwargs)`` with a checkpoint at ``path`` and optional resume.

    With ``resume=True`` and an existing checkpoint at ``path``, the run continues from it (weights,
    optimizer, trainer counters and every generator restored as training begins) until ``epochs``
    epochs in total; the result is bit-identical to an uninterrupted run with the same seed, data and
    arguments. ``random_state`` must be an int for that (a seed, not a Generator). Only ``epochs`` may
    differ from the interrupted run's arguments (to train longer; the learning-rate schedule then follows
    the new length from the resumed step on); any other difference is refused. Returns
    ``(model, resumed_from_epoch)``; the latter is ``None`` for a fresh run.
    """
    from .callbacks import ModelCheckpoint

    resumed = None
    if resume and Path(path).exists():
        ck = read_checkpoint(path)
        saved = ck.config.get("class")
        here = model_config(model)
        mine = {k: v for k, v in here["config"].items() if k not in _MAY_CHANGE_ON_RESUME}
        theirs = {k: v for k, v in (ck.config.get("config") or {}).items() if k not in _MAY_CHANGE_ON_RESUME}
        if saved != here["class"] or mine != theirs:
            raise CheckpointError(f"cannot resume: the checkpoint is for {saved} with {json.dumps(ck.config.get('config'))}"
                                  f", this run is {here['class']} with {json.dumps(here['config'])}; use the same "
                                  "arguments as the interrupted run", path)
        resumed = ck.epoch
        if epochs is not None and ck.epoch >= epochs and not ck.mid_epoch:
            return restore_model(path, ck), resumed
    ours = [ModelCheckpoint(path, every_epochs=every_epochs, every_steps=every_steps, extra=extra, model=model)]
    ours += list(callbacks)
    resume_cb = _ResumeCallback(path if resumed is not None else None, epochs)
    ours.append(resume_cb)
    import inspect

    if "callbacks" in inspect.signature(model.fit).parameters:
        try:
            model.fit(X, epochs=epochs, callbacks=ours, **fit_kwargs)
        except _AlreadyComplete:
            return restore_model(path), resumed
    else:
        original = type(model)._extra_callbacks

        def _extra_callbacks():
            return original(model) + ours

        object.__setattr__(model, "_extra_callbacks", _extra_callbacks)
        try:
            model.fit(X, epochs=epochs, **fit_kwargs)
        except _AlreadyComplete:
            return restore_model(path), resumed
        finally:
            object.__delattr__(model, "_extra_callbacks")
    # Once more at the end: the same weights, now with everything fit sets after the last epoch
    # (history_, n_iter_, ...), so restore_model gives exactly the fitted model.
    tr = resume_cb.trainer
    save_checkpoint(path, model, optimizer=None if tr is None else tr.optimizer, trainer=tr, extra=extra)
    return model, resumed
