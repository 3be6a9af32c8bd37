"""``nnlite train``: fit a model on a data set into a run folder, resumable bit for bit."""
from __future__ import annotations

import inspect
import re
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._common import (
    UserError,
    available_models,
    encode_mean,
    figure_rows,
    formatter,
    load_data,
    model_class,
    noise_level,
    out_dir,
    positive_float,
    positive_int,
    save_figure,
    say,
    to_images,
    to_model_input,
)

_TRAIN_EXAMPLES = """examples:
  nnlite train autoencoder --data font5x7 --latent-dim 2 --out runs/font-ae
  nnlite train dae --data fashion-mnist --noise gaussian --noise-level 0.5 --epochs 5 --hidden 512,128 --latent-dim 32
  nnlite train vae --data mnist --split test --latent-dim 20 --hidden 400 --epochs 20 --batch-size 128
  nnlite train vae --data ~/pictures/faces --size 32 --grey --epochs 30
  nnlite train dae --data fashion-mnist --epochs 20 --out runs/f --resume   # continue a stopped run
  nnlite train unet --data ~/photos --patch 48 --patches 20000 --noise gaussian --noise-level 0:0.25 \\
      --val ~/held-out --width 32 --depth 3          # a blind photo denoiser, PSNR on held-out photos

The run folder gets checkpoint.npz (weights, optimizer, RNG states, history; resumable) with a readable
checkpoint.json beside it, history.json, history.csv and PNG figures. The checkpoint and the history are
written together every 2 seconds of training (--checkpoint-every/--checkpoint-steps for fixed periods) and
at the end. Ctrl-C writes a checkpoint at the step just finished and prints the command that resumes it.
What a resumed run guarantees depends on --threads: with --threads fixed (or --threads 1) a stopped run
resumed with --resume ends with bit-identical weights to an uninterrupted one, on any machine load; with
the default 'auto' the number of threads follows the load, sums are added in another order, and the
weights agree only to rounding (as two uninterrupted runs under 'auto' do). The progress bar (elapsed
time, ETA, loss, samples/s) is drawn only on a terminal.
"""

#: The files a run folder gets from this command (``--overwrite`` removes them first).
RUN_FILES = ("checkpoint.npz", "checkpoint.json", "history.json", "history.csv", "history.png", "denoising.png",
             "reconstructions.png", "samples.png", "latent.png")

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: Default ``--max-megapixels``: all the photos of a --patch folder, read whole, together.
MAX_TOTAL_MEGAPIXELS = 40.0
#: Seconds between the lines that show a long held-out validation's progress.
VAL_PROGRESS_SECONDS = 10.0

#: Images drawn in the figures of a run.
FIGURE_IMAGES, FIGURE_SAMPLES, LATENT_POINTS = 16, 64, 5000


