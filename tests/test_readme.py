"""Every code block of the README runs as written, each in a fresh process in an empty folder.

Python blocks run exactly as printed, with ``NNLITE_QUICK=1``: the blocks that train for minutes read
that variable themselves and say so in their first line. Shell blocks run their ``nnlite`` commands with
the quick substitutions of :data:`SHELL_QUICK` (fewer epochs and images; the commands are otherwise the
README's); :data:`SHELL_NOT_RUN` lists the commands left out and why. The files a user is told to bring
(``my_photo.jpg``, a folder of photos) are made in the folder first; blocks that read the real data sets
skip with the reason when ``NNLITE_DATA`` is unset.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCES = re.findall(r"^```(\w*)\n(.*?)^```", TEXT, flags=re.S | re.M)
PYTHON = [code for lang, code in FENCES if lang == "python"]
SHELL = [code for lang, code in FENCES if lang == "sh"]

#: Files a block must leave behind, keyed by a snippet found in exactly one block.
WRITES = {
    'write_image("my_photo_denoised.png"': ["my_photo_denoised.png"],
    'SaveSamples("out/gan_epoch{epoch:03d}.png")': ["out/gan_epoch001.png"],
    'ModelCheckpoint("run/ckpt.npz"': ["run/ckpt.npz", "run/vae.npz"],
    "nnlite denoise --model photo my_photo.jpg": ["denoised/my_photo_denoised.png", "clean/p0_denoised.png",
                                                   "noisy-test/my_photo_denoised.png"],
    "nnlite train unet --data ~/photos": ["runs/my-denoiser/checkpoint.npz", "denoised/my_photo_denoised.png"],
    "nnlite train vae --data fashion-mnist": ["runs/vae/checkpoint.npz", "runs/dae/checkpoint.npz",
                                              "clean/my_scan_denoised.png"],
}
#: What the shell blocks' commands become here: the same commands, shorter (README order).
SHELL_QUICK = [
    ("nnlite demo --out out", "nnlite demo --quick --out out"),
    ("--patches 20000", "--patches 64 --epochs 1 --batch-size 16"),
    ("--epochs 10", "--epochs 2 --limit 2000"),
    ("~/photos", "photos"),
    ("~/held-out", "held-out"),
]
#: Commands of the shell blocks not run here, and why.
SHELL_NOT_RUN = {
    "make demo": "builds a virtual environment; `nnlite demo` is run from the command-line block",
    "make test": "is this test suite",
    "nnlite bench": "runs the benchmarks for about 2 minutes; their harness has its own tests (test_bench_*)",
}
#: Snippets of blocks that read the real data sets from NNLITE_DATA.
NEEDS_DATA = ("load_fashion_mnist", "load_mnist", "fashion-mnist", "NNLITE_DATA")


def test_every_code_block_is_python_or_shell():
    assert len(PYTHON) >= 8 and len(SHELL) >= 3, (len(PYTHON), len(SHELL))
    others = sorted({lang or "(untagged)" for lang, _ in FENCES} - {"python", "sh"})
    assert not others, f"README code blocks tagged {others}: tag them python (run here) or sh"


def test_every_expected_file_names_one_block():
    for snippet in WRITES:
        found = [code for code in PYTHON + SHELL if snippet in code]
        assert len(found) == 1, f"{snippet!r} is in {len(found)} README blocks, expected 1"


def test_long_blocks_say_first_how_long_they_take():
    for code in PYTHON:
        if "NNLITE_QUICK" in code:
            first = code.splitlines()[0]
            assert first.startswith("#") and re.search(r"\bminutes?\b|\bseconds?\b", first), \
                f"a block with a quick setting must say how long the full run takes in its first line: {first!r}"


def test_the_readme_states_no_test_count():
    # A count of the tests goes stale with the next test.
    assert not re.search(r"\b[\d,]+ tests\b", TEXT), re.search(r"\b[\d,]+ tests\b", TEXT).group(0)


# ------------------------------------------------------------------------------ running the blocks
def _photo(path: Path, size=(96, 128), seed=0):
    """A small photo-like picture: smooth gradients, a disc and some texture."""
    from PIL import Image

    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    rgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * np.sin(6 * xx)], axis=-1)     # (H, W, 3)
    rgb[(yy - 0.5) ** 2 + (xx - 0.4) ** 2 < 0.05] = (0.9, 0.8, 0.2)
    rgb += np.random.default_rng(seed).normal(0, 0.02, rgb.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rgb.clip(0, 1) * 255).astype(np.uint8)).save(path)


def _folder(tmp_path: Path):
    """The empty folder a user pastes into, with the files the README tells them to bring."""
    _photo(tmp_path / "my_photo.jpg")
    _photo(tmp_path / "my_scan.png", (64, 64), seed=1)
    for i in range(3):
        _photo(tmp_path / "photos" / f"p{i}.png", (80, 80), seed=2 + i)
    _photo(tmp_path / "held-out" / "h.png", (64, 64), seed=9)


def _env():
    env = dict(os.environ, NNLITE_QUICK="1", MPLBACKEND="Agg")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"   # the `nnlite` command
    return env


def _skip_without_data(code):
    if any(s in code for s in NEEDS_DATA) and not os.environ.get("NNLITE_DATA"):
        pytest.skip("this README block reads the real data sets: set NNLITE_DATA (e.g. ../shared/data)")


def _check_writes(code, tmp_path):
    for snippet, files in WRITES.items():
        if snippet in code:
            missing = [f for f in files if not (tmp_path / f).is_file()]
            assert not missing, f"the block did not write {missing}"


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_block_runs_as_written(index, tmp_path):
    code = PYTHON[index]
    _skip_without_data(code)
    _folder(tmp_path)
    (tmp_path / "block.py").write_text(code, encoding="utf-8")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "block.py"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                          timeout=900)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, f"README python block {index} failed:\n{code}\n{proc.stdout[-2000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    _check_writes(code, tmp_path)
    print(f"README python block {index}: {seconds:.1f} s")


def _commands(code):
    """The block's commands, one per line (continuation lines joined), comments dropped."""
    joined = code.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.split("  #")[0].split(" # ")[0].strip()
        if line and not line.startswith("#"):
            yield line


@pytest.mark.parametrize("index", range(len(SHELL)))
def test_shell_block_runs_with_its_quick_setting(index, tmp_path):
    code = SHELL[index]
    commands = list(_commands(code))
    run = [c for c in commands if not any(c.startswith(skip) for skip in SHELL_NOT_RUN)]
    if not run:
        pytest.skip(f"README shell block {index} runs no nnlite command here: "
                    + "; ".join(f"{k} {v}" for k, v in SHELL_NOT_RUN.items() if any(c.startswith(k) for c in commands)))
    _skip_without_data(code)
    _folder(tmp_path)
    for command in run:
        assert command.startswith("nnlite "), f"README shell block {index}: {command!r} is not an nnlite command"
        for old, new in SHELL_QUICK:
            command = command.replace(old, new)
        proc = subprocess.run(shlex.split(command), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{command!r} exited with {proc.returncode}:\n{proc.stdout[-2000:]}\n" \
                                     f"{proc.stderr[-2000:]}"
    _check_writes(code, tmp_path)
