"""The one mutable state of the app: the open folder's images, their boxes and statuses.

Widgets read from here and repaint on its signals; they never keep their own copy of the boxes.
Every hand edit goes through :attr:`Document.undo_stack` (see :mod:`digitgui.commands`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from trainer.numbers import Reading
from trainer.placement import place_number, read_again_region

from . import edits, number_entry, state
from .commands import LayerCommand
from .edits import next_box_id
from .state import Box, ImageEntry, Layer, Prediction, RegionRead, Shown, Status

log = logging.getLogger(__name__)

MIN_BOX = 1.0  # smallest box side in image pixels


class Document(QObject):
    """Images of one folder plus their two box layers; emits a signal for every change."""

    reset = Signal()  # a folder was opened (or closed): everything changed
    image_changed = Signal(int)  # boxes, status or error of one row changed
    rows_changed = Signal(int, int)  # rows first..last changed (predictions arrived)
    current_changed = Signal(int)
    threshold_changed = Signal(float)
    layer_applied = Signal(int)  # an edit, undo or redo set a row's layer (first, before repaints)
    edited = Signal()  # the saved part of the state changed: autosave soon
    predictions_changed = Signal()  # the prediction cache changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.folder: Path | None = None
        self.gt_source: Path | None = None
        self.entries: list[ImageEntry] = []
        self.current = -1
        self.threshold = 0.5
        self._rows: dict[str, int] = {}
        self._next_id = 1
        self.typing_doubt = ""  # why the last typed number's boxes were a guess ("" if they were not)

    # ------------------------------------------------------------------ loading

    def load(
        self,
        folder: Path | None,
        entries: list[ImageEntry],
        current: int = 0,
        threshold: float | None = None,
        gt_source: Path | None = None,
    ) -> None:
        """Replace everything with a newly opened folder."""
        self.undo_stack.clear()
        self.folder, self.entries, self.gt_source = folder, entries, gt_source
        self._rows = {e.name: i for i, e in enumerate(entries)}
        self._next_id = next_box_id(e.layer for e in entries)
        if threshold is not None:
            self.threshold = float(threshold)
        self.current = min(max(current, 0), len(entries) - 1) if entries else -1
        self.reset.emit()
        self.threshold_changed.emit(self.threshold)
        self.current_changed.emit(self.current)

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, row: int) -> ImageEntry:
        return self.entries[row]

    def row_of(self, name: str) -> int | None:
        return self._rows.get(name)

    @property
    def current_entry(self) -> ImageEntry | None:
        return self.entries[self.current] if 0 <= self.current < len(self.entries) else None

    def next_box_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    # ------------------------------------------------------------------ navigation and view state

    def set_current(self, row: int) -> None:
        if not self.entries:
            return
        row = min(max(int(row), 0), len(self.entries) - 1)
        if row != self.current:
            self.current = row
            self.current_changed.emit(row)
            self.edited.emit()

    def set_threshold(self, value: float) -> None:
        value = float(min(max(value, 0.0), 1.0))
        if abs(value - self.threshold) > 1e-9:
            self.threshold = value
            self.threshold_changed.emit(value)
            self.edited.emit()

    # ------------------------------------------------------------------ results from services

    def set_predictions(
        self, items: list[tuple[int, Prediction | None, tuple[int, int] | None, str | None]]
    ) -> None:
        """Store model output: (row, prediction, (w, h), error) per image. Not undoable."""
        if not items:
            return
        resolved = False
        for row, pred, size, error in items:
            e = self.entries[row]
            if error:
                e.error = error
            else:
                # hidden spots are places, not detections: they hold for any model's boxes, so
                # neither the layers nor the undo history change here
                e.pred, e.error = pred, None
                if e.legacy_suppressed:
                    e.layer = replace(
                        e.layer, hidden=e.layer.hidden | state.resolve_legacy(e.legacy_suppressed, pred)
                    )
                    e.legacy_suppressed = frozenset()
                    resolved = True
                if size and size[0] > 0:
                    e.size = size
        if resolved:
            self.edited.emit()
        rows = [r for r, *_ in items]
        self.rows_changed.emit(min(rows), max(rows))
        for r in rows:
            if r == self.current:
                self.image_changed.emit(r)
        self.predictions_changed.emit()

    def set_size(self, row: int, size: tuple[int, int]) -> None:
        self.entries[row].size = size

    def set_error(self, row: int, message: str | None) -> None:
        e = self.entries[row]
        if e.error != message:
            e.error = message
            self.image_changed.emit(row)

    # ------------------------------------------------------------------ reading

    def shown(self, row: int | None = None) -> list[Shown]:
        row = self.current if row is None else row
        if not 0 <= row < len(self.entries):
            return []
        return state.shown_boxes(self.entries[row], self.threshold)

    def reading(self, row: int | None = None) -> Reading:
        row = self.current if row is None else row
        return state.reading(self.entries[row], self.threshold)

    def status(self, row: int) -> Status:
        return state.status_of(self.entries[row])

    def find_shown(self, key: int, row: int | None = None) -> Shown | None:
        return next((s for s in self.shown(row) if s.key == key), None)

    # ------------------------------------------------------------------ edits (undoable)

    def apply_layer(self, row: int, layer: Layer) -> None:
        """Set one image's checked layer; called by undo commands only.

        ``layer_applied`` goes out before anything repaints: the project store journals the
        edit (fsync'ed) there, so an edit that shows on screen survives a kill.
        """
        self.entries[row].layer = layer
        self.layer_applied.emit(row)
        if row != self.current:
            self.current = row
            self.current_changed.emit(row)
        self.image_changed.emit(row)
        self.edited.emit()

    def _push(self, row: int, after: Layer, text: str, merge_key=None) -> None:
        before = self.entries[row].layer
        if after == before:
            return
        self.undo_stack.push(LayerCommand(self, row, before, after, text, merge_key))

    def add_box(self, rect: tuple[float, float, float, float], digit: int = state.UNKNOWN_DIGIT) -> int:
        """Add a checked box to the current image; returns its key."""
        row = self.current
        x, y, w, h = self._clip(row, rect)
        box = Box(self.next_box_id(), x, y, w, h, int(digit))
        shown = "?" if digit == state.UNKNOWN_DIGIT else str(digit)
        self._push(row, edits.with_box(self.entries[row].layer, box), f"Add box {shown}", ("new", box.id))
        return box.id

    def change_box(self, key: int, merge: str | None = None, move: bool = False, **changes) -> int:
        """Move/resize (``rect=``) or relabel (``digit=``) a shown box; returns its (new) key.

        ``move=True``: the box keeps its size and stops at the image edges (a resize is clipped).
        A prediction that is changed becomes a checked box with a new key.
        """
        row = self.current
        entry = self.entries[row]
        if self.find_shown(key, row) is None:
            return key
        if "rect" in changes:
            rect = changes.pop("rect")
            x, y, w, h = self._clip(row, self.shift_inside(row, rect) if move else rect)
            changes.update(x=x, y=y, w=w, h=h)
        layer, new_key = edits.with_box_changed(entry, key, self.next_box_id(), **changes)
        if "digit" in changes:
            text = f"Label box {changes['digit']}"
        else:
            text = "Nudge box" if merge == "nudge" else "Move box"
        merge_key = None
        if merge == "new":
            merge_key = ("new", key)
            top = self.undo_stack.command(self.undo_stack.index() - 1)
            if isinstance(top, LayerCommand) and top.merge_key == merge_key:
                text = f"Add box {changes.get('digit', '?')}"
        elif merge == "nudge":
            merge_key = ("nudge", key)
        self._push(row, layer, text, merge_key)
        return new_key

    def delete_box(self, key: int) -> None:
        row = self.current
        if self.find_shown(key, row) is not None:
            self._push(row, edits.without_box(self.entries[row], key), "Delete box")

    def mark_reviewed(self, row: int | None = None) -> None:
        """Accept the shown predictions as checked boxes and mark the image reviewed (one step)."""
        row = self.current if row is None else row
        if not 0 <= row < len(self.entries):
            return
        layer = edits.reviewed(self.entries[row], self.threshold, self.next_box_id)
        self._push(row, layer, f"Review {self.entries[row].name}")

    def type_number(self, text: str) -> list[int]:
        """Lay a typed number onto the current image's shown boxes, as one undo step.

        Boxes are relabelled left to right, added or removed where the count differs (see
        :mod:`digitgui.number_entry`: extra boxes go by what the model saw on each box's spot);
        every box of the number becomes a checked box. On an image without checked boxes, an unsure
        choice gives way to the engine's confident placement over everything the model saw
        (:func:`digitgui.number_entry.plan_placed`). Where the boxes were a guess the image is
        left unreviewed and :attr:`typing_doubt` says why. Returns the checked box ids left to
        right. ``ValueError`` for a text that is not 1..12 digits, or for an image with no boxes
        whose size is not known yet.
        """
        row = self.current
        plan = self._typing_plan(self.entries[row], text)
        self.typing_doubt = plan.doubt
        slots = [(s.key, s.rect, s.digit) for s in plan.slots]
        layer, keys = edits.with_number(self.entries[row], slots, plan.removed, self.next_box_id, plan.sure)
        self._push(row, layer, f"Type number {text.strip()}")
        return keys

    def _typing_plan(self, entry: ImageEntry, text: str) -> number_entry.Plan:
        shown = state.shown_boxes(entry, self.threshold)
        scores = state.spot_class_scores(entry, shown)
        plan = number_entry.plan_number(
            shown, text, entry.size, state.weak_predictions(entry, self.threshold), scores
        )
        if not entry.layer.boxes and (not plan.sure or number_entry.relabels_unseen(plan, shown, scores)):
            # a guess, or a box given a digit never seen on it: the engine's placement, over all
            # the model saw, where that is clear
            plan = number_entry.plan_placed(shown, text, state.open_detections(entry)) or plan
        return plan

    def number_region(self, row: int, text: str, layer: Layer) -> tuple[float, float, float, float] | None:
        """Where to read image ``row`` again for the number ``text``, as it was under ``layer``:
        around the engine's placement of it over all the model saw, else around its fair
        detections (:func:`trainer.placement.read_again_region`). None without predictions or a
        size."""
        e = self.entries[row]
        if e.pred is None or not e.size:
            return None
        digits = "".join(map(str, number_entry.parse_number(text)))
        boxes, scores, found_digits = state.open_detections(replace(e, layer=layer, _merged=None))
        found = place_number(boxes, scores, found_digits, digits)
        return read_again_region(found, boxes, scores, *e.size, len(digits))

    def retype_with_read(self, row: int, text: str, typed: Layer, before: Layer, read: RegionRead) -> bool:
        """Typing ``text`` turned image ``row``'s layer from ``before`` into the guess ``typed``;
        with the model's ``read`` of the number's region laid over ``before``, type it again. When
        that is no guess, it replaces the guess as one more undo step (the read kept under it) and
        True is returned; otherwise, or when the layer is no longer ``typed`` (the person went on
        editing), nothing changes."""
        if not 0 <= row < len(self.entries) or self.entries[row].layer is not typed:
            return False
        view = replace(self.entries[row], layer=edits.with_read(before, read), _merged=None)
        plan = self._typing_plan(view, text)
        if not plan.sure:
            return False
        slots = [(s.key, s.rect, s.digit) for s in plan.slots]
        layer, _keys = edits.with_number(view, slots, plan.removed, self.next_box_id, True)
        self._push(row, layer, f"Type number {text.strip()} (read again)")
        if row == self.current:
            self.typing_doubt = ""
        return True

    def duplicate_box(self, key: int) -> int:
        """Add a copy of a shown box just right of it (same size and digit); returns the copy's key."""
        s = self.find_shown(key)
        if s is None:
            return 0
        row = self.current
        x, y, w, h = self._clip(row, edits.duplicate_rect(s.rect, self.entries[row].size))
        box = Box(self.next_box_id(), x, y, w, h, s.digit)
        shown = "?" if s.digit == state.UNKNOWN_DIGIT else str(s.digit)
        self._push(row, edits.with_box(self.entries[row].layer, box), f"Duplicate box {shown}")
        return box.id

    def copy_boxes_from(self, source: int) -> int:
        """Copy the boxes shown on image ``source`` onto the current image as checked boxes (one
        undo step; boxes already there are not doubled). Returns how many were copied."""
        row = self.current
        if not (0 <= source < len(self.entries)) or source == row:
            return 0
        entry = self.entries[row]
        items = edits.copied_boxes(self.shown(source), entry.layer.boxes, entry.size)
        layer = entry.layer
        for rect, digit in items:
            layer = edits.with_box(layer, Box(self.next_box_id(), *rect, digit))
        n = len(items)
        self._push(row, layer, f"Copy {n} box{'es' if n != 1 else ''} from {self.entries[source].name}")
        return n

    def add_region_read(self, row: int, read: RegionRead) -> None:
        """Lay the model's reading of one rectangle over image ``row``'s predictions (one undo
        step): the predictions mostly inside it give way to the read's (see :mod:`.state`)."""
        if 0 <= row < len(self.entries):
            layer = edits.with_read(self.entries[row].layer, read)
            self._push(row, layer, f"Read inside a box on {self.entries[row].name}")

    def shift_inside(self, row: int, rect) -> tuple[float, float, float, float]:
        """Slide a rectangle (keeping its size) until it lies inside the image of ``row``."""
        x, y, w, h = (float(v) for v in rect)
        size = self.entries[row].size
        if not size:
            return x, y, w, h
        w, h = min(w, float(size[0])), min(h, float(size[1]))
        return min(max(0.0, x), size[0] - w), min(max(0.0, y), size[1] - h), w, h

    def _clip(self, row: int, rect) -> tuple[float, float, float, float]:
        x, y, w, h = (float(v) for v in rect)
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        size = self.entries[row].size
        if size:
            x2, y2 = min(x + w, float(size[0])), min(y + h, float(size[1]))
            x, y = max(0.0, min(x, size[0] - MIN_BOX)), max(0.0, min(y, size[1] - MIN_BOX))
            w, h = x2 - x, y2 - y
        return (round(x, 2), round(y, 2), round(max(w, MIN_BOX), 2), round(max(h, MIN_BOX), 2))

    # ------------------------------------------------------------------ queries

    def unlabelled_rows(self) -> list[int]:
        """Rows with no prediction yet and no read error (what predict-all must still do)."""
        return [i for i, e in enumerate(self.entries) if e.pred is None and e.error is None]
