"""Choose a packaged model's input size and score threshold again, as training does at its end.

When the reading rules change (box voting, the text rule, how a number is picked), the size and
threshold a model was shipped with were chosen under the old ones. This scores each input size
on the photos training holds out (5% of SVHN train + extra, stable by image id; never valid),
keeps the best, and writes the model with its card updated:

    .venv/bin/python scripts/retune_model.py models/printed_v10.pt --out models/printed_v10.pt

Prints each size's held-out mAP and number accuracy and the choice.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SVHN = ROOT.parent / "shared" / "data" / "svhn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=SVHN, help="dataset root with train/ and extra/")
    ap.add_argument("--sizes", type=int, nargs="+", help="input short sides (default: the preset's)")
    a = ap.parse_args()

    import torch

    from trainer.calibrate import tune_input_size
    from trainer.cards import tuning_fields, write_card
    from trainer.data import held_out_photos
    from trainer.model import checkpoint_extras, load_detector, save_checkpoint

    torch.set_num_threads(2)
    hold = held_out_photos(a.data)
    if not hold:
        sys.exit(f"error: no train.json or extra.json under {a.data}, or none of their photos held out")
    _, cfg, blob = load_detector(a.model)
    sizes = a.sizes or cfg.get("test_sizes") or [cfg["resize"]["min_size"]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "model.pt"
        shutil.copy(a.model, work)
        ev = tune_input_size(work, hold, torch.device("cpu"), sizes)
        model, cfg, tuned = load_detector(work)
    for t in ev.tried:
        print(f"input {t['min_size']}: mAP {t['mAP']:.4f}  number accuracy {t['number_accuracy']:.4f}")
    card = dict(blob.get("card") or {})
    if card:
        card.update(tuning_fields(cfg, tuned))
    extra = {**checkpoint_extras(tuned), "card": card}
    save_checkpoint(a.out, model, cfg, half=True, **extra)
    if card:
        write_card(a.out.with_suffix(".json"), card)
    print(f"chose input {ev.min_size} px, threshold {ev.score_thresh:.2f}; wrote {a.out}")


if __name__ == "__main__":
    main()
