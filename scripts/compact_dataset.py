"""Write a compact copy of a COCO digit dataset, for moving it to a training machine.

Reads ``SRC/NAME/`` with ``SRC/NAME.json`` for each split NAME (the dataset layout) and writes
the same layout under ``OUT``. Each image is scaled down so its short side is at most ``--max-short`` pixels (never up) and
saved as JPEG; the COCO file gets the new file names, sizes and boxes scaled by the same
factors, so training on the copy sees the same photos at the sizes the detector reads anyway
(the default preset reads numbers at an 80-128 px short side). Run:

    .venv/bin/python scripts/compact_dataset.py SRC OUT --splits train extra [--max-short 160]

writes ``OUT/train/*.jpg``, ``OUT/train.json`` and so on, and prints the bytes saved.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image


def compact(images: Path, ann: Path, out: Path, max_short: int, quality: int) -> tuple[int, int, int]:
    """Compact ``images`` + ``ann`` into the folder ``out`` and ``out``.json."""
    coco = json.loads(ann.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    scale_of: dict[int, tuple[float, float]] = {}
    before = after = 0
    for im in coco["images"]:
        src = images / im["file_name"]
        before += src.stat().st_size
        with Image.open(src) as raw:
            img = raw.convert("RGB")
        w, h = img.size
        s = min(1.0, max_short / min(w, h))
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.LANCZOS)
        name = Path(im["file_name"]).with_suffix(".jpg").name
        img.save(out / name, quality=quality, subsampling=0)
        after += (out / name).stat().st_size
        scale_of[im["id"]] = (nw / w, nh / h)
        im.update(file_name=name, width=nw, height=nh)
    for a in coco.get("annotations", []):
        sx, sy = scale_of.get(a["image_id"], (1.0, 1.0))
        x, y, w, h = a["bbox"]
        a["bbox"] = [x * sx, y * sy, w * sx, h * sy]
        if "area" in a:
            a["area"] = a["bbox"][2] * a["bbox"][3]
    out.with_suffix(".json").write_text(json.dumps(coco))
    return len(coco["images"]), before, after


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="dataset root: NAME/ and NAME.json for each split")
    ap.add_argument("out", type=Path)
    ap.add_argument("--splits", nargs="+", default=["train"])
    ap.add_argument("--max-short", type=int, default=160, help="largest short side kept, in pixels")
    ap.add_argument("--quality", type=int, default=90, help="JPEG quality")
    a = ap.parse_args()
    for name in a.splits:
        n, before, after = compact(a.src / name, a.src / f"{name}.json", a.out / name, a.max_short, a.quality)
        print(f"{name}: {n} images, {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB in {a.out / name}")


if __name__ == "__main__":
    main()
