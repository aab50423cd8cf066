"""Printed numbers as people photograph them: race bibs, plates, stickers, labels and meters.

Each sample is a printed number (1-6 digits) in one of the fonts shipped with the package, set
the way such numbers are set: letters stuck to it that are not digits ("S0374", "No 12",
"12B"), names and sponsor text above and below, barcodes and logos around it, on a bib, plate,
sticker or meter window laid on a real photo (a training photo with its digits painted over)
or a drawn background. Then the camera: perspective, the curve of cloth, shadows, low
resolution, blur, noise, JPEG, inverted contrast. Only the digits of the number are labelled,
and every box comes from that digit's own ink mask carried through every geometric step.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from .paths import FONTS_DIR
from .synth import _background, _perspective_coeffs, ink_box, noise_and_jpeg

log = logging.getLogger(__name__)

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# letters people mistake for digits come up more often: the reader must learn they are not
CONFUSABLE = "SOIBZGTDQLA"
SUFFIXES = ("A", "B", "C", "a", "b", "kg", "km", "m", "V", "kWh", "K", "F")
PREFIXES = ("No", "No.", "#", "Nr", "N°", "Apt", "ID")
# Text labels (class TEXT of a model with a text class): every letter of the number's own row,
# and the first characters of each line of small words, when drawn at least this big.
TEXT = 10
TEXT_PER_LINE = 10
TEXT_MIN_SIZE = 10
SYLLABLES = (
    "chan wai kit ma lee ho ng tan ka man ling an ro sa mi ko de la ver son ber ti na jo el "
    "mar tin ra fa ek yu shi wong chu fung lau kam sun ye cho pe ru ga li"
).split()
SPONSOR = (
    "RUN MARATHON CITY TRAIL SPORTS ENERGY WATER BANK HALF FINISH START CLUB TEAM OPEN RACE "
    "CHARITY NIGHT FUN NORTH WEST EAST SOUTH GROUP POWER FRESH LIFE MOTORS TELECOM KEEP"
).split()


@dataclass(frozen=True)
class PrintedFont:
    path: str
    letters: bool  # whether its letters are drawn as letters (segment fonts draw an S as a 5)
    segments: bool


def _distinct_digits(font: ImageFont.FreeTypeFont) -> bool:
    """Whether the font draws ten different digit shapes (a font without digits draws ten
    identical 'missing glyph' boxes)."""
    shapes = {bytes(font.getmask(str(d))) for d in range(10)}
    return len(shapes) >= 9


@lru_cache(maxsize=4)
def printed_fonts(folder: str | None = None) -> tuple[PrintedFont, ...]:
    """Every readable font in ``folder`` (the package's fonts by default), checked once.

    A file that cannot be read, or draws no digits, is skipped with a warning naming it.
    """
    root = Path(folder) if folder else FONTS_DIR
    out = []
    for path in sorted(p for p in root.iterdir() if p.suffix.lower() in (".ttf", ".otf")):
        try:
            font = ImageFont.truetype(str(path), 32)
            if not _distinct_digits(font):
                log.warning("font %s draws no digits; skipped", path.name)
                continue
        except (OSError, ValueError) as e:
            log.warning("font %s cannot be read (%s); skipped", path.name, e)
            continue
        seg = path.name.upper().startswith("DSEG")
        out.append(PrintedFont(str(path), letters=not seg, segments=seg))
    return tuple(out)


def _word(rng: random.Random, upper: bool) -> str:
    if upper or rng.random() < 0.3:
        return rng.choice(SPONSOR) if rng.random() < 0.6 else "".join(rng.choices(UPPER, k=rng.randint(2, 7)))
    w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 2)))
    return w.capitalize()


def _text(rng: random.Random, upper: bool) -> str:
    return " ".join(_word(rng, upper) for _ in range(rng.randint(1, 3)))


def _colour(rng: random.Random, dark: bool | None = None) -> tuple[int, int, int]:
    if dark is None:
        return tuple(rng.randrange(256) for _ in range(3))
    lo, hi = (0, 90) if dark else (170, 256)
    base = rng.randrange(lo, hi)
    return tuple(int(min(255, max(0, base + rng.randint(-40, 40)))) for _ in range(3))


@dataclass
class _Line:
    """A row of characters; digits of the number carry their index for their mask."""

    chars: list[tuple[str, int | None]]  # (char, index of the digit in the number or None)
    font: ImageFont.FreeTypeFont
    other_font: ImageFont.FreeTypeFont  # for letters when the number's font has none
    tracking: float

    def advance(self, ch: str, is_digit: bool) -> float:
        f = self.font if is_digit or ch == " " else self.other_font
        return f.getlength(ch) + self.tracking

    def width(self) -> float:
        return sum(self.advance(c, i is not None) for c, i in self.chars) - self.tracking


def _number_line(rng, digits: str, kind: str, font, other_font, size: int) -> _Line:
    chars: list[tuple[str, int | None]] = [(d, k) for k, d in enumerate(digits)]
    p_prefix = {"bib": 0.8, "label": 0.5, "plate": 0.5}.get(kind, 0.3)
    if rng.random() < p_prefix:
        r = rng.random()
        if r < 0.75:  # a letter or two (a bib's start wave, a series), or a plate's letter group
            pool = CONFUSABLE if rng.random() < 0.5 else UPPER
            k = rng.choices((1, 2, 3), weights=(75, 15, 10))[0]
            pre = "".join(rng.choice(pool) for _ in range(k)) + (" " if k > 1 and rng.random() < 0.5 else "")
        else:
            pre = rng.choice(PREFIXES) + (" " if rng.random() < 0.6 else "")
        if rng.random() < 0.15:
            pre += "-"
        chars = [(c, None) for c in pre] + chars
    if rng.random() < (0.2 if kind in ("plate", "label") else 0.08):
        suf = ("" if rng.random() < 0.6 else " ") + rng.choice(SUFFIXES)
        chars += [(c, None) for c in suf]
    tracking = rng.uniform(-0.04, 0.25) * size
    if kind == "meter":
        tracking = rng.uniform(0.1, 0.45) * size
    return _Line(chars, font, other_font, tracking)


def _draw_line(
    img, masks, line: _Line, x: float, baseline: float, ink, stroke: int, letters: list | None = None
) -> None:
    """Draw the number's row; each digit's ink goes to its mask, and with ``letters`` each other
    character's (a letter, "#") to a mask of its own appended there."""
    draw = ImageDraw.Draw(img)
    for ch, idx in line.chars:
        is_digit = idx is not None
        f = line.font if is_digit else line.other_font
        if ch != " ":
            draw.text((x, baseline), ch, font=f, fill=ink, anchor="ls", stroke_width=stroke, stroke_fill=ink)
            if is_digit or (letters is not None and _is_text(ch)):
                m = masks[idx] if is_digit else _new_mask(img, letters)
                ImageDraw.Draw(m).text(
                    (x, baseline), ch, font=f, fill=255, anchor="ls", stroke_width=stroke, stroke_fill=255
                )
        x += line.advance(ch, is_digit)


# Letters many fonts draw exactly like 1 and 0: labelled as text they would teach the model that
# a plain bar or ring may be text, and real 1s and 0s would lose to it. They stay unlabelled.
LIKE_DIGITS = frozenset("IlOo|")


def _is_text(ch: str) -> bool:
    """Characters labelled as text: letters and "#" (not punctuation, whose tiny boxes teach
    nothing, nor :data:`LIKE_DIGITS`)."""
    return (ch.isalnum() or ch == "#") and ch not in LIKE_DIGITS and not ch.isdigit()


def _new_mask(img: Image.Image, masks: list) -> Image.Image:
    m = Image.new("L", img.size, 0)
    masks.append(m)
    return m


def _small_text(img, rng, fonts, x0, y0, width, height, colour, letters: list | None = None) -> None:
    """A line of words (names, sponsors), never digits, fitted into a box; with ``letters``, masks
    of its first :data:`TEXT_PER_LINE` characters are appended there."""
    if height < 5 or width < 10:
        return
    pf = rng.choice([f for f in fonts if f.letters])
    size = max(6, int(height * rng.uniform(0.6, 0.95)))
    font = ImageFont.truetype(pf.path, size)
    text = _text(rng, upper=rng.random() < 0.5)
    while len(text) > 1 and font.getlength(text) > width:
        text = text[:-1].rstrip()
    tw = font.getlength(text)
    x = x0 + max(0.0, (width - tw)) * rng.choice([0.0, 0.5, 0.5, 1.0])
    ImageDraw.Draw(img).text((x, y0 + height * 0.85), text, font=font, fill=colour, anchor="ls")
    if letters is None or size < TEXT_MIN_SIZE:
        return
    labelled = 0
    for k, ch in enumerate(text):
        if labelled == TEXT_PER_LINE:
            break
        if _is_text(ch):
            at = (x + font.getlength(text[:k]), y0 + height * 0.85)
            ImageDraw.Draw(_new_mask(img, letters)).text(at, ch, font=font, fill=255, anchor="ls")
            labelled += 1


def _clutter(img, rng, box, n: int) -> None:
    """Logos, dots, pin holes and barcodes: shapes that are not digits."""
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    w, h = max(2, x1 - x0), max(2, y1 - y0)
    for _ in range(n):
        c = _colour(rng)
        cx, cy = x0 + rng.random() * w, y0 + rng.random() * h
        r = rng.uniform(0.03, 0.18) * min(w, h) + 1
        k = rng.random()
        if k < 0.3:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=c if rng.random() < 0.5 else None, outline=c)
        elif k < 0.55:
            pts = [
                (cx + r * math.cos(a), cy + r * math.sin(a))
                for a in np.linspace(0, 2 * math.pi, rng.randint(3, 7))
            ]
            d.polygon(pts, fill=c)
        elif k < 0.75:  # a barcode
            bx, bh = cx, r * rng.uniform(1.0, 2.5)
            for _ in range(rng.randint(12, 30)):
                bw = rng.choice([1, 1, 2, 3])
                d.rectangle([bx, cy, bx + bw, cy + bh], fill=(20, 20, 20))
                bx += bw + rng.choice([1, 1, 2, 3])
        else:
            d.line([(cx - r, cy), (cx + r * 2, cy + rng.uniform(-r, r))], fill=c, width=rng.randint(1, 4))


