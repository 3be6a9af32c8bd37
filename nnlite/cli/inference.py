"""Commands that use a trained checkpoint: ``denoise``, ``sample``, ``interpolate``, ``latent``."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np

from ._common import (
    UserError,
    encode_mean,
    figure_rows,
    float_in,
    formatter,
    free_path,
    image_shape_of,
    int_at_least,
    is_ink,
    load_data,
    load_model,
    out_dir,
    positive_float,
    positive_int,
    save_figure,
    say,
    to_images,
    to_model_input,
    warn,
)

# ------------------------------------------------------------------------------------------ denoise
_DENOISE_EXAMPLES = """examples:
  nnlite denoise --model photo my_photo.jpg                 # the shipped photo denoiser: no training needed
  nnlite denoise --model photo photos/ --noise gaussian --noise-level 0.1   # add noise, then remove it
  nnlite denoise runs/dae/checkpoint.npz scan.png --out clean/
  nnlite denoise runs/dae/checkpoint.npz photos/ --noise gaussian --noise-level 0.3

--model photo uses the photo denoiser that ships with nnlite (nnlite.pretrained("photo-denoiser")): grey
photos go to its grey model, colour photos to its RGB model, Gaussian noise up to sigma about 0.25.

MLP models work on tiles of the size they were trained on (28x28 for MNIST) laid over the whole image
with overlap (--stride), colour images channel by channel for grey models; convolutional models run on
the whole image. An alpha channel is passed through untouched. A warning says when an image is far from
what the model was fitted on (size, channels, values).

