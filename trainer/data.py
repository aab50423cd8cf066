"""COCO digit datasets and unlabelled image folders."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AnnotationError, EmptyFolderError, ImageReadError
from .imageio import READ_ERRORS, assign_ids, list_images, load_rgb
from .numbers import Reading, read_all

log = logging.getLogger(__name__)

NUM_CLASSES = 11  # background + digits 0..9; category_id = digit + 1


@dataclass
class Record:
    """One image and its digit boxes (xyxy, original pixels; labels are category ids 1..10)."""

    image_id: int
    path: Path
    width: int | None = None
    height: int | None = None
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))


@dataclass
class CocoDigits:
    records: list[Record]
    warnings: list[str]
    source: Path


def _fail(path: Path, what: str) -> AnnotationError:
    return AnnotationError(f"{path}: {what}")


def _inside(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it stays inside ``folder`` ("../" refused; a symlinked file is fine)."""
    base = folder.resolve()
    target = Path(os.path.normpath(base / name))
    try:
        target.relative_to(base)
    except ValueError:
        return None
    return target


def load_coco(ann_path: str | Path, images_dir: str | Path, check_files: bool = True) -> CocoDigits:
    """Read and validate a COCO digit file.

    Fatal problems (unparseable JSON, missing keys, duplicate image ids, paths escaping the image
    folder, missing files) raise a typed error naming the entry. Recoverable ones (unknown
    category ids, boxes outside the image, zero-size boxes, annotations of unknown images) are
    clipped or dropped and reported in ``warnings``.
    """
    ann_path, images_dir = Path(ann_path), Path(images_dir)
    try:
        raw = json.loads(ann_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"annotation file not found: {ann_path}") from None
    except OSError as exc:
        raise AnnotationError(f"cannot read {ann_path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(ann_path, f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("images"), list):
        raise _fail(ann_path, "missing the 'images' list")
    anns = raw.get("annotations", [])
    if not isinstance(anns, list):
        raise _fail(ann_path, "'annotations' is not a list")

    warnings: list[str] = []
    records: dict[int, Record] = {}
    missing: list[str] = []
    for i, entry in enumerate(raw["images"]):
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            raise _fail(ann_path, f"images[{i}] lacks 'id' or 'file_name'")
        try:
            image_id = int(entry["id"])
            if image_id != entry["id"] and not isinstance(entry["id"], str):
                raise ValueError
        except (TypeError, ValueError):
            raise _fail(ann_path, f"images[{i}] has a non-integer id {entry['id']!r}") from None
        if image_id in records:
            raise _fail(ann_path, f"images[{i}]: duplicate image id {image_id}")
        path = _inside(images_dir, str(entry["file_name"]))
        if path is None:
            raise _fail(ann_path, f"images[{i}]: file_name {entry['file_name']!r} escapes {images_dir}")
        if check_files and not path.is_file():
            missing.append(str(path))
        w, h = _as_int(entry.get("width")), _as_int(entry.get("height"))
        if (entry.get("width") and not w) or (entry.get("height") and not h):
            warnings.append(f"images[{i}] (id {image_id}): width/height are not integers; ignored")
        records[image_id] = Record(image_id, path, w or None, h or None, boxes=[], labels=[])
    if missing:
        raise ImageReadError(missing, "listed in the annotations are missing")

    seen_ann: set = set()
    for i, a in enumerate(anns):
        if not isinstance(a, dict) or not {"image_id", "bbox", "category_id"} <= a.keys():
            raise _fail(ann_path, f"annotations[{i}] lacks 'image_id', 'bbox' or 'category_id'")
        tag = f"annotations[{i}] (id {a.get('id', '?')})"
        if "id" in a:
            if a["id"] in seen_ann:
                warnings.append(f"{tag}: duplicate annotation id; kept")
            seen_ann.add(a["id"])
        rec = records.get(_as_int(a["image_id"]))
        if rec is None:
            warnings.append(f"{tag}: unknown image_id {a['image_id']!r}; dropped")
            continue
        cat = _as_int(a["category_id"])
        if cat is None or not 1 <= cat <= 10:
            warnings.append(f"{tag}: unknown category_id {a['category_id']!r}; dropped")
            continue
        bbox = a["bbox"]
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            warnings.append(f"{tag}: bbox is not [x, y, w, h]; dropped")
            continue
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            warnings.append(f"{tag}: bbox has non-numeric values; dropped")
            continue
        x1, y1, x2, y2 = x, y, x + w, y + h
        if rec.width and rec.height:
            cx1, cy1 = max(0.0, x1), max(0.0, y1)
            cx2, cy2 = min(float(rec.width), x2), min(float(rec.height), y2)
            if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2) and cx2 > cx1 and cy2 > cy1:
                warnings.append(f"{tag}: box outside the image; clipped")
            x1, y1, x2, y2 = cx1, cy1, cx2, cy2
        if not (x2 - x1 >= 1.0 and y2 - y1 >= 1.0):
            warnings.append(f"{tag}: zero-size box; dropped")
            continue
        rec.boxes.append((x1, y1, x2, y2))
        rec.labels.append(cat)

    for rec in records.values():
        rec.boxes = np.asarray(rec.boxes, np.float32).reshape(-1, 4)
        rec.labels = np.asarray(rec.labels, np.int64)
    _log_summary(ann_path, warnings)
    return CocoDigits(list(records.values()), warnings, ann_path)


