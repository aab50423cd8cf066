"""Typing the number: which shown box takes which typed digit, and where new boxes go (no Qt).

The user types the whole number (``1199``); the boxes on the image are read left to right (by
x-centre) and the typed digits are laid onto them in order:

* **as many boxes as digits**: the i-th box takes the i-th digit;
* **more boxes than digits**: the boxes kept are the order-preserving choice that best explains
  the typed digits by what the model saw at each box (``class_scores``: the score of every digit
  class among the detections on the box's spot, :func:`digitgui.state.spot_class_scores`): the
  sum over the typed digits of log(the typed digit's score at its box) + log(how sure the box is
  a digit at all), as :func:`trainer.placement.place_number` scores a placement; then the most
  boxes already showing their typed digit, the highest scores (a checked box counts 1.0), the
  leftmost. So typing 44 over a photo read 8116 keeps the two boxes where the model also saw a
  4, not the two best-scored ones. The others are removed ("no digit here"). The choice is
  *unsure* (``Plan.sure`` False, ``Plan.doubt`` says why) when a typed digit was seen on no box
  it was put on, or when leaving out any one kept box for another explains the digits about as
  well;
* **fewer boxes than digits**: the boxes take the typed positions that (1) leave the most boxes
  showing their typed digit, then (2) need the least room that is not there for the new boxes
  (in digit widths: a gap between two boxes, or the image edge past the row's ends), then (3)
  put new boxes into gaps between boxes before the end of the row, and after the last box before
  the first. A new box that finds a detection too weak to be shown where it goes (its centre
  within half a pitch, in the row, on no other box of the number) takes that detection's box,
  and such a find counts like a box already showing its digit in (1). Otherwise new boxes have
  the row's median height and top and the mean digit width; between two boxes they are spread
  evenly from one box's centre to the next's, past the row's ends they follow at the row's mean
  pitch. All are clamped inside the image. They are meant to be adjusted, and the plan is unsure
  while one of them stands on no detection;
* **no boxes at all**: a row of boxes in the middle of the image, 70% of its height, digits half
  as wide as high (narrower when the row would not fit); unsure.

Where that plan is unsure, or gives a shown box a digit the model did not see on it
(:func:`relabels_unseen`: the "S" of "S0374" taking the 0), the engine's placement has its say
(:func:`plan_placed`; the app asks it only on images without checked boxes): the one
``python -m trainer finetune --numbers`` teaches from, over every detection the model made down to
a low score (not only the shown boxes), as a row of similar heights side by side. When it puts
every typed digit on a spot the model is sure is a digit, and no other placement explains the
digits about as well, its boxes are kept (shown boxes on the same spots keep their keys, the
other shown boxes are removed) and the plan is sure.

An unsure plan is still applied (the person asked for that number), but the image is left
unreviewed (:func:`digitgui.edits.with_number`) and the status bar says why.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np

from trainer.numbers import box_iou, same_spot, xyxy
from trainer.placement import CLASS_FLOOR, CLOSE, MIN_SPOT, place_clearly

from .state import Shown

Rect = tuple[float, float, float, float]

MAX_DIGITS = 12  # the longest number the editor accepts
EMPTY_ROW_HEIGHT = 0.7  # of the image height, for a row placed on an image without boxes
DIGIT_ASPECT = 0.5  # width / height of a new digit box when there is no row to copy
GAP = 0.15  # space between new boxes, in digit widths, when there is no row to copy
OVERLAP = 0.5  # a weak detection covering this much of a box of the number is that digit again
SEEN = MIN_SPOT  # a typed digit scored at least this on its box was seen there by the model


@dataclass(frozen=True)
class Slot:
    """One digit of the typed number: an existing box (``key``) or a new one (``key is None``)."""

    key: int | None
    rect: Rect
    digit: int


@dataclass(frozen=True)
class Plan:
    """The boxes of the typed number, left to right, and the keys of the boxes removed."""

    slots: tuple[Slot, ...]
    removed: tuple[int, ...]
    sure: bool = True  # False: the boxes were a guess; the image is left unreviewed
    doubt: str = ""  # why it is unsure, for the status bar


def parse_number(text: str) -> list[int]:
    """Digits of a typed number; ``ValueError`` unless 1..MAX_DIGITS ASCII digits (zeros kept)."""
    text = text.strip()
    if not text or len(text) > MAX_DIGITS or not all("0" <= c <= "9" for c in text):
        raise ValueError(f"type 1 to {MAX_DIGITS} digits 0-9, not {text!r}")
    return [int(c) for c in text]


def plan_number(
    boxes: Sequence[Shown],
    text: str,
    image_size: tuple[int, int] | None,
    candidates: Sequence[tuple[Rect, float]] = (),
    class_scores: Mapping[int, Sequence[float]] | None = None,
) -> Plan:
    """Lay the typed number ``text`` onto the shown ``boxes`` (see the module docstring).

    ``image_size`` (w, h) clamps new boxes; it is needed when there are no boxes at all.
    ``candidates`` are (rect, score) of detections too weak to be shown: a new box takes the
    best-scored one whose centre lies within half a pitch of where the row puts it (and that
    overlaps no box of the number), since the model often saw the missing digit, just not surely.
    ``class_scores`` maps a box's key to the 10 digit classes' scores on its spot; a box without
    one counts only its own digit, at its own score.
    """
    digits = parse_number(text)
    row = sorted(boxes, key=lambda b: (b.x + b.w / 2, b.y))
    n, m = len(digits), len(row)
    if m == 0:
        if not image_size:
            raise ValueError("the image size is not known yet")
        rects = _empty_row(n, image_size)
        doubt = "there were no boxes: a row was placed in the middle"
        return Plan(tuple(Slot(None, r, d) for r, d in zip(rects, digits)), (), False, doubt)
    if m > n:
        keep, doubt = _keep(row, digits, [_scores_of(b, class_scores) for b in row])
        slots = tuple(Slot(row[i].key, row[i].rect, d) for i, d in zip(keep, digits))
        removed = tuple(row[i].key for i in range(m) if i not in set(keep))
        return Plan(slots, removed, not doubt, doubt)
    if m == n:
        return Plan(tuple(Slot(b.key, b.rect, d) for b, d in zip(row, digits)), ())
    positions = _positions(row, digits, image_size, candidates)
    rects, supported = _place(row, positions, n, image_size, candidates)
    by_pos = dict(zip(positions, row))
    slots = tuple(Slot(by_pos[j].key if j in by_pos else None, rects[j], digits[j]) for j in range(n))
    guessed = n - m - supported
    doubt = f"{guessed} new box{'es' if guessed > 1 else ''} placed by the row's spacing" if guessed else ""
    return Plan(slots, (), not doubt, doubt)


def relabels_unseen(
    plan: Plan, boxes: Sequence[Shown], class_scores: Mapping[int, Sequence[float]] | None
) -> bool:
    """Whether the plan gives a shown box a digit the model did not see on its spot (scored under
    :data:`SEEN`): a misread digit, or a box on something else ("S" taking the 0 of "S0374")."""
    by_key = {b.key: b for b in boxes}
    return any(
        s.key in by_key and _scores_of(by_key[s.key], class_scores)[s.digit] < SEEN for s in plan.slots
    )


def plan_placed(boxes: Sequence[Shown], text: str, detections) -> Plan | None:
    """The typed number where :func:`trainer.placement.place_clearly` lays it on ``detections``
    ((boxes xywh, scores, digits) of everything the model saw, down to a low score), or None
    unless that placement is confident and clear. A shown box on a placed spot (:func:`trainer.numbers.
    same_spot`; the best-overlapping one) takes that digit and keeps its key and rect; the
    other digits get new boxes on their spots; every other shown box is removed."""
    det_boxes, det_scores, det_digits = detections
    placed = place_clearly(det_boxes, det_scores, det_digits, "".join(map(str, parse_number(text))))
    if placed is None:
        return None
    row = list(boxes)
    shown = xyxy([b.rect for b in row]) if row else np.zeros((0, 4))
    used: set[int] = set()
    slots = []
    for rect, digit in zip(placed.boxes, placed.digits):
        r: Rect = tuple(round(float(v), 2) for v in rect)  # type: ignore[assignment]
        key = None
        if row:
            spot = xyxy([r])
            on = same_spot(spot, shown)[0]
            overlap = box_iou(spot, shown)[0]
            free = [i for i in np.nonzero(on)[0] if row[i].key not in used]
            if free:
                i = max(free, key=lambda k: overlap[k])
                key, r = row[i].key, row[i].rect
                used.add(key)
        slots.append(Slot(key, r, int(digit)))
    removed = tuple(b.key for b in row if b.key not in used)
    return Plan(tuple(slots), removed)


# ------------------------------------------------------------------ more boxes than digits


def _scores_of(box: Shown, class_scores: Mapping[int, Sequence[float]] | None) -> list[float]:
    """The 10 digit scores on a box's spot (its own digit at least at its own score)."""
    out = (
        [float(v) for v in class_scores[box.key]] if class_scores and box.key in class_scores else [0.0] * 10
    )
    if 0 <= box.digit <= 9:
        out[box.digit] = max(out[box.digit], float(box.score))
    return out


