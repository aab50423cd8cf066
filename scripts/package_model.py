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

    from trainer.cards import packaged_card, write_card
    from trainer.data import load_coco
    from trainer.errors import DigitError
    from trainer.evaluate import evaluate
    from trainer.model import load_detector, read_checkpoint, resolve_model_path, save_checkpoint
    from trainer.predict import Predictor

    torch.set_num_threads(2)
    model, cfg, blob = load_detector(a.run / "best.pt")
    run_cfg = json.loads((a.run / "config.json").read_text())
    rows = list(csv.DictReader((a.run / "metrics.csv").open()))
    init = run_cfg["train_config"].get("init")
    parent = None
    if init:  # warm-started: keep the lineage and the training time accumulated so far
        try:
            init_path = resolve_model_path(init) if init == "default" else ROOT / init  # absolute stays
            parent = read_checkpoint(init_path).get("card")
        except DigitError:
            parent = None
    card = packaged_card(
        a.out.stem,
        cfg,
        blob,
        run_cfg,
        rows,
        a.command,
        a.hardware,
        parent,
        note=a.note,
        created=dt.date.today().isoformat(),
    )
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
    write_card(a.out.with_suffix(".json"), card)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