Folders are searched with their sub-folders (up to 32 levels deep), leaving out the output folder and
files named as results (*_denoised.*, *_compare.*). Each input gets <name>_denoised.png and a side-by-side
<name>_compare.png in --out, <name> being its path below the folder given (sub-folders are kept), with
the file's extension added where two inputs would share a name. An existing result is replaced only
with --overwrite. Images larger than --max-megapixels are refused before they are decoded. A file that
cannot be read or denoised is skipped with a warning and the others go on; the command then lists the
failed files with their reasons and ends with exit code 1.
"""

#: Inches per panel of a denoising comparison.
COMPARE_CELL = 3.4
#: ``--model`` name -> the name of the shipped weights (:func:`nnlite.pretrained`).
PRETRAINED_MODELS = {"photo": "photo-denoiser"}
#: Default ``--max-megapixels``: the largest image denoised, checked from the file's header. Denoising an
#: image takes about 51 bytes per pixel (the image, its noisy copy, the network's input and output in
#: float32, the 8-bit result) besides the network's own working memory for one block (about 170 MB for the
#: shipped U-Net at :data:`DENOISE_TILE`), so 5 megapixels stay within 512 MB above the model's weights.
DENOISE_MAX_MEGAPIXELS = 5.0
#: Side of the blocks a fully convolutional model denoises at a time (``tile`` of ``denoise``).
DENOISE_TILE = 128
#: Rows of an image processed at a time where a whole-image temporary is not needed (noise, PSNR, 8-bit).
ROW_BLOCK = 256
#: An MLP model's tiles are "far" from an image whose side is this many times the tile's.
FAR_SIZE = 16


def add_denoise(sub):
    p = sub.add_parser("denoise", help="denoise your own PNG/JPEG files with a trained model",
                       description="Denoise image files (any size) with a trained (denoising) autoencoder, or "
                                   "with the photo denoiser that ships with nnlite (--model photo).",
                       usage="nnlite denoise (CHECKPOINT | --model photo) IMAGE [IMAGE ...] [options]",
                       epilog=_DENOISE_EXAMPLES, formatter_class=formatter())
    p.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT",
                   help="checkpoint.npz written by 'nnlite train' (leave out with --model)")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--model", default=None, choices=sorted(PRETRAINED_MODELS),
                   help="a model that ships with nnlite instead of a checkpoint: 'photo', the photo denoiser "
                        "(grey and colour photos, Gaussian noise up to sigma about 0.25)")
    p.add_argument("--noise", default=None,
                   help="first corrupt the images with this noise (to see the model at work on clean pictures): "
                        "salt_and_pepper, bit_flip, gaussian, masking")
    p.add_argument("--noise-level", type=float_in(0.0), default=0.1, metavar="P",
                   help="level of --noise (default 0.1)")
    p.add_argument("--stride", type=positive_int, default=None, metavar="PX",
                   help="step between tiles for MLP models (default half a tile: overlapping tiles are averaged)")
    p.add_argument("--invert", default="auto", choices=("auto", "yes", "no"),
                   help="models trained on light-ink-on-dark data (MNIST, the font: ink = 1) see dark-on-light "
                        "scans inverted; auto inverts such images (mostly light) for such models (default auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: denoised/)")
    p.add_argument("--overwrite", action="store_true", help="replace existing result files of the same name")
    p.add_argument("--max-megapixels", type=positive_float, default=DENOISE_MAX_MEGAPIXELS, metavar="MP",
                   help=f"refuse images of more than MP million pixels before decoding them (default "
                        f"{DENOISE_MAX_MEGAPIXELS:g}: about 51 bytes a pixel besides the model, so within 512 MB)")
    p.set_defaults(func=cmd_denoise)


def _per_channel(fn, img, c):
    """Apply an image -> image function made for ``c`` channels to a grey or colour image."""
    if img.ndim == 3 and c == 1:
        return np.stack([np.asarray(fn(img[..., k])) for k in range(img.shape[2])], axis=-1)
    if img.ndim == 2 and c == 3:
        return np.asarray(fn(np.repeat(img[..., None], 3, axis=2))).mean(axis=2)
    return np.asarray(fn(img))


def _expand(paths, out: Path):
    """``(files, bad)``: ``(path, name)`` of every image of the given files and folders, and ``(path,
    problem)`` for arguments that give none. ``name`` is the result's name without suffix: the file's stem,
    or its path below a folder given (``sub/photo``). A file given twice is kept once."""
    from ..images import list_images

    files, bad, seen = [], [], set()
    for p in map(Path, paths):
        notes = []
        try:
            found = list_images([p], exclude=[out], skip_outputs=True, notes=notes)
        except ValueError as exc:  # ImageError: missing, or a folder without images
            bad.append((p, str(exc)))
            continue
        for note in notes:
            say(f"note: {note}")
        for f in found:
            key = f.resolve() if f.exists() else f
            if key in seen:
                continue
            seen.add(key)
            name = f.relative_to(p).with_suffix("").as_posix() if p.is_dir() else f.stem
            files.append((f, name))
    return files, bad


def _unique_names(files) -> list:
    """One result name per input: its own name, with the file's extension added (``photo_jpg``) where two
    inputs share it, then its folders (``c1_photo_png``) until no two are the same."""
    names = [n for _, n in files]
    for level in range(1, 64):
        counts = {}
        for n in names:
            counts[n] = counts.get(n, 0) + 1
        clash = [i for i, n in enumerate(names) if counts[n] > 1]
        if not clash:
            return names
        for i in clash:
            f, base = files[i]
            parts = [q for q in f.resolve().parent.parts[1:]][::-1][:level - 1][::-1]
            names[i] = "_".join([*parts, f"{base}_{f.suffix.lstrip('.').lower() or 'file'}"]) if parts else \
                f"{base}_{f.suffix.lstrip('.').lower() or 'file'}"
    return [f"{n}_{i}" for i, n in enumerate(names)]


def _check_out_writable(out: Path) -> Path:
    """Create ``out`` and check that a file can be written in it, before any work."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise UserError(f"cannot write into the output folder {out} ({exc.strerror or exc}); choose another --out") \
            from None
    return out


def _photo_noise_warning(model, args):
    """A warning when --noise asks the shipped photo model for what it did not learn."""
    levels = [e.get("noise_level") for e in getattr(model, "entries", {}).values()]
    highs = [max(v) if isinstance(v, list) else v for v in levels if isinstance(v, (list, int, float))]
    high = max(highs) if highs else 0.25
    if args.noise != "gaussian":
        warn(f"--model {args.model} learned Gaussian noise (sigma 0 to {high:g}); --noise {args.noise} is not what "
             "it was trained on, expect a poor result")
    elif args.noise_level > high:
        warn(f"--noise-level {args.noise_level:g} is above what --model {args.model} learned (Gaussian sigma 0 to "
             f"{high:g}): expect noise left in the result")


