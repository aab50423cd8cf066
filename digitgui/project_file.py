"""The formats of a folder's project files: what is written, and how it is read back.

* the project JSON (``.digitstudio.json``): the person's work, per image its checked layer
  (:func:`layer_json`, also the edit journal's record), read errors and the view state; written
  incrementally by :class:`ProjectSerializer`, read by :func:`read_project`;
* the prediction cache (``.digitstudio.predictions.npz``): the model's raw detections, binary
  (:func:`write_predictions`, :func:`read_predictions`).

No Qt and no timing here: where the files live and when they are written is
:mod:`digitgui.project_store`. A project file that does not parse is renamed aside
(:func:`keep_aside`), never overwritten.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.export import atomic_write_bytes

from .state import Box, ImageEntry, Layer, Prediction, Rect, RegionRead, Status, spot

log = logging.getLogger(__name__)

FORMAT = "digitstudio-project"
VERSION = 2  # 2: emptied spots are saved as rectangles ("hidden"); 1 saved indices ("suppressed")
_SAVED_STATUSES = {Status.EDITED: "edited", Status.REVIEWED: "reviewed"}
_STATUS_BY_NAME = {v: k for k, v in _SAVED_STATUSES.items()}


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
