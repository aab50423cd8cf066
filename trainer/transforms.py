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

    def __init__(self, rng: random.Random | None = None, strength: float = 1.0) -> None:
        self.rng = rng or random.Random()
        self.k = strength

    def __call__(self, img: Image.Image, boxes: np.ndarray):
        r = self.rng
        if len(boxes) and r.random() < 0.5 * self.k:
            img, boxes = self._crop(img, boxes)
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
