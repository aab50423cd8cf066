"""Typing the number: which shown box takes which typed digit, and where new boxes go (no Qt).

The user types the whole number (``1199``); the boxes on the image are read left to right (by
x-centre) and the typed digits are laid onto them in order:

* **as many boxes as digits**: the i-th box takes the i-th digit;
* **more boxes than digits**: the boxes kept are the order-preserving choice that (1) leaves the
  most boxes already showing their typed digit, then (2) keeps the highest scores (a checked box
  counts 1.0), then (3) keeps the leftmost: so a spurious low-scored box is what goes, and
  between equals the rightmost goes. The others are removed ("no digit here");
* **fewer boxes than digits**: the boxes take the typed positions that (1) leave the most boxes
  showing their typed digit, then (2) need the least room that is not there for the new boxes
  (in digit widths: a gap between two boxes, or the image edge past the row's ends), then (3)
  put new boxes into gaps between boxes before the end of the row, and after the last box before
  the first. A new box that finds a detection too weak to be shown where it goes (its centre
  within half a pitch, in the row, on no other box of the number) takes that detection's box,
  and such a find counts like a box already showing its digit in (1). Otherwise new boxes have
  the row's median height and top and the mean digit width; between two boxes they are spread
  evenly from one box's centre to the next's, past the row's ends they follow at the row's mean
  pitch. All are clamped inside the image. They are meant to be adjusted;
* **no boxes at all**: a row of boxes in the middle of the image, 70% of its height, digits half
  as wide as high (narrower when the row would not fit).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from .state import Shown

Rect = tuple[float, float, float, float]

MAX_DIGITS = 12  # the longest number the editor accepts
EMPTY_ROW_HEIGHT = 0.7  # of the image height, for a row placed on an image without boxes
DIGIT_ASPECT = 0.5  # width / height of a new digit box when there is no row to copy
GAP = 0.15  # space between new boxes, in digit widths, when there is no row to copy
OVERLAP = 0.5  # a weak detection covering this much of a box of the number is that digit again


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
) -> Plan:
    """Lay the typed number ``text`` onto the shown ``boxes`` (see the module docstring).

    ``image_size`` (w, h) clamps new boxes; it is needed when there are no boxes at all.
    ``candidates`` are (rect, score) of detections too weak to be shown: a new box takes the
    best-scored one whose centre lies within half a pitch of where the row puts it (and that
    overlaps no box of the number), since the model often saw the missing digit, just not surely.
    """
    digits = parse_number(text)
    row = sorted(boxes, key=lambda b: (b.x + b.w / 2, b.y))
    n, m = len(digits), len(row)
    if m == 0:
        if not image_size:
            raise ValueError("the image size is not known yet")
        rects = _empty_row(n, image_size)
        return Plan(tuple(Slot(None, r, d) for r, d in zip(rects, digits)), ())
    if m >= n:
        keep = _keep(row, digits)
        slots = tuple(Slot(row[i].key, row[i].rect, d) for i, d in zip(keep, digits))
        removed = tuple(row[i].key for i in range(m) if i not in set(keep))
        return Plan(slots, removed)
    positions = _positions(row, digits, image_size, candidates)
    rects = _place(row, positions, n, image_size, candidates)[0]
    by_pos = dict(zip(positions, row))
    slots = tuple(Slot(by_pos[j].key if j in by_pos else None, rects[j], digits[j]) for j in range(n))
    return Plan(slots, ())


# ------------------------------------------------------------------ more boxes than digits


def _keep(row: Sequence[Shown], digits: list[int]) -> list[int]:
    """Indices of the boxes that keep a digit (order-preserving DP, lexicographic scores)."""
    m, n = len(row), len(digits)
    # best[i][j]: best (matches, score, leftness) using boxes i.. for digits j..
    neg = (-1e9, 0.0, 0.0)
    best = [[neg] * (n + 1) for _ in range(m + 1)]
    take = [[False] * (n + 1) for _ in range(m + 1)]
    for i in range(m + 1):
        best[i][n] = (0.0, 0.0, 0.0)
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            skip = best[i + 1][j]
            nxt = best[i + 1][j + 1]
            use = (nxt[0] + (row[i].digit == digits[j]), nxt[1] + row[i].score, nxt[2] + (m - i))
            if use[0] > -1e8 and use >= skip:
                best[i][j], take[i][j] = use, True
            else:
                best[i][j] = skip
    out, i, j = [], 0, 0
    while j < n:
        if take[i][j]:
            out.append(i)
            j += 1
        i += 1
    return out


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
