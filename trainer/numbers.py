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


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, M) intersection areas of (N, 4) and (M, 4) xyxy boxes, with their (N, 1) and (1, M) areas."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter, area_a[:, None], area_b[None, :]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of (N, 4) and (M, 4) xyxy boxes."""
    inter, area_a, area_b = _overlap(a, b)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


# A box this much inside another (intersection over the smaller box's area) is the same digit
# read twice: a narrow "1" box inside the wider box of a "4", two boxes on one "0"'s halves.
CONTAIN = 0.7
# Where a row of digits parts into numbers (a house number and the flat number beside it, a digit
# of a neighbouring sign at the photo's edge): at a gap, in mean digit heights of its two
# neighbours, wider than RUN_GAP and than RUN_SPREAD times the row's other gaps; two digits alone
# part only beyond PAIR_GAP. Relative, so that widely spaced type (meters, labels) stays one
# number.
RUN_GAP = 0.3
RUN_SPREAD = 2.0
PAIR_GAP = 0.8
# ... and only where the step from digit centre to digit centre stands out too, PITCH_SPREAD times
# the row's other steps: a narrow "1" (or a box drawn short of its glyph) widens the gaps beside
# it, not the steps, which printed type keeps even ("T2182" is not "21" and "82"). On truth boxes
# (one number per image) 0.24% of SVHN train numbers part and 0.06% of extra (0.30% and 0.08%
# on gaps alone); of 400 held-out printed synthetic numbers 0.5% (3.75% on gaps alone).
PITCH_SPREAD = 1.5


def box_containment(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection of (N, 4) and (M, 4) xyxy boxes over the smaller box's area."""
    inter, area_a, area_b = _overlap(a, b)
    smaller = np.minimum(area_a, area_b)
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-9), 0.0)


def same_spot(a: np.ndarray, b: np.ndarray, iou_thresh: float = 0.5, contain: float = CONTAIN) -> np.ndarray:
    """(N, M) which boxes of ``a`` and ``b`` (xyxy) stand on the same spot: IoU above
    ``iou_thresh``, or one at least ``contain`` inside the other."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (box_iou(a, b) > iou_thresh) | (box_containment(a, b) >= contain)


def suppress_duplicates(
    boxes_xyxy: np.ndarray, scores: np.ndarray, iou_thresh: float = 0.5, contain: float = CONTAIN
) -> np.ndarray:
    """Class-agnostic NMS: of boxes on the same spot (any digits), keep the best-scored one.

    Boxes on the same spot overlap by IoU above ``iou_thresh`` or lie ``contain`` inside each
    other (:func:`same_spot`). Returns kept indices in descending score order.
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")
    sorted_boxes = boxes_xyxy[order].astype(np.float64)
    dup = same_spot(sorted_boxes, sorted_boxes, iou_thresh, contain)
    alive = np.ones(n, bool)
    keep = []
    for i in range(n):
        if not alive[i]:
            continue
        keep.append(order[i])
        alive &= ~dup[i]
        alive[i] = False
    return np.asarray(keep, np.int64)


def group_numbers(boxes: np.ndarray) -> list[np.ndarray]:
    """Group xyxy digit boxes into lines of text: similar height, side by side, small gaps.

    Loose on purpose (gaps up to 0.8 digit heights): it finds where numbers are in a whole
    photo; :func:`split_runs` then parts a line into numbers.
    """
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        x1, y1, x2, y2 = (boxes[:, i, None] for i in range(4))
        h = y2 - y1
        hmin, hmax = np.minimum(h, h.T), np.maximum(h, h.T)
        vover = np.minimum(y2, y2.T) - np.maximum(y1, y1.T)
        gap = np.maximum(x1, x1.T) - np.minimum(x2, x2.T)
        link = (vover >= 0.4 * hmin) & (hmax <= 1.7 * np.maximum(hmin, 1e-6)) & (gap <= 0.8 * hmax)
        for i, j in zip(*np.nonzero(np.triu(link, 1))):
            parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [np.asarray(g, np.int64) for g in groups.values()]


def split_runs(boxes: np.ndarray) -> list[np.ndarray]:
    """Part xyxy boxes, taken left to right by x-centre, into numbers at the gaps that stand out
    (see :data:`RUN_GAP`). Returns index arrays, left to right."""
    n = len(boxes)
    if n == 0:
        return []
    b = np.asarray(boxes, np.float64)
    order = np.argsort((b[:, 0] + b[:, 2]) / 2, kind="stable")
    left, right = b[order[:-1]], b[order[1:]]
    height = ((left[:, 3] - left[:, 1]) + (right[:, 3] - right[:, 1])) / 2
    gaps = (right[:, 0] - left[:, 2]) / np.maximum(height, 1e-9)
    if len(gaps) == 1:
        cut = gaps > PAIR_GAP
    else:
        steps = ((right[:, 0] + right[:, 2]) - (left[:, 0] + left[:, 2])) / 2
        others = np.array([np.median(np.delete(gaps, k)) for k in range(len(gaps))])
        other_steps = np.array([np.median(np.delete(steps, k)) for k in range(len(steps))])
        cut = (gaps > np.maximum(RUN_GAP, RUN_SPREAD * others)) & (steps > PITCH_SPREAD * other_steps)
    runs = [[int(order[0])]]
    for j, c in zip(order[1:], cut):
        if c:
            runs.append([int(j)])
        else:
            runs[-1].append(int(j))
    return [np.asarray(r, np.int64) for r in runs]


