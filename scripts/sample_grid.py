"""A picture grid of generated training samples with their digit boxes (for the docs).

.venv/bin/python scripts/sample_grid.py --kind printed --text --out docs/printed_samples.png

Digits are boxed in red with their digit; with ``--text`` the letters a model with a text class
learns as text are boxed in blue.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.printed import TEXT, render_printed  # noqa: E402
from trainer.synth import render_sample  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=("house", "printed"), default="printed")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--cols", type=int, default=5)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--text", action="store_true", help="printed: show the letters labelled as text")
    p.add_argument("--cell", type=int, nargs=2, default=(220, 140), metavar=("W", "H"))
    a = p.parse_args()
    rng = random.Random(a.seed)
    cw, ch = a.cell
    rows = (a.count + a.cols - 1) // a.cols
    grid = Image.new("RGB", (a.cols * cw, rows * ch), "white")
    for i in range(a.count):
        img, boxes = render_printed(rng, text=a.text) if a.kind == "printed" else render_sample(rng)
        s = min((cw - 6) / img.width, (ch - 6) / img.height)
        shown = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.NEAREST)
        d = ImageDraw.Draw(shown)
        for (x, y, w, h), digit in boxes:
            colour = (40, 90, 255) if digit == TEXT else (255, 40, 40)
            d.rectangle([x * s, y * s, (x + w) * s, (y + h) * s], outline=colour)
            if digit != TEXT:
                d.text((x * s + 1, y * s - 11), str(digit), fill=colour)
        grid.paste(shown, ((i % a.cols) * cw + 3, (i // a.cols) * ch + 3))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
