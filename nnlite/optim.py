"""Optimizers, in order of increasing complexity: SGD, RMSprop, Adam, AdamW.

Each takes the parameters to update (a list of :class:`~nnlite.Parameter` or a Module), validates
its hyper-parameters, creates its per-parameter state lazily on the first ``step()``, and states
its update rule in the docstring (``g`` is ``p.grad``, ``t`` the step count from 1).

:class:`OptimizerGroup` puts several of them behind one ``zero_grad``/``step``/``state_dict`` for a
:class:`~nnlite.Trainer` (a GAN's two players).
"""
from __future__ import annotations

import numpy as np

from . import ops
from ._validation import check_betas, check_bool, check_fraction, check_number
from .module import Module, Parameter


class Optimizer:
    def __init__(self, params, **hyper):
        if isinstance(params, Module):
            params = params.parameters()
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, "
                                "expected nnlite.Parameter")
        self.params = params
        self.hyper = hyper
        self.state: dict[int, dict[str, np.ndarray]] = {}
        self.step_count = 0

    def __getattr__(self, name):  # hyper-parameters read as attributes: opt.lr
        hyper = self.__dict__.get("hyper", {})
        if name in hyper:
            return hyper[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def lr(self):
        return self.hyper["lr"]

    @lr.setter
    def lr(self, value):
        self.hyper["lr"] = check_number(type(self).__name__, "lr", value)

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def _state(self, i, *names):
        st = self.state.get(i)
        if st is None:
            p = self.params[i]
            st = self.state[i] = {n: np.zeros_like(p.data) for n in names}
        return st

    def step(self):
        self.step_count += 1
        for i, p in enumerate(self.params):
            self._update(i, p)

    def _update(self, i, p):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Hyper-parameters, step count and per-parameter buffers (copies), keyed by parameter index."""
        return {
            "type": type(self).__name__,
            "hyper": dict(self.hyper),
            "step_count": self.step_count,
            "state": {i: {k: v.copy() for k, v in st.items()} for i, st in self.state.items()},
        }

    @classmethod
    def _check_hyper(cls, owner: str, **hyper) -> dict:  # pragma: no cover - abstract
        """The hyper-parameters as the optimizer stores them, each checked: a ValueError names ``owner``,
        the hyper-parameter, the value that arrived and what is expected. The constructor and
        :meth:`load_state_dict` both go through it."""
        raise NotImplementedError

    def load_state_dict(self, sd: dict):
        """Hyper-parameters, step count and buffers from :meth:`state_dict`, checked as the constructor
        checks its arguments (``lr > 0``, ``betas`` in [0, 1), ...); on an error nothing changes.

        A hyper-parameter missing from ``sd`` keeps its current value; one this optimizer does not have
        is refused by name."""
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if sd.get("type", name) != name:
            raise ValueError(f"{where}: state is from a {sd['type']} optimizer")
        saved = sd["hyper"]
        if not isinstance(saved, dict):
            raise ValueError(f"{where}: 'hyper' must be a dict of hyper-parameters, got a {type(saved).__name__}")
        unknown = sorted(set(saved) - set(self.hyper))
        if unknown:
            raise ValueError(f"{where}: unknown hyper-parameter(s) {unknown}; {name} has {list(self.hyper)}")
        hyper = self._check_hyper(where, **{**self.hyper, **saved})
        step_count = sd["step_count"]
        if isinstance(step_count, (bool, np.bool_)) or not isinstance(step_count, (int, np.integer)) \
                or step_count < 0:
            raise ValueError(f"{where}: invalid step_count {step_count!r}: expected an int >= 0")
        for i, st in sd["state"].items():
            i = int(i)
            if not 0 <= i < len(self.params):
                raise ValueError(f"{where}: state for parameter {i}, but this optimizer has {len(self.params)} "
                                 "parameters")
            for k, v in st.items():
                if np.shape(v) != self.params[i].shape:
                    raise ValueError(f"{where}: {k!r} of parameter {i} has shape {np.shape(v)}, parameter has "
                                     f"{self.params[i].shape}")
        self.hyper.update(hyper)
        self.step_count = int(step_count)
        self.state = {int(i): {k: np.array(v, dtype=self.params[int(i)].dtype) for k, v in st.items()}
                      for i, st in sd["state"].items()}

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    r"""
    Stochastic gradient descent with optional momentum (PyTorch's rule)::

        g = g + weight_decay * p
        b = momentum * b + (1 - dampening) * g          (b = g on the first step)
        g = g + momentum * b  if nesterov  else  b
        p = p - lr * g
    """

    def __init__(self, params, lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, **self._check_hyper("SGD", lr=lr, momentum=momentum, dampening=dampening,
                                                     weight_decay=weight_decay, nesterov=nesterov))

    @classmethod
    def _check_hyper(cls, owner, lr, momentum, dampening, weight_decay, nesterov):
        hyper = dict(lr=check_number(owner, "lr", lr),
                     momentum=check_number(owner, "momentum", momentum, allow_zero=True),
                     dampening=check_number(owner, "dampening", dampening, allow_zero=True),
                     weight_decay=check_number(owner, "weight_decay", weight_decay, allow_zero=True),
                     nesterov=check_bool(owner, "nesterov", nesterov))
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError(f"{owner}: nesterov momentum requires momentum > 0 and dampening = 0, got "
                             f"momentum={momentum!r}, dampening={dampening!r}")
        return hyper

    def _update(self, i, p):
        h = self.hyper
        first = i not in self.state
        buf = self._state(i, "momentum_buffer")["momentum_buffer"] if h["momentum"] else None
        ops.sgd_update(p.data, p.grad, buf, h["lr"], h["momentum"], h["dampening"], h["weight_decay"],
                       h["nesterov"], first)


class RMSprop(Optimizer):
    r"""
    RMSprop (Hinton; PyTorch's rule)::

        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        d = sqrt(s - mean_g^2) + eps  if centered (mean_g = alpha mean_g + (1-alpha) g)  else  sqrt(s) + eps
        b = momentum * b + g / d ; p -= lr * b         (momentum > 0)
        p -= lr * g / d                                (momentum = 0)
    """

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, **self._check_hyper("RMSprop", lr=lr, alpha=alpha, eps=eps,
                                                     weight_decay=weight_decay, momentum=momentum, centered=centered))

    @classmethod
    def _check_hyper(cls, owner, lr, alpha, eps, weight_decay, momentum, centered):
        return dict(lr=check_number(owner, "lr", lr), alpha=check_fraction(owner, "alpha", alpha),
                    eps=check_number(owner, "eps", eps),
                    weight_decay=check_number(owner, "weight_decay", weight_decay, allow_zero=True),
                    momentum=check_number(owner, "momentum", momentum, allow_zero=True),
                    centered=check_bool(owner, "centered", centered))

    def _update(self, i, p):
        h = self.hyper
        st = self._state(i, "square_avg", "momentum_buffer", "grad_avg")
        ops.rmsprop_update(p.data, p.grad, st["square_avg"], st["grad_avg"], st["momentum_buffer"], h["lr"],
                           h["alpha"], h["eps"], h["weight_decay"], h["momentum"], h["centered"])


class Adam(Optimizer):
    r"""
    Adam (Kingma & Ba, 2015; PyTorch's rule; :func:`nnlite.ops.reference.adam_update`)::

        g = g + weight_decay * p                                   (L2 penalty in the gradient)
        m = beta1 m + (1 - beta1) g ;  v = beta2 v + (1 - beta2) g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, **self._check_hyper(type(self).__name__, lr=lr, betas=betas, eps=eps,
                                                     weight_decay=weight_decay))

    def _update(self, i, p):
        h = self.hyper
        st = self._state(i, "exp_avg", "exp_avg_sq")
        ops.adam_update(p.data, p.grad, st["exp_avg"], st["exp_avg_sq"], self.step_count, h["lr"], *h["betas"],
                        h["eps"], h["weight_decay"], self._decoupled)

    @classmethod
    def _check_hyper(cls, owner, lr, betas, eps, weight_decay):
        return dict(lr=check_number(owner, "lr", lr), betas=check_betas(owner, betas),
                    eps=check_number(owner, "eps", eps),
                    weight_decay=check_number(owner, "weight_decay", weight_decay, allow_zero=True))


class AdamW(Adam):
    r"""
    Adam with decoupled weight decay (Loshchilov & Hutter, 2019)::

        p = p - lr * weight_decay * p ; then the Adam update with the raw gradient g.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get_optimizer(name, params, **kwargs) -> Optimizer:
    """An optimizer from a name (``'adam'``) or class, over ``params``."""
    if isinstance(name, type) and issubclass(name, Optimizer):
        return name(params, **kwargs)
    if isinstance(name, str) and name.lower() in OPTIMIZERS:
        return OPTIMIZERS[name.lower()](params, **kwargs)
    raise ValueError(f"unknown optimizer {name!r}; valid names: {sorted(OPTIMIZERS)}")


class OptimizerGroup:
    """Several named optimizers that a :class:`~nnlite.Trainer` sees as one.

    A GAN has an optimizer per player, and a training step that must update the discriminator *before*
    the generator's forward pass; the Trainer, which calls ``zero_grad()`` before each step and
    ``step()`` after it, then needs one object that stands for both.

    Parameters
    ----------
    optimizers : dict of str -> Optimizer
        The members, in order. The first is the **lead**: the group's ``lr`` and ``hyper`` are the
        lead's, so a learning-rate schedule (which sets ``trainer.optimizer.lr``) moves the lead only.
    stepped : sequence of str, optional
        The members that ``step()`` steps (default: all). The others are stepped by the training step
        itself, at the point of the algorithm where they must move.
    name : str, default 'OptimizerGroup'
        Recorded as the state's ``"type"``: a checkpoint resumes only into a group of the same name.

    ``zero_grad()`` clears the gradients of every member. ``state_dict()`` is
    ``{"type": name, <member name>: <member's state_dict()>, ...}``, so a checkpoint holds every member's
    state and a resumed run continues exactly.

    >>> group = OptimizerGroup({"generator": opt_g, "discriminator": opt_d}, stepped=())   # doctest: +SKIP
    >>> group["discriminator"].step()                                                      # doctest: +SKIP
    """

    def __init__(self, optimizers: dict, stepped=None, name: str = "OptimizerGroup"):
        if not isinstance(optimizers, dict) or not optimizers:
            raise ValueError(f"OptimizerGroup: optimizers must be a non-empty dict of name -> Optimizer, "
                             f"got {optimizers!r}")
        for key, opt in optimizers.items():
            if not isinstance(key, str) or key == "type":
                raise ValueError(f"OptimizerGroup: member names must be strings other than 'type', got {key!r}")
            if not isinstance(opt, Optimizer):
                raise TypeError(f"OptimizerGroup: member {key!r} is a {type(opt).__name__}, expected an "
                                "nnlite Optimizer")
        stepped = tuple(optimizers) if stepped is None else tuple(stepped)
        unknown = [k for k in stepped if k not in optimizers]
        if unknown:
            raise ValueError(f"OptimizerGroup: stepped names {unknown} are not members; members: {list(optimizers)}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"OptimizerGroup: name must be a non-empty string, got {name!r}")
        self.optimizers = dict(optimizers)
        self.stepped = stepped
        self.name = name

    def __getitem__(self, key):
        return self.optimizers[key]

    @property
    def lead(self) -> Optimizer:
        return next(iter(self.optimizers.values()))

    @property
    def hyper(self) -> dict:
        return self.lead.hyper

    @property
    def lr(self):
        return self.lead.lr

    @lr.setter
    def lr(self, value):
        self.lead.lr = value

    def zero_grad(self):
        for opt in self.optimizers.values():
            opt.zero_grad()

    def step(self):
        for key in self.stepped:
            self.optimizers[key].step()

    def state_dict(self) -> dict:
        return {"type": self.name, **{key: opt.state_dict() for key, opt in self.optimizers.items()}}

    def load_state_dict(self, sd: dict):
        missing = [key for key in self.optimizers if key not in sd]
        if missing:
            raise ValueError(f"{self.name}.load_state_dict: the state has no entry for member(s) {missing}; "
                             f"it holds {sorted(k for k in sd if k != 'type')}")
        before = {key: opt.state_dict() for key, opt in self.optimizers.items()}
        try:
            for key, opt in self.optimizers.items():
                opt.load_state_dict(sd[key])
        except Exception:
            for key, opt in self.optimizers.items():    # all members or none
                opt.load_state_dict(before[key])
            raise

    def __repr__(self):
        members = ", ".join(f"{key}={opt!r}" for key, opt in self.optimizers.items())
        return f"OptimizerGroup({members}, stepped={list(self.stepped)}, name={self.name!r})"
