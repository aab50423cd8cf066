"""The one owner of what the model is asked next, and of what its answers become.

Every request for a prediction goes through :class:`PredictionController`:

* the image on screen, alone and first, then the :data:`LOOKAHEAD` images after it;
* *Predict all*, re-predicting stale images, and the images an export needs;
* reading inside a box (a region read).

**Before the model is ready** one policy holds: what a person asked for (Predict all, Export,
re-predict, read inside a box) is queued, the status bar says so, and it runs, in order, once the
model has loaded; if the model fails to load, each is told so; Cancel drops them. The image on
screen and its look-ahead need no queue: they are asked for again once the model is ready (the
number shows "…" meanwhile).

It is also the only place where model results become document data: whole-image results
(:meth:`~digitgui.document.Document.set_predictions`), region reads
(:meth:`~digitgui.document.Document.add_region_read`) and another model's predictions loaded from a
file (:meth:`set_external`). Tests give predictions through :meth:`inject`, the same path a
model's results take.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from trainer.numbers import read_number

from .services.inference import CANCELLED, DONE, NO_MODEL, Result
from .state import ImageEntry, Prediction, RegionRead

log = logging.getLogger(__name__)

LOOKAHEAD = 3  # images predicted after the one on screen


def model_reading(e: ImageEntry, threshold: float) -> str:
    """The number the model's own predictions read at ``threshold`` ("" when none)."""
    if e.pred is None:
        return ""
    return read_number(e.pred.boxes, e.pred.scores, e.pred.digits, score_thresh=threshold).text


@dataclass
class _Waiting:
    """A request made before the model was ready: ``run`` once it is, else ``fail(reason)``
    (``None``: cancelled)."""

    what: str
    run: Callable[[], None]
    fail: Callable[[str | None], None]


