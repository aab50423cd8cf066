"""Customisable shortcuts (stored in the settings, F1 follows) and the dark theme."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from digitgui import settings, theme


def _row(dlg, title: str) -> int:
    for r in range(dlg.table.rowCount()):
        if dlg.table.item(r, 0).text() == title:
            return r
    raise AssertionError(title)


def _f1_keys(win, action: str) -> list[str]:
    win.help.show_shortcuts()
    return [keys for keys, what, _where in win.help.shortcuts_window.rows() if what == action]


def test_a_customised_shortcut_works_is_remembered_and_listed(qtbot, make_window, dataset):
    win = make_window()
    assert win.open_folder(dataset)
    win.actions_by_name["customise_shortcuts"].trigger()
    dlg = win.shortcuts.dialog
    qtbot.waitUntil(dlg.isVisible, timeout=3000)
    edit = dlg.edits["goto"]
    assert edit.keySequence() == QKeySequence("Ctrl+G")
    edit.setKeySequence(QKeySequence("Ctrl+Shift+J"))
    dlg.accept()
    assert not dlg.isVisible()
    assert win.actions_by_name["goto"].shortcuts() == [QKeySequence("Ctrl+Shift+J")]
    assert settings.custom_shortcuts() == {"goto": "Ctrl+Shift+J"}
    shown = QKeySequence("Ctrl+Shift+J").toString(QKeySequence.SequenceFormat.NativeText)
    assert _f1_keys(win, "Go to image") == [shown]
    win.help.shortcuts_window.close()
    # the new key opens the dialog; the old one no longer does
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert not win.goto_dialog.isVisible()
    qtbot.keyClick(
        win.canvas, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    qtbot.waitUntil(win.goto_dialog.isVisible, timeout=3000)
    win.goto_dialog.reject()
    win.close()
    # remembered by the next window
    again = make_window()
    assert again.actions_by_name["goto"].shortcuts() == [QKeySequence("Ctrl+Shift+J")]
    # and the defaults come back
    again.actions_by_name["customise_shortcuts"].trigger()
    again.shortcuts.dialog.restore_defaults()
    again.shortcuts.dialog.accept()
    assert again.actions_by_name["goto"].shortcuts() == [QKeySequence("Ctrl+G")]
    assert settings.custom_shortcuts() == {}


@pytest.mark.parametrize(
    ("key", "why"), [("Ctrl+E", "is given to Export and Go to image"), ("W", "is a key of the image view")]
)
def test_a_key_taken_is_refused(qtbot, window, key, why):
    win = window
    win.actions_by_name["customise_shortcuts"].trigger()
    dlg = win.shortcuts.dialog
    dlg.edits["goto"].setKeySequence(QKeySequence(key))
    dlg.accept()
    assert dlg.isVisible() and why in dlg.problem.text(), dlg.problem.text()
    assert win.actions_by_name["goto"].shortcuts() == [QKeySequence("Ctrl+G")]
    assert settings.custom_shortcuts() == {}
    dlg.reject()


@pytest.fixture
def light_after():
    yield
    theme.apply("light")


def test_dark_theme_chosen_in_view_is_remembered(qtbot, make_window, light_after):
    win = make_window()
    assert not theme.is_dark()
    assert win.actions_by_name["theme_system"].isChecked()
    win.actions_by_name["theme_dark"].trigger()
    assert theme.is_dark() and settings.theme() == "dark"
    # widgets with a style sheet of their own (the big number) turn light too
    assert win.number.number.palette().color(QPalette.ColorRole.WindowText).lightness() > 128
    win.actions_by_name["theme_light"].trigger()
    assert not theme.is_dark()
    win.actions_by_name["theme_dark"].trigger()
    win.close()
    theme.apply("light")
    again = make_window()
    assert again.actions_by_name["theme_dark"].isChecked() and theme.is_dark()


def test_system_theme_follows_the_desktop(qtbot, make_window, monkeypatch, light_after):
    win = make_window()
    assert settings.theme() == "system" and not theme.is_dark()
    monkeypatch.setattr(theme, "system_is_dark", lambda: True)
    QGuiApplication.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.is_dark()
    win.actions_by_name["theme_light"].trigger()  # light, even on a dark desktop
    assert not theme.is_dark()
    monkeypatch.setattr(theme, "system_is_dark", lambda: False)
    win.actions_by_name["theme_system"].trigger()
    assert not theme.is_dark()
