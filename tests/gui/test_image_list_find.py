"""Finding images in a long list: search by file name, Go to image (Ctrl+G), the list scrolled
to the current image on reopen, and the sort order remembered."""

from __future__ import annotations

import shutil

import pytest
from guihelpers import wait_shown
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


@pytest.fixture
def long_folder(tmp_path, synth_master):
    """600 small photos (more than a screen, and past any first batch of a lazy layout) (copies of the synthetic ones), named 1.png .. 600.png."""
    folder = tmp_path / "long"
    folder.mkdir()
    src = sorted((synth_master / "images").glob("*.png"))
    for i in range(1, 601):
        shutil.copy(src[i % len(src)], folder / f"{i}.png")
    return folder


def _current_visible(win) -> bool:
    view = win.image_list.view
    idx = view.currentIndex()
    return idx.isValid() and view.viewport().rect().intersects(view.visualRect(idx))


def test_reopening_scrolls_the_list_to_the_current_image(qtbot, make_window, long_folder):
    win = make_window()
    assert win.open_folder(long_folder)
    win.doc.set_current(450)
    win.close()
    win = make_window()
    assert win.open_folder(long_folder)
    assert win.doc.current == 450
    qtbot.waitUntil(lambda: _current_visible(win), timeout=3000)


def test_the_sort_order_is_remembered(qtbot, make_window, long_folder):
    win = make_window()
    win.image_list.sort.setCurrentIndex(1)
    win.close()
    win = make_window()
    assert win.image_list.sort.currentIndex() == 1
    assert win.image_list.proxy.by_confidence


def _shown_names(win) -> list[str]:
    return [win.doc.entry(r).name for r in win.image_list.rows_in_view_order()]


def test_search_filters_by_file_name_and_keeps_the_digits_typed(qtbot, window, dataset):
    win = window
    assert win.open_folder(dataset)
    wait_shown(qtbot, win)
    key = win.doc.shown()[0].key
    digit = win.doc.shown()[0].digit
    win.canvas.set_selected(key)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    qtbot.keyClick(win.canvas, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # Ctrl+F: the search
    search = win.image_list.search
    assert QApplication.focusWidget() is search
    qtbot.keyClicks(search, "3")
    assert search.text() == "3"
    assert win.doc.find_shown(key).digit == digit  # the digit went to the field, not to the box
    assert not win.doc.current_entry.layer.status.name == "EDITED"
    qtbot.waitUntil(lambda: _shown_names(win) == ["3.png"], timeout=3000)
    search.clear()
    qtbot.waitUntil(lambda: len(_shown_names(win)) == len(win.doc), timeout=3000)


def test_go_to_image_by_name_or_id(qtbot, window, long_folder):
    win = window
    assert win.open_folder(long_folder)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    qtbot.keyClick(win.canvas, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    dlg = win.goto_dialog
    qtbot.waitUntil(lambda: dlg.isVisible() and QApplication.focusWidget() is dlg.edit, timeout=3000)
    qtbot.keyClicks(dlg.edit, "45")
    first = dlg.matches.item(0).text()
    assert first.startswith("45.png"), first  # the whole name before names that merely contain it
    assert dlg.matches.count() == 16  # 45, 145, ..., 545 and 450..459
    qtbot.keyClick(dlg.edit, Qt.Key.Key_Return)
    assert not dlg.isVisible()
    assert win.doc.current_entry.name == "45.png"
    qtbot.waitUntil(lambda: _current_visible(win), timeout=3000)
    # by id, with the list filtered so that it hides the target: the filter gives way
    win.image_list.search.setText("59")
    qtbot.waitUntil(lambda: len(_shown_names(win)) < 20, timeout=3000)
    win.goto_dialog.start()
    dlg.edit.setText("531")
    dlg.accept()
    assert win.doc.current_entry.name == "531.png"
    assert win.image_list.search.text() == ""
    qtbot.waitUntil(lambda: _current_visible(win), timeout=3000)
    # nothing found: the dialog stays open and says so
    win.goto_dialog.start()
    dlg.edit.setText("nope")
    dlg.accept()
    assert dlg.isVisible() and "No image matches" in dlg.note.text()
    dlg.reject()


def test_the_name_index_of_13000_images():
    from digitgui.goto import NameIndex

    class E:
        def __init__(self, i):
            self.name, self.image_id = f"img_{i:05d}.jpg", 100000 + i

    index = NameIndex([E(i) for i in range(13000)])
    rows, total = index.find("IMG_01234")
    assert rows[0] == 1234 and total == 1
    rows, total = index.find("101234")  # an id
    assert rows == [1234] and total == 1
    rows, total = index.find("0123")
    assert total == 12 and len(rows) == 12  # 00123, 01230..01239, 10123
    rows, total = index.find("img")
    assert total == 13000 and len(rows) == 50
