"""Conv layer micro-benchmarks: nnlite's Conv2d/ConvTranspose2d forward+backward against a plain-NumPy twin
and PyTorch, layer by layer and for the whole conv-DAE stack.

Usage::

    python -m benchmarks.conv_kernels                 # 200 interleaved repeats per row, float32
    python -m benchmarks.conv_kernels --quick         # 30 repeats (a smoke run)
    python -m benchmarks.conv_kernels --dtype float64 --reps 100 --out /tmp/conv64.md
    python -m benchmarks.conv_kernels --threads 1     # everyone on one thread (fair on a busy machine)

What runs (batch 128, 28x28 single-channel images, the layers of the conv DAE):

* ``conv1`` Conv2d(1, 32, 3, s2, p1) on (128, 1, 28, 28); ``conv2`` Conv2d(32, 64, 3, s2, p1) on (128, 32, 14, 14);
  ``convT1`` ConvTranspose2d(64, 32, 3, s2, p1, op1) on (128, 64, 7, 7); ``convT2`` ConvTranspose2d(32, 1, 3, s2,
  p1, op1) on (128, 32, 14, 14); each timed as forward + backward (input gradient included);
* ``stack``: the four layers with ReLUs and a final Sigmoid, forward + backward (no loss, no optimizer;
  the full training step with Adam is ``python -m benchmarks --only conv_dae``).

Implementations, run **interleaved** in one process (a burst of load hits all alike), with a short
untimed pause between them so spinning threads of the previous one go idle:

* **nnlite**: the layers as shipped (channels-last im2col/col2im in Numba + one BLAS product per
  direction, BLAS threads chosen by ``nnlite.ops.threads``' policy);
* **NumPy twin**: the textbook NumPy implementation (``sliding_window_view`` + ``tensordot`` forward,
  ``tensordot`` weight gradient, one strided slice-add per kernel tap for the input gradient); its
  results are checked against nnlite's before timing;
* **PyTorch** (if installed): ``torch.nn.Conv2d``/``ConvTranspose2d`` with autograd, its own thread count.

The table gives the median and interquartile range of each, and the ratios nnlite / twin and
nnlite / PyTorch (below 1 = nnlite faster). Nothing here is a pass/fail test. Quote ratios from one run,
not absolute times: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

RESULTS = Path(__file__).resolve().parent / "results"


# ----------------------------------------------------------------------------------------------- NumPy twins
def np_conv2d_forward(x, w, b, s, p):
    """``(N, C, H, W) -> (N, O, OH, OW)``; returns ``y`` and the window view kept for backward."""
    KH, KW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = sliding_window_view(xp, (KH, KW), axis=(2, 3))[:, :, ::s, ::s]       # (N, C, OH, OW, KH, KW)
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))                     # (N, OH, OW, O)
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)) + b[:, None, None], win


def np_conv2d_backward(dy, win, w, x_shape, s, p):
    """Weight, bias and input gradients of :func:`np_conv2d_forward`."""
    N, C, H, W = x_shape
    KH, KW = w.shape[2:]
    OH, OW = dy.shape[2:]
    dw = np.tensordot(dy, win, axes=([0, 2, 3], [0, 2, 3]))                   # (O, C, KH, KW)
    db = dy.sum(axis=(0, 2, 3))
    dxp = np.zeros((N, C, H + 2 * p, W + 2 * p), dy.dtype)
    for kh in range(KH):
        for kw in range(KW):
            contrib = np.tensordot(dy, w[:, :, kh, kw], axes=([1], [0]))        # (N, OH, OW, C)
            dxp[:, :, kh:kh + s * OH:s, kw:kw + s * OW:s] += contrib.transpose(0, 3, 1, 2)
    return dxp[:, :, p:p + H, p:p + W], dw, db


def np_conv_transpose2d_forward(x, w, b, s, p, op):
    """``(N, C, H, W) -> (N, O, OH, OW)`` by scattering ``x (x) w`` one kernel tap at a time."""
    N, C, H, W = x.shape
    _, O, KH, KW = w.shape
    OH = (H - 1) * s - 2 * p + KH + op
    OW = (W - 1) * s - 2 * p + KW + op
    full = np.zeros((N, O, max(OH + p, (H - 1) * s + KH), max(OW + p, (W - 1) * s + KW)), x.dtype)
    for kh in range(KH):
        for kw in range(KW):
            contrib = np.tensordot(x, w[:, :, kh, kw], axes=([1], [0]))         # (N, H, W, O)
            full[:, :, kh:kh + s * H:s, kw:kw + s * W:s] += contrib.transpose(0, 3, 1, 2)
    return full[:, :, p:p + OH, p:p + OW] + b[:, None, None]


def np_conv_transpose2d_backward(dy, x, w, s, p):
    """Gradients of :func:`np_conv_transpose2d_forward`: the input gradient is a strided conv of ``dy``."""
    N, C, H, W = x.shape
    _, O, KH, KW = w.shape
    OH, OW = dy.shape[2:]
    need_h, need_w = (H - 1) * s + KH, (W - 1) * s + KW
    dyp = np.zeros((N, O, need_h, need_w), dy.dtype)
    dyp[:, :, p:p + OH, p:p + OW] = dy[:, :, :need_h - p, :need_w - p]
    win = sliding_window_view(dyp, (KH, KW), axis=(2, 3))[:, :, ::s, ::s]     # (N, O, H, W, KH, KW)
    dx = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))                    # (N, H, W, C)
    dw = np.tensordot(x, win, axes=([0, 2, 3], [0, 2, 3]))                    # (C, O, KH, KW)
    db = dy.sum(axis=(0, 2, 3))
    return np.ascontiguousarray(dx.transpose(0, 3, 1, 2)), dw, db


class NumpyConv:
    def __init__(self, layer, transposed):
        self.w = layer.weight.data.copy()
        self.b = layer.bias.data.copy()
        self.s, self.p = layer.stride[0], layer.padding[0]
        self.op = layer.output_padding[0] if transposed else 0
        self.t = transposed
        self.gw = np.zeros_like(self.w)
        self.gb = np.zeros_like(self.b)

    def forward(self, x):
        self.x = x
        if self.t:
            return np_conv_transpose2d_forward(x, self.w, self.b, self.s, self.p, self.op)
        y, self.win = np_conv2d_forward(x, self.w, self.b, self.s, self.p)
        return y

    def backward(self, dy):
        if self.t:
            dx, dw, db = np_conv_transpose2d_backward(dy, self.x, self.w, self.s, self.p)
        else:
            dx, dw, db = np_conv2d_backward(dy, self.win, self.w, self.x.shape, self.s, self.p)
        self.gw += dw
        self.gb += db
        return dx


class NumpyStack:
    """The DAE stack in plain NumPy: the twins above with ReLU and Sigmoid in between."""

    def __init__(self, layers):
        self.layers = layers

    def forward(self, x):
        self.masks = []
        h = x
        for i, layer in enumerate(self.layers):
            h = layer.forward(h)
            if i < len(self.layers) - 1:
                self.masks.append(h > 0)
                h = np.maximum(h, 0)
        self.y = 1 / (1 + np.exp(-h))
        return self.y

    def backward(self, dy):
        g = dy * self.y * (1 - self.y)
        for i in reversed(range(len(self.layers))):
            if i < len(self.layers) - 1:
                g = g * self.masks[i]
            g = self.layers[i].backward(g)
        return g


# ----------------------------------------------------------------------------------------------- setup
LAYERS = [  # name, transposed, (in, out), input shape (batch filled in)
    ("conv1 Conv2d(1,32,3,s2,p1)", False, (1, 32), (1, 28, 28)),
    ("conv2 Conv2d(32,64,3,s2,p1)", False, (32, 64), (32, 14, 14)),
    ("convT1 ConvTranspose2d(64,32,3,s2,p1,op1)", True, (64, 32), (64, 7, 7)),
    ("convT2 ConvTranspose2d(32,1,3,s2,p1,op1)", True, (32, 1), (32, 14, 14)),
]


def _make_layer(transposed, cin, cout, dtype, seed):
    from nnlite import Conv2d, ConvTranspose2d

    if transposed:
        return ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, dtype=dtype, random_state=seed)
    return Conv2d(cin, cout, 3, stride=2, padding=1, dtype=dtype, random_state=seed)


def _torch_layer(torch, layer, transposed, dtype):
    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    cin, cout = layer.in_channels, layer.out_channels
    if transposed:
        t = torch.nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)
    else:
        t = torch.nn.Conv2d(cin, cout, 3, stride=2, padding=1)
    t = t.to(tdtype)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight.data))
        t.bias.copy_(torch.from_numpy(layer.bias.data))
    return t


def build_cases(batch, dtype, torch=None, check=True):
    """``[(name, {impl: step_fn})]`` for the four layers and the whole stack; checks the twins first."""
    import nnlite

    rng = np.random.default_rng(0)
    cases = []
    stack_layers = []
    for i, (name, transposed, (cin, cout), shape) in enumerate(LAYERS):
        layer = _make_layer(transposed, cin, cout, dtype, seed=i)
        stack_layers.append((layer, transposed))
        x = rng.random((batch,) + shape).astype(dtype)
        twin = NumpyConv(layer, transposed)
        y = layer(x)
        dy = rng.standard_normal(y.shape).astype(dtype)
        if check:
            tol = dict(rtol=2e-3, atol=2e-3) if np.dtype(dtype) == np.float32 else dict(rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(twin.forward(x), y, **tol, err_msg=f"{name}: NumPy twin forward")
            np.testing.assert_allclose(twin.backward(dy), layer.backward(dy), **tol, err_msg=f"{name}: twin dx")

        def ours(layer=layer, x=x, dy=dy):
            layer(x)
            layer.backward(dy)

        def numpy_twin(twin=twin, x=x, dy=dy):
            twin.forward(x)
            twin.backward(dy)

        impls = {"nnlite": ours, "numpy": numpy_twin}
        if torch is not None:
            t = _torch_layer(torch, layer, transposed, dtype)
            tx = torch.from_numpy(x).requires_grad_(True)
            tdy = torch.from_numpy(dy)

            def torch_step(t=t, tx=tx, tdy=tdy):
                t.zero_grad()
                tx.grad = None
                t(tx).backward(tdy)
            impls["torch"] = torch_step
        cases.append((name + f" on {(batch,) + shape}", impls))

    # the whole stack
    mods = []
    for layer, _transposed in stack_layers:
        mods += [layer, nnlite.ReLU()]
    net = nnlite.Sequential(*mods[:-1], nnlite.Sigmoid())
    twin = NumpyStack([NumpyConv(layer, tr) for layer, tr in stack_layers])
    x = rng.random((batch, 1, 28, 28)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    if check:
        tol = dict(rtol=2e-3, atol=2e-4) if np.dtype(dtype) == np.float32 else dict(rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(twin.forward(x), net(x), **tol, err_msg="stack: NumPy twin forward")
        np.testing.assert_allclose(twin.backward(dy), net.backward(dy), **tol, err_msg="stack: NumPy twin dx")

    def ours_stack():
        net(x)
        net.backward(dy)

    def numpy_stack():
        twin.forward(x)
        twin.backward(dy)

    impls = {"nnlite": ours_stack, "numpy": numpy_stack}
    if torch is not None:
        tl = []
        for layer, transposed in stack_layers:
            tl += [_torch_layer(torch, layer, transposed, dtype), torch.nn.ReLU()]
        tnet = torch.nn.Sequential(*tl[:-1], torch.nn.Sigmoid())
        tx = torch.from_numpy(x)
        tdy = torch.from_numpy(dy)

        def torch_stack():
            tnet.zero_grad()
            tnet(tx).backward(tdy)
        impls["torch"] = torch_stack
    cases.append((f"stack: 2 convs + 2 transposed convs + ReLUs + Sigmoid, fwd+bwd, {(batch, 1, 28, 28)}", impls))
    return cases


# ----------------------------------------------------------------------------------------------- timing
def interleave(impls: dict, reps: int, warmup: int, gap: float) -> dict:
    """``{label: fn}`` timed by the step benchmark's interleaving (a new random order each round)."""
    from benchmarks.timing import interleave_calls

    return interleave_calls(impls, reps, warmup, gap)


