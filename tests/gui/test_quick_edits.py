"""Faster hands through the real window: type the number, Ctrl+D, copy the previous image's boxes,
and the photo's display adjustment (brightness, contrast, gamma, invert)."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import drag, wait_model, wait_predicted, wait_shown
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from digitgui.display_adjust import DisplayAdjust
from digitgui.state import Prediction, Status

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def editing(qtbot, window, plain_folder):
    """A window on a folder without ground truth, first image on screen, no box shown."""
    assert window.open_folder(plain_folder)
    wait_model(qtbot, window)
    wait_shown(qtbot, window)
    wait_predicted(qtbot, window)
    window.doc.set_threshold(0.99)  # hide the random model's boxes: only our own boxes remain
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    window.canvas.setFocus()
    return window


def draw_digits(qtbot, win, digits: str, x0=10, y=20, w=20, h=40, step=28) -> None:
    for i, d in enumerate(digits):
        qtbot.keyClick(win.canvas, Qt.Key.Key_W)
        drag(qtbot, win.canvas, (x0 + i * step, y), (x0 + i * step + w, y + h))
        qtbot.keyClick(win.canvas, d)


def boxes_left_to_right(win):
    return sorted(win.doc.current_entry.layer.boxes, key=lambda b: b.x + b.w / 2)


def type_number(qtbot, win, widget, text: str) -> None:
    qtbot.keyClick(widget, Qt.Key.Key_Return)
    assert win.number.editing and QApplication.focusWidget() is win.number.editor
    qtbot.keyClicks(win.number.editor, text)
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Return)


def test_enter_types_the_number_onto_the_boxes_in_one_undo_step(qtbot, editing):
    win, stack = editing, editing.doc.undo_stack
    # the random model's weak boxes would be taken for new digits: this image has none
    win.doc.set_predictions([(win.doc.current, Prediction.empty(), win.doc.current_entry.size, None)])
    draw_digits(qtbot, win, "123")
    before = boxes_left_to_right(win)
    assert win.number.text == "123" and stack.count() == 3
    # Enter opens the editor with the number read, all selected: typing replaces it
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    assert win.number.editing and win.number.editor.text() == "123"
    assert win.number.editor.selectedText() == "123"
    qtbot.keyClicks(win.number.editor, "4509")
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Return)
    assert not win.number.editing and QApplication.focusWidget() is win.canvas
    after = boxes_left_to_right(win)
    assert [b.digit for b in after] == [4, 5, 0, 9] and win.number.text == "4509"
    assert [b.rect for b in after[:3]] == [b.rect for b in before]  # relabelled in place
    new = after[3]
    assert new.x == pytest.approx(before[2].x + 28, abs=0.5)  # the row goes on at its pitch
    assert (new.y, new.w, new.h) == pytest.approx((before[2].y, before[2].w, before[2].h), abs=0.5)
    assert win.canvas.selected == new.id  # the new box is selected, ready to be adjusted
    assert win.statusBar().currentMessage().startswith("1 new box placed")
    qtbot.keyClick(win.canvas, Qt.Key.Key_Right)
    assert boxes_left_to_right(win)[3].x == pytest.approx(new.x + 1, abs=0.01)
    assert stack.count() == 5 and stack.text(3) == "Type number 4509"
    # one undo step for the number (the nudge is its own)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, CTRL)
    assert boxes_left_to_right(win) == before and win.number.text == "123"
    # fewer digits, leading zero kept: the rightmost box goes
    type_number(qtbot, win, win.canvas, "07")
    assert [b.digit for b in boxes_left_to_right(win)] == [0, 7] and win.number.text == "07"
    assert [b.rect for b in boxes_left_to_right(win)] == [b.rect for b in before[:2]]
    assert win.doc.current_entry.layer.status == Status.EDITED


def test_the_editor_refuses_other_keys_and_escape_cancels(qtbot, editing):
    win = editing
    row = win.doc.current
    draw_digits(qtbot, win, "5")
    count = win.doc.undo_stack.count()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Enter)  # the keypad's Enter too
    qtbot.keyClicks(win.number.editor, "1d-a 2")  # D is "next image" elsewhere: not here
    assert win.number.editor.text() == "12" and win.doc.current == row
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Escape)
    assert not win.number.editing and win.number.text == "5"
    assert win.doc.undo_stack.count() == count and QApplication.focusWidget() is win.canvas
    # an empty editor changes nothing either
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Backspace)
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Return)
    assert win.doc.undo_stack.count() == count and win.number.text == "5"
    # a double-click on the number opens the editor too
    qtbot.mouseDClick(win.number.number, Qt.MouseButton.LeftButton)
    assert win.number.editing and win.number.editor.text() == "5"
    # opening another image closes it without typing anything
    win.doc.set_current(row + 1)
    assert not win.number.editing and win.doc.undo_stack.count() == count


def test_typing_on_an_image_without_boxes_places_a_centred_row(qtbot, editing):
    win = editing
    assert win.doc.shown() == []
    w, h = win.doc.current_entry.size
    view = win.image_list.view
    view.setFocus()  # Enter reaches the image from the image list as well
    type_number(qtbot, win, view, "42")
    boxes = boxes_left_to_right(win)
    assert [b.digit for b in boxes] == [4, 2] and win.number.text == "42"
    for b in boxes:
        assert b.h == pytest.approx(0.7 * h, abs=0.02) and b.y == pytest.approx(0.15 * h, abs=0.02)
        assert 0 <= b.x and b.x + b.w <= w
    centre = (boxes[0].x + boxes[1].x + boxes[1].w) / 2
    assert centre == pytest.approx(w / 2, abs=0.02)
    assert win.doc.undo_stack.count() == 1


def test_typing_makes_the_predictions_checked_boxes(qtbot, editing):
    win = editing
    win.doc.set_threshold(0.05)
    preds = sorted((s for s in win.doc.shown() if not s.checked), key=lambda s: s.x + s.w / 2)
    assert preds
    text = "".join(str((s.digit + 1) % 10) for s in preds)[:5]
    type_number(qtbot, win, win.canvas, text)
    shown = win.doc.shown()
    assert all(s.checked for s in shown) and len(shown) == len(text)
    assert win.number.text == text and win.doc.current_entry.layer.status == Status.EDITED
    # no new box (at most as many digits as boxes): nothing is selected, nothing to adjust
    assert win.canvas.selected == 0 and "new box" not in win.statusBar().currentMessage()
    win.doc.set_threshold(0.05)
    assert all(s.checked for s in win.doc.shown())  # nothing under them shows again
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, CTRL)
    assert {s.key for s in win.doc.shown()} == {s.key for s in preds}  # one step back


def test_ctrl_d_duplicates_the_selected_box_to_its_right(qtbot, editing):
    win = editing
    draw_digits(qtbot, win, "3", x0=20, y=20, w=30, h=40)
    (b,) = boxes_left_to_right(win)
    count = win.doc.undo_stack.count()
    qtbot.keyClick(win.canvas, Qt.Key.Key_D, CTRL)
    first, copy = boxes_left_to_right(win)
    assert first == b and copy.digit == 3 and (copy.w, copy.h, copy.y) == (b.w, b.h, b.y)
    assert copy.x == pytest.approx(b.x + 1.1 * b.w, abs=0.01)
    assert win.canvas.selected == copy.id and win.doc.undo_stack.count() == count + 1
    assert win.number.text == "33"
    # from the box list too; the copy of the copy goes on to the right
    win.box_list.setFocus()
    qtbot.keyClick(win.box_list, Qt.Key.Key_D, CTRL)
    assert [x.x for x in boxes_left_to_right(win)][2] == pytest.approx(copy.x + 1.1 * copy.w, abs=0.01)
    win.actions_by_name["undo"].trigger()
    assert len(boxes_left_to_right(win)) == 2


def test_ctrl_shift_v_copies_the_previous_images_boxes(qtbot, editing):
    win = editing
    draw_digits(qtbot, win, "78", x0=10, y=10, w=20, h=30)
    src = boxes_left_to_right(win)
    row = win.doc.current
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)  # next image
    assert win.doc.current == row + 1
    wait_shown(qtbot, win)
    count = win.doc.undo_stack.count()
    qtbot.keyClick(win.canvas, Qt.Key.Key_V, CTRL | SHIFT)
    got = boxes_left_to_right(win)
    assert [(b.digit, b.rect) for b in got] == [(b.digit, b.rect) for b in src]
    assert {b.id for b in got}.isdisjoint({b.id for b in src})
    assert win.doc.undo_stack.count() == count + 1 and win.number.text == "78"
    assert win.doc.current_entry.layer.status == Status.EDITED
    qtbot.keyClick(win.canvas, Qt.Key.Key_V, CTRL | SHIFT)  # again: nothing doubled
    assert len(boxes_left_to_right(win)) == 2 and win.doc.undo_stack.count() == count + 1
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, CTRL)
    assert boxes_left_to_right(win) == [] and win.doc.entry(row).layer.boxes == tuple(src)


def _pixels(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return (
        np.frombuffer(img.constBits(), np.uint8, count=h * bpl)
        .reshape(h, bpl)[:, : 3 * w]
        .reshape(h, w, 3)
        .copy()
    )


def test_display_keys_change_the_photo_only_and_are_kept(qtbot, editing, make_window, plain_folder):
    win = editing
    entry = win.doc.current_entry
    source = _pixels(win.loader.cached(entry.path)[0].image)
    layer = entry.layer
    shown = lambda w: _pixels(w.canvas._pixmap.pixmap().toImage())  # noqa: E731
    assert np.array_equal(shown(win), source)
    qtbot.keyClick(win.canvas, Qt.Key.Key_BracketRight)
    qtbot.keyClick(win.canvas, Qt.Key.Key_BracketRight)
    qtbot.keyClick(win.canvas, Qt.Key.Key_BraceRight)
    want = DisplayAdjust(brightness=0.2, contrast=1.25)
    assert win.canvas.display_adjust == want
    assert np.array_equal(shown(win), want.lut()[source])
    # the data never changes: the decoded picture, the boxes, the undo history
    assert np.array_equal(_pixels(win.loader.cached(entry.path)[0].image), source)
    assert entry.layer == layer and win.doc.undo_stack.count() == 0
    label = win.findChild(type(win.model_label), "display-adjust")
    assert label.isVisible() and label.text() == "Display: brightness +0.2, contrast 1.25"
    # kept on the next image; I inverts and G lifts the shadows, also from the image list
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, win)
    win.image_list.view.setFocus()
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_I)
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_G)
    want = DisplayAdjust(0.2, 1.25, 1.25, True)
    assert win.canvas.display_adjust == want
    src2 = _pixels(win.loader.cached(win.doc.current_entry.path)[0].image)
    assert np.array_equal(shown(win), want.lut()[src2])
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_G, SHIFT)
    assert win.canvas.display_adjust.gamma == 1.0
    # kept across a restart (the first window closes: a folder is open in one window at a time)
    win.close()
    win2 = make_window()
    assert win2.canvas.display_adjust == DisplayAdjust(0.2, 1.25, 1.0, True)
    assert win2.open_folder(plain_folder)
    wait_shown(qtbot, win2)
    src3 = _pixels(win2.loader.cached(win2.doc.current_entry.path)[0].image)
    assert np.array_equal(shown(win2), DisplayAdjust(0.2, 1.25, 1.0, True).lut()[src3])
    # backslash resets it in one key
    win2.canvas.setFocus()
    qtbot.keyClick(win2.canvas, Qt.Key.Key_Backslash)
    assert win2.canvas.display_adjust.identity and np.array_equal(shown(win2), src3)
    assert not win2.findChild(type(win.model_label), "display-adjust").isVisible()
