"""The model classes a checkpoint may name: a dict from class name to class, filled by the classes.

Every subclass of :class:`~nnlite.models._base.BaseModel` defined inside nnlite registers itself here
when its ``class`` statement runs (``BaseModel.__init_subclass__``). Rebuilding a model from a
checkpoint looks its class up in this dict and nowhere else: the text of a file never reaches
``importlib`` or ``getattr``, so a checkpoint can name a model class, never a function.
"""
from __future__ import annotations

__all__ = ["MODELS", "register", "lookup"]

#: Class name -> model class, for the models nnlite itself defines.
MODELS: dict[str, type] = {}


def register(cls: type) -> type:
    """Add ``cls`` under its ``__name__`` (nnlite's own public classes only; private ones are skipped)."""
    if not cls.__module__.startswith("nnlite.") or cls.__name__.startswith("_"):
        return cls
    known = MODELS.get(cls.__name__)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise TypeError(f"two nnlite model classes are named {cls.__name__!r} ({known.__module__} and "
                        f"{cls.__module__}); checkpoints name models by class name, so names must be unique")
    MODELS[cls.__name__] = cls
    return cls


def lookup(dotted_name) -> type | None:
    """The registered class a checkpoint's ``"nnlite.<module>.<Name>"`` names, or ``None``.

    Only the last component is used, so checkpoints keep loading when a class moves between files.
    """
    if not isinstance(dotted_name, str) or not dotted_name.startswith("nnlite.") or len(dotted_name) > 200:
        return None
    return MODELS.get(dotted_name.rpartition(".")[2])
