"""labelme JSON, one file per image: rectangles (two corner points) labelled "0".."9".

Written as labelme 5 writes it (``version``, ``flags``, ``shapes`` with ``label``, ``points``,
``group_id``, ``description``, ``shape_type``, ``flags``, ``mask``; ``imagePath`` relative to the
JSON file; ``imageData: null``; ``imageHeight``/``imageWidth``; indent 2). An embedded image
(``imageData``) is not decoded: the image file beside it is what the boxes are read against, and
the sizes must agree.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection
from pathlib import Path

from ..imageio import Listing, upright_boxes
from .common import ImageFolder, LabelSet, digit_of, line_of, place_box, reviewed_ids

LABELME_VERSION = "5.4.1"


def read_labelme(label_dir: str | Path, images_dir: str | Path, listing: Listing | None = None) -> LabelSet:
    """Every labelme ``<stem>.json`` in ``label_dir`` whose image is in ``images_dir``."""
    folder = ImageFolder(images_dir, listing)
    warnings: list[str] = []
    other: Counter = Counter()
    records = []
    for img, f in folder.label_files(Path(label_dir), ".json", warnings):
        rec = _read_one(folder, img, f, warnings, other)
        if rec is not None:
            records.append(rec)
    return LabelSet(records, warnings, Path(label_dir), "labelme", other)


def _key_line(text: str, key: str, nth: int = 0) -> int:
    """Line of the ``nth`` occurrence of ``"key":`` in the JSON text (0 when not found)."""
    for i, m in enumerate(re.finditer(rf'"{re.escape(key)}"\s*:', text)):
        if i == nth:
            return line_of(text, m.start())
    return 0


def _read_one(folder: ImageFolder, img: Path, f: Path, warnings: list[str], other: Counter):
    try:
        text = f.read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        warnings.append(f"{f}: cannot be read ({exc.strerror or exc}); file skipped")
        return None
    except UnicodeDecodeError as exc:
        warnings.append(f"{f}: not UTF-8 text ({exc}); file skipped")
        return None
    except json.JSONDecodeError as exc:
        warnings.append(f"{f}:{exc.lineno}: not valid JSON ({exc.msg}); file skipped")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        warnings.append(f"{f}:1: not a labelme file (no 'shapes' list); file skipped")
        return None
    if data.get("imageData"):
        warnings.append(
            f"{f}:{_key_line(text, 'imageData')}: embedded image (imageData) not decoded, the boxes are "
            f"read against {img.name}; ignored"
        )
    where = f"{f}:{_key_line(text, 'imageWidth') or 1}"
    fit = folder.upright(img, f, _size(data), where, "imageWidth/imageHeight", warnings, False)
    if fit is None:
        return None
    size, stored, orient = fit
    boxes, labels = [], []
    for i, shape in enumerate(data["shapes"]):
        where = f"{f}:{_key_line(text, 'points', i) or _key_line(text, 'shapes')}"
        if not isinstance(shape, dict):
            warnings.append(f"{where}: shapes[{i}] is not an object; dropped")
            continue
        label = str(shape.get("label", "")).strip()
        digit = digit_of(label)
        if digit is None:
            other[label] += 1
            continue
        kind = shape.get("shape_type") or "rectangle"
        pts = shape.get("points")
        if kind != "rectangle":
            warnings.append(f"{where}: shapes[{i}] is a {kind}, not a rectangle; dropped")
            continue
        try:
            (ax, ay), (bx, by) = ((float(p[0]), float(p[1])) for p in pts)
        except (TypeError, ValueError, IndexError):
            warnings.append(f"{where}: shapes[{i}] needs two [x, y] points; dropped")
            continue
        box = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
        placed = place_box(box, stored if orient != 1 else size, where, warnings)
        if placed is not None:
            boxes.append(placed)
            labels.append(digit + 1)
    if orient != 1:
        boxes = upright_boxes(boxes, stored, orient)
    return folder.record(img, size, boxes, labels, data.get("checked") is True)  # X-AnyLabeling's mark


def _size(data: dict) -> tuple[int, int] | None:
    try:
        w, h = int(data["imageWidth"]), int(data["imageHeight"])
    except (KeyError, TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def labelme_dict(
    image_rel: str, width: int, height: int, objects: list[tuple[str, tuple]], checked: bool = False
) -> dict:
    """One labelme file's content; ``objects`` are (label, (x1, y1, x2, y2)) in pixels; ``checked``
    adds X-AnyLabeling's ``"checked": true`` mark of a reviewed image."""
    shapes = [
        {
            "label": name,
            "points": [
                [round(float(x1), 2), round(float(y1), 2)],
                [round(float(x2), 2), round(float(y2), 2)],
            ],
            "group_id": None,
            "description": "",
            "shape_type": "rectangle",
            "flags": {},
            "mask": None,
        }
        for name, (x1, y1, x2, y2) in objects
    ]
    out = {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image_rel,
        "imageData": None,
        "imageHeight": int(height),
        "imageWidth": int(width),
    }
    if checked:
        out["checked"] = True
    return out


def labelme_texts(
    coco: dict, images_dir: Path, out_dir: Path, reviewed: bool | Collection[int] = False
) -> dict[str, str]:
    """``{<stem>.json: text}`` for every image of a COCO ground-truth dict; ``imagePath`` is the
    image's path relative to ``out_dir`` (where the JSON files go), as labelme stores it."""
    by_image: dict[int, list] = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        by_image.setdefault(a["image_id"], []).append((str(a["category_id"] - 1), (x, y, x + w, y + h)))
    out = {}
    checked = reviewed_ids(coco, reviewed)
    base = Path(images_dir).resolve()
    for im in coco["images"]:
        path = Path(os.path.normpath(base / im["file_name"]))
        try:
            rel = Path(os.path.relpath(path, Path(out_dir).resolve())).as_posix()
        except ValueError:  # another drive
            rel = str(path)
        d = labelme_dict(rel, im["width"], im["height"], by_image.get(im["id"], []), im["id"] in checked)
        out[f"{path.stem}.json"] = json.dumps(d, ensure_ascii=False, indent=2) + "\n"
    return out
