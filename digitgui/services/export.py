"""One-button export: task-1 ``pred.json``, task-2 ``pred.csv`` and ``annotations.json``.

Per image: the checked boxes (score 1.0) where a person reviewed or edited it in the app, the
model's predictions at the current threshold elsewhere. ``annotations.json`` is the COCO ground
truth of the reviewed images. Images not predicted yet are predicted first (with progress);
the files are then built and written off the UI thread.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.export import (
    coco_ground_truth,
    detection_entries,
    write_coco,
    write_task1_json,
    write_task2_csv,
)
from trainer.imageio import READ_ERRORS, image_size
from trainer.numbers import read_number

from ..state import UNKNOWN_DIGIT, ImageEntry, Status, reading, shown_boxes

log = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    """What was written, for the message shown to the user."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    images: int = 0
    reviewed: int = 0
    from_model: int = 0
    not_predicted: int = 0
    unreadable: int = 0
    detections: int = 0
    unlabelled_boxes: int = 0

    def text(self) -> str:
        lines = [f"Wrote {len(self.files)} files to {self.folder}:"]
        lines += [f"  • {p.name}" for p in self.files]
        lines.append(
            f"{self.images} images: {self.reviewed} reviewed by you, {self.from_model} from the model, "
            f"{self.detections} boxes."
        )
        if self.not_predicted:
            lines.append(f"{self.not_predicted} images had no prediction (no model): written as -1.")
        if self.unreadable:
            lines.append(f"{self.unreadable} unreadable images written as -1.")
        if self.unlabelled_boxes:
            lines.append(f"{self.unlabelled_boxes} boxes without a digit were left out.")
        return "\n".join(lines)


def _snapshot(entries: list[ImageEntry]) -> list[ImageEntry]:
    """Shallow copies: layers and predictions are immutable, so the writer thread is safe."""
    return [
        ImageEntry(e.name, e.path, e.image_id, e.size, e.layer, e.pred, e.error, e.has_gt) for e in entries
    ]


def build_export(
    entries: list[ImageEntry], threshold: float, out: Path
) -> tuple[list, list, dict, ExportSummary]:
    """Task-1 entries, task-2 rows, COCO ground truth of reviewed images, and a summary."""
    summary = ExportSummary(out, images=len(entries))
    dets: list[dict] = []
    rows: list[tuple[int, int]] = []
    gt_images: list[dict] = []
    gt_boxes: list[dict] = []
    for e in entries:
        if e.layer.status in (Status.REVIEWED, Status.EDITED):  # a person's work wins over any error
            shown = shown_boxes(e, threshold)
            good = [s for s in shown if s.digit != UNKNOWN_DIGIT]
            summary.unlabelled_boxes += len(shown) - len(good)
            dets += detection_entries(
                e.image_id, [s.rect for s in good], [s.score for s in good], [s.digit for s in good]
            )
            rows.append((e.image_id, reading(e, threshold).number))
            if e.layer.status == Status.REVIEWED:
                summary.reviewed += 1
                size = e.size or _size(e.path)
                gt_images.append({"id": e.image_id, "file_name": e.name, "width": size[0], "height": size[1]})
                gt_boxes += [{"image_id": e.image_id, "bbox": list(s.rect), "digit": s.digit} for s in good]
            else:
                summary.from_model += 1
            continue
        if e.error:
            summary.unreadable += 1
            rows.append((e.image_id, -1))
            continue
        if e.pred is None:
            summary.not_predicted += 1
            rows.append((e.image_id, -1))
            continue
        summary.from_model += 1
        p = e.pred
        keep = p.scores >= threshold
        dets += detection_entries(e.image_id, p.boxes[keep], p.scores[keep], p.digits[keep])
        rows.append((e.image_id, read_number(p.boxes, p.scores, p.digits, score_thresh=threshold).number))
    summary.detections = len(dets)
    return dets, rows, coco_ground_truth(gt_images, gt_boxes), summary


def _size(path: Path) -> tuple[int, int]:
    try:
        return image_size(path)
    except READ_ERRORS:
        return (0, 0)


def write_export(entries: list[ImageEntry], threshold: float, out: Path) -> ExportSummary:
    """Build and atomically write the three files into ``out``."""
    dets, rows, coco, summary = build_export(entries, threshold, out)
    out.mkdir(parents=True, exist_ok=True)
    write_task1_json(out / "pred.json", dets)
    write_task2_csv(out / "pred.csv", rows)
    write_coco(out / "annotations.json", coco)
    summary.files = [out / "pred.json", out / "pred.csv", out / "annotations.json"]
    return summary


def corrections_coco(entries: list[ImageEntry]) -> dict:
    """COCO ground truth of every image with checked boxes (ground truth, edits and reviews)."""
    images, boxes = [], []
    for e in entries:
        if e.layer.status not in (Status.LABELLED, Status.EDITED, Status.REVIEWED):
            continue
        size = e.size or _size(e.path)
        images.append({"id": e.image_id, "file_name": e.name, "width": size[0], "height": size[1]})
        boxes += [
            {"image_id": e.image_id, "bbox": list(b.rect), "digit": b.digit}
            for b in e.layer.boxes
            if b.digit != UNKNOWN_DIGIT
        ]
    return coco_ground_truth(images, boxes)


def save_corrections(entries: list[ImageEntry], path: Path, gt: Path | None) -> tuple[Path, int, int]:
    """Write :func:`corrections_coco` to ``path`` (never onto ``gt``). Returns (path, images, boxes)."""
    if gt is not None and path.resolve() == gt.resolve():
        path = gt.with_name(gt.stem + ".corrected.json")
    coco = corrections_coco(entries)
    write_coco(path, coco)
    return path, len(coco["images"]), len(coco["annotations"])


class ExportJob(QObject):
    """Predict what is missing (through the inference service), then write in a thread."""

    finished = Signal(object)  # ExportSummary
    failed = Signal(str)
    _written = Signal(object, object)  # summary or None, error or None

    def __init__(self, doc, inference, out: Path, parent=None) -> None:
        super().__init__(parent)
        self.doc, self.inference, self.out = doc, inference, Path(out)
        self._job = 0
        self._written.connect(self._on_written)

    def start(self) -> None:
        missing = [(self.doc.entry(r).name, self.doc.entry(r).path) for r in self.doc.unlabelled_rows()]
        if missing and self.inference.available:
            self.inference.job_finished.connect(self._on_job)
            self._job = self.inference.predict_all(missing)
            return
        self._write()

    def _on_job(self, job: int, completed: bool) -> None:
        if job != self._job:
            return
        self.inference.job_finished.disconnect(self._on_job)
        if completed:
            self._write()
        else:
            self.failed.emit("Export cancelled: prediction of the remaining images was stopped.")

    def _write(self) -> None:
        entries, thr, out = _snapshot(self.doc.entries), self.doc.threshold, self.out

        def work() -> None:
            try:
                self._written.emit(write_export(entries, thr, out), None)
            except (OSError, ValueError) as exc:
                self._written.emit(None, f"Export failed: {exc}")

        threading.Thread(target=work, name="export", daemon=True).start()

    def _on_written(self, summary, error) -> None:
        if error:
            self.failed.emit(error)
        else:
            log.info("export written: %s", json.dumps([str(p) for p in summary.files]))
            self.finished.emit(summary)