def add_train(sub):
    p = sub.add_parser("train", help="train a model on a data set; writes checkpoint, history and figures",
                       description="Train an autoencoder, denoising autoencoder, VAE (or a conv/GAN model when "
                                   "available) and write a resumable checkpoint, the history and figures.",
                       epilog=_TRAIN_EXAMPLES, formatter_class=formatter())
    models = list(available_models())
    p.add_argument("model", choices=models, metavar="MODEL", help=f"one of: {', '.join(models)}")
    from ..data import DATASETS

    p.add_argument("--data", required=True, metavar="DATASET",
                   help=f"{', '.join(DATASETS)}, or a folder of PNG/JPEG images")
    p.add_argument("--split", default="train", choices=("train", "test"),
                   help="which split of mnist/fashion-mnist/cifar10 (default train; only MNIST's test set may be "
                        "on your machine)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="use only the first N images")
    p.add_argument("--size", type=positive_int, default=None, metavar="PX",
                   help="image folders: resize/crop to PX x PX (default 32)")
    p.add_argument("--grey", action="store_true", help="convert colour images to grey")
    p.add_argument("--patch", type=positive_int, default=None, metavar="PX",
                   help="image folders: read the photos whole (any sizes) and train on random PX x PX patches, "
                        "each flipped/rotated at random (photos picked in proportion to their area)")
    p.add_argument("--patches", type=positive_int, default=20000, metavar="N",
                   help="with --patch: number of patches (default 20000), drawn once from --seed")
    p.add_argument("--val", default=None, metavar="FOLDER",
                   help="denoisers: held-out photos; after every epoch the PSNR of the denoised centre crops at "
                        "Gaussian sigma 0.1 and 0.2 is printed and kept in the history (val_psnr_0.1, ...)")
    p.add_argument("--val-crop", type=positive_int, default=256, metavar="PX",
                   help="with --val: side of the centre crop of each held-out photo (default 256)")
    p.add_argument("--max-megapixels", type=positive_float, default=MAX_TOTAL_MEGAPIXELS, metavar="MP",
                   help=f"with --patch: refuse a folder whose photos hold more than MP million pixels together "
                        f"(read from their headers, before decoding; default {MAX_TOTAL_MEGAPIXELS:g}, about "
                        f"{MAX_TOTAL_MEGAPIXELS * 12:.0f} MB as float32 RGB)")
    p.add_argument("--noise", default=None,
                   help="denoising models (dae, vae, conv models): salt_and_pepper, bit_flip, gaussian or masking "
                        "(dae's default salt_and_pepper)")
    p.add_argument("--noise-level", type=noise_level, default=None, metavar="P",
                   help="probability p in [0, 1] of --noise, or sigma for gaussian (default 0.1); a range LOW:HIGH "
                        "such as 0:0.25 gives every training image its own level, drawn uniformly (blind "
                        "denoising)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs in total (default: the model's own choice)")
    p.add_argument("--latent-dim", type=positive_int, default=None, metavar="M",
                   help="size of the code (model default)")
    p.add_argument("--hidden", default=None, metavar="W1,W2", help="hidden layer widths, e.g. 512,128")
    p.add_argument("--width", type=positive_int, default=None,
                   help="unet/dncnn: channels of the first level (U-Net) or of every layer (DnCNN)")
    p.add_argument("--depth", type=positive_int, default=None,
                   help="unet/dncnn: levels of the U-Net or conv layers of the DnCNN")
    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="images per optimizer step (model default; at most the number of images)")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (model default)")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default 0)")
    p.add_argument("--out", default=None, metavar="DIR", help="run folder (default runs/MODEL-DATASET)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue from DIR/checkpoint.npz if it exists (same arguments as the first run)")
    again.add_argument("--overwrite", action="store_true",
                       help="start afresh in an existing run folder (its checkpoint, history and figures are "
                            "removed first)")
    p.add_argument("--checkpoint-every", type=positive_int, default=None, metavar="EPOCHS",
                   help="checkpoint (and history) every EPOCHS epochs (default: every 2 s of training)")
    p.add_argument("--checkpoint-steps", type=positive_int, default=None, metavar="STEPS",
                   help="also checkpoint every STEPS optimizer steps, inside epochs (long epochs); resume replays "
                        "the rest of the epoch exactly")
    p.add_argument("--threads", default=None, metavar="N",
                   help="BLAS threads per matrix product (nnlite.ops.threads): 'auto' (chosen from the shapes, fewer "
                        "while other programs take cores: results agree only to rounding between runs), 'fixed' "
                        "(from the shapes alone: bit-reproducible whatever else runs, and a resumed run ends "
                        "bit-identical), 'max' or an int (default: $NNLITE_THREADS, else auto)")
    p.set_defaults(func=cmd_train, parser=p)
    # '--noise-level -0.1:0.2' is a value (refused by its type with the reason), not an unknown option
    p._negative_number_matcher = re.compile(r"^-\d+$|^-\d*\.\d+$|^-[\d.]*:[-\d.]*$")


