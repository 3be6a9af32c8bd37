"""Figures for autoencoders: image grids, 2-D latent spaces, decoded latent grids, training curves.

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot``, so it works on a
headless machine (PNG is rendered by the Agg canvas) and displays inline in Jupyter. Save with
:func:`save` (creates the folder, closes nothing global).

>>> from nnlite import plots
>>> fig = plots.image_rows([X, ae.reconstruct(X)], ["original", "reconstruction"], image_shape=(7, 5))
>>> plots.save(fig, "out/font_reconstructions.png")                    # doctest: +SKIP
"""
from __future__ import annotations

import os

import matplotlib
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from matplotlib.ticker import MaxNLocator

__all__ = ["save", "image_grid", "image_rows", "photo_rows", "image_strip", "latent_scatter", "class_scatter",
           "latent_grid", "mosaic", "curves", "training_curves", "rate_vs_level"]

CMAP = "gray_r"   # ink is dark: 1 = black, 0 = white, as on paper


def save(fig: Figure, path: str, dpi: int = 110) -> str:
    """Write ``fig`` to ``path`` (PNG by extension), creating the folder; returns the path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def _as_images(images, image_shape):
    images = np.asarray(images, dtype=np.float64)
    if image_shape is not None:
        images = images.reshape((len(images),) + tuple(image_shape))
    if images.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or flat with image_shape=(H, W), got shape {images.shape}")
    return images


GAP_COLOR = "#aebfd4"   # the lines between tiles: a muted blue that no grey level can be confused with


def _ink_cmap():
    return matplotlib.colormaps[CMAP].with_extremes(bad=GAP_COLOR)    # NaN marks the gaps between tiles


def image_grid(images, image_shape=None, titles=None, ncols=None, title=None, cell=0.8, vmin=0.0, vmax=1.0):
    """Images in a grid, each with an optional small title (a name or a character).

    Parameters
    ----------
    images : array ``(N, H, W)``, or ``(N, H*W)`` with ``image_shape=(H, W)``
    titles : list of str, optional
    ncols : int, optional (default about ``sqrt(1.5 N)``, at most 16)
    title : str, optional
        Figure title.
    cell : float
        Inches per image.
    """
    images = _as_images(images, image_shape)
    ncols = ncols or min(16, int(np.ceil(np.sqrt(len(images) * 1.5))))
    return image_rows([images], [""], col_titles=titles, title=title, cell=cell, max_cols=ncols, vmin=vmin,
                      vmax=vmax)


def image_rows(rows, row_labels, image_shape=None, col_titles=None, title=None, cell=0.7, max_cols=16,
               vmin=0.0, vmax=1.0):
    """Aligned rows of images (original / reconstruction, or clean / noisy / denoised), labelled on the left.

    ``rows`` is a list of arrays with the same number of images. When there are more than ``max_cols``
    images the rows wrap into several blocks, each block repeating the row labels. Each block is drawn
    as one mosaic (images separated by a thin grey line), which keeps big figures fast to render.
    """
    rows = [_as_images(r, image_shape) for r in rows]
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ValueError(f"image_rows: every row needs the same number of images, got {[len(r) for r in rows]}")
    if len(row_labels) != len(rows):
        raise ValueError(f"image_rows: {len(rows)} rows but {len(row_labels)} labels")
    h, w = rows[0].shape[1:]
    ncols = min(n, max_cols)
    blocks = int(np.ceil(n / ncols))
    gap = 1
    ipp = cell / (w + gap)                                         # inches per pixel
    lines = 1 + max((str(t).count("\n") for t in col_titles), default=0) if col_titles is not None else 0
    left = 0.15 + 0.085 * max((len(line) for lab in row_labels for line in str(lab).split("\n")), default=0)
    top = 0.45 + 0.2 * (title or "").count("\n") if title else 0.05
    title_h = 0.05 + 0.17 * lines
    block_w = ncols * (w + gap) * ipp
    block_h = len(rows) * (h + gap) * ipp
    W = left + block_w + 0.1
    H = top + blocks * (title_h + block_h + 0.08)
    fig = Figure(figsize=(W, H))
    cmap = _ink_cmap()
    for b in range(blocks):
        idx = range(b * ncols, min(n, (b + 1) * ncols))
        stack = np.concatenate([np.concatenate([r[list(idx)], np.zeros((ncols - len(idx), h, w))])
                                for r in rows])                     # (len(rows) * ncols, h, w)
        tile = mosaic(stack, len(rows), ncols, gap=gap, fill=np.nan)
        y0 = H - top - b * (title_h + block_h + 0.08) - title_h - block_h
        ax = fig.add_axes((left / W, y0 / H, block_w / W, block_h / H))
        ax.imshow(tile, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto",
                  extent=(-0.5, tile.shape[1] - 0.5, tile.shape[0] - 0.5, -0.5))
        ax.set_axis_off()
        for r, label in enumerate(row_labels):
            ax.text(-1.0, r * (h + gap) + (h - 1) / 2, str(label), ha="right", va="center", fontsize=10)
        if col_titles is not None:
            for c, i in enumerate(idx):
                ax.text(c * (w + gap) + (w - 1) / 2, -1.0, str(col_titles[i]), ha="center", va="bottom",
                        fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12, y=1 - 0.08 / H, va="top")
    return fig


def latent_scatter(Z, labels=None, images=None, image_shape=None, title=None, zoom=None, xlabel="$z_1$",
                   ylabel="$z_2$", size=7.0, color_by=None):
    """A 2-D latent space: each sample at its code, drawn as its image (``images``) and/or its label.

    Parameters
    ----------
    Z : array ``(N, 2)``
    labels : list of str, optional
        Written beside each point (e.g. the glyph's character or the emoji's name).
    images : array, optional
        Thumbnails drawn at the codes (``(N, H, W)`` or flat with ``image_shape``).
    zoom : float, optional
        Thumbnail scale (default chosen from the image size).
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"latent_scatter needs 2-D codes (N, 2), got shape {Z.shape}")
    fig = Figure(figsize=(size, size))
    ax = fig.subplots()
    ax.scatter(Z[:, 0], Z[:, 1], s=12, c="tab:red" if color_by is None else color_by, zorder=3,
               cmap=None if color_by is None else "viridis")
    thumbnails = []
    if images is not None:
        ims = _as_images(images, image_shape)
        zoom = zoom or 26.0 / max(ims.shape[1:]) * 1.2
        for z, im in zip(Z, ims):
            box = OffsetImage(im, cmap=CMAP, zoom=zoom, norm=None, interpolation="nearest")
            box.get_children()[0].set_clim(0, 1)
            ab = AnnotationBbox(box, (z[0], z[1]), frameon=True, pad=0.15,
                                bboxprops=dict(edgecolor="0.6", linewidth=0.5), zorder=2)
            ax.add_artist(ab)
            thumbnails.append(ab)
    lo, hi = Z.min(0), Z.max(0)
    pad = 0.12 * np.maximum(hi - lo, 1e-6)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if labels is not None:
        _place_labels(fig, ax, Z, [str(lab) for lab in labels], thumbnails)
    return fig


