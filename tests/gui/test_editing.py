"""Hand edits through the real canvas: draw, label, move, resize, nudge, delete, undo/redo, review."""

from __future__ import annotations

import pytest
from guihelpers import drag, wait_model, wait_predicted, wait_shown
from PySide6.QtCore import QPoint, Qt

from digitgui.state import UNKNOWN_DIGIT, Status


@pytest.fixture
def editing(qtbot, window, plain_folder):
    """A window on a folder without ground truth, first image on screen, predictions in."""
    assert window.open_folder(plain_folder)
    wait_model(qtbot, window)
    wait_shown(qtbot, window)
    wait_predicted(qtbot, window)
    window.doc.set_threshold(0.99)  # hide the random model's boxes: only our own boxes remain
    window.canvas.setFocus()
    return window


def checked(win):
    return [b for b in win.doc.current_entry.layer.boxes]


def draw_box(qtbot, win, rect=(20, 20, 60, 70)):
    x, y, w, h = rect
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert win.canvas.draw_armed
    drag(qtbot, win.canvas, (x, y), (x + w, y + h))


def test_draw_then_type_digit_is_one_undo_step(qtbot, editing):
    win, stack = editing, editing.doc.undo_stack
    draw_box(qtbot, win)
    boxes = checked(win)
    assert len(boxes) == 1 and boxes[0].digit == UNKNOWN_DIGIT
    assert win.canvas.prompt.isVisible()
    b = boxes[0]
    assert b.x == pytest.approx(20, abs=1.5) and b.y == pytest.approx(20, abs=1.5)
    assert b.w == pytest.approx(60, abs=2) and b.h == pytest.approx(70, abs=2)
    qtbot.keyClick(win.canvas, Qt.Key.Key_7)
    assert [x.digit for x in checked(win)] == [7]
    assert not win.canvas.prompt.isVisible()
    assert stack.count() == 1 and stack.undoText() == "Add box 7"
    assert win.doc.current_entry.layer.status == Status.EDITED
    assert win.number.text == "7"
    assert len(win.canvas.items_by_key) == 1
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert checked(win) == []
    qtbot.keyClick(
        win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert [x.digit for x in checked(win)] == [7]
    stack.undo()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert [x.digit for x in checked(win)] == [7]


def test_move_resize_nudge_relabel_delete(qtbot, editing):
    win = editing
    draw_box(qtbot, win, (20, 20, 40, 50))
    qtbot.keyClick(win.canvas, Qt.Key.Key_3)
    (b0,) = checked(win)
    # move: drag from inside the box
    drag(qtbot, win.canvas, (30, 40), (50, 45))
    (b1,) = checked(win)
    assert b1.x - b0.x == pytest.approx(20, abs=1.5) and b1.y - b0.y == pytest.approx(5, abs=1.5)
    assert (b1.w, b1.h) == pytest.approx((b0.w, b0.h), abs=0.01)
    # resize: drag the bottom-right handle
    drag(qtbot, win.canvas, (b1.x + b1.w, b1.y + b1.h), (b1.x + b1.w + 15, b1.y + b1.h + 10))
    (b2,) = checked(win)
    assert (b2.x, b2.y) == pytest.approx((b1.x, b1.y), abs=0.01)
    assert b2.w - b1.w == pytest.approx(15, abs=1.5) and b2.h - b1.h == pytest.approx(10, abs=1.5)
    # nudge three times right, once up with Shift (10 px): nudges of one box merge
    count = win.doc.undo_stack.count()
    for _ in range(3):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    (b3,) = checked(win)
    assert (b3.x - b2.x, b3.y - b2.y) == pytest.approx((3, -10), abs=0.01)
    assert win.doc.undo_stack.count() == count + 1
    # relabel with a digit key
    qtbot.keyClick(win.canvas, Qt.Key.Key_8)
    assert checked(win)[0].digit == 8
    # delete, then undo brings it back exactly
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert checked(win) == []
    win.actions_by_name["undo"].trigger()
    assert checked(win)[0] == b3.__class__(b3.id, b3.x, b3.y, b3.w, b3.h, 8, 1.0)
    # undo all the way back to nothing, redo all the way forward
    while win.doc.undo_stack.canUndo():
        win.doc.undo_stack.undo()
    assert checked(win) == []
    while win.doc.undo_stack.canRedo():
        win.doc.undo_stack.redo()
    assert checked(win) == []  # the last step was the delete


def test_tab_cycles_and_escape_deselects(qtbot, editing):
    win = editing
    for x, d in ((10, Qt.Key.Key_1), (80, Qt.Key.Key_2), (150, Qt.Key.Key_3)):
        draw_box(qtbot, win, (x, 10, 30, 40))
        qtbot.keyClick(win.canvas, d)
    keys = [b.id for b in sorted(checked(win), key=lambda b: b.x)]
    qtbot.keyClick(win.canvas, Qt.Key.Key_Escape)
    assert win.canvas.selected == 0
    seen = []
    for _ in range(4):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Tab)
        seen.append(win.canvas.selected)
    assert seen == keys + keys[:1]
    qtbot.keyClick(win.canvas, Qt.Key.Key_Backtab)
    assert win.canvas.selected == keys[-1]
    assert win.box_list.selected_key() == keys[-1]
    assert win.number.text == "123"