def model_kwargs(args, cls):
    """The model's constructor arguments from the command line; refuses those it does not take."""
    accepted = inspect.signature(cls.__init__).parameters
    kw = {"random_state": args.seed}
    if args.latent_dim is not None:
        kw["latent_dim"] = args.latent_dim
    if args.hidden is not None:
        try:
            hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
        except ValueError:
            raise UserError(f"--hidden must be comma-separated ints such as 512,128, got {args.hidden!r}") from None
        if "hidden" in accepted and isinstance(accepted["hidden"].default, int):
            if len(hidden) != 1:
                raise UserError(f"{cls.__name__} has one hidden layer: give one width, e.g. --hidden 256")
            kw["hidden"] = hidden[0]
        elif "hidden" in accepted:
            kw["hidden"] = hidden
        else:  # GAN: both players
            kw["generator_hidden"], kw["discriminator_hidden"] = hidden[::-1], hidden
    for name in ("batch_size", "lr", "epochs"):
        if getattr(args, name) is not None:
            kw[name] = getattr(args, name)
    for name in ("width", "depth"):
        if getattr(args, name, None) is not None:
            if name not in accepted:
                raise UserError(f"--{name} applies to the conv denoisers (unet, dncnn), not {args.model!r}")
            kw[name] = getattr(args, name)
    if args.noise is not None or args.noise_level is not None:
        if "noise" not in accepted:
            raise UserError(f"--noise/--noise-level apply to models that take a noise (dae, vae, ...), "
                            f"not {args.model!r}")
        if args.noise is not None:
            kw["noise"] = args.noise
        if args.noise_level is not None:
            kw["noise_level"] = args.noise_level
    unknown = [k for k in kw if k not in accepted]
    if unknown:
        raise UserError(f"{cls.__name__} does not take {', '.join('--' + k.replace('_', '-') for k in unknown)}")
    return kw


def resume_command(args) -> str:
    """The command line that continues this run: the same arguments with ``--resume``."""
    argv = [a for a in getattr(args, "argv", sys.argv[1:]) if a != "--overwrite"]
    if "--resume" not in argv:
        argv.append("--resume")
    if args.out is None:
        argv += ["--out", str(args.run_dir)]
    return "nnlite " + shlex.join(argv)


def _prepare_run_folder(out: Path, args) -> Path:
    ckpt = out / "checkpoint.npz"
    if ckpt.exists() and not (args.resume or args.overwrite):
        raise UserError(f"{ckpt} exists: pass --resume to continue that run, --overwrite to start afresh, or "
                        "choose another --out")
    if args.overwrite:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    if args.resume and not ckpt.exists():
        say(f"note: {ckpt} does not exist yet; starting a fresh run")
    return ckpt