def _log_summary(ann_path: Path, warnings: list[str], shown: int = 3) -> None:
    """Log a few warnings and count the rest by kind (SVHN alone has dozens of clipped boxes)."""
    for w in warnings[:shown]:
        log.warning("%s: %s", ann_path.name, w)
    rest = warnings[shown:]
    if rest:
        kinds: dict[str, int] = {}
        for w in rest:
            kind = w.rsplit(": ", 1)[-1]
            kinds[kind] = kinds.get(kind, 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        log.warning("%s: %d more warnings (%s)", ann_path.name, len(rest), detail)


def _as_int(v) -> int | None:
    try:
        iv = int(v)
    except (TypeError, ValueError):
        return None
    return iv if iv == v or isinstance(v, str) else None


def folder_records(folder: str | Path) -> list[Record]:
    """Unlabelled records for every image in ``folder`` (ids from file names)."""
    paths = list_images(folder)
    if not paths:
        raise EmptyFolderError(f"no images (png/jpg/jpeg/bmp/webp) in {folder}")
    ids = assign_ids(paths)
    return [Record(ids[p], p) for p in paths]


def split_holdout(records: list[Record], share: float, salt: int = 0) -> tuple[list[Record], list[Record]]:
    """Stable split by image id: the same ids are held out every time (a hash, not a shuffle).

    A different ``salt`` draws an independent share (to split the rest a second time).
    """
    if share <= 0:
        return records, []
    hold = [r for r in records if held_out(r.image_id, share, salt)]
    ids = {id(r) for r in hold}
    return [r for r in records if id(r) not in ids], hold


def held_out(image_id: int, share: float, salt: int = 0) -> bool:
    """Whether ``image_id`` falls in the stable held-out ``share`` (see :func:`split_holdout`)."""
    h = (image_id * 2654435761 + salt * 0x9E3779B9) % 2**32
    if salt:
        h = (h ^ (h >> 16)) * 0x45D9F3B % 2**32
    return h / 2**32 < share


def gt_text(rec: Record) -> str:
    """The digits a record's boxes spell, left to right by x-centre ("" without boxes)."""
    return _gt_reading(rec).text


def gt_number(rec: Record) -> int:
    """The whole number a record's boxes spell, left to right (-1 without boxes)."""
    return _gt_reading(rec).number


def _gt_reading(rec: Record) -> Reading:
    b = np.asarray(rec.boxes, np.float64).reshape(-1, 4)
    return read_all(np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1), np.asarray(rec.labels) - 1)


def read_image_or_raise(path: Path):
    try:
        return load_rgb(path)
    except READ_ERRORS as exc:
        raise ImageReadError([str(path)], f"cannot be decoded ({exc})") from None
