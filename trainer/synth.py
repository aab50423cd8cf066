"""Synthetic house-number photos (1-5 digits) with exact per-digit boxes, in the COCO layout."""

from __future__ import annotations

import io
import json
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .export import atomic_write_text, coco_ground_truth
from .paths import FONTS_DIR


@lru_cache(maxsize=1)
def font_files() -> tuple[str, ...]:
    """The DejaVu fonts shipped with the package, so a seed draws the same photos on every system.

    Never the system's fonts: which ones a machine has would change the data.
    """
    return tuple(sorted(str(f) for f in FONTS_DIR.glob("*.ttf")))


def _font(rng: random.Random, size: int) -> ImageFont.FreeTypeFont:
    files = font_files()
    if files and rng.random() < 0.85:
        return ImageFont.truetype(rng.choice(files), size)
    return ImageFont.load_default(size)


def _rand_color(rng: random.Random) -> tuple[int, int, int]:
    """A colour, usually muted like paint and brick in street photos."""
    c = [rng.randrange(256) for _ in range(3)]
    if rng.random() < 0.7:
        g = sum(c) / 3
        k = rng.uniform(0.2, 0.7)
        c = [int(g + (v - g) * k) for v in c]
    return tuple(c)


def _lum(c) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrasting(rng: random.Random, bg) -> tuple[int, int, int]:
    for _ in range(20):
        c = _rand_color(rng)
        if abs(_lum(c) - _lum(bg)) > 70:
            return c
    return (255, 255, 255) if _lum(bg) < 128 else (0, 0, 0)