def cmd_train(args):
    from .. import TrainingDivergedError
    from ..checkpoint import CheckpointError, read_checkpoint
    from ..models.persistence import fit_resumable
    from .progress import Interrupted, RunMonitor, catch_sigint, run_position

    cls, kind, preset = model_class(args.model)
    if args.threads is not None:
        from .. import ops

        try:
            ops.threads.set_policy(int(args.threads) if args.threads.isdigit() else args.threads)
        except ValueError:
            raise UserError(f"--threads must be 'auto', 'fixed', 'max' or an int >= 1, "
                            f"got {args.threads!r}") from None
    model = cls(**preset, **model_kwargs(args, cls))
    if hasattr(model, "_validate_params"):  # hyper-parameter errors before loading the data: usage errors (2)
        try:
            model._validate_params()
        except (ValueError, TypeError) as exc:
            args.parser.error(" ".join(str(exc).split()))
    default_out = Path("runs") / f"{args.model}-{Path(args.data).name or 'data'}"
    _check_resume_data(args, Path(args.out) if args.out else default_out)
    callbacks = _validation_callbacks(args, model)
    ds = _patch_data(args) if args.patch is not None else load_data(args.data, args.split, args.limit, args.size,
                                                                     args.grey)
    X = ds.images
    image_shape = (X.shape[1], X.shape[2], X.shape[3] if X.ndim == 4 else 1)
    out = out_dir(args, default_out)
    args.run_dir = out
    ckpt = _prepare_run_folder(out, args)
    extra = {"data": args.data, "split": args.split, "limit": args.limit, "size": args.size, "grey": args.grey,
             "image_shape": list(image_shape), "kind": kind, "model": args.model}
    if args.patch is not None:
        extra.update(patch=args.patch, patches=args.patches)
    if args.val is not None:
        extra.update(val=args.val, val_crop=args.val_crop)
    say(f"training {cls.__name__} on {args.data}: {len(X)} images of {image_shape[0]}x{image_shape[1]}"
        f"{'x3' if image_shape[2] == 3 else ''}, seed {args.seed} -> {out}")
    copies = model._copies(len(X)) if hasattr(model, "_copies") else 1   # a DAE's corrupted copies per epoch
    monitor = RunMonitor(ckpt, out / "history", model, len(X), copies=copies, extra=extra,
                         every_epochs=args.checkpoint_every,
                         every_steps=args.checkpoint_steps, say=say)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(), catch_sigint(monitor):
            # overflow on the way to a NaN: the trainer's NaN guard reports it
            warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*(overflow|invalid value)")
            model, resumed = fit_resumable(model, to_model_input(X, kind), ckpt, resume=args.resume,
                                           epochs=args.epochs, every_epochs=None, extra=extra,
                                           callbacks=[*callbacks, monitor], verbose=0)
    except Interrupted as stop:
        say(f"interrupted {run_position(stop.epoch, stop.step, stop.mid_epoch)}; checkpoint written: {stop.path}")
        say(f"resume with: {resume_command(args)}")
        return EXIT_INTERRUPTED
    except TrainingDivergedError as exc:
        kept = ""
        if ckpt.exists():
            try:
                kept = f"; the last good checkpoint is kept: {ckpt} (epoch {read_checkpoint(ckpt).epoch})"
            except CheckpointError:
                pass
        raise UserError(f"{exc}{kept}") from None
    finally:
        monitor.close()
    seconds = time.perf_counter() - t0
    if resumed is not None and monitor.resumed_from is None:
        say(f"resumed after epoch {resumed} of {ckpt}: the checkpoint already holds the whole run")
    history = getattr(model, "history_", {})
    monitor.history.write(history)
    written = [ckpt, out / "history.json", out / "history.csv"]
    written += train_figures(model, cls, kind, ds, image_shape, out, args)
    if history:
        first = "loss" if "loss" in history else next(iter(history))
        say(f"final {first} {history[first][-1]:.5g} after {len(history[first])} epochs "
            f"(trained in {seconds:.1f} s)")
    for p in written:
        say(f"wrote {p}")
    if ds.skipped:
        names = ", ".join(n for n, _ in ds.skipped[:5]) + (", ..." if len(ds.skipped) > 5 else "")
        say(f"{len(ds.skipped)} image file(s) could not be read and were left out: {names}")
        return 1
    return 0


#: The run's data arguments a resume must repeat: name in the checkpoint's extra -> option.
RESUME_DATA_ARGS = {"data": "--data", "split": "--split", "limit": "--limit", "size": "--size", "grey": "--grey",
                    "patch": "--patch", "patches": "--patches", "val": "--val", "val_crop": "--val-crop"}


