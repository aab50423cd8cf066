"""Images/s of batch prediction on one device: batched fp16 against one image at a time in fp32.

Runs the bundled model (or --model) over a folder of photos, repeated to a few thousand images,
with the same loader `predict` uses (decode and resize in worker processes). The baseline, one
image per call without autocast, is measured in the same run. Run:

    .venv/bin/python bench/predict_throughput.py --device cuda [--images DIR] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import SVHN, table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=Path, default=SVHN / "valid")
    ap.add_argument("--model", default="default")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=10, help="passes over the folder")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--threads", type=int, help="CPU threads for torch (CPU runs)")
    a = ap.parse_args()

    import torch

    from trainer.imageio import list_images
    from trainer.predict import Predictor

    if a.threads:
        torch.set_num_threads(a.threads)
    paths = list_images(a.images)
    if not paths:
        raise SystemExit(f"no images in {a.images}")
    runs = [("one at a time, fp32", 1, False, paths), ("batched, fp16", a.batch_size, True, paths * a.repeat)]
    rows, speed = [], {}
    for name, bs, amp, todo in runs:
        pred = Predictor(a.model, a.device, bs, num_workers=a.workers, amp=amp)
        list(pred.predict_paths(todo[: max(bs, 16)]))  # warm-up: kernels, allocator, workers
        if pred.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        n = sum(1 for r in pred.predict_paths(todo) if r.error is None)
        if pred.device.type == "cuda":
            torch.cuda.synchronize()
        speed[name] = n / (time.perf_counter() - t0)
        rows.append([name, str(bs), "yes" if amp and pred.device.type == "cuda" else "no", n, speed[name]])
    print(f"{pred.device_name}, model {pred.model_path.name}, {len(paths)} photos from {a.images}")
    print(table(rows, ["run", "batch", "fp16", "images", "images/s"]))
    base, fast = (speed[r[0]] for r in runs)
    print(f"ratio batched fp16 / one at a time: {fast / base:.2f}x")


if __name__ == "__main__":
    main()
