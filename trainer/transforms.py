"""Resizing with exact box mapping, and augmentation that keeps digits legible.

No horizontal flip anywhere: a mirrored 2 is not a 2.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps


def target_size(width: int, height: int, spec: dict, min_size: int | None = None) -> tuple[int, int]:
    """Size (w, h) an image of ``width`` x ``height`` is resized to under a preset's resize spec.

    ``{"mode": "squash", "size": S}`` squashes to S x S (the lab's recipe).
    ``{"mode": "keep", "min_size": m, "max_size": M}`` keeps the aspect ratio: the short side
    becomes m unless the long side would pass M.
    """
    if spec["mode"] == "squash":
        s = int(spec["size"])
        return s, s
    m = float(min_size or spec["min_size"])
    big = float(spec["max_size"])
    scale = min(m / min(width, height), big / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(img: Image.Image, boxes: np.ndarray | None, spec: dict, min_size: int | None = None):
    """Resize an image (and xyxy boxes) under ``spec``. Returns (image, boxes, (sx, sy))."""
    w, h = img.size
    nw, nh = target_size(w, h, spec, min_size)
    sx, sy = nw / w, nh / h
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BILINEAR)
    if boxes is not None and len(boxes):
        boxes = boxes * np.array([sx, sy, sx, sy], np.float32)
    return img, boxes, (sx, sy)


def boxes_to_original(boxes: np.ndarray, scale: tuple[float, float], size: tuple[int, int]) -> np.ndarray:
    """Map xyxy boxes from resized to original pixels, clipped to the original (w, h)."""
    sx, sy = scale
    out = boxes / np.array([sx, sy, sx, sy], np.float32)
    out[:, 0::2] = out[:, 0::2].clip(0, size[0])
    out[:, 1::2] = out[:, 1::2].clip(0, size[1])
    return out


class Augment:
    """Photometric and geometric jitter for digit photos (PIL in, PIL out, boxes follow).

    Colour, contrast, inversion (light-on-dark and dark-on-light numbers both occur), blur,
    grayscale, and a random crop that never cuts a digit. Scale jitter is done by the caller
    through ``min_size``.
    """

    def __init__(
        self,
        rng: random.Random | None = None,
        strength: float = 1.0,
        stretch: tuple[float, float] | None = None,
    ) -> None:
        self.rng = rng or random.Random()
        self.k = strength
        self.stretch = stretch

    def __call__(self, img: Image.Image, boxes: np.ndarray):
        r = self.rng
        if len(boxes) and r.random() < 0.5 * self.k:
            img, boxes = self._crop(img, boxes)
        if self.stretch and r.random() < 0.5 * self.k:
            img, boxes = stretch_width(img, boxes, r.uniform(*self.stretch))
        if r.random() < 0.8 * self.k:
            img = ImageEnhance.Brightness(img).enhance(r.uniform(0.6, 1.4))
            img = ImageEnhance.Contrast(img).enhance(r.uniform(0.6, 1.4))
            img = ImageEnhance.Color(img).enhance(r.uniform(0.3, 1.7))
        if r.random() < 0.15 * self.k:
            img = ImageOps.invert(img)
        if r.random() < 0.1 * self.k:
            img = ImageOps.grayscale(img).convert("RGB")
        if r.random() < 0.2 * self.k:
            img = img.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 1.2)))
        return img, boxes

    def _crop(self, img: Image.Image, boxes: np.ndarray):
        w, h = img.size
        x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
        x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
        r = self.rng
        left = r.uniform(0, max(0.0, x1 - 1))
        top = r.uniform(0, max(0.0, y1 - 1))
        right = r.uniform(min(float(w), x2 + 1), w)
        bottom = r.uniform(min(float(h), y2 + 1), h)
        left, top = int(left), int(top)
        right, bottom = max(int(np.ceil(right)), left + 1), max(int(np.ceil(bottom)), top + 1)
        img = img.crop((left, top, right, bottom))
        boxes = boxes - np.array([left, top, left, top], np.float32)
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, right - left)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, bottom - top)
        return img, boxes


def stretch_width(img: Image.Image, boxes: np.ndarray, factor: float):
    """Scale the width only (narrow and wide fonts); boxes follow exactly."""
    w, h = img.size
    nw = max(1, round(w * factor))
    if nw == w:
        return img, boxes
    img = img.resize((nw, h), Image.BILINEAR)
    if len(boxes):
        boxes = boxes * np.array([nw / w, 1, nw / w, 1], np.float32)
    return img, boxes


Strip = tuple[Image.Image, np.ndarray, int]  # a one-digit slice of a photo: image, xyxy box, label


def digit_strips(img: Image.Image, boxes: np.ndarray, labels: np.ndarray, rng: random.Random) -> list[Strip]:
    """Cut a photo into one-digit vertical slices, each with its own background around the digit.

    Cuts fall halfway between neighbouring digits. A digit that overlaps a neighbour
    horizontally is skipped, since no straight cut separates the two.
    """
    w, h = img.size
    if len(boxes) == 0:
        return []
    order = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2, kind="stable")
    b, lab = boxes[order], labels[order]
    n = len(b)
    strips: list[Strip] = []
    for i in range(n):
        x1, y1, x2, y2 = (float(v) for v in b[i])
        dh = y2 - y1
        if x2 - x1 < 2 or dh < 4:
            continue
        if (i > 0 and b[i - 1, 2] > x1) or (i < n - 1 and b[i + 1, 0] < x2):
            continue
        margin = rng.uniform(0.1, 0.45) * dh
        left = (b[i - 1, 2] + x1) / 2 if i > 0 else max(0.0, x1 - margin)
        right = (x2 + b[i + 1, 0]) / 2 if i < n - 1 else min(float(w), x2 + margin)
        top = max(0.0, y1 - rng.uniform(0.1, 0.4) * dh)
        bottom = min(float(h), y2 + rng.uniform(0.1, 0.4) * dh)
        box = (int(np.floor(left)), int(np.floor(top)), int(np.ceil(right)), int(np.ceil(bottom)))
        if box[2] - box[0] < 2 or box[3] - box[1] < 4:
            continue
        local = np.array([x1 - box[0], y1 - box[1], x2 - box[0], y2 - box[1]], np.float32)
        local[0::2] = local[0::2].clip(0, box[2] - box[0])
        local[1::2] = local[1::2].clip(0, box[3] - box[1])
        strips.append((img.crop(box), local, int(lab[i])))
    return strips


def compose_strips(strips: list[Strip], rng: random.Random) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """Join one-digit slices left to right into a new number at a common height.

    New neighbours and backgrounds for real digits: the detector cannot learn a digit from the
    photo it happens to sit in. Returns (image, xyxy boxes, labels).
    """
    height = max(16, int(np.median([s[0].height for s in strips]) * rng.uniform(0.8, 1.2)))
    parts, boxes, labels, x = [], [], [], 0
    for im, box, label in strips:
        k = height / im.height
        nw = max(2, round(im.width * k))
        parts.append((im.resize((nw, height), Image.BILINEAR), x))
        boxes.append([box[0] * nw / im.width + x, box[1] * k, box[2] * nw / im.width + x, box[3] * k])
        labels.append(label)
        x += nw
    canvas = Image.new("RGB", (x, height))
    for im, at in parts:
        canvas.paste(im, (at, 0))
    return canvas, np.asarray(boxes, np.float32), np.asarray(labels, np.int64)