def _keep(row: Sequence[Shown], digits: list[int], cls: list[list[float]]) -> tuple[list[int], str]:
    """Indices of the boxes that keep a digit, and why the choice is unsure ("" when it is not)."""
    gain = [
        [math.log(max(c[d], CLASS_FLOOR)) + math.log(max(max(c), CLASS_FLOOR)) for d in digits] for c in cls
    ]
    total, keep = _best_keep(row, digits, gain)
    unseen = sorted({d for i, d in zip(keep, digits) if cls[i][d] < SEEN})
    if unseen:
        names = " or ".join(str(d) for d in unseen)
        return keep, f"the model saw no {names} on the boxes kept"
    for i in keep:
        alt = _best_keep(row, digits, gain, banned=i)[0]
        if alt >= total - CLOSE:
            return keep, "other boxes fit the typed digits about as well"
    return keep, ""


def _best_keep(
    row: Sequence[Shown], digits: list[int], gain: list[list[float]], banned: int = -1
) -> tuple[float, list[int]]:
    """The order-preserving choice of boxes for the digits (DP, lexicographic scores: summed
    gain, boxes showing their typed digit, scores, leftness), and its summed gain."""
    m, n = len(row), len(digits)
    # best[i][j]: best (gain, matches, score, leftness) using boxes i.. for digits j..
    neg = (-math.inf, 0.0, 0.0, 0.0)
    best = [[neg] * (n + 1) for _ in range(m + 1)]
    take = [[False] * (n + 1) for _ in range(m + 1)]
    for i in range(m + 1):
        best[i][n] = (0.0, 0.0, 0.0, 0.0)
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            skip = best[i + 1][j]
            nxt = best[i + 1][j + 1]
            if i == banned or nxt[0] == -math.inf:
                best[i][j] = skip
                continue
            use = (
                round(nxt[0] + gain[i][j], 9),
                nxt[1] + (row[i].digit == digits[j]),
                nxt[2] + row[i].score,
                nxt[3] + (m - i),
            )
            if use >= skip:
                best[i][j], take[i][j] = use, True
            else:
                best[i][j] = skip
    if best[0][0][0] == -math.inf:
        return -math.inf, []
    out, i, j = [], 0, 0
    while j < n:
        if take[i][j]:
            out.append(i)
            j += 1
        i += 1
    return best[0][0][0], out


