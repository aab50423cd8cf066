"""Read inside a box: the person marks a rectangle around a number the model missed (R, then
drag, or *Image ▸ Read inside a box*), and the model reads just that region at its best scale.

The canvas only marks the rectangle (``region_requested``); the prediction controller asks the
model and turns its answer into one undoable region read in the document
(:meth:`~digitgui.prediction_control.PredictionController.read_region`), shown as predictions
there. A read asked for while the model loads waits for it; one that arrives after the person
moved to another image, or opened another folder, is dropped: applying it would pull them back.
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from .actions import _action
from .state import ImageEntry, Status
from .window_api import WindowHost


class RegionReader(QObject):
    """Wires the R key, the *Read inside a box* action and the canvas to the prediction controller."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.predictions = win.predictions
        self.action = _action(
            win,
            "Read inside a &box\tR",
            self.arm,
            None,
            "Drag a rectangle around a number the model missed: the model reads just that region",
        )
        self.action.setIconText("Read in box")
        win.canvas.region_requested.connect(self.request)
        self.predictions.reads_changed.connect(lambda n: n or self.win.canvas.show_region(None))
        self.predictions.region_finished.connect(self._on_finished)
        win.doc.current_changed.connect(lambda _r: self.predictions.reads or win.canvas.show_region(None))

    @property
    def waiting(self) -> dict[int, str]:
        """Reads on their way: request number -> image name."""
        return self.predictions.reads

    def _say(self, text: str) -> None:
        self.win.message("info", text)

    def _refusal(self, e: ImageEntry | None) -> str | None:
        """Why the current image cannot be read inside a box now, or None."""
        if e is None:
            return "Open a folder first."
        if e.has_gt:
            return f"{e.name} shows its ground truth, not predictions: draw a missing box with W."
        if e.layer.status == Status.REVIEWED:
            return f"{e.name} is reviewed, so predictions are not shown on it: draw a missing box with W."
        if self.predictions.error is not None:
            return f"No model to read with: {self.predictions.error}"
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
        """The canvas marked ``rect`` (image pixels): have it read."""
        doc = self.win.doc
        e = doc.current_entry
        reason = self._refusal(e) or self.predictions.read_region(doc.current, rect)
        if reason:
            self.win.canvas.show_region(None)
            self._say(reason)
            return
        if self.predictions.ready:
            self.win.statusBar().showMessage(f"Reading inside the box on {e.name}…")

    def _on_finished(self, text: str) -> None:
        if not self.predictions.reads:
            self.win.canvas.show_region(None)
        if text:
            self._say(text)


def install(win: WindowHost) -> RegionReader:
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