def _mesh_warp(images: list[Image.Image], amp: float, period: float, phase: float) -> list[Image.Image]:
    """The curve of cloth: columns shifted up and down along a sine wave (boxes follow their masks)."""
    w, h = images[0].size
    strips = max(4, w // 6)
    data = []
    for i in range(strips):
        xa, xb = round(i * w / strips), round((i + 1) * w / strips)
        ya = amp * math.sin(2 * math.pi * xa / period + phase)
        yb = amp * math.sin(2 * math.pi * xb / period + phase)
        data.append(((xa, 0, xb, h), (xa, ya, xa, h + ya, xb, h + yb, xb, yb)))
    return [im.transform((w, h), Image.MESH, data, Image.BILINEAR) for im in images]


def _perspective(images: list[Image.Image], rng: random.Random, j: float, fill) -> list[Image.Image]:
    w, h = images[0].size
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    src = [(px + rng.uniform(-j, j) * w * 0.5, py + rng.uniform(-j, j) * h) for px, py in dst]
    # a roll of the camera: small mostly, now and then as much as a runner's bib tilts
    rot = rng.uniform(-0.12, 0.12) if rng.random() < 0.75 else rng.uniform(-0.3, 0.3)
    cx, cy = w / 2, h / 2
    src = [
        (
            cx + (x - cx) * math.cos(rot) - (y - cy) * math.sin(rot),
            cy + (x - cx) * math.sin(rot) + (y - cy) * math.cos(rot),
        )
        for x, y in src
    ]
    c = _perspective_coeffs(src, dst)
    out = [images[0].transform((w, h), Image.PERSPECTIVE, c, Image.BILINEAR, fillcolor=fill)]
    return out + [m.transform((w, h), Image.PERSPECTIVE, c, Image.BILINEAR) for m in images[1:]]


def _shadow(img: Image.Image, rng: random.Random) -> Image.Image:
    w, h = img.size
    mask = Image.new("L", (w, h), 0)
    pts = [(rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h) for _ in range(rng.randint(3, 5))]
    ImageDraw.Draw(mask).polygon(pts, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(1, 0.2 * max(w, h) + 1)))
    dark = img.point(lambda v, k=rng.uniform(0.35, 0.75): int(v * k))
    return Image.composite(dark, img, mask)


