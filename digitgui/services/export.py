"""One-button export: task-1 ``pred.json``, task-2 ``pred.csv`` and the reviewed images' ground truth
(``annotations.json``, or VOC/YOLO/labelme files in ``voc/``, ``yolo/``, ``labelme/``).

Which boxes an image contributes (the same for every export and for what the window shows):

* **task 2** (``pred.csv``): the number shown for the image, :func:`~digitgui.state.reading` at
  the slider's threshold, whatever its status;
* **task 1** (``pred.json``): for an untouched image, the model's raw detections down to
  :data:`trainer.export.DET_THRESH` (exactly what ``python -m trainer predict`` writes; the slider
  does not filter them); for an image with a person's boxes (labelled, edited, reviewed), its
  checked boxes at score 1.0 plus the predictions still shown at that floor (none once reviewed;
  never one a person deleted or replaced);
* **annotations.json**: the checked boxes of the reviewed images that can be read. In another
  format (:data:`GT_DIRS`) the same boxes go to one file per image in a subfolder named after the
  format, which must hold nothing but export files: a folder of the user's own label files is
  never written into, and a user's labels beside the images are never touched (they are not in
  the export folder's subfolder even when the export folder is the image folder).

Boxes without a digit ("?") and unreadable images are left out and counted. Images not predicted
yet are predicted first (with progress); the files are then built and written off the UI thread,
through :func:`trainer.export.write_outputs`, which never replaces a file an export did not write.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.errors import DigitError, describe_names
from trainer.export import (
    DET_THRESH,
    EXPORT_MARK,
    detection_entries,
    output_conflicts,
    prediction_entries,
    task1_text,
    task2_text,
    write_coco,
    write_outputs,
)
from trainer.formats import label_texts

from ..dataset import document_coco, is_corrected, snapshot, unreadable
from ..state import UNKNOWN_DIGIT, ImageEntry, Status, reading, shown_boxes
from .inference import CANCELLED

log = logging.getLogger(__name__)

GT_DIRS = {"voc": "voc", "yolo": "yolo", "labelme": "labelme"}  # format -> subfolder of the export


@dataclass
class ExportSummary:
    """What was written, for the message shown to the user."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    images: int = 0
    reviewed: int = 0
    labelled: int = 0
    from_model: int = 0
    not_predicted: int = 0
    unreadable: int = 0
    detections: int = 0
    unlabelled_boxes: int = 0

    def text(self) -> str:
        lines = [f"Wrote {len(self.files)} files to {self.folder}:"]
        names = [p.relative_to(self.folder).as_posix() for p in self.files]
        lines += [f"  • {n}" for n in describe_names(names, shown=len(names)).split(", ")]
        lines.append(
            f"{self.images} images: {self.reviewed} reviewed by you, "
            + (f"{self.labelled} labelled (ground truth), " if self.labelled else "")
            + f"{self.from_model} from the model, {self.detections} boxes."
        )
        if self.not_predicted:
            lines.append(f"{self.not_predicted} images were not predicted: written as -1.")
        if self.unreadable:
            lines.append(
                f"{self.unreadable} unreadable images written as -1 (and left out of annotations.json)."
            )
        if self.unlabelled_boxes:
            lines.append(f"{self.unlabelled_boxes} boxes without a digit were left out.")
        return "\n".join(lines)


def export_boxes(e: ImageEntry) -> tuple[list[dict], int]:
    """Task-1 entries of one image (see the module docstring) and how many "?" boxes were left out."""
    if e.layer.status == Status.NOT_SEEN:
        if e.pred is None:
            return [], 0
        p = e.pred
        return prediction_entries(e.image_id, p.boxes, p.scores, p.digits), 0
    shown = shown_boxes(e, DET_THRESH)
    good = [s for s in shown if s.digit != UNKNOWN_DIGIT]
    entries = detection_entries(
        e.image_id, [s.rect for s in good], [s.score for s in good], [s.digit for s in good]
    )
    return entries, len(shown) - len(good)


def build_export(
    entries: list[ImageEntry], threshold: float, out: Path
) -> tuple[list, list, dict, ExportSummary]:
    """Task-1 entries, task-2 rows, COCO ground truth of reviewed images, and a summary."""
    summary = ExportSummary(out, images=len(entries))
    dets: list[dict] = []
    rows: list[tuple[int, int]] = []
    reviewed: list[ImageEntry] = []
    for e in entries:
        if unreadable(e):
            summary.unreadable += 1
            rows.append((e.image_id, -1))
            continue
        if e.pred is None and e.layer.status in (Status.NOT_SEEN, Status.PREDICTED):
            summary.not_predicted += 1
            rows.append((e.image_id, -1))
            continue
        mine, unlabelled = export_boxes(e)
        dets += mine
        summary.unlabelled_boxes += unlabelled
        rows.append((e.image_id, reading(e, threshold).number))
        if e.layer.status == Status.LABELLED:
            summary.labelled += 1
        elif e.layer.status != Status.REVIEWED:
            summary.from_model += 1
        else:
            summary.reviewed += 1
            reviewed.append(e)
    summary.detections = len(dets)
    gt = document_coco(reviewed)
    summary.unreadable += len(gt.unreadable)
    coco = gt.coco
    coco["info"] = {
        "description": "Ground truth of the images reviewed in Digit Studio",
        "written_by": EXPORT_MARK,
    }
    return dets, rows, coco, summary


