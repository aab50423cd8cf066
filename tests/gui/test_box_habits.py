"""The box habits of labelImg and labelme users: right-click menu, double-click to edit the
digit, copy and paste, a key to hide the boxes, labels that hide no other box."""

from __future__ import annotations

import numpy as np
import pytest
from guihelpers import wait_shown
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication


@pytest.fixture
def labelled(qtbot, window, dataset):
    """The first image of a dataset with ground truth on screen, the window active."""
    win = window
    win.inference.request = lambda items: None
    assert win.open_folder(dataset)
    wait_shown(qtbot, win)
    assert win.doc.shown()
    _activate(qtbot, win)
    return win


def _activate(qtbot, win) -> None:
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    win.canvas.setFocus()


def _centre(win, shown) -> QPoint:
    return win.canvas.view_pos(shown.x + shown.w / 2, shown.y + shown.h / 2)


def right_click(win, pos: QPoint) -> None:
    vp = win.canvas.viewport()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, vp.mapToGlobal(pos))
    QApplication.sendEvent(vp, event)


def _menu_action(menu, text: str):
    for act in menu.actions():
        if act.text().split("\t")[0].replace("&", "") == text:
            return act
    raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")


def test_right_click_on_a_box_relabels_copies_and_deletes_it(qtbot, labelled, monkeypatch):
    win = labelled
    target = sorted(win.doc.shown(), key=lambda s: s.x)[0]
    n = len(win.doc.shown())
    right_click(win, _centre(win, target))
    menu = win.box_menu.menu
    qtbot.waitUntil(menu.isVisible, timeout=3000)
    assert win.canvas.selected == target.key
    digits = _menu_action(menu, "Set digit").menu()
    new_digit = (target.digit + 1) % 10
    next(a for a in digits.actions() if a.text() == str(new_digit)).trigger()
    menu.close()
    relabelled = win.doc.find_shown(win.canvas.selected)
    assert relabelled.digit == new_digit and relabelled.rect == target.rect
    # read inside: the box's own rectangle goes to the model
    asked = []
    monkeypatch.setattr(win.region_reader, "request", asked.append)
    right_click(win, _centre(win, relabelled))
    _menu_action(win.box_menu.menu, "Read inside this box").trigger()
    assert asked == [relabelled.rect]
    # copy, then paste on the next image
    right_click(win, _centre(win, relabelled))
    _menu_action(win.box_menu.menu, "Copy box").trigger()
    win.box_menu.menu.close()
    win.go(1)
    wait_shown(qtbot, win)
    _activate(qtbot, win)
    before = len(win.doc.shown())
    qtbot.keyClick(win.canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted = win.doc.find_shown(win.canvas.selected)
    assert len(win.doc.shown()) == before + 1
    assert pasted.digit == new_digit and pasted.rect == pytest.approx(relabelled.rect)
    win.go(-1)
    wait_shown(qtbot, win)
    # delete
    right_click(win, _centre(win, relabelled))
    _menu_action(win.box_menu.menu, "Delete box").trigger()
    assert len(win.doc.shown()) == n - 1
    assert win.doc.find_shown(relabelled.key) is None
    # off the boxes: the image's menu
    right_click(win, QPoint(2, 2))
    texts = [a.text().split("\t")[0].replace("&", "") for a in win.box_menu.menu.actions()]
    assert "Draw box (then type its digit)" in texts and "Delete box" not in texts
    win.box_menu.menu.close()


def test_double_click_a_box_edits_its_digit(qtbot, labelled):
    win = labelled
    target = sorted(win.doc.shown(), key=lambda s: s.x)[-1]
    new_digit = (target.digit + 3) % 10
    qtbot.mouseDClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=_centre(win, target))
    editor = win.box_menu.editor
    qtbot.waitUntil(lambda: editor.isVisible() and QApplication.focusWidget() is editor, timeout=3000)
    assert editor.text() == str(target.digit)
    qtbot.keyClick(editor, Qt.Key.Key_0 + new_digit)
    assert not editor.isVisible()
    shown = win.doc.find_shown(win.canvas.selected)
    assert shown.digit == new_digit and shown.rect == target.rect
    assert win.doc.current_entry.layer.boxes  # the document changed, not a copy
    # Esc leaves the digit alone
    qtbot.mouseDClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=_centre(win, shown))
    qtbot.waitUntil(editor.isVisible, timeout=3000)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert not editor.isVisible() and win.doc.find_shown(shown.key).digit == new_digit


