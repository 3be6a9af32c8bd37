"""Per-layer conv benchmark: every conv shape of the U-Net, the DnCNN and the ConvVAEs, each direction
(forward, data gradient, weight gradient), in GFLOP/s and as a share of the cores' FMA peak.

Usage::

    python -m benchmarks --what conv-layers          # or: python -m benchmarks.conv_layers
    python -m benchmarks.conv_layers --rounds 5 --reps 15
    python -m benchmarks.conv_layers --quick --out /tmp/conv_layers.md   # tiny shapes, one round (the test)

Implementations, each timed in **its own process**, the processes taking turns round after round (a
new order each round), so no implementation shares the cores with another's threads:

* **direct**: nnlite's register-blocked direct kernels (:mod:`nnlite.ops._kernels.conv_direct`);
* **im2col**: the column-matrix form (Numba ``im2col``/``col2im`` + one BLAS product per direction,
  the flipped-kernel data gradient for stride 1 with fewer output than input channels), as the
  conv layers compute it without the direct kernels;
* **PyTorch** (when importable): ``torch.nn.functional.conv2d`` on ``channels_last`` tensors and
  ``torch.ops.aten.convolution_backward`` for one gradient at a time.

Each process runs every (shape, direction) ``reps`` times after a warm-up and reports the median; the
table gives the median over rounds and the spread (lowest-highest round). Everyone runs on ``--threads``
threads (default 2). ``flops = 2 N OH OW C_out C_in KH KW`` for each direction. The FMA peak is
``cores x 2 FMA units x lanes x 2 flops x clock``, the clock read from ``/proc/cpuinfo``: an
assumption, turbo may exceed it.

The shapes come from the models themselves: the conv layers the networks hold, recorded while one
batch goes through them (the U-Net and DnCNN of ``ResidualDenoiser`` on 28x28 images, batch 64; the
photo U-Net width 32 on 48x48 RGB patches, batch 32; the ConvVAE encoders, batch 128). Transposed
convolutions are not listed (no direct kernel for them yet).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DIRECTIONS = ("forward", "data grad", "weight grad")
IMPLS = ("direct", "im2col", "torch")

#: (model, network kwargs or conv list, batch, image (C, H, W)): where the shapes come from.
MODELS = [
    ("U-Net w16", dict(architecture="unet", channels=1, width=16, depth=3), 64, (1, 28, 28)),
    ("DnCNN w16 d10", dict(architecture="dncnn", channels=1, width=16, depth=10), 64, (1, 28, 28)),
    ("photo U-Net w32", dict(architecture="unet", channels=3, width=32, depth=3), 32, (3, 48, 48)),
]
#: ConvVAE encoders: (model, batch, image side, channels in, channels after each 4x4 stride-2 conv).
VAE_ENCODERS = [
    ("ConvVAE (32, 64)", 128, 28, 1, (32, 64)),
    ("ConvVAE 64x64 RGB", 128, 64, 3, (32, 64, 128, 256)),
]
QUICK_SHAPES = [
    dict(N=2, C=3, O=16, H=9, W=7, K=3, S=1, P=1, models=["quick"], count=1),
    dict(N=2, C=16, O=8, H=6, W=6, K=4, S=2, P=1, models=["quick"], count=1),
]


# ----------------------------------------------------------------------------------------------- shapes
def model_shapes() -> list[dict]:
    """Every distinct Conv2d shape of :data:`MODELS` and :data:`VAE_ENCODERS`, with the models using it and
    how many layers of each have it."""
    from nnlite.layers import Conv2d
    from nnlite.models.conv.networks import build_network

    seen: dict[tuple, dict] = {}

    def add(model, N, C, O, H, W, K, S, P):
        key = (N, C, O, H, W, K, S, P)
        e = seen.setdefault(key, dict(N=N, C=C, O=O, H=H, W=W, K=K, S=S, P=P, models=[], count=0))
        e["count"] += 1
        if model not in e["models"]:
            e["models"].append(model)

    original = Conv2d.forward
    for name, kw, batch, (C, H, W) in MODELS:
        net = build_network(kw["architecture"], kw["channels"], kw["width"], kw["depth"], 3, True,
                            np.random.default_rng(0), np.float32)

        def recording(self, x, _name=name, _batch=batch):
            k, s, p = self.kernel_size[0], self.stride[0], _pad_before(self.padding, self.kernel_size[0])
            add(_name, _batch, x.shape[1], self.out_channels, x.shape[2], x.shape[3], k, s, p)
            return original(self, x)

        Conv2d.forward = recording
        try:
            net.forward(np.zeros((1, C, H, W), np.float32))
        finally:
            Conv2d.forward = original
    for name, batch, side, c_in, chans in VAE_ENCODERS:
        for c in chans:
            add(name, batch, c_in, c, side, side, 4, 2, 1)
            c_in, side = c, side // 2
    return list(seen.values())


def _pad_before(padding, k) -> int:
    """The rows of zero padding above the image: a number, 'valid' (0) or 'same' (stride 1, odd k)."""
    if isinstance(padding, str):
        return 0 if padding == "valid" else (k - 1) // 2
    return padding[0]


def out_hw(e) -> tuple[int, int]:
    return ((e["H"] + 2 * e["P"] - e["K"]) // e["S"] + 1, (e["W"] + 2 * e["P"] - e["K"]) // e["S"] + 1)


def flops(e) -> float:
    OH, OW = out_hw(e)
    return 2.0 * e["N"] * OH * OW * e["O"] * e["C"] * e["K"] ** 2


# ----------------------------------------------------------------------------------------------- workers
def _data(e, rng):
    OH, OW = out_hw(e)
    x = rng.standard_normal((e["N"], e["H"], e["W"], e["C"]), dtype=np.float32)   # (N, H, W, C_in)
    w = rng.standard_normal((e["O"], e["C"], e["K"], e["K"]), dtype=np.float32)    # (C_out, C_in, K, K)
    g = rng.standard_normal((e["N"], OH, OW, e["O"]), dtype=np.float32)            # (N, OH, OW, C_out)
    return x, w, g


def _direct_fns(e, x, w, g):
    """As the fast op runs them: forward pads the input into the layer's workspace, the weight gradient
    reads that padded input, the data gradient pads ``g`` into the workspace."""
    from nnlite.ops._kernels import conv_direct as D

    s, p, k, ohw = (e["S"],) * 2, (e["P"],) * 2, (e["K"],) * 2, out_hw(e)
    ws = {}
    y = np.empty((e["N"], *ohw, e["O"]), np.float32)
    xp = D.forward_padding(x, k, s, p, ohw)

    def forward():
        return D.conv2d_forward(None, w, None, s, p, ohw, out=y, xp=D.forward_padding(x, k, s, p, ohw, ws))

    fns = {"forward": forward, "weight grad": lambda: D.conv2d_weight_grad(None, g, k, s, p, xp=xp)}
    if e["S"] == 1:
        fns["data grad"] = lambda: D.conv2d_data_grad(g, w, p, (e["H"], e["W"]), ws)
    return fns


def _im2col_fns(e, x, w, g):
    from nnlite.ops import threads
    from nnlite.ops._kernels import conv as K

    mm = threads.matmul                                                          # the ops' thread policy

    N, H, W, C = x.shape
    O, KK, S, P = e["O"], e["K"], e["S"], e["P"]
    OH, OW = out_hw(e)
    M, R = N * OH * OW, KK * KK * C
    geo = (KK, KK, S, S, P, P, 1, 1, OH, OW)
    w_r = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(R, O))            # (KH*KW*C_in, C_out)
    cols = np.empty((M, R), np.float32)
    g2 = g.reshape(M, O)

    def forward():
        K.im2col_nhwc(x, *geo, 0, N * OH, cols)
        return mm(cols, w_r)

    def weight_grad():
        K.im2col_nhwc(x, *geo, 0, N * OH, cols)
        return mm(cols.T, g2)

    if S == 1 and O < C:                                                         # flipped-kernel form
        geo_t = (KK, KK, 1, 1, KK - 1 - P, KK - 1 - P, 1, 1, H, W)
        gcols = np.empty((N * H * W, KK * KK * O), np.float32)
        w_f = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(KK * KK * O, C))

        def data_grad():
            K.im2col_nhwc(g, *geo_t, 0, N * H, gcols)
            return mm(gcols, w_f)
    else:
        dx = np.empty((N, H, W, C), np.float32)
        empty = np.zeros(0, np.float32)

        def data_grad():
            K.col2im_nhwc(mm(g2, w_r.T), *geo, empty, dx)
            return dx
    return {"forward": forward, "data grad": data_grad, "weight grad": weight_grad}


def _torch_fns(e, x, w, g):
    import torch

    xt = torch.from_numpy(x).permute(0, 3, 1, 2)                                 # channels-last NCHW view
    wt = torch.from_numpy(w).contiguous(memory_format=torch.channels_last)
    gt = torch.from_numpy(g).permute(0, 3, 1, 2)
    s, p = [e["S"]] * 2, [e["P"]] * 2

    def grad(mask):
        return lambda: torch.ops.aten.convolution_backward(gt, xt, wt, None, s, p, [1, 1], False, [0, 0], 1, mask)

    with torch.no_grad():
        return {"forward": lambda: torch.nn.functional.conv2d(xt, wt, None, s, p),
                "data grad": grad([True, False, False]), "weight grad": grad([False, True, False])}


def worker(impl: str, shapes: list[dict], reps: int, threads: int) -> dict:
    """Median seconds of each (shape index, direction) for ``impl``, run in this process."""
    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
        ctx = torch.no_grad()
    else:
        import contextlib

        import numba
        from threadpoolctl import threadpool_limits

        from nnlite.ops import threads as policy

        numba.set_num_threads(threads)
        ctx = contextlib.ExitStack()
        ctx.enter_context(threadpool_limits(threads, user_api="blas"))
        ctx.enter_context(policy.policy("fixed"))                               # BLAS products on `threads`
    make = {"direct": _direct_fns, "im2col": _im2col_fns, "torch": _torch_fns}[impl]
    out = {}
    rng = np.random.default_rng(0)
    with ctx:
        for i, e in enumerate(shapes):
            fns = make(e, *_data(e, rng))
            for d, fn in fns.items():
                fn()                                                             # compile / warm-up
                fn()
                ts = []
                for _ in range(reps):
                    t = time.perf_counter()
                    fn()
                    ts.append(time.perf_counter() - t)
                out[f"{i}|{d}"] = float(np.median(ts))
    return out


def _torch_available(python: str) -> bool:
    res = subprocess.run([python, "-c", "import torch"], capture_output=True)
    return res.returncode == 0


def _run_worker(python, impl, shapes, reps, threads) -> dict:
    cmd = [python, "-m", "benchmarks.conv_layers", "--worker", impl, "--reps", str(reps), "--threads",
           str(threads), "--shapes-json", json.dumps(shapes)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ))
    if res.returncode != 0:
        raise RuntimeError(f"{impl} worker failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------- machine
def machine() -> dict:
    """CPU model, cores, vector width (lanes of float32), clock, FMA peak and the BLAS kernel."""
    info = dict(cpu=platform.processor() or "unknown", mhz=None, flags="")
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and info["cpu"] in ("unknown", "x86_64", ""):
                info["cpu"] = v
            elif k == "cpu MHz" and info["mhz"] is None:
                info["mhz"] = float(v)
            elif k == "flags" and not info["flags"]:
                info["flags"] = v
    except OSError:
        pass
    flags = info["flags"].split()
    info["isa"] = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    info["lanes"] = {"AVX-512": 16, "AVX2": 8}.get(info["isa"], 4)
    info["cores"] = os.cpu_count() or 1
    info["blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info

        for d in threadpool_info():
            if d.get("user_api") == "blas":
                info["blas"] = f"{d.get('internal_api')} {d.get('version')}, kernel {d.get('architecture')}"
                break
    except Exception:
        pass
    return info


def peak_gflops(info, threads) -> float | None:
    if not info["mhz"]:
        return None
    return min(threads, info["cores"]) * 2 * info["lanes"] * 2 * info["mhz"] / 1e3


# ----------------------------------------------------------------------------------------------- the table
def run(args, log=print) -> list[str]:
    shapes = QUICK_SHAPES if args.quick else model_shapes()
    impls = ["direct", "im2col"]
    torch_py = args.torch_python or sys.executable
    if not args.quick and not args.no_torch and _torch_available(torch_py):
        impls.append("torch")
    elif not args.quick and not args.no_torch:
        log("PyTorch not importable: its column is left out")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    log(f"{len(shapes)} shapes, {args.rounds} rounds, {args.reps} reps, load {load:.2f}")
    rounds = {impl: [] for impl in impls}
    order_rng = np.random.default_rng(0)
    for r in range(args.rounds):
        for i in order_rng.permutation(len(impls)):
            impl = impls[i]
            if args.quick:
                res = worker(impl, shapes, args.reps, args.threads)
            else:
                res = _run_worker(torch_py if impl == "torch" else sys.executable, impl, shapes, args.reps,
                                  args.threads)
            rounds[impl].append(res)
            log(f"round {r + 1}: {impl} done")
    info = machine()
    peak = peak_gflops(info, args.threads)
    lines = [f"CPU: {info['cpu']}, {info['cores']} cores, {info['isa']} ({info['lanes']} float32 lanes), "
             f"clock {info['mhz']:.0f} MHz (from /proc/cpuinfo)  " if info["mhz"] else f"CPU: {info['cpu']}  ",
             f"FMA peak on {args.threads} threads: "
             + (f"{peak:.0f} GFLOP/s (cores x 2 FMA units x {info['lanes']} lanes x 2 flops x clock)  "
                if peak else "unknown  "),
             f"BLAS: {info['blas']}; direct kernels' register block: {_block()} pixels x 16 float32 channels  ",
             f"Protocol: {args.rounds} round(s), each implementation in its own process per round, median of "
             f"{args.reps} calls per process; median over rounds (spread: lowest-highest round); "
             f"{args.threads} threads each; load before: {load:.2f}  ",
             f"Command: `python -m benchmarks.conv_layers {' '.join(args.argv_echo)}`; "
             f"date {time.strftime('%Y-%m-%d %H:%M %Z')}", "",
             "| conv (N, C_in -> C_out, H x W, k/s/p) | models (layers) | direction | "
             + " | ".join(f"{i} ms (spread)" for i in impls) + " | "
             + " | ".join(f"{i} GFLOP/s ({'% peak' if peak else ''})" for i in impls)
             + (" | direct / PyTorch time |" if "torch" in impls else " |"),
             "| --- | --- | --- | " + " | ".join("---:" for _ in range(2 * len(impls)))
             + (" | ---: |" if "torch" in impls else " |")]
    summary = []
    for i, e in enumerate(shapes):
        label = f"{e['N']}, {e['C']} -> {e['O']}, {e['H']}x{e['W']}, {e['K']}/{e['S']}/{e['P']}"
        models = ", ".join(e["models"]) + f" ({e['count']})"
        for d in DIRECTIONS:
            key = f"{i}|{d}"
            cells_t, cells_g, med = [], [], {}
            for impl in impls:
                vals = [res[key] for res in rounds[impl] if key in res]
                if not vals:
                    cells_t.append("n/a")
                    cells_g.append("n/a")
                    continue
                m = float(np.median(vals))
                med[impl] = m
                cells_t.append(f"{m * 1e3:.2f} ({min(vals) * 1e3:.2f}-{max(vals) * 1e3:.2f})")
                gf = flops(e) / m / 1e9
                cells_g.append(f"{gf:.0f}" + (f" ({100 * gf / peak:.0f}%)" if peak else ""))
            ratio = ""
            if "torch" in impls:
                ratio = f" {med['direct'] / med['torch']:.2f} |" if "direct" in med and "torch" in med else " n/a |"
            lines.append(f"| {label} | {models} | {d} | " + " | ".join(cells_t) + " | " + " | ".join(cells_g)
                         + " |" + ratio)
            summary.append(dict(shape=label, direction=d, **{k: v * 1e3 for k, v in med.items()}))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=1))
    return lines


def _block() -> int:
    from nnlite.ops._kernels import conv_direct as D

    return D.BLOCK


def add_arguments(p) -> None:
    p.add_argument("--rounds", type=int, default=None, help="rounds of own-process runs (default 3, 1 with --quick)")
    p.add_argument("--reps", type=int, default=None, help="timed calls per (shape, direction) (default 10)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--torch-python", default=None, help="the Python that has torch (default: this one)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json-out", default=None, help="also write the medians (ms) as JSON here")


def main(argv=None, log=print):
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv_layers", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="two tiny shapes, one round, in this process, no torch")
    p.add_argument("--out", default=None, help="default benchmarks/results/conv_layers.md")
    p.add_argument("--worker", choices=IMPLS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--shapes-json", default=None, help=argparse.SUPPRESS)
    add_arguments(p)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.reps = args.reps or (2 if args.quick else 10)
    if args.worker:
        print(json.dumps(worker(args.worker, json.loads(args.shapes_json), args.reps, args.threads)))
        return None
    # the command as recorded in the results: files by name only, so the table names no folder of this machine
    args.argv_echo = [os.path.basename(a) if os.path.isabs(a) else a for a in argv]
    lines = run(args, log)
    out = Path(args.out) if args.out else RESULTS / "conv_layers.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    title = "## Conv layers, one direction at a time: direct kernels, im2col + BLAS, PyTorch"
    out.write_text(title + "\n\n" + "\n".join(lines) + "\n")
    log(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