def _gt_names(fmt: str) -> tuple[list[str], list[str]]:
    """(file names, subfolders) of the ground truth an export in ``fmt`` writes."""
    return (["annotations.json"], []) if fmt == "coco" else ([], [GT_DIRS[fmt]])


def export_conflicts(out: Path, fmt: str = "coco") -> tuple[list[str], list[str]]:
    """(files export did not write, files of an earlier export) that an export to ``out`` would replace."""
    names, dirs = _gt_names(fmt)
    return output_conflicts(out, ["pred.json", "pred.csv", *names], dirs)


def write_export(
    entries: list[ImageEntry], threshold: float, out: Path, replace_earlier: bool = False, fmt: str = "coco"
) -> ExportSummary:
    """Build and atomically write the files into ``out`` (see :func:`write_outputs`): task 1, task 2
    and the reviewed images' ground truth in ``fmt``. Ground truth an earlier export wrote in
    another format is removed with the rest of that export."""
    dets, rows, coco, summary = build_export(entries, threshold, out)
    texts = {"pred.json": task1_text(dets), "pred.csv": task2_text(rows)}
    images_dir = entries[0].path.parent if entries else out
    names, dirs = _gt_names(fmt)
    sub = out / dirs[0] if dirs else out
    # every image of the ground truth was reviewed: VOC and labelme files say so (verified, checked)
    for name, text in label_texts(fmt, coco, images_dir, sub, reviewed=True).items():
        texts[f"{dirs[0]}/{name}" if dirs else name] = text
    summary.files = write_outputs(
        out,
        texts,
        replace_earlier=replace_earlier,
        own_dirs=dirs,
        supersede=["annotations.json", *GT_DIRS.values()],
    )
    return summary


def models_used(entries: list[ImageEntry]) -> Counter:
    """How many images' exported results each model made (by fingerprint, "" when unknown)."""
    return Counter(e.pred.model for e in entries if e.pred is not None and e.layer.status != Status.REVIEWED)


@dataclass
class Corrections:
    path: Path
    images: int
    boxes: int
    unreadable: int = 0
    unlabelled_boxes: int = 0


def corrections_coco(entries: list[ImageEntry]) -> tuple[dict, int, int]:
    """COCO ground truth of every readable image with checked boxes (ground truth, edits and reviews).

    Returns (coco, unreadable images left out, boxes without a digit left out).
    """
    gt = document_coco(entries, is_corrected)
    return gt.coco, len(gt.unreadable), gt.unlabelled_boxes


def corrections_target(path: Path, gt: Path | None) -> Path:
    """Where corrections chosen to go to ``path`` are written: never onto the ground truth."""
    if gt is not None and path.resolve() == gt.resolve():
        return gt.with_name(gt.stem + ".corrected.json")
    return path


def save_corrections(entries: list[ImageEntry], path: Path, gt: Path | None) -> Corrections:
    """Write :func:`corrections_coco` to ``path`` (never onto ``gt``)."""
    path = corrections_target(path, gt)
    coco, bad, unlabelled = corrections_coco(entries)
    write_coco(path, coco)
    return Corrections(path, len(coco["images"]), len(coco["annotations"]), bad, unlabelled)


class ExportJob(QObject):
    """Predict what is missing (through the prediction controller, which waits for a model still
    loading), then write in a thread."""

    finished = Signal(object)  # ExportSummary
    failed = Signal(str)
    _written = Signal(object, object)  # summary or None, error or None

    def __init__(
        self,
        doc,
        predictions,
        out: Path,
        parent=None,
        repredict: list[int] = (),
        replace_earlier: bool = False,
        fmt: str = "coco",
        predict: bool = True,
    ) -> None:
        super().__init__(parent)
        self.doc, self.predictions, self.out, self.fmt = doc, predictions, Path(out), fmt
        self.repredict, self.replace_earlier = list(repredict), replace_earlier
        self.predict = predict  # False: images not predicted yet are written as -1
        self._thread: threading.Thread | None = None
        self._closed = False
        self._written.connect(self._on_written)

    def start(self) -> None:
        if self.predict:
            self.predictions.predict_rows(self._missing, self._on_predicted, "Export")
        else:
            self._write()

    def _missing(self) -> list[int]:
        return sorted(set(self.doc.unlabelled_rows()) | set(self.repredict))

    def close(self) -> None:
        """Stop for good (the window is closing): a job still predicting writes nothing, and files
        being written are finished before this returns (each is written atomically), so the
        process never exits in the middle of a write."""
        self._closed = True
        if self._thread is not None:
            self._thread.join()

    def _on_predicted(self, outcome: str) -> None:
        """Predicting ended: write (without a model the images are written as -1, and said so)."""
        if self._closed:
            return
        if outcome == CANCELLED:
            self.failed.emit("Export cancelled: prediction of the remaining images was stopped.")
        else:
            self._write()

    def _write(self) -> None:
        entries, thr, out = snapshot(self.doc.entries), self.doc.threshold, self.out
        replace, fmt = self.replace_earlier, self.fmt

        def work() -> None:
            try:
                self._written.emit(write_export(entries, thr, out, replace, fmt), None)
            except (OSError, ValueError, DigitError) as exc:
                self._written.emit(None, f"Export failed: {exc}")

        self._thread = threading.Thread(target=work, name="export")
        self._thread.start()

    def _on_written(self, summary, error) -> None:
        if self._closed:  # the window is gone: nobody to tell
            return
        if error:
            self.failed.emit(error)
        else:
            log.info("export written: %s", json.dumps([str(p) for p in summary.files]))
            self.finished.emit(summary)