def _background(rng: random.Random, w: int, h: int) -> Image.Image:
    base = np.array(_rand_color(rng), np.float32)
    kind = rng.random()
    if kind < 0.35:  # smooth noise texture (walls, bricks, foliage at low resolution)
        small = np.random.default_rng(rng.randrange(1 << 30)).normal(
            0, 40, (max(2, h // 8), max(2, w // 8), 3)
        )
        tex = (
            np.asarray(
                Image.fromarray(np.clip(small + 128, 0, 255).astype(np.uint8)).resize((w, h), Image.BICUBIC),
                np.float32,
            )
            - 128
        )
        arr = base + tex * rng.uniform(0.3, 1.0)
    elif kind < 0.65:  # gradient
        other = np.array(_rand_color(rng), np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        t = t[None, :, None] if t.shape[0] == w else t[:, None, None]
        arr = base * (1 - t) + other * t + np.zeros((h, w, 3), np.float32)
    else:
        arr = np.zeros((h, w, 3), np.float32) + base
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    for _ in range(rng.randrange(0, 7)):  # clutter: bricks, frames, wires, letters
        c = _rand_color(rng)
        x0, y0 = rng.randrange(-w // 4, w), rng.randrange(-h // 4, h)
        x1, y1 = x0 + rng.randrange(4, max(5, w)), y0 + rng.randrange(2, max(3, h))
        r = rng.random()
        if r < 0.4:
            d.line([(x0, y0), (x1, y1)], fill=c, width=rng.randrange(1, 4))
        elif r < 0.7:
            d.rectangle([x0, y0, x1, y1], outline=c, width=rng.randrange(1, 3))
        elif r < 0.85:
            d.ellipse([x0, y0, x1, y1], outline=c)
        else:
            f = _font(rng, max(8, h // rng.randrange(3, 6)))
            d.text(
                (x0, y0),
                "".join(rng.choice("ABEFHKLMNPRSTWXYZ") for _ in range(rng.randrange(1, 4))),
                font=f,
                fill=c,
            )
    return img


def _perspective_coeffs(src, dst) -> list[float]:
    """Coefficients for PIL's PERSPECTIVE transform mapping output points ``dst`` to ``src``."""
    a = []
    b = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.linalg.solve(np.asarray(a, np.float64), np.asarray(b, np.float64)).tolist()


def render_sample(rng: random.Random) -> tuple[Image.Image, list[tuple[list[float], int]]]:
    """One synthetic photo and its ``([x, y, w, h], digit)`` boxes."""
    n = rng.choices([1, 2, 3, 4, 5], weights=[14, 40, 30, 12, 4])[0]
    digits = [rng.randrange(10) for _ in range(n)]
    if n > 1 and digits[0] == 0 and rng.random() < 0.8:
        digits[0] = rng.randrange(1, 10)
    size = rng.randrange(18, 90)
    font = _font(rng, size)
    spacing = rng.uniform(-0.05, 0.45) * size
    glyph = [font.getbbox(str(d)) for d in digits]
    widths = [g[2] - g[0] for g in glyph]
    top = min(g[1] for g in glyph)
    bottom = max(g[3] for g in glyph)
    text_w = int(sum(widths) + spacing * (n - 1))
    text_h = bottom - top
    mx = int(rng.uniform(0.1, 1.2) * text_h) + 2
    my = int(rng.uniform(0.08, 0.7) * text_h) + 2
    w, h = text_w + 2 * mx, text_h + 2 * my
    img = _background(rng, w, h)
    draw = ImageDraw.Draw(img)
    ox = mx + rng.randrange(-mx // 2, mx // 2 + 1)
    oy = my + rng.randrange(-my // 2, my // 2 + 1)
    ink_bg = img.getpixel((min(w - 1, max(0, ox)), min(h - 1, max(0, oy))))
    if rng.random() < 0.55:  # a plate behind the number
        pad = rng.uniform(0.1, 0.4) * text_h
        plate = _rand_color(rng)
        box = [ox - pad, oy - pad, ox + text_w + pad, oy + text_h + pad]
        draw.rounded_rectangle(
            box,
            radius=rng.randrange(0, max(1, int(pad)) + 1),
            fill=plate,
            outline=_rand_color(rng) if rng.random() < 0.5 else None,
            width=rng.randrange(1, 4),
        )
        ink_bg = plate
    ink = _contrasting(rng, ink_bg)
    stroke = rng.choice([0, 0, 0, 1, 2]) if size > 30 else 0
    masks = []
    x = float(ox)
    for d, g, gw in zip(digits, glyph, widths):
        pos = (x - g[0], oy - top + rng.uniform(-0.04, 0.04) * text_h)
        m = Image.new("L", (w, h), 0)
        ImageDraw.Draw(m).text(pos, str(d), font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        masks.append(m)
        if rng.random() < 0.3:  # drop shadow
            draw.text(
                (pos[0] + 1 + size // 25, pos[1] + 1 + size // 25), str(d), font=font, fill=_rand_color(rng)
            )
        draw.text(pos, str(d), font=font, fill=ink, stroke_width=stroke, stroke_fill=ink)
        x += gw + spacing

    # mild perspective / rotation, applied to the image and every digit mask alike
    if rng.random() < 0.7:
        j = 0.12
        dst = [(0, 0), (w, 0), (w, h), (0, h)]
        src = [(px + rng.uniform(-j, j) * w * 0.5, py + rng.uniform(-j, j) * h) for px, py in dst]
        coeffs = _perspective_coeffs(src, dst)
        edge = img.getpixel((0, 0))
        img = img.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR, fillcolor=edge)
        masks = [m.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR) for m in masks]

    # camera: resolution loss, blur, noise, JPEG
    scale = rng.uniform(0.35, 1.0) if rng.random() < 0.5 else 1.0
    if scale < 1.0:
        sw, sh = max(8, int(w * scale)), max(8, int(h * scale))
        img = img.resize((sw, sh), Image.BILINEAR)
        masks = [m.resize((sw, sh), Image.BILINEAR) for m in masks]
        w, h = sw, sh
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.3)))
    img = noise_and_jpeg(img, rng, noise=(0.6, 14.0), jpeg=(0.4, 25, 85))
    boxes = []
    for d, m in zip(digits, masks):
        bb = ink_box(m)
        if bb is not None:
            boxes.append((bb, d))
    return img, boxes


def noise_and_jpeg(
    img: Image.Image, rng: random.Random, noise: tuple[float, float], jpeg: tuple[float, int, int]
) -> Image.Image:
    """Sensor noise (with probability ``noise[0]``, sigma up to ``noise[1]``), then JPEG loss
    (with probability ``jpeg[0]``, quality in ``jpeg[1]..jpeg[2]``)."""
    arr = np.asarray(img, np.float32)
    if rng.random() < noise[0]:
        arr = arr + np.random.default_rng(rng.randrange(1 << 30)).normal(
            0, rng.uniform(2, noise[1]), arr.shape
        )
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < jpeg[0]:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randrange(jpeg[1], jpeg[2]))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    return img


def ink_box(mask: Image.Image) -> list[float] | None:
    """The xywh box of a digit's ink mask (pixels at 100 of 255 or more), None if none is left."""
    bb = mask.point(lambda v: 255 if v >= 100 else 0).getbbox()
    if bb is None:
        return None
    return [float(bb[0]), float(bb[1]), float(bb[2] - bb[0]), float(bb[3] - bb[1])]


KINDS = ("house", "printed")


def make_dataset(
    out_dir: str | Path,
    count: int,
    seed: int = 0,
    start_id: int = 1,
    kind: str = "house",
    backgrounds: list | None = None,
) -> Path:
    """Write ``out_dir/images/<id>.png`` and ``out_dir/annotations.json``; returns the JSON path.

    ``kind``: "house" (house-number plates in the DejaVu fonts) or "printed" (bibs, plates,
    labels and meters in every shipped font, with letters and words that are not digits;
    :mod:`trainer.printed`). ``backgrounds``: records of photos whose digits are painted over
    and used as backgrounds of printed samples (drawn backgrounds without them).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    images, anns = [], []
    photo = _background_photos(backgrounds, rng) if backgrounds else None
    for k in range(count):
        image_id = start_id + k
        if kind == "printed":
            from .printed import render_printed

            img, boxes = render_printed(rng, photo)
        else:
            img, boxes = render_sample(rng)
        name = f"{image_id}.png"
        img.save(out / "images" / name)
        images.append({"id": image_id, "file_name": name, "width": img.width, "height": img.height})
        anns += [{"image_id": image_id, "bbox": bbox, "digit": d} for bbox, d in boxes]
    path = out / "annotations.json"
    atomic_write_text(path, json.dumps(coco_ground_truth(images, anns, decimals=None)))
    return path


def _background_photos(records: list, rng: random.Random):
    """``photo()``: a random record's photo with its labelled digits painted over."""
    from .data import read_image_or_raise
    from .scenes import erase_digits

    def photo() -> Image.Image:
        rec = records[rng.randrange(len(records))]
        return erase_digits(read_image_or_raise(rec.path), rec.boxes)

    return photo
