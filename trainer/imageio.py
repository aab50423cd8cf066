"""Image decoding and folder listing shared by the engine and the app (no torch here)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")

_NUM_RE = re.compile(r"(\d+)")


def natural_key(name: str) -> list:
    """Sort key that orders "2.png" before "10.png"."""
    parts = _NUM_RE.split(name.lower())  # the digit runs are every second part
    parts[1::2] = map(int, parts[1::2])
    return parts


def name_suffix(name: str) -> str:
    """The suffix of a file name as ``Path.suffix`` gives it ("a.PNG" -> ".PNG", ".png" -> "")."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def name_stem(name: str) -> str:
    """The stem of a file name as ``Path.stem`` gives it ("a.b.png" -> "a.b", ".png" -> ".png")."""
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


class Listing:
    """The files directly inside folders, each folder read in one ``os.scandir`` pass and kept.

    One is made for one open of a folder and handed to everything that looks into it (the image
    list, the search for label files, the label readers), so the folder is listed once however
    many look. Make a new one to see later changes on disk.
    """

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, ...]] = {}
        self._images: dict[str, list[str]] = {}

    @staticmethod
    def _key(folder: str | Path) -> str:
        return os.path.realpath(folder)

    def files(self, folder: str | Path) -> tuple[str, ...]:
        """Names of the files (or links to files) directly inside ``folder``, in directory order.
        Raises ``OSError`` when the folder cannot be read."""
        key = self._key(folder)
        names = self._files.get(key)
        if names is None:
            with os.scandir(key) as it:
                names = tuple(e.name for e in it if e.is_file())
            self._files[key] = names
        return names

    def image_names(self, folder: str | Path) -> list[str]:
        """Names of the image files directly inside ``folder``, in natural order (a new list)."""
        key = self._key(folder)
        names = self._images.get(key)
        if names is None:
            names = [n for n in self.files(key) if name_suffix(n).lower() in IMAGE_SUFFIXES]
            names.sort(key=natural_key)
            self._images[key] = names
        return list(names)


def list_images(folder: str | Path, listing: Listing | None = None) -> list[Path]:
    """Image files directly inside ``folder``, in natural order. Does not open them.

    ``listing`` reads the folder once for every caller that shares it (:class:`Listing`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    names = (listing or Listing()).image_names(folder)
    return [folder / n for n in names]


def leading_id(name: str) -> int | None:
    """The image id a dataset file name carries: its leading digits ("123.png" -> 123)."""
    m = _NUM_RE.match(name_stem(os.path.basename(name)))
    return int(m.group(1)) if m else None


def assign_ids(paths: list[Path], known: dict[str, int] | None = None) -> dict[Path, int]:
    """Stable image ids: the id ``known`` gives the file name (from a COCO file), else the leading
    number of the file name, else a fresh id past the largest.

    Files without a number (or with a number already taken) get ids in natural name order,
    so the mapping is the same every run for the same folder.
    """
    known = known or {}
    ids: dict[Path, int] = {}
    taken: set[int] = set(known.values())
    rest: list[Path] = []
    for p in paths:
        name = p.name
        if name in known:
            ids[p] = known[name]
            continue
        n = leading_id(name)
        if n is not None and n not in taken:
            ids[p] = n
            taken.add(n)
        else:
            rest.append(p)
    nxt = max(taken, default=0) + 1
    for p in rest:
        ids[p] = nxt
        nxt += 1
    return ids


def load_rgb(path: str | Path) -> Image.Image:
    """Decode any image as 8-bit RGB in the orientation a viewer shows (EXIF applied).

    Handles grayscale, RGBA/LA (composited on white), palette and 16-bit images.
    Raises ``OSError``/``UnidentifiedImageError`` for unreadable files.
    """
    with Image.open(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        return to_rgb(im)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert a decoded PIL image of any mode to 8-bit RGB."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


def load_rgb_reduced(path: str | Path, max_pixels: int) -> tuple[Image.Image, tuple[int, int]]:
    """Decode for display: RGB with at most about ``max_pixels`` pixels, EXIF orientation applied.

    Returns (image, (width, height) of the full image as shown). A JPEG is decoded reduced
    (``draft``), so a 100-megapixel photo never exists in memory at full size; other formats are
    decoded whole and then scaled down. Raises like :func:`load_rgb` (``READ_ERRORS``).
    """
    with Image.open(path) as im:
        w, h = im.size
        swap = _orientation(im) in (5, 6, 7, 8)
        if w * h > max_pixels:
            s = (max_pixels / float(w * h)) ** 0.5
            im.thumbnail(
                (max(1, int(w * s)), max(1, int(h * s))), Image.Resampling.BILINEAR, reducing_gap=2.0
            )
        else:
            im.load()
        small = to_rgb(ImageOps.exif_transpose(im))
    return small, ((h, w) if swap else (w, h))


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF must not hide the image
        return 1


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) as shown to the user (EXIF rotation applied), reading only the header."""
    with Image.open(path) as im:
        w, h = im.size
        orient = _orientation(im)
    return (h, w) if orient in (5, 6, 7, 8) else (w, h)


def stored_size(path: str | Path) -> tuple[tuple[int, int], int]:
    """((width, height) of the pixels as stored, EXIF orientation 1..8), reading only the header.

    Tools that ignore EXIF (labelImg) draw boxes on the stored pixels; the app shows the image as
    :func:`image_size` says, turned by the orientation (:func:`upright_boxes` maps between them).
    """
    with Image.open(path) as im:
        size = im.size
        orient = _orientation(im)
    return size, orient if 1 <= orient <= 8 else 1


def upright_boxes(boxes: np.ndarray, stored: tuple[int, int], orientation: int) -> np.ndarray:
    """xyxy boxes on an image's stored pixels (``stored`` = (width, height)) -> the same boxes on the
    image as shown, after the EXIF ``orientation`` is applied (as ``ImageOps.exif_transpose`` does)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w, h = stored
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    mapped = {
        1: (x1, y1, x2, y2),
        2: (w - x2, y1, w - x1, y2),  # mirrored left-right
        3: (w - x2, h - y2, w - x1, h - y1),  # turned 180 degrees
        4: (x1, h - y2, x2, h - y1),  # mirrored top-bottom
        5: (y1, x1, y2, x2),  # transposed
        6: (h - y2, x1, h - y1, x2),  # turned 90 degrees clockwise
        7: (h - y2, w - x2, h - y1, w - x1),  # transversed
        8: (y1, w - x2, y2, w - x1),  # turned 90 degrees counter-clockwise
    }[orientation if orientation in range(1, 9) else 1]
    return np.stack(mapped, axis=1).astype(np.float32)


READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError)