def choose_number(boxes_xyxy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices of the boxes that spell the image's number, of distinct (deduplicated) digit boxes.

    The number is the line (:func:`group_numbers`), then the run of close digits in it
    (:func:`split_runs`), with the highest summed score: several confident digits in a row beat
    a lone digit-like mark, and a number beats the stray digit beside it.
    """
    b = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    if len(s) < 2:
        return np.arange(len(s), dtype=np.int64)
    line = max(group_numbers(b), key=lambda g: float(s[g].sum()))
    run = max(split_runs(b[line]), key=lambda r: float(s[line[r]].sum()))
    return line[run]


def pick_number(boxes_xyxy: np.ndarray, scores: np.ndarray, read_thresh: float) -> np.ndarray:
    """Scores after choosing the image's number (:func:`choose_number`) among its confident boxes.

    The confident boxes outside the number (and not on the same spot as one of its digits) are
    scaled below ``read_thresh``, in their order, so they are still exported for a COCO mAP, but
    neither drawn nor read.
    """
    scores = np.asarray(scores)
    strong = np.nonzero(scores >= read_thresh)[0]
    if len(strong) < 2:
        return scores
    b = np.asarray(boxes_xyxy, np.float64)[strong]
    kept = suppress_duplicates(b, scores[strong].astype(np.float64))
    number = kept[choose_number(b[kept], scores[strong][kept])]
    if len(number) == len(kept):
        return scores
    on_number = same_spot(b, b[number]).any(axis=1)
    out = scores.copy()
    _drop_under(out, strong[~on_number], read_thresh)
    return out


def _drop_under(scores: np.ndarray, where, read_thresh: float) -> None:
    """Scale ``scores[where]`` (in place) just under ``read_thresh``, keeping their order: still
    exported for a COCO mAP, but neither drawn nor read."""
    scores[where] *= np.asarray(read_thresh * 0.99, dtype=scores.dtype)


# The weakest detection that may complete a number shorter than its known digit count
# (:func:`fit_count`): as weak as the models report (their box_score_thresh). Chosen on the 362
# held-out SVHN train photos and 400 held-out printed synthetic photos, each photo given its own
# true count: floors 0.3 / 0.2 / 0.1 / 0.05 read them 0.9254 / 0.9309 / 0.9337 / 0.9365 and
# 0.7525 alike with printed_v10 (0.8978 and 0.745 without a count), 0.9337 / 0.9392 / 0.942 /
# 0.942 and 0.5675 / 0.575 / 0.585 / 0.59 with the bundled model (0.9061 and 0.505).
COUNT_FLOOR = 0.05
# How far a completing digit may stand from the end digit of the row: centre to centre, in digit
# heights, or COUNT_PITCH times the row's own median step where that is longer; its height within
# COUNT_HEIGHT times the row's mean, overlapping the end digit by 0.6 of the lower one's height.
COUNT_REACH = 1.6
COUNT_PITCH = 1.3
COUNT_HEIGHT = 1.4


@dataclass(frozen=True)
class DigitCount:
    """How many digits the numbers of a set have (a meter's 5, a bib's 4, 3 to 5), as a person
    who knows the set tells it: the reader keeps the best run of that length."""

    low: int
    high: int

    MAX = 12

    @classmethod
    def parse(cls, text: str) -> DigitCount:
        """``"4"`` or ``"3-5"``; a ValueError says what is wrong."""
        parts = str(text).strip().split("-")
        if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"digit count {text!r}: give a number of digits (4) or a range (3-5)")
        low, high = int(parts[0]), int(parts[-1])
        if not 1 <= low <= high <= cls.MAX:
            raise ValueError(f"digit count {text!r}: from 1 to {cls.MAX} digits, the smaller first")
        return cls(low, high)

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    @property
    def label(self) -> str:
        """For people: "4 digits per number", "3-5 digits per number"."""
        return f"{self} digit{'' if self.high == 1 else 's'} per number"


def fit_count(boxes_xywh, scores, raw_scores, read_thresh: float, count: DigitCount) -> np.ndarray:
    """Scores with the number read from them (:func:`read_number` at ``read_thresh``) made to
    have ``count`` digits, so that what is drawn is what is read.

    ``scores``: after :func:`pick_number`; ``raw_scores``: the model's, before it. A number with
    too many digits keeps the run of ``count.high`` neighbours with the highest summed score (the
    letter of "S0374" read as a 5 goes); its other digits, with every box on their spots, drop
    under the threshold as :func:`pick_number` drops them. A number with too few takes, one by one,
    the best-scored weaker detection (down to :data:`COUNT_FLOOR`, never one :func:`pick_number`
    dropped) that continues its row at either end, raised to the threshold; where none does, the
    number stays short. No number read: nothing changes.
    """
    s = np.asarray(scores, np.float32).copy()
    raw = np.asarray(raw_scores, np.float32).reshape(-1)
    no_digits = np.zeros(len(s), np.int64)  # only which boxes are read matters here

    def read_boxes() -> list[int]:
        return list(read_number(boxes_xywh, s, no_digits, read_thresh).kept)

    kept = read_boxes()
    if not kept or count.low <= len(kept) <= count.high:
        return s
    box = xyxy(boxes_xywh)
    if len(kept) > count.high:
        k = count.high
        start = max(range(len(kept) - k + 1), key=lambda i: float(s[kept[i : i + k]].sum()))
        stay, drop = kept[start : start + k], kept[:start] + kept[start + k :]
        spots = same_spot(box, box[drop]).any(axis=1) & ~same_spot(box, box[stay]).any(axis=1)
        _drop_under(s, spots & (s >= read_thresh), read_thresh)
        return s
    confident = s >= read_thresh
    weak = np.nonzero((raw >= COUNT_FLOOR) & (raw < read_thresh) & (s == raw))[0]
    if len(weak) and confident.any():
        weak = weak[~same_spot(box[weak], box[confident]).any(axis=1)]
    raised = _float32_at_least(read_thresh)
    while len(kept) < count.low:
        for c in _continuing(box, s, kept, weak):
            before = s[c]
            s[c] = raised
            # taken only where the number read now is the row with it: a digit that parts the row
            # into other numbers does not complete it
            if sorted(read_boxes()) == sorted([*kept, c]):
                kept.append(c)
                weak = weak[~same_spot(box[weak], box[c : c + 1]).any(axis=1)]
                break
            s[c] = before
        else:
            break
    return s


def _float32_at_least(value: float) -> np.float32:
    """The smallest float32 not under ``value``: a raised score passes the threshold whether it
    is compared in float32 (the app) or float64 (:func:`read_number`)."""
    v = np.float32(value)
    return v if float(v) >= value else np.nextafter(v, np.float32(np.inf))


def _continuing(box: np.ndarray, s: np.ndarray, kept: list[int], weak: np.ndarray) -> list[int]:
    """Those of ``weak`` that continue the row of ``kept`` at either end, best-scored first."""
    order = sorted(kept, key=lambda i: box[i, 0] + box[i, 2])
    height = box[order, 3] - box[order, 1]
    mean_h = float(height.mean())
    centres = (box[order, 0] + box[order, 2]) / 2
    reach = COUNT_REACH * mean_h
    if len(order) > 1:
        reach = max(reach, COUNT_PITCH * float(np.median(np.diff(centres))))
    fits = []
    for c in weak:
        h = box[c, 3] - box[c, 1]
        if not 1 / COUNT_HEIGHT <= h / mean_h <= COUNT_HEIGHT:
            continue
        centre = (box[c, 0] + box[c, 2]) / 2
        end = order[0] if centre < centres[0] else order[-1]
        if centres[0] <= centre <= centres[-1]:
            continue  # inside the row: not a continuation
        step = abs(centre - (box[end, 0] + box[end, 2]) / 2)
        overlap = min(box[c, 3], box[end, 3]) - max(box[c, 1], box[end, 1])
        end_h = box[end, 3] - box[end, 1]
        if 0.3 * mean_h < step <= reach and overlap >= 0.6 * min(h, end_h):
            fits.append(int(c))
    return sorted(fits, key=lambda c: -float(s[c]))


def read_number(
    boxes_xywh,
    scores,
    digits,
    score_thresh: float = 0.5,
    iou_thresh: float = 0.5,
    choose: bool = True,
) -> Reading:
    """Read a whole number from digit boxes.

    ``boxes_xywh``: (N, 4) COCO boxes; ``scores``: (N,); ``digits``: (N,) digits 0..9.
    Boxes under ``score_thresh`` are ignored, boxes on the same spot with different digits are
    reduced to the best one, and with ``choose`` only the number (:func:`choose_number`) is
    read, left to right by x-centre; without it every remaining box is.
    """
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    d = np.asarray(digits, np.int64).reshape(-1)
    idx = np.nonzero(s >= score_thresh)[0]
    if len(idx) == 0:
        return Reading(-1, "", ())
    boxes = xyxy(b[idx])
    kept = suppress_duplicates(boxes, s[idx], iou_thresh)
    if choose:
        kept = kept[choose_number(boxes[kept], s[idx][kept])]
    return _spell(b, d, idx[kept])


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
