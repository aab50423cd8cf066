"""Plain data of the document (no Qt): boxes, predictions, per-image state and what is shown of
them (the pure edits of that state are :mod:`digitgui.edits`).

Each image has two layers:

* the **checked** layer: boxes a person drew, fixed or accepted (ground truth counts too);
  stored as an immutable tuple of :class:`Box`, so an undo step is just "old tuple, new tuple";
* the **predicted** layer: the model's raw detections (all scores >= 0.05), never modified.
  What is shown of it depends on the score threshold, on overlap with checked boxes and on the
  spots the user emptied (``hidden``).

A deleted box is remembered by *where* it was, not by which detection it was: deleting a box
means "no digit here", so every prediction on that spot (IoU >= :data:`HIDE_IOU`, or mostly
inside it or around it as :data:`trainer.numbers.CONTAIN` says; any digit, any model) stays
hidden, also after re-prediction by another model. A prediction turned into a checked box hides
its own spot the same way.

A **region read** ("read inside this box") is the model's reading of one rectangle the person
pointed at. It is kept in the checked layer (so it is undoable, journaled and saved like any
edit) and laid over the model's whole-image detections: predictions mostly inside its rectangle
give way to its own (:func:`predictions`). Re-predicting the image replaces only the
whole-image detections, so a read the person asked for stays.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.numbers import (
    CONTAIN,
    Reading,
    box_containment,
    box_iou,
    read_all,
    read_number,
    same_spot,
    suppress_duplicates,
    xyxy,
)
from trainer.region import mostly_inside

UNKNOWN_DIGIT = -1  # a box drawn by hand whose digit has not been typed yet
DUPLICATE_IOU = 0.5  # a prediction overlapping a checked box this much is not shown
HIDE_IOU = 0.5  # a prediction overlapping an emptied spot at least this much is not shown

Rect = tuple[float, float, float, float]  # xywh in original image pixels


class Status(enum.IntEnum):
    """Where an image stands in the user's work (ordered by progress)."""

    NOT_SEEN = 0
    PREDICTED = 1
    LABELLED = 2  # has boxes from a ground-truth file, not reviewed in the app
    EDITED = 3
    REVIEWED = 4

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.NOT_SEEN: "not seen",
    Status.PREDICTED: "predicted",
    Status.LABELLED: "labelled (ground truth)",
    Status.EDITED: "edited",
    Status.REVIEWED: "reviewed",
}


