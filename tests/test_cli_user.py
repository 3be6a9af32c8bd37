"""The command line as a user meets it: what training writes and prints, Ctrl-C and resume, argument
checks, batch commands that skip bad files, and gradcheck covering every public layer and loss.

Trainings are a few epochs of tiny models on the built-in bitmaps, run in-process where that is enough.
"""
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nnlite.checkpoint import read_checkpoint
from nnlite.cli import main, progress

AE = ["train", "ae", "--data", "font5x7", "--hidden", "8", "--latent-dim", "2", "--batch-size", "8"]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _usage_error(capsys, *argv):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2, argv
    return capsys.readouterr().err


def _weights(path):
    return read_checkpoint(path).model_state


# ---------------------------------------------------------------------------------------- history, progress
def test_history_and_checkpoint_are_written_on_a_budget_not_every_epoch(tmp_path, capsys, monkeypatch):
    """100 one-step epochs: rewriting the growing history after each is quadratic I/O."""
    from nnlite.callbacks import HistoryLogger

    writes = []
    original = HistoryLogger.write
    monkeypatch.setattr(HistoryLogger, "write", lambda self, h: (writes.append(len(h["loss"])), original(self, h)))
    code, out, err = _run(capsys, "train", "ae", "--data", "font5x7", "--hidden", 8, "--latent-dim", 2,
                          "--epochs", 100, "--out", tmp_path / "r")
    assert code == 0, err
    assert len(writes) <= 20, f"history written {len(writes)} times in 100 epochs"
    assert writes[-1] == 100                           # and once at the end, complete
    hist = json.loads((tmp_path / "r" / "history.json").read_text())
    assert len(hist["loss"]) == 100 == read_checkpoint(tmp_path / "r" / "checkpoint.npz").epoch
    assert "plan: 100 epochs x 1 steps of 32 images = 100 steps" in out


def test_checkpoint_every_epochs_writes_history_with_each_checkpoint(tmp_path, capsys, monkeypatch):
    seen = []
    original = progress.RunMonitor.save

    def save(self, trainer):
        ok = original(self, trainer)
        hist = json.loads((tmp_path / "r" / "history.json").read_text())
        seen.append((read_checkpoint(tmp_path / "r" / "checkpoint.npz").epoch, len(hist["loss"])))
        return ok

    monkeypatch.setattr(progress.RunMonitor, "save", save)
    code, _, err = _run(capsys, *AE, "--epochs", 6, "--checkpoint-every", 2, "--out", tmp_path / "r")
    assert code == 0, err
    assert seen == [(2, 2), (4, 4), (6, 6)]   # the history never runs ahead of (or behind) the checkpoint


