"""Average the weights of runs of one lineage (one warm-started from the other), then choose the
input size and score threshold on the held-out photos of the last run, as training does.

    .venv/bin/python scripts/average_runs.py runs/v5 runs/v6 --out runs/v5v6 [--init default]
        [--weights 0.3 0.7]

Writes ``OUT/best.pt`` and a ``config.json`` / ``metrics.csv`` of the last run (with
``averaged_from``), so ``scripts/package_model.py OUT`` packages it. ``--init`` names the model
the card's lineage continues from (the bundled model the first run became).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--init", help="lineage for the card (default: the last run's warm start)")
    ap.add_argument("--weights", type=float, nargs="+", help="one per run (default: equal)")
    a = ap.parse_args()

    import torch

    from trainer.calibrate import tune_input_size
    from trainer.engine import TrainConfig, _training_sets
    from trainer.model import read_checkpoint

    torch.set_num_threads(2)
    blobs = [read_checkpoint(r / "best.pt") for r in a.runs]
    arch = {(b["config"].get("preset"), b["config"].get("arch")) for b in blobs}
    if len(arch) != 1:
        sys.exit(f"error: the runs hold different models: {sorted(arch)}")
    states = [_as_last(b, blobs[-1]) for b in blobs]
    weights = a.weights or [1.0] * len(states)
    if len(weights) != len(states) or min(weights) < 0 or sum(weights) <= 0:
        sys.exit("error: --weights needs one non-negative weight per run")
    weights = [w / sum(weights) for w in weights]
    out = dict(blobs[-1])
    out["model"] = {
        k: sum(w * st[k].float() for w, st in zip(weights, states)).to(v.dtype)
        if v.is_floating_point()
        else v
        for k, v in blobs[-1]["model"].items()
    }
    a.out.mkdir(parents=True, exist_ok=True)
    torch.save(out, a.out / "best.pt")
    last = a.runs[-1]
    cfg = json.loads((last / "config.json").read_text())
    cfg["averaged_from"] = [str(r) for r in a.runs]
    cfg["averaged_weights"] = weights
    if a.init:
        cfg["train_config"]["init"] = a.init
    (a.out / "config.json").write_text(json.dumps(cfg, indent=2))
    shutil.copy(last / "metrics.csv", a.out / "metrics.csv")
    # the last run's validation photos (its --val set and held-out share), without its synthetic ones
    tc = dataclasses.replace(TrainConfig(**cfg["train_config"]), synthetic=0)
    _, hold, _ = _training_sets(tc, a.out, 0)
    sizes = cfg["model_config"].get("test_sizes") or [cfg["model_config"]["resize"]["min_size"]]
    ev = tune_input_size(a.out / "best.pt", hold, torch.device("cpu"), sizes)
    for t in ev.tried:
        print(f"input {t['min_size']}: mAP {t['mAP']:.4f}  number accuracy {t['number_accuracy']:.4f}")
    print(f"chose input {ev.min_size} px, threshold {ev.score_thresh:.2f}; wrote {a.out / 'best.pt'}")


def _as_last(blob: dict, last: dict) -> dict:
    """``blob``'s weights in the shape of the last run's model: a run without the text class the
    last one has gets it as a warm start would (its readings unchanged)."""
    from trainer.model import build_detector, warm_start

    if bool(blob["config"].get("text_class")) == bool(last["config"].get("text_class")):
        return blob["model"]
    if blob["config"].get("text_class"):
        sys.exit("error: a run with the text class cannot be averaged into one without it")
    src = build_detector(blob["config"])
    src.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["model"].items()})
    dst = build_detector(last["config"])
    warm_start(dst, src)
    return dst.state_dict()


if __name__ == "__main__":
    main()
