"""The boxes of the current image as a short list; selecting a row selects the box on the canvas."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from ..document import Document
from ..state import UNKNOWN_DIGIT

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class BoxList(QListWidget):
    """Read-only view of ``doc.shown()``, rebuilt on every change (a few dozen rows at most)."""

    box_selected = Signal(int)

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._updating = False
        doc.reset.connect(self.refresh)
        doc.current_changed.connect(lambda _r: self.refresh())
        doc.image_changed.connect(lambda r: self.refresh() if r == doc.current else None)
        doc.threshold_changed.connect(lambda _t: self.refresh())
        self.currentItemChanged.connect(self._on_current)

    def refresh(self) -> None:
        self._updating = True
        keep = self.selected_key()
        self.clear()
        for s in sorted(self.doc.shown(), key=lambda s: s.x):
            digit = "?" if s.digit == UNKNOWN_DIGIT else str(s.digit)
            kind = "checked" if s.checked else f"predicted {s.score:.2f}"
            item = QListWidgetItem(f"{digit}   {kind}   [{s.x:.0f}, {s.y:.0f}, {s.w:.0f}×{s.h:.0f}]")
            item.setData(KEY_ROLE, s.key)
            self.addItem(item)
        self.select_key(keep)
        self._updating = False

    def selected_key(self) -> int:
        item = self.currentItem()
        return int(item.data(KEY_ROLE)) if item is not None else 0

    def select_key(self, key: int) -> None:
        self._updating = True
        for i in range(self.count()):
            if self.item(i).data(KEY_ROLE) == key:
                self.setCurrentRow(i)
                break
        else:
            self.setCurrentRow(-1)
        self._updating = False

    def _on_current(self, item, _prev) -> None:
        if not self._updating and item is not None:
            self.box_selected.emit(int(item.data(KEY_ROLE)))
