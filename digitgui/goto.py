"""Finding one image among thousands: *Image ▸ Go to image* (Ctrl+G) by file name or id, and
Ctrl+F for the image list's file-name search.

The dialog matches as you type: an image id or a whole file name (with or without its
extension) first, then names that start with the text, then names that contain it. The index is
built once per opened folder (a dict by id and by name, a list of lower-case names): for 13,000
names it takes some 25 ms, and each key a few milliseconds.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from . import dialogs
from .actions import _action
from .window_api import WindowHost

MAX_SHOWN = 50  # matches listed in the dialog
ROW_ROLE = Qt.ItemDataRole.UserRole + 1


class NameIndex:
    """Rows of a document's images by id, by name and by name without extension."""

    def __init__(self, entries) -> None:
        self.names = [e.name.lower() for e in entries]
        self.by_id = {e.image_id: r for r, e in reversed(list(enumerate(entries)))}
        self.by_name: dict[str, int] = {}
        for r, name in reversed(list(enumerate(self.names))):
            self.by_name[name] = r
            self.by_name.setdefault(name.rsplit(".", 1)[0], r)

    def find(self, text: str, limit: int = MAX_SHOWN) -> tuple[list[int], int]:
        """(up to ``limit`` rows, best first; how many images match in all)."""
        q = text.strip().lower()
        if not q:
            return [], 0
        exact: list[int] = []
        if q.lstrip("-").isdigit() and int(q) in self.by_id:
            exact.append(self.by_id[int(q)])
        if q in self.by_name and self.by_name[q] not in exact:
            exact.append(self.by_name[q])
        starts = [r for r, n in enumerate(self.names) if n.startswith(q) and r not in exact]
        inside = [r for r, n in enumerate(self.names) if q in n and not n.startswith(q) and r not in exact]
        total = len(exact) + len(starts) + len(inside)
        return (exact + starts + inside)[:limit], total


class GoToDialog(QDialog):
    """Type a file name (or part of one) or an image id; Enter opens the first match (or the one
    picked in the list)."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.setObjectName("goto-dialog")
        self.setWindowTitle("Go to image")
        self._index: NameIndex | None = None
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("file name, part of one, or image id")
        self.edit.setClearButtonEnabled(True)
        self.matches = QListWidget(self)
        self.note = QLabel(self)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Go")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Open the image whose file name or id is:", self))
        lay.addWidget(self.edit)
        lay.addWidget(self.matches, 1)
        lay.addWidget(self.note)
        lay.addWidget(buttons)
        self.edit.textChanged.connect(self._update)
        self.matches.itemActivated.connect(lambda _item: self.accept())
        win.doc.reset.connect(self._forget)
        self.resize(420, 380)

    def _forget(self) -> None:
        self._index = None

    @property
    def index(self) -> NameIndex:
        if self._index is None:
            self._index = NameIndex(self.win.doc.entries)
        return self._index

    def start(self) -> None:
        """Show the dialog with the text selected, ready to type over."""
        self.edit.selectAll()
        self._update(self.edit.text())
        self.open()
        dialogs.take_focus(self)
        self.edit.setFocus()

    def _update(self, text: str) -> None:
        rows, total = self.index.find(text)
        self.matches.clear()
        doc = self.win.doc
        for r in rows:
            e = doc.entry(r)
            item = QListWidgetItem(f"{e.name}    (id {e.image_id})")
            item.setData(ROW_ROLE, r)
            self.matches.addItem(item)
        if rows:
            self.matches.setCurrentRow(0)
        shown = f"; the first {len(rows)} are listed" if total > len(rows) else ""
        self.note.setText(f"{total} of {len(doc)} images match{shown}." if text.strip() else "")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - arrows move in the list while typing
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.matches.keyPressEvent(event)
            return
        super().keyPressEvent(event)

    def chosen_row(self) -> int | None:
        item = self.matches.currentItem()
        return int(item.data(ROW_ROLE)) if item is not None else None

    def accept(self) -> None:
        row = self.chosen_row()
        if row is None:
            self.note.setText(f"No image matches {self.edit.text().strip()!r}.")
            return
        super().accept()
        go_to_row(self.win, row)


def go_to_row(win: WindowHost, row: int) -> None:
    """Open image ``row``; where the list's filter or search hides it, the list shows all again."""
    lst = win.image_list
    if not lst.is_shown(row):
        lst.clear_filters()
        win.statusBar().showMessage("The image list's filter and search were cleared to show it.", 6000)
    win.doc.set_current(row)
    win.canvas.setFocus()


def install(win: WindowHost) -> GoToDialog:
    """*Image ▸ Go to image* (Ctrl+G) and *Find in the image list* (Ctrl+F)."""
    dlg = GoToDialog(win)

    def go() -> None:
        if len(win.doc):
            dlg.start()

    def find() -> None:
        if len(win.doc):
            lst = win.image_list
            lst.parentWidget().show()  # its dock
            lst.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
            lst.search.selectAll()

    acts = {
        "goto": _action(win, "&Go to image…", go, "Ctrl+G", "Open an image by file name or id"),
        "find": _action(win, "&Find in the image list", find, "Ctrl+F", "Search the image list by file name"),
    }
    win.image_menu.addSeparator()
    for act in acts.values():
        win.image_menu.addAction(act)
    win.actions_by_name.update(acts)
    return dlg
