"""MNIST-scale quality of nnlite's MLP models against PyTorch on the same model, data and protocol.

Usage (from the project root)::

    NNLITE_DATA=../shared/data python -m benchmarks.mnist_scale              # nnlite, full protocol
    NNLITE_DATA=../shared/data python -m benchmarks.mnist_scale --torch      # + PyTorch in the same run
    NNLITE_DATA=../shared/data python -m benchmarks.mnist_scale --only vae_mnist --subset 2000  # smoke
    ... --figures            # also write the pictures of the trained models to benchmarks/results/figures/

The protocol (seed 0 everywhere; float32; Adam lr 1e-3, constant; batch 128; shuffled every epoch):

=================  ================================================================================
``vae_fashion``    VAE 784-400-20 (Kingma & Welling; PyTorch's example), Fashion-MNIST 60k train,
                   10 epochs; test loss per image on the 10k test images = BCE summed over pixels +
                   KL, ``z`` sampled as in training (:func:`nnlite.models.vae_negative_elbo`)
``vae_mnist``      the same VAE on MNIST, 20 epochs, trained on the first 8,000 images of the MNIST
                   **test** set and tested on its last 2,000 (only the test set is on this machine)
``dae_gaussian``   MLP DAE 784-512-128-32-128-512-784 (ReLU, sigmoid out, MSE), Fashion-MNIST 60k,
                   5 epochs, trained on Gaussian noise sigma 0.5 clipped to [0, 1]; mean PSNR of the
                   denoised 10k test images (one fixed noisy copy, seed 1234)
``dae_sp``         the same DAE trained and tested on salt-and-pepper 20% (half 0, half 1)
=================  ================================================================================

The PyTorch reference numbers are those measured on this machine with the same protocol (see
``run_vae`` and ``run_dae`` in ``benchmarks/reference_torch.py``); ``--torch`` re-measures them in this
run. nnlite passes when it is within 1% (VAE; lower is better) or 0.2 dB (DAE; higher is better) of the
reference, or better.
Seconds per epoch exclude evaluation; on a shared machine read them as a ratio within one run.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = RESULTS / "figures"


# ---------------------------------------------------------------------------------------- the protocol
TEST_NOISE_SEED = 1234
EVAL_SEED = 4321

#: The four experiments: data, model and the PyTorch reference measured on this machine.
EXPERIMENTS = {
    "vae_fashion": dict(kind="vae", dataset="fashion", epochs=10, ref=244.3, ref_epoch1=262.6,
                        what="VAE 784-400-20, Fashion-MNIST, 10 epochs: test -ELBO per image (nats)"),
    "vae_mnist": dict(kind="vae", dataset="mnist8k", epochs=20, ref=116.6, ref_epoch1=None,
                      what="VAE 784-400-20, MNIST test[:8000] -> test[8000:], 20 epochs: test -ELBO per image"),
    "dae_gaussian": dict(kind="dae", dataset="fashion", epochs=5, noise="gaussian", level=0.5, ref=17.4,
                         ref_input=9.3, what="MLP DAE 784-512-128-32, Fashion-MNIST, Gaussian 0.5, 5 epochs: "
                                             "test PSNR (dB)"),
    "dae_sp": dict(kind="dae", dataset="fashion", epochs=5, noise="salt_and_pepper", level=0.2, ref=18.2,
                   ref_input=10.8, what="MLP DAE 784-512-128-32, Fashion-MNIST, salt-and-pepper 20%, 5 epochs: "
                                        "test PSNR (dB)"),
}
VAE_TOL = 0.01     # relative, lower is better
DAE_TOL = 0.2      # dB, higher is better


def _flat(X):
    return np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float32)


def load_protocol_data(exp, subset=None):
    """``{'train', 'test', 'test_labels', ('test_noisy', 'noisy_psnr')}`` as flat float32 arrays."""
    from nnlite.data import load_fashion_mnist, load_mnist
    from nnlite.metrics import psnr
    from nnlite.noise import get_noise

    if exp["dataset"] == "fashion":
        Xtr, _ = load_fashion_mnist("train", download=False)
        Xte, yte = load_fashion_mnist("test", download=False)
    else:
        X, y = load_mnist("test", download=False)
        Xtr, Xte, yte = X[:8000], X[8000:], y[8000:]
    Xtr, Xte = _flat(Xtr), _flat(Xte)
    if subset:
        Xtr = Xtr[:subset]
        Xte, yte = Xte[:max(subset // 4, 256)], yte[:max(subset // 4, 256)]
    d = {"train": Xtr, "test": Xte, "test_labels": np.asarray(yte)}
    if exp["kind"] == "dae":
        noisy = get_noise(exp["noise"])(Xte, exp["level"], np.random.default_rng(TEST_NOISE_SEED))
        d["test_noisy"] = np.ascontiguousarray(noisy, dtype=np.float32)
        d["noisy_psnr"] = psnr(Xte, noisy)
    return d


# ---------------------------------------------------------------------------------------- nnlite runs
def make_vae(epochs, latent_dim=20, random_state=0):
    """The protocol's VAE as an nnlite estimator."""
    from nnlite import VAE

    return VAE(latent_dim=latent_dim, hidden=(400,), lr=1e-3, batch_size=128, epochs=epochs,
               lr_schedule="constant", random_state=random_state)


