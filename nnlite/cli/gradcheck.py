"""``nnlite gradcheck``: nnlite's own layers, losses and models, or the Modules of your file, against
central differences in float64.

Without a file it checks every public layer and loss of nnlite and every public model of
:mod:`nnlite.models`. With a file (``nnlite gradcheck swish.py``) it imports that file and checks the
Modules it declares (:func:`file_cases` reads the ``GRADCHECK`` convention), so it grades the course
exercises in ``docs/course/exercises/``.
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

import numpy as np

from ._common import UserError, formatter, positive_float, say

FILE_HELP = """\
checking your own file:
  nnlite gradcheck FILE.py imports FILE.py (your code: it runs) and checks, in float64, every Module
  (and Loss) it declares in one of two ways:

    GRADCHECK = [(Swish(), (4, 5)),                  # a module and the shape of a random input
                 (Swish(beta=2.0), x),               # or the input array itself
                 (MyLoss(), pred, target)]           # a Loss: prediction and target arrays

    def gradcheck_cases():                           # the same list, built by a function
        return [(LayerNorm(6), (4, 6))]

  A third element {'eps': 1e-3, 'stencil': 5, 'tol': 1e-6} changes the step, the difference rule
  (3: central differences, 5: the five-point rule) or the pass threshold of one case.
  Without either, every Module subclass defined in the file is built with no arguments and checked
  on a random input of shape (4, 6); the grader says so. For each case it prints every gradient
  (the input and each parameter) with its relative error, and for a wrong one the worst index and
  both values. An unfinished backward (NotImplementedError, None, a wrong shape) is reported by name.
  Exit status 0 when every check passes, 1 otherwise."""


def add_gradcheck(sub):
    p = sub.add_parser("gradcheck", help="check backward passes against central differences (nnlite's or your file's)",
                       description="Gradient-check, in float64, every public layer and loss of nnlite and every "
                                   "public model of nnlite.models (Autoencoder, DenoisingAutoencoder, "
                                   "SparseAutoencoder, AdversarialDenoiser, VAE, GAN generator and discriminator, "
                                   "MLPClassifier, ConvDenoisingAutoencoder, ConvVAE, ResidualDenoiser), and print a "
                                   "table of relative errors max|a-b|/max(1e-8,|a|+|b|) (CS231n). Inputs are kept "
                                   "away from kinks (ReLU at 0). With FILE.py, check the Modules that file "
                                   "declares instead. A teaching tool: read nnlite/gradcheck.py.\n\n" + FILE_HELP,
                       epilog="examples:\n  nnlite gradcheck\n  nnlite gradcheck --only linear,tanh -v\n"
                              "  nnlite gradcheck --only gan,sparse\n"
                              "  nnlite gradcheck docs/course/exercises/swish.py\n"
                              "  nnlite gradcheck -v | head        # a closed pipe ends the table quietly",
                       formatter_class=formatter())
    p.add_argument("file", nargs="?", default=None, metavar="FILE.py",
                   help="a Python file whose Modules to check (see 'checking your own file' above)")
    p.add_argument("--only", default=None, metavar="NAMES", help="comma-separated names (substring match)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's error, not one line per check")
    p.add_argument("--tol", type=positive_float, default=None,
                   help="pass threshold on the relative error (default 1e-7)")
    p.set_defaults(func=cmd_gradcheck)


#: Pass threshold of the relative error, as in :data:`nnlite.gradcheck.DEFAULT_TOL`.
DEFAULT_TOL = 1e-7

#: Whole models are deeper compositions with smaller gradients: their checks use the five-point stencil
#: (truncation O(h^4)) with this larger step, so round-off (~ulp / h) stays far below the gradients.
MODEL_EPS = 1e-3

#: Input shape of a Module the grader builds itself (no ``GRADCHECK`` in the file).
FALLBACK_SHAPE = (4, 6)


# ============================================================================ nnlite's own layers and models
def gradcheck_cases():
    """``[(name, covered class name, callable returning a GradcheckResult)]``, one or more per public
    layer and loss of nnlite, then one or more per public model of :mod:`nnlite.models`."""
    from .. import layers as L
    from .. import losses
    from ..gradcheck import gradcheck

    rng = np.random.default_rng(0)

    def away(shape, margin=0.05):
        """Normal values at least ``margin`` from 0 (the kink of ReLU and |.|)."""
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)

    def layer(name, covers, make, shape, eps=None):
        step = {} if eps is None else {"eps": eps}
        return (name, covers, lambda: gradcheck(make(), away(shape), **step))

    # Convolutions sum many products: a step of 1e-6 leaves their round-off near 1e-7. They are linear, so
    # a larger step costs no truncation error; with tanh between them 1e-5 keeps it near 1e-10.
    conv_eps, smooth_eps = 1e-4, 1e-5

    cases = [layer("Linear(5, 4)", "Linear", lambda: L.Linear(5, 4, random_state=0), (3, 5))]
    for name in ("ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "Identity"):
        cases.append(layer(name, name, getattr(L, name), (3, 6)))
    for act in ("tanh", "sigmoid", "relu"):
        cases.append(layer(f"Dense(5, 4, {act})", "Dense", lambda a=act: L.Dense(5, 4, activation=a, random_state=0),
                           (3, 5)))
    cases += [
        layer("Dropout(0.3)", "Dropout", lambda: L.Dropout(0.3, random_state=0), (4, 5)),
        layer("Flatten", "Flatten", L.Flatten, (2, 3, 4)),
        layer("Reshape((4, 3))", "Reshape", lambda: L.Reshape((4, 3)), (2, 12)),
        layer("Sequential MLP 6-8-3", "Sequential", lambda: L.Sequential(
            L.Linear(6, 8, random_state=1), L.Tanh(), L.Linear(8, 3, random_state=2)), (4, 6)),
        layer("Conv2d(2, 3, 3, stride=2, padding=1)", "Conv2d",
              lambda: L.Conv2d(2, 3, 3, stride=2, padding=1, random_state=0), (2, 2, 7, 7), conv_eps),
        layer("ConvTranspose2d(2, 3, 3, stride=2, padding=1)", "ConvTranspose2d",
              lambda: L.ConvTranspose2d(2, 3, 3, stride=2, padding=1, random_state=0), (2, 2, 4, 4), conv_eps),
        layer("BatchNorm1d(4), training", "BatchNorm1d", lambda: L.BatchNorm1d(4), (6, 4)),
        layer("BatchNorm2d(3), training", "BatchNorm2d", lambda: L.BatchNorm2d(3), (2, 3, 4, 4)),
        layer("MaxPool2d(2)", "MaxPool2d", lambda: L.MaxPool2d(2), (2, 2, 6, 6)),
        layer("AvgPool2d(3, stride=2, padding=1)", "AvgPool2d", lambda: L.AvgPool2d(3, stride=2, padding=1),
              (2, 2, 7, 7)),
        layer("Upsample(scale_factor=2)", "Upsample", lambda: L.Upsample(scale_factor=2), (2, 2, 3, 3)),
        layer("PixelUnshuffle(2)", "PixelUnshuffle", lambda: L.PixelUnshuffle(2), (2, 3, 4, 6)),
        layer("PixelShuffle(2)", "PixelShuffle", lambda: L.PixelShuffle(2), (2, 8, 3, 2)),
        layer("Residual(Conv2d-Tanh-Conv2d)", "Residual", lambda: L.Residual(L.Sequential(
            L.Conv2d(2, 2, 3, padding=1, random_state=3), L.Tanh(), L.Conv2d(2, 2, 3, padding=1, random_state=4))),
              (2, 2, 5, 5), smooth_eps),
        layer("Concat(Conv2d, Identity)", "Concat", lambda: L.Concat(
            L.Conv2d(2, 3, 3, padding=1, random_state=5), L.Identity()), (2, 2, 5, 5), conv_eps),
    ]

    def loss_case(cls, pred, target):
        return (cls.__name__, cls.__name__, lambda: gradcheck(cls(), pred, target))

    special = {
        "L1Loss": lambda: (away((4, 3)), away((4, 3)) + 3),
        "BCELoss": lambda: (rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0, 1, (4, 3))),
        "CrossEntropyLoss": lambda: (away((4, 5)), rng.integers(0, 5, 4)),
    }
    for cls in _public_classes(losses, losses.Loss):
        pred, target = special.get(cls.__name__, lambda: (away((4, 3)), rng.uniform(0, 1, (4, 3))))()
        cases.append(loss_case(cls, pred, target))
    cases += _model_cases(rng)
    return cases


def _model_cases(rng):
    """Every public model class of :mod:`nnlite.models`, fitted for an epoch or two on a few tiny float64
    samples (tanh hidden layers where the model has a choice: no kinks), then checked as a Module
    (``forward``/``backward``) with the five-point stencil at :data:`MODEL_EPS` unless a case says otherwise."""
    from .. import models
    from ..gradcheck import gradcheck

    X = rng.uniform(0.05, 0.95, (6, 7))                          # 6 samples of 7 features
    labels = np.array([0, 1, 2, 0, 1, 2])
    images = rng.uniform(0.05, 0.95, (4, 1, 4, 4))               # (N, C, H, W)
    flat_images = images.reshape(4, -1)                          # (N, 16)
    kw = dict(random_state=0, dtype=np.float64)
    mlp = dict(hidden=(5,), latent_dim=3, activation="tanh", **kw)
    conv = dict(channels=(2, 3), activation="tanh", batch_size=4, **kw)

    def fitted(make, data, *fit_args):
        def build():
            return make().fit(data, *fit_args, verbose=0)
        return build

    specs = [  # (name, covers, build the fitted model, which network of it, input, check the input gradient?)
        ("Autoencoder 7-5-3-5-7", "Autoencoder", fitted(lambda: models.Autoencoder(epochs=2, **mlp), X), None, X[:4]),
        ("DenoisingAutoencoder 7-5-3-5-7", "DenoisingAutoencoder",
         fitted(lambda: models.DenoisingAutoencoder(epochs=1, **mlp), X), None, X[:4]),
        ("SparseAutoencoder 7-5-3-5-7, KL sparsity", "SparseAutoencoder",
         fitted(lambda: models.SparseAutoencoder(epochs=1, sparsity_target=0.1, **mlp), X), None, X[:4]),
        ("AdversarialDenoiser 7-5-3-5-7", "AdversarialDenoiser",
         fitted(lambda: models.AdversarialDenoiser(epochs=1, discriminator_hidden=(4,), **mlp), X), None, X[:4]),
        ("AdversarialDenoiser discriminator 7-4-1", "AdversarialDenoiser",
         fitted(lambda: models.AdversarialDenoiser(epochs=1, discriminator_hidden=(4,), **mlp), X),
         "discriminator_", X[:4]),
        ("VAE 7-5-3-5-7", "VAE", fitted(lambda: models.VAE(epochs=2, **mlp), X), None, X[:4]),
        ("GAN generator 3-5-7 (parameters)", "GAN", fitted(lambda: models.GAN(
            epochs=1, latent_dim=3, generator_hidden=(5,), discriminator_hidden=(5,), batch_size=6, **kw), X),
         None, rng.standard_normal((4, 3))),
        ("GAN discriminator 7-5-1, dropout", "GAN", fitted(lambda: models.GAN(
            epochs=1, latent_dim=3, generator_hidden=(5,), discriminator_hidden=(5,), batch_size=6, **kw), X),
         "discriminator_", X[:4]),
        ("MLPClassifier 7-5-3 (parameters)", "MLPClassifier",
         fitted(lambda: models.MLPClassifier(epochs=1, hidden=(5,), activation="tanh", **kw), X, labels),
         None, X[:4]),
        ("ConvDenoisingAutoencoder 1x4x4, 2-3 channels", "ConvDenoisingAutoencoder",
         fitted(lambda: models.ConvDenoisingAutoencoder(epochs=1, **conv), images), None, flat_images[:2]),
        # input gradients near 1e-5 behind the sigmoid output: a larger step keeps round-off below them
        ("ConvVAE 1x4x4, 2-3 channels", "ConvVAE",
         fitted(lambda: models.ConvVAE(epochs=1, hidden=5, latent_dim=2, **conv), images), None, flat_images[:2],
         3e-3),
        # ReLU and max pooling: a smaller step, so that no perturbation crosses a kink at this point
        ("ResidualDenoiser U-Net 1x4x4, width 2", "ResidualDenoiser", fitted(lambda: models.ResidualDenoiser(
            epochs=1, width=2, depth=2, batch_size=4, **dict(kw, random_state=2)), images), None, images[:2], 1e-4),
    ]
    cases = []
    for name, covers, build, part, x, *step in specs:
        eps = step[0] if step else MODEL_EPS

        def run(build=build, part=part, x=x, eps=eps):
            model = build()
            net = model if part is None else getattr(model, part)
            # a generator's and a classifier's first layer skip dL/dinput: nobody needs it
            wrt_input = all(getattr(m, "needs_input_grad", True) for m in net.modules())
            return gradcheck(net, x, eps=eps, stencil=5, wrt_input=wrt_input)
        cases.append((f"{name} (eps {eps:g})", covers, run))
    return cases


def _public_classes(module, base):
    """Classes of ``module`` deriving from ``base`` whose names are public (no leading underscore)."""
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    found = [getattr(module, n) for n in names]
    return [c for c in found if isinstance(c, type) and issubclass(c, base) and c is not base
            and not c.__name__.startswith("_")]


def public_layers_and_losses() -> list[str]:
    """Names of every public layer of ``nnlite.layers`` and loss of ``nnlite.losses``."""
    from .. import layers, losses
    from ..module import Module

    return sorted({c.__name__ for c in _public_classes(layers, Module) + _public_classes(losses, losses.Loss)})


def public_models() -> list[str]:
    """Names of every public model class of :mod:`nnlite.models` (subclasses of ``BaseModel``)."""
    from .. import models

    return sorted(c.__name__ for c in _public_classes(models, models.BaseModel))


def cmd_gradcheck(args):
    tol = DEFAULT_TOL if args.tol is None else args.tol
    if args.file is not None:
        return grade_file(args.file, tol=args.tol, only=args.only, verbose=args.verbose)
    cases = gradcheck_cases()
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c[0].lower() for w in wanted)]
        if not cases:
            raise UserError(f"--only {args.only!r} matches nothing; names: "
                            f"{', '.join(n for n, _, _ in gradcheck_cases())}")
    width = max([46] + [len(n) for n, _, _ in cases])
    say(f"{'check':<{width}} {'tensors':>7}  {'max rel. error':>14}  {'worst tensor':<20} result")
    failed = 0
    for name, _, run in cases:
        try:
            r = run()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            failed += 1
            say(f"{name:<{width}} {'-':>7}  {'-':>14}  {type(exc).__name__ + ': ' + str(exc)[:60]:<24} ERROR")
            continue
        r.tol = tol
        failed += not r.passed
        worst, _ = r.worst
        verdict = "ok" if r.passed else "FAILED"
        say(f"{name:<{width}} {len(r.errors):>7}  {r.max_rel_error:>14.2e}  {worst:<20} {verdict}")
        if args.verbose:
            for line in str(r).splitlines():
                say("    " + line)
    say(f"{len(cases) - failed} of {len(cases)} passed (tolerance {tol:g}, float64, central differences)")
    return 0 if failed == 0 else 1


# ============================================================================ your file
class _Unfinished(Exception):
    """A case that cannot be checked yet: the message says what the student still has to write."""


def _load(path: Path):
    """Import ``path`` as a fresh module (its folder first on ``sys.path``, so it can import its siblings)."""
    name = f"_nnlite_gradcheck_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code: one line naming where it broke
        raise UserError(f"{path}: importing it raised {_where(exc, path)}") from None
    finally:
        sys.path.pop(0)
    return module


def _where(exc, path: Path) -> str:
    """``TypeError: message (swish.py:42)``: the exception and the last line of ``path`` it went through."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    text = str(exc).strip()
    where = f" ({path.name}:{line})" if line else ""
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def _is_loss(obj) -> bool:
    from ..losses import Loss
    from ..module import Module

    return isinstance(obj, Loss) or (not isinstance(obj, Module) and hasattr(obj, "backward")
                                     and hasattr(obj, "reduction"))


