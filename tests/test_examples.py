"""The scripts of examples/ run in their quick setting (NNLITE_QUICK=1) and write the figures they promise.

Each runs as a user runs it, ``python examples/<name>.py`` in a fresh working directory, so a script
that imports another example, edits ``sys.path`` or needs the repository as its working directory
fails here. The two smallest examples take seconds and always run, and conv_vae_faces (~15 s) whenever the
shared photographs are there; the others (most train on a real dataset from ``NNLITE_DATA``) take a
minute or more each and run with ``NNLITE_SLOW_EXAMPLES=1``. The
docs build (``make docs``) runs every one of them for the gallery, and ``tests/test_docs.py`` checks
their pages.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"

FAST = {
    "font_autoencoder": ["font_ae_reconstructions.png", "font_ae_latent.png", "font_ae_latent_grid.png"],
    "course_lab": ["course_lab_autoencoder.png", "course_lab_denoiser.png", "course_lab_vae.png",
                   "course_lab_vae_walk.png"],
}
SLOW = {                   # a minute or more each, most on a real dataset from NNLITE_DATA
    "emoji_vae": ["vae_training_set.png", "vae_reconstructions.png", "vae_traversal.png", "vae_curves.png",
                  "vae_samples.png"],
    "font_denoising": ["denoise_salt_and_pepper_examples.png", "denoise_salt_and_pepper_recovery.png",
                       "denoise_gaussian_examples.png", "denoise_gaussian_recovery.png"],
    "sparse_autoencoder": ["sparse_features.png", "sparse_reconstructions.png"],
    "deep_dae_pca_tsne": ["deep_dae_digits.png", "deep_dae_latent.png", "deep_dae_pca_tsne.png"],
    "gan_fashion_mnist": ["gan_fashion_epoch001.png", "gan_fashion_losses.png", "gan_fashion_samples.png"],
    "mnist_dae": ["mnist_dae_gaussian.png", "mnist_dae_salt_and_pepper.png", "mnist_dae_curves.png"],
    "mnist_vae": ["mnist_vae_samples.png", "mnist_vae_interpolation.png", "mnist_vae_reconstructions.png",
                  "mnist_vae_curves.png", "mnist_vae_latent_views.png", "mnist_vae2d_latent.png",
                  "mnist_vae2d_manifold.png"],
    "latent_views": ["latent_views.png"],
    "conv_vae": ["conv_vae_reconstructions.png", "conv_vae_samples.png", "conv_vae_interpolations.png",
                 "conv_vae_curves.png"],
    "conv_denoise_fashion": ["conv_fashion_gaussian.png", "conv_fashion_salt_and_pepper.png"],
    "denoise_photo": ["photo_chelsea_pretrained.png", "photo_chelsea_pretrained_crop.png", "photo_chelsea_gaussian.png",
                      "photo_chelsea_gaussian_crop.png"],
    "autoencoder_family": ["family_generated.png", "family_denoising.png"],
    "conv_vae_faces": ["conv_vae_faces_real.png", "conv_vae_faces_curve.png", "conv_vae_faces_reconstruction.png",
                       "conv_vae_faces_samples.png", "conv_vae_faces_interpolation.png"],
    "vae_denoise_mnist": ["vae_denoise_mnist.png", "vae_denoise_curves.png", "vae_denoise_colour.png"],
}
ALWAYS_WITH_DATA = {"conv_vae_faces"}   # quick enough to run whenever NNLITE_DATA is there
PRINTS = {                 # what an example's output must say, beyond its figures
    "deep_dae_pca_tsne": ["5-NN accuracy in the 2-D PCA view",
                          # the write-up's network: its decoder is written on its own, not the encoder mirrored
                          "encoder 784-256-128-32-16-10, decoder 10-16-32-64-128-256-784"],
    "conv_vae_faces": ["held out whole:", "reconstruction PSNR: training images"],
    "vae_denoise_mnist": ["the flagship leads the denoising VAE by"],
    "denoise_photo": ["the shipped photo denoiser: noisy", "the shipped model gains"],
    # the hand-wired loops assert that they follow the model classes' loss curves; this is their report
    "course_lab": ["font autoencoder: loss", "denoiser: loss", "emoji VAE (negative ELBO): loss",
                   "all three match their model classes"],
}


def run_example(name: str, cwd: Path, quick: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("NNLITE_QUICK", None)
    if quick:
        env["NNLITE_QUICK"] = "1"
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def check_outputs(name, proc, cwd, files):
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "quick setting (NNLITE_QUICK=1)" in proc.stdout, f"{name} does not say it ran quick:\n{proc.stdout[:500]}"
    for f in files:
        path = cwd / "out" / f
        assert path.is_file(), f"{name} did not write out/{f}; out/ holds {sorted(os.listdir(cwd / 'out'))}"
        head = path.read_bytes()[:8]
        assert head == PNG and path.stat().st_size > 2000, f"{name}: out/{f} is not a PNG image"


ALL = sorted(p.stem for p in EXAMPLES.glob("*.py"))
TAKES_OPTIONS = {"denoise_photo", "conv_vae_faces"}   # --image your photo, --folder your images


def test_every_example_is_a_flat_script_with_a_title_and_a_quick_setting():
    names = set(ALL)
    for p in sorted(EXAMPLES.glob("*.py")):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        doc = ast.get_docstring(tree, clean=False) or ""
        lines = doc.strip().splitlines()
        assert len(lines) > 2 and set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), \
            f"{p.name}: the docstring must open with a title underlined by '=' (the gallery page's title)"
        imported = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & names, f"{p.name} imports another example: {imported & names}"
        assert "sys.path" not in p.read_text(encoding="utf-8"), f"{p.name} edits sys.path"
        assert "NNLITE_QUICK" in p.read_text(encoding="utf-8"), f"{p.name} has no quick setting"
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert "main" not in functions, f"{p.name} wraps its work in main(): the gallery's scripts read top to bottom"
        if p.stem not in TAKES_OPTIONS:
            assert "argparse" not in imported, (f"{p.name} parses options: give it commented settings at the top "
                                                "(or list it in TAKES_OPTIONS if it really takes options)")


@pytest.mark.parametrize("name", sorted(FAST))
def test_fast_example_quick(name, tmp_path):
    proc = run_example(name, tmp_path)
    check_outputs(name, proc, tmp_path, FAST[name])
    for phrase in PRINTS.get(name, []):
        assert phrase in proc.stdout, f"{name} does not print {phrase!r}:\n{proc.stdout[-3000:]}"


@pytest.mark.parametrize("name", [n for n in ALL if n not in FAST])
def test_slow_example_quick(name, tmp_path):
    if name not in ALWAYS_WITH_DATA and os.environ.get("NNLITE_SLOW_EXAMPLES") != "1":
        pytest.skip("takes a minute or more: set NNLITE_SLOW_EXAMPLES=1 (the docs build runs it for the gallery)")
    data = os.environ.get("NNLITE_DATA")
    if name != "font_denoising" and (not data or not Path(data).is_dir()):
        pytest.skip(f"needs the real datasets: NNLITE_DATA={data!r} is not a folder")
    proc = run_example(name, tmp_path)
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png")) if (tmp_path / "out").is_dir() else []
    check_outputs(name, proc, tmp_path, SLOW.get(name) or written[:1] or ["(any PNG)"])
    for phrase in PRINTS.get(name, []):
        assert phrase in proc.stdout, f"{name} does not print {phrase!r}:\n{proc.stdout[-3000:]}"
