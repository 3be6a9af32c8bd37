"""Parameters and the Module base class: the contract every layer and model follows.

A layer is a pair of functions written side by side:

* ``forward(x)`` computes ``y`` and keeps whatever ``backward`` will need;
* ``backward(dy)`` receives ``dL/dy`` and returns ``dL/dx``, **adding** ``dL/dparam`` into each
  parameter's ``.grad`` (``+=``, so gradients from several uses of a parameter accumulate).

That is the one gradient protocol: ``p.grad += g`` in every layer, ``zero_grad()`` between steps
(``nnlite.Linear.backward`` is the plain example: ``self.weight.grad += x.T @ dy``).

Parameters, buffers and child modules are registered automatically when they are assigned as
attributes (``self.weight = Parameter(...)``), in assignment order, as in PyTorch. Their dotted
paths (``encoder.0.weight``) are the keys of :meth:`Module.state_dict`.
"""
from __future__ import annotations

import contextvars
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

DEFAULT_DTYPE = np.float32


#: ``f(n_elements, what)`` called before a Parameter or a buffer is created, or ``None``. Rebuilding a
#: model from a checkpoint sets one to refuse more weights than the file holds
#: (:func:`nnlite.models.persistence.parameter_budget`).
ALLOCATION_HOOK: contextvars.ContextVar = contextvars.ContextVar("nnlite_allocation_hook", default=None)


def _claim(n_elements: int, what: str):
    hook = ALLOCATION_HOOK.get()
    if hook is not None:
        hook(int(n_elements), what)