def _random_input(shape, rng):
    """Normal values at least 0.05 from 0 (kinks of ReLU, |.| and max sit at 0 or at ties)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, np.sign(x + 1e-12) * (0.05 + np.abs(x)), x)


def _as_array(value, rng, what):
    if isinstance(value, tuple) and all(isinstance(n, (int, np.integer)) and n > 0 for n in value):
        return _random_input(value, rng)
    arr = np.asarray(value)
    if not np.issubdtype(arr.dtype, np.number):
        raise _Unfinished(f"{what} must be a shape tuple such as (4, 5) or an array, got {value!r}")
    return arr.astype(np.float64) if np.issubdtype(arr.dtype, np.floating) else arr


def file_cases(mod, path: Path):
    """The cases a file declares, as ``[(label, object, inputs, options)]``, and notes for the reader.

    ``GRADCHECK`` (a list) or ``gradcheck_cases()`` (a function returning one) holds tuples
    ``(module, shape_or_array[, options])`` or ``(loss, pred, target[, options])``. Without either,
    every Module subclass defined in the file is built with no arguments on :data:`FALLBACK_SHAPE`.
    """
    from ..losses import Loss
    from ..module import Module

    notes = []
    declared = getattr(mod, "GRADCHECK", None)
    source = "GRADCHECK"
    if declared is None and callable(getattr(mod, "gradcheck_cases", None)):
        source = "gradcheck_cases()"
        try:
            declared = mod.gradcheck_cases()
        except Exception as exc:  # noqa: BLE001 - the user's code
            raise UserError(f"{path}: gradcheck_cases() raised {_where(exc, path)}") from None
    own = [c for c in vars(mod).values() if isinstance(c, type) and c.__module__ == mod.__name__
           and issubclass(c, (Module, Loss)) and not c.__name__.startswith("_")]
    rng = np.random.default_rng(0)
    cases = []
    if declared is None:
        if not own:
            raise UserError(f"{path}: defines no nnlite.Module (or Loss) subclass and no GRADCHECK list; "
                            "nothing to check (see nnlite gradcheck --help)")
        for cls in own:
            required = [p.name for p in inspect.signature(cls).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if required:
                notes.append(f"{cls.__name__} needs arguments ({', '.join(required)}): not checked; declare "
                             f"GRADCHECK = [({cls.__name__}(...), (4, 6))] in {path.name}")
                continue
            notes.append(f"no GRADCHECK in {path.name}: checking {cls.__name__}() on a random input of "
                         f"shape {FALLBACK_SHAPE}")
            try:
                obj = cls()
            except Exception as exc:  # noqa: BLE001 - the user's code
                cases.append((f"{cls.__name__}()", _Unfinished(f"{cls.__name__}() raised {_where(exc, path)}"),
                              None, {}))
                continue
            inputs = ((FALLBACK_SHAPE, rng.uniform(0.05, 0.95, FALLBACK_SHAPE)) if issubclass(cls, Loss)
                      else (FALLBACK_SHAPE,))
            cases.append((f"{cls.__name__}()", obj, [_as_array(v, rng, "input") for v in inputs], {}))
        return cases, notes
    if not isinstance(declared, (list, tuple)):
        raise UserError(f"{path}: {source} must be a list of (module, input shape or array) tuples, "
                        f"got {type(declared).__name__}")
    checked = set()
    for k, entry in enumerate(declared):
        if not isinstance(entry, tuple) or len(entry) < 2:
            raise UserError(f"{path}: {source}[{k}] must be a tuple (module, input shape or array) or "
                            f"(loss, pred, target), got {entry!r}")
        obj, *rest = entry
        options = rest.pop() if rest and isinstance(rest[-1], dict) else {}
        bad = set(options) - {"eps", "tol", "stencil"}
        if bad:
            raise UserError(f"{path}: {source}[{k}] options may set 'eps', 'stencil' and 'tol', got {sorted(bad)}")
        if options.get("stencil", 3) not in (3, 5) or (_is_loss(obj) and options.get("stencil", 3) != 3):
            raise UserError(f"{path}: {source}[{k}] option 'stencil' must be 3 or 5 (5 for a Module only), "
                            f"got {options['stencil']!r}")
        want = 2 if _is_loss(obj) else 1
        if len(rest) != want:
            what = "(loss, pred, target)" if want == 2 else "(module, input shape or array)"
            raise UserError(f"{path}: {source}[{k}] must be {what}, got {len(rest)} input(s) for "
                            f"{type(obj).__name__}")
        if not _is_loss(obj) and not isinstance(obj, Module):
            raise UserError(f"{path}: {source}[{k}] starts with {type(obj).__name__}, not an nnlite Module or Loss")
        try:
            inputs = [_as_array(v, rng, "the input" if want == 1 else ("pred", "target")[i])
                      for i, v in enumerate(rest)]
        except _Unfinished as exc:
            raise UserError(f"{path}: {source}[{k}]: {exc}") from None
        shape = "x".join(str(n) for n in np.shape(inputs[0]))
        cases.append((f"{type(obj).__name__} on {shape}", obj, inputs, options))
        checked.add(type(obj))
    for cls in own:
        if cls not in checked:
            notes.append(f"{cls.__name__} is defined in {path.name} but not in {source}: not checked")
    return cases, notes


def _preflight(obj, inputs, path: Path):
    """Run forward and backward once, in float64, and turn an unfinished one into a sentence."""
    from ..module import Module

    name = type(obj).__name__
    if not isinstance(obj, Module):                               # a Loss
        pred, target = inputs
        try:
            value = obj.forward(pred.copy(), target)
        except NotImplementedError as exc:
            raise _Unfinished(f"{name}.forward is not written yet ({_where(exc, path)})") from None
        if value is None or np.ndim(value) != 0:
            raise _Unfinished(f"{name}.forward returned {_describe(value)}: a loss returns one number")
        try:
            grad = obj.backward()
        except NotImplementedError as exc:
            raise _Unfinished(f"{name}.backward is not written yet ({_where(exc, path)})") from None
        _check_returned(f"{name}.backward()", grad, pred.shape, "dL/dpred")
        return
    m = copy.deepcopy(obj).double()
    x = inputs[0].copy()
    try:
        y = m(x)
    except NotImplementedError as exc:
        raise _Unfinished(f"{name}.forward is not written yet ({_where(exc, path)})") from None
    if not isinstance(y, np.ndarray):
        raise _Unfinished(f"{name}.forward returned {_describe(y)}; it must return the output array")
    m.zero_grad()
    try:
        dx = m.backward(np.ones_like(y))
    except NotImplementedError as exc:
        raise _Unfinished(f"{name}.backward is not written yet ({_where(exc, path)})") from None
    _check_returned(f"{name}.backward(dy)", dx, x.shape, "dL/dx")
    for pname, p in m.named_parameters():
        if p.grad.shape != p.data.shape:
            raise _Unfinished(f"{name}: parameter {pname} has .grad of shape {p.grad.shape}, but its data has "
                              f"shape {p.data.shape}: add into p.grad (p.grad += ...), do not replace it")


def _check_returned(call, value, shape, what):
    if value is None:
        raise _Unfinished(f"{call} returned None; it must return {what}, an array of shape {tuple(shape)}")
    if np.shape(value) != tuple(shape):
        raise _Unfinished(f"{call} returned shape {np.shape(value)}; {what} must have the input's shape "
                          f"{tuple(shape)}")


def _describe(value):
    if value is None:
        return "None"
    return f"a {type(value).__name__} of shape {np.shape(value)}" if hasattr(value, "shape") \
        else f"a {type(value).__name__}"


def grade_file(file, tol=None, only=None, verbose=False) -> int:
    """``nnlite gradcheck FILE.py``: check every case of the file; 0 if all pass, else 1."""
    from ..gradcheck import gradcheck

    path = Path(file)
    if path.suffix != ".py":
        raise UserError(f"{file}: expected a Python file ending in .py")
    if not path.is_file():
        raise UserError(f"{file}: no such file")
    mod = _load(path)
    cases, notes = file_cases(mod, path)
    if only:
        wanted = [w.strip().lower() for w in only.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c[0].lower() for w in wanted)]
    for note in notes:
        say(f"note: {note}")
    if not cases:
        raise UserError(f"{path}: no case to check" + (f" matches --only {only!r}" if only else ""))
    passed = 0
    for label, obj, inputs, options in cases:
        case_tol = options.get("tol", DEFAULT_TOL) if tol is None else tol
        eps = options.get("eps")
        try:
            if isinstance(obj, _Unfinished):
                raise obj
            _preflight(obj, inputs, path)
            if options.get("stencil", 3) == 5:
                result = gradcheck(obj, inputs[0], eps=MODEL_EPS if eps is None else eps, tol=case_tol, stencil=5)
            else:
                result = gradcheck(obj, *inputs, tol=case_tol, **({} if eps is None else {"eps": eps}))
        except _Unfinished as exc:
            say(f"{label}: NOT DONE: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - the user's code: one line naming where it broke
            say(f"{label}: ERROR: {_where(exc, path)}")
            continue
        passed += result.passed
        say(f"{label}: {'ok' if result.passed else 'FAILED'} (max relative error {result.max_rel_error:.2e}, "
            f"tolerance {case_tol:g})")
        for tname, err in result.errors.items():
            ok = err < case_tol
            if ok and not verbose:
                say(f"    {tname:<24} {str(result.analytic[tname].shape):<14} {err:9.2e}  ok")
                continue
            idx = result.where[tname]
            a, n = result.analytic[tname][idx], result.numeric[tname][idx]
            tail = "ok" if ok else "WRONG"
            say(f"    {tname:<24} {str(result.analytic[tname].shape):<14} {err:9.2e}  {tail}: worst at {idx}, "
                f"yours {a:.6g}, numerical {n:.6g}")
            if not ok and not np.any(result.analytic[tname]):
                say(f"    {'':<24} your gradient of {tname} is all zeros: does backward add into its .grad?")
    say(f"{path.name}: {passed} of {len(cases)} passed (float64, central differences, CS231n relative error)")
    return 0 if passed == len(cases) else 1
