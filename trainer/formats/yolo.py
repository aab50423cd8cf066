"""YOLO txt labels: one ``<stem>.txt`` per image, ``class x_center y_center width height`` per line,
normalised by the image size; class names in ``classes.txt`` (labelImg) or ``data.yaml`` (Ultralytics).

Written with class index = digit and a ``classes.txt`` naming "0".."9". The image size comes from the
image header (read lazily, no decoding). Six decimals (as labelImg writes) keep a box within 0.003 px
up to 2000 px images; larger images get eight, so a round trip stays exact to 0.01 px.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import yaml

from ..imageio import Listing, upright_boxes
from .common import ImageFolder, LabelSet, digit_of, place_box

CLASSES_TXT = "classes.txt"
DATA_YAML = "data.yaml"


def class_names(
    label_dir: Path, images_dir: Path | None = None
) -> tuple[list[str] | None, Path | None, str | None]:
    """(names, file, problem) from ``classes.txt`` or ``data.yaml`` beside the labels, one or two
    folders up, or beside the images. (None, None, None) when there is neither."""
    label_dir = Path(label_dir)
    places = [label_dir, label_dir.parent, label_dir.parent.parent]
    if images_dir is not None:
        places += [Path(images_dir), Path(images_dir).parent]
    seen = set()
    for d in places:
        if d in seen:
            continue
        seen.add(d)
        txt, yaml_file = d / CLASSES_TXT, d / DATA_YAML
        if txt.is_file():
            try:
                return (
                    [ln.strip() for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()],
                    txt,
                    None,
                )
            except (OSError, UnicodeDecodeError) as exc:
                return None, txt, f"{txt}: cannot be read ({exc})"
        if yaml_file.is_file():
            try:
                names = yaml_names(yaml_file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                return None, yaml_file, f"{yaml_file}: cannot be read ({exc})"
            except ValueError as exc:
                return None, yaml_file, f"{yaml_file}: {exc}"
            if names is None:
                return None, yaml_file, f"{yaml_file}: no 'names:' list or mapping found"
            return names, yaml_file, None
    return None, None, None


def yaml_names(text: str) -> list[str] | None:
    """The ``names`` of an Ultralytics data.yaml (a list, or a mapping from class index to name),
    read with a YAML parser; None when there is no ``names``. Raises ValueError for text that is not
    YAML, or a ``names`` that is neither a list nor an index mapping."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict) or data.get("names") is None:
        return None
    names = data["names"]
    if isinstance(names, list):
        return [_name(v) for v in names]
    if isinstance(names, dict):
        mapping: dict[int, str] = {}
        for k, v in names.items():
            index = k if isinstance(k, int) and not isinstance(k, bool) else None
            if isinstance(k, str) and k.strip().isdigit():
                index = int(k)
            if index is None or index < 0:
                raise ValueError(f"'names' maps {k!r}, not a class index, to {v!r}")
            mapping[index] = _name(v)
        return _by_index(mapping)
    raise ValueError(f"'names' is a {type(names).__name__}, not a list or a mapping")


def _name(v) -> str:
    return "" if v is None else str(v).strip()


def _by_index(mapping: dict[int, str]) -> list[str]:
    return [mapping.get(i, f"class {i}") for i in range(max(mapping) + 1)] if mapping else []


def parse_line(
    parts: list[str], names: list[str] | None, source: str
) -> tuple[int | None, str | None, tuple[float, ...], str | None]:
    """(digit, other label, numbers, problem) of one line split into words; problem set when unusable."""
    try:
        cls_f = float(parts[0])
        nums = tuple(float(p) for p in parts[1:])
    except ValueError:
        return None, None, (), "not numbers"
    if not cls_f.is_integer() or cls_f < 0:
        return None, None, (), f"class {parts[0]} is not a class index"
    cls = int(cls_f)
    if not all(math.isfinite(v) for v in nums):
        return None, None, (), "coordinates are not finite numbers"
    if names is None:
        if cls > 9:
            return None, None, (), f"class {cls} is not a digit (no classes.txt or data.yaml: class = digit)"
        return cls, None, nums, None
    if cls >= len(names):
        return (
            None,
            None,
            (),
            f"class {cls} but {source} names only {len(names)} classes (0..{len(names) - 1})",
        )
    digit = digit_of(names[cls])
    return digit, (names[cls] if digit is None else None), nums, None