# ------------------------------------------------------------------ fewer boxes than digits


@dataclass(frozen=True)
class _Row:
    height: float
    top: float
    width: float
    pitch: float


def _row_of(row: Sequence[Shown]) -> _Row:
    w = sum(b.w for b in row) / len(row)
    if len(row) > 1:
        centres = [b.x + b.w / 2 for b in row]
        pitch = (centres[-1] - centres[0]) / (len(row) - 1)
        pitch = max(pitch, w * (1 + GAP))
    else:
        pitch = w * (1 + GAP)
    return _Row(median(b.h for b in row), median(b.y for b in row), w, pitch)


def _positions(
    row: Sequence[Shown],
    digits: list[int],
    image_size: tuple[int, int] | None,
    candidates: Sequence[tuple[Rect, float]] = (),
) -> tuple[int, ...]:
    """Which typed positions the existing boxes take (the others get new boxes)."""
    m, n = len(row), len(digits)
    r = _row_of(row)
    img_w = float(image_size[0]) if image_size else float("inf")

    def key(pos: tuple[int, ...]):
        matches = sum(row[i].digit == digits[p] for i, p in enumerate(pos))
        lack = 0.0
        lead, trail = pos[0], n - 1 - pos[-1]
        lack += max(0.0, lead * r.pitch - (row[0].x + row[0].w / 2 - r.width / 2)) / r.width
        right_room = img_w - (row[-1].x + row[-1].w / 2 + r.width / 2)
        lack += max(0.0, trail * r.pitch - right_room) / r.width
        inner = 0
        for i in range(1, m):
            k = pos[i] - pos[i - 1] - 1
            if k:
                gap = row[i].x - (row[i - 1].x + row[i - 1].w)
                lack += max(0.0, k * r.width - gap) / r.width
                inner += k
        supported = _place(row, pos, n, image_size, candidates)[1] if candidates else 0
        return (matches + supported, -round(lack, 6), inner, lead == 0)

    return max(itertools.combinations(range(n), m), key=key)


