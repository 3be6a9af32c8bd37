"""``nnlite gradcheck``: every public model has a passing case, and ``nnlite gradcheck FILE.py`` grades a
file's Modules (the course exercises: every solution passes, every stub fails with a sentence)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import nnlite
from nnlite.cli.gradcheck import gradcheck_cases, public_models
from nnlite.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "docs" / "course" / "exercises"
STUBS = sorted(EXERCISES.glob("*.py"))
SOLUTIONS = sorted((EXERCISES / "solutions").glob("*.py"))


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


# ---------------------------------------------------------------------------------------- nnlite's models
def test_every_public_model_class_has_a_case():
    models = public_models()
    for must in ("Autoencoder", "VAE", "GAN", "SparseAutoencoder", "DenoisingAutoencoder", "ConvDenoisingAutoencoder",
                 "ConvVAE", "ResidualDenoiser", "MLPClassifier", "AdversarialDenoiser"):
        assert must in models
    covered = {c for _, c, _ in gradcheck_cases()}
    assert set(models) <= covered, sorted(set(models) - covered)


def test_help_names_every_model_it_checks_and_the_file_convention(capsys):
    with pytest.raises(SystemExit):
        main(["gradcheck", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in public_models():
        assert name in text, name
    assert "GRADCHECK = [" in text and "def gradcheck_cases()" in text and "FILE.py" in text


def test_every_model_case_passes(capsys):
    code, out, err = _run(capsys, "gradcheck", "--only", "autoencoder,denoiser,vae,gan,classifier")
    assert code == 0, out + err
    lines = out.strip().splitlines()
    assert len(lines) - 2 == len(public_models()) + 2   # + the two discriminators, checked on their own
    assert all(line.rstrip().endswith("ok") for line in lines[1:-1]), out


@pytest.mark.parametrize("only,names", [("gan", ["GAN generator", "GAN discriminator"]),
                                        ("sparse", ["SparseAutoencoder"])])
def test_only_gan_and_only_sparse_match_their_models(capsys, only, names):
    code, out, _ = _run(capsys, "gradcheck", "--only", only)
    assert code == 0
    checks = [line for line in out.splitlines()[1:-1]]
    assert [n for n in names if not any(line.startswith(n) for line in checks)] == []


def test_residual_denoiser_module_backward_gives_the_parameter_gradients():
    # forward is x - net(x): the body's parameters enter negated, and so must their gradients
    rng = np.random.default_rng(0)
    images = rng.uniform(0.05, 0.95, (4, 1, 4, 4))
    model = nnlite.models.ResidualDenoiser(width=2, depth=2, epochs=1, batch_size=4, dtype=np.float64,
                                           random_state=2).fit(images, verbose=0)
    result = nnlite.gradcheck(model, images[:2], eps=1e-5)
    assert result.passed, str(result)


# ---------------------------------------------------------------------------------------- the exercises
def test_there_are_at_least_six_exercises_each_with_its_solution():
    assert len(STUBS) >= 6
    assert [p.name for p in STUBS] == [p.name for p in SOLUTIONS]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_solution_passes_the_grader(capsys, path):
    code, out, err = _run(capsys, "gradcheck", path)
    assert code == 0, out + err
    assert f"{path.name}: " in out and "WRONG" not in out and "NOT DONE" not in out
    n = out.strip().splitlines()[-1].split(": ", 1)[1].split()[0]
    assert out.strip().splitlines()[-1].startswith(f"{path.name}: {n} of {n} passed")


@pytest.mark.parametrize("path", STUBS, ids=lambda p: p.stem)
def test_every_stub_fails_with_a_sentence_naming_the_exercise(capsys, path):
    code, out, err = _run(capsys, "gradcheck", path)
    assert code == 1
    assert "Traceback" not in out + err
    assert "NOT DONE" in out and "backward is not written yet" in out and "your code here" in out
    classes = [line.split(" on ")[0] for line in out.splitlines() if "NOT DONE" in line]
    assert classes and all(c and c[0].isupper() for c in classes)
    assert out.strip().splitlines()[-1].startswith(f"{path.name}: 0 of ")


def test_a_stub_in_a_subprocess_exits_1_without_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "nnlite", "gradcheck", str(EXERCISES / "swish.py")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Swish on 4x5: NOT DONE: Swish.backward is not written yet" in proc.stdout


# ---------------------------------------------------------------------------------------- wrong answers
SWISH = """
import numpy as np
import nnlite


class Swish(nnlite.Module):
    def forward(self, x):
        self._s = 1 / (1 + np.exp(-x))
        self._x = x
        return x * self._s

    def backward(self, dy):
        return {body}