class PredictionController(QObject):
    """Not a widget: takes the document and the inference service, talks through signals."""

    message = Signal(str, str)  # level ("info", "warning"), text: for the window to show
    progress = Signal(int, int)  # done, total of the bulk job (0, n while it waits for the model)
    job_finished = Signal(int, bool)  # job id (0: a wait that ended without a job), completed
    reads_changed = Signal(int)  # region reads on their way
    region_finished = Signal(str)  # a region read ended: what to tell the person ("" if nothing)
    stored = Signal(list)  # the model's results (list of Result), once they are in the document

    def __init__(self, doc, inference, stale: Callable[[], Iterable[str]] = set, parent=None) -> None:
        super().__init__(parent)
        self.doc, self.inference, self.stale = doc, inference, stale
        self._waiting: list[_Waiting] = []
        self._jobs: dict[int, Callable[[bool], None]] = {}  # bulk job -> who waits for its end
        self.reads: dict[int, str] = {}  # region read number -> image name, while being read
        self._apply_with: dict[int, Callable[[int, Result], str]] = {}  # reads with their own use
        inference.ready.connect(self._on_ready)
        inference.failed.connect(self._on_failed)
        inference.results.connect(self._on_results)
        inference.region_result.connect(self._on_region)
        inference.progress.connect(self.progress)
        inference.job_finished.connect(self._on_job_finished)
        doc.current_changed.connect(self.show)
        doc.current_changed.connect(lambda _row: self._forget_reads())
        doc.reset.connect(self._forget_reads)

    # ------------------------------------------------------------------ the model's state

    @property
    def ready(self) -> bool:
        return self.inference.available

    @property
    def error(self) -> str | None:
        """Why there is no model (it failed to load), or None."""
        return self.inference.error

    @property
    def loading(self) -> bool:
        return not self.inference.available and self.inference.error is None

    @property
    def waiting(self) -> list[str]:
        """What waits for the model to load, in order."""
        return [w.what for w in self._waiting]

    def eta_seconds(self, done: int, total: int) -> float | None:
        return self.inference.eta_seconds(done, total)

    def _when_ready(self, what: str, run: Callable[[], None], fail: Callable[[str | None], None]) -> None:
        """The one policy: run now, queue (and say so) while the model loads, or fail without one."""
        if self.inference.available:
            run()
        elif self.inference.error is not None:
            fail(self.inference.error)
        else:
            self._waiting.append(_Waiting(what, run, fail))
            self.message.emit("info", f"{what} starts as soon as the model is loaded…")

    def _on_ready(self, *_args) -> None:
        self.show(self.doc.current)
        cur = self.doc.current_entry
        if cur is not None and cur.pred is not None and cur.name in set(self.stale()):
            self.inference.request([(cur.name, cur.path)])  # another model's boxes on screen
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.run()

    def _on_failed(self, message: str) -> None:
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.fail(message)

    # ------------------------------------------------------------------ what is asked

    def _items(self, rows: Iterable[int]) -> list[tuple[str, object]]:
        return [(self.doc.entry(r).name, self.doc.entry(r).path) for r in rows]

    def show(self, row: int) -> None:
        """The image on screen: asked for alone and first, then the few after it."""
        if not self.inference.available or not 0 <= row < len(self.doc):
            return  # asked for again once the model is ready
        rows = [row, *range(row + 1, min(row + 1 + LOOKAHEAD, len(self.doc)))]
        todo = [r for r in rows if self.doc.entry(r).pred is None and not self.doc.entry(r).error]
        if todo:
            self.inference.request(self._items(todo))

    def predict_all(self) -> None:
        """Predict every image not predicted yet."""
        if self.inference.error is not None:
            self.message.emit("warning", self.inference.error)
            return
        if "Predict all" in self.waiting:
            return

        def run() -> None:
            rows = self.doc.unlabelled_rows()
            if not rows:
                self.message.emit("info", "Every image is already predicted.")
                return
            self.inference.predict_all(self._items(rows))

        def fail(reason: str | None) -> None:
            if reason is not None:
                self.message.emit("info", "Predict all, asked for while the model was loading, did not run.")

        self._when_ready("Predict all", run, fail)

    def repredict(self, names: Iterable[str]) -> int:
        """Predict these images again (another model made their predictions); returns how many."""
        names = set(names)
        rows = [r for r, e in enumerate(self.doc.entries) if e.name in names]
        if rows:
            self._when_ready(
                f"Re-predicting {len(rows)} images",
                lambda: self.inference.predict_all(self._items(rows)),
                lambda reason: reason and self.message.emit("info", f"Not re-predicted: {reason}"),
            )
        return len(rows)

    def predict_rows(self, rows: Callable[[], list[int]], done: Callable[[str], None], what: str) -> None:
        """Predict the images ``rows()`` names (as one bulk job, with progress), then call ``done``
        with :data:`DONE`, :data:`CANCELLED` or :data:`NO_MODEL`. While the model loads this waits
        for it, and the progress bar shows the wait."""

        def run() -> None:
            todo = rows()
            if not todo:
                self.job_finished.emit(0, True)
                done(DONE)
                return
            job = self.inference.predict_all(self._items(todo))
            if job:
                self._jobs[job] = lambda ok: done(DONE if ok else CANCELLED)
            else:
                done(NO_MODEL)

        def fail(reason: str | None) -> None:
            self.job_finished.emit(0, False)
            done(CANCELLED if reason is None else NO_MODEL)

        if self.loading:
            n = len(rows())
            if n:
                self.progress.emit(0, n)  # the wait shows, with its Cancel button
        self._when_ready(what, run, fail)

    def cancel(self) -> None:
        """Cancel the running bulk job and everything waiting for the model."""
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.fail(None)
        if waiting:
            self.message.emit("info", "Prediction cancelled.")
        self.inference.cancel_all()

    def new_folder(self) -> None:
        """Another folder (or none): nothing asked for the old one runs or arrives."""
        waiting, self._waiting = self._waiting, []
        for w in waiting:
            w.fail(None)
        self.inference.new_generation()

    def _on_job_finished(self, job: int, completed: bool) -> None:
        then = self._jobs.pop(job, None)
        self.job_finished.emit(job, completed)
        if then is not None:
            then(completed)
        else:
            self.message.emit("info", "Prediction finished." if completed else "Prediction cancelled.")

    # ------------------------------------------------------------------ answers -> document

    def inject(
        self, name: str, boxes, scores, digits, size=(0, 0), model: str = "", error: str | None = None
    ) -> None:
        """Give a prediction for image ``name`` as if the model had just made it (the seam tests use)."""
        box = None if error else np.asarray(boxes, np.float32).reshape(-1, 4)
        sc = None if error else np.asarray(scores, np.float32)
        dg = None if error else np.asarray(digits, np.int64)
        gen = self.inference.generation
        self.inference.deliver([Result(gen, 0, name, size[0], size[1], box, sc, dg, error, model)])

    def _on_results(self, results: list[Result]) -> None:
        items = []
        for r in results:
            row = self.doc.row_of(r.key)
            if row is None:
                continue
            pred = None if r.error else Prediction(r.boxes, r.scores, r.digits, r.model)
            items.append((row, pred, (r.width, r.height), r.error))
        self.doc.set_predictions(items)
        self.stored.emit(results)

    @property
    def model_desc(self) -> str:
        """What the model in use is, in words ("" while none is loaded)."""
        return self.inference.model_desc

    def set_external(self, by_name: dict, tag: str) -> int:
        """Show another model's detections (``name -> (boxes, scores, digits)``) as the predictions
        of those images; the model's answers on their way are dropped. Returns how many images."""
        self.inference.new_generation()
        items = []
        for name, (boxes, scores, digits) in by_name.items():
            row = self.doc.row_of(name)
            if row is not None:
                items.append((row, Prediction(boxes, scores, digits, tag), None, None))
        self.doc.set_predictions(items)
        self.show(self.doc.current)  # the images the file left out are asked of the model again
        return len(items)

    # ------------------------------------------------------------------ reading inside a box

    def read_region(
        self,
        row: int,
        rect: tuple[float, float, float, float],
        apply: Callable[[int, Result], str] | None = None,
    ) -> str | None:
        """Read ``rect`` (xywh, image pixels) of image ``row``; the answer enters the document and
        ``region_finished`` says what it found. ``apply(row, result)``, where given, takes the
        answer instead and says what to tell the person. Returns why it cannot be read, or None."""
        if self.inference.error is not None:
            return f"No model to read with: {self.inference.error}"
        e = self.doc.entry(row)

        def run() -> None:
            if self.doc.current_entry is not e:
                self.region_finished.emit("")  # the person moved on while the model loaded
                return
            token = self.inference.read_region(e.name, e.path, rect)
            if token:
                self.reads[token] = e.name
                if apply is not None:
                    self._apply_with[token] = apply
                self.reads_changed.emit(len(self.reads))
            else:
                self.region_finished.emit("The model is not ready.")

        def fail(reason: str | None) -> None:
            self.region_finished.emit(f"Not read inside the box: {reason}" if reason else "")

        self._when_ready(f"Reading inside the box on {e.name}", run, fail)
        return None

    def _forget_reads(self) -> None:
        """The image on screen changed: reads of other images are dropped when they arrive."""
        e = self.doc.current_entry
        before = len(self.reads)
        self.reads = {t: n for t, n in self.reads.items() if e is not None and n == e.name}
        if len(self.reads) != before:
            self.reads_changed.emit(len(self.reads))

    def _on_region(self, res: Result) -> None:
        name = self.reads.pop(res.job, None)
        apply = self._apply_with.pop(res.job, self._apply_region)
        self.reads_changed.emit(len(self.reads))
        row = self.doc.row_of(name) if name is not None else None
        if row is None or row != self.doc.current:
            log.info("dropped a region read of %s: the image on screen changed", res.key)
            return
        e = self.doc.entry(row)
        if res.error:
            self.region_finished.emit(f"Could not read inside the box on {e.name}: {res.error}")
        elif e.size and (res.width, res.height) != tuple(e.size):
            self.region_finished.emit(f"{e.name} changed on disk while it was read: the reading was dropped.")
        else:
            self.region_finished.emit(apply(row, res))

    def _apply_region(self, row: int, res: Result) -> str:
        doc, e = self.doc, self.doc.entry(row)
        scores = np.asarray(res.scores, np.float32)
        shown = scores >= doc.threshold
        if not shown.any():
            return f"No digit found inside the box on {e.name}: nothing changed."
        doc.add_region_read(row, RegionRead.of(res.rect, res.boxes, res.scores, res.digits, res.model))
        boxes = np.asarray(res.boxes)[shown]
        number = read_number(
            boxes, scores[shown], np.asarray(res.digits)[shown], score_thresh=0.0, choose=False
        )
        n = int(shown.sum())
        return (
            f"Read inside the box: {number.text or '–'} ({n} digit{'s' if n != 1 else ''}), shown as "
            "predictions there. Ctrl+Z undoes it."
        )
