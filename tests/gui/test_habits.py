"""Habits people bring from other labelling tools: menu order, pop-ups that take the keyboard,
a cancelled export that is not an error."""

from __future__ import annotations

import shiboken6
from guihelpers import wait_model, wait_shown
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from digitgui import dialogs
from digitgui.dialogs import show_message as real_show_message  # imported before the fixture replaces it


def _plain(text: str) -> str:
    return text.split("\t")[0].replace("&", "")


def test_quit_is_last_in_file_and_the_export_format_sits_with_export(window):
    names = [_plain(a.text()) for a in window.menuBar().actions()[0].menu().actions() if not a.isSeparator()]
    assert names[-1] == "Quit"
    assert names.index("Export ground truth as") == names.index("Export to…") + 1


def _active_main(qtbot, win):
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    win.canvas.setFocus()


def _enter_on_focus(qtbot) -> None:
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)


def test_a_message_popup_takes_the_keyboard_so_enter_closes_it(qtbot, window, dataset, monkeypatch):
    monkeypatch.setattr(dialogs, "show_message", real_show_message)
    win = window
    assert win.open_folder(dataset)
    wait_shown(qtbot, win)
    _active_main(qtbot, win)
    win.message("info", "Exported 8 images to out/.", popup=True)
    box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
    qtbot.waitUntil(lambda: QApplication.activeWindow() is box, timeout=5000)
    _enter_on_focus(qtbot)
    qtbot.waitUntil(lambda: not shiboken6.isValid(box) or not box.isVisible(), timeout=5000)
    assert not win.number.editor.isVisible()  # Enter did not open the number editor


def test_about_takes_the_keyboard_so_enter_closes_it(qtbot, window, dataset):
    win = window
    assert win.open_folder(dataset)
    wait_shown(qtbot, win)
    _active_main(qtbot, win)
    win.help.show_about()
    about = win.help.about_box
    qtbot.waitUntil(lambda: QApplication.activeWindow() is about, timeout=5000)
    _enter_on_focus(qtbot)
    qtbot.waitUntil(lambda: not about.isVisible(), timeout=5000)
    assert not win.number.editor.isVisible()


def test_a_cancelled_export_is_not_shown_as_an_error(
    qtbot, window, plain_folder, tmp_path, monkeypatch, isolated_user_dirs
):
    monkeypatch.setattr(dialogs, "choose_output_folder", lambda *a, **k: str(tmp_path / "out"))
    win = window
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    with qtbot.waitSignal(win.export_finished, timeout=60000) as sig:
        win.export()
        win.cancel_predict()  # the Cancel of the progress bar, while export predicts the rest
    assert isinstance(sig.args[0], str) and sig.args[0].startswith("Export cancelled")
    assert not [t for level, t in isolated_user_dirs if level == "error"]
    assert not [t for level, t in win.messages if level == "error"]
