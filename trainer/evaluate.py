"""COCO mAP (pycocotools) and whole-number accuracy on a labelled image set."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from .breakdown import error_breakdown
from .data import Record, gt_number
from .export import coco_ground_truth, detection_entries
from .imageio import image_size
from .numbers import read_number
from .predict import ImageResult

THRESH_GRID = tuple(round(float(t), 2) for t in np.arange(0.05, 0.96, 0.05))


def coco_from_records(records: Sequence[Record]) -> COCO:
    """An in-memory pycocotools COCO ground truth built from records."""
    images, boxes = [], []
    for r in records:
        w, h = (r.width, r.height) if r.width and r.height else image_size(r.path)
        images.append({"id": r.image_id, "file_name": r.path.name, "width": w, "height": h})
        for (x1, y1, x2, y2), c in zip(r.boxes.tolist(), r.labels.tolist()):
            boxes.append({"image_id": r.image_id, "bbox": [x1, y1, x2 - x1, y2 - y1], "digit": int(c) - 1})
    gt = COCO()
    # pycocotools 2.0.10 copies "info" into every result set (loadRes) and fails without it
    gt.dataset = {"info": {}, **coco_ground_truth(images, boxes, decimals=None)}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def coco_map(gt: COCO, detections: list[dict]) -> dict[str, float]:
    """mAP@[.5:.95], AP50 and AP75 of task-1 style detections against ``gt``."""
    if not detections or not gt.getAnnIds():
        return {"mAP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(detections)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"mAP": max(0.0, float(s[0])), "AP50": max(0.0, float(s[1])), "AP75": max(0.0, float(s[2]))}


def number_accuracy(records: Sequence[Record], results: Sequence[ImageResult], thresh: float) -> float:
    if not records:
        return 0.0
    hits = sum(
        read_number(res.boxes, res.scores, res.digits, thresh).number == gt_number(rec)
        for rec, res in zip(records, results)
    )
    return hits / len(records)


def tune_threshold(records: Sequence[Record], results: Sequence[ImageResult]) -> tuple[float, float]:
    """The score threshold (on a 0.05 grid) with the best number accuracy; ties go to the lower."""
    best_t, best_acc = THRESH_GRID[0], -1.0
    for t in THRESH_GRID:
        acc = number_accuracy(records, results, t)
        if acc > best_acc + 1e-12:
            best_t, best_acc = t, acc
    return best_t, best_acc


def evaluate_results(
    records: Sequence[Record], results: Sequence[ImageResult], score_thresh: float | None
) -> dict:
    """Metrics of raw detections. ``score_thresh=None`` tunes it (for validation during training)."""
    dets: list[dict] = []
    for rec, res in zip(records, results):
        dets += detection_entries(rec.image_id, res.boxes, res.scores, res.digits)
    out = coco_map(coco_from_records(records), dets)
    if score_thresh is None:
        score_thresh, acc = tune_threshold(records, results)
    else:
        acc = number_accuracy(records, results, score_thresh)
    out.update(number_accuracy=acc, score_thresh=float(score_thresh), images=len(records))
    return out


def evaluate(
    predictor,
    records: Sequence[Record],
    score_thresh: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run ``predictor`` over labelled records and score it. Uses the model's threshold by default.

    ``errors`` holds the error breakdown of :func:`trainer.breakdown.error_breakdown`.
    """
    t0 = time.perf_counter()
    results = list(predictor.predict_paths([r.path for r in records], progress=progress))
    seconds = time.perf_counter() - t0
    bad = [r.path.name for r in results if r.error]
    thresh = predictor.score_thresh if score_thresh is None else score_thresh
    out = evaluate_results(records, results, thresh)
    out["errors"] = error_breakdown(records, results, thresh)
    out["images_per_second"] = len(records) / seconds if seconds > 0 else 0.0
    out["unreadable"] = bad
    return out