def test_h_hides_and_shows_the_boxes(qtbot, labelled):
    win = labelled
    n = len(win.doc.shown())
    assert len(win.canvas.items_by_key) == n
    win.image_list.view.setFocus()  # from the image list as well
    qtbot.keyClick(win.image_list.view, Qt.Key.Key_H)
    assert win.canvas.items_by_key == {} and win.actions_by_name["hide_boxes"].isChecked()
    assert len(win.doc.shown()) == n  # nothing was deleted
    win.go(1)
    wait_shown(qtbot, win)
    assert win.canvas.items_by_key == {}  # hidden on the next image too
    qtbot.keyClick(win.canvas, Qt.Key.Key_H)
    assert len(win.canvas.items_by_key) == len(win.doc.shown()) > 0
    assert not win.actions_by_name["hide_boxes"].isChecked()
    # drawing shows them again
    qtbot.keyClick(win.canvas, Qt.Key.Key_H)
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert win.canvas.boxes_visible and win.canvas.items_by_key


@pytest.mark.parametrize(
    "boxes",
    [
        # a short digit with a taller one just right of it: its label would sit on the tall one
        [[10, 30, 12, 20], [24, 6, 12, 44], [38, 30, 12, 20]],
        # two lines of digits close together: the lower line's labels would sit on the upper line
        [[10, 10, 12, 18], [24, 10, 12, 18], [10, 31, 12, 18], [24, 31, 12, 18]],
    ],
)
def test_labels_cover_no_other_box(qtbot, window, plain_folder, boxes):
    win = window
    win.inference.request = lambda items: None
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    name = win.doc.current_entry.name
    b = np.asarray(boxes, np.float32)
    scores = np.linspace(0.7, 0.9, len(b)).astype(np.float32)
    digits = np.arange(1, len(b) + 1, dtype=np.int64)
    win.predictions.inject(name, b, scores, digits, size=(64, 64))
    win.doc.set_threshold(0.5)
    win.actions_by_name["actual"].trigger()
    c = win.canvas
    qtbot.wait(1)
    items = list(c.items_by_key.values())
    assert len(items) == len(boxes)
    vt = c.viewportTransform()
    labels = {it.key: it.label.deviceTransform(vt).mapRect(it.label.rect) for it in items}
    on_screen = {it.key: vt.mapRect(it.rect()) for it in items}
    for key, lab in labels.items():
        for other, r in on_screen.items():
            if other != key:
                assert not lab.intersects(r), (key, other, lab, r)
        for other, r in labels.items():
            if other != key:
                assert not lab.intersects(r), (key, other, lab, r)


def test_paste_takes_boxes_from_the_clipboard_and_ignores_other_text(qtbot, labelled):
    from PySide6.QtGui import QGuiApplication

    win = labelled
    n = len(win.doc.shown())
    clip = QGuiApplication.clipboard()
    clip.setText('{"digit-studio-boxes": [[5, 6, 20, 30, 7], [1, 1, 0, 5, 3], [2, 2, 9, 9, NaN]]}')
    win.box_menu.paste()
    assert len(win.doc.shown()) == n  # a NaN anywhere: not our boxes, and nothing was copied here
    clip.setText('{"digit-studio-boxes": [[5, 6, 20, 30, 7], [1, 1, 0, 5, 3]]}')  # another window's copy
    win.box_menu.paste()
    added = win.doc.find_shown(win.canvas.selected)
    assert len(win.doc.shown()) == n + 1  # the box without width is skipped
    assert added.rect == pytest.approx((5, 6, 20, 30)) and added.digit == 7
    clip.setText("1199")
    win.box_menu.paste()
    assert len(win.doc.shown()) == n + 1
    assert "No box to paste" in win.statusBar().currentMessage()
