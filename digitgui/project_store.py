"""The sidecar project file: where it lives, how it is read and written, and autosave.

Two files per folder, both written atomically:

* ``.digitstudio.json``: the person's work (checked boxes, statuses, current image, threshold).
  Small; saved within a second of every edit.
* ``.digitstudio.predictions.npz``: the model's raw detections, a cache that saves re-running the
  model on reopen. Binary, so saving 13,000 images' detections takes milliseconds.

A folder the user cannot write to gets its project in the user data folder instead, keyed by a
hash of the folder path. A project file that does not parse is renamed aside, never overwritten.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import stat
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal

from trainer.export import atomic_write_bytes, atomic_write_text

from .journal import JOURNAL_NAME, Journal
from .state import Box, ImageEntry, Layer, Prediction, Rect, RegionRead, Status, spot

log = logging.getLogger(__name__)

PROJECT_NAME = ".digitstudio.json"
PREDICTIONS_NAME = ".digitstudio.predictions.npz"
FORMAT = "digitstudio-project"
VERSION = 2  # 2: emptied spots are saved as rectangles ("hidden"); 1 saved indices ("suppressed")
_SAVED_STATUSES = {Status.EDITED: "edited", Status.REVIEWED: "reviewed"}
_STATUS_BY_NAME = {v: k for k, v in _SAVED_STATUSES.items()}


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


@dataclass
class ProjectData:
    """What a project file restores."""

    layers: dict[str, Layer] = field(default_factory=dict)
    legacy_suppressed: dict[str, frozenset[int]] = field(default_factory=dict)  # version 1 files
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    current: str | None = None
    threshold: float | None = None
    gt_source: str | None = None
    journal_seq: int = 0  # the last journal record this file includes


def keep_aside(path: Path) -> Path:
    """Rename a bad file to ``<name>.corrupt-<timestamp>`` and return the new path."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, target)
    return target


def read_project(path: Path) -> tuple[ProjectData, list[str]]:
    """Parse a project file. Returns the data and messages for the user.

    A file that is not valid JSON, or whose entries are partly invalid, is renamed aside
    (``.corrupt-<timestamp>``); what could be read is still returned.
    """
    messages: list[str] = []
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("not a Digit Studio project file")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        kept = _keep_aside_safely(path)
        messages.append(f"The project file {path} could not be read ({exc}). {kept} Starting fresh.")
        return ProjectData(), messages
    data = ProjectData()
    bad: list[str] = []
    images = raw.get("images", {})
    if not isinstance(images, dict):
        bad.append("'images' is not an object")
        images = {}
    ids = itertools.count(1)
    for name, rec in images.items():
        try:
            data.layers[str(name)] = parse_layer(rec, _STATUS_BY_NAME, ids)
            legacy = frozenset(int(i) for i in rec.get("suppressed", []))
            if legacy:
                data.legacy_suppressed[str(name)] = legacy
            if rec.get("size"):
                w, h = rec["size"]
                data.sizes[str(name)] = (int(w), int(h))
        except (KeyError, TypeError, ValueError) as exc:
            bad.append(f"{name}: {exc}")
    errors = raw.get("errors", {})
    if isinstance(errors, dict):
        data.errors = {str(k): str(v) for k, v in errors.items()}
    data.current = raw.get("current") if isinstance(raw.get("current"), str) else None
    thr = raw.get("threshold")
    data.threshold = float(thr) if isinstance(thr, (int, float)) and 0 <= thr <= 1 else None
    data.gt_source = raw.get("gt_source") if isinstance(raw.get("gt_source"), str) else None
    seq = raw.get("journal_seq", 0)
    data.journal_seq = seq if isinstance(seq, int) and seq > 0 else 0
    if bad:
        kept = _keep_aside_safely(path)
        messages.append(
            f"{len(bad)} entries of the project file {path} were invalid and skipped "
            f"(first: {bad[0]}). {kept}"
        )
    return data, messages


_LAYER_STATUS = {s: s.name.lower() for s in Status}  # the journal records every status
_LAYER_STATUS_BY_NAME = {v: k for k, v in _LAYER_STATUS.items()}


def layer_json(layer: Layer) -> dict:
    """An image's checked layer as JSON data (the project file's and the journal's record)."""
    rec: dict = {
        "status": _LAYER_STATUS[layer.status],
        "boxes": [[b.x, b.y, b.w, b.h, b.digit, round(b.score, 5)] for b in layer.boxes],
    }
    if layer.hidden:
        rec["hidden"] = [list(r) for r in sorted(layer.hidden)]
    if layer.reads:
        rec["reads"] = [
            {
                "rect": list(r.rect),
                "boxes": [[*b, d, s] for b, d, s in zip(r.boxes, r.digits, r.scores)],
                "model": r.model,
            }
            for r in layer.reads
        ]
    return rec


def parse_layer(rec: dict, statuses: dict[str, Status] = _LAYER_STATUS_BY_NAME, ids=None) -> Layer:
    """Inverse of :func:`layer_json`; box ids are drawn from ``ids``. Raises on bad data."""
    ids = ids if ids is not None else itertools.count(1)
    status = statuses[rec["status"]]
    boxes = []
    for b in rec.get("boxes", []):
        x, y, w, h, digit, score = (float(v) for v in b)
        if not (w > 0 and h > 0 and -1 <= digit <= 9):
            raise ValueError(f"bad box {b}")
        boxes.append(Box(next(ids), x, y, w, h, int(digit), score))
    return Layer(tuple(boxes), parse_hidden(rec.get("hidden", [])), status, parse_reads(rec.get("reads", [])))


