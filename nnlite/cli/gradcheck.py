"""``nnlite gradcheck``: every public layer, loss and model of nnlite against central differences."""
from __future__ import annotations

import numpy as np

from ._common import UserError, formatter, positive_float, say


def add_gradcheck(sub):
    p = sub.add_parser("gradcheck", help="check every layer's backward against central differences",
                       description="Gradient-check every layer, loss and model of nnlite in float64 and print a "
                                   "table of relative errors max|a-b|/max(1e-8,|a|+|b|) (CS231n). Inputs are kept "
                                   "away from kinks (ReLU at 0). A teaching tool: read nnlite/gradcheck.py.",
                       epilog="examples:\n  nnlite gradcheck\n  nnlite gradcheck --only linear,tanh -v\n"
                              "  nnlite gradcheck -v | head        # a closed pipe ends the table quietly",
                       formatter_class=formatter())
    p.add_argument("--only", default=None, metavar="NAMES", help="comma-separated names (substring match)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every tensor's error, not one line per check")
    p.add_argument("--tol", type=positive_float, default=1e-7,
                   help="pass threshold on the relative error (default 1e-7)")
    p.set_defaults(func=cmd_gradcheck)


#: Whole models are deeper compositions with smaller gradients: round-off needs a larger step.
MODEL_EPS = 1e-5


def gradcheck_cases():
    """``[(name, covered class name, callable returning a GradcheckResult)]``, one or more per public
    layer and loss of nnlite, then two whole models."""
    from .. import layers as L
    from .. import losses
    from ..gradcheck import gradcheck

    rng = np.random.default_rng(0)

    def away(shape, margin=0.05):
        """Normal values at least ``margin`` from 0 (the kink of ReLU and |.|)."""
        x = rng.standard_normal(shape)
        return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * (margin + np.abs(x)), x)

    def layer(name, covers, make, shape):
        return (name, covers, lambda: gradcheck(make(), away(shape)))

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
              lambda: L.Conv2d(2, 3, 3, stride=2, padding=1, random_state=0), (2, 2, 7, 7)),
        layer("ConvTranspose2d(2, 3, 3, stride=2, padding=1)", "ConvTranspose2d",
              lambda: L.ConvTranspose2d(2, 3, 3, stride=2, padding=1, random_state=0), (2, 2, 4, 4)),
        layer("BatchNorm1d(4), training", "BatchNorm1d", lambda: L.BatchNorm1d(4), (6, 4)),
        layer("BatchNorm2d(3), training", "BatchNorm2d", lambda: L.BatchNorm2d(3), (2, 3, 4, 4)),
        layer("MaxPool2d(2)", "MaxPool2d", lambda: L.MaxPool2d(2), (2, 2, 6, 6)),
        layer("AvgPool2d(3, stride=2, padding=1)", "AvgPool2d", lambda: L.AvgPool2d(3, stride=2, padding=1),
              (2, 2, 7, 7)),
        layer("Upsample(scale_factor=2)", "Upsample", lambda: L.Upsample(scale_factor=2), (2, 2, 3, 3)),
        layer("Residual(Conv2d-Tanh-Conv2d)", "Residual", lambda: L.Residual(L.Sequential(
            L.Conv2d(2, 2, 3, padding=1, random_state=3), L.Tanh(), L.Conv2d(2, 2, 3, padding=1, random_state=4))),
              (2, 2, 5, 5)),
        layer("Concat(Conv2d, Identity)", "Concat", lambda: L.Concat(
            L.Conv2d(2, 3, 3, padding=1, random_state=5), L.Identity()), (2, 2, 5, 5)),
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
    from .. import models
    from ..gradcheck import gradcheck

    X = rng.uniform(0.05, 0.95, (6, 7))
    cases = []
    for name in ("Autoencoder", "VAE"):
        def run(name=name):
            m = getattr(models, name)(epochs=2, random_state=0, dtype=np.float64, activation="tanh",
                                      hidden=(5,), latent_dim=3).fit(X, verbose=0)
            return gradcheck(m, X[:4], eps=MODEL_EPS)
        cases.append((f"{name} 7-5-3-5-7, tanh (eps {MODEL_EPS:g})", name, run))
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


def cmd_gradcheck(args):
    cases = gradcheck_cases()
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c[0].lower() for w in wanted)]
        if not cases:
            raise UserError(f"--only {args.only!r} matches nothing; names: "
                            f"{', '.join(n for n, _, _ in gradcheck_cases())}")
    say(f"{'check':<46} {'tensors':>7}  {'max rel. error':>14}  {'worst tensor':<20} result")
    failed = 0
    for name, _, run in cases:
        try:
            r = run()
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            failed += 1
            say(f"{name:<46} {'-':>7}  {'-':>14}  {type(exc).__name__ + ': ' + str(exc)[:60]:<24} ERROR")
            continue
        r.tol = args.tol
        failed += not r.passed
        worst, _ = r.worst
        say(f"{name:<46} {len(r.errors):>7}  {r.max_rel_error:>14.2e}  {worst:<20} {'ok' if r.passed else 'FAILED'}")
        if args.verbose:
            for line in str(r).splitlines():
                say("    " + line)
    say(f"{len(cases) - failed} of {len(cases)} passed (tolerance {args.tol:g}, float64, central differences)")
    return 0 if failed == 0 else 1
