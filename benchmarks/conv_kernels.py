"""Conv layer micro-benchmarks: nnlite's Conv2d/ConvTranspose2d forward+backward on its fast backend against
its reference backend (plain NumPy) and PyTorch, layer by layer and for the whole conv-DAE stack.

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

Implementations, run **interleaved** in one process (:func:`benchmarks.timing.interleave`: a burst of
load hits all alike), with a short untimed pause between them so spinning threads of the previous one
go idle:

* **nnlite**: the layers as shipped, on the fast backend (the conv modes of ``nnlite.ops``: Numba
  kernels and BLAS products, BLAS threads chosen by ``nnlite.ops.threads``' policy);
* **reference**: the same layer objects on the reference backend (``nnlite.use('reference')``, switched
  untimed before each call): the textbook NumPy of ``nnlite.ops.reference``, one im2col path by strided
  slices per kernel tap; its output and input gradient are checked against the fast backend's first;
* **PyTorch** (if installed): ``torch.nn.Conv2d``/``ConvTranspose2d`` with autograd, its own thread count.

The table gives the median and interquartile range of each, and the ratios nnlite / reference and
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

from benchmarks.timing import interleave

RESULTS = Path(__file__).resolve().parent / "results"


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


def _both_backends(fn, x, dy, check, name, tol):
    """``[(label, setup, step)]`` running ``fn(x, dy)`` (forward and backward) on each backend; with
    ``check``, the reference backend's output and input gradient equal the fast backend's first."""
    import nnlite

    if check:
        out = {}
        for backend in ("reference", "fast"):
            nnlite.use(backend)
            out[backend] = [np.array(a, copy=True) for a in fn(x, dy)]
        for what, a, b in zip(("forward", "dx"), out["reference"], out["fast"]):
            np.testing.assert_allclose(a, b, **tol, err_msg=f"{name}: reference backend {what}")
    return [("nnlite", lambda: nnlite.use("fast"), lambda: fn(x, dy)),
            ("reference", lambda: nnlite.use("reference"), lambda: fn(x, dy))]


def build_cases(batch, dtype, torch=None, check=True):
    """``[(name, [(impl, setup, step), ...])]`` for the four layers and the whole stack."""
    import nnlite

    rng = np.random.default_rng(0)
    f32 = np.dtype(dtype) == np.float32
    cases = []
    stack_layers = []
    for i, (name, transposed, (cin, cout), shape) in enumerate(LAYERS):
        layer = _make_layer(transposed, cin, cout, dtype, seed=i)
        stack_layers.append((layer, transposed))
        x = rng.random((batch,) + shape).astype(dtype)
        dy = rng.standard_normal(layer(x).shape).astype(dtype)

        def fwd_bwd(x, dy, layer=layer):
            return layer(x), layer.backward(dy)

        tol = dict(rtol=2e-3, atol=2e-3) if f32 else dict(rtol=1e-9, atol=1e-9)
        impls = _both_backends(fwd_bwd, x, dy, check, name, tol)
        if torch is not None:
            t = _torch_layer(torch, layer, transposed, dtype)
            tx = torch.from_numpy(x).requires_grad_(True)
            tdy = torch.from_numpy(dy)

            def torch_step(t=t, tx=tx, tdy=tdy):
                t.zero_grad()
                tx.grad = None
                t(tx).backward(tdy)
            impls.append(("torch", lambda: None, torch_step))
        cases.append((name + f" on {(batch,) + shape}", impls))

    # the whole stack
    mods = []
    for layer, _transposed in stack_layers:
        mods += [layer, nnlite.ReLU()]
    net = nnlite.Sequential(*mods[:-1], nnlite.Sigmoid())
    x = rng.random((batch, 1, 28, 28)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)

    def stack(x, dy):
        return net(x), net.backward(dy)

    tol = dict(rtol=2e-3, atol=2e-4) if f32 else dict(rtol=1e-9, atol=1e-9)
    impls = _both_backends(stack, x, dy, check, "stack", tol)
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
        impls.append(("torch", lambda: None, torch_stack))
    cases.append((f"stack: 2 convs + 2 transposed convs + ReLUs + Sigmoid, fwd+bwd, {(batch, 1, 28, 28)}", impls))
    return cases


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

    import nnlite
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
    header = ["| case | nnlite ms (IQR) | reference backend ms (IQR) | PyTorch ms (IQR) | nnlite / reference "
              "| nnlite / PyTorch |",
              "| --- | ---: | ---: | ---: | ---: | ---: |"]
    rows = []
    print("\n".join(header), flush=True)
    for name, impls in cases:
        t = interleave(impls, reps, args.warmup, args.gap_ms / 1000)
        nnlite.use("fast")
        med = {k: np.median(v) for k, v in t.items()}
        cells = {k: "{} ({})".format(*_fmt(v)) for k, v in t.items()}
        r_np = f"{med['nnlite'] / med['reference']:.2f}"
        r_t = f"{med['nnlite'] / med['torch']:.2f}" if "torch" in med else "-"
        row = f"| {name} | {cells['nnlite']} | {cells['reference']} | {cells.get('torch', '-')} | {r_np} | {r_t} |"
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
        f"- setup incl. compile/cache load and the backend checks: {setup_s:.1f} s", "",
        *header, *rows, "",
        "Ratios below 1 mean nnlite is faster. The reference backend is the same layers on "
        "nnlite.ops.reference, the textbook NumPy (one im2col path by strided slices per kernel tap), "
        "checked equal to the fast backend before timing. The full training step (loss, Adam) is in "
        "`python -m benchmarks --only conv_dae`.", "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
