"""Box labels on the canvas: readable next to each other and next to a selected box's handles."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import wait_shown


@pytest.mark.parametrize("select", [False, True])
def test_labels_of_adjacent_digits_do_not_overlap_at_actual_size(qtbot, window, plain_folder, select):
    win = window
    win.inference.request = lambda items: None
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    name = win.doc.current_entry.name
    # four digits 12 px wide, 2 px apart: each label ("d 0.87") is wider than its box
    boxes = np.asarray([[10 + 14 * i, 20, 12, 20] for i in range(4)], np.float32)
    scores = np.asarray([0.87, 0.91, 0.66, 0.78], np.float32)
    digits = np.asarray([1, 2, 3, 4], np.int64)
    win.predictions.inject(name, boxes, scores, digits, size=(64, 48))
    win.doc.set_threshold(0.5)
    win.actions_by_name["actual"].trigger()
    c = win.canvas
    items = sorted(c.items_by_key.values(), key=lambda it: it.shown.x)
    assert len(items) == 4
    if select:
        c.set_selected(items[1].key)
    qtbot.wait(1)
    vt = c.viewportTransform()
    labels = [it.label.deviceTransform(vt).mapRect(it.label.rect) for it in items]  # without stems
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            assert not a.intersects(b), (a, b)
    if select:
        sel = items[1]
        handles = [c.mapFromScene(h).boundingRect() for h in sel.handle_rects(c.zoom).values()]
        for it, lab in zip(items, labels):
            assert all(not lab.intersects(h.toRectF()) for h in handles), (it.key, lab)
        assert all(lab.isValid() for lab in labels)
    # and every label stays over its own box's column, above the box
    for it, lab in zip(items, labels):
        top_left = c.mapFromScene(it.rect().topLeft())
        assert lab.bottom() <= top_left.y() and abs(lab.left() - top_left.x()) <= 2