def parse_reads(items) -> tuple[RegionRead, ...]:
    """Region reads from JSON (see :func:`layer_json`); raises ValueError on a bad one."""
    reads = []
    for r in items:
        rect = [float(v) for v in r["rect"]]
        rows = [[float(v) for v in b] for b in r.get("boxes", [])]
        if len(rect) != 4 or not (rect[2] > 0 and rect[3] > 0) or any(len(b) != 6 for b in rows):
            raise ValueError(f"bad region read {r}")
        if any(not (b[2] > 0 and b[3] > 0 and 0 <= b[4] <= 9 and 0 <= b[5] <= 1) for b in rows):
            raise ValueError(f"bad box in region read {r}")
        reads.append(
            RegionRead.of(
                rect,
                [b[:4] for b in rows],
                [b[5] for b in rows],
                [int(b[4]) for b in rows],
                str(r.get("model", "")),
            )
        )
    return tuple(reads)


def parse_hidden(items) -> frozenset[Rect]:
    """Emptied spots from JSON (``[[x, y, w, h], ...]``); raises ValueError on a bad one."""
    out = set()
    for r in items:
        x, y, w, h = (float(v) for v in r)
        if not (w > 0 and h > 0 and all(np.isfinite((x, y)))):
            raise ValueError(f"bad hidden spot {r}")
        out.add(spot((x, y, w, h)))
    return frozenset(out)


def _keep_aside_safely(path: Path) -> str:
    try:
        return f"The original was kept as {keep_aside(path)}."
    except OSError as exc:
        return f"It could not be renamed aside ({exc}) and will not be overwritten."


class ProjectSerializer:
    """The project JSON, re-encoding only the images whose work changed since the last call.

    Layers are immutable, so an unchanged ``layer`` object means unchanged boxes: with 13,000
    reviewed images an autosave after one edit encodes one image, not all of them.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Layer, tuple, str]] = {}

    def text(
        self,
        entries: list[ImageEntry],
        current: str | None,
        threshold: float,
        gt: Path | None,
        journal_seq: int = 0,
    ) -> str:
        parts: list[str] = []
        cache: dict[str, tuple[Layer, tuple, str]] = {}
        for e in entries:
            status = _SAVED_STATUSES.get(e.layer.status)
            if status is None:
                continue
            extra = (e.size, e.image_id, e.legacy_suppressed)
            hit = self._cache.get(e.name)
            if hit is not None and hit[0] is e.layer and hit[1] == extra:
                frag = hit[2]
            else:
                rec: dict = {"id": e.image_id, **layer_json(e.layer)}
                if e.legacy_suppressed:  # not resolvable yet (no predictions): keep them as they were
                    rec["suppressed"] = sorted(e.legacy_suppressed)
                if e.size:
                    rec["size"] = list(e.size)
                frag = json.dumps(e.name) + ":" + json.dumps(rec, separators=(",", ":"))
            cache[e.name] = (e.layer, extra, frag)
            parts.append(frag)
        self._cache = cache
        head = {
            "format": FORMAT,
            "version": VERSION,
            "current": current,
            "threshold": round(threshold, 4),
            "gt_source": str(gt) if gt else None,
            "journal_seq": journal_seq,
            "errors": {e.name: e.error for e in entries if e.error},
        }
        return json.dumps(head, separators=(",", ":"))[:-1] + ',"images":{' + ",".join(parts) + "}}"


def project_json(entries: list[ImageEntry], current: str | None, threshold: float, gt: Path | None) -> str:
    """Serialise the person's work (images with edits or reviews, read errors, view state)."""
    return ProjectSerializer().text(entries, current, threshold, gt)


PredictionItem = tuple[str, tuple[int, int] | None, Prediction]  # image name, size, detections


def write_predictions(path: Path, items: list[PredictionItem]) -> None:
    """Atomically write images' raw detections (``(name, size, prediction)``) as one npz."""
    preds = [p for _n, _s, p in items]
    arrays = {
        "names": np.asarray([n for n, _s, _p in items], dtype=str),
        "counts": np.asarray([len(p.scores) for p in preds], np.int32),
        "sizes": np.asarray([s or (0, 0) for _n, s, _p in items], np.int32).reshape(-1, 2),
        "boxes": np.concatenate([p.boxes for p in preds]).astype(np.float32)
        if preds
        else np.zeros((0, 4), np.float32),
        "scores": np.concatenate([p.scores for p in preds]).astype(np.float32) if preds else np.zeros(0),
        "digits": np.concatenate([p.digits for p in preds]).astype(np.int8) if preds else np.zeros(0),
        "models": np.asarray([p.model for p in preds], dtype=str),
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_predictions(path: Path) -> dict[str, tuple[Prediction, tuple[int, int]]]:
    """Load the prediction cache; a missing or unreadable cache is simply empty."""
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as z:
            names, counts, sizes = z["names"], z["counts"], z["sizes"]
            boxes, scores, digits = z["boxes"], z["scores"], z["digits"].astype(np.int64)
            models = z["models"].tolist() if "models" in z.files else [""] * len(names)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        log.warning("ignoring unreadable prediction cache %s: %s", path, exc)
        return {}
    out = {}
    ends = np.cumsum(counts)
    starts = ends - counts
    for name, s, e, size, model in zip(
        names.tolist(), starts.tolist(), ends.tolist(), sizes.tolist(), models
    ):
        pred = Prediction(boxes[s:e], scores[s:e], digits[s:e], str(model))
        out[name] = (pred, (int(size[0]), int(size[1])))
    return out


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
