"""Every dialog the app shows goes through here, so tests can replace them.

Messages are non-modal (they never block the event loop); file choosers are modal by nature,
and tests monkeypatch :func:`choose_folder`, :func:`choose_open_file` and
:func:`choose_save_file`, :func:`choose_output_folder`, :func:`confirm`, :func:`ask` and
:func:`ask_text`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QFileDialog, QInputDialog, QMessageBox, QWidget

log = logging.getLogger(__name__)

_LEVELS = {
    "info": QMessageBox.Icon.Information,
    "warning": QMessageBox.Icon.Warning,
    "error": QMessageBox.Icon.Critical,
}


def show_message(parent: QWidget | None, level: str, title: str, text: str) -> QMessageBox | None:
    """A non-modal message box (returns it so callers may close it)."""
    log.log(logging.ERROR if level == "error" else logging.INFO, "%s: %s", title, text)
    box = QMessageBox(
        _LEVELS.get(level, QMessageBox.Icon.Information), title, text, QMessageBox.StandardButton.Ok, parent
    )
    box.setModal(False)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    take_focus(box)
    return box


def take_focus(window: QWidget) -> None:
    """Raise a pop-up and give it the keyboard, so the Enter meant for its OK button closes it
    instead of reaching the main window (where Enter opens the number editor)."""
    window.raise_()
    window.activateWindow()
    button = window.defaultButton() if isinstance(window, QMessageBox) else None
    if button is None:
        boxes = window.findChildren(QDialogButtonBox)
        button = boxes[0].buttons()[0] if boxes and boxes[0].buttons() else None
    (button or window).setFocus(Qt.FocusReason.ActiveWindowFocusReason)


def choose_folder(parent: QWidget | None, title: str, start: str = "") -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, title, start)
    return folder or None


class _OutputFolderDialog(QFileDialog):
    """A folder chooser that accepts a folder typed by name that does not exist yet: it creates it."""

    def accept(self) -> None:
        picked = self.selectedFiles()
        if picked and not Path(picked[0]).exists():
            try:
                Path(picked[0]).mkdir(parents=True)
            except OSError as exc:
                QMessageBox.warning(self, self.windowTitle(), f"Cannot create {picked[0]}:\n{exc}")
                return
        super().accept()


def choose_output_folder(parent: QWidget | None, title: str, start: str = "") -> str | None:
    """A folder to write into; a new name typed in the dialog is created."""
    dlg = _OutputFolderDialog(parent, title, start)
    dlg.setFileMode(QFileDialog.FileMode.Directory)
    dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dlg.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # native ones refuse a new name
    dlg.setLabelText(QFileDialog.DialogLabel.Accept, "Export here")
    if dlg.exec() != QFileDialog.DialogCode.Accepted or not dlg.selectedFiles():
        return None
    return dlg.selectedFiles()[0]


def choose_open_file(parent: QWidget | None, title: str, start: str = "", filters: str = "") -> str | None:
    path, _ = QFileDialog.getOpenFileName(parent, title, start, filters)
    return path or None


def choose_save_file(parent: QWidget | None, title: str, start: str = "", filters: str = "") -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, title, start, filters)
    return path or None


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """A yes/no question (modal; tests monkeypatch it)."""
    answer = QMessageBox.question(
        parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    )
    return answer == QMessageBox.StandardButton.Yes


def ask(parent: QWidget | None, title: str, text: str, options: list[str]) -> str | None:
    """A question with several answers (modal; tests monkeypatch it). Returns the one picked, or
    None when the dialog is closed."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    buttons = {box.addButton(o, QMessageBox.ButtonRole.AcceptRole): o for o in options}
    box.exec()
    return buttons.get(box.clickedButton())


def ask_text(parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
    """A line of text (modal; tests monkeypatch it). None when the dialog is cancelled."""
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value if ok else None