def _place(
    row: Sequence[Shown],
    positions: tuple[int, ...],
    n: int,
    image_size: tuple[int, int] | None,
    candidates: Sequence[tuple[Rect, float]] = (),
) -> tuple[list[Rect], int]:
    """Rects of all ``n`` digits, and how many new ones sit on a weak detection."""
    r = _row_of(row)
    supported = 0
    rects: list[Rect | None] = [None] * n
    for b, p in zip(row, positions):
        rects[p] = b.rect
    centre = {p: b.x + b.w / 2 for b, p in zip(row, positions)}
    first, last = positions[0], positions[-1]
    for j in range(n):
        if rects[j] is not None:
            continue
        if j < first:
            cx = centre[first] - (first - j) * r.pitch
        elif j > last:
            cx = centre[last] + (j - last) * r.pitch
        else:
            a = max(p for p in positions if p < j)
            b = min(p for p in positions if p > j)
            cx = centre[a] + (centre[b] - centre[a]) * (j - a) / (b - a)
        found = _candidate(cx, r, [rr for rr in rects if rr is not None], candidates)
        supported += found is not None
        rects[j] = found or _clamp((cx - r.width / 2, r.top, r.width, r.height), image_size)
    return [rr for rr in rects if rr is not None], supported


def _candidate(
    cx: float, r: _Row, taken: list[Rect], candidates: Sequence[tuple[Rect, float]]
) -> Rect | None:
    """The best-scored weak detection near ``cx`` in the row, overlapping no box already placed."""
    best: tuple[float, Rect] | None = None
    for rect, score in candidates:
        x, y, w, h = rect
        if abs(x + w / 2 - cx) > r.pitch / 2:
            continue
        if min(y + h, r.top + r.height) - max(y, r.top) < 0.5 * min(h, r.height):
            continue  # not in the row
        if any(_overlap(rect, t) > OVERLAP for t in taken):
            continue
        if best is None or score > best[0]:
            best = (score, rect)
    return tuple(round(float(v), 2) for v in best[1]) if best else None


def _overlap(a: Rect, b: Rect) -> float:
    """Intersection over the smaller box."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(min(a[2] * a[3], b[2] * b[3]), 1e-9)


def _empty_row(n: int, image_size: tuple[int, int]) -> list[Rect]:
    img_w, img_h = (float(v) for v in image_size)
    h = EMPTY_ROW_HEIGHT * img_h
    w = min(DIGIT_ASPECT * h, 0.9 * img_w / (n + (n - 1) * GAP))
    pitch = w * (1 + GAP)
    x0 = (img_w - (n * w + (n - 1) * GAP * w)) / 2
    y = (img_h - h) / 2
    return [_clamp((x0 + j * pitch, y, w, h), image_size) for j in range(n)]


def _clamp(rect: Rect, image_size: tuple[int, int] | None) -> Rect:
    """Slide (keeping the size) inside the image; rounded to 1/100 pixel."""
    x, y, w, h = rect
    if image_size:
        w, h = min(w, float(image_size[0])), min(h, float(image_size[1]))
        x = min(max(0.0, x), image_size[0] - w)
        y = min(max(0.0, y), image_size[1] - h)
    return (round(x, 2), round(y, 2), round(w, 2), round(h, 2))