def make_dae(noise, level, epochs, random_state=0):
    """The protocol's MLP DAE (784-512-128-32 and back, MSE, one pass, fresh noise every batch)."""
    from nnlite import DenoisingAutoencoder

    return DenoisingAutoencoder(noise=noise, noise_level=level, n_passes=1, n_copies=1, latent_dim=32,
                                hidden=(512, 128), loss="mse", lr=1e-3, batch_size=128, epochs=epochs,
                                lr_schedule="constant", random_state=random_state)


def run_nnlite(name, exp, d, log=print):
    from nnlite.metrics import psnr
    from nnlite.models import vae_negative_elbo

    if exp["kind"] == "vae":
        model = make_vae(exp["epochs"])
        model.fit(d["train"], validation_data=d["test"], verbose=0)
        nelbo, recon, kl = vae_negative_elbo(model, d["test"], random_state=EVAL_SEED, reduction="mean",
                                             return_terms=True)
        res = {"value": nelbo, "recon": recon, "kl": kl, "epoch1": model.history_["val_loss"][0]}
    else:
        model = make_dae(exp["noise"], exp["level"], exp["epochs"])
        model.fit(d["train"], verbose=0)
        res = {"value": psnr(d["test"], model.reconstruct(d["test_noisy"])), "input": d["noisy_psnr"]}
    sec = [len(d["train"]) / r for r in model.history_["samples_per_s"]]
    res.update(model=model, seconds=sec)
    log(f"  nnlite {name}: {res['value']:.2f}  ({np.median(sec):.1f} s/epoch)")
    return res


def run_torch(name, exp, d, log=print):
    from benchmarks import reference_torch as ref

    if exp["kind"] == "vae":
        h = ref.run_vae(d["train"], d["test"], exp["epochs"], log=lambda *a: None)
        res = {"value": h["test_loss"][-1], "epoch1": h["test_loss"][0]}
    else:
        h = ref.run_dae(d["train"], d["test"], d["test_noisy"], exp["noise"], exp["level"], exp["epochs"],
                        log=lambda *a: None)
        res = {"value": h["psnr"]}
    res["seconds"] = h["seconds"]
    log(f"  torch  {name}: {res['value']:.2f}  ({np.median(h['seconds']):.1f} s/epoch)")
    return res


# ---------------------------------------------------------------------------------------- the table
def verdict(exp, value):
    ref = exp["ref"]
    if exp["kind"] == "vae":
        ok = value <= ref * (1 + VAE_TOL)
        return ok, f"{100 * (value - ref) / ref:+.2f}%"
    ok = value >= ref - DAE_TOL
    return ok, f"{value - ref:+.2f} dB"