def _card(rng, kind: str, fonts, pf: PrintedFont, digits: str, letters: list | None = None):
    """The printed object, flat: (image, digit masks, digit height); ``letters`` gets text masks."""
    size = int(math.exp(rng.uniform(math.log(24), math.log(96))))
    font = ImageFont.truetype(pf.path, size)
    other = font if pf.letters else ImageFont.truetype(rng.choice([f for f in fonts if f.letters]).path, size)
    line = _number_line(rng, digits, kind, font, other, size)
    asc, desc = font.getmetrics()
    cap = font.getbbox("0", anchor="ls")
    digit_h = max(4, -cap[1])
    line_w = line.width()
    pad_x = rng.uniform(0.15, 0.9) * digit_h
    above = (
        rng.uniform(0.1, 1.1) * digit_h
        if kind in ("bib", "label", "plate")
        else rng.uniform(0.1, 0.5) * digit_h
    )
    below = rng.uniform(0.1, 0.9) * digit_h if kind in ("bib", "label") else rng.uniform(0.1, 0.4) * digit_h
    w = int(line_w + 2 * pad_x) + 2
    h = int(above + digit_h + below) + 2
    invert = rng.random() < (0.55 if kind in ("bib", "meter") else 0.3)
    paper = _colour(rng, dark=invert) if rng.random() < 0.7 else _colour(rng)
    ink = _colour(rng, dark=not invert)
    if kind == "meter" and rng.random() < 0.6:  # an LCD window
        paper = tuple(int(v) for v in np.array([150, 170, 130]) + rng.randint(-30, 30))
        ink = (25, 30, 25)
    img = Image.new("RGB", (w, h), paper)
    masks = [Image.new("L", (w, h), 0) for _ in digits]
    draw = ImageDraw.Draw(img)
    if kind == "bib" and rng.random() < 0.7:  # a coloured band behind the number, the sheet around it
        sheet = _colour(rng, dark=False) if invert else _colour(rng)
        img.paste(sheet, (0, 0, w, h))
        draw.rectangle([0, above * rng.uniform(0.3, 0.9), w, h - below * rng.uniform(0.3, 0.9)], fill=paper)
    if rng.random() < 0.4:
        draw.rounded_rectangle(
            [1, 1, w - 2, h - 2], radius=rng.randint(0, 8), outline=_colour(rng), width=rng.randint(1, 3)
        )
    if kind == "meter" and rng.random() < 0.5:  # counter wheels: one cell per digit
        x = pad_x
        for ch, idx in line.chars:
            adv = line.advance(ch, idx is not None)
            if idx is not None:
                draw.rectangle(
                    [
                        x - 0.1 * line.tracking,
                        above - 0.15 * digit_h,
                        x + adv - 0.9 * line.tracking,
                        above + 1.15 * digit_h,
                    ],
                    outline=_colour(rng),
                    width=1,
                )
            x += adv
    stroke = rng.choice([0, 0, 0, 1]) if size > 40 else 0
    baseline = above + digit_h
    _draw_line(img, masks, line, pad_x, baseline, ink, stroke, letters)
    text_ink = ink if rng.random() < 0.6 else _colour(rng)
    if above > 0.35 * digit_h and rng.random() < 0.8:
        _small_text(img, rng, fonts, 2, 1, w - 4, above * 0.8, text_ink, letters)
    if below > 0.3 * digit_h and rng.random() < 0.8:
        _small_text(img, rng, fonts, 2, baseline + 0.1 * below, w - 4, below * 0.85, text_ink, letters)
    if rng.random() < 0.5:
        _clutter(img, rng, (0, 0, w, max(2, above)), rng.randint(1, 4))
    return img, masks, digit_h


