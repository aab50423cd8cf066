"""Digits, Delete, W, Space and Tab act on the image wherever the focus is in the main window,
except in text and number fields."""

from __future__ import annotations

import pytest
from guihelpers import drag, wait_model, wait_predicted, wait_shown
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QSpinBox

from digitgui.state import UNKNOWN_DIGIT, Status


@pytest.fixture
def predicted(qtbot, window, plain_folder):
    win = window
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    wait_predicted(qtbot, win)
    win.doc.set_threshold(0.05)
    preds = [s for s in win.doc.shown() if not s.checked]
    assert preds, win.doc.current_entry.pred
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    return win


def click_current_row(qtbot, win) -> None:
    view = win.image_list.view
    rect = view.visualRect(view.currentIndex())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert QApplication.focusWidget() is view


def test_w_after_clicking_the_list_draws_instead_of_moving_a_prediction(qtbot, predicted):
    win = predicted
    row = win.doc.current
    before = [s for s in win.doc.shown() if not s.checked]
    target = max(before, key=lambda s: s.w * s.h)
    click_current_row(qtbot, win)
    assert win.doc.current == row
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_W)
    assert win.canvas.draw_armed
    cx, cy = target.x + target.w / 2, target.y + target.h / 2
    drag(qtbot, win.canvas, (cx - 4, cy - 4), (cx + 6, cy + 8))
    layer = win.doc.current_entry.layer
    assert len(layer.boxes) == 1 and layer.boxes[0].digit == UNKNOWN_DIGIT
    assert not layer.hidden  # no prediction was moved (moving one makes it a checked box)
    # the digit typed next labels the new box, even with the list focused again
    click_current_row(qtbot, win)
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_5)
    assert [b.digit for b in win.doc.current_entry.layer.boxes] == [5]
    assert win.doc.undo_stack.count() == 1  # drawing and its digit are one step


def test_keys_reach_the_image_from_combo_boxes_and_the_box_list(qtbot, predicted):
    win = predicted
    row = win.doc.current
    il = win.image_list
    # Tab on the filter box selects boxes instead of moving the focus
    il.filter.setFocus()
    qtbot.keyClick(il.filter, Qt.Key.Key_Tab)
    first = win.canvas.selected
    assert first != 0 and QApplication.focusWidget() is il.filter
    # a digit on the box list relabels the selected box
    win.box_list.setFocus()
    qtbot.keyClick(win.box_list, Qt.Key.Key_7)
    labelled = win.doc.current_entry.layer.boxes
    assert [b.digit for b in labelled] == [7]
    # Delete on the sort box deletes it
    il.sort.setFocus()
    qtbot.keyClick(il.sort, Qt.Key.Key_Delete)
    assert win.doc.current_entry.layer.boxes == ()
    # Space on the sort box marks the image reviewed and opens the next, no drop-down
    qtbot.keyClick(il.sort, Qt.Key.Key_Space)
    assert not il.sort.view().isVisible()
    assert win.doc.entry(row).layer.status == Status.REVIEWED
    assert win.doc.current == row + 1
    assert il.sort.currentIndex() == 0


def test_number_fields_keep_their_keys(qtbot, predicted):
    win = predicted
    win.toggle_training_dock()
    spin = win.training_dock.findChild(QSpinBox)
    assert spin is not None
    spin.setFocus()
    spin.lineEdit().selectAll()
    before = win.doc.current_entry.layer
    qtbot.keyClick(spin, Qt.Key.Key_2)
    qtbot.keyClick(spin, Qt.Key.Key_0)
    assert spin.text().startswith("20") or spin.cleanText() == "20"
    assert win.doc.current_entry.layer == before and win.doc.undo_stack.count() == 0