class Parameter:
    """A trainable array with its gradient.

    Attributes
    ----------
    data : ndarray
        The value. Optimizers update it in place.
    grad : ndarray of the same shape and dtype
        ``dL/data``, accumulated by ``backward`` with ``+=`` and cleared by ``zero_grad``. Always the
        same array object (optimizers may keep views of it).

    ``zero_grad`` is lazy, like PyTorch's ``set_to_none``: it only marks the gradient as cleared, and
    the first read of ``grad`` after it fills the array with zeros, so ``p.grad += g`` always adds to
    zeros after ``zero_grad``. One fused layer, :class:`~nnlite.Dense`, computes its whole weight
    gradient in one BLAS ``gemm`` and asks :meth:`grad_to_write` whether it may write instead of add
    (``beta = 0``): the same numbers as adding to zeros, without the pass that fills the zeros or the
    ``gemm``'s read of them.
    """

    __slots__ = ("data", "_grad", "_grad_cleared")

    def __init__(self, data, dtype=None) -> None:
        _claim(np.size(data), "a parameter")  # before the copy below writes any memory
        data = np.array(data, dtype=dtype if dtype is not None else None, copy=True)
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(DEFAULT_DTYPE)
        self.data = np.ascontiguousarray(data)
        self._grad = np.zeros_like(self.data)
        self._grad_cleared = False

    @property
    def grad(self) -> np.ndarray:
        if self._grad_cleared:
            self._grad.fill(0)
            self._grad_cleared = False
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray) -> None:
        self._grad = value
        self._grad_cleared = False

    def grad_to_write(self) -> tuple[np.ndarray, bool]:
        """``(grad, overwrite)``: when ``overwrite`` is true the gradient was cleared by ``zero_grad`` and
        not touched since, so the caller must **write every element** (``grad[...] = dL/data``) instead
        of adding to it; either way the gradient counts as written afterwards.

        For a fused layer that writes its whole gradient in one product (``Dense``); every other layer
        just adds into :attr:`grad`.
        """
        overwrite = self._grad_cleared
        self._grad_cleared = False
        return self._grad, overwrite

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        """Clear the gradient (lazily: see the class docstring)."""
        self._grad_cleared = True

    def astype(self, dtype) -> Parameter:
        """Cast value and gradient in place (keeps the same Parameter object, so optimizers still see it)."""
        self.data = np.ascontiguousarray(self.data, dtype=dtype)
        self.grad = np.ascontiguousarray(self.grad, dtype=dtype)
        return self

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and network.

    Subclasses implement ``forward(x)`` and ``backward(dy)``. ``__call__`` is ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning attributes"
            )
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Register a non-trainable array (e.g. BatchNorm running statistics) saved in ``state_dict``."""
        _claim(np.size(array), f"buffer {name!r}")
        object.__setattr__(self, name, np.ascontiguousarray(array))
        self._buffers[name] = True

    def __delattr__(self, name):
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    # ------------------------------------------------------------------ the layer contract
    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy: np.ndarray) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, Parameter)`` pairs, each parameter once even if shared."""
        seen = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules():
            for name in mod._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(mod, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Clear every parameter's gradient before the next backward adds into it."""
        for p in self.parameters():
            p.zero_grad()

    # ------------------------------------------------------------------ modes and dtype
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def astype(self, dtype) -> Module:
        """Cast every parameter and floating buffer to ``dtype`` in place; returns ``self``."""
        dtype = np.dtype(dtype)
        for m in self.modules():
            for p in m._parameters.values():
                p.astype(dtype)
            for name in m._buffers:
                buf = getattr(m, name)
                if np.issubdtype(buf.dtype, np.floating):
                    object.__setattr__(m, name, np.ascontiguousarray(buf, dtype=dtype))
            if hasattr(m, "dtype"):
                object.__setattr__(m, "dtype", dtype)
        return self

    def double(self) -> Module:
        return self.astype(np.float64)

    def float(self) -> Module:
        return self.astype(np.float32)

    def random_generators(self) -> list[np.random.Generator]:
        """Every ``numpy.random.Generator`` held by this module tree (dropout masks, VAE noise, ...).

        ``gradcheck`` saves and restores their states so that each evaluation sees the same randomness.
        """
        gens = []
        for m in self.modules():
            for value in m.__dict__.values():
                if isinstance(value, np.random.Generator) and all(value is not g for g in gens):
                    gens.append(value)
        return gens

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of all parameters and buffers under dotted keys (``encoder.0.weight``)."""
        state = OrderedDict()
        for name, p in self.named_parameters():
            state[name] = p.data.copy()
        for name, buf in self.named_buffers():
            state[name] = np.array(buf, copy=True)
        return state

    def load_state_dict(self, state, strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy arrays from ``state`` into this module's parameters and buffers.

        Raises ``KeyError``/``ValueError`` naming every missing key, unexpected key and shape mismatch
        (all of them at once, so a user sees the whole difference between two architectures).
        With ``strict=False`` missing and unexpected keys are allowed; shape mismatches never are.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        own_params = dict(self.named_parameters())
        own_buffers = {name: None for name, _ in self.named_buffers()}
        own_keys = list(own_params) + list(own_buffers)
        missing = [k for k in own_keys if k not in state]
        unexpected = [k for k in state if k not in own_params and k not in own_buffers]
        mismatched = []
        for k in own_keys:
            if k in state:
                want = own_params[k].shape if k in own_params else self._get_buffer(k).shape
                got = np.shape(state[k])
                if tuple(want) != tuple(got):
                    mismatched.append(f"{k}: checkpoint has shape {tuple(got)}, model expects {tuple(want)}")
        problems = []
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + " | ".join(problems))
        for k, p in own_params.items():
            if k in state:
                p.data[...] = np.asarray(state[k], dtype=p.data.dtype)
        for k in own_buffers:
            if k in state:
                mod, attr = self._owner(k)
                buf = getattr(mod, attr)
                object.__setattr__(mod, attr, np.array(state[k], dtype=buf.dtype, copy=True))
        return missing, unexpected

    def _owner(self, dotted: str):
        *path, attr = dotted.split(".")
        mod = self
        for part in path:
            mod = mod._modules[part]
        return mod, attr

    def _get_buffer(self, dotted: str):
        mod, attr = self._owner(dotted)
        return getattr(mod, attr)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        if self._modules:
            for name, child in self._modules.items():
                child_repr = repr(child).replace("\n", "\n  ")
                lines.append(f"\n  ({name}): {child_repr}")
            lines.append("\n")
        lines.append(")")
        return "".join(lines)


def check_input(layer: Module, x, ndim: int | tuple[int, ...], features: int | None = None, axis: int = -1,
                what: str = "features") -> np.ndarray:
    """Validate a layer's input and name the layer, the expected and the actual shape on failure.

    ``ndim`` may be an int or a tuple of allowed ranks; ``features`` (if given) is the required size of
    ``axis``. Returns ``x`` as an ndarray.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)) or np.isscalar(x):
            x = np.asarray(x)
        else:
            raise TypeError(f"{layer_name(layer)} expects a numpy array, got {type(x).__name__}")
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if x.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        raise ValueError(f"{layer_name(layer)} expects a {want} input, got shape {x.shape} ({x.ndim}-D)")
    if features is not None and x.shape[axis] != features:
        raise ValueError(
            f"{layer_name(layer)} expects {features} {what} on axis {axis}, got input of shape {x.shape}"
        )
    if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
        raise TypeError(f"{layer_name(layer)} expects a numeric array, got dtype {x.dtype}")
    return x


def check_dy(layer: Module, dy, ctx, shape: tuple) -> np.ndarray:
    """``dy`` as an array, checked against the last forward: ``ctx`` is what it saved (None: none ran)."""
    if ctx is None:
        raise RuntimeError(f"{type(layer).__name__}.backward called before forward")
    if np.shape(dy) != shape:
        raise ValueError(f"{type(layer).__name__}.backward expects dy of the output shape {shape}, got {np.shape(dy)}")
    return np.asarray(dy)


def layer_name(layer) -> str:
    """``Name(arguments)`` of a layer, as error messages name it: ``Conv2d(1, 8, kernel_size=(3, 3), ...)``."""
    extra = layer.extra_repr() if isinstance(layer, Module) else ""
    return f"{type(layer).__name__}({extra})"
