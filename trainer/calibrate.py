"""After training: choose the input size and score threshold, and compare two models.

Both run on held-out photos, never on the training set: calibration on the validation images
(the ones that also chose ``best.pt``), the comparison on images kept apart from those.
"""

from __future__ import annotations

import os

import torch

from .data import Record
from .errors import TrainingError
from .evaluate import evaluate, evaluate_results
from .events import METRIC_KEYS, CompareEvent, TunedEvent
from .model import checkpoint_extras, load_detector, save_checkpoint
from .predict import Predictor


def tune_input_size(
    path: str | os.PathLike, records: list[Record], device: torch.device, sizes
) -> TunedEvent:
    """Choose the input short side that reads numbers best on held-out photos, and store it.

    A detector trained with scale jitter often reads small photos best a little above its
    training size. Each size in ``sizes`` is scored with its own tuned score threshold; the
    best number accuracy wins (then mAP, then the smaller size). The checkpoint at ``path`` is
    rewritten with the chosen size and threshold. Returns the choice and every size's scores.
    """
    model, cfg, blob = load_detector(path)
    if cfg["resize"].get("mode") != "keep":
        raise TrainingError("input-size tuning needs an aspect-keeping resize")
    model.to(device)
    tried = []
    for size in sorted({int(v) for v in sizes}):
        trial = {**cfg, "resize": {**cfg["resize"], "min_size": size}}
        pred = Predictor.from_model(model, trial, device, 0.5)
        m = evaluate_results(records, list(pred.predict_paths([r.path for r in records])), None)
        tried.append({"min_size": size, **{k: m[k] for k in METRIC_KEYS}})
    best = max(tried, key=lambda t: (round(t["number_accuracy"], 9), round(t["mAP"], 9), -t["min_size"]))
    cfg = {**cfg, "resize": {**cfg["resize"], "min_size": best["min_size"]}}
    extra = checkpoint_extras(blob)
    extra.update(
        score_thresh=best["score_thresh"],
        metrics={k: best[k] for k in ("mAP", "AP50", "AP75", "number_accuracy")},
        tuned_sizes=tried,
    )
    save_checkpoint(path, model, cfg, **extra)
    return TunedEvent(min_size=best["min_size"], score_thresh=best["score_thresh"], tried=tried)


def compare_models(old: str, new: str, records: list[Record], device: str) -> CompareEvent:
    """Old and new model on the same photos, each at its own score threshold."""
    out = {}
    for name, path in (("old", old), ("new", new)):
        m = evaluate(Predictor(path, device, 16, num_workers=0), records)
        out[name] = {k: m[k] for k in METRIC_KEYS}
    return CompareEvent(images=len(records), old=out["old"], new=out["new"], old_model=str(old))