def _place_labels(fig, ax, Z, labels, thumbnails):
    """Write each label beside its point where it covers the least of the other points' thumbnails and of
    the labels already placed: eight directions around the point, near then farther, first the
    upper right; a white backing keeps a label readable where some overlap cannot be avoided."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = (fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)).get_renderer()
    obstacles = [ab.get_window_extent(renderer) for ab in thumbnails]      # display units, one per point
    half = max([max(b.width, b.height) for b in obstacles] + [8.0]) / 2 * 72 / fig.dpi   # points
    directions = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    offsets = [(dx * r, dy * r) for r in (half + 2, 1.7 * half + 4) for dx, dy in directions]
    axes_box = ax.get_window_extent(renderer)
    placed = []

    def overlap(a, b):
        w = min(a.x1, b.x1) - max(a.x0, b.x0)
        h = min(a.y1, b.y1) - max(a.y0, b.y0)
        return max(w, 0.0) * max(h, 0.0)

    for i, (z, lab) in enumerate(zip(Z, labels)):
        ann = ax.annotate(lab, (z[0], z[1]), xytext=offsets[0], textcoords="offset points", fontsize=9,
                          color="tab:blue", zorder=5, ha="center", va="center",
                          bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
        best, best_cost = offsets[0], None
        for off in offsets:
            ann.xyann = off
            box = ann.get_window_extent(renderer)
            cost = sum(overlap(box, o) for j, o in enumerate(obstacles) if j != i)
            cost += 2 * sum(overlap(box, p) for p in placed)
            cost += 4 * (box.width * box.height - overlap(box, axes_box))   # outside the axes
            if best_cost is None or cost < best_cost - 1e-9:
                best, best_cost = off, cost
        ann.xyann = best
        if offsets.index(best) >= len(directions):             # the farther ring: a leader line to the point
            ax.annotate("", (z[0], z[1]), xytext=best, textcoords="offset points", zorder=4,
                        arrowprops=dict(arrowstyle="-", color="tab:blue", lw=0.6, alpha=0.7, shrinkA=4, shrinkB=2))
        placed.append(ann.get_window_extent(renderer))


def mosaic(images, nrows, ncols, gap=1, fill=0.15):
    """Tile ``nrows * ncols`` images ``(N, H, W)`` or ``(N, H, W, 3)`` (row-major) into one array with
    ``gap`` pixels of ``fill`` between them (0.15: light grey with the ink colormap; NaN: :data:`GAP_COLOR`
    in :func:`image_rows`)."""
    images = np.asarray(images)
    h, w = images.shape[1:3]
    out = np.full((nrows * (h + gap) - gap, ncols * (w + gap) - gap) + images.shape[3:], fill, dtype=np.float64)
    for k in range(min(len(images), nrows * ncols)):
        r, c = divmod(k, ncols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[k]
    return out


def latent_grid(decode, xlim, ylim, n=15, image_shape=None, codes=None, code_labels=None, title=None, size=8.0,
                xlabel="$z_1$", ylabel="$z_2$"):
    """Images decoded on an ``n x n`` grid over a 2-D latent space, drawn at their coordinates.

    Parameters
    ----------
    decode : callable ``(M, 2) -> (M, H, W)`` or ``(M, H*W)`` (e.g. ``model.decode``)
    xlim, ylim : (float, float)
        The square of latent space to walk. Rows go from ``ylim[1]`` (top) to ``ylim[0]``.
    codes : array ``(N, 2)``, optional
        Training codes to mark on top (small red dots), with optional ``code_labels``.

    Returns
    -------
    Figure whose axes are the latent coordinates.
    """
    xs = np.linspace(xlim[0], xlim[1], n)
    ys = np.linspace(ylim[1], ylim[0], n)                      # top row = largest z2
    grid = np.array([[x, y] for y in ys for x in xs])          # (n*n, 2), row-major from the top
    ims = _as_images(decode(grid), image_shape)
    tile = mosaic(ims, n, n)
    dx = (xlim[1] - xlim[0]) / max(n - 1, 1)
    dy = (ylim[1] - ylim[0]) / max(n - 1, 1)
    extent = (xlim[0] - dx / 2, xlim[1] + dx / 2, ylim[0] - dy / 2, ylim[1] + dy / 2)
    h, w = ims.shape[1:]
    fig = Figure(figsize=(size, size * (h / w)))
    ax = fig.subplots()
    ax.imshow(tile, cmap=CMAP, vmin=0, vmax=1, extent=extent, interpolation="nearest", aspect="auto")
    if codes is not None:
        codes = np.asarray(codes)
        ax.scatter(codes[:, 0], codes[:, 1], s=14, c="tab:red", edgecolors="white", linewidths=0.5, zorder=3,
                   label="training codes")
        if code_labels is not None:
            for z, lab in zip(codes, code_labels):
                ax.annotate(str(lab), (z[0], z[1]), xytext=(3, 3), textcoords="offset points", fontsize=8,
                            color="tab:red", zorder=4,
                            path_effects=[patheffects.withStroke(linewidth=2.2, foreground="white")])
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def curves(history, keys, title=None, xlabel="epoch", ylabel="loss", logy=False, subplots=False, labels=None):
    """Training curves from a ``history`` dict (``model.history_``).

    With ``subplots=True`` each key gets its own panel (e.g. ELBO, reconstruction and KL, whose scales
    differ); otherwise all share one axis.
    """
    keys = [k for k in keys if k in history]
    if not keys:
        raise ValueError(f"curves: none of the keys are in the history (it has {sorted(history)})")
    labels = labels or {}
    if subplots:
        fig = Figure(figsize=(4.2 * len(keys), 3.6))
        axes = fig.subplots(1, len(keys), squeeze=False)[0]
    else:
        fig = Figure(figsize=(6.5, 4.2))
        axes = [fig.subplots()] * len(keys)
    for ax, k in zip(axes, keys):
        y = np.asarray(history[k], dtype=np.float64)
        ax.plot(np.arange(1, len(y) + 1), y, label=labels.get(k, k), lw=1.4)
        val = history.get("val_" + k)
        if val is not None:
            ax.plot(np.arange(1, len(val) + 1), val, label=labels.get("val_" + k, "validation " + k), lw=1.2,
                    ls="--")
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        if subplots:
            ax.set_title(labels.get(k, k))
            ax.set_ylabel(ylabel if isinstance(ylabel, str) else ylabel.get(k, ""))
    if not subplots:
        axes[0].set_ylabel(ylabel)
        axes[0].legend()
        if title:
            axes[0].set_title(title)
    elif title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def rate_vs_level(levels, series, xlabel="noise level", ylabel="exact recovery rate", title=None,
                  percent=True):
    """Lines of a rate against the noise level: ``series`` maps a legend label to rates (one per level).

    Labels containing 'bound' are drawn dashed in black, as the reference the others are measured against.
    """
    fig = Figure(figsize=(6.5, 4.4))
    ax = fig.subplots()
    scale = 100.0 if percent else 1.0
    for label, rates in series.items():
        style = dict(color="black", ls="--", marker="s") if "bound" in label.lower() else dict(marker="o")
        ax.plot(levels, np.asarray(rates) * scale, label=label, lw=1.5, ms=5, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    ax.set_ylim(0, 102 if percent else 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ photographs
#: Inches per image in :func:`photo_rows`: small images (up to 64 px) and larger ones.
PHOTO_CELL_SMALL, PHOTO_CELL_LARGE = 0.9, 2.2
#: Widest figure :func:`photo_rows` makes, in inches.
PHOTO_MAX_WIDTH = 16.0


def _show(ax, img, title=None, ink=False):
    """One image on ``ax`` without ticks: grey (ink colormap when ``ink``) or RGB, values in [0, 1]."""
    img = np.clip(np.asarray(img, dtype=np.float64), 0, 1)
    ax.imshow(img, cmap=(CMAP if ink else "gray") if img.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def photo_rows(rows, row_titles, title=None, max_cols=16):
    """Aligned rows of photographs, grey ``(N, H, W)`` or colour ``(N, H, W, 3)``: one mosaic per row.

    The photographic twin of :func:`image_rows` (which draws dark ink on paper): grey is shown as light
    on dark, as a camera sees it, and colour images keep their colours. Row ``k`` is titled
    ``row_titles[k]``; more than ``max_cols`` images wrap inside the row's mosaic.
    """
    rows = [np.clip(np.asarray(r, dtype=np.float64), 0, 1) for r in rows]
    n = len(rows[0])
    if any(len(r) != n for r in rows):
        raise ValueError(f"photo_rows: every row needs the same number of images, got {[len(r) for r in rows]}")
    if len(row_titles) != len(rows):
        raise ValueError(f"photo_rows: {len(rows)} rows but {len(row_titles)} titles")
    ncols = min(n, max_cols)
    h, w = rows[0].shape[1:3]
    blocks = int(np.ceil(n / ncols))
    cell = PHOTO_CELL_SMALL if max(h, w) <= 64 else PHOTO_CELL_LARGE
    width = min(PHOTO_MAX_WIDTH, 1.0 + ncols * cell)
    row_h = blocks * (width - 1.0) / ncols * h / w
    fig = Figure(figsize=(width, 0.6 + len(rows) * (row_h + 0.35)))
    axes = np.atleast_1d(fig.subplots(len(rows), 1))
    gap = max(1, h // 14)
    for ax, row, row_title in zip(axes, rows, row_titles):
        padded = np.concatenate([row, np.zeros((blocks * ncols - n,) + row.shape[1:])])
        _show(ax, mosaic(padded, blocks, ncols, gap=gap, fill=0.5), row_title)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


#: Longest side, in pixels, an image keeps in :func:`image_strip` (larger ones are shown subsampled).
STRIP_MAX_PIXELS = 1024
#: Most height / width (or width / height) a panel of :func:`image_strip` takes; a longer image is
#: stretched to it, and its title says so.
STRIP_MAX_ASPECT = 4.0


def _subsample(im, longest):
    """Every k-th pixel of ``im`` so that its longer side is at most ``longest`` (a view, no copy)."""
    k = max(1, -(-max(im.shape[:2]) // longest))
    return im[::k, ::k]


def image_strip(images, titles, title=None, ink=False, cell=1.2):
    """Images of one size side by side, each with its own title: ``clean / noisy / denoised`` panels, or
    a path decoded between two codes. Grey ``(H, W)`` or colour ``(H, W, 3)``; ``ink`` draws grey as
    dark ink on paper (the bitmaps, MNIST).

    The figure's size is bounded whatever the images: each panel is ``cell`` inches wide and at most
    :data:`STRIP_MAX_ASPECT` times as tall (or as wide), an image more elongated than that is stretched
    to fill its panel (its title says so), and images are subsampled to :data:`STRIP_MAX_PIXELS` a side.
    """
    if len(titles) != len(images):
        raise ValueError(f"image_strip: {len(images)} images but {len(titles)} titles")
    h, w = np.shape(images[0])[:2]
    images = [np.asarray(_subsample(np.asarray(im), STRIP_MAX_PIXELS), dtype=np.float32) for im in images]
    ratio = h / w
    stretched = not (1 / STRIP_MAX_ASPECT <= ratio <= STRIP_MAX_ASPECT)
    ratio = min(max(ratio, 1 / STRIP_MAX_ASPECT), STRIP_MAX_ASPECT)
    fig = Figure(figsize=(cell * len(images), cell * ratio + 0.7))
    axes = np.atleast_1d(fig.subplots(1, len(images)))
    for ax, im, t in zip(axes, images, titles):
        _show(ax, im, t, ink)
        if stretched:
            ax.set_aspect("auto")
    if title:
        fig.suptitle(title + (f" ({w}x{h} pixels, stretched to fit)" if stretched else ""))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ runs
#: History keys drawn by :func:`training_curves` (in this order) and their panel titles.
CURVE_TITLES = {"loss": "loss (lower is better)", "recon": "reconstruction (BCE)",
                "kl": "KL divergence", "d_loss": "discriminator loss", "g_loss": "generator loss",
                "d_real": "D(real): mean probability", "d_fake": "D(fake): mean probability"}
#: Below this many epochs, each point of a curve gets a marker.
MARKER_MAX_POINTS = 30
#: A positive curve spanning more than this ratio is drawn on a log axis.
LOG_SPAN = 100.0


def training_curves(history, title=None):
    """One panel per loss of a ``history`` (``model.history_``), training and validation together.

    Draws the keys of :data:`CURVE_TITLES` that are present, or else every key except throughput and
    ``val_*``; a positive curve spanning more than :data:`LOG_SPAN` gets a log axis.
    """
    keys = [k for k in CURVE_TITLES if k in history]
    keys = keys or [k for k in history if k != "samples_per_s" and not k.startswith("val_")]
    if not keys:
        raise ValueError(f"training_curves: the history has no loss to draw (keys {sorted(history)})")
    fig = Figure(figsize=(4.2 * len(keys), 3.4))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for ax, k in zip(axes, keys):
        v = np.asarray(history[k], dtype=np.float64)
        if len(v) > 2 and v.min() > 0 and v.max() / v.min() > LOG_SPAN:
            ax.set_yscale("log")
        ep = np.arange(1, len(v) + 1)
        marker = "o" if len(ep) < MARKER_MAX_POINTS else None
        ax.plot(ep, v, marker=marker, label="train")
        if f"val_{k}" in history:
            val = np.asarray(history[f"val_{k}"], dtype=np.float64)
            ax.plot(np.arange(1, len(val) + 1), val, marker=marker, label="validation")
            ax.legend()
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(k)
        ax.set_title(CURVE_TITLES.get(k, k))
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


#: Up to this many classes get a colour and a legend entry each in :func:`class_scatter`.
MAX_LEGEND_CLASSES = 10
#: Up to this many points are named one by one when there are too many classes for a legend.
MAX_NAMED_POINTS = 64


def class_scatter(Z, labels=None, class_names=None, title=None, xlabel="$z_1$", ylabel="$z_2$"):
    """2-D codes as points, coloured by class with a legend (up to :data:`MAX_LEGEND_CLASSES` classes);
    with more classes, each of up to :data:`MAX_NAMED_POINTS` points is named instead.

    Parameters
    ----------
    Z : array ``(N, 2)``
    labels : int array ``(N,)``, optional
    class_names : list of str, optional
        ``class_names[labels[i]]`` names point ``i``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"class_scatter needs 2-D codes (N, 2), got shape {Z.shape}")

    def name(k):
        return class_names[k] if class_names is not None and k < len(class_names) else str(k)

    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    if labels is not None and len(np.unique(labels)) <= MAX_LEGEND_CLASSES:
        for k in np.unique(labels):
            sel = labels == k
            ax.scatter(Z[sel, 0], Z[sel, 1], s=8, alpha=0.7, label=name(int(k)))
        ax.legend(fontsize=8, markerscale=2, loc="best")
    else:
        ax.scatter(Z[:, 0], Z[:, 1], s=14, alpha=0.8)
        if labels is not None and len(Z) <= MAX_NAMED_POINTS:
            for (x, y), k in zip(Z, labels):
                ax.annotate(name(int(k)), (x, y), fontsize=8, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig
