"""Where the digits of a known number are: laying a typed number onto a model's detections.

A person who knows the number ("0374") but drew no boxes still teaches the detector, if the
boxes can be placed: the model's detections (every digit class it considered at each spot, down
to a low score) are grouped into spots, and the typed digits are laid onto an ordered row of
spots, left to right, so that (1) the spots say "this is the typed digit" as strongly as they can
(the typed digit's class score at the spot), (2) they look like digits at all (the spot's best
score), and (3) they form a row: similar heights, side by side. A letter the model mistook for
a digit ("S" read as 5 in "S0374") is the spot left over. The placement is *confident* only when
every typed digit sits on a spot the model is sure is a digit and the row holds together; a
caller leaves other photos out rather than teach wrong boxes. :func:`place_clearly` asks more: that
no other placement, without one of the chosen spots, explains the digits about as well (typing
"19" on a row read "119": which 1 is a guess).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .numbers import same_spot, suppress_duplicates, xyxy

MIN_SPOT = 0.05  # detections under this score are not spots
SURE_DIGIT = 0.3  # a confident placement puts every digit on a spot scored at least this
CLASS_FLOOR = 1e-3  # the typed digit's score at a spot where the model never considered it
MAX_HEIGHT_RATIO = 1.7  # neighbours in a row: heights within this ratio ...
MIN_V_OVERLAP = 0.4  # ... overlapping vertically by this share of the smaller one ...
MAX_GAP = 1.6  # ... and apart by at most this many digit heights
CLOSE = math.log(2.0)  # another placement within this (summed log score) of the best is as good


@dataclass(frozen=True)
class Placement:
    """The typed number's boxes, left to right (xywh, original pixels), and how sure it is."""

    boxes: np.ndarray  # (n, 4) xywh
    digits: tuple[int, ...]
    spot_scores: tuple[float, ...]  # how sure the model is that each spot is a digit
    class_scores: tuple[float, ...]  # the typed digit's own score at each spot
    confident: bool

    @property
    def weakest(self) -> float:
        return min(self.spot_scores) if self.spot_scores else 0.0

    @property
    def gain(self) -> float:
        """What :func:`place_number` maximises: the summed log of each digit's class score and of
        its spot's score."""
        return sum(
            math.log(max(c, CLASS_FLOOR)) + math.log(max(s, CLASS_FLOOR))
            for c, s in zip(self.class_scores, self.spot_scores)
        )


@dataclass(frozen=True)
class _Spots:
    boxes: np.ndarray  # (m, 4) xyxy, left to right
    best: np.ndarray  # (m,) best score of any digit at the spot
    by_digit: np.ndarray  # (m, 10) best score of each digit at the spot


def spots(boxes_xywh, scores, digits, min_score: float = MIN_SPOT) -> _Spots:
    """Detections grouped into spots (class-agnostic), each with its per-digit scores."""
    b = xyxy(np.asarray(boxes_xywh, np.float64).reshape(-1, 4))
    s = np.asarray(scores, np.float64).reshape(-1)
    d = np.asarray(digits, np.int64).reshape(-1)
    ok = s >= min_score
    b, s, d = b[ok], s[ok], d[ok]
    keep = suppress_duplicates(b, s)
    centres = b[keep]
    by_digit = np.zeros((len(keep), 10))
    if len(keep):
        on = same_spot(centres, b)  # (m, n): which detections stand on each spot
        for j in range(len(s)):
            for i in np.nonzero(on[:, j])[0]:
                by_digit[i, d[j]] = max(by_digit[i, d[j]], s[j])
    order = np.argsort((centres[:, 0] + centres[:, 2]) / 2, kind="stable") if len(keep) else keep
    return _Spots(centres[order], s[keep][order], by_digit[order])


def _neighbours(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether spot ``b`` can follow spot ``a`` in one row of digits."""
    ha, hb = a[3] - a[1], b[3] - b[1]
    if min(ha, hb) <= 0 or max(ha, hb) / min(ha, hb) > MAX_HEIGHT_RATIO:
        return False
    v = min(a[3], b[3]) - max(a[1], b[1])
    if v < MIN_V_OVERLAP * min(ha, hb):
        return False
    gap = b[0] - a[2]
    return gap <= MAX_GAP * max(ha, hb) and (b[0] + b[2]) / 2 > (a[0] + a[2]) / 2


def place_number(boxes_xywh, scores, digits, number: str, sure: float = SURE_DIGIT) -> Placement | None:
    """Lay the digits of ``number`` onto the detections (see the module docstring).

    Returns None when there are fewer spots in a row than digits. The chosen row maximises the
    sum over its digits of log(typed digit's score) + log(spot's best score); consecutive
    digits must be row neighbours (:func:`_neighbours`).
    """
    want = [int(c) for c in number]
    sp = spots(boxes_xywh, scores, digits)
    m, n = len(sp.best), len(want)
    if n == 0 or m < n:
        return None
    gain = np.log(np.maximum(sp.by_digit[:, want], CLASS_FLOOR)) + np.log(sp.best)[:, None]  # (m, n)
    follows = np.array([[_neighbours(sp.boxes[i], sp.boxes[j]) for j in range(m)] for i in range(m)])
    best = np.full((m, n), -math.inf)
    back = np.full((m, n), -1, np.int64)
    best[:, 0] = gain[:, 0]
    for k in range(1, n):
        for j in range(m):
            prev = np.where(follows[:, j], best[:, k - 1], -math.inf)
            i = int(np.argmax(prev))
            if prev[i] > -math.inf:
                best[j, k] = prev[i] + gain[j, k]
                back[j, k] = i
    end = int(np.argmax(best[:, n - 1]))
    if best[end, n - 1] == -math.inf:
        return None
    chosen = [end]
    for k in range(n - 1, 0, -1):
        chosen.append(int(back[chosen[-1], k]))
    chosen.reverse()
    b = sp.boxes[chosen]
    spot_scores = tuple(float(sp.best[i]) for i in chosen)
    class_scores = tuple(float(sp.by_digit[i, w]) for i, w in zip(chosen, want))
    confident = min(spot_scores) >= sure
    return Placement(
        boxes=np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1).astype(np.float32),
        digits=tuple(want),
        spot_scores=spot_scores,
        class_scores=class_scores,
        confident=confident,
    )


def place_clearly(boxes_xywh, scores, digits, number: str, sure: float = SURE_DIGIT) -> Placement | None:
    """:func:`place_number`'s placement when it is confident and clear, else None.

    Clear: for each chosen spot, the best placement without the detections on that spot scores
    less than the chosen one by more than :data:`CLOSE`; otherwise which spot holds the digit is
    a guess (two 1s for the one typed)."""
    found = place_number(boxes_xywh, scores, digits, number, sure)
    if found is None or not found.confident:
        return None
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    d = np.asarray(digits, np.int64).reshape(-1)
    every = xyxy(b)
    for spot in xyxy(found.boxes):
        off = same_spot(spot[None], every)[0]
        other = place_number(b[~off], s[~off], d[~off], number, sure)
        if other is not None and other.gain >= found.gain - CLOSE:
            return None
    return found


FAIR_DETECTION = 0.2  # with no placement, the region to read again spans the detections this sure
MISSING_WIDTH = 0.8  # room for a digit not found, beside those found, in digit heights


def read_again_region(
    found: Placement | None, boxes_xywh, scores, width: float, height: float, typed: int = 0
):
    """The xywh region to read again where a placement was unsure: around the placed digits, else
    around every fair detection (:data:`FAIR_DETECTION`), widened by a digit height at the sides
    (or, with no placement, :data:`MISSING_WIDTH` of one per typed digit missing from the fair
    spots, on each side: where they are is not known) and half of one above and below, inside
    the image. None when there is nothing to go by."""
    margin = 1.0
    if found is not None:
        b = xyxy(found.boxes)
    else:
        s = np.asarray(scores, np.float64).reshape(-1)
        fair = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)[s >= FAIR_DETECTION]
        if not len(fair):
            return None
        b = xyxy(fair)
        seen = len(spots(fair, s[s >= FAIR_DETECTION], np.zeros(len(fair), np.int64), FAIR_DETECTION).boxes)
        margin = max(1.0, MISSING_WIDTH * (typed - seen))
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    h = max(1.0, y1 - y0)
    x0, y0 = max(0.0, x0 - margin * h), max(0.0, y0 - 0.5 * h)
    x1, y1 = min(float(width), x1 + margin * h), min(float(height), y1 + 0.5 * h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