def _same_place(a, b) -> bool:
    """Two --data / --val values name the same thing: equal, or the same folder however written."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        pa, pb = Path(a).expanduser(), Path(b).expanduser()
        return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()
    return False


def _check_resume_data(args, out: Path):
    """``--resume``: refuse data arguments that differ from the checkpoint's (another folder, patch size,
    patch count or held-out set would mix two incompatible histories), before any data is read."""
    from ..checkpoint import CheckpointError, read_checkpoint

    ckpt = out / "checkpoint.npz"
    if not (args.resume and ckpt.exists()):
        return
    try:
        before = read_checkpoint(ckpt).extra
    except CheckpointError:
        return  # fit_resumable reports a damaged checkpoint
    now = {"data": args.data, "split": args.split, "limit": args.limit, "size": args.size, "grey": args.grey,
           "patch": args.patch, "patches": args.patches if args.patch is not None else None, "val": args.val,
           "val_crop": args.val_crop if args.val is not None else None}
    differ = [f"{RESUME_DATA_ARGS[k]}: checkpoint {before.get(k)!r}, this run {v!r}" for k, v in now.items()
              if not _same_place(before.get(k), v) and not (k == "grey" and not before.get(k) and not v)]
    if differ:
        raise UserError(f"cannot resume {ckpt}: the data differ ({'; '.join(differ)}); give the first run's "
                        "arguments, or --overwrite to start afresh")


def _patch_data(args):
    """``--patch``: a Dataset of ``--patches`` random patches of the folder's photos, read whole."""
    from ..data import Dataset, DatasetError
    from ..data.patches import MAX_PATCH_BYTES, patch_bytes, read_photos, sample_patches

    if not Path(args.data).expanduser().is_dir():
        raise UserError(f"--patch samples patches from a folder of photos; {args.data!r} is not a folder")
    if args.size is not None:
        raise UserError("--patch reads the photos whole: leave out --size")
    need = patch_bytes(args.patches, args.patch, 1 if args.grey else 3)
    if need > MAX_PATCH_BYTES:
        raise UserError(f"--patches {args.patches} --patch {args.patch}: the patches would take {need:,} bytes "
                        f"({need / 2**30:.1f} GiB) as float32, more than the {MAX_PATCH_BYTES:,} bytes "
                        f"({MAX_PATCH_BYTES / 2**30:.0f} GiB) allowed; ask for fewer or smaller patches")
    skipped = []
    try:
        images, names = read_photos(args.data, mode="L" if args.grey else "RGB", skipped=skipped,
                                    max_total_pixels=int(args.max_megapixels * 1e6))
    except DatasetError as exc:
        raise UserError(f"{exc}" + (" (--max-megapixels)" if "max_total_pixels" in str(exc) else "")) from None
    if args.limit is not None:
        images, names = images[:args.limit], names[:args.limit]
    small = [f"{n} ({im.shape[0]}x{im.shape[1]})" for n, im in zip(names, images) if min(im.shape[:2]) < args.patch]
    if small:
        raise UserError(f"--patch {args.patch}: {len(small)} photo(s) are smaller than a patch: "
                        f"{', '.join(small[:5])}; choose a smaller --patch or remove them")
    say(f"sampling {args.patches} patches of {args.patch}x{args.patch} from {len(images)} photos of {args.data}")
    X = sample_patches(images, args.patch, args.patches, random_state=args.seed, max_bytes=MAX_PATCH_BYTES)
    return Dataset(images=X, labels=None, class_names=None, name=str(args.data), skipped=skipped)


