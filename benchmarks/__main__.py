"""``python -m benchmarks``: time nnlite's training steps against plain NumPy and PyTorch, interleaved.

Usage::

    python -m benchmarks                      # all steps, kernels and compile times; writes results/*.md
    python -m benchmarks --quick              # fewer steps (a smoke run, ~1 minute)
    python -m benchmarks --steps 400 --only vae,mlp_dae --dtype float64 --out /tmp/steps64.md
    python -m benchmarks --what kernels       # only the per-kernel micro-benchmarks
    python -m benchmarks --what conv-layers   # each conv shape of the models, each direction (benchmarks.conv_layers)
    python -m benchmarks --what models        # every model's fit, end to end, vs PyTorch and JAX
                                              # (benchmarks.models; the table the README quotes)

The step tables (``--what steps``) are kernel micro-benchmarks: hand-built training steps of three
networks, not the models' ``fit``; ``--what models`` times what users run.

How it measures (so the numbers can be trusted on a busy machine):

* every implementation of a step runs in the **same process**, **interleaved** step by step in a new
  random order each round (nnlite, nnlite with 1 BLAS thread, nnlite's matrix products alone, the same
  step on nnlite's reference backend -- plain NumPy, ``nnlite.ops.reference`` -- and PyTorch), so a
  burst of load from another program hits all of them alike; a short untimed pause between them lets
  spinning BLAS/OpenMP threads of the previous one go idle;
* then nnlite, its matrix products and PyTorch also run **alone** (the *own process* rows): each in its
  own long-lived process, taking turns in short blocks (``benchmarks.alone``): in one process PyTorch's
  OpenMP threads and NumPy's OpenBLAS threads compete for the cores and slow both down, and separate
  runs minutes apart would measure the shared machine's drift; the median of the per-round ratios is the
  one to quote;
* after a warm-up, it reports the **median** and the **interquartile range** of the step times, the
  images per second, the time **ratio to PyTorch** and to nnlite's own matrix products, and the
  GFLOP/s of the step's products as a fraction of the **BLAS peak** measured at the start (a large
  square matrix product);
* nothing here is a pass/fail test: the tables are written to ``benchmarks/results/``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import alone as alone_mod
from benchmarks import models as models_mod
from benchmarks.timing import blas_peak, interleave, paired_ratios

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


# ----------------------------------------------------------------------------------------------- helpers
def load_batch(batch: int, dtype) -> tuple[np.ndarray, str]:
    """The first ``batch`` Fashion-MNIST test images as (batch, 784) in [0, 1], else uniform noise."""
    try:
        from nnlite.data import load_fashion_mnist

        default = ROOT.parent / "shared" / "data" / "fashion-mnist"
        path = None if os.environ.get("NNLITE_DATA") or not default.is_dir() else default
        images, _ = load_fashion_mnist("test", path=path)
        x = images[:batch].reshape(batch, -1).astype(dtype)
        return x, "Fashion-MNIST test images"
    except Exception as e:  # data absent: timing does not depend on pixel values
        rng = np.random.default_rng(0)
        return rng.random((batch, 784)).astype(dtype), f"uniform random pixels ({type(e).__name__})"


# ------------------------------------------------------------------------------------------- step tables
#: Row labels of the own-process workers' times (``benchmarks.alone``).
NN_ALONE, MM_ALONE = "nnlite, own process", "nnlite matmuls only, own process"
#: Steps that also get a row on nnlite's reference backend (plain NumPy, ``nnlite.ops.reference``).
REFERENCE_ROWS = ("vae", "mlp_dae")

def run_steps(args, x, peak, log) -> tuple[list[str], dict]:
    import nnlite
    from benchmarks import reference_torch, steps
    from nnlite import threads

    names = [n for n in args.only if n in ("vae", "mlp_dae", "conv_dae")]
    lines, summary = [], {}
    n_cpu = threads.cpu_count()
    for name in names:
        if name == "conv_dae":
            ok, why = steps.conv_dae_available()
            if not ok or "conv_dae" not in steps.STEPS:
                reason = why or "conv DAE step not written yet"
                log(f"conv_dae: pending ({reason})")
                lines += ["### conv DAE (2 convs + 2 transposed convs, 28x28)", "",
                          f"Pending: {reason}.", ""]
                continue
        def fast(policy):                        # the setup of a fast-backend row: backend and thread policy
            return lambda: (nnlite.use("fast"), threads.set_policy(policy))

        nn_step = steps.STEPS[name](x, dtype=args.dtype)
        impls = [("nnlite", fast("auto"), nn_step.step)]
        if n_cpu > 1:
            nn1 = steps.STEPS[name](x, dtype=args.dtype)
            impls.append(("nnlite, 1 thread", fast(1), nn1.step))
            nn2 = steps.STEPS[name](x, dtype=args.dtype)
            impls.append((f"nnlite, {n_cpu} threads", fast("max"), nn2.step))
        if nn_step.matmul_only is not None:
            impls.append(("nnlite matmuls only (policy auto)", fast("auto"), nn_step.matmul_only))
        if not args.no_numpy and name in REFERENCE_ROWS:
            ref_step = steps.STEPS[name](x, dtype=args.dtype)
            impls.append(("nnlite, reference backend (NumPy)",
                          lambda: (nnlite.use("reference"), threads.set_policy("auto"), threads._apply(n_cpu)),
                          ref_step.step))
        if not args.no_torch and reference_torch.available() and name in reference_torch.STEPS:
            t_step = reference_torch.STEPS[name](x, dtype=args.dtype)
            impls.append(("PyTorch " + reference_torch.version(), lambda: None, t_step.step))
        n_steps = args.steps if name != "conv_dae" else max(10, args.steps // 3)   # conv steps are ~5x longer
        log(f"{name}: {len(impls)} implementations x {n_steps} steps (+{args.warmup} warm-up), interleaved")
        times = interleave(impls, n_steps, args.warmup, args.gap_ms / 1000)
        nnlite.use("fast")
        threads.set_policy("auto")
        alone, pairs = {}, []                        # label -> times of the own-process workers; summaries
        if not args.no_alone and not args.no_torch and reference_torch.available() \
                and name in reference_torch.STEPS:
            rounds = max(2, args.rounds)
            block = max(5, n_steps // rounds)
            log(f"{name}: nnlite and PyTorch alone, each in its own process, {rounds} rounds of {block} steps")
            try:
                res = alone_mod.run_rounds(name, x, rounds, block, args.warmup, args.pause_ms / 1000,
                                           matmuls=nn_step.matmul_only is not None)
            except RuntimeError as e:            # a worker failed: keep the interleaved table, say why
                log(f"{name}: own-process runs failed, table without them: {e}")
                res = {"times": {}, "rounds": []}
            torch_alone = "PyTorch " + reference_torch.version() + ", own process"
            labels = {alone_mod.NNLITE: NN_ALONE, alone_mod.TORCH: torch_alone, alone_mod.NNLITE_MM: MM_ALONE}
            alone = {labels[k]: v for k, v in res["times"].items()}
            for num, den, what in ((alone_mod.NNLITE, alone_mod.TORCH, "nnlite / PyTorch"),
                                   (alone_mod.NNLITE, alone_mod.NNLITE_MM, "nnlite step / its matmuls")):
                r = paired_ratios(res["rounds"], num, den)
                if r.size:
                    q1, q2, q3 = np.percentile(r, [25, 50, 75])
                    pairs.append(f"{what}: median {q2:.2f} (IQR {q1:.2f}-{q3:.2f}, range {r.min():.2f}-"
                                 f"{r.max():.2f}, {r.size} rounds)")
        med = {k: float(np.median(v)) for k, v in times.items()}
        torch_label = next((k for k in med if k.startswith("PyTorch")), None)
        mm = med.get("nnlite matmuls only (policy auto)")
        lines += [f"### {nn_step.title}", "",
                  f"batch {x.shape[0]}, {np.dtype(args.dtype).name}; matrix products: "
                  f"{nn_step.flops / 1e6:.0f} MFLOP per step", "",
                  f"{n_steps} interleaved steps per row; ratios are of medians (and of best times, in "
                  "brackets: the best step is the least disturbed by other programs on a shared machine)."
                  + (" The *own process* rows ran alone: nnlite, its matrix products and PyTorch each in "
                     "its own long-lived process, taking turns in short blocks in a random order (no other "
                     "thread pool on the cores; in one process PyTorch's OpenMP threads and OpenBLAS's slow "
                     "each other down); their ratios are to the own-process rows." if alone else ""), "",
                  "| implementation | median ms | IQR ms | best ms | images/s | time x PyTorch | time x own matmuls "
                  "| GFLOP/s | % of BLAS peak |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        best = {k: float(np.min(v)) for k, v in times.items()}
        bmm = best.get("nnlite matmuls only (policy auto)")
        for label, v in alone.items():
            med[label], best[label] = float(np.median(v)), float(np.min(v))
        torch_alone_label = next((k for k in alone if k.startswith("PyTorch")), None)
        for label, v in list(times.items()) + list(alone.items()):
            q1, q3 = np.percentile(v, [25, 75])
            m, b = med[label], best[label]
            gflops = nn_step.flops / m / 1e9
            ref = torch_alone_label if label in alone else torch_label
            vs_torch = f"{m / med[ref]:.2f} ({b / best[ref]:.2f})" if ref else "-"
            vs_mm = "-"                                    # same thread policy, same process kind
            if mm and label == "nnlite":
                vs_mm = f"{m / mm:.2f} ({b / bmm:.2f})"
            elif label == NN_ALONE and MM_ALONE in med:
                vs_mm = f"{m / med[MM_ALONE]:.2f} ({b / best[MM_ALONE]:.2f})"
            lines.append(f"| {label} | {m * 1e3:.2f} | {q1 * 1e3:.2f}-{q3 * 1e3:.2f} | {b * 1e3:.2f} | "
                         f"{x.shape[0] / m:,.0f} | {vs_torch} | {vs_mm} | {gflops:.1f} | {100 * gflops / peak:.0f}% |")
        if pairs:
            lines += ["", "Own-process rounds, ratio of the two blocks' medians within each round (neighbouring "
                      "blocks see the same machine, so this cancels most of its drift):", ""]
            lines += [f"- {p}" for p in pairs]
        lines.append("")
        summary[name] = med
        n_rows = len(times) + len(alone) + (len(pairs) + 3 if pairs else 0)
        for line in lines[-n_rows - 3:]:
            log(line)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        lines.insert(len(lines) - n_rows - 3, f"Load average at the end of this table: {load:.1f}")
        lines.insert(len(lines) - n_rows - 3, "")
    return lines, summary


# ---------------------------------------------------------------------------------------- compile times
_COMPILE_SNIPPET = r"""
import json, sys, time
t0 = time.perf_counter()
import nnlite
t1 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
from benchmarks import steps
out = {{"import nnlite": t1 - t0}}
x = np.random.default_rng(0).random(({batch}, 784)).astype(np.float32)
for name in {names!r}:
    t = time.perf_counter()
    s = steps.STEPS[name](x)
    s.step()
    out["first step " + name] = time.perf_counter() - t
out["total"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def compile_times(names, batch, log) -> list[str]:
    """Import + first step of each model in a fresh process: cold (empty Numba cache) then warm."""
    from benchmarks import steps

    names = [n for n in names if n in steps.STEPS]
    code = _COMPILE_SNIPPET.format(root=str(ROOT), batch=batch, names=names)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="nnlite-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold (empty Numba cache)", "warm (cached)"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if res.returncode != 0:
                log(f"compile-time run failed:\n{res.stderr[-2000:]}")
                return ["Compile-time run failed: " + res.stderr.strip().splitlines()[-1], ""]
            rows[label] = json.loads(res.stdout.strip().splitlines()[-1])
            log(f"{label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rows[label].items()))
    keys = list(next(iter(rows.values())))
    lines = ["### Start-up: `import nnlite` + first training step, fresh process", "",
             "| run | " + " | ".join(keys) + " |", "| --- |" + " ---: |" * len(keys)]
    for label, r in rows.items():
        lines.append(f"| {label} | " + " | ".join(f"{r[k]:.2f} s" for k in keys) + " |")
    return lines + [""]


# ------------------------------------------------------------------------------------------------- main
def machine_lines(args, peak, data_desc) -> list[str]:
    import numba

    import nnlite
    from benchmarks import reference_torch
    from nnlite import threads
    from nnlite.ops._kernels.blas import direct_available

    blas = threads.blas_info()
    blas_desc = ", ".join(f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, "
                          f"{b.get('num_threads')} threads)" for b in blas)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cmd = "python -m benchmarks " + " ".join(sys.argv[1:])
    return [
        f"Command: `{cmd.strip()}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  ",
        f"Machine: {platform.processor() or platform.machine()}, {threads.cpu_count()} cores usable, "
        f"load average {load[0]:.1f} at start (the machine is shared: compare ratios from one run)  ",
        f"Python {platform.python_version()}, NumPy {np.__version__}, Numba {numba.__version__}, "
        f"nnlite {nnlite.__version__}, PyTorch {reference_torch.version()} "
        f"({'torch threads ' + str(reference_torch.torch.get_num_threads()) if reference_torch.available() else ''})  ",
        f"BLAS: {blas_desc}; direct gemm accumulate: {direct_available()}; nnlite thread policy 'auto'  ",
        f"BLAS peak ({np.dtype(args.dtype).name}, 1024^3 product): "
        + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peak.items()) + "  ",
        f"Data: {data_desc}; {args.steps} timed steps per implementation after {args.warmup} warm-up, "
        f"{args.gap_ms} ms untimed pause between implementations",
        "",
    ]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and kernel repeats (smoke run)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per implementation (default 300)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 30)")
    p.add_argument("--only", default="vae,mlp_dae,conv_dae", help="comma-separated: vae,mlp_dae,conv_dae")
    p.add_argument("--what", default="steps,kernels,compile",
                   help="comma-separated: steps,kernels,compile,models")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--out", default=None, help="steps table file (default benchmarks/results/steps.md, or "
                                                "steps_float64.md)")
    p.add_argument("--kernels-out", default=None, help="default benchmarks/results/kernels.md")
    p.add_argument("--gap-ms", type=float, default=1.0, help="untimed pause between implementations")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-numpy", action="store_true", help="no rows on nnlite's reference backend (plain NumPy)")
    p.add_argument("--no-alone", action="store_true",
                   help="skip the runs of nnlite and PyTorch alone in their own processes")
    p.add_argument("--rounds", type=int, default=None,
                   help="own-process rounds (default 20, 4 with --quick); each round times one block of "
                        "steps/rounds steps per implementation")
    p.add_argument("--pause-ms", type=float, default=200.0,
                   help="untimed pause before each own-process block, so the other process's threads go idle")
    models_mod.add_arguments(p)
    args, rest = p.parse_known_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    what = {s.strip() for s in args.what.split(",") if s.strip()}
    if what == {"conv-layers"}:                    # its own options: python -m benchmarks.conv_layers --help
        from benchmarks import conv_layers

        conv_layers.main(rest + ["--quick"] * args.quick + ["--rounds", str(args.rounds)] * bool(args.rounds)
                         + ["--out", str(args.out)] * bool(args.out))
        return
    if rest:
        p.error(f"unrecognized arguments: {' '.join(rest)}")
    unknown = what - {"steps", "kernels", "compile", "models"} | set(args.only) - {"vae", "mlp_dae", "conv_dae"}
    if unknown:
        p.error(f"unknown names {sorted(unknown)}; --what takes steps,kernels,compile,models and --only "
                "vae,mlp_dae,conv_dae")
    args.steps = args.steps or (40 if args.quick else 300)
    args.warmup = args.warmup or (5 if args.quick else 30)
    args.rounds = args.rounds or (4 if args.quick else 20)
    args.dtype = np.dtype(args.dtype)
    sys.path.insert(0, str(ROOT))

    def log(msg):
        print(msg, flush=True)

    t_start = time.perf_counter()
    if what == {"models"}:                         # its own workers and header: no step-table set-up
        models_mod.main_models(args, log, [f"Command: `python -m benchmarks {' '.join(sys.argv[1:])}`  ",
                                           f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  "])
        log(f"done in {time.perf_counter() - t_start:.0f} s")
        return
    import nnlite  # noqa: F401  (imported here so the import time is not in the step timings)

    peak = blas_peak(args.dtype)
    x, data_desc = load_batch(args.batch, args.dtype)
    header = machine_lines(args, peak, data_desc)
    for line in header:
        log(line)
    if "steps" in what:
        lines = run_steps(args, x, max(peak.values()), log)[0]
        out = Path(args.out) if args.out else RESULTS / ("steps.md" if args.dtype == np.float32
                                                         else f"steps_{args.dtype.name}.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        title = ("## Kernel micro-benchmarks: hand-built training steps, nnlite's fast backend vs its reference "
                 "backend (plain NumPy) vs PyTorch")
        out.write_text(title + "\n\n" + "\n".join(header + lines))
        log(f"wrote {out}")
    if "compile" in what:                           # its own file, so each part can be re-run alone
        lines = compile_times(args.only, args.batch, log)
        out = RESULTS / "startup.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("## Start-up and Numba compile time\n\n" + "\n".join(header + lines))
        log(f"wrote {out}")
    if "kernels" in what:
        from benchmarks import kernels

        lines = kernels.run(args, log)
        out = Path(args.kernels_out) if args.kernels_out else RESULTS / "kernels.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("## Kernels: fused Numba vs their NumPy twins\n\n" + "\n".join(header + lines))
        log(f"wrote {out}")
    if "models" in what:
        models_mod.main_models(args, log, header[:2])
    log(f"done in {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
