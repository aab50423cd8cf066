"""Pure edits of an image's checked layer (no Qt): each takes the current state and returns the
new :class:`~digitgui.state.Layer`, which the document pushes as one undo step.

Deleting or changing a box remembers its spot as emptied ("no digit here"), so no prediction on
that spot shows again (:mod:`digitgui.state` says how a spot is matched).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from trainer.region import mostly_inside

from .state import (
    DUPLICATE_IOU,
    Box,
    ImageEntry,
    Layer,
    Rect,
    RegionRead,
    Shown,
    Status,
    pred_index,
    predictions,
    rect_iou,
    spot,
    visible_predictions,
)


def _edited(layer: Layer) -> Status:
    return Status.REVIEWED if layer.status == Status.REVIEWED else Status.EDITED


def with_box(layer: Layer, box: Box) -> Layer:
    return replace(layer, boxes=layer.boxes + (box,), status=_edited(layer))


def with_read(layer: Layer, read: RegionRead) -> Layer:
    """Add a region read (earlier reads it covers wholly are dropped: they no longer show)."""
    kept = tuple(
        r for r in layer.reads if not (r.boxes and mostly_inside(np.asarray(r.boxes), read.rect).all())
    )
    return replace(layer, reads=kept + (read,), status=_edited(layer))


def with_box_changed(entry: ImageEntry, key: int, new_id: int, **changes) -> tuple[Layer, int]:
    """Change a shown box (checked, or a prediction that becomes checked). Returns (layer, key)."""
    layer = entry.layer
    if key > 0:
        boxes = tuple(replace(b, **changes) if b.id == key else b for b in layer.boxes)
        return replace(layer, boxes=boxes, status=_edited(layer)), key
    i = pred_index(key)
    p = predictions(entry)
    x, y, w, h = (float(v) for v in p.boxes[i])
    base = Box(new_id, x, y, w, h, int(p.digits[i]), 1.0)
    box = replace(base, **changes)
    layer = replace(
        layer, boxes=layer.boxes + (box,), hidden=layer.hidden | {spot((x, y, w, h))}, status=_edited(layer)
    )
    return layer, new_id


def without_box(entry: ImageEntry, key: int) -> Layer:
    """Delete a shown box: "no digit here", so no prediction on its spot shows any more."""
    layer = entry.layer
    if key > 0:
        box = next((b for b in layer.boxes if b.id == key), None)
        if box is None:
            return layer
        boxes = tuple(b for b in layer.boxes if b.id != key)
        return replace(layer, boxes=boxes, hidden=layer.hidden | {spot(box.rect)}, status=_edited(layer))
    rect = spot(predictions(entry).boxes[pred_index(key)])
    return replace(layer, hidden=layer.hidden | {rect}, status=_edited(layer))


def renumber_boxes(entries: list[ImageEntry]) -> int:
    """Give every checked box a unique id across the folder, in order; returns the next free id."""
    n = 1
    for e in entries:
        if e.layer.boxes:
            boxes = tuple(replace(b, id=i) for i, b in enumerate(e.layer.boxes, start=n))
            e.layer = replace(e.layer, boxes=boxes)
            n += len(boxes)
    return n


def next_box_id(layers) -> int:
    """The first id above every checked box of ``layers``."""
    return max((b.id for layer in layers for b in layer.boxes), default=0) + 1


def reviewed(entry: ImageEntry, threshold: float, next_id) -> Layer:
    """Accept the shown predictions as checked boxes and mark the image reviewed."""
    layer = entry.layer
    new = []
    pred = predictions(entry)
    for i in visible_predictions(entry, threshold):
        x, y, w, h = (float(v) for v in pred.boxes[i])
        new.append(Box(next_id(), x, y, w, h, int(pred.digits[i]), 1.0))
    return replace(layer, boxes=layer.boxes + tuple(new), status=Status.REVIEWED)


def with_number(entry: ImageEntry, slots, removed, next_id, sure: bool = True) -> tuple[Layer, list[int]]:
    """The layer after typing a number (see :mod:`digitgui.number_entry`). Returns (layer, keys).

    ``slots`` are (key or None, rect, digit) left to right: every box kept or made becomes a
    checked box with its typed digit (the person stated the number), a prediction's spot is
    hidden as when it is changed by hand, and each ``removed`` box is deleted ("no digit here").
    ``keys`` are the resulting checked box ids, in the order of ``slots``. ``sure`` False (the
    boxes were a guess): the image is left edited, never reviewed, whatever it was before.
    """
    layer = entry.layer
    boxes = {b.id: b for b in layer.boxes}
    hidden = set(layer.hidden)
    pred = predictions(entry)
    for key in removed:
        if key > 0:
            box = boxes.pop(key, None)
            if box is not None:
                hidden.add(spot(box.rect))
        else:
            hidden.add(spot(pred.boxes[pred_index(key)]))
    keys = []
    for key, rect, digit in slots:
        x, y, w, h = (float(v) for v in rect)
        if key is not None and key > 0:
            boxes[key] = replace(boxes[key], x=x, y=y, w=w, h=h, digit=int(digit))
            keys.append(key)
            continue
        if key is not None:
            hidden.add(spot(pred.boxes[pred_index(key)]))
        box = Box(next_id(), x, y, w, h, int(digit), 1.0)
        boxes[box.id] = box
        keys.append(box.id)
    status = _edited(layer) if sure else Status.EDITED
    return replace(layer, boxes=tuple(boxes.values()), hidden=frozenset(hidden), status=status), keys


def duplicate_rect(rect: Rect, image_size: tuple[int, int] | None) -> Rect:
    """Where Ctrl+D puts a copy of a box: just right of it (a tenth of its width apart), same size,
    slid back inside the image (to the left of the box when there is no room on its right)."""
    x, y, w, h = (float(v) for v in rect)
    nx = x + w * 1.1
    if image_size:
        w, h = min(w, float(image_size[0])), min(h, float(image_size[1]))
        if nx + w > image_size[0]:
            nx = max(0.0, x - w * 1.1) if x - w * 1.1 >= 0 else image_size[0] - w
        y = min(max(0.0, y), image_size[1] - h)
    return (round(nx, 2), round(y, 2), round(w, 2), round(h, 2))


def copied_boxes(
    source: list[Shown], target: tuple[Box, ...], image_size: tuple[int, int] | None
) -> list[tuple[Rect, int]]:
    """(rect, digit) of the ``source`` boxes to copy onto an image with checked boxes ``target``.

    Rects are cut to the image (a box wholly outside it is left out), and a box on the spot of a
    checked box already there (IoU > :data:`DUPLICATE_IOU`) is left out, so copying twice adds
    nothing the second time.
    """
    out: list[tuple[Rect, int]] = []
    taken = [b.rect for b in target]
    for s in sorted(source, key=lambda s: s.x):
        x, y, w, h = s.rect
        if image_size:
            x2, y2 = min(x + w, float(image_size[0])), min(y + h, float(image_size[1]))
            x, y = max(0.0, x), max(0.0, y)
            w, h = x2 - x, y2 - y
            if w < 1 or h < 1:
                continue
        rect = (round(x, 2), round(y, 2), round(w, 2), round(h, 2))
        if taken and rect_iou(rect, np.asarray(taken, np.float64)).max() > DUPLICATE_IOU:
            continue
        taken.append(rect)
        out.append((rect, s.digit))
    return out
