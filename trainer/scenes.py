"""Training samples in which a number is a small part of a larger scene.

The training photos are tight crops: the number fills most of the frame. People photograph a
house, a meter or a label, and the number is a small part of it. A scene sample puts an
(augmented) training number, scaled so its digits are 10-44 px tall in the model's input,
somewhere in a bigger picture built from other training photos whose digits were painted over.
The detector learns to find small digits among walls, plaques, windows and signs, and not to
fire on them. Backgrounds come from the training photos only; nothing here draws synthetic
clutter, so benchmark scenes built from synthetic clutter stay unseen.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class SceneSpec:
    """Sizes in model-input pixels."""

    digit_px: tuple[float, float] = (10.0, 44.0)  # median digit height, drawn log-uniformly
    min_side: int = 96  # scene sides lie in [min_side, max_width/max_height] (or the number's size)
    # a batch is padded to its largest sample: scenes no taller than the crops' padded batches
    max_width: int = 288
    max_height: int = 128
    spread: tuple[float, float] = (1.4, 4.0)  # scene side / number side, drawn per axis
    feather: float = 0.6  # share of pastes whose edges are blended into the background

    @classmethod
    def from_config(cls, cfg: dict) -> SceneSpec:
        raw = cfg.get("scene_spec") or {}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def erase_digits(img: Image.Image, boxes: np.ndarray) -> Image.Image:
    """The photo with every labelled digit painted over by a heavy blur of its surroundings.

    A background must hold no digit without a box: an unlabelled digit teaches the detector
    that digits are background.
    """
    if not len(boxes):
        return img
    heights = boxes[:, 3] - boxes[:, 1]
    radius = max(2.0, 0.6 * float(np.median(heights)))
    blurred = img.filter(ImageFilter.GaussianBlur(radius))
    mask = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(mask)
    for x1, y1, x2, y2 in boxes.tolist():
        px, py = 0.25 * (x2 - x1) + 1, 0.15 * (y2 - y1) + 1
        draw.rectangle([x1 - px, y1 - py, x2 + px, y2 + py], fill=255)
    # blur again, so the edges of the painted area carry no digit-shaped outline either
    smooth = Image.composite(blurred, img, mask).filter(ImageFilter.GaussianBlur(radius / 2))
    return Image.composite(smooth, img, mask)


def _cover(img: Image.Image, w: int, h: int, rng: random.Random) -> Image.Image:
    """A random window of ``img`` with the aspect of w x h, resized to fill w x h."""
    iw, ih = img.size
    share = rng.uniform(0.5, 1.0)
    if iw / ih > w / h:
        ch = max(1, round(ih * share))
        cw = max(1, min(iw, round(ch * w / h)))
    else:
        cw = max(1, round(iw * share))
        ch = max(1, min(ih, round(cw * h / w)))
    x0, y0 = rng.randint(0, iw - cw), rng.randint(0, ih - ch)
    return img.crop((x0, y0, x0 + cw, y0 + ch)).resize((w, h), Image.BILINEAR)


def background(photo: Callable[[], Image.Image], w: int, h: int, rng: random.Random) -> Image.Image:
    """A ``w`` x ``h`` picture tiled from digit-free photos: one, a pair, or a grid.

    ``photo()`` gives the next photo; it is called once per tile, so only what is shown is read.
    """
    layout = rng.choices(((1, 1), (2, 1), (1, 2), (2, 2)), weights=(50, 20, 15, 15))[0]
    cols, rows = layout
    canvas = Image.new("RGB", (w, h))
    xs = [round(i * w / cols) for i in range(cols + 1)]
    ys = [round(j * h / rows) for j in range(rows + 1)]
    for j in range(rows):
        for i in range(cols):
            cw, ch = xs[i + 1] - xs[i], ys[j + 1] - ys[j]
            if cw > 0 and ch > 0:
                canvas.paste(_cover(photo(), cw, ch, rng), (xs[i], ys[j]))
    return canvas


def _feather_mask(w: int, h: int, width: float) -> Image.Image:
    """Opaque in the middle, fading to transparent over ``width`` pixels at the edges."""
    ramp_x = np.minimum(np.arange(w) + 0.5, w - np.arange(w) - 0.5) / max(width, 1e-6)
    ramp_y = np.minimum(np.arange(h) + 0.5, h - np.arange(h) - 0.5) / max(width, 1e-6)
    alpha = np.clip(np.minimum(ramp_y[:, None], ramp_x[None, :]), 0.0, 1.0)
    return Image.fromarray((alpha * 255).astype(np.uint8), "L")


def compose_scene(
    img: Image.Image,
    boxes: np.ndarray,
    labels: np.ndarray,
    photo: Callable[[], Image.Image],
    rng: random.Random,
    spec: SceneSpec,
) -> tuple[Image.Image, np.ndarray, np.ndarray] | None:
    """Place a number photo into a larger scene tiled from ``photo()`` (digit-free backgrounds).

    The result is already at model-input scale: its digits are ``spec.digit_px`` tall and its
    sides within ``spec.max_width`` x ``spec.max_height``. Returns (image, xyxy
    boxes, labels), or None for a photo without digits. The number is pasted whole, so every
    box still frames its digit.
    """
    if not len(boxes):
        return None
    heights = boxes[:, 3] - boxes[:, 1]
    dh = float(np.median(heights))
    if dh < 1:
        return None
    lo, hi = spec.digit_px
    f = math.exp(rng.uniform(math.log(lo), math.log(hi))) / dh
    # the number and its own surroundings must fit the scene with room to spare
    room = spec.spread[0]
    f = min(f, spec.max_width / room / img.width, spec.max_height / room / img.height)
    cw, ch = max(1, round(img.width * f)), max(1, round(img.height * f))
    sx, sy = cw / img.width, ch / img.height

    def side(n: int, most: int) -> int:
        return max(n, min(most, max(spec.min_side, round(n * rng.uniform(*spec.spread)))))

    w, h = side(cw, spec.max_width), side(ch, spec.max_height)
    canvas = background(photo, w, h, rng)
    number = img.resize((cw, ch), Image.BILINEAR)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    out = boxes.astype(np.float32) * np.array([sx, sy, sx, sy], np.float32)
    if rng.random() < spec.feather:
        # fade only the margin outside the digits, so no digit pixel is blended away
        margin = min(
            float(out[:, 0].min()),
            float(out[:, 1].min()),
            cw - float(out[:, 2].max()),
            ch - float(out[:, 3].max()),
        )
        canvas.paste(number, (x, y), _feather_mask(cw, ch, max(0.0, margin) * rng.uniform(0.4, 1.0)))
    else:
        canvas.paste(number, (x, y))
    out += np.array([x, y, x, y], np.float32)
    return canvas, out, labels.copy()