def _in_surroundings(rng, card: Image.Image, masks: list, photo, kind: str, digit_h: int):
    """The card pasted into a photo or a plain background, curved and seen at an angle, with
    a shadow: (image, masks moved with it)."""
    cw, ch = card.size
    # the object in its surroundings
    W, H = int(cw * rng.uniform(1.05, 1.9)), int(ch * rng.uniform(1.05, 2.2))
    if photo is not None and rng.random() < 0.7:
        from .scenes import _cover

        canvas = _cover(photo(), W, H, rng)
    else:
        canvas = _background(rng, W, H)
    ox, oy = rng.randint(0, W - cw), rng.randint(0, H - ch)
    canvas.paste(card, (ox, oy))
    full = []
    for m in masks:
        big = Image.new("L", (W, H), 0)
        big.paste(m, (ox, oy))
        full.append(big)
    layers = [canvas] + full
    if rng.random() < (0.5 if kind == "bib" else 0.15):
        layers = _mesh_warp(
            layers, rng.uniform(0.02, 0.12) * digit_h * 2, rng.uniform(0.6, 2.5) * W, rng.uniform(0, 6.3)
        )
    if rng.random() < 0.75:
        layers = _perspective(layers, rng, rng.uniform(0.03, 0.16), canvas.getpixel((0, 0)))
    img, masks = layers[0], layers[1:]
    if rng.random() < 0.3:
        img = _shadow(img, rng)
    return img, masks