def _fmt(t):
    q1, med, q3 = np.percentile(t * 1e3, [25, 50, 75])
    return f"{med:.2f}", f"{q1:.2f}-{q3:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv_kernels", description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=200, help="timed repeats per row (after warm-up)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="30 repeats")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--gap-ms", type=float, default=1.0, help="untimed pause between implementations")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="pin every implementation to N threads (nnlite's BLAS policy and Numba, PyTorch's "
                        "intra-op threads); default: each picks its own (nnlite: the 'auto' policy)")
    p.add_argument("--out", default=str(RESULTS / "conv_kernels.md"))
    args = p.parse_args(argv)
    reps = 30 if args.quick else args.reps
    dtype = np.dtype(args.dtype)

    torch = None
    if not args.no_torch:
        try:
            import torch  # noqa: F811
        except Exception:
            torch = None
    import numba

    from nnlite import threads

    if args.threads is not None:
        threads.set_policy(args.threads)
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        if torch is not None:
            torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    cases = build_cases(args.batch, dtype, torch)
    setup_s = time.perf_counter() - t0
    load0 = os.getloadavg()[0]
    header = ["| case | nnlite ms (IQR) | NumPy twin ms (IQR) | PyTorch ms (IQR) | nnlite / NumPy | nnlite / PyTorch |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    rows = []
    print("\n".join(header), flush=True)
    for name, impls in cases:
        t = interleave(impls, reps, args.warmup, args.gap_ms / 1000)
        med = {k: np.median(v) for k, v in t.items()}
        cells = {k: "{} ({})".format(*_fmt(v)) for k, v in t.items()}
        r_np = f"{med['nnlite'] / med['numpy']:.2f}"
        r_t = f"{med['nnlite'] / med['torch']:.2f}" if "torch" in med else "-"
        row = (f"| {name} | {cells['nnlite']} | {cells['numpy']} | {cells.get('torch', '-')} | {r_np} | {r_t} |")
        rows.append(row)
        print(row, flush=True)
    load1 = os.getloadavg()[0]

    blas = threads.blas_info()
    lines = [
        "# Conv layer micro-benchmark (forward + backward)", "",
        f"Command: `python -m benchmarks.conv_kernels {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip(),
        "",
        f"- {reps} interleaved repeats per row after {args.warmup} warm-up, {args.gap_ms} ms untimed pause "
        f"between implementations; median and interquartile range in ms; dtype {dtype.name}, batch {args.batch}",
        f"- machine: {platform.machine()}, {threads.cpu_count()} cores, 1-min load average {load0:.1f} at start, "
        f"{load1:.1f} at end (other programs share the cores: compare ratios, not absolute times)",
        f"- NumPy {np.__version__} with {blas[0]['internal_api'] if blas else '?'} "
        f"{blas[0].get('version', '') if blas else ''}; Numba {numba.__version__} "
        f"(threading layer {numba.threading_layer()}); BLAS thread policy '{threads.get_policy()}'; "
        f"PyTorch {torch.__version__ if torch is not None else 'not installed'}"
        f"{f' ({torch.get_num_threads()} threads)' if torch is not None else ''}",
        f"- setup incl. compile/cache load and twin checks: {setup_s:.1f} s", "",
        *header, *rows, "",
        "Ratios below 1 mean nnlite is faster. The NumPy twin is the textbook implementation "
        "(sliding_window_view + tensordot, one strided slice-add per kernel tap), checked equal to nnlite "
        "before timing. The full training step (loss, Adam) is in `python -m benchmarks --only conv_dae`.", "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
