"""The number read from the current image, large, with the image's status beneath."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from trainer.numbers import read_number

from ..document import Document
from ..state import status_of


class NumberDisplay(QWidget):
    """Big number above the image; repaints from the document."""

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.number = QLabel("", self)
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.number.setStyleSheet("font-size: 40px; font-weight: bold; letter-spacing: 4px;")
        self.number.setObjectName("number")
        self.detail = QLabel("", self)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setStyleSheet("color: #888;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 0)
        lay.setSpacing(0)
        lay.addWidget(self.number)
        lay.addWidget(self.detail)
        doc.reset.connect(self.refresh)
        doc.current_changed.connect(lambda _r: self.refresh())
        doc.image_changed.connect(lambda r: self.refresh() if r == doc.current else None)
        doc.threshold_changed.connect(lambda _t: self.refresh())
        self.model_error: str | None = None

    def set_model_error(self, message: str | None) -> None:
        """No model to predict with (``None``: there is one again)."""
        self.model_error = message
        self.refresh()

    def refresh(self) -> None:
        e = self.doc.current_entry
        if e is None:
            self.number.setText("")
            self.detail.setText("")
            return
        r = self.doc.reading()
        has_any = e.pred is not None or e.layer.boxes
        if r.text:
            text = r.text
        elif e.error:  # the engine could not read it, or its prediction failed
            text = "⚠ prediction failed" if e.error.startswith("prediction") else "⚠ unreadable"
        elif has_any:
            text = "–"
        elif self.model_error:
            text = "no model"
        else:
            text = "…"  # waiting for the model
        self.number.setText(text)
        self.number.setToolTip(e.error or (self.model_error if text == "no model" else ""))
        parts = [f"{e.name} · id {e.image_id} · {status_of(e).label}"]
        if e.error:
            parts.append(e.error)
        if e.pred is not None and e.layer.boxes:
            model = read_number(e.pred.boxes, e.pred.scores, e.pred.digits, score_thresh=self.doc.threshold)
            parts.append(f"model reads {model.text or '–'}")
        self.detail.setText(" · ".join(parts))

    @property
    def text(self) -> str:
        return self.number.text()
