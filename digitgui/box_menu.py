"""Habits from labelImg and labelme on the image: a right-click menu on a box, a double-click to
edit its digit, copy and paste of boxes, and a key to hide the boxes.

| where | what |
| --- | --- |
| right-click a box | edit its digit, set a digit, delete, read inside it, copy, duplicate, paste |
| right-click elsewhere | draw a box, read inside a box, paste, hide boxes |
| double-click a box | a small editor on the box: type its digit (Esc cancels) |
| Ctrl+C / Ctrl+V | copy the selected box / paste copied boxes onto the image on screen |
| H | hide or show the boxes and labels (the photo alone; nothing changes) |

Copied boxes go to the system clipboard as JSON too, so they can be pasted in another window.
"""

from __future__ import annotations

import json
import math

from PySide6.QtCore import QObject, QPoint, QRegularExpression, Qt
from PySide6.QtGui import QGuiApplication, QRegularExpressionValidator
from PySide6.QtWidgets import QLineEdit, QMenu

from .actions import _action
from .state import UNKNOWN_DIGIT
from .window_api import WindowHost

CLIP_KEY = (
    "digit-studio-boxes"  # the JSON object copied boxes go in: {"digit-studio-boxes": [[x, y, w, h, d]]}
)


class DigitEditor(QLineEdit):
    """One digit typed over a box's label: the digit is applied as soon as it is typed."""

    def __init__(self, canvas, on_digit) -> None:
        super().__init__(canvas.viewport())
        self.canvas, self.on_digit = canvas, on_digit
        self.key = 0
        self.setObjectName("box-digit-editor")
        self.setValidator(QRegularExpressionValidator(QRegularExpression("[0-9]?"), self))
        self.setPlaceholderText("0–9")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedWidth(46)
        self.textEdited.connect(self._typed)
        self.hide()

    def start(self, key: int) -> None:
        item = self.canvas.items_by_key.get(key)
        if item is None:
            return
        self.key = key
        s = item.shown
        self.setText("" if s.digit == UNKNOWN_DIGIT else str(s.digit))
        self.selectAll()
        p = self.canvas.mapFromScene(item.rect().topLeft())
        vp = self.canvas.viewport().rect()
        x = min(max(p.x(), 0), vp.width() - self.width())
        y = min(max(p.y() - self.sizeHint().height() - 2, 0), vp.height() - self.sizeHint().height())
        self.move(x, y)
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def _typed(self, text: str) -> None:
        if text.isdigit():
            key = self.key
            self.finish()
            self.on_digit(key, int(text))

    def finish(self) -> None:
        if self.isVisible():
            self.key = 0
            self.hide()
            self.canvas.setFocus()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
            event.accept()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if event.reason() != Qt.FocusReason.ActiveWindowFocusReason:
            self.finish()