def test_no_progress_lines_when_output_is_not_a_terminal(tmp_path):
    env = dict(os.environ)
    env.pop("NNLITE_DATA", None)
    proc = subprocess.run([sys.executable, "-m", "nnlite", *AE, "--epochs", "5", "--out", "r"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "samples/s" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
    assert "epoch 1/5" not in proc.stdout + proc.stderr
    assert "plan: 5 epochs x 4 steps" in proc.stdout


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_shows_elapsed_eta_loss_and_speed(tmp_path, monkeypatch):
    stream = _Terminal()
    real = progress.RunMonitor

    def monitor(*args, **kwargs):
        return real(*args, stream=stream, **kwargs)

    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0.0)
    monkeypatch.setattr(progress, "RunMonitor", monitor)
    assert main([*AE, "--epochs", "3", "--out", str(tmp_path / "r")]) == 0
    text = stream.getvalue()
    last = text.split("\r")[-1]
    assert "\r" in text                                          # redrawn in place
    assert "epoch 3/3" in last and "12/12 steps" in last and "100%" in last, last
    assert "samples/s" in last and "loss " in last, last
    assert "<" in last                                           # [elapsed<remaining]


def test_estimate_of_a_long_run_is_printed(capsys):
    """Once the speed is known, a run that will take minutes says so (with the way to stop it)."""
    class Trainer:
        batch_size, epochs, epoch, global_step, _resume_position = 10, 1000, 0, 0, None

    said = []
    m = progress.RunMonitor("ck.npz", "h", None, n_samples=100, show_bar=False, say=said.append)
    tr = Trainer()
    m.on_epoch_begin(tr, 1)
    m.t_start -= 1.0
    tr.global_step = 1
    m._draw(tr, m.t_start + 1.0)                                   # the first (compiling) step took 1 s
    tr.global_step = 11
    m._draw(tr, m.t_start + 1.0 + progress.ESTIMATE_AFTER_SECONDS)  # then 10 steps in 2 s: 0.2 s per step
    assert said[0] == "plan: 1000 epochs x 10 steps of 10 images = 10,000 steps"
    assert said[1].startswith("estimate: about 33 min in all at 50 samples/s"), said
    assert "Ctrl-C" in said[1]


# ---------------------------------------------------------------------------------------- Ctrl-C, resume
def _interrupt_at(monkeypatch, step):
    original = progress.RunMonitor.on_batch_end

    def on_batch_end(self, trainer, global_step, logs):
        if global_step == step:
            signal.raise_signal(signal.SIGINT)   # what Ctrl-C sends, handled by the CLI's handler
        return original(self, trainer, global_step, logs)

    monkeypatch.setattr(progress.RunMonitor, "on_batch_end", on_batch_end)


def test_ctrl_c_writes_a_checkpoint_and_resume_is_bit_identical(tmp_path, capsys, monkeypatch):
    code, _, err = _run(capsys, *AE, "--epochs", 4, "--out", tmp_path / "full")
    assert code == 0, err
    with monkeypatch.context() as m:
        _interrupt_at(m, 6)                              # in the middle of epoch 2 (4 steps per epoch)
        code, out, err = _run(capsys, *AE, "--epochs", 4, "--out", tmp_path / "cut")
    assert code == 130, err
    ck = read_checkpoint(tmp_path / "cut" / "checkpoint.npz")
    assert ck.global_step == 6 and ck.epoch == 1 and ck.mid_epoch
    assert f"interrupted in epoch 2 (step 6); checkpoint written: {tmp_path / 'cut' / 'checkpoint.npz'}" in out
    resume = [line for line in out.splitlines() if line.startswith("resume with: nnlite ")]
    assert resume, out
    argv = resume[0].split("nnlite ", 1)[1].split()
    assert argv[-1] == "--resume" and argv[:len(AE)] == AE
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    lines = out.splitlines()
    started = [i for i, line in enumerate(lines) if line.startswith("resumed in epoch 2 (step 6)")]
    finished = [i for i, line in enumerate(lines) if line.startswith("final loss")]
    assert started and finished and started[0] < finished[0], out   # said when resuming starts
    full, cut = _weights(tmp_path / "full" / "checkpoint.npz"), _weights(tmp_path / "cut" / "checkpoint.npz")
    assert full.keys() == cut.keys()
    for k in full:
        assert np.array_equal(full[k], cut[k]), k


def test_real_sigint_to_a_subprocess_leaves_a_resumable_checkpoint(tmp_path):
    env = dict(os.environ)
    env.pop("NNLITE_DATA", None)
    proc = subprocess.Popen([sys.executable, "-m", "nnlite", *AE, "--epochs", "100000", "--out", "r"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if line.startswith("plan:"):
                break
        import time

        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "resume with: nnlite train ae" in out and "--resume" in out
    ck = read_checkpoint(tmp_path / "r" / "checkpoint.npz")
    assert ck.global_step > 0


def test_overwrite_starts_afresh_and_excludes_resume(tmp_path, capsys):
    code, _, err = _run(capsys, *AE, "--epochs", 3, "--out", tmp_path / "r")
    assert code == 0, err
    code, _, err = _run(capsys, *AE, "--epochs", 2, "--out", tmp_path / "r")
    assert code == 1 and "--overwrite to start afresh" in err
    code, out, err = _run(capsys, *AE, "--epochs", 2, "--out", tmp_path / "r", "--overwrite")
    assert code == 0, err
    assert "resumed" not in out
    ck = read_checkpoint(tmp_path / "r" / "checkpoint.npz")
    assert ck.epoch == 2 and len(ck.history["loss"]) == 2
    assert "not allowed with argument" in _usage_error(capsys, *AE, "--out", tmp_path / "r", "--resume",
                                                       "--overwrite")


# ---------------------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("argv, name", [
    (["train", "ae", "--data", "font5x7", "--size", "0"], "--size"),
    (["train", "ae", "--data", "font5x7", "--epochs", "-3"], "--epochs"),
    (["train", "ae", "--data", "font5x7", "--limit", "0"], "--limit"),
    (["train", "ae", "--data", "font5x7", "--batch-size", "0"], "--batch-size"),
    (["train", "ae", "--data", "font5x7", "--lr", "0"], "--lr"),
    (["train", "dae", "--data", "font5x7", "--noise-level", "-0.1"], "--noise-level"),
    (["train", "ae", "--data", "font5x7", "--checkpoint-every", "0"], "--checkpoint-every"),
    (["denoise", "ck.npz", "a.png", "--stride", "0"], "--stride"),
    (["denoise", "ck.npz", "a.png", "--stride", "-2"], "--stride"),
    (["sample", "ck.npz", "-n", "0"], "-n"),
    (["interpolate", "ck.npz", "0", "1", "--steps", "1"], "--steps"),
    (["latent", "ck.npz", "--limit", "0"], "--limit"),
    (["gradcheck", "--tol", "0"], "--tol"),
])
def test_zero_and_negative_counts_are_usage_errors_naming_the_argument(capsys, argv, name):
    err = _usage_error(capsys, *argv)
    assert f"argument {name}:" in err, err


def test_unknown_model_is_a_usage_error(capsys):
    err = _usage_error(capsys, "train", "nonsense", "--data", "font5x7")
    assert "invalid choice: 'nonsense'" in err and "vae" in err


def test_version(capsys):
    import nnlite

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"nnlite {nnlite.__version__}"


# ---------------------------------------------------------------------------------------- batch commands
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    assert main(["train", "dae", "--data", "font5x7", "--noise", "bit_flip", "--epochs", "1", "--hidden", "8",
                 "--out", str(root / "dae")]) == 0
    assert main(["train", "vae", "--data", "emoji12", "--epochs", "1", "--hidden", "8", "--latent-dim", "2",
                 "--out", str(root / "vae")]) == 0
    return root


def test_denoise_skips_an_unreadable_file_goes_on_and_fails_at_the_end(trained, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("a.png", "c.png"):
        Image.fromarray(rng.integers(0, 256, (9, 8), dtype=np.uint8)).save(tmp_path / name)
    (tmp_path / "bad.png").write_text("not an image")
    code, out, err = _run(capsys, "denoise", trained / "dae" / "checkpoint.npz", tmp_path / "a.png",
                          tmp_path / "bad.png", tmp_path / "missing.png", tmp_path / "c.png", "--out", tmp_path / "o")
    assert code == 1
    assert (tmp_path / "o" / "a_denoised.png").exists() and (tmp_path / "o" / "c_denoised.png").exists()
    warnings = [line for line in err.splitlines() if line.startswith("nnlite: warning:") and line.endswith("skipped")]
    assert len(warnings) == 2 and "bad.png" in warnings[1] and "missing.png" in warnings[0], err
    assert "2 of 4 inputs failed and were skipped (2 denoised)" in err.splitlines()[-1]


def test_sample_keeps_the_runs_figure_and_refuses_to_overwrite(trained, capsys):
    vae = trained / "vae"
    before = (vae / "samples.png").read_bytes()
    code, out, err = _run(capsys, "sample", vae / "checkpoint.npz", "-n", 4)
    assert code == 0, err
    assert (vae / "samples.png").read_bytes() == before
    assert np.load(vae / "samples_n4_seed0.npy").shape == (4, 12, 12)
    code, _, err = _run(capsys, "sample", vae / "checkpoint.npz", "-n", 4)
    assert code == 1 and "samples_n4_seed0.png exists: pass --overwrite" in err
    code, _, err = _run(capsys, "sample", vae / "checkpoint.npz", "-n", 4, "--overwrite")
    assert code == 0, err


def test_sample_caps_the_grid_and_says_so(trained, tmp_path, capsys, monkeypatch):
    import nnlite.cli.inference as inference

    monkeypatch.setattr(inference, "MAX_FIGURE_SAMPLES", 9)
    code, out, err = _run(capsys, "sample", trained / "vae" / "checkpoint.npz", "-n", 30, "--out", tmp_path)
    assert code == 0, err
    assert "the figure shows the first 9 of 30 samples" in out
    assert np.load(tmp_path / "samples_n30_seed0.npy").shape == (30, 12, 12)
    w, h = Image.open(tmp_path / "samples_n30_seed0.png").size
    assert w < 800 and h < 800          # a 3 x 3 grid, not 30 images


def test_bench_quick_writes_outside_the_committed_results(tmp_path, capsys):
    from pathlib import Path

    from nnlite.cli import build_parser
    from nnlite.cli.tools import bench_command

    root = Path(__file__).resolve().parents[1]
    args = build_parser().parse_args(["bench", "--quick"])
    cmd = bench_command(args, root)
    outs = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--out", "--kernels-out")]
    assert len(outs) == 2 and "--quick" in cmd and cmd[cmd.index("--what") + 1] == "steps,kernels"
    for o in outs:
        assert not Path(o).resolve().is_relative_to(root / "benchmarks" / "results"), o
    Path(outs[0]).parent.rmdir()                 # the new, empty scratch folder
    args = build_parser().parse_args(["bench", "--quick", "--out", str(tmp_path / "b")])
    assert str(tmp_path / "b" / "steps.md") in bench_command(args, root)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    assert "about 2 minutes" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------- gradcheck
def test_gradcheck_covers_every_public_layer_and_loss():
    from nnlite.cli.gradcheck import gradcheck_cases, public_layers_and_losses

    public = public_layers_and_losses()
    for must in ("Dense", "BatchNorm1d", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "Upsample", "Residual", "Concat",
                 "Linear", "Conv2d", "MSELoss", "CrossEntropyLoss"):
        assert must in public
    covered = {c for _, c, _ in gradcheck_cases()}
    assert set(public) <= covered, sorted(set(public) - covered)


def test_gradcheck_of_everything_passes(capsys):
    code, out, err = _run(capsys, "gradcheck")
    assert code == 0, out + err
    assert "FAILED" not in out and "ERROR" not in out
    for name in ("Dense(5, 4, relu)", "BatchNorm2d(3)", "MaxPool2d(2)", "Upsample(", "Residual(", "Concat("):
        assert name in out, name


def test_gradcheck_into_a_closed_pipe_ends_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "nnlite", "gradcheck", "-v"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()                          # what `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert "Broken pipe" not in err and "Traceback" not in err, err
    assert proc.returncode == 141


def test_work_progress_draws_on_a_terminal_and_stays_silent_elsewhere():
    stream = _Terminal()
    shown = progress.WorkProgress("big.png", "Mpx", scale=1e-6, stream=stream)
    shown(2_000_000, 9_000_000)
    shown(6_000_000, 9_000_000)
    assert shown.bar.total == 9.0 and shown.bar.n == 6.0
    shown(9_000_000, 9_000_000)
    assert shown.bar is None                      # closed when done
    assert "big.png" in stream.getvalue() and "/9.0 Mpx" in stream.getvalue()
    quiet = io.StringIO()
    progress.WorkProgress("big.png", "Mpx", stream=quiet)(1, 2)
    assert quiet.getvalue() == ""


def test_threads_option_takes_the_policies_of_nnlite_threads(capsys):
    code, _, err = _run(capsys, "train", "ae", "--data", "font5x7", "--threads", "bogus")
    assert code == 1 and "--threads must be 'auto', 'fixed', 'max' or an int >= 1, got 'bogus'" in err


# ---------------------------------------------------------------------------------------- data registry, plots
def test_load_dataset_by_name():
    from nnlite.data import DATASETS, DatasetError, load_dataset

    font = load_dataset("font5x7")
    assert font.images.shape == (32, 7, 5) and font.images.dtype == np.float32 and font.ink
    assert font.class_names[font.labels[1]] == "a" and len(font) == 32
    emoji = load_dataset("EMOJI12", limit=5)
    assert emoji.images.shape == (5, 12, 12) and len(emoji.labels) == 5 and emoji.name == "emoji12"
    with pytest.raises(DatasetError, match="unknown data set 'nope'; use one of " + ", ".join(DATASETS)):
        load_dataset("nope")
    with pytest.raises(ValueError, match="limit must be an int >= 1 or None, got 0"):
        load_dataset("font5x7", limit=0)
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_dataset("font5x7", split="val")


def test_load_dataset_of_a_folder_resizes_and_converts_to_grey(tmp_path):
    from nnlite.data import load_dataset

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    colour = load_dataset(tmp_path, size=8)
    grey = load_dataset(tmp_path, size=8, grey=True)
    assert colour.images.shape == (3, 8, 8, 3) and grey.images.shape == (3, 8, 8)
    assert colour.labels is None and not colour.ink
    assert grey.images.max() <= 1 and grey.images.min() >= 0


def test_photo_rows_keep_colour_and_image_strip_titles_each_panel():
    from nnlite import plots

    rgb = np.zeros((5, 6, 6, 3))
    rgb[..., 0] = 1.0                                                # pure red
    fig = plots.photo_rows([rgb, rgb], ["a", "b"], title="t", max_cols=3)
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape[-1] == 3 and shown[..., 0].max() == 1 and shown[..., 1].min() == 0
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    fig = plots.image_strip([np.zeros((4, 4))] * 3, ["clean", "noisy", "denoised"], ink=True)
    assert [ax.get_title() for ax in fig.axes] == ["clean", "noisy", "denoised"]
    with pytest.raises(ValueError, match="3 images but 2 titles"):
        plots.image_strip([np.zeros((4, 4))] * 3, ["a", "b"])


def test_training_curves_and_class_scatter():
    from nnlite import plots

    fig = plots.training_curves({"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5], "samples_per_s": [1, 2, 3]})
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2    # throughput is not a loss
    fig = plots.training_curves({"recon": list(np.geomspace(1000, 1, 5)), "kl": [1, 2, 3, 4, 5]})
    assert [ax.get_title() for ax in fig.axes] == ["reconstruction (BCE)", "KL divergence"]
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_yscale() == "linear"
    Z = np.random.default_rng(0).normal(size=(30, 2))
    fig = plots.class_scatter(Z, np.arange(30) % 3, ["x", "y", "z"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="2-D codes"):
        plots.class_scatter(np.zeros((4, 3)))