def test_editing_a_prediction_makes_it_checked(qtbot, editing):
    win = editing
    win.doc.set_threshold(0.05)
    shown = win.doc.shown()
    preds = [s for s in shown if not s.checked]
    assert preds, (win.doc.current_entry.error, win.doc.current_entry.pred)
    target = preds[0]
    win.canvas.set_selected(target.key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_4)
    layer = win.doc.current_entry.layer
    assert len(layer.boxes) == 1 and layer.boxes[0].digit == 4
    assert layer.boxes[0].rect == pytest.approx(target.rect, abs=0.01)
    assert layer.hidden == {tuple(round(v, 2) for v in target.rect)}  # its spot, not its index
    assert win.canvas.selected == layer.boxes[0].id
    assert all(s.key != target.key for s in win.doc.shown())
    # deleting a prediction hides it (one step), undo shows it again
    other = next(s for s in win.doc.shown() if not s.checked)
    win.canvas.set_selected(other.key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert all(s.key != other.key for s in win.doc.shown())
    win.doc.undo_stack.undo()
    assert any(s.key == other.key for s in win.doc.shown())


def test_space_reviews_and_opens_next(qtbot, editing):
    win = editing
    win.doc.set_threshold(0.05)
    first = win.doc.current
    n_pred = sum(not s.checked for s in win.doc.shown())
    reading = win.doc.reading().text
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    e = win.doc.entry(first)
    assert e.layer.status == Status.REVIEWED
    assert len(e.layer.boxes) == n_pred and all(b.score == 1.0 for b in e.layer.boxes)
    assert win.doc.current == first + 1
    assert win.doc.undo_stack.count() == 1
    assert win.doc.reading(first).text  # reviewed images read their checked boxes left to right
    assert len(win.doc.reading(first).text) == n_pred or reading
    win.doc.undo_stack.undo()
    assert win.doc.entry(first).layer.status == Status.NOT_SEEN
    assert win.doc.current == first  # undo goes back to the image it changes
    # Space works the same while the image list has the focus
    win.image_list.view.setFocus()
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_Space)
    assert win.doc.entry(first).layer.status == Status.REVIEWED and win.doc.current == first + 1


def test_navigation_keys_and_next_unreviewed(qtbot, editing):
    win = editing
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    assert win.doc.current == 1
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    qtbot.keyClick(win.canvas, Qt.Key.Key_A)
    assert win.doc.current == 1
    win.doc.mark_reviewed(2)
    win.doc.set_current(1)
    win.actions_by_name["next_unreviewed"].trigger()
    assert win.doc.current == 3


def test_zoom_fit_actual_and_pan(qtbot, editing):
    win = editing
    c = win.canvas
    fit = c.zoom
    win.actions_by_name["actual"].trigger()
    assert c.zoom == pytest.approx(1.0)
    win.actions_by_name["fit"].trigger()
    assert c.zoom == pytest.approx(fit)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    center = QPointF(c.viewport().rect().center())
    ev = QWheelEvent(
        center,
        c.viewport().mapToGlobal(center),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    c.wheelEvent(ev)
    assert c.zoom == pytest.approx(fit * 1.15**2, rel=1e-3)
    h0, v0 = c.horizontalScrollBar().value(), c.verticalScrollBar().value()
    vp = c.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(150, 170))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=QPoint(150, 170))
    assert (c.horizontalScrollBar().value(), c.verticalScrollBar().value()) == (h0 + 50, v0 + 30)
    # Space held + left drag pans too, and does not mark the image reviewed
    h1, v1 = c.horizontalScrollBar().value(), c.verticalScrollBar().value()
    qtbot.keyPress(c, Qt.Key.Key_Space)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(vp, QPoint(220, 190))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=QPoint(220, 190))
    qtbot.keyRelease(c, Qt.Key.Key_Space)
    assert (c.horizontalScrollBar().value(), c.verticalScrollBar().value()) == (h1 - 20, v1 + 10)
    assert win.doc.current_entry.layer.status != Status.REVIEWED
    assert win.doc.undo_stack.count() == 0  # panning is not an edit


def test_moving_past_the_edge_stops_there_and_keeps_the_size(qtbot, editing):
    win = editing
    width, height = win.doc.current_entry.size
    draw_box(qtbot, win, (20, 20, 30, 40))
    qtbot.keyClick(win.canvas, Qt.Key.Key_4)
    (b0,) = checked(win)
    drag(qtbot, win.canvas, (30, 30), (30 + width, 30 + height))  # far past the bottom-right corner
    (b1,) = checked(win)
    assert (b1.w, b1.h) == pytest.approx((b0.w, b0.h), abs=0.01)
    assert (b1.x + b1.w, b1.y + b1.h) == pytest.approx((width, height), abs=0.01)
    for _ in range(3):  # nudging against the edge neither moves nor shrinks it
        qtbot.keyClick(win.canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    (b2,) = checked(win)
    assert (b2.x, b2.y, b2.w, b2.h) == pytest.approx((b1.x, b1.y, b1.w, b1.h), abs=0.01)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    (b3,) = checked(win)
    assert b3.x == pytest.approx(b2.x - 10, abs=0.01) and b3.w == pytest.approx(b0.w, abs=0.01)