GRADCHECK = [(Swish(), (4, 5))]
"""


def test_a_wrong_gradient_names_the_tensor_the_worst_index_and_both_values(tmp_path, capsys):
    path = _write(tmp_path, "swish.py", SWISH.format(body="dy * self._s   # forgot x s (1 - s)"))
    code, out, _ = _run(capsys, "gradcheck", path)
    assert code == 1
    assert "Swish on 4x5: FAILED" in out
    wrong = [line for line in out.splitlines() if "WRONG" in line]
    assert len(wrong) == 1
    assert "worst at (" in wrong[0] and "yours " in wrong[0] and "numerical " in wrong[0]
    name, _, _, rel_error, *_ = wrong[0].split()         # input (4, 5) 2.3e-01 WRONG: ...
    assert name == "input" and float(rel_error) > 1e-3
    assert out.strip().splitlines()[-1].startswith("swish.py: 0 of 1 passed")


@pytest.mark.parametrize("body,says", [("None", "returned None"), ("dy[:, :2]", "returned shape (4, 2)")])
def test_a_backward_returning_none_or_a_wrong_shape_is_named(tmp_path, capsys, body, says):
    path = _write(tmp_path, "swish.py", SWISH.format(body=body))
    code, out, err = _run(capsys, "gradcheck", path)
    assert code == 1 and says in out and "NOT DONE" in out and "Traceback" not in out + err


def test_a_forgotten_parameter_gradient_is_named(tmp_path, capsys):
    path = _write(tmp_path, "scale.py", """
        import numpy as np
        import nnlite


        class Scale(nnlite.Module):
            def __init__(self):
                super().__init__()
                self.weight = nnlite.Parameter(np.array([1.5, -0.5, 2.0]))

            def forward(self, x):
                self._x = x
                return x * self.weight.data

            def backward(self, dy):
                return dy * self.weight.data          # forgot self.weight.grad += (dy * x).sum(axis=0)


        GRADCHECK = [(Scale(), (4, 3))]
        """)
    code, out, _ = _run(capsys, "gradcheck", path)
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("    ") and line.split()}
    assert lines["input"].rstrip().endswith("ok")
    assert "WRONG: worst at (" in lines["weight"] and "yours 0," in lines["weight"]
    assert "your gradient of weight is all zeros: does backward add into its .grad?" in out


def test_without_gradcheck_every_buildable_module_is_checked_and_the_rest_named(tmp_path, capsys):
    path = _write(tmp_path, "mine.py", """
        import nnlite


        class Twice(nnlite.Module):
            def forward(self, x):
                return 2 * x

            def backward(self, dy):
                return 2 * dy


        class NeedsSize(nnlite.Module):
            def __init__(self, size):
                super().__init__()
        """)
    code, out, _ = _run(capsys, "gradcheck", path)
    assert code == 0, out
    assert "note: no GRADCHECK in mine.py: checking Twice() on a random input of shape (4, 6)" in out
    assert "note: NeedsSize needs arguments (size): not checked" in out
    assert "Twice(): ok" in out


def test_gradcheck_cases_function_a_loss_and_options(tmp_path, capsys):
    path = _write(tmp_path, "loss.py", """
        import numpy as np
        import nnlite
        from nnlite.losses import Loss


        class HalfSquare(Loss):
            def forward(self, pred, target):
                self._d = pred - target
                return float(0.5 * np.sum(self._d ** 2))

            def backward(self):
                return self._d


        class Cube(nnlite.Module):
            def forward(self, x):
                self._x = x
                return x ** 3

            def backward(self, dy):
                return 3 * self._x ** 2 * dy


        def gradcheck_cases():
            rng = np.random.default_rng(1)
            return [(HalfSquare(), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))),
                    (Cube(), (2, 5), {"eps": 1e-3, "stencil": 5})]
        """)
    code, out, _ = _run(capsys, "gradcheck", path, "-v")
    assert code == 0, out
    assert "HalfSquare on 3x4: ok" in out and "Cube on 2x5: ok" in out
    assert "loss.py: 2 of 2 passed" in out


@pytest.mark.parametrize("source,says", [
    ("import nnlite\nraise RuntimeError('boom')\n", "importing it raised RuntimeError: boom (bad.py:2)"),
    ("def broken(:\n", "importing it raised SyntaxError"),
    ("GRADCHECK = [(1, (2, 3))]\n", "GRADCHECK[0] starts with int, not an nnlite Module or Loss"),
    ("x = 1\n", "defines no nnlite.Module"),
])
def test_a_broken_file_is_one_line_exit_1(tmp_path, capsys, source, says):
    path = tmp_path / "bad.py"
    path.write_text(source)
    code, out, err = _run(capsys, "gradcheck", path)
    assert code == 1 and says in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_not_a_python_file(tmp_path, capsys):
    code, _, err = _run(capsys, "gradcheck", tmp_path / "missing.py")
    assert code == 1 and "no such file" in err
    code, _, err = _run(capsys, "gradcheck", tmp_path / "notes.txt")
    assert code == 1 and "expected a Python file" in err