def box_from_yolo(nums, size) -> tuple[float, float, float, float]:
    cx, cy, bw, bh = nums[:4]
    w, h = size
    return (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h


def read_yolo(label_dir: str | Path, images_dir: str | Path, listing: Listing | None = None) -> LabelSet:
    """Every ``<stem>.txt`` in ``label_dir`` whose image is in ``images_dir`` (5 numbers a line)."""
    label_dir = Path(label_dir)
    folder = ImageFolder(images_dir, listing)
    warnings: list[str] = []
    other: Counter = Counter()
    names, names_file, problem = class_names(label_dir, folder.dir)
    if problem:
        warnings.append(f"{problem}; class index read as the digit; ignored")
    elif names is None:
        warnings.append(f"{label_dir}: no classes.txt or data.yaml, so class index = digit; noted")
    src = names_file.name if names_file else "classes.txt"
    records = []
    for img, f in folder.label_files(label_dir, ".txt", warnings):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{f}: cannot be read ({exc}); file skipped")
            continue
        on_stored = names_file is not None and names_file.name == CLASSES_TXT  # labelImg ignores EXIF
        fit = folder.upright(img, f, None, str(f), "size", warnings, on_stored)
        if fit is None:
            continue
        size, stored, orient = fit
        drawn = stored if orient != 1 else size
        boxes, labels = [], []
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            where = f"{f}:{n}"
            if len(parts) != 5:
                warnings.append(
                    f"{where}: {len(parts)} numbers, a YOLO box line has 5 "
                    "(class x_center y_center width height); dropped"
                )
                continue
            digit, other_name, nums, why = parse_line(parts, names, src)
            if why:
                warnings.append(f"{where}: {why}; dropped")
                continue
            if digit is None:
                other[other_name] += 1
                continue
            if nums[2] <= 0 or nums[3] <= 0:
                warnings.append(f"{where}: width and height must be positive; dropped")
                continue
            placed = place_box(box_from_yolo(nums, drawn), drawn, where, warnings)
            if placed is not None:
                boxes.append(placed)
                labels.append(digit + 1)
        if orient != 1:
            boxes = upright_boxes(boxes, stored, orient)
        records.append(folder.record(img, size, boxes, labels))
    return LabelSet(records, warnings, label_dir, "yolo", other)


def decimals(width: int, height: int) -> int:
    return 6 if max(width, height) <= 2000 else 8


def yolo_line(digit: int, xywh, size: tuple[int, int]) -> str:
    x, y, w, h = (float(v) for v in xywh)
    W, H = size
    d = decimals(W, H)
    return f"{int(digit)} {(x + w / 2) / W:.{d}f} {(y + h / 2) / H:.{d}f} {w / W:.{d}f} {h / H:.{d}f}"


CLASSES_TEXT = "".join(f"{d}\n" for d in range(10))


def yolo_texts(coco: dict, images_dir: Path, out_dir: Path, reviewed=False) -> dict[str, str]:
    """``{<stem>.txt: text}`` for every image of a COCO ground-truth dict, plus ``classes.txt``."""
    del out_dir, reviewed  # YOLO files have no mark of a reviewed image
    by_image: dict[int, list[str]] = {}
    sizes = {im["id"]: (int(im["width"]), int(im["height"])) for im in coco["images"]}
    for a in coco["annotations"]:
        by_image.setdefault(a["image_id"], []).append(
            yolo_line(a["category_id"] - 1, a["bbox"], sizes[a["image_id"]])
        )
    out = {
        f"{Path(im['file_name']).stem}.txt": "".join(f"{ln}\n" for ln in by_image.get(im["id"], []))
        for im in coco["images"]
    }
    out[CLASSES_TXT] = CLASSES_TEXT
    return out
