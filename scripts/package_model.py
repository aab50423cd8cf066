"""Turn a training run into a shippable model: fp16 weights plus a model card.

    .venv/bin/python scripts/package_model.py runs/default --out trainer/resources/models/default.pt \
        --eval-images ../shared/data/svhn/valid --eval-ann ../shared/data/svhn/valid.json \
        --command "python -m trainer train --config configs/default_model.json --out runs/default"

Writes ``default.pt`` (weights, config, tuned threshold, card) and ``default.json`` (the card).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--eval-images")
    ap.add_argument("--eval-ann")
    ap.add_argument("--command", default="")
    ap.add_argument("--hardware", default=f"{platform.processor() or platform.machine()} CPU")
    ap.add_argument("--note", default="")
    a = ap.parse_args()

    import torch

    from trainer.data import load_coco
    from trainer.errors import DigitError
    from trainer.evaluate import evaluate
    from trainer.export import atomic_write_text
    from trainer.model import load_detector, read_checkpoint, resolve_model_path, save_checkpoint
    from trainer.predict import Predictor

    torch.set_num_threads(2)
    model, cfg, blob = load_detector(a.run / "best.pt")
    run_cfg = json.loads((a.run / "config.json").read_text())
    rows = list(csv.DictReader((a.run / "metrics.csv").open()))
    seconds = sum(float(r["seconds"]) for r in rows)
    init = run_cfg["train_config"].get("init")
    parent = None
    if init:  # warm-started: keep the lineage and the training time accumulated so far
        try:
            init_path = resolve_model_path(init) if init == "default" else ROOT / init  # absolute stays
            parent = read_checkpoint(init_path).get("card")
        except DigitError:
            parent = None
    prev = (parent or {}).get("training", {})
    card = {
        "name": a.out.stem,
        "preset": cfg["preset"],
        "created": dt.date.today().isoformat(),
        "training": {
            "command": a.command,
            "data": run_cfg["train_config"]["train"],
            "synthetic_images": run_cfg["train_config"]["synthetic"],
            "train_images": run_cfg["images"],
            "holdout_images": run_cfg["val_images"],
            "epochs_run": len(rows),
            "best_epoch": blob.get("epoch"),
            "seconds": round(seconds),
            "hardware": a.hardware,
            "warm_start": init,
            "total_seconds": round(seconds + prev.get("total_seconds", prev.get("seconds", 0))),
        },
        "previous": parent,
        "input_min_size": cfg["resize"].get("min_size"),
        "tuned_sizes": blob.get("tuned_sizes"),
        "score_thresh": blob.get("score_thresh"),
        "holdout_metrics": blob.get("metrics"),
        "licence": "Trained partly on SVHN photos, which are for non-commercial use only; "
        "the weights inherit that restriction.",
        "note": a.note,
    }
    tmp = a.out.with_suffix(".tmp.pt")
    save_checkpoint(tmp, model, cfg, half=True, score_thresh=blob.get("score_thresh"), card=card)
    if a.eval_images and a.eval_ann:
        recs = load_coco(a.eval_ann, a.eval_images).records
        m = evaluate(Predictor(tmp, "cpu", 16, num_workers=0), recs)
        card["eval"] = {
            "data": a.eval_images,
            **{k: round(m[k], 4) for k in ("mAP", "AP50", "AP75", "number_accuracy", "images_per_second")},
            "images": m["images"],
        }
    save_checkpoint(a.out, model, cfg, half=True, score_thresh=blob.get("score_thresh"), card=card)
    tmp.unlink()
    atomic_write_text(a.out.with_suffix(".json"), json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
