"""The public API: one ``__all__``, every public submodule an attribute of ``nnlite``, and a fast import."""
import pkgutil
import subprocess
import sys

import nnlite


def test_every_name_in_all_exists():
    missing = [name for name in nnlite.__all__ if not hasattr(nnlite, name)]
    assert not missing, missing
    assert len(set(nnlite.__all__)) == len(nnlite.__all__), "a name is listed twice in nnlite.__all__"


def test_every_public_submodule_is_an_attribute_after_import_nnlite():
    public = sorted(m.name for m in pkgutil.iter_modules(nnlite.__path__)
                    if not m.name.startswith("_") and m.name not in ("datasets",))
    unreachable = [name for name in public if not hasattr(nnlite, name)]
    assert not unreachable, f"import nnlite; nnlite.<name> fails for {unreachable}"
    assert set(public) <= set(nnlite.__all__), sorted(set(public) - set(nnlite.__all__))


def test_import_nnlite_does_not_load_matplotlib():
    code = "import sys, nnlite; print('matplotlib' in sys.modules); nnlite.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_backend_choice_is_public():
    """``nnlite.use`` is the ops boundary's switch, and the reference ops a student reads are importable."""
    import nnlite.ops.reference as reference

    assert "use" in nnlite.__all__ and "ops" in nnlite.__all__
    assert nnlite.use is nnlite.ops.use
    assert nnlite.ops.reference is reference
    assert callable(nnlite.ops.using) and nnlite.ops.backend() in nnlite.ops.BACKENDS
    missing = [op for op in nnlite.ops.OPS if not callable(getattr(reference, op, None))]
    assert not missing, f"nnlite.ops.reference lacks the ops {missing}"
