"""The page shown when no folder is open: open a folder, recent folders, sample images."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class StartPage(QWidget):
    """Emits what the user picked; the main window does the opening."""

    open_folder = Signal()
    open_recent = Signal(str)
    open_samples = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        title = QLabel("Digit Studio", self)
        title.setStyleSheet("font-size: 28px; font-weight: bold;")
        hint = QLabel(
            "Open a folder of photos: every digit is boxed and every number read.\n"
            "Fix what is wrong, then export with one click (Ctrl+E). You can also drop a folder here.",
            self,
        )
        hint.setWordWrap(True)
        self.open_button = QPushButton("Open folder…  (Ctrl+O)", self)
        self.samples_button = QPushButton("Open sample images", self)
        self.recent = QListWidget(self)
        self.recent.setMaximumHeight(220)
        panel = QWidget(self)
        panel.setMaximumWidth(640)
        panel.setMinimumWidth(420)
        lay = QVBoxLayout(panel)
        for w in (title, hint, self.open_button, self.samples_button, QLabel("Recent folders", self)):
            lay.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter if w is title else Qt.AlignmentFlag(0))
        lay.addWidget(self.recent)
        outer = QHBoxLayout(self)
        outer.addWidget(panel, 0, Qt.AlignmentFlag.AlignCenter)
        self.open_button.clicked.connect(self.open_folder)
        self.samples_button.clicked.connect(self.open_samples)
        self.recent.itemActivated.connect(lambda it: self.open_recent.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.recent.itemClicked.connect(lambda it: self.open_recent.emit(it.data(Qt.ItemDataRole.UserRole)))

    def set_recent(self, folders: list[str]) -> None:
        self.recent.clear()
        for f in folders:
            item = QListWidgetItem(f)
            item.setData(Qt.ItemDataRole.UserRole, f)
            self.recent.addItem(item)
        if not folders:
            item = QListWidgetItem("(none yet)")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(item)
