"""Finding numbers at any scale: a pyramid in tiles, then a re-read of every number found.

The detector reads tight crops: digits 40-90 px tall in its input. A whole photo, resized to the
model's input size, shrinks a small number to a few pixels. The search below runs the model on
tiles of the photo magnified so that smaller and smaller digits land in the range where it still
*finds* them, groups what it finds into numbers and reads each number again from a crop padded
like the training photos, at the size it reads best. Pure functions on numpy boxes and PIL
images; the model call is passed in, so this module knows nothing of devices or checkpoints.
All boxes here are xyxy in the pixels of the decoded image unless a name says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.ops import batched_nms, nms
from torchvision.transforms.functional import pil_to_tensor

from .numbers import group_numbers, suppress_duplicates
from .transforms import resize

RunFn = Callable[[list[torch.Tensor]], list[dict]]  # tensors -> {"boxes", "scores", "labels"} (numpy)


@dataclass(frozen=True)
class ScaleSearch:
    """Knobs of the search, measured with ``bench/scale.py``."""

    step: float = 2.0  # magnification between pyramid levels
    max_scale: float = 2.0  # the search never magnifies the decoded image more than this
    good_min: float = 32.0  # digits this tall in the model input are read where they were found
    crop_fill: float = 0.3  # a number this share of the image height tall: the image is a crop
    # ... if its tall digits' scores add up to this much: one large "digit" alone (a window, a
    # door frame) does not stop the search, two or more confident ones do
    crop_evidence: float = 1.0
    tile: int = 320  # tile side in level pixels
    overlap: int = 96  # tile overlap: more than a digit at the model's scale is wide
    max_pixels: int = 2_000_000  # pyramid pixels run per image; the finest levels go first
    cand_thresh: float = 0.3  # lowest score of a detection that makes a number worth re-reading
    max_regions: int = 48  # numbers re-read per image (best candidates first)
    decode_pixels: int = 3_000_000  # images are decoded reduced to about this many pixels (JPEG draft)
    pad_y: float = 0.3  # re-read crop padding above and below, in digit heights (SVHN-like)
    pad_x: float = 0.5  # ... left and right


def plan_levels(width: int, height: int, base_scale: float, cfg: ScaleSearch) -> list[float]:
    """Magnifications (of the decoded image) the pyramid runs at, coarse first.

    Each level is ``cfg.step`` times the previous one, starting one step above the whole-image
    pass at ``base_scale``; levels stop at ``cfg.max_scale`` and when their pixels would pass
    ``cfg.max_pixels`` in all.
    """
    levels: list[float] = []
    used = 0.0
    s = base_scale * cfg.step
    while s <= cfg.max_scale + 1e-9:
        px = width * height * s * s
        if used + px > cfg.max_pixels:
            break
        levels.append(s)
        used += px
        s *= cfg.step
    return levels


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Tiles (x0, y0, x1, y1) covering a ``width`` x ``height`` image with at least ``overlap``.

    All tiles have the same size (the image's size where it is smaller than a tile), so they
    batch without padding; the last row and column are aligned to the image's edge.
    """
    tw, th = min(tile, width), min(tile, height)

    def starts(n: int, t: int) -> list[int]:
        if n <= t:
            return [0]
        stride = max(1, t - overlap)
        count = math.ceil((n - t) / stride) + 1
        return sorted({min(i * stride, n - t) for i in range(count)})

    return [(x, y, x + tw, y + th) for y in starts(height, th) for x in starts(width, tw)]


def _to_tensor(img: Image.Image) -> torch.Tensor:
    return pil_to_tensor(img).float().div_(255.0)


def _batched(run: RunFn, tensors: list[torch.Tensor], batch: int) -> list[dict]:
    outs: list[dict] = []
    for i in range(0, len(tensors), batch):
        outs += run(tensors[i : i + batch])
    return outs