def _motion_blur(img: Image.Image, length: float, angle: float) -> Image.Image:
    """A straight streak of ``length`` px at ``angle`` (radians): the mean of shifted copies."""
    arr = np.asarray(img, np.float32)
    n = max(2, round(length))
    pad = n // 2 + 1
    padded = np.pad(arr, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w = arr.shape[:2]
    acc = np.zeros_like(arr)
    for t in np.linspace(-length / 2, length / 2, n):
        dx, dy = round(t * math.cos(angle)), round(t * math.sin(angle))
        acc += padded[pad + dy : pad + dy + h, pad + dx : pad + dx + w]
    return Image.fromarray(np.clip(acc / n, 0, 255).astype(np.uint8), "RGB")


def _camera_blur(img: Image.Image, rng: random.Random, digit_px: float) -> Image.Image:
    """Blur as cameras leave it on bibs and signs: a little, or out of focus or moving, which
    grows with the digits (up to about a seventh of their height)."""
    r = rng.random()
    if r < 0.3:
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.2)))
    if r < 0.5:
        return img.filter(ImageFilter.GaussianBlur(max(0.3, rng.uniform(0.03, 0.14) * digit_px)))
    if r < 0.62:
        length = max(2.0, rng.uniform(0.05, 0.25) * digit_px)
        return _motion_blur(img, length, rng.uniform(0, math.pi))
    return img