class BoxMenu(QObject):
    """The context menu, the digit editor, copy/paste and hide-boxes of ``win``'s canvas."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.canvas = win.canvas
        self.copied: list[list[float]] = []
        self.menu: QMenu | None = None  # the last one shown (tests and screenshots look at it)
        self.editor = DigitEditor(self.canvas, self.set_digit)
        a = self.actions = {
            "edit_digit": _action(win, "&Edit digit…\tdouble-click", self.edit_selected),
            "copy_box": _action(win, "&Copy box", self.copy, "Ctrl+C", "Copy the selected box"),
            "paste_box": _action(win, "&Paste boxes", self.paste, "Ctrl+V", "Paste copied boxes"),
            "hide_boxes": _action(win, "&Hide boxes", self._toggle_hidden, "H", "Hide or show the boxes"),
        }
        a["hide_boxes"].setCheckable(True)
        self.canvas.boxes_shown.connect(lambda on: a["hide_boxes"].setChecked(not on))
        self.canvas.box_menu_requested.connect(self.show_menu)
        self.canvas.box_edit_requested.connect(self.editor.start)
        win.doc.current_changed.connect(lambda _r: self.editor.finish())
        win.edit_menu.addSeparator()
        for n in ("edit_digit", "copy_box", "paste_box"):
            win.edit_menu.addAction(a[n])
        win.view_menu.addSeparator()
        win.view_menu.addAction(a["hide_boxes"])
        win.actions_by_name.update(a)

    def _toggle_hidden(self) -> None:
        self.canvas.set_boxes_visible(not self.actions["hide_boxes"].isChecked())
        if not self.canvas.boxes_visible:
            self.win.statusBar().showMessage("Boxes hidden: H shows them again.", 5000)

    # ------------------------------------------------------------------ editing

    def edit_selected(self) -> None:
        if self.canvas.selected:
            self.editor.start(self.canvas.selected)

    def set_digit(self, key: int, digit: int) -> None:
        if self.win.doc.find_shown(key) is not None:
            self.canvas.set_selected(self.win.doc.change_box(key, digit=digit))

    def delete(self, key: int) -> None:
        self.win.doc.delete_box(key)

    def read_inside(self, key: int) -> None:
        """Ask the model to read the box's rectangle (as R and a drag around it would)."""
        s = self.win.doc.find_shown(key)
        if s is not None:
            self.canvas.show_region(s.rect)
            self.win.region_reader.request(s.rect)

    def copy(self) -> None:
        s = self.win.doc.find_shown(self.canvas.selected) if self.canvas.selected else None
        if s is None:
            self.win.statusBar().showMessage("Select a box to copy.", 4000)
            return
        self.copied = [[s.x, s.y, s.w, s.h, s.digit]]
        QGuiApplication.clipboard().setText(json.dumps({CLIP_KEY: self.copied}))
        self.win.statusBar().showMessage("Box copied: Ctrl+V pastes it on any image.", 4000)

    def _clipboard_boxes(self) -> list[list[float]]:
        try:
            data = json.loads(QGuiApplication.clipboard().text() or "null")
            boxes = data[CLIP_KEY] if isinstance(data, dict) else None
            if isinstance(boxes, list) and all(
                isinstance(b, list)
                and len(b) == 5
                and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b
                )
                for b in boxes
            ):
                return boxes
        except (ValueError, TypeError, KeyError):
            pass
        return self.copied

    def paste(self) -> None:
        """Paste the copied boxes onto the image on screen, where they were, as checked boxes."""
        doc = self.win.doc
        boxes = self._clipboard_boxes()
        if doc.current_entry is None or not boxes:
            self.win.statusBar().showMessage("No box to paste: copy one first (Ctrl+C).", 4000)
            return
        self.canvas.set_boxes_visible(True)
        last = 0
        for x, y, w, h, d in boxes:
            if w < 1 or h < 1:
                continue
            d = int(d) if 0 <= int(d) <= 9 else UNKNOWN_DIGIT
            last = doc.add_box((float(x), float(y), float(w), float(h)), d)
        self.canvas.set_selected(last)

    # ------------------------------------------------------------------ the menu

    def build_menu(self, key: int) -> QMenu:
        """The right-click menu for box ``key`` (0: the image, no box under the mouse)."""
        win, a = self.win, self.actions
        menu = QMenu(win)
        menu.setObjectName("box-menu")
        if key:
            menu.addAction(a["edit_digit"])
            digits = menu.addMenu("Set &digit")
            for d in range(10):
                digits.addAction(str(d), lambda d=d: self.set_digit(key, d))
            menu.addAction("De&lete box\tDel", lambda: self.delete(key))
            menu.addAction("&Read inside this box", lambda: self.read_inside(key))
            menu.addSeparator()
            menu.addAction(a["copy_box"])
            menu.addAction(win.actions_by_name["duplicate"])
        else:
            menu.addAction(win.actions_by_name["draw"])
            menu.addAction(win.actions_by_name["read_box"])
        menu.addAction(a["paste_box"])
        menu.addSeparator()
        menu.addAction(a["hide_boxes"])
        return menu

    def show_menu(self, key: int, pos: QPoint) -> None:
        if self.menu is not None:
            self.menu.close()
            self.menu.deleteLater()
        self.menu = self.build_menu(key)
        self.menu.popup(pos)


def install(win: WindowHost) -> BoxMenu:
    """Add the box menu, the digit editor, copy/paste and hide-boxes to ``win`` (a MainWindow)."""
    return BoxMenu(win)