def table(rows, with_torch):
    head = ["experiment", "PyTorch ref", "nnlite", "diff", "pass", "nnlite s/epoch"]
    if with_torch:
        head[2:2] = ["PyTorch (this run)"]
        head += ["PyTorch s/epoch", "time ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, exp, nn_res, t_res in rows:
        ok, diff = verdict(exp, nn_res["value"])
        sec = float(np.median(nn_res["seconds"]))
        cells = [f"`{name}` {exp['what']}", f"{exp['ref']:.1f}", f"**{nn_res['value']:.2f}**", diff,
                 "yes" if ok else "NO", f"{sec:.1f}"]
        if with_torch:
            cells[2:2] = [f"{t_res['value']:.2f}" if t_res else "-"]
            if t_res:
                tsec = float(np.median(t_res["seconds"]))
                cells += [f"{tsec:.1f}", f"{sec / tsec:.2f}"]
            else:
                cells += ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(rows):
    out = []
    for name, exp, r, t in rows:
        if exp["kind"] == "vae":
            s = (f"- `{name}`: nnlite test -ELBO {r['value']:.2f} = recon {r['recon']:.2f} + KL {r['kl']:.2f} "
                 f"nats/image; after epoch 1 {r['epoch1']:.2f}")
            if exp["ref_epoch1"]:
                s += f" (PyTorch reference {exp['ref_epoch1']})"
            if t:
                s += f"; PyTorch this run: epoch 1 {t['epoch1']:.2f}, final {t['value']:.2f}"
        else:
            s = (f"- `{name}`: noisy test input {r['input']:.2f} dB (reference {exp['ref_input']}) "
                 f"-> nnlite {r['value']:.2f} dB")
            if t:
                s += f", PyTorch this run {t['value']:.2f} dB"
        s += "; nnlite s/epoch: " + ", ".join(f"{x:.1f}" for x in r["seconds"])
        out.append(s)
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description="MNIST-scale quality of nnlite vs PyTorch (same model, same data)")
    p.add_argument("--only", default=",".join(EXPERIMENTS), help=f"comma-separated subset of {list(EXPERIMENTS)}")
    p.add_argument("--torch", action="store_true", help="also run the PyTorch reference in this process")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch.set_num_threads for the PyTorch run (default 1: on a shared 2-core machine "
                        "PyTorch's own choice of 2 spinning OpenMP threads ran 10-20x slower; 0 = PyTorch's choice)")
    p.add_argument("--subset", type=int, default=None, help="train on the first N images only (smoke run; "
                                                            "the table is then not comparable)")
    p.add_argument("--figures", action="store_true", help="write pictures of the trained models")
    p.add_argument("--figures-dir", default=str(FIGURES), help="where --figures writes (default %(default)s)")
    p.add_argument("--out", default=str(RESULTS / "mnist_scale.md"), help="results file (markdown)")
    args = p.parse_args(argv)
    if not os.environ.get("NNLITE_DATA"):
        print("note: NNLITE_DATA is not set; the loaders look in ~/.cache/nnlite and /usr/share/datasets",
              file=sys.stderr)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise SystemExit(f"unknown experiment(s) {unknown}; valid: {list(EXPERIMENTS)}")
    with_torch = False
    if args.torch:
        from benchmarks import reference_torch as ref
        with_torch = ref.available()
        if with_torch and args.torch_threads > 0:
            ref.torch.set_num_threads(args.torch_threads)
        if not with_torch:
            print("PyTorch is not installed: running nnlite only", file=sys.stderr)
    import nnlite
    rows = []
    t_start = time.time()
    for name in names:
        exp = EXPERIMENTS[name]
        print(f"{name}: {exp['what']}")
        d = load_protocol_data(exp, subset=args.subset)
        nn_res = run_nnlite(name, exp, d)
        t_res = run_torch(name, exp, d) if with_torch else None
        rows.append((name, exp, nn_res, t_res))
        if args.figures:
            _figures(name, exp, d, nn_res["model"], Path(args.figures_dir))
    md = table(rows, with_torch)
    env = (f"nnlite {nnlite.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
           f"{os.cpu_count()} cores (shared with other jobs), load average {os.getloadavg()[0]:.1f} at the end")
    if with_torch:
        from benchmarks import reference_torch as ref
        env += f", PyTorch {ref.version()} with {ref.torch.get_num_threads()} thread(s)"
    cmd = "NNLITE_DATA=../shared/data python -m benchmarks.mnist_scale " + " ".join(argv or sys.argv[1:])
    text = (f"# MNIST-scale quality: nnlite vs PyTorch\n\n`{cmd.strip()}` ({time.time() - t_start:.0f} s in all)\n\n"
            f"{env}\n\n"
            + ("**SMOKE RUN on a subset: not comparable with the references.**\n\n" if args.subset else "")
            + md + "\n\n" + details(rows) + "\n\n"
            "PyTorch ref: measured on this machine, seed 0, same architecture and protocol "
            "(`benchmarks/reference_torch.py`). VAE: lower is better, pass = within 1% or better; "
            "DAE: higher is better, pass = within 0.2 dB or better. MNIST: only the 10k test set is on this "
            "machine, so the MNIST VAE trains on its first 8,000 images and is tested on the last 2,000.\n")
    print()
    print(md)
    print(details(rows))
    if not args.subset or args.out != str(RESULTS / "mnist_scale.md"):
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        print(f"\nwrote {args.out}")


def _first_of_each_class(labels, n_classes=10):
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(n_classes) if np.any(labels == c)])


def _figures(name, exp, d, model, folder=FIGURES):
    """Pictures of a trained protocol model: clean / noisy / denoised rows for a DAE; test images and
    their reconstructions, and samples from the prior, for a VAE (one test image per class)."""
    from nnlite import plots
    from nnlite.metrics import psnr

    folder.mkdir(parents=True, exist_ok=True)
    idx = _first_of_each_class(d["test_labels"])
    X = d["test"]
    if exp["kind"] == "dae":
        noisy = d["test_noisy"]
        den = model.reconstruct(noisy[idx])
        cols = [f"{a:.1f} -> {b:.1f} dB" for a, b in zip(psnr(X[idx], noisy[idx], reduction="none"),
                                                         psnr(X[idx], den, reduction="none"))]
        fig = plots.image_rows([X[idx], noisy[idx], den], ["clean", "noisy", "denoised"], image_shape=(28, 28),
                               col_titles=cols, title=exp["what"], cell=1.05)
        paths = [plots.save(fig, str(folder / f"mnist_scale_{name}.png"))]
    else:
        fig = plots.image_rows([X[idx], model.reconstruct(X[idx])], ["test image", "decode(mu)"],
                               image_shape=(28, 28), title=exp["what"], cell=1.0)
        paths = [plots.save(fig, str(folder / f"mnist_scale_{name}_reconstructions.png"))]
        fig = plots.image_grid(model.sample(64, random_state=0), (28, 28), ncols=8, cell=0.9,
                               title="64 samples from the prior: decode(z), z ~ N(0, I)")
        paths.append(plots.save(fig, str(folder / f"mnist_scale_{name}_samples.png")))
    for path in paths:
        print(f"  wrote {path}")


if __name__ == "__main__":
    main()
