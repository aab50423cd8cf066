"""Where each box's label goes on screen, so that labels stay readable and hide no digit.

A label's first place is just above its box, at its left edge. Where that spot covers another
box, another label or the selected box's handles, the label is lifted by whole label heights,
then tried below the box, then right-aligned above or below; of the places tried, the first that
touches nothing wins, else the one that covers the fewest other boxes' pixels (a label over
another label is worse still). A label away from its box gets a thin stem to it.

The selected box's label is placed first, then the others left to right; a few dozen boxes at
most, so the quadratic search costs nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QTransform

from .box_item import LABEL_GAP, BoxItem

MAX_LABEL_ROWS = 6  # a label is lifted at most this many rows away from its box


def candidates(item: BoxItem, box: QRectF) -> list[tuple[QRectF, tuple[QPointF, QPointF] | None]]:
    """Places for ``item``'s label (screen pixels relative to the box's top-left corner on
    screen, ``box`` being the box on screen), best first, each with its stem (or None)."""
    tw, th = item.label.size
    w, h = box.width(), box.height()
    out = []
    for right in (False, True):
        x = w - tw + 1 if right else -1.0
        sx = w - 0.5 if right else 0.5
        for below in (False, True):
            for row in range(MAX_LABEL_ROWS):
                lift = row * (th + 1)
                if below:
                    r = QRectF(x, h + LABEL_GAP + lift, tw, th)
                    stem = (QPointF(sx, r.top()), QPointF(sx, h)) if row else None
                else:
                    r = QRectF(x, -LABEL_GAP - th - lift, tw, th)
                    stem = (QPointF(sx, r.bottom()), QPointF(sx, 0)) if row else None
                out.append((r, stem))
    # above-left rows first (the usual place), then below-left, then right-aligned
    return out


def _covered(r: QRectF, boxes: list[QRectF]) -> float:
    total = 0.0
    for b in boxes:
        i = r.intersected(b)
        if not i.isEmpty():
            total += i.width() * i.height()
    return total


def place_labels(items: list[BoxItem], vt: QTransform, selected: BoxItem | None, zoom: float) -> None:
    """Place the labels of ``items`` (the canvas's box items) for view transform ``vt``."""
    if not items:
        return
    on_screen = {id(it): vt.mapRect(it.rect()) for it in items}
    taken: list[QRectF] = []
    if selected is not None:
        taken = [vt.mapRect(h).adjusted(-2, -2, 2, 2) for h in selected.handle_rects(zoom).values()]
    order = sorted(items, key=lambda it: (it is not selected, it.rect().x(), it.rect().y()))
    for it in order:
        box = on_screen[id(it)]
        others = [r for k, r in on_screen.items() if k != id(it)]
        best, best_cost = None, None
        for n, (rel, stem) in enumerate(candidates(it, box)):
            r = rel.translated(box.topLeft())
            cover = _covered(r, others)
            hits = any(r.intersects(t) for t in taken)
            cost = (hits, cover > 0, cover, n)
            if best_cost is None or cost < best_cost:
                best, best_cost = (rel, stem, r), cost
            if not hits and not cover:
                break
        rel, stem, r = best
        it.label.place(rel, stem)
        taken.append(r)