@dataclass(frozen=True)
class Box:
    """A checked box in original image pixels (COCO xywh). ``digit`` is 0..9 or UNKNOWN_DIGIT."""

    id: int
    x: float
    y: float
    w: float
    h: float
    digit: int
    score: float = 1.0

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True)
class Prediction:
    """Raw detections of one image (arrays are treated as immutable)."""

    boxes: np.ndarray  # (N, 4) xywh float32, original pixels
    scores: np.ndarray  # (N,) float32
    digits: np.ndarray  # (N,) int64 0..9
    model: str = ""  # fingerprint of the model that made them ("" when unknown)

    @staticmethod
    def empty() -> Prediction:
        return Prediction(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


@dataclass(frozen=True)
class RegionRead:
    """The model's detections inside one rectangle a person asked it to read (plain tuples, so
    layers compare by value). Boxes are xywh in original pixels."""

    rect: Rect
    boxes: tuple[Rect, ...] = ()
    scores: tuple[float, ...] = ()
    digits: tuple[int, ...] = ()
    model: str = ""  # fingerprint of the model that read it

    @staticmethod
    def of(rect, boxes, scores, digits, model: str = "") -> RegionRead:
        """From arrays (e.g. a worker's result), rounded like the project file stores them."""
        return RegionRead(
            spot(rect),
            tuple(spot(b) for b in np.asarray(boxes, np.float64).reshape(-1, 4)),
            tuple(round(float(v), 5) for v in np.asarray(scores).reshape(-1)),
            tuple(int(d) for d in np.asarray(digits).reshape(-1)),
            str(model),
        )


@dataclass(frozen=True)
class Layer:
    """The undoable part of an image's state."""

    boxes: tuple[Box, ...] = ()
    hidden: frozenset[Rect] = frozenset()  # spots where the person said "no digit here"
    status: Status = Status.NOT_SEEN
    reads: tuple[RegionRead, ...] = ()  # region reads, oldest first (later ones win where they overlap)


@dataclass
class ImageEntry:
    """One image of the open folder."""

    name: str
    path: Path
    image_id: int
    size: tuple[int, int] | None = None
    layer: Layer = field(default_factory=Layer)
    pred: Prediction | None = None
    error: str | None = None
    has_gt: bool = False
    # hidden predictions of an old project file, by index, until predictions to resolve them arrive
    legacy_suppressed: frozenset[int] = frozenset()
    # (pred, reads, merged): the last result of :func:`predictions`, reused while both are the same
    _merged: tuple | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Shown:
    """A box as displayed: ``key`` > 0 is a checked box id, ``key`` < 0 is prediction -(i+1)."""

    key: int
    x: float
    y: float
    w: float
    h: float
    digit: int
    score: float
    checked: bool

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


def merge_reads(pred: Prediction | None, reads: tuple[RegionRead, ...]) -> Prediction | None:
    """Whole-image detections with the region reads laid over them, in order: the detections
    mostly inside a read's rectangle are replaced by the read's own."""
    if not reads:
        return pred
    base = pred if pred is not None else Prediction.empty()
    boxes = base.boxes.astype(np.float32).reshape(-1, 4)
    scores, digits = base.scores.astype(np.float32), base.digits.astype(np.int64)
    for r in reads:
        keep = ~mostly_inside(boxes, r.rect)
        boxes = np.concatenate([boxes[keep], np.asarray(r.boxes, np.float32).reshape(-1, 4)])
        scores = np.concatenate([scores[keep], np.asarray(r.scores, np.float32)])
        digits = np.concatenate([digits[keep], np.asarray(r.digits, np.int64)])
    return Prediction(boxes, scores, digits, pred.model if pred is not None else reads[-1].model)


def predictions(entry: ImageEntry) -> Prediction | None:
    """The detections of an image as shown, read and exported: the model's whole-image ones with
    the layer's region reads laid over them. Prediction keys (:func:`pred_key`) index these."""
    reads = entry.layer.reads
    if not reads:
        return entry.pred
    hit = entry._merged
    if hit is not None and hit[0] is entry.pred and hit[1] is reads:
        return hit[2]
    merged = merge_reads(entry.pred, reads)
    entry._merged = (entry.pred, reads, merged)
    return merged


def status_of(entry: ImageEntry) -> Status:
    """The status shown to the user (``PREDICTED`` is derived: predictions, no human state)."""
    if entry.layer.status == Status.NOT_SEEN and entry.pred is not None:
        return Status.PREDICTED
    return entry.layer.status


def pred_key(index: int) -> int:
    return -(index + 1)


def pred_index(key: int) -> int:
    return -key - 1


def spot(rect) -> Rect:
    """A rectangle as a hidden spot: plain floats, rounded to 1/100 pixel (stable in the sidecar)."""
    return tuple(round(float(v), 2) for v in rect)


def resolve_legacy(indices, pred: Prediction) -> frozenset[Rect]:
    """Spots of predictions an old project file hid by index (indices out of range are dropped)."""
    return frozenset(spot(pred.boxes[i]) for i in indices if 0 <= i < len(pred.boxes))


def rect_iou(a: tuple[float, float, float, float], b: np.ndarray) -> np.ndarray:
    """IoU of one xywh box against (N, 4) xywh boxes."""
    return box_iou(xyxy([a]), xyxy(b))[0]


def _on_hidden_spot(a: tuple[float, float, float, float], b: np.ndarray) -> np.ndarray:
    """Which of (N, 4) xywh boxes ``b`` stand on the emptied spot ``a``: IoU at least
    :data:`HIDE_IOU`, or one mostly inside the other (the rule that reads two such boxes as one digit)."""
    return (rect_iou(a, b) >= HIDE_IOU) | (box_containment(xyxy([a]), xyxy(b))[0] >= CONTAIN)


def visible_predictions(entry: ImageEntry, threshold: float) -> list[int]:
    """Indices of raw predictions shown at ``threshold``.

    None once the image is reviewed, and none on an image with ground truth: its truth is what is
    shown, read and exported (the model's own reading is named beside it, not mixed into it).
    """
    pred, layer = predictions(entry), entry.layer
    if pred is None or layer.status == Status.REVIEWED or entry.has_gt or len(pred.scores) == 0:
        return []
    idx = [int(i) for i in np.nonzero(pred.scores >= threshold)[0]]
    if idx and layer.hidden:
        kept = _off_hidden_spots(layer, pred.boxes[np.asarray(idx)])
        idx = [i for i, ok in zip(idx, kept) if ok]
    if idx and layer.boxes:
        checked = np.asarray([b.rect for b in layer.boxes], np.float64)
        under = same_spot(xyxy(pred.boxes[np.asarray(idx)]), xyxy(checked), DUPLICATE_IOU).any(axis=1)
        idx = [i for i, gone in zip(idx, under) if not gone]
    if len(idx) < 2:
        return idx
    # the same class-agnostic duplicate suppression as reading the number, so that what is drawn,
    # what is read and what Space accepts are one and the same set of boxes
    sub = np.asarray(idx)
    keep = suppress_duplicates(xyxy(pred.boxes[sub]), pred.scores[sub].astype(np.float64), DUPLICATE_IOU)
    return sorted(int(i) for i in sub[keep])


def _off_hidden_spots(layer: Layer, boxes: np.ndarray) -> np.ndarray:
    """Which of (N, 4) xywh ``boxes`` stand on none of the spots the person emptied."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    keep = np.ones(len(b), bool)
    for r in layer.hidden:
        keep &= ~_on_hidden_spot(r, b)
    return keep


def weak_predictions(entry: ImageEntry, threshold: float) -> list[tuple[Rect, float]]:
    """(rect, score) of detections under ``threshold``, except on spots the person emptied: where a
    typed number looks for the digits the model saw but was not sure of."""
    boxes, scores, _digits = open_detections(entry)
    return [(tuple(float(v) for v in b), float(s)) for b, s in zip(boxes, scores) if s < threshold]


def open_detections(entry: ImageEntry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes xywh, scores, digits) of every detection of the image at any score, except on the
    spots the person emptied: what the model saw, for the placement of a typed number."""
    pred = predictions(entry)
    if pred is None or len(pred.scores) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    keep = _off_hidden_spots(entry.layer, pred.boxes)
    return pred.boxes[keep], pred.scores[keep], pred.digits[keep]


def spot_class_scores(entry: ImageEntry, boxes: list[Shown]) -> dict[int, tuple[float, ...]]:
    """For each shown box (by key), the best score of every digit class among the detections
    on its spot (any threshold; :func:`trainer.numbers.same_spot`, as
    :func:`trainer.placement.spots` groups them): what the model saw there besides the digit
    it shows. A box on no detection gets zeros."""
    pred = predictions(entry)
    out = {b.key: (0.0,) * 10 for b in boxes}
    if pred is None or len(pred.scores) == 0 or not boxes:
        return out
    on = same_spot(xyxy([b.rect for b in boxes]), xyxy(pred.boxes))
    for i, b in enumerate(boxes):
        by_digit = [0.0] * 10
        for j in np.nonzero(on[i])[0]:
            d = int(pred.digits[j])
            by_digit[d] = max(by_digit[d], float(pred.scores[j]))
        out[b.key] = tuple(by_digit)
    return out


def shown_boxes(entry: ImageEntry, threshold: float) -> list[Shown]:
    """Every box drawn for an image: checked boxes first, then visible predictions."""
    out = [Shown(b.id, b.x, b.y, b.w, b.h, b.digit, b.score, True) for b in entry.layer.boxes]
    p = predictions(entry)
    if p is not None:
        for i in visible_predictions(entry, threshold):
            x, y, w, h = (float(v) for v in p.boxes[i])
            out.append(Shown(pred_key(i), x, y, w, h, int(p.digits[i]), float(p.scores[i]), False))
    return out


def reading(entry: ImageEntry, threshold: float) -> Reading:
    """The number an image shows: checked boxes left to right once reviewed, else model reading."""
    shown = [s for s in shown_boxes(entry, threshold) if s.digit != UNKNOWN_DIGIT]
    if not shown:
        return Reading(-1, "", ())
    if entry.layer.status == Status.REVIEWED:
        return read_all([s.rect for s in shown], [s.digit for s in shown])
    # every shown box is read: the model's choice of number is already in what is shown
    return read_number(
        [s.rect for s in shown],
        [s.score for s in shown],
        [s.digit for s in shown],
        score_thresh=0.0,
        choose=False,
    )


def confidence(entry: ImageEntry, threshold: float) -> float:
    """Lowest score among shown predictions (2.0 when there is nothing uncertain to check)."""
    pred = predictions(entry)
    if pred is None or entry.layer.status == Status.REVIEWED or entry.has_gt:
        return 2.0
    idx = visible_predictions(entry, threshold)
    if not idx:
        return 1.5
    return float(pred.scores[idx].min())
