"""Checkpoints: the file format of one ``.npz`` file with everything a run needs to continue bit for bit.

What is inside
--------------
A checkpoint is a plain NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without nnlite):

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
:func:`save_checkpoint` writes through :func:`nnlite.atomic.atomic_write`: a crash or ``SIGKILL`` at any
moment leaves either the previous checkpoint or the new one, never a half-written file. It refuses to
write weights or optimizer state that contain NaN or inf, so a diverging run cannot overwrite a good
checkpoint with garbage.

What reading a file guarantees
------------------------------
A checkpoint is data, never code, and a hostile one is refused with :class:`CheckpointError`:

* **No code runs.** There is no pickle (the archive is read entry by entry with :mod:`zipfile` and
  NumPy's header parser, object dtypes are refused), and the model class is looked up by name in the
  registry of nnlite's model classes (:mod:`nnlite.models._registry`), never imported from the text.
* **Bounded memory.** Only the entries the metadata names are read; each entry's declared size (zip
  directory and ``.npy`` header) is checked against the shape the metadata promises before any data is
  read, and the arrays in all may not expand to more than ``MAX_EXPANSION`` times the file's size (a
  genuine checkpoint is stored uncompressed, so it is about the file's size). Rebuilding a model from
  its configuration may allocate no more parameters than the file holds
  (:func:`nnlite.models.persistence.parameter_budget`).
* **Nothing changes on failure.** :func:`load_checkpoint` checks everything it will assign first, and if
  assigning still fails it puts back the model's, optimizer's, trainer's and generators' previous state.
* **Exact types.** Weights must be float32 or float64, integer buffers int64; the metadata must have the
  types this module writes (a string where a dict belongs, a version that is not a number, JSON nested
  deeper than the format ever is, a generator state for another bit generator: each is a
  ``CheckpointError`` naming the field).

``tests/test_checkpoint_hostile.py`` proves each guarantee on crafted files.

Files: :mod:`~nnlite.checkpoint.write` (saving), :mod:`~nnlite.checkpoint.read` (bounded reading),
:mod:`~nnlite.checkpoint.validate` (the checks), :mod:`~nnlite.checkpoint.load` (staged loading).
"""
from ._format import FORMAT_VERSION, MAX_EXPANSION, CheckpointError
from .load import load_checkpoint
from .read import Checkpoint, read_checkpoint
from .write import class_name, model_config, nonfinite_entries, save_checkpoint

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "Checkpoint", "CheckpointError",
           "model_config", "class_name", "nonfinite_entries", "FORMAT_VERSION", "MAX_EXPANSION"]
