"""Where a folder's project files live, and the autosave and edit journal that keep them current.

Two files per folder, both written atomically (their formats: :mod:`digitgui.project_file`):

* ``.digitstudio.json``: the person's work (checked boxes, statuses, current image, threshold).
  Small; saved within a second of every edit, and every edit is journaled at once before that.
* ``.digitstudio.predictions.npz``: the model's raw detections, a cache that saves re-running the
  model on reopen. Binary, so saving 13,000 images' detections takes milliseconds.

A folder the user cannot write to gets its project in the user data folder instead, keyed by a
hash of the folder path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal

from trainer.export import atomic_write_text

from .journal import JOURNAL_NAME, Journal
from .project_file import ProjectSerializer, layer_json, write_predictions

log = logging.getLogger(__name__)

PROJECT_NAME = ".digitstudio.json"
PREDICTIONS_NAME = ".digitstudio.predictions.npz"


def folder_is_writable(folder: Path) -> bool:
    """True if we may write the sidecar into ``folder`` (honours read-only mode bits, even as root)."""
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return False
    return os.access(folder, os.W_OK)


def user_project_dir(folder: Path) -> Path:
    """Where the project of a read-only ``folder`` is kept (user data folder, hashed path)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    digest = hashlib.sha1(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return Path(base) / "projects" / digest


@dataclass
class Location:
    """Paths of one folder's project files."""

    folder: Path
    project: Path
    predictions: Path
    in_user_data: bool

    @staticmethod
    def for_folder(folder: Path) -> Location:
        if folder_is_writable(folder):
            return Location(folder, folder / PROJECT_NAME, folder / PREDICTIONS_NAME, False)
        d = user_project_dir(folder)
        return Location(folder, d / PROJECT_NAME, d / PREDICTIONS_NAME, True)

    @property
    def journal(self) -> Path:
        return self.project.with_name(JOURNAL_NAME)

    def existing_project(self) -> Path | None:
        """The project file to read: the folder's own, else one kept in the user data folder."""
        for p in (self.project, user_project_dir(self.folder) / PROJECT_NAME):
            if p.is_file():
                return p
        return None


def _write(kind: str, location: Location, write, *args) -> tuple[str, Location, str | None]:
    """Run a file write on the saver thread; never raises (the outcome goes back to the UI)."""
    try:
        write(*args)
    except Exception as exc:  # noqa: BLE001 - every failure must reach the user, not the thread
        return kind, location, str(exc)
    return kind, location, None


class ProjectStore(QObject):
    """Autosaves a :class:`~digitgui.document.Document` (debounced, atomic) and journals its edits.

    Every change of a checked layer is appended to the edit journal (:mod:`digitgui.journal`)
    and fsync'ed at once, on the UI thread, before the widgets repaint. The project JSON is built
    on the UI thread (incrementally, see :class:`ProjectSerializer`); the writes, with their
    fsync, run on one saver thread in order, and a written project file that includes every
    journal record empties the journal. :meth:`flush` waits for the writes.
    """

    saved = Signal(str)  # path of the project file written
    failed = Signal(str)  # a message for the user
    _written = Signal()  # a write finished on the saver thread

    def __init__(self, doc, delay_ms: int = 400, predictions_delay_ms: int = 3000) -> None:
        super().__init__(doc)
        self.doc = doc
        self.location: Location | None = None
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.save_project)
        self._pred_timer = QTimer(self, singleShot=True, interval=predictions_delay_ms)
        self._pred_timer.timeout.connect(self.save_predictions)
        self._paused = False
        self._serializer = ProjectSerializer()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._inflight: list[tuple[Future, int]] = []  # a write and the journal number it covers
        self._closed = False
        self._journal: Journal | None = None
        self._journal_failed = False
        self._written.connect(self._collect, Qt.ConnectionType.QueuedConnection)
        doc.layer_applied.connect(self._journal_edit)
        doc.edited.connect(self._schedule)
        doc.predictions_changed.connect(self._schedule_predictions)

    def bind(self, location: Location | None, journal_seq: int = 0) -> None:
        """Save future changes to ``location`` (None: nothing is open).

        ``journal_seq``: the last journal record already read (new records continue from it).
        """
        self.flush()
        if self._journal is not None:
            self._journal.close()
        self.location = location
        self._journal = Journal(location.journal, journal_seq) if location is not None else None
        self._journal_failed = False
        self._serializer = ProjectSerializer()

    def _journal_edit(self, row: int) -> None:
        """Append the new layer of ``row`` to the journal, fsync'ed (UI thread, before repaint)."""
        if self._journal is None:
            return
        doc = self.doc
        e = doc.entry(row)
        cur = doc.current_entry.name if doc.current_entry else None
        try:
            self._journal.append({"image": e.name, "layer": layer_json(e.layer), "current": cur})
        except OSError as exc:
            log.warning("cannot write the edit journal %s: %s", self._journal.path, exc)
            if not self._journal_failed:
                self._journal_failed = True
                self.failed.emit(
                    f"Cannot write the edit journal ({exc}): edits are saved by autosave only, "
                    "within a second."
                )

    def _schedule(self) -> None:
        if self.location is not None and not self._paused:
            self._timer.start()

    def _schedule_predictions(self) -> None:
        if self.location is not None and not self._paused and not self._pred_timer.isActive():
            self._pred_timer.start()

    def pause(self, paused: bool) -> None:
        """While paused (loading a folder), changes are not saved."""
        self._paused = paused

    def _submit(self, kind: str, write, *args, seq: int = 0) -> None:
        if self._closed:  # after close(): write at once, on this thread
            self._report(*_write(kind, self.location, write, *args), seq)
            return
        fut = self._pool.submit(_write, kind, self.location, write, *args)
        self._inflight.append((fut, seq))
        fut.add_done_callback(lambda _f: self._written.emit())

    def save_project(self) -> None:
        self._timer.stop()
        if self.location is None:
            return
        doc = self.doc
        cur = doc.current_entry.name if doc.current_entry else None
        seq = self._journal.seq if self._journal is not None else 0
        text = self._serializer.text(doc.entries, cur, doc.threshold, doc.gt_source, seq)
        self._submit("project", atomic_write_text, self.location.project, text, seq=seq)

    def save_predictions(self) -> None:
        self._pred_timer.stop()
        if self.location is None:
            return
        items = [(e.name, e.size, e.pred) for e in self.doc.entries if e.pred is not None]
        self._submit("predictions", write_predictions, self.location.predictions, items)

    def _collect(self) -> None:
        """Report finished writes, in order (UI thread)."""
        while self._inflight and self._inflight[0][0].done():
            fut, seq = self._inflight.pop(0)
            self._report(*fut.result(), seq)

    def _report(self, kind: str, location: Location, error: str | None, seq: int = 0) -> None:
        if kind == "predictions":
            if error:
                log.warning("could not save the prediction cache: %s", error)
        elif error is None:
            self._compact(location, seq)
            self.saved.emit(str(location.project))
        elif location.in_user_data:
            self.failed.emit(f"Autosave failed: {error}")
        elif self.location is not None and self.location == location:
            d = user_project_dir(location.folder)
            self.location = Location(location.folder, d / PROJECT_NAME, d / PREDICTIONS_NAME, True)
            if self._journal is not None:
                self._journal.close()
            self._journal = Journal(self.location.journal, self._journal.seq if self._journal else 0)
            self.failed.emit(f"Cannot write to the folder ({error}); saving the project in {d} instead.")
            self.save_project()
            self.save_predictions()

    def flush(self) -> None:
        """Write pending changes now and wait for them (before closing or switching folders)."""
        if self._timer.isActive():
            self.save_project()
        if self._pred_timer.isActive():
            self.save_predictions()
        while self._inflight:  # a failed write may queue another one in the user data folder
            self._inflight[0][0].result()
            self._collect()

    def _compact(self, location: Location, seq: int) -> None:
        """A project file including journal records up to ``seq`` is on disk: drop those records."""
        j = self._journal
        if j is None or location != self.location or seq != j.seq:
            return  # newer edits are only in the journal: the next save will cover them
        try:
            j.clear()
        except OSError as exc:  # harmless: the project file says which records it includes
            log.warning("cannot empty the edit journal %s: %s", j.path, exc)

    def close(self) -> None:
        """Flush, then end the saver thread (the window is closing)."""
        self.flush()
        if self._journal is not None:
            self._journal.close()
        self._closed = True
        self._pool.shutdown(wait=True)

    @property
    def pending(self) -> bool:
        return self._timer.isActive() or bool(self._inflight)