def search_levels(
    img: Image.Image, levels: Sequence[float], run: RunFn, cfg: ScaleSearch, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the model on the tiles of each level. Returns (xyxy, scores, labels) of candidates."""
    boxes, scores, labels = [], [], []
    w, h = img.size
    for s in levels:
        lw, lh = max(1, round(w * s)), max(1, round(h * s))
        level = img.resize((lw, lh), Image.BILINEAR)
        grid = tile_grid(lw, lh, cfg.tile, cfg.overlap)
        outs = _batched(run, [_to_tensor(level.crop(t)) for t in grid], batch)
        for (x0, y0, x1, y1), o in zip(grid, outs):
            b, sc = o["boxes"], o["scores"]
            keep = sc >= cfg.cand_thresh
            # a digit cut by an inner tile edge is found whole in the neighbouring tile
            keep &= ~((b[:, 0] < 2) & (x0 > 0)) & ~((b[:, 2] > x1 - x0 - 2) & (x1 < lw))
            keep &= ~((b[:, 1] < 2) & (y0 > 0)) & ~((b[:, 3] > y1 - y0 - 2) & (y1 < lh))
            if keep.any():
                boxes.append((b[keep] + np.array([x0, y0, x0, y0], np.float32)) / np.float32(s))
                scores.append(sc[keep])
                labels.append(o["labels"][keep])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)


def number_region(boxes: np.ndarray, width: int, height: int, cfg: ScaleSearch) -> tuple[int, int, int, int]:
    """The crop to re-read a number from: its digits padded like a training photo, inside the image."""
    dh = float(np.median(boxes[:, 3] - boxes[:, 1]))
    x0 = boxes[:, 0].min() - cfg.pad_x * dh
    x1 = boxes[:, 2].max() + cfg.pad_x * dh
    y0 = boxes[:, 1].min() - cfg.pad_y * dh
    y1 = boxes[:, 3].max() + cfg.pad_y * dh
    x0, y0 = max(0, math.floor(x0)), max(0, math.floor(y0))
    x1, y1 = min(width, math.ceil(x1)), min(height, math.ceil(y1))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def reread(
    img: Image.Image, regions: list[tuple[int, int, int, int]], spec: dict, run: RunFn, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read each region again at the model's own input size. Returns (xyxy, scores, labels)."""
    tensors, scales = [], []
    for r in regions:
        small, _, sc = resize(img.crop(r), None, spec)
        tensors.append(_to_tensor(small))
        scales.append(sc)
    boxes, scores, labels = [], [], []
    for r, sc, o in zip(regions, scales, _batched(run, tensors, batch)):
        b = o["boxes"] / np.array([sc[0], sc[1], sc[0], sc[1]], np.float32)
        boxes.append(b + np.array([r[0], r[1], r[0], r[1]], np.float32))
        scores.append(o["scores"])
        labels.append(o["labels"])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)


def _inside(boxes: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Which boxes have their centre inside any region."""
    if not regions or not len(boxes):
        return np.zeros(len(boxes), bool)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    r = np.asarray(regions, np.float32)
    return (
        (cx[:, None] >= r[None, :, 0])
        & (cx[:, None] <= r[None, :, 2])
        & (cy[:, None] >= r[None, :, 1])
        & (cy[:, None] <= r[None, :, 3])
    ).any(axis=1)


def search_image(
    img: Image.Image,
    first: dict,
    first_scale: tuple[float, float],
    run: RunFn,
    spec: dict,
    cfg: ScaleSearch,
    batch: int,
    read_thresh: float,
) -> dict:
    """Detections of one decoded image, given the whole-image pass ``first`` (in model pixels).

    ``first_scale`` is what the whole-image pass scaled the image by. Digits that pass read at a
    good size stay as they are; smaller ones, and those the pyramid finds, are grouped into
    numbers and read again from their own crops. Returns xyxy boxes in ``img`` pixels.
    """
    w, h = img.size
    sx, sy = first_scale
    b0 = first["boxes"] / np.array([sx, sy, sx, sy], np.float32)
    s0, l0 = first["scores"], first["labels"]
    good = (first["boxes"][:, 3] - first["boxes"][:, 1]) >= cfg.good_min
    tall = np.nonzero(good & (s0 >= read_thresh) & ((b0[:, 3] - b0[:, 1]) >= cfg.crop_fill * h))[0]
    evidence = float(s0[tall[suppress_duplicates(b0[tall], s0[tall])]].sum()) if len(tall) else 0.0
    if len(tall) and evidence >= cfg.crop_evidence:
        # the number fills the image: a crop, which the whole-image pass reads best
        return {"boxes": b0, "scores": s0, "labels": l0}
    lb, ls, ll = search_levels(img, plan_levels(w, h, min(sx, sy), cfg), run, cfg, batch)
    small = ~good & (s0 >= cfg.cand_thresh)
    cb = np.concatenate([b0[small], lb])
    cs = np.concatenate([s0[small], ls])
    read = good & (s0 >= cfg.cand_thresh)
    if len(cb) and read.any():  # digits the whole-image pass read at a good size: no second read
        out = ~_inside(cb, [tuple(b) for b in b0[read]])
        cb, cs = cb[out], cs[out]
    regions: list[tuple[int, int, int, int]] = []
    if len(cb):
        keep = nms(torch.from_numpy(cb), torch.from_numpy(cs), 0.5).numpy()
        cb, cs = cb[keep], cs[keep]
        groups = sorted(group_numbers(cb), key=lambda g: -float(cs[g].max()))[: cfg.max_regions]
        regions = [number_region(cb[g], w, h, cfg) for g in groups]
    rb, rs, rl = reread(img, regions, spec, run, batch)
    rest = ~_inside(b0, regions) | good
    boxes = np.concatenate([b0[rest], rb])
    scores = np.concatenate([s0[rest], rs])
    labels = np.concatenate([l0[rest], rl])
    if len(boxes):
        keep = batched_nms(
            torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), 0.5
        ).numpy()
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    return {"boxes": boxes, "scores": scores, "labels": labels}
