"""Undo commands. Every edit swaps one image's immutable checked layer for another.

Because a :class:`~digitgui.state.Layer` is immutable, one command class covers add, move,
resize, relabel, delete and review: it keeps the layer before and after. Consecutive commands
with the same ``merge_key`` (arrow-key nudges of one box; drawing a box and then typing its
digit) merge into one undo step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from .state import Layer

if TYPE_CHECKING:
    from .document import Document

_LAYER_COMMAND_ID = 1


class LayerCommand(QUndoCommand):
    """Replace the checked layer of image ``row``: ``before`` on undo, ``after`` on redo."""

    def __init__(
        self, doc: Document, row: int, before: Layer, after: Layer, text: str, merge_key: Any = None
    ) -> None:
        super().__init__(text)
        self.doc, self.row, self.before, self.after = doc, row, before, after
        self.merge_key = merge_key

    def redo(self) -> None:
        self.doc.apply_layer(self.row, self.after)

    def undo(self) -> None:
        self.doc.apply_layer(self.row, self.before)

    def id(self) -> int:  # noqa: A003 - Qt's name
        return _LAYER_COMMAND_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if not isinstance(other, LayerCommand) or other.row != self.row:
            return False
        if self.merge_key is None or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.setText(other.text())
        return True
