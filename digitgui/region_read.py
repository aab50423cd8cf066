"""Read inside a box: the person marks a rectangle around a number the model missed (R, then
drag, or *Image ▸ Read inside a box*), and the model reads just that region at its best scale.

The canvas only marks the rectangle (``region_requested``); the inference worker reads it
(:meth:`~digitgui.services.inference.InferenceService.read_region`); what it finds enters the
document as one undoable region read (:meth:`~digitgui.document.Document.add_region_read`),
shown as predictions there. A result that arrives after the person moved to another image, or
opened another folder, is dropped: applying it would pull them back.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject

from trainer.numbers import read_number

from .actions import _action
from .services.inference import Result
from .state import ImageEntry, RegionRead, Status

log = logging.getLogger(__name__)


class RegionReader(QObject):
    """Wires the R key, the *Read inside a box* action, the worker and the document."""

    def __init__(self, win) -> None:
        super().__init__(win)
        self.win = win
        self.waiting: dict[int, str] = {}  # request number -> image name, while being read
        self.action = _action(
            win,
            "Read inside a &box\tR",
            self.arm,
            None,
            "Drag a rectangle around a number the model missed: the model reads just that region",
        )
        self.action.setIconText("Read in box")
        win.canvas.region_requested.connect(self.request)
        win.inference.region_result.connect(self._on_result)
        win.doc.current_changed.connect(lambda _row: self._forget())
        win.doc.reset.connect(self._forget)

    def _say(self, text: str) -> None:
        self.win.message("info", text)

    def _refusal(self, e: ImageEntry | None) -> str | None:
        """Why the current image cannot be read inside a box now, or None."""
        inference = self.win.inference
        if e is None:
            return "Open a folder first."
        if e.has_gt:
            return f"{e.name} shows its ground truth, not predictions: draw a missing box with W."
        if e.layer.status == Status.REVIEWED:
            return f"{e.name} is reviewed, so predictions are not shown on it: draw a missing box with W."
        if inference.error is not None:
            return f"No model to read with: {inference.error}"
        if not inference.available:
            return "The model is still loading: read inside a box once it is ready."
        return None

    def arm(self) -> None:
        """The action and the R key: the next drag on the image marks the rectangle to read."""
        if self.win.stack.currentIndex() != 1:
            return
        reason = self._refusal(self.win.doc.current_entry)
        if reason:
            self._say(reason)
            return
        self.win.canvas.arm_region()
        self.win.statusBar().showMessage("Drag a rectangle around the number to read (Esc cancels).", 8000)

    def request(self, rect: tuple[float, float, float, float]) -> None:
        """The canvas marked ``rect`` (image pixels): send it to the worker."""
        e = self.win.doc.current_entry
        reason = self._refusal(e)
        token = 0 if reason else self.win.inference.read_region(e.name, e.path, rect)
        if not token:
            self.win.canvas.show_region(None)
            self._say(reason or "The model is not ready.")
            return
        self.waiting[token] = e.name
        self.win.statusBar().showMessage(f"Reading inside the box on {e.name}…")

    def _forget(self) -> None:
        """The image on screen changed: reads of other images are dropped when they arrive."""
        e = self.win.doc.current_entry
        self.waiting = {t: n for t, n in self.waiting.items() if e is not None and n == e.name}
        if not self.waiting:
            self.win.canvas.show_region(None)

    def _on_result(self, res: Result) -> None:
        name = self.waiting.pop(res.job, None)
        if not self.waiting:
            self.win.canvas.show_region(None)
        doc = self.win.doc
        row = doc.row_of(name) if name is not None else None
        if row is None or row != doc.current:
            log.info("dropped a region read of %s: the image on screen changed", res.key)
            return
        e = doc.entry(row)
        if res.error:
            self._say(f"Could not read inside the box on {e.name}: {res.error}")
            return
        if e.size and (res.width, res.height) != tuple(e.size):
            self._say(f"{e.name} changed on disk while it was read: the reading was dropped.")
            return
        scores = np.asarray(res.scores, np.float32)
        shown = scores >= doc.threshold
        if not shown.any():
            self._say(f"No digit found inside the box on {e.name}: nothing changed.")
            return
        doc.add_region_read(row, RegionRead.of(res.rect, res.boxes, res.scores, res.digits, res.model))
        boxes = np.asarray(res.boxes)[shown]
        number = read_number(
            boxes, scores[shown], np.asarray(res.digits)[shown], score_thresh=0.0, choose=False
        )
        n = int(shown.sum())
        self._say(
            f"Read inside the box: {number.text or '–'} ({n} digit{'s' if n != 1 else ''}), shown as "
            "predictions there. Ctrl+Z undoes it."
        )


def install(win) -> RegionReader:
    """Add *Read inside a box* to the Image menu and the toolbar of ``win`` (a MainWindow)."""
    reader = RegionReader(win)
    win.actions_by_name["read_box"] = reader.action
    menu = getattr(win, "image_menu", None)
    if menu is not None:
        menu.addAction(reader.action)
    export = win.actions_by_name.get("export")
    if export is not None and export in win.toolbar.actions():
        win.toolbar.insertAction(export, reader.action)
    else:
        win.toolbar.addAction(reader.action)
    return reader
