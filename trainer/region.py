"""Reading one region of a photo that a person pointed at ("read inside this box").

Pure geometry on numpy boxes (COCO xywh in original pixels); :meth:`trainer.predict.Predictor.
predict_region` runs the model. The region is padded like a training crop (SVHN photos show a
margin around their digits), read at the model's own input size, and only what lies mostly
inside the person's rectangle is kept.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DigitError

MOSTLY_INSIDE = 0.5  # a box with at least this share of its area inside a rectangle belongs to it
REGION_DECODE_PIXELS = 16_000_000  # a bigger photo is decoded reduced to about this for a region read

Rect = tuple[float, float, float, float]  # xywh


def clip_rect(rect, width: int, height: int) -> Rect:
    """``rect`` (xywh, any sign of w/h) cut to the image; DigitError if nothing of it is inside."""
    x, y, w, h = (float(v) for v in rect)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise DigitError(f"the region {rect} is not a rectangle")
    if w < 0:
        x, w = x + w, -w
    if h < 0:
        y, h = y + h, -h
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise DigitError(f"the region {rect} is not inside the {width}x{height} image")
    return x0, y0, x1 - x0, y1 - y0


def padded_crop(rect: Rect, width: int, height: int, pad_x: float, pad_y: float) -> tuple[int, int, int, int]:
    """The crop (x0, y0, x1, y1) to read ``rect`` from: padded by ``pad_x``/``pad_y`` times its
    height on each side (as if the digits filled it, like a training crop), inside the image."""
    x, y, w, h = rect
    x0, x1 = math.floor(x - pad_x * h), math.ceil(x + w + pad_x * h)
    y0, y1 = math.floor(y - pad_y * h), math.ceil(y + h + pad_y * h)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def fraction_inside(boxes: np.ndarray, rect) -> np.ndarray:
    """Share of each xywh box's area that lies inside the xywh ``rect`` (0 for empty boxes)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(b):
        return np.zeros(0)
    x, y, w, h = (float(v) for v in rect)
    iw = np.clip(np.minimum(b[:, 0] + b[:, 2], x + w) - np.maximum(b[:, 0], x), 0, None)
    ih = np.clip(np.minimum(b[:, 1] + b[:, 3], y + h) - np.maximum(b[:, 1], y), 0, None)
    area = b[:, 2] * b[:, 3]
    return np.where(area > 0, iw * ih / np.maximum(area, 1e-12), 0.0)


def mostly_inside(boxes: np.ndarray, rect) -> np.ndarray:
    """Which xywh boxes lie mostly inside ``rect`` (see :data:`MOSTLY_INSIDE`)."""
    return fraction_inside(boxes, rect) >= MOSTLY_INSIDE
