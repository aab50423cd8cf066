"""The inference service: a worker QObject on its own QThread owns the torch model.

The UI thread never imports torch. Requests are queued in two lanes, both thread-safe:
``urgent`` (the image on screen, and the few after it) is always served before the next chunk
of ``bulk`` ("predict all"), one image at a time, so the image on screen is predicted alone and
a newer urgent request never waits behind a batch of older ones. Every request carries the folder generation it was made for;
results of an older generation (another folder was opened since) are dropped as stale.
A region read ("read inside this box", :meth:`InferenceService.read_region`) is an urgent
request with a rectangle; its result comes back alone, on ``region_result``.

What is asked, and what waits for a model still loading, is decided by
:class:`~digitgui.prediction_control.PredictionController`: this service keeps no queue of its own
before the model is ready (requests made then are dropped; the controller asks again).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from trainer.errors import DigitError
from trainer.numbers import DigitCount
from trainer.paths import BUNDLED_TITLES, bundled_name, model_fingerprint

log = logging.getLogger(__name__)

CHUNK = 8  # images per bulk step: the urgent lane is checked between steps
CLOSE_WAIT_MS = 100  # closing waits this long for the worker; an idle one ends well within it
DONE, CANCELLED, NO_MODEL = "done", "cancelled", "no model"  # how predicting rows for someone ended


def reading_tag(fingerprint: str, digits: DigitCount | None) -> str:
    """What a prediction is tagged with: the model file's fingerprint, and the digit count it was
    read under where one was set (a prediction made under another count is stale, as one of
    another model is)."""
    return fingerprint if digits is None or not fingerprint else f"{fingerprint}+digits={digits}"


def tag_parts(tag: str) -> tuple[str, DigitCount | None]:
    """The model fingerprint and digit count a :func:`reading_tag` names."""
    fingerprint, sep, digits = tag.partition("+digits=")
    if not sep:
        return tag, None
    try:
        return fingerprint, DigitCount.parse(digits)
    except ValueError:  # a tag written otherwise: all of it names the model
        return tag, None


_DETACHED: dict[QThread, object] = {}  # busy worker threads shut down, kept alive until they end


def _detach(thread: QThread, worker: QObject | None) -> None:
    for t in [t for t in _DETACHED if t.isFinished()]:  # pruned here, on the UI thread, never from
        del _DETACHED[t]  # the ending thread itself (a QThread must not die inside its finished)
    _DETACHED[thread] = worker


def wait_detached(timeout_ms: int = 30000) -> None:
    """Wait for worker threads that were shut down while busy (before the interpreter exits)."""
    for thread in list(_DETACHED):
        thread.wait(timeout_ms)
    _DETACHED.clear()


atexit.register(wait_detached)


@dataclass(frozen=True)
class Request:
    """One image to predict: ``generation`` is the folder it belongs to, ``job`` 0 for urgent
    (a region read's own number when ``rect``, xywh in original pixels, is given)."""

    generation: int
    job: int
    key: str
    path: Path
    rect: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Result:
    """Plain data sent back to the UI thread (numpy arrays, no torch)."""

    generation: int
    job: int
    key: str
    width: int
    height: int
    boxes: object
    scores: object
    digits: object
    error: str | None
    model: str = ""  # reading_tag: the model file that made this result (and its digit count)
    rect: tuple[float, float, float, float] | None = None  # the region read, or None: the whole image


class _Worker(QObject):
    """Lives in the worker thread. Loads the model, then drains the request lanes."""

    ready = Signal(str, str, float)  # device name, model description, tuned score threshold
    failed = Signal(str)  # the model could not be loaded
    results = Signal(object)  # list[Result]

    def __init__(self, model: str, device: str, digits: DigitCount | None = None) -> None:
        super().__init__()
        self.model_spec, self.device = model, device
        self.digits = digits  # set from the UI thread; each step of work reads it once
        self.predictor = None
        self.fingerprint = ""
        self.tag = ""  # reading_tag of the step of work in progress
        self.lock = threading.Lock()
        self.urgent: deque[Request] = deque()
        self.bulk: deque[Request] = deque()
        self.cancel_bulk = threading.Event()
        self.stopping = threading.Event()

    @Slot()
    def load(self) -> None:
        """Import torch and build the predictor (in this thread, never the UI thread)."""
        try:
            import torch

            from trainer.predict import Predictor

            if self.stopping.is_set():
                return
            if self.device in ("auto", "cpu"):
                torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
            self.predictor = Predictor(self.model_spec, device=self.device, batch_size=CHUNK, num_workers=0)
            self.fingerprint = model_fingerprint(self.predictor.model_path)
        except DigitError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any load failure must become a message
            log.exception("model load failed")
            self.failed.emit(f"The model could not be loaded: {exc}")
            return
        if self.stopping.is_set():  # shut down (another model chosen) while this one loaded
            return
        p = self.predictor
        bundled = bundled_name(p.model_path)
        desc = BUNDLED_TITLES[bundled] if bundled else f"{Path(p.model_path).name} ({p.preset})"
        log.info("model %s loaded on %s", p.model_path, p.device_name)
        self.ready.emit(p.device_name, desc, float(p.score_thresh))

    @Slot()
    def drain(self) -> None:
        """Serve requests until both lanes are empty (urgent ones first, bulk in chunks)."""
        while self.predictor is not None and not self.stopping.is_set():
            with self.lock:
                if self.urgent:
                    batch = [self.urgent.popleft()]
                    urgent = True
                elif self.bulk:
                    batch = [self.bulk.popleft() for _ in range(min(len(self.bulk), CHUNK))]
                    urgent = False
                else:
                    return
            self._run(batch, urgent)

    def _run(self, batch: list[Request], urgent: bool) -> None:
        digits = self.digits
        self.predictor.digits = digits
        self.tag = reading_tag(self.fingerprint, digits)
        for r in [r for r in batch if r.rect is not None]:
            self._run_region(r)
        batch = [r for r in batch if r.rect is None]
        if batch:
            self._run_images(batch, urgent)

    def _run_region(self, req: Request) -> None:
        """Read one rectangle of an image (see :meth:`trainer.predict.Predictor.predict_region`)."""
        boxes = scores = digits = None
        width = height = 0
        try:
            res = self.predictor.predict_region(req.path, req.rect)
            width, height, error = res.width, res.height, res.error
            boxes, scores, digits = res.boxes, res.scores, res.digits
        except DigitError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - keep the worker alive, report it
            log.exception("reading a region failed")
            error = f"reading the box failed: {exc}"
        if not self.stopping.is_set():
            out = Result(req.generation, req.job, req.key, width, height, boxes, scores, digits, error)
            self.results.emit([replace(out, model=self.tag, rect=req.rect)])

    def _run_images(self, batch: list[Request], urgent: bool) -> None:
        def cancelled() -> bool:
            return self.stopping.is_set() or (not urgent and self.cancel_bulk.is_set())

        out = []
        try:
            it = self.predictor.predict_paths([r.path for r in batch], cancelled=cancelled)
            for req, res in zip(batch, it):
                out.append(
                    Result(
                        req.generation,
                        req.job,
                        req.key,
                        res.width,
                        res.height,
                        res.boxes,
                        res.scores,
                        res.digits,
                        res.error,
                        self.tag,
                    )
                )
        except Exception as exc:  # noqa: BLE001 - keep the worker alive, report per image
            if len(batch) > 1:  # one bad image (or a transient failure) must not fail its neighbours
                log.warning("batch prediction failed (%s); retrying image by image", exc)
                for r in batch:
                    self._run_images([r], urgent)
                return
            log.exception("prediction failed")
            r = batch[0]
            out = [
                Result(
                    r.generation,
                    r.job,
                    r.key,
                    0,
                    0,
                    None,
                    None,
                    None,
                    f"prediction failed: {exc}",
                    self.tag,
                )
            ]
        if out and not cancelled():
            self.results.emit(out)


class InferenceService(QObject):
    """UI-thread owner of the worker thread: start, request, predict all, cancel, shut down."""

    ready = Signal(str, str, float)  # device, model description, tuned threshold
    failed = Signal(str)
    results = Signal(object)  # list[Result] of the current generation (whole images)
    region_result = Signal(object)  # Result of a region read of the current generation
    progress = Signal(int, int)  # done, total of the running "predict all" job
    job_finished = Signal(int, bool)  # job id, completed (False: cancelled)
    _wake = Signal()
    _load = Signal()

    def __init__(self, model: str = "default", device: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model, self.device = model, device
        self.digits: DigitCount | None = None  # the open folder's digit count (None: any)
        self.generation = 0
        self.available = False
        self.error: str | None = None
        self.device_name = ""
        self.model_desc = ""
        self._thread: QThread | None = None
        self._worker: _Worker | None = None
        self._job = 0
        self._job_keys: set[str] = set()
        self._job_total = 0
        self._job_started = 0.0
        self._closed = False
        self._reads = 0  # region reads asked for (their request numbers)

    # ------------------------------------------------------------------ lifecycle

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the worker thread and load the model there (returns at once)."""
        if self._thread is not None or self._closed:
            return
        self._thread = QThread()
        self._thread.setObjectName("inference")
        self._worker = _Worker(self.model, self.device, self.digits)
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load)
        self._wake.connect(self._worker.drain)
        self._worker.ready.connect(self._on_ready)
        self._worker.failed.connect(self._on_failed)
        self._worker.results.connect(self.deliver)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()
        self._load.emit()

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel everything and wait (at most ``timeout_ms``) for the worker thread to end.

        A thread still busy after that (loading the model, or inside one model call) is left to
        end on its own: it is kept referenced (see :data:`_DETACHED`) until it finishes.
        """
        if self._thread is None:
            return
        w = self._worker
        w.stopping.set()
        with w.lock:
            w.urgent.clear()
            w.bulk.clear()
        # nothing of an old worker reaches this service again (a new one may already be starting)
        self._load.disconnect(w.load)
        self._wake.disconnect(w.drain)
        w.ready.disconnect(self._on_ready)
        w.failed.disconnect(self._on_failed)
        w.results.disconnect(self.deliver)
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            # still loading the model or inside a model call: keep a reference until it ends (past
            # this object's life: a QThread destroyed while running aborts the process)
            log.info("inference thread still busy after %d ms; it ends on its own", timeout_ms)
            _detach(self._thread, self._worker)
        self._thread = None
        self.available = False

    def close(self) -> None:
        """Shut down for good: a start queued before the window closed must not revive it.

        An idle worker ends at once; closing never waits for a model still loading or a model call
        in progress (the worker stops at its next check, and the app's exit does not wait for it).
        """
        self._closed = True
        self.shutdown(timeout_ms=CLOSE_WAIT_MS)

    def switch_model(self, model: str) -> None:
        """Load another model: a new worker starts with it and queued work is dropped.

        Returns at once: an old worker still inside a model call (or still loading) finishes in
        the background, kept referenced until it ends (see :data:`_DETACHED`), and its results
        are never delivered.
        """
        self.cancel_all()
        self.shutdown(timeout_ms=0)
        self.model, self.error, self.device_name, self.model_desc = model, None, "", ""
        self.generation += 1
        self.start()

    def set_digits(self, digits: DigitCount | None) -> None:
        """Read numbers of this many digits from now on (None: any); what is queued is read so."""
        self.digits = digits
        if self._worker is not None:
            self._worker.digits = digits

    @property
    def busy(self) -> bool:
        return self._job != 0 and bool(self._job_keys)

    # ------------------------------------------------------------------ requests

    def new_generation(self) -> None:
        """A new folder: drop queued requests and ignore results still on their way."""
        self.generation += 1
        self.cancel_all()

    def request(self, items: list[tuple[str, Path]]) -> bool:
        """Predict these images before anything else, in this order (the image on screen first).

        Returns False (and queues nothing) when no model is ready."""
        reqs = [Request(self.generation, 0, k, Path(p)) for k, p in items]
        if not self.available:
            return False
        w = self._worker
        with w.lock:
            queued = {r.key for r in w.urgent if r.rect is None}
            reads = [r for r in w.urgent if r.rect is not None]  # asked for by hand: never trimmed
            images = [r for r in reversed(reqs) if r.key not in queued][::-1]
            images += [r for r in w.urgent if r.rect is None]
            w.urgent.clear()
            w.urgent.extend(reads + images[: max(0, 16 - len(reads))])
        self._wake.emit()
        return True

    def read_region(self, key: str, path: Path, rect: tuple[float, float, float, float]) -> int:
        """Read the xywh ``rect`` of one image before anything else; returns the request's number
        (``job`` of its result, on ``region_result``), or 0 when no model is ready."""
        if not self.available:
            return 0
        self._reads += 1
        w = self._worker
        with w.lock:
            w.urgent.appendleft(Request(self.generation, self._reads, key, Path(path), tuple(rect)))
        self._wake.emit()
        return self._reads

    def predict_all(self, items: list[tuple[str, Path]]) -> int:
        """Queue a bulk job; returns its id (progress and job_finished report on it)."""
        if not self.available:
            return 0
        self.cancel_all(emit=True)
        self._job += 1
        self._job_keys = {k for k, _ in items}
        self._job_total = len(self._job_keys)
        self._job_started = time.monotonic()
        w = self._worker
        w.cancel_bulk.clear()
        with w.lock:
            w.bulk.extend(Request(self.generation, self._job, k, Path(p)) for k, p in items)
        self.progress.emit(0, self._job_total)
        if not items:
            self._finish(True)
        else:
            self._wake.emit()
        return self._job

    def cancel_all(self, emit: bool = True) -> None:
        """Stop the running bulk job (urgent requests go on)."""
        if self._worker is None:
            return
        self._worker.cancel_bulk.set()
        with self._worker.lock:
            self._worker.bulk.clear()
        if self._job_keys:
            self._job_keys = set()
            if emit:
                self.job_finished.emit(self._job, False)

    def eta_seconds(self, done: int, total: int) -> float | None:
        if done <= 0 or total <= done:
            return None
        return (time.monotonic() - self._job_started) / done * (total - done)

    # ------------------------------------------------------------------ worker signals

    def _on_ready(self, device: str, desc: str, thresh: float) -> None:
        self.available, self.device_name, self.model_desc = True, device, desc
        self.ready.emit(device, desc, thresh)

    def _on_failed(self, message: str) -> None:
        self.available, self.error = False, message
        self.failed.emit(message)

    def deliver(self, results: list[Result]) -> None:
        """Results from the worker (or given by a test through the prediction controller): those of
        an older generation are dropped, the rest go out on ``results`` / ``region_result``."""
        fresh = [r for r in results if r.generation == self.generation]
        for r in fresh:
            if r.rect is not None:
                self.region_result.emit(r)
        fresh = [r for r in fresh if r.rect is None]
        if not fresh:
            return
        self.results.emit(fresh)
        if self._job_keys:
            before = len(self._job_keys)
            self._job_keys.difference_update(r.key for r in fresh)
            if len(self._job_keys) != before:
                self.progress.emit(self._job_total - len(self._job_keys), self._job_total)
            if not self._job_keys:
                self._finish(True)

    def _finish(self, completed: bool) -> None:
        self._job_keys = set()
        self.job_finished.emit(self._job, completed)
