"""Reading the whole number from digit boxes. Pure numpy: the app calls it on the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reading:
    """The number read from an image and the indices of the boxes that spell it (left to right)."""

    number: int  # -1 when no digit is found
    text: str  # "" when no digit is found; keeps leading zeros ("007")
    kept: tuple[int, ...]


def xyxy(boxes_xywh) -> np.ndarray:
    """(N, 4) COCO xywh boxes as (N, 4) float64 corner boxes."""
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) xyxy boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def suppress_duplicates(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_thresh: float = 0.5) -> np.ndarray:
    """Class-agnostic NMS: of boxes on the same spot (any digits), keep the best-scored one.

    Returns kept indices in descending score order.
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    sorted_boxes = boxes_xyxy[order].astype(np.float64)
    iou = box_iou(sorted_boxes, sorted_boxes)
    alive = np.ones(n, bool)
    keep = []
    for i in range(n):
        if not alive[i]:
            continue
        keep.append(order[i])
        alive &= iou[i] <= iou_thresh
        alive[i] = False
    return np.asarray(keep, np.int64)


def read_number(
    boxes_xywh,
    scores,
    digits,
    score_thresh: float = 0.5,
    iou_thresh: float = 0.5,
) -> Reading:
    """Read a whole number from digit boxes.

    ``boxes_xywh``: (N, 4) COCO boxes; ``scores``: (N,); ``digits``: (N,) digits 0..9.
    Boxes under ``score_thresh`` are ignored, overlapping boxes with different digits are
    reduced to the best one, and the rest are read left to right by their x-centre.
    """
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    d = np.asarray(digits, np.int64).reshape(-1)
    idx = np.nonzero(s >= score_thresh)[0]
    if len(idx) == 0:
        return Reading(-1, "", ())
    keep = idx[suppress_duplicates(xyxy(b[idx]), s[idx], iou_thresh)]
    return _spell(b, d, keep)


def read_all(boxes_xywh, digits) -> Reading:
    """Every box, left to right by its x-centre (ties keep their order): how ground truth and
    checked boxes are read, with no threshold and no duplicate suppression."""
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    d = np.asarray(digits, np.int64).reshape(-1)
    return _spell(b, d, np.arange(len(b)))


def _spell(b: np.ndarray, d: np.ndarray, keep: np.ndarray) -> Reading:
    """The number the ``keep`` boxes spell, read left to right by x-centre."""
    if len(keep) == 0:
        return Reading(-1, "", ())
    cx = b[keep, 0] + b[keep, 2] / 2
    keep = keep[np.argsort(cx, kind="stable")]
    text = "".join(str(int(v)) for v in d[keep])
    return Reading(int(text), text, tuple(int(k) for k in keep))