def _domain_warnings(model, img, tile_shape, any_size) -> list:
    """How an image differs from what ``model`` was fitted on (its ``fit_domain_``, else its image shape)."""
    h, w, c = tile_shape
    domain = getattr(model, "fit_domain_", None) or {}
    notes = []
    H, W = img.shape[:2]
    colour = img.ndim == 3
    if not any_size and (H > FAR_SIZE * h or W > FAR_SIZE * w):
        n = -(-H // max(1, h // 2)) * -(-W // max(1, w // 2))
        notes.append(f"the model was fitted on {w}x{h} images and this image is {W}x{H}: it is denoised as about "
                     f"{n:,} overlapping tiles of {w}x{h}, each far from what the model saw")
    if colour and c == 1:
        notes.append("the model was fitted on grey images: this colour image is denoised channel by channel")
    elif not colour and c == 3:
        notes.append("the model was fitted on colour images: this grey image is given to it as grey RGB")
    binary = domain.get("two_level")
    if isinstance(binary, (int, float)) and binary > 0.9:
        sample = img[::max(1, H // 64), ::max(1, W // 64)]
        share = float(np.mean((sample < 0.02) | (sample > 0.98)))
        if share < 0.5:
            notes.append(f"the model was fitted on two-level images ({binary:.0%} of its values 0 or 1, such as ink "
                         f"on paper); this image has mid-tones ({1 - share:.0%} of its pixels): the result may look "
                         "nothing like it")
    return notes


def _psnr(clean, image) -> float:
    """PSNR in dB of ``image`` (clipped to [0, 1]) against ``clean``, summed in row blocks (no whole-image
    float64 temporary): ``10 log10(1 / MSE)``, ``inf`` for identical images."""
    total = 0.0
    for r in range(0, len(clean), ROW_BLOCK):
        d = clean[r:r + ROW_BLOCK].astype(np.float64) - np.clip(image[r:r + ROW_BLOCK], 0, 1)
        total += float(np.square(d).sum())
    mse = total / clean.size
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def cmd_denoise(args):
    from .. import plots
    from ..images import ImageError, image_size, read_image, write_image
    from ..noise import get_noise
    from ..random import as_generator

    inputs = _denoise_inputs(args)
    out = _check_out_writable(Path(args.out if args.out else "denoised"))
    noise_fn = get_noise(args.noise) if args.noise else None
    if args.model:
        model, ck = _pretrained_model(args.model), None
        tile_shape = None
        ink_model, any_size = False, True
        if noise_fn is not None:
            _photo_noise_warning(model, args)
    else:
        model, ck = load_model(args.checkpoint)
        if not hasattr(model, "reconstruct"):
            raise UserError(f"{type(model).__name__} cannot reconstruct images; use an autoencoder, dae or vae "
                            "checkpoint")
        tile_shape = image_shape_of(model, ck)
        ink_model = is_ink(ck.extra, tile_shape)
        any_size = "tile" in inspect.signature(getattr(model, "denoise", lambda x: x)).parameters
    files, failed = _expand(inputs, out)
    n_inputs = len(files) + len(failed)
    for _, why in failed:
        warn(f"{why}; skipped")
    names = _unique_names(files)
    rng = as_generator(args.seed)
    cap = int(args.max_megapixels * 1e6)
    for i, ((f, _), name) in enumerate(zip(files, names), 1):
        den_path, cmp_path = out / f"{name}_denoised.png", out / f"{name}_compare.png"
        try:
            for target in (den_path, cmp_path):
                if target.exists() and not args.overwrite:
                    raise UserError(f"{target} exists: pass --overwrite to replace it, or choose another --out")
            w, h = image_size(f)
            if w * h > cap:
                raise UserError(f"{f}: image of {w}x{h} pixels ({w * h / 1e6:.1f} megapixels) is larger than "
                                f"--max-megapixels {args.max_megapixels:g}; pass a larger --max-megapixels (about 51 "
                                "bytes of memory a pixel) or make the image smaller")
            _denoise_one(args, model, ck, f, i, len(files), (den_path, cmp_path), tile_shape, ink_model, any_size,
                         noise_fn, rng, plots, read_image, write_image)
        except (UserError, ImageError, ValueError, TypeError, OSError, MemoryError) as exc:
            why = " ".join(str(exc).split()) or type(exc).__name__
            if isinstance(exc, MemoryError):
                why = f"out of memory ({why}); try a smaller --max-megapixels or a smaller image"
            why = why if str(f) in why else f"{f}: {why}"
            warn(f"{why}; skipped")
            failed.append((f, why))
    if failed:
        lines = "; ".join(why if str(p) in why else f"{p}: {why}" for p, why in failed)
        raise UserError(f"{len(failed)} of {n_inputs} inputs failed and were skipped ({n_inputs - len(failed)} "
                        f"denoised): {lines}")
    return 0


def _denoise_one(args, model, ck, f, i, n, paths, tile_shape, ink_model, any_size, noise_fn, rng, plots,
                 read_image, write_image):
    """Read, (corrupt,) denoise and write one image and its comparison figure."""
    from ..images import apply_tiled
    from .progress import WorkProgress

    notes = []
    img = read_image(f, mode=None, notes=notes, keep_alpha=True)
    for note in notes:
        say(f"note: {note}")
    alpha = None
    if img.ndim == 3 and img.shape[2] in (2, 4):                  # the alpha channel passes through untouched
        alpha, img = img[..., -1:], img[..., :-1]
        img = img[..., 0] if img.shape[2] == 1 else np.ascontiguousarray(img)
    if tile_shape is not None:
        for note in _domain_warnings(model, img, tile_shape, any_size):
            warn(f"{f}: {note}")
    invert = args.invert == "yes" or (args.invert == "auto" and ink_model and float(img.mean()) > 0.5)
    if invert:
        if args.invert == "auto":
            say(f"note: {f}: mostly light image and a model trained on ink = 1 ({ck.extra.get('data')}): "
                "inverted before denoising and back after (--invert no to prevent)")
        img = 1.0 - img
    clean = None
    if noise_fn is not None:  # row blocks: the noise functions' float64 temporaries stay small
        clean, img = img, np.empty_like(img)
        for r in range(0, len(img), ROW_BLOCK):
            img[r:r + ROW_BLOCK] = np.clip(noise_fn(clean[r:r + ROW_BLOCK], args.noise_level, rng), 0, 1)
    say(f"[{i}/{n}] {f}: {img.shape[1]}x{img.shape[0]} ...")
    if any_size:  # a fully convolutional denoiser: the whole image at once (in blocks if large)
        def whole(im, name=f.name):
            shown = WorkProgress(name, "Mpx", scale=1e-6)
            try:
                return model.denoise(im, tile=DENOISE_TILE, progress=shown)
            finally:
                shown.close()

        # the photo model takes grey and colour itself; a checkpoint's model, channel by channel if needed
        result = whole(img) if args.model else _per_channel(whole, img, tile_shape[2])
    else:
        h, w, c = tile_shape
        stride = args.stride if args.stride else (max(1, h // 2), max(1, w // 2))
        if img.shape[0] < h or img.shape[1] < w:
            say(f"note: {f}: {img.shape[1]}x{img.shape[0]} is smaller than the model's {w}x{h} tiles; "
                "padded by reflection")
        shape = (h, w) if c == 1 else (h, w, c)

        def fn(flat, shape=shape):  # flat (n, h*w*c) tiles, channels last
            return np.asarray(model.reconstruct(flat.reshape((len(flat),) + shape))).reshape(len(flat), -1)

        shown = WorkProgress(f.name, "tiles")
        try:
            result = apply_tiled(fn, img, (h, w), channels=c, stride=stride, progress=shown)
        finally:
            shown.close()
    result = np.asarray(result, dtype=np.float32)
    if invert:
        img, result = 1.0 - img, 1.0 - result
        clean = None if clean is None else 1.0 - clean
    den_path, cmp_path = paths
    den_path.parent.mkdir(parents=True, exist_ok=True)
    full = result if alpha is None else np.concatenate([result if result.ndim == 3 else result[..., None], alpha], 2)
    den_path = write_image(den_path, full)
    del full
    panels = ([("clean", clean)] if clean is not None else []) + [("noisy" if clean is not None else "input", img),
                                                                    ("denoised", result)]
    titles = [t if clean is None or t == "clean" else f"{t}  PSNR {_psnr(clean, im):.1f} dB" for t, im in panels]
    how = "whole image" if any_size else f"tiles of {tile_shape[0]}x{tile_shape[1]}"
    if args.model:
        name = f"{PRETRAINED_MODELS[args.model]}, {'grey' if img.ndim == 2 else 'RGB'} model"
    else:
        name = type(model).__name__
    fig = plots.image_strip([im for _, im in panels], titles, title=f"{f.name}: {name} ({how})", cell=COMPARE_CELL)
    cmp_path = save_figure(fig, cmp_path)
    say(f"[{i}/{n}] {f} -> {den_path}, {cmp_path}")


def _denoise_inputs(args) -> list:
    """The image arguments of ``denoise``, after checking that exactly one of CHECKPOINT and --model is given."""
    positional = ([args.checkpoint] if args.checkpoint is not None else []) + list(args.images)
    if args.model:
        if positional and str(positional[0]).lower().endswith(".npz"):
            raise UserError(f"give either a CHECKPOINT ({positional[0]}) or --model {args.model}, not both")
        if not positional:
            raise UserError(f"give at least one IMAGE to denoise with --model {args.model}")
        return positional
    if args.checkpoint is None:
        raise UserError("give a CHECKPOINT (written by 'nnlite train') and IMAGE files, or --model photo IMAGE... "
                        "for the photo denoiser that ships with nnlite")
    if not args.images:
        if not str(args.checkpoint).lower().endswith(".npz"):
            raise UserError(f"{args.checkpoint} is not a checkpoint (.npz): to denoise photos with the model that "
                            f"ships with nnlite, use --model photo {args.checkpoint}")
        raise UserError(f"give at least one IMAGE to denoise with {args.checkpoint}")
    return list(args.images)


def _pretrained_model(name):
    """The shipped model of a ``--model`` name, ready to denoise."""
    from ..weights import pretrained

    return pretrained(PRETRAINED_MODELS[name])


# ------------------------------------------------------------------------------------------ sample
_SAMPLE_EXAMPLES = """examples:
  nnlite sample runs/vae/checkpoint.npz -n 64 --out samples/
  nnlite sample runs/vae/checkpoint.npz -n 16 --seed 3

Writes samples_n<N>_seed<SEED>.png and .npy (all N images, (N, H, W[, 3]) in [0, 1]); an existing file
is replaced only with --overwrite. The figure shows at most 256 samples.
"""

#: The most samples drawn in the figure (a 16 x 16 grid); the .npy file holds them all.
MAX_FIGURE_SAMPLES = 256


def add_sample(sub):
    p = sub.add_parser("sample", help="draw new images from a generative model (vae, gan)",
                       description="Decode codes drawn from the prior N(0, I) of a VAE (or a GAN's generator).",
                       epilog=_SAMPLE_EXAMPLES, formatter_class=formatter())
    p.add_argument("checkpoint")
    p.add_argument("-n", type=positive_int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.add_argument("--overwrite", action="store_true", help="replace existing sample files of the same name")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args):
    model, ck = load_model(args.checkpoint)
    if not hasattr(model, "sample"):
        raise UserError(f"{type(model).__name__} is not a generative model (no prior to sample from); "
                        "train a vae (or gan) for 'nnlite sample'")
    out = out_dir(args, Path(args.checkpoint).parent)
    stem = f"samples_n{args.n}_seed{args.seed}"
    png, npy = (free_path(out / f"{stem}{ext}", args.overwrite) for ext in (".png", ".npy"))
    shape = image_shape_of(model, ck)
    S = to_images(model.sample(args.n, random_state=args.seed), shape, ck.extra.get("kind", "mlp"))
    shown = min(args.n, MAX_FIGURE_SAMPLES)
    if shown < args.n:
        say(f"note: the figure shows the first {shown} of {args.n} samples; all {args.n} are in {npy}")
    title = f"{type(model).__name__}: {shown if shown == args.n else f'{shown} of {args.n}'} new samples from " \
            f"z ~ N(0, I) (seed {args.seed})"
    figure_rows([S[:shown]], [""], png, title, ncols=int(np.ceil(np.sqrt(shown))), ink=is_ink(ck.extra, shape))
    np.save(npy, S)
    say(f"wrote {png}")
    say(f"wrote {npy}")
    return 0


# ------------------------------------------------------------------------------------------ interpolate
_INTERP_EXAMPLES = """examples:
  nnlite interpolate runs/vae/checkpoint.npz 0 7            # images 0 and 7 of the training data
  nnlite interpolate runs/font/checkpoint.npz a.png b.png --steps 12

A and B are image files (resized to the model's input size) or indices into the data set the model
was trained on. The codes are interpolated linearly and decoded.
"""


def add_interpolate(sub):
    p = sub.add_parser("interpolate", help="walk the latent space between two images",
                       description="Encode two images, interpolate their codes linearly and decode the path.",
                       epilog=_INTERP_EXAMPLES, formatter_class=formatter())
    p.add_argument("checkpoint")
    p.add_argument("a", metavar="A", help="image file or index into the training data")
    p.add_argument("b", metavar="B", help="image file or index into the training data")
    p.add_argument("--steps", type=int_at_least(2), default=10,
                   help="images along the path, ends included (default 10)")
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.set_defaults(func=cmd_interpolate)


def _endpoint(spec, ck, image_shape, cache):
    from PIL import Image

    from ..images import read_image

    h, w, c = image_shape
    if spec.lstrip("-").isdigit():
        if "X" not in cache:
            e = ck.extra
            if not e.get("data"):
                raise UserError("this checkpoint does not record its data set; give image files instead of indices")
            cache["X"] = load_data(e["data"], e.get("split", "train"), e.get("limit"), e.get("size"),
                                   e.get("grey", False)).images
        X = cache["X"]
        i = int(spec)
        if not 0 <= i < len(X):
            raise UserError(f"index {i} is out of range: the data set {ck.extra['data']} has {len(X)} images "
                            f"(0..{len(X) - 1})")
        return X[i]
    notes = []
    img = read_image(spec, mode="L" if c == 1 else "RGB", notes=notes)
    for note in notes:
        say(f"note: {note}")
    if img.shape[:2] != (h, w):
        say(f"note: {spec}: resized from {img.shape[1]}x{img.shape[0]} to the model's {w}x{h}")
        chans = [img] if img.ndim == 2 else [img[..., k] for k in range(3)]
        res = [np.asarray(Image.fromarray(ch, mode="F").resize((w, h), Image.Resampling.BICUBIC)) for ch in chans]
        img = np.clip(res[0] if img.ndim == 2 else np.stack(res, -1), 0, 1)
    return img


def cmd_interpolate(args):
    from .. import plots

    model, ck = load_model(args.checkpoint)
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise UserError(f"{type(model).__name__} has no encoder/decoder to interpolate with")
    shape = image_shape_of(model, ck)
    kind = ck.extra.get("kind", "mlp")
    cache = {}
    A, B = (_endpoint(s, ck, shape, cache) for s in (args.a, args.b))
    za, zb = (encode_mean(model, to_model_input(im[None], kind)) for im in (A, B))
    t = np.linspace(0, 1, args.steps, dtype=np.float32)[:, None]
    Z = (1 - t) * za + t * zb
    path_imgs = to_images(model.decode(Z.astype(za.dtype)), shape, kind)
    out = out_dir(args, Path(args.checkpoint).parent)
    fig = plots.image_strip([A, *path_imgs, B], ["A"] + [f"t={v:.2f}" for v in t[:, 0]] + ["B"],
                            title=f"{type(model).__name__}: decoded path from code(A) to code(B)",
                            ink=is_ink(ck.extra, shape))
    path = save_figure(fig, out / "interpolation.png")
    say(f"wrote {path}")
    return 0


# ------------------------------------------------------------------------------------------ latent
_LATENT_EXAMPLES = """examples:
  nnlite latent runs/font-ae/checkpoint.npz --data font5x7
  nnlite latent runs/vae20/checkpoint.npz --data fashion-mnist --split test --limit 5000 --method pca
  nnlite latent runs/vae20/checkpoint.npz --data mnist --split test --method tsne   # needs scikit-learn

2-D codes are plotted as they are; larger codes are projected by PCA (NumPy SVD) or t-SNE
(scikit-learn, pip install nnlite[tsne]). Points are coloured by class when the data set has labels.
"""


def add_latent(sub):
    p = sub.add_parser("latent", help="plot the latent codes of a data set (2-D, PCA or t-SNE)",
                       description="Encode a data set and plot its codes in 2-D.",
                       epilog=_LATENT_EXAMPLES, formatter_class=formatter())
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None, metavar="DATASET",
                   help="data set (default: the one the model was trained on)")
    p.add_argument("--split", default=None, choices=("train", "test"))
    p.add_argument("--limit", type=positive_int, default=5000, metavar="N",
                   help="encode at most N images (default 5000)")
    p.add_argument("--method", default="auto", choices=("auto", "pca", "tsne"),
                   help="projection of codes larger than 2-D (auto: as is for 2-D, else PCA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.set_defaults(func=cmd_latent)


def _project(Z, method, seed):
    """2-D view of codes ``Z``: ``(Z2, xlabel, ylabel, how)``."""
    m = Z.shape[1]
    if m == 1:
        return np.c_[Z, np.zeros(len(Z))], "z[0]", "", "1-D codes"
    if method == "none" or (m == 2 and method == "pca"):
        return Z, "z[0]", "z[1]", "2-D codes"
    if method == "pca":
        C = Z - Z.mean(axis=0)
        _, s, Vt = np.linalg.svd(C, full_matrices=False)
        var = s ** 2 / max((s ** 2).sum(), 1e-30)
        return C @ Vt[:2].T, f"PC1 ({var[0]:.0%} of variance)", f"PC2 ({var[1]:.0%} of variance)", \
            f"PCA of {m}-D codes"
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise UserError("t-SNE needs scikit-learn, which is not installed: pip install 'nnlite[tsne]' "
                        "(or use --method pca)") from None
    return TSNE(n_components=2, random_state=seed, init="pca").fit_transform(Z), "t-SNE 1", "t-SNE 2", \
        f"t-SNE of {m}-D codes"


def cmd_latent(args):
    from .. import plots

    model, ck = load_model(args.checkpoint)
    if not hasattr(model, "encode"):
        raise UserError(f"{type(model).__name__} has no encoder")
    e = ck.extra
    data = args.data or e.get("data")
    if not data:
        raise UserError("give --data: this checkpoint does not record the data set it was trained on")
    split = args.split or (e.get("split", "train") if data == e.get("data") else "train")
    ds = load_data(data, split, args.limit, e.get("size"), e.get("grey", False))
    Z = encode_mean(model, to_model_input(ds.images, e.get("kind", "mlp")))
    m = Z.shape[1]
    method = args.method if args.method != "auto" else ("none" if m <= 2 else "pca")
    Z2, xl, yl, how = _project(Z, method, args.seed)
    out = out_dir(args, Path(args.checkpoint).parent)
    fig = plots.class_scatter(Z2, ds.labels, ds.class_names,
                              f"{type(model).__name__} on {data} ({split}, {len(ds)} images): {how}", xl, yl)
    path = save_figure(fig, out / f"latent_{method if m > 2 else '2d'}.png")
    np.savez(out / "latent_codes.npz", codes=Z2, labels=ds.labels if ds.labels is not None else np.zeros(0))
    say(f"wrote {path}")
    return 0