def _validation_callbacks(args, model):
    """``--val``: the PSNR on the held-out photos' centre crops after every epoch, and a line that prints it;
    on a large held-out set, a line every few seconds while the photos are read and while they are denoised."""
    if args.val is None:
        return []
    from ..callbacks import DenoisingValidation, LambdaCallback
    from ..data import DatasetError
    from ..data.patches import read_photos

    if not hasattr(model, "denoise"):
        raise UserError(f"--val measures denoising PSNR: it applies to the denoisers (unet, dncnn), "
                        f"not {args.model!r}")
    reading = _Every(VAL_PROGRESS_SECONDS, lambda done, n: say(f"--val: read {done:,} of {n:,} held-out images"))
    try:  # crops taken as each photo is read: memory holds one whole photo at a time
        images, _ = read_photos(args.val, mode="L" if args.grey else "RGB", crop=args.val_crop, progress=reading)
    except DatasetError as exc:
        raise UserError(f"--val: {exc}") from None

    class ShownValidation(DenoisingValidation):
        def evaluate(self, model):
            total = len(self.images) * len(self.levels)
            every = _Every(VAL_PROGRESS_SECONDS, lambda done, n: say(f"held-out validation: {done:,} of {n:,} "
                                                                      "images denoised"))
            return super().evaluate(_CountedDenoiser(model, lambda done: every(done, total)))

    validation = ShownValidation(images, random_state=args.seed)

    def show(trainer, epoch, logs):
        psnrs = ", ".join(f"sigma {s:g} {logs[k]:.2f} dB" for s, k in zip(validation.levels, validation.keys))
        say(f"epoch {epoch}: held-out PSNR {psnrs}")

    return [validation, LambdaCallback(on_epoch_end=show)]


class _Every:
    """``progress(done, total)`` passed on at most once every ``seconds`` (never for the first or last call)."""

    def __init__(self, seconds, report):
        self.seconds, self.report = seconds, report
        self.last = time.monotonic()

    def __call__(self, done, total):
        now = time.monotonic()
        if now - self.last >= self.seconds and 0 < done < total:
            self.last = now
            self.report(done, total)


class _CountedDenoiser:
    """``model``'s ``denoise`` that reports the number of images denoised so far."""

    def __init__(self, model, report):
        self.model, self.report, self.done = model, report, 0

    def denoise(self, image):
        out = self.model.denoise(image)
        self.done += 1
        self.report(self.done)
        return out


def train_figures(model, cls, kind, ds, image_shape, out, args):
    """The run's figures: curves, reconstructions or denoising, samples, 2-D codes."""
    from .. import plots

    title = f"{cls.__name__} on {args.data}"
    ink = ds.ink and image_shape[2] == 1
    X = ds.images
    figs = []
    history = getattr(model, "history_", {})
    if history:
        figs.append(save_figure(plots.training_curves(history, f"{title}: training curves"), out / "history.png"))
    pick = np.linspace(0, len(X) - 1, min(FIGURE_IMAGES, len(X))).astype(int)
    Xs = X[pick]
    Xin = to_model_input(Xs, kind)
    if getattr(model, "noise", None) is not None:  # a denoiser: show it at work
        noisy = np.clip(model.add_noise(Xin, random_state=args.seed), 0, 1)
        den = model.reconstruct(noisy)
        figs.append(figure_rows([Xs, to_images(noisy, image_shape, kind), to_images(den, image_shape, kind)],
                                ["clean", "noisy", "denoised"], out / "denoising.png",
                                f"{title}: clean / noisy ({model.noise} {model.noise_level}) / denoised", ink=ink))
    elif hasattr(model, "reconstruct"):
        rec = model.reconstruct(Xin)
        figs.append(figure_rows([Xs, to_images(rec, image_shape, kind)], ["original", "reconstruction"],
                                out / "reconstructions.png", f"{title}: originals and reconstructions", ink=ink))
    if hasattr(model, "sample"):
        S = to_images(model.sample(FIGURE_SAMPLES, random_state=args.seed), image_shape, kind)
        half = FIGURE_SAMPLES // 2
        figs.append(figure_rows([S[:half], S[half:]], ["samples", "samples"], out / "samples.png",
                                f"{title}: {FIGURE_SAMPLES} new samples from z ~ N(0, I)", ncols=16, ink=ink))
    if hasattr(model, "encode") and getattr(model, "latent_dim", 0) == 2:
        Z = encode_mean(model, to_model_input(X[:LATENT_POINTS], kind))
        labels = None if ds.labels is None else ds.labels[:LATENT_POINTS]
        fig = plots.class_scatter(Z, labels, ds.class_names, f"{title}: 2-D latent codes", "z[0]", "z[1]")
        figs.append(save_figure(fig, out / "latent.png"))
    return figs
