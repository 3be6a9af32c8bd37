"""Running a model over images larger than it was trained on.

A model trained on small images of a fixed size (MNIST's 28x28, the 5x7 font) processes a photo of
any size in overlapping tiles: :func:`tile_image` cuts ``(H, W[, C])`` into ``(th, tw)`` tiles covering
every pixel (small images are padded by reflection), :func:`untile` averages the overlapping outputs
back into an image of the original size, and :func:`apply_tiled` does both around a function of
flattened tiles, in memory that stays flat in the image size.

A fully convolutional model takes any size instead: :func:`apply_blocks` runs it over big images in
blocks with a margin of context, so the result equals a whole-image pass.
"""
from __future__ import annotations

import numpy as np

from .._validation import pair, positive_int

__all__ = ["tile_image", "untile", "apply_tiled", "apply_blocks"]


def _starts(size, tile, step):
    """Tile origins along one axis: every ``step``, plus one flush with the end so all pixels are covered."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, step))
    if starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def _tile_and_stride(owner, tile, stride):
    th, tw = pair(owner, "tile", tile)
    sh, sw = pair(owner, "stride", stride if stride is not None else (th, tw))
    if sh > th or sw > tw:
        raise ValueError(f"{owner}: stride {(sh, sw)} is longer than the tile {(th, tw)}: the pixels between "
                         "tiles would not be processed; use a stride <= the tile")
    return th, tw, sh, sw


def _pad_small(x, th, tw):
    """``x`` padded at the bottom/right up to one tile where it is smaller (reflection; edge when 1 pixel wide)."""
    H, W = x.shape[:2]
    ph, pw = max(th - H, 0), max(tw - W, 0)
    if ph or pw:
        pad = [(0, ph), (0, pw)] + [(0, 0)] * (x.ndim - 2)
        x = np.pad(x, pad, mode="reflect" if min(H, W) > 1 else "edge")
    return x


def tile_image(image, tile, stride=None):
    """Cut an image into tiles that cover every pixel.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
    tile : int or (th, tw)
    stride : int or (sh, sw), optional
        Step between tile origins, at most ``tile`` (default: ``tile``, no overlap). The last tile of each row/column is
        placed flush with the border, so tiles may overlap there. An image smaller than a tile is padded
        by reflection (by edge repetition where it is a single pixel wide).

    Returns
    -------
    tiles : ndarray of shape (n, th, tw[, C])
    layout : dict
        What :func:`untile` needs: original shape, padded shape, tile origins.
    """
    x = np.asarray(image)
    if x.ndim not in (2, 3):
        raise ValueError(f"tile_image: expected an (H, W) or (H, W, C) image, got shape {x.shape}")
    th, tw, sh, sw = _tile_and_stride("tile_image", tile, stride)
    H, W = x.shape[:2]
    x = _pad_small(x, th, tw)
    ys, xs = _starts(x.shape[0], th, sh), _starts(x.shape[1], tw, sw)
    tiles = np.stack([x[y:y + th, z:z + tw] for y in ys for z in xs])
    layout = {"shape": (H, W) + tuple(np.shape(image)[2:]), "padded": x.shape, "tile": (th, tw), "ys": ys, "xs": xs}
    return tiles, layout


def untile(tiles, layout) -> np.ndarray:
    """Reassemble :func:`tile_image`'s tiles (possibly processed) into the original image size.

    Overlapping pixels are the mean of every tile covering them.
    """
    th, tw = layout["tile"]
    tiles = np.asarray(tiles)
    n = len(layout["ys"]) * len(layout["xs"])
    if tiles.shape[0] != n or tiles.shape[1:3] != (th, tw):
        raise ValueError(f"untile: expected {n} tiles of {th}x{tw}, got shape {tiles.shape}")
    rest = tiles.shape[3:]
    acc = np.zeros(tuple(layout["padded"][:2]) + rest, dtype=np.float64)
    count = np.zeros(tuple(layout["padded"][:2]), dtype=np.float64)
    k = 0
    for y in layout["ys"]:
        for z in layout["xs"]:
            acc[y:y + th, z:z + tw] += tiles[k]
            count[y:y + th, z:z + tw] += 1
            k += 1
    count = count.reshape(count.shape + (1,) * len(rest))
    out = acc / count
    H, W = layout["shape"][:2]
    return out[:H, :W].astype(tiles.dtype if np.issubdtype(tiles.dtype, np.floating) else np.float32)


def _tiled_rows(fn, x, th, tw, sh, sw, batch_size, tick, repeat3=False):
    """The work of ``untile(fn(tile_image(x)))``, in bounded memory: yields ``(r0, r1, rows)``, the output
    rows ``r0:r1`` of the (unpadded) image, as soon as no later tile touches them.

    Tiles go through ``fn`` ``batch_size`` at a time, in :func:`tile_image`'s order, and each output
    pixel sums its tiles in that order (float64), so the result is exactly :func:`untile`'s. Only
    ``batch_size`` tiles and the rows the current tiles cover are held at any time. ``repeat3``: ``x``
    is grey and ``fn`` takes colour tiles; each tile is repeated over 3 channels (channels last).
    """
    H, W = x.shape[:2]
    x = _pad_small(x, th, tw)
    Hp, Wp = x.shape[:2]
    rest = (3,) if repeat3 else x.shape[2:]
    ys, xs = _starts(Hp, th, sh), _starts(Wp, tw, sw)
    row_count, col_count = np.zeros(Hp), np.zeros(Wp)             # tiles covering each row / column
    for y in ys:
        row_count[y:y + th] += 1
    for z in xs:
        col_count[z:z + tw] += 1
    origins = [(y, z) for y in ys for z in xs]
    base = 0                                                      # first output row not yet yielded
    acc = np.zeros((0, Wp) + rest)                                # rows base.. of the running sums
    for s in range(0, len(origins), batch_size):
        batch = origins[s:s + batch_size]
        tiles = np.stack([x[y:y + th, z:z + tw] for y, z in batch])                 # (n, th, tw[, C])
        if repeat3:
            tiles = np.repeat(tiles[..., None], 3, axis=3)
        flat = tiles.reshape(len(batch), -1)                                           # (n, th*tw*C)
        out = np.asarray(fn(flat))
        if out.shape != flat.shape:
            raise ValueError(f"apply_tiled: fn returned shape {out.shape} for tiles of shape {flat.shape}; it "
                             "must return one reconstruction per tile")
        out = out.reshape((len(batch), th, tw) + rest)
        dtype = out.dtype if np.issubdtype(out.dtype, np.floating) else np.float32
        grow = batch[-1][0] + th - base - len(acc)
        if grow > 0:
            acc = np.concatenate([acc, np.zeros((grow, Wp) + rest)])
        for k, (y, z) in enumerate(batch):
            acc[y - base:y - base + th, z:z + tw] += out[k]
        tick(len(batch))
        last = s + len(batch) == len(origins)
        final = Hp if last else origins[s + len(batch)][0]      # no later tile starts above this row
        if final > base:
            r1 = min(final, H)
            if r1 > base:
                count = np.outer(row_count[base:r1], col_count).reshape((r1 - base, Wp) + (1,) * len(rest))
                yield base, r1, (acc[:r1 - base] / count)[:, :W].astype(dtype)
            acc, base = acc[final - base:].copy(), final


def apply_tiled(fn, image, tile, channels: int = 1, stride=None, batch_size: int = 256, progress=None):
    """Run ``fn`` (flat tiles ``(n, th*tw*channels)`` -> same shape) over a whole image, tile by tile.

    ``channels`` is what the model takes: 1 (grey) or 3 (RGB). A colour image given to a grey model is
    processed channel by channel (each channel as a grey image); a grey image given to a colour model is
    repeated over 3 channels and the result averaged back to grey. Returns an image of the input's shape,
    equal to ``untile(fn(tile_image(image)))`` (overlaps averaged).

    Memory stays flat in the image size: tiles are cut, passed to ``fn`` ``batch_size`` at a time and
    summed into the few output rows they cover, which are finished as soon as no later tile reaches
    them; beyond the input and the output image only about ``batch_size`` tiles and ``tile`` rows of
    sums are held. ``progress``, if given, is called as ``progress(done, total)`` (tiles) after every
    batch, last with ``done == total``.
    """
    x = np.asarray(image, dtype=np.float32)
    if channels not in (1, 3):
        raise ValueError(f"apply_tiled: channels must be 1 or 3, got {channels!r}")
    if x.ndim not in (2, 3):
        raise ValueError(f"apply_tiled: expected an (H, W) or (H, W, C) image, got shape {x.shape}")
    th, tw, sh, sw = _tile_and_stride("apply_tiled", tile, stride)
    batch_size = positive_int("apply_tiled", "batch_size", batch_size)
    grey_to_colour = x.ndim == 2 and channels == 3
    planes = [x[..., c] for c in range(x.shape[2])] if x.ndim == 3 and channels == 1 else [x]
    Hp, Wp = max(x.shape[0], th), max(x.shape[1], tw)
    total = len(planes) * len(_starts(Hp, th, sh)) * len(_starts(Wp, tw, sw))
    done = 0

    def tick(n):
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    out = None
    for c, plane in enumerate(planes):
        for r0, r1, rows in _tiled_rows(fn, plane, th, tw, sh, sw, batch_size, tick, repeat3=grey_to_colour):
            if grey_to_colour:
                rows = rows.mean(axis=2)                                  # the colour model's output, as grey
            if out is None:
                out = np.empty(x.shape, rows.dtype)
            if len(planes) > 1:
                out[r0:r1, :, c] = rows
            else:
                out[r0:r1] = rows
    return out


def _pad_to_multiple(x, m):
    """Reflect-pad ``x`` ``(N, C, H, W)`` at the bottom/right to multiples of ``m``; returns (padded, H, W)."""
    N, C, H, W = x.shape
    ph, pw = (-H) % m, (-W) % m
    if ph == 0 and pw == 0:
        return x, H, W
    mode = "reflect" if (ph < H and pw < W) else "symmetric" if (ph <= H and pw <= W) else "edge"
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode), H, W


def apply_blocks(fn, x, tile, margin, multiple=1, progress=None):
    """Run a fully convolutional ``fn`` (NCHW in, NCHW out, any H and W) over ``x`` ``(N, C, H, W)`` in
    ``tile x tile`` blocks, each read with ``margin`` pixels of context on every side.

    With a margin at least the network's receptive radius, every output pixel sees exactly the inputs
    a whole-image pass would give it, so the result equals ``fn(x)`` (up to float rounding) while each
    call of ``fn`` sees at most ``(tile + 2 * margin)**2`` pixels. ``tile`` and ``margin`` are rounded to
    the grid of ``multiple`` (a U-Net's pooling factor). An image no larger than ``tile`` goes whole.
    ``progress``, if given, is called as ``progress(done, total)`` in output pixels (all ``N`` images)
    after every call of ``fn``.
    """
    N, C, H, W = x.shape
    if H <= tile and W <= tile:
        out = fn(x)
        if progress is not None:
            progress(N * H * W, N * H * W)
        return out
    m = multiple
    t = max(m, tile // m * m)                     # tile and margin aligned to the pooling grid
    margin = -(-margin // m) * m
    out = np.empty_like(x)
    done = 0
    for i0 in range(0, H, t):
        for j0 in range(0, W, t):
            a0, a1 = max(i0 - margin, 0), min(i0 + t + margin, H)
            b0, b1 = max(j0 - margin, 0), min(j0 + t + margin, W)
            block = fn(np.ascontiguousarray(x[:, :, a0:a1, b0:b1]))
            i1, j1 = min(i0 + t, H), min(j0 + t, W)
            out[:, :, i0:i1, j0:j1] = block[:, :, i0 - a0:i1 - a0, j0 - b0:j1 - b0]
            done += N * (i1 - i0) * (j1 - j0)
            if progress is not None:
                progress(done, N * H * W)
    return out
