"""``python -m benchmarks --what models``: every nnlite model timed through its own ``fit``, against the
same network trained in a plain PyTorch loop (and in JAX, where it is installed).

What one cell is: the seconds of one epoch, ``Model(...).fit(X)`` with ``epochs=1`` for nnlite, a fresh
network and optimizer and one epoch of a plain loop over ``torch.randperm`` batches for PyTorch
(:mod:`benchmarks.reference_torch`), and the same with a ``jax.jit``-compiled step and optax's Adam for
JAX (:mod:`benchmarks.models_jax`). The three implement, per row, the same architecture (a test checks
that the parameter counts agree), the same initialisation scheme (PyTorch's defaults, which nnlite's
layers follow), the same loss with the same reduction, the same training noise and Adam with the same
hyper-parameters and learning-rate schedule.

How it measures (the own-process protocol of :mod:`benchmarks.timing`, with whole epochs as the turns):

* each implementation runs in its **own long-lived worker process** (``python -m benchmarks.models
  worker <impl>``), which loads the data once and keeps its compiled kernels, so neither OpenMP nor
  OpenBLAS thread pools of another library sit on the cores;
* per row, every worker first runs one untimed **warm-up** epoch (Numba's cache, XLA's compilation,
  allocator warm-up); then ``rounds`` rounds, each one epoch per implementation in a new random order
  after an untimed pause, so neighbouring epochs see the same machine;
* the table gives the **median** seconds per epoch, the **range** over the rounds, and the median of
  the **per-round ratios** nnlite / PyTorch and nnlite / JAX (with their range): the ratio of two
  epochs run seconds apart cancels most of a shared machine's drift;
* the workers start without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, so OpenBLAS picks its
  kernel for the CPU as a user's install does (``--blas-env as-is`` keeps the environment;
  ``--blas-env both`` runs the table both ways when the environment sets them); each worker reports
  the BLAS it loaded (threadpoolctl), and the header names the CPU;
* the **thread-policy rows** rerun a few rows with nnlite's default policy (``'auto'``), its
  ``'fixed'`` policy and one BLAS thread, beside PyTorch's default and one thread: on the idle machine,
  then while a spin loop started by the benchmark holds one core (``while True: pass``, bounded in time
  and killed at the end).

``--quick`` runs tiny data for one round, nnlite only unless asked otherwise: the test suite runs it to
keep the harness working; its numbers mean nothing.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.timing import Worker, serve, take_turns

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"

#: Implementations, in table order.
IMPLS = ("nnlite", "torch", "jax")
#: Environment variables that override OpenBLAS's choice of kernel for the CPU.
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ------------------------------------------------------------------------------------------------ the rows
@dataclass(frozen=True)
class Row:
    """One model of the table: the nnlite class and constructor arguments, and the data it trains on.

    ``data`` is ``'fashion'`` (Fashion-MNIST training images, ``(N, 28, 28)`` in [0, 1]) or ``'rgb64'``
    (uniform random ``(N, 3, 64, 64)`` images: a speed row, pixel values do not change the time).
    ``n`` is the number of training images in the full run; ``quick_n`` in ``--quick``.
    """

    name: str
    title: str
    model: str
    kwargs: dict = field(default_factory=dict)
    data: str = "fashion"
    n: int = 12_800
    quick_n: int = 256
    labels: bool = False

    def make(self, **extra):
        """A fresh, unfitted nnlite model of this row (``extra`` overrides the row's arguments)."""
        import nnlite.models as models

        return getattr(models, self.model)(**{**self.kwargs, **extra})

    def params(self) -> dict:
        """The nnlite model's full constructor arguments, defaults included: what the references copy."""
        return self.make().get_params()


ROWS = [
    Row("vae", "VAE 784-400-20", "VAE", dict(latent_dim=20, hidden=(400,), batch_size=128)),
    Row("autoencoder", "Autoencoder 784-256-128-2", "Autoencoder", dict(batch_size=128)),
    Row("mlp_dae", "MLP DAE 784-512-128-32 (Gaussian 0.5, MSE)", "DenoisingAutoencoder",
        dict(noise="gaussian", noise_level=0.5, latent_dim=32, hidden=(512, 128), loss="mse", n_copies=1,
             n_passes=1, batch_size=128)),
    Row("sparse_ae", "SparseAutoencoder 784-32 (ReLU code, L1 1e-4)", "SparseAutoencoder",
        dict(latent_dim=32, l1=1e-4, batch_size=128)),
    Row("mlp_classifier", "MLPClassifier 784-256-10", "MLPClassifier", dict(batch_size=128), labels=True),
    Row("gan_mlp", "GAN, MLP players (100-256-512-784 / 784-512-256-1)", "GAN", dict(batch_size=128)),
    Row("gan_dcgan", "GAN, DCGAN players (channels 32)", "GAN", dict(generator="dcgan", batch_size=128)),
    Row("adversarial_dae", "AdversarialDenoiser 784-256-32 + D 784-256-1 (s&p 0.1)", "AdversarialDenoiser",
        dict(batch_size=128)),
    Row("conv_dae", "ConvDenoisingAutoencoder (32, 64), Gaussian 0.5", "ConvDenoisingAutoencoder",
        dict(batch_size=128)),
    Row("unet", "ResidualDenoiser, U-Net width 16 depth 3 (batch 64)", "ResidualDenoiser",
        dict(architecture="unet", batch_size=64), n=6_400, quick_n=128),
    Row("dncnn", "ResidualDenoiser, DnCNN width 16 depth 10 (batch 64)", "ResidualDenoiser",
        dict(architecture="dncnn", batch_size=64), n=6_400, quick_n=128),
    Row("conv_vae", "ConvVAE (32, 64), latent 16", "ConvVAE", dict(batch_size=128)),
    Row("conv_vae_rgb64", "ConvVAE 64x64 RGB, 4 stride-2 convs (32, 64, 128, 256) each way, random data",
        "ConvVAE", dict(channels=(32, 64, 128, 256), batch_size=128), data="rgb64", n=2_560, quick_n=128),
]
ROW_BY_NAME = {r.name: r for r in ROWS}

#: Rows rerun with each thread policy, on the idle machine and with one core taken by a spin loop.
BUSY_ROWS = ("vae", "conv_dae")
POLICY_DEFAULT = "nnlite, default policy ('auto')"
POLICY_FIXED = "nnlite, 'fixed' (shape rule, never the load)"
POLICY_ONE = "nnlite, 1 BLAS thread"


# ------------------------------------------------------------------------------------------------ the data
def load_data(kind: str, n: int, seed: int = 0, fallback: bool = False) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(X, y, description)`` for a row's ``data`` kind: ``n`` images, float32 in [0, 1].

    With ``fallback`` (the quick run), uniform random images and labels stand in for Fashion-MNIST when
    it is not found (``NNLITE_DATA``), and the description says so.
    """
    rng = np.random.default_rng(seed)
    if kind == "rgb64":
        X = rng.random((n, 3, 64, 64), dtype=np.float32)
        return X, None, "uniform random 3x64x64 images"
    from nnlite.data import DatasetError, load_fashion_mnist

    try:
        X, y = load_fashion_mnist("train", download=False)
    except (DatasetError, OSError) as e:
        if not fallback:
            raise
        return (rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n),
                f"uniform random 28x28 images (Fashion-MNIST not found: {type(e).__name__})")
    if len(X) < n:
        raise ValueError(f"Fashion-MNIST has {len(X)} training images, the row wants {n}")
    X = np.ascontiguousarray(X[:n].reshape(n, 28, 28), dtype=np.float32)
    return X, np.asarray(y[:n]), "the first N Fashion-MNIST training images"


# ------------------------------------------------------------------------------------------------ workers
def _without_folder(lib: dict) -> dict:
    """threadpoolctl's record of a library with its file name only: a results file names no folder of the
    machine it was measured on."""
    return {k: (os.path.basename(v) if k == "filepath" else v) for k, v in lib.items()}


def _fit_nnlite(row: Row, X, y, seed: int, policy=None) -> dict:
    """One epoch of ``Model(...).fit``: seconds, the last epoch's training loss."""
    from nnlite import threads

    if policy is not None:
        threads.set_policy(policy)
    try:
        t = time.perf_counter()
        model = row.make(epochs=1, random_state=seed)
        model.fit(X, y) if row.labels else model.fit(X)
        sec = time.perf_counter() - t
    finally:
        threads.set_policy("auto")
    h = model.history_
    key = "g_loss" if "g_loss" in h else "loss"
    return {"seconds": sec, "loss": float(h[key][-1]), "n_params": int(sum(p.data.size for p in model.parameters()))}


class _NnliteImpl:
    name = "nnlite"

    def info(self) -> dict:
        import numba

        import nnlite
        from nnlite import threads

        return {"version": f"nnlite {nnlite.__version__} (NumPy {np.__version__}, Numba {numba.__version__})",
                "blas": [_without_folder(lib) for lib in threads.blas_info()], "threads": threads.get_blas_threads()}

    def run(self, row, X, y, seed, policy=None):
        return _fit_nnlite(row, X, y, seed, policy)


def _impl(name: str):
    if name == "nnlite":
        return _NnliteImpl()
    if name == "torch":
        from benchmarks import reference_torch

        return reference_torch.TorchImpl()
    if name == "jax":
        from benchmarks import models_jax

        return models_jax.JaxImpl()
    raise ValueError(f"unknown implementation {name!r}; valid: {IMPLS}")


def available(name: str) -> tuple[bool, str]:
    """Whether implementation ``name`` can run here, and why not."""
    if name == "nnlite":
        return True, ""
    mod = {"torch": "torch", "jax": "jax"}[name]
    try:
        __import__(mod)
        if name == "jax":
            __import__("optax")
    except Exception as e:  # noqa: BLE001 - any import failure means: not here
        return False, f"{name} is not installed ({type(e).__name__}: {e})"
    return True, ""


def _worker_main(impl_name: str, data_dir: str):
    """The worker: one epoch of ``row`` on ``n`` images per request (:func:`benchmarks.timing.serve`)."""
    sys.path.insert(0, str(ROOT))
    impl = _impl(impl_name)
    data = {}

    def handle(req):
        row = ROW_BY_NAME[req["row"]]
        key = (row.data, req["n"])
        if key not in data:
            X = np.load(os.path.join(data_dir, f"{row.data}_{req['n']}.npy"))
            ypath = os.path.join(data_dir, f"{row.data}_{req['n']}_y.npy")
            data[key] = (X, np.load(ypath) if os.path.exists(ypath) else None)
        X, y = data[key]
        return impl.run(row, X, y, int(req.get("seed", 0)), req.get("policy"))

    serve(handle, impl.info())


def start_worker(impl: str, data_dir: str, env: dict | None = None) -> Worker:
    """``impl``'s worker process (``python -m benchmarks.models worker <impl> <data_dir>``)."""
    return Worker(["benchmarks.models", "worker", impl, data_dir], impl, env)


def worker_env(blas_env: str) -> dict:
    """The workers' environment: ``'default'`` without the OpenBLAS kernel overrides, ``'as-is'`` unchanged."""
    env = dict(os.environ)
    if blas_env == "default":
        for k in BLAS_OVERRIDES:
            env.pop(k, None)
    return env


# ------------------------------------------------------------------------------------------------ the load
class SpinLoad:
    """``with SpinLoad(seconds): ...`` -- one process spinning on a core (``while True: pass``), for at
    most ``seconds`` (it stops itself) and killed when the block ends."""

    CODE = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    pass\n"

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE.format(s=self.seconds)])
        time.sleep(0.5)                               # let the scheduler see it
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# ------------------------------------------------------------------------------------------------ rounds
def time_row(workers: dict, row: Row, n: int, rounds: int, pause: float, rng, log, variants=None) -> dict:
    """Warm-up, then ``rounds`` rounds of one epoch per variant in a random order.

    ``variants`` maps a label to ``(impl, policy)`` (default: one variant per worker). Returns
    ``{"seconds": {label: [..]}, "loss": {label: [..]}, "n_params": {label: int}, "errors": {label: str}}``.
    """
    variants = variants or {name: (name, None) for name in workers}
    res = {"seconds": {k: [] for k in variants}, "loss": {k: [] for k in variants}, "n_params": {}, "errors": {}}

    def epoch(label, seed):
        impl, policy = variants[label]
        return workers[impl].request(row=row.name, n=n, seed=seed, policy=policy)

    for label in variants:
        out = epoch(label, 0)                                                # warm-up, untimed
        if "error" in out:
            res["errors"][label] = out["error"]
            log(f"  {row.name} {label}: FAILED {out['error']}\n{out.get('traceback', '')}")
        else:
            res["n_params"][label] = out.get("n_params")
    live = [k for k in variants if k not in res["errors"]]

    def record(r, outs):
        for label, out in outs.items():
            if "error" in out:
                res["errors"][label] = out["error"]
            else:
                res["seconds"][label].append(out["seconds"])
                res["loss"][label].append(out["loss"])
        log(f"  {row.name} round {r + 1}/{rounds}: " + ", ".join(
            f"{k} {res['seconds'][k][-1]:.2f} s" for k in live if res['seconds'][k]))

    take_turns({k: (lambda r, k=k: epoch(k, r + 1)) for k in live}, rounds, pause, rng, on_round=record)
    return res


def ratio_stats(a: list, b: list) -> dict | None:
    """Median and range of the per-round ratios ``a[i] / b[i]``."""
    k = min(len(a), len(b))
    if not k:
        return None
    r = np.asarray(a[:k]) / np.asarray(b[:k])
    return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max()), "rounds": int(k)}


def summarize(res: dict) -> dict:
    out = {}
    for label, s in res["seconds"].items():
        if s:
            out[label] = {"median": float(np.median(s)), "min": float(np.min(s)), "max": float(np.max(s)),
                          "loss": float(np.median(res["loss"][label])), "rounds": len(s)}
    return out


# ------------------------------------------------------------------------------------------------ the run
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags)
    except OSError:
        pass
    return "?"


def _blas_desc(info: dict) -> str:
    libs = info.get("blas") or []
    return "; ".join(f"{b.get('internal_api')} {b.get('version')} kernel {b.get('architecture')}, "
                     f"{b.get('num_threads')} threads" for b in libs) or "-"


def row_images(row: Row, args) -> int:
    """Training images of ``row`` in this run: ``quick_n`` with ``--quick``, else ``n`` capped by
    ``--max-images`` (rounded down to whole batches)."""
    if args.quick:
        return row.quick_n
    n = row.n
    cap = getattr(args, "max_images", None)
    if cap:
        bs = int(row.kwargs.get("batch_size", 128))
        n = max(bs, min(n, cap) // bs * bs)
    return n


def run_table(args, rows, impls, env, log, data_dir) -> dict:
    """Start the workers with ``env``, time every row; returns the JSON-ready results."""
    order_rng = np.random.default_rng(args.seed)
    workers, infos = {}, {}
    out = {"rows": [], "busy": [], "workers": infos}
    try:
        for name in impls:
            workers[name] = start_worker(name, data_dir, env)
            infos[name] = workers[name].info
            log(f"worker {name}: {infos[name].get('version')}; BLAS {_blas_desc(infos[name])}")
        for row in rows:
            n = row_images(row, args)
            log(f"{row.name}: {row.title}, {n:,} images, {args.rounds} rounds")
            res = time_row(workers, row, n, args.rounds, args.pause, order_rng, log)
            entry = {"name": row.name, "title": row.title, "n": n, "summary": summarize(res),
                     "n_params": res["n_params"], "errors": res["errors"], "seconds": res["seconds"], "ratios": {}}
            for other in impls:
                if other != "nnlite":
                    r = ratio_stats(res["seconds"]["nnlite"], res["seconds"].get(other, []))
                    if r:
                        entry["ratios"][other] = r
            out["rows"].append(entry)
        if args.busy:
            for name in BUSY_ROWS:
                row = ROW_BY_NAME[name]
                if row not in rows:
                    continue
                n = row_images(row, args)
                variants = {POLICY_DEFAULT: ("nnlite", None), POLICY_FIXED: ("nnlite", "fixed"),
                            POLICY_ONE: ("nnlite", 1)}
                if "torch" in workers:
                    variants.update({"PyTorch (default threads)": ("torch", None), "PyTorch, 1 thread": ("torch", 1)})
                for load in ("idle", "busy"):
                    log(f"{row.name}: thread policies, {load} machine, {args.rounds} rounds")
                    if load == "busy":
                        budget = 60 + 3 * (args.rounds + 1) * len(variants) * 30
                        with SpinLoad(budget):
                            res = time_row(workers, row, n, args.rounds, args.pause, order_rng, log, variants)
                    else:
                        res = time_row(workers, row, n, args.rounds, args.pause, order_rng, log, variants)
                    entry = {"name": row.name, "title": row.title, "n": n, "load": load, "summary": summarize(res),
                             "errors": res["errors"], "seconds": res["seconds"], "ratios": {}}
                    s = res["seconds"]
                    k = min(len(s[POLICY_FIXED]), len(s[POLICY_ONE]))
                    best = list(np.minimum(s[POLICY_FIXED][:k], s[POLICY_ONE][:k]))
                    for label in variants:
                        r = ratio_stats(s[label], best) if s.get(label) else None
                        if r:
                            entry["ratios"][label] = r
                    out["busy"].append(entry)
    finally:
        for w in workers.values():
            w.close()
    return out


def _fmt_sec(s: dict | None) -> str:
    if not s:
        return "-"
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def _fmt_ratio(r: dict | None) -> str:
    if not r:
        return "-"
    return f"**{r['median']:.2f}** ({r['min']:.2f}-{r['max']:.2f})"


def markdown(results: dict, impls) -> list[str]:
    names = {"nnlite": "nnlite", "torch": "PyTorch", "jax": "JAX"}
    lines = []
    for table in results["tables"]:
        lines += [f"### {table['label']}", ""]
        for name, info in table["workers"].items():
            lines.append(f"- {names[name]}: {info.get('version')}; BLAS: {_blas_desc(info)}")
        lines.append("")
        head = ["model", "images"] + [f"{names[i]} s/epoch" for i in impls]
        head += [f"nnlite / {names[i]}" for i in impls if i != "nnlite"]
        head += ["params"] + [f"loss {names[i]}" for i in impls]
        lines += ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        for e in table["rows"]:
            s = e["summary"]
            cells = [e["title"], f"{e['n']:,}"] + [_fmt_sec(s.get(i)) for i in impls]
            cells += [_fmt_ratio(e["ratios"].get(i)) for i in impls if i != "nnlite"]
            counts = {e["n_params"].get(i) for i in impls if e["n_params"].get(i) is not None}
            cells.append(f"{next(iter(counts)):,}" if len(counts) == 1 else
                         " / ".join(f"{names[i]} {e['n_params'].get(i)}" for i in impls))
            cells += [f"{s[i]['loss']:.4g}" if i in s else "-" for i in impls]
            lines.append("| " + " | ".join(cells) + " |")
            for label, err in e["errors"].items():
                lines.append(f"| ^ {names.get(label, label)} failed: {err} |" + " |" * (len(head) - 1))
        lines.append("")
        if table.get("busy"):
            lines += ["Thread policies, without and with one core taken by a spin loop the benchmark starts "
                      "(`while True: pass`, stopped after the rows; other programs' load, if any, is in the load "
                      "averages above). Ratio: per round, to the "
                      "faster of nnlite's two fixed thread counts in that round ('fixed' = 2 threads for big "
                      "products, 1 BLAS thread).", "",
                      "| model | machine | variant | s/epoch | ratio to nnlite's best fixed count |",
                      "| --- | --- | --- | ---: | ---: |"]
            for e in table["busy"]:
                for label, s in e["summary"].items():
                    machine = {"idle": "no spin loop", "busy": "one core spinning"}[e.get("load", "busy")]
                    lines.append(f"| {e['title']} | {machine} | {label} | {_fmt_sec(s)} | "
                                 f"{_fmt_ratio(e['ratios'].get(label))} |")
            lines.append("")
    return lines


def run(args, log, header_lines=()) -> tuple[list[str], dict]:
    """The models benchmark; returns the Markdown lines and the JSON-ready results."""
    rows = [ROW_BY_NAME[n] for n in args.models] if args.models else list(ROWS)
    impls = ["nnlite"]
    skipped = {}
    for name in ("torch", "jax"):
        if getattr(args, f"no_{name}") or (args.quick and not getattr(args, f"with_{name}", False)):
            continue
        ok, why = available(name)
        if ok:
            impls.append(name)
        else:
            skipped[name] = why
            log(f"{name}: skipped ({why})")
    set_vars = {k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ}
    modes = {"default": ["default"], "as-is": ["as-is"], "both": ["default", "as-is"] if set_vars else ["default"]}
    results = {"cpu": cpu_name(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(), "impls": impls,
               "skipped": skipped, "blas_env_set": set_vars, "tables": [], "quick": bool(args.quick),
               "rounds": args.rounds, "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="nnlite-models-") as data_dir:
        descs = {}
        for row in rows:
            n = row_images(row, args)
            path = os.path.join(data_dir, f"{row.data}_{n}.npy")
            if not os.path.exists(path):
                X, y, descs[row.data] = load_data(row.data, n, fallback=args.quick)
                np.save(path, X)
                if y is not None:
                    np.save(os.path.join(data_dir, f"{row.data}_{n}_y.npy"), y)
        results["data"] = descs
        for mode in modes[args.blas_env]:
            env = worker_env(mode)
            label = ("OpenBLAS's own kernel choice (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset in the workers)"
                     if mode == "default" else
                     "the environment as it is" + (f" ({', '.join(f'{k}={v}' for k, v in set_vars.items())})"
                                                   if set_vars else " (no OpenBLAS override set)"))
            log(f"== table: {label}")
            t = run_table(args, rows, impls, env, log, data_dir)
            t["label"] = label
            results["tables"].append(t)
    results["load_end"] = os.getloadavg()[0]
    lines = ["## Models: `fit` end to end, nnlite vs PyTorch" + (" vs JAX" if "jax" in impls else ""), ""]
    lines += list(header_lines)
    lines += [f"CPU: {results['cpu']} ({results['cores']} cores; {results['cpu_flags']}); load average "
              f"{results['load_start']:.2f} at the start, {results['load_end']:.2f} at the end  ",
              "Data: " + "; ".join(sorted(set(descs.values()))) + " (N per row: column 'images')  ",
              f"Each cell: median seconds of one epoch over {args.rounds} round(s) (min-max in brackets), each "
              "implementation in its own worker process after a warm-up epoch, the implementations in a new "
              "random order each round; nnlite / X is the median of the per-round ratios (range in brackets); "
              "params: the trainable parameter count, the same in every implementation when one number is "
              "shown; loss: the training loss each reports for the epoch (same loss and reduction).", ""]
    if skipped:
        lines += [f"Not run: {why}." for why in skipped.values()] + [""]
    if args.quick:
        lines += ["**Quick run: tiny data, not a measurement.**", ""]
    elif getattr(args, "max_images", None):
        lines += [f"Shortened run: at most {args.max_images:,} training images per row (column 'images'); "
                  "the full protocol is 12,800 (U-Net and DnCNN 6,400, the 64x64 RGB row 2,560).", ""]
    lines += markdown(results, impls)
    return lines, results


def add_arguments(p: argparse.ArgumentParser):
    g = p.add_argument_group("models (--what models)")
    g.add_argument("--models", default=None, help=f"comma-separated rows (default all): {','.join(ROW_BY_NAME)}")
    g.add_argument("--model-rounds", type=int, default=None, dest="model_rounds",
                   help="timed rounds per row (default 3; 1 with --quick)")
    g.add_argument("--no-jax", action="store_true", help="skip the JAX reference")
    g.add_argument("--with-torch", action="store_true", help="with --quick: run the PyTorch reference too")
    g.add_argument("--with-jax", action="store_true", help="with --quick: run the JAX reference too")
    g.add_argument("--blas-env", choices=["default", "as-is", "both"], default="both",
                   help="workers without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE ('default', what a user's install "
                        "does), with the environment as it is ('as-is'), or both when it sets them (default)")
    g.add_argument("--no-busy", action="store_true", help="skip the thread-policy rows (idle and one core spinning)")
    g.add_argument("--max-images", type=int, default=None,
                   help="at most this many training images per row (a shorter run; the table says so)")
    g.add_argument("--models-out", default=None,
                   help="results file (.md, and .json beside it); default benchmarks/results/models.md, "
                        "or a scratch file with --quick")


def main_models(args, log, header_lines=()):
    """Entry point from ``python -m benchmarks``: run, write the .md and .json files, return the path."""
    args.rounds = args.model_rounds or (1 if args.quick else 3)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    unknown = set(args.models or ()) - set(ROW_BY_NAME)
    if unknown:
        raise SystemExit(f"unknown model rows {sorted(unknown)}; valid: {', '.join(ROW_BY_NAME)}")
    args.busy = not args.no_busy
    import signal

    # a terminated run still stops its workers and its spin loop (the finally blocks run on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args.pause = 0.05 if args.quick else 0.5
    args.seed = 0
    lines, results = run(args, log, header_lines)
    if args.models_out:
        out = Path(args.models_out)
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="nnlite-bench-quick-")) / "models.md"
    else:
        out = RESULTS / "models.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    for line in lines:
        log(line)
    log(f"wrote {out} and {out.with_suffix('.json').name}")
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        _worker_main(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit("usage: python -m benchmarks --what models [...]  (this module's own entry point is "
                         "the worker: python -m benchmarks.models worker <impl> <data_dir>)")
