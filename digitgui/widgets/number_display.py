"""The number read from the current image, large, with the image's status beneath.

Enter on the image (or a double-click here) turns the number into an editor: typing the whole
number and Enter lays it onto the boxes (``number_typed``), Escape cancels, and so does
clicking elsewhere or opening another image. Only digits are accepted (leading zeros kept).
"""

from __future__ import annotations

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from ..document import Document
from ..number_entry import MAX_DIGITS
from ..prediction_control import model_reading
from ..state import status_of


class NumberEdit(QLineEdit):
    """The editor of the number: digits only; Escape or losing the focus cancels."""

    cancelled = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setValidator(QRegularExpressionValidator(QRegularExpression(f"[0-9]{{0,{MAX_DIGITS}}}"), self))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("font-size: 36px; font-weight: bold; letter-spacing: 4px;")
        self.setPlaceholderText("type the number")
        self.setObjectName("number-editor")

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # QLineEdit passes Enter on to its parents: it would open the editor again

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if self.isVisible() and event.reason() not in (
            Qt.FocusReason.ActiveWindowFocusReason,
            Qt.FocusReason.PopupFocusReason,
        ):
            self.cancelled.emit()


class NumberDisplay(QWidget):
    """Big number above the image; repaints from the document."""

    number_typed = Signal(str)  # the digits typed in the editor, Enter pressed
    editing_finished = Signal()  # the editor closed (typed or cancelled)

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
        self.editor = NumberEdit(self)
        self.editor.hide()
        self.editor.returnPressed.connect(self._commit)
        self.editor.cancelled.connect(self.cancel_edit)
        lay.addWidget(self.number)
        lay.addWidget(self.editor)
        lay.addWidget(self.detail)
        doc.reset.connect(self.cancel_edit)
        doc.current_changed.connect(lambda _r: self.cancel_edit())
        doc.reset.connect(self.refresh)
        doc.current_changed.connect(lambda _r: self.refresh())
        doc.image_changed.connect(lambda r: self.refresh() if r == doc.current else None)
        doc.threshold_changed.connect(lambda _t: self.refresh())
        self.model_error: str | None = None

    # ------------------------------------------------------------------ typing the number

    @property
    def editing(self) -> bool:
        return self.editor.isVisible()

    def start_edit(self) -> None:
        """Open the editor with the number read, selected, so typing replaces it."""
        if self.doc.current_entry is None:
            return
        text = self.doc.reading().text
        self.editor.setText(text)
        self.editor.selectAll()
        self.number.hide()
        self.editor.show()
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)

    def cancel_edit(self) -> None:
        if self.editing:
            self._close()

    def _commit(self) -> None:
        text = self.editor.text()
        self._close()
        if text:  # an empty editor changes nothing
            self.number_typed.emit(text)

    def _close(self) -> None:
        self.editor.hide()
        self.number.show()
        self.editing_finished.emit()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self.start_edit()
            return
        super().mouseDoubleClickEvent(event)

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
        has_any = e.pred is not None or e.layer.boxes or e.layer.reads
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
            parts.append(f"model reads {model_reading(e, self.doc.threshold) or '–'}")
        self.detail.setText(" · ".join(parts))

    @property
    def text(self) -> str:
        return self.number.text()
