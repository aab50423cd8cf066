"""Numbers that fill only part of the photo: today's single-pass inference vs the scale search.

Each SVHN valid photo is pasted, unscaled, at a random spot of a scene k times wider and
taller (k = 1, 2, 4, 8), over a background made here from smooth noise, gradients, rectangles
and lines (never SVHN pixels, so the model never trained on it). A fifth case is a 12-megapixel
photo: 4000x3000 JPEG with the crop scaled up to 5% of the width. Scenes go to a temporary
folder and are read back through ``Predictor.predict_paths``, so decoding is timed too.

Per case and inference mode: whole-number accuracy, share of images where no number is read,
mAP@[.5:.95] on the original boxes shifted (and scaled) into the scene, and images/s. Run:

    .venv/bin/python bench/scale.py [--limit 342] [--limit-12mp 40] [--threads 2]

Knobs of the search are tuned with ``--photos holdout``: the 5% of train+extra photos that
training holds out by id (never trained on); valid is only for reporting.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import require_svhn, table
from PIL import Image, ImageDraw, ImageFilter

SIZE_12MP = (4000, 3000)
HEADER = ["case", "inference", "images", "accuracy", "no number", "mAP", "images/s", "model Mpx/image"]


def background(w: int, h: int, rng: random.Random) -> Image.Image:
    """A textured scene of ``w`` x ``h``: smooth colour noise, a gradient, rectangles, lines."""
    nrng = np.random.default_rng(rng.randrange(2**32))
    gw, gh = max(2, w // 64 + 2), max(2, h // 64 + 2)
    low = nrng.uniform(40, 215, (gh, gw, 3)).astype(np.uint8)
    img = Image.fromarray(low, "RGB").resize((w, h), Image.BICUBIC)
    ramp = np.linspace(-1.0, 1.0, w if rng.random() < 0.5 else h, dtype=np.float32)
    ramp = ramp[None, :, None] if len(ramp) == w else ramp[:, None, None]
    arr = np.asarray(img, np.float32) + ramp * rng.uniform(10, 50)
    draw_img = Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(draw_img)
    scale = max(w, h)
    for _ in range(rng.randint(4, 14)):
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        rw, rh = rng.uniform(0.03, 0.4) * scale, rng.uniform(0.03, 0.4) * scale
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle(
            [x0, y0, x0 + rw, y0 + rh], fill=colour if rng.random() < 0.6 else None, outline=colour
        )
    for _ in range(rng.randint(5, 20)):
        pts = [(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(2)]
        draw.line(
            pts,
            fill=tuple(rng.randrange(256) for _ in range(3)),
            width=max(1, int(rng.uniform(0.001, 0.01) * scale)),
        )
    if rng.random() < 0.5:
        draw_img = draw_img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    grain = nrng.normal(0, rng.uniform(2, 8), (h, w, 1)).astype(np.float32)
    out = np.asarray(draw_img, np.float32) + grain
    return Image.fromarray(out.clip(0, 255).astype(np.uint8), "RGB")


def make_scenes(records, k: int | None, folder: Path, seed: int, limit_12mp: int):
    """Write one scene per record into ``folder``; returns records with the boxes moved there.

    ``k=None`` is the 12-megapixel case (JPEG); scenes of factor k are PNG.
    """
    from trainer.data import Record
    from trainer.imageio import load_rgb

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for rec in records if k is not None else records[:limit_12mp]:
        rng = random.Random(f"{seed}-{k}-{rec.image_id}")
        crop = load_rgb(rec.path)
        boxes = rec.boxes.astype(np.float32).copy()
        if k is None:
            f = 0.05 * SIZE_12MP[0] / crop.width
            crop = crop.resize((round(crop.width * f), round(crop.height * f)), Image.BICUBIC)
            boxes *= np.float32(f)
            w, h = SIZE_12MP
        else:
            w, h = crop.width * k, crop.height * k
        scene = background(w, h, rng) if (w, h) != crop.size else crop
        x, y = rng.randint(0, w - crop.width), rng.randint(0, h - crop.height)
        scene.paste(crop, (x, y))
        boxes += np.array([x, y, x, y], np.float32)
        path = folder / (f"{rec.image_id}.jpg" if k is None else f"{rec.image_id}.png")
        if k is None:
            scene.save(path, quality=92)
        else:
            scene.save(path, compress_level=1)
        out.append(Record(rec.image_id, path, w, h, boxes, rec.labels.copy()))
    return out


def score(pred, records) -> dict:
    from trainer.evaluate import evaluate_results
    from trainer.numbers import read_number

    list(pred.predict_paths([r.path for r in records[:4]]))  # warm-up
    run, pixels = pred._run, [0]

    def counting(tensors):
        pixels[0] += sum(t.shape[1] * t.shape[2] for t in tensors)
        return run(tensors)

    pred._run = counting  # model input pixels: a cost measure that CPU contention does not blur
    t0 = time.perf_counter()
    results = list(pred.predict_paths([r.path for r in records]))
    seconds = time.perf_counter() - t0
    del pred._run
    m = evaluate_results(records, results, pred.score_thresh)
    none = sum(read_number(r.boxes, r.scores, r.digits, pred.score_thresh).number == -1 for r in results)
    return {
        "acc": m["number_accuracy"],
        "none": none / len(records),
        "mAP": m["mAP"],
        "ips": len(records) / seconds,
        "mpx": pixels[0] / len(records) / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=342, help="SVHN photos per scene factor")
    ap.add_argument(
        "--photos",
        choices=["valid", "holdout"],
        default="valid",
        help="valid: report; holdout: the train+extra photos training holds out, for tuning",
    )
    ap.add_argument("--limit-12mp", type=int, default=40, help="photos for the 12-megapixel case")
    ap.add_argument("--ks", default="1,2,4,8,12mp", help="cases to run, e.g. 4,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="default")
    ap.add_argument("--modes", default="single,auto", help="inference modes (Predictor scales=...)")
    ap.add_argument("--search", default="", help="ScaleSearch overrides for 'auto', e.g. step=4,max_scale=1")
    a = ap.parse_args()

    import torch

    from trainer.data import held_out_photos, load_coco
    from trainer.predict import Predictor

    torch.set_num_threads(a.threads)
    svhn = require_svhn()
    if a.photos == "valid":
        records = load_coco(svhn / "valid.json", svhn / "valid").records[: a.limit]
    else:  # the same stable 5% by id that `train --holdout 0.05` keeps out of training
        records = held_out_photos(svhn)[: a.limit]
    modes = a.modes.split(",")
    preds = {m: Predictor(a.model, "cpu", 16, num_workers=0, scales=m) for m in modes}
    if a.search:
        kv = dict(item.split("=") for item in a.search.split(","))
        for p in preds.values():
            p.search = dataclasses.replace(
                p.search, **{k: type(getattr(p.search, k))(float(v)) for k, v in kv.items()}
            )
        print("search:", preds[modes[-1]].search)
    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    rows = []
    try:
        for case in a.ks.split(","):
            k = None if case == "12mp" else int(case)
            scenes = make_scenes(records, k, tmp / case, a.seed, a.limit_12mp)
            res = {m: score(p, scenes) for m, p in preds.items()}
            label = "12 MP" if k is None else f"k={k}"
            for m in modes:
                r = res[m]
                rows.append([label, m, len(scenes), r["acc"], r["none"], r["mAP"], r["ips"], r["mpx"]])
            if len(modes) == 2:
                o, n = res[modes[0]], res[modes[1]]
                keys = ("acc", "none", "mAP", "ips", "mpx")
                ratio = [n[key] / o[key] if o[key] else float("inf") for key in keys]
                rows.append([label, f"{modes[1]}/{modes[0]}", len(scenes), *ratio])
            shutil.rmtree(tmp / case, ignore_errors=True)
            print(
                table(rows[-3:], HEADER),
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nCPU, {a.threads} threads; SVHN {a.photos} photos pasted unscaled into k-times larger scenes")
    print(table(rows, HEADER))


if __name__ == "__main__":
    main()
