"""Images/s of `predict` for the seed and default presets on the SVHN valid photos, one run.

The default preset uses the bundled model when present (trained weights), else random weights;
the seed preset uses random weights unless --seed-model is given. Weights do not change the
network's cost much, but the printout says which were used. Run:

    .venv/bin/python bench/infer_speed.py [--threads 2] [--limit 342]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import require_svhn, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=342)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed-model", help="a trained seed checkpoint (default: random weights)")
    a = ap.parse_args()

    import torch

    from trainer.imageio import list_images
    from trainer.model import DEFAULT_MODEL, build_detector, save_checkpoint
    from trainer.predict import Predictor
    from trainer.presets import get_preset

    torch.set_num_threads(a.threads)
    paths = list_images(require_svhn() / "valid")[: a.limit]
    tmp = Path(tempfile.mkdtemp())
    models = {}
    for preset, trained in (
        ("seed", a.seed_model),
        ("default", DEFAULT_MODEL if DEFAULT_MODEL.is_file() else None),
    ):
        if trained:
            models[preset] = (Path(trained), "trained")
        else:
            cfg = get_preset(preset)
            save_checkpoint(tmp / f"{preset}.pt", build_detector(cfg), cfg)
            models[preset] = (tmp / f"{preset}.pt", "random")
    rows, speed = [], {}
    for preset, (path, kind) in models.items():
        pred = Predictor(path, "cpu", a.batch_size, num_workers=0)
        list(pred.predict_paths(paths[: a.batch_size]))  # warm-up
        t0 = time.perf_counter()
        n = sum(1 for _ in pred.predict_paths(paths))
        speed[preset] = n / (time.perf_counter() - t0)
        rows.append([preset, kind, n, speed[preset]])
    print(f"CPU, {a.threads} threads, batch {a.batch_size}, {len(paths)} SVHN valid photos")
    print(table(rows, ["preset", "weights", "images", "images/s"]))
    print(f"ratio default/seed: {speed['default'] / speed['seed']:.2f}x")


if __name__ == "__main__":
    main()