def frame(boxes: list, margins: list[float], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop around xywh digit ``boxes``: ``margins`` (left, top, right, bottom) in digit
    heights, negative ones cutting into the outer digits; inside an image of ``size``. None when
    too little is left (a narrow number cut at both ends, a number outside the image)."""
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    dh = y1 - y0
    crop = (
        max(0, int(x0 - margins[0] * dh)),
        max(0, int(y0 - margins[1] * dh)),
        min(size[0], int(x1 + margins[2] * dh) + 1),
        min(size[1], int(y1 + margins[3] * dh) + 1),
    )
    return crop if crop[2] - crop[0] >= 4 and crop[3] - crop[1] >= 4 else None


def render_printed(
    rng: random.Random,
    photo: Callable[[], Image.Image] | None = None,
    fonts: tuple[PrintedFont, ...] | None = None,
    text: bool = False,
) -> tuple[Image.Image, list[tuple[list[float], int]]]:
    """One printed-number photo and its ``([x, y, w, h], digit)`` boxes.

    ``photo()``, when given, returns a digit-free real photo to lay the printed object on. With
    ``text`` the letters around the number come too, as boxes of class :data:`TEXT`; the image
    and its digit boxes are the same either way (``text`` draws no random numbers).
    """
    fonts = fonts or printed_fonts()
    kind = rng.choices(("bib", "plate", "label", "meter", "plain"), weights=(35, 20, 20, 10, 15))[0]
    segs = [f for f in fonts if f.segments]
    pf = rng.choice(segs) if kind == "meter" and segs and rng.random() < 0.7 else rng.choice(fonts)
    n = rng.choices((1, 2, 3, 4, 5, 6), weights=(8, 15, 22, 30, 15, 10))[0]
    digits = "".join(str(rng.randrange(10)) for _ in range(n))
    letters: list | None = [] if text else None
    card, masks, digit_h = _card(rng, kind, fonts, pf, digits, letters)
    n_digits = len(masks)
    img, masks = _in_surroundings(rng, card, masks + (letters or []), photo, kind, digit_h)
    # crop around the number, as a person or a detector frames it
    boxes = [ink_box(m) for m in masks[:n_digits]]
    if any(b is None for b in boxes):
        return render_printed(rng, photo, fonts, text)
    dh = max(b[1] + b[3] for b in boxes) - min(b[1] for b in boxes)
    margins = [rng.uniform(0.1, 1.6), rng.uniform(0.1, 1.3), rng.uniform(0.1, 1.6), rng.uniform(0.1, 1.3)]
    if rng.random() < 0.45:  # framed tight: the number touches an edge, its outer digit cut (up
        # to about half its width, as crops of bibs and labels cut it), now and then both ends
        for side in {rng.choice((0, 2, 2)), rng.choice((0, 2, 2, 2, 2, 2))}:
            margins[side] = rng.uniform(-0.3, 0.03)
    crop = frame(boxes, margins, img.size)
    if crop is None:
        return render_printed(rng, photo, fonts, text)
    img, masks = img.crop(crop), [m.crop(crop) for m in masks]
    # the camera: the digits end up 7-60 px tall
    target = math.exp(rng.uniform(math.log(7), math.log(60)))
    s = min(1.0, target / max(1, dh))
    if s < 1.0:
        size = (max(8, round(img.width * s)), max(8, round(img.height * s)))
        img = img.resize(size, Image.BILINEAR if rng.random() < 0.5 else Image.BOX)
        masks = [m.resize(size, Image.BILINEAR) for m in masks]
    img = _camera_blur(img, rng, dh * s)
    if rng.random() < 0.1:
        img = ImageOps.grayscale(img).convert("RGB")
    img = noise_and_jpeg(img, rng, noise=(0.5, 12.0), jpeg=(0.5, 20, 90))
    out = []
    for d, m in zip(digits, masks):
        bb = ink_box(m)
        if bb is None:  # a digit blurred below the mask threshold is still there: start again
            return render_printed(rng, photo, fonts, text)
        out.append((bb, int(d)))
    for m in masks[n_digits:]:  # letters cropped away or blurred out are simply gone
        bb = ink_box(m)
        if bb is not None and bb[2] >= 2 and bb[3] >= 3:
            out.append((bb, TEXT))
    return img, out
