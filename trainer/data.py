"""COCO digit datasets and unlabelled image folders."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AnnotationError, EmptyFolderError, ImageReadError
from .imageio import READ_ERRORS, assign_ids, list_images, load_rgb
from .numbers import Reading, read_all

log = logging.getLogger(__name__)

NUM_CLASSES = 11  # background + digits 0..9; category_id = digit + 1
_DIGIT_TEXT = {str(d) for d in range(10)}


@dataclass
class Record:
    """One image and its digit boxes (xyxy, original pixels; labels are category ids 1..10)."""

    image_id: int
    path: Path
    width: int | None = None
    height: int | None = None
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    reviewed: bool = False  # the label file says a person checked it (labelImg "verified", "checked")


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

    Fatal problems (unparseable JSON, no 'images' list, an annotation without its keys, missing
    files) raise a typed error naming the entry. A bad image entry (no id or file name, an id that
    is not an integer, a duplicate id, a path escaping the image folder) is dropped with its boxes;
    recoverable problems of boxes (unknown categories, boxes outside the image, zero-size boxes,
    annotations of unknown images) are clipped or dropped. Both are reported in ``warnings``.

    Categories are matched by name ("0".."9", or "digit 5"-style names) where the file names them,
    else ``category_id - 1`` is the digit (see :func:`category_digits`).
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
    digits = category_digits(raw.get("categories"), warnings)
    records, bad = _image_entries(raw["images"], images_dir, warnings)
    if check_files:
        missing = [str(r.path) for r in records.values() if not r.path.is_file()]
        if missing:
            raise ImageReadError(missing, "listed in the annotations are missing")

    seen_ann: set = set()
    for i, a in enumerate(anns):
        if not isinstance(a, dict) or not {"image_id", "bbox", "category_id"} <= a.keys():
            raise _fail(ann_path, f"annotations[{i}] lacks 'image_id', 'bbox' or 'category_id'")
        tag = f"annotations[{i}] (id {a.get('id', '?')})"
        if "id" in a:
            key = json.dumps(a["id"], sort_keys=True)
            if key in seen_ann:
                warnings.append(f"{tag}: duplicate annotation id; kept")
            seen_ann.add(key)
        image_key = _id_key(a["image_id"])
        if image_key in bad:
            bad[image_key][1] += 1  # counted in the message of its image entry
            continue
        rec = records.get(_as_int(a["image_id"]))
        if rec is None:
            warnings.append(f"{tag}: unknown image_id {a['image_id']!r}; dropped")
            continue
        cat = _as_int(a["category_id"])
        digit = _digit_of_category(cat, digits)
        if digit is None:
            what = "unknown category_id" if cat is None or digits is None or cat not in digits else "category"
            name = f" ({digits.names[cat]!r}, not a digit)" if digits is not None and cat in digits else ""
            warnings.append(f"{tag}: {what} {a['category_id']!r}{name}; dropped")
            continue
        box = _box_in_image(a["bbox"], rec, tag, warnings)
        if box is not None:
            rec.boxes.append(box)
            rec.labels.append(digit + 1)

    for where, n_boxes in bad.values():
        boxes = f"{n_boxes} box{'es' if n_boxes != 1 else ''}"
        warnings.append(where.replace("{boxes}", boxes))
    for rec in records.values():
        rec.boxes = np.asarray(rec.boxes, np.float32).reshape(-1, 4)
        rec.labels = np.asarray(rec.labels, np.int64)
    _log_summary(ann_path, warnings)
    return CocoDigits(list(records.values()), warnings, ann_path)


def _box_in_image(
    bbox, rec: Record, tag: str, warnings: list[str]
) -> tuple[float, float, float, float] | None:
    """A COCO ``[x, y, w, h]`` as ``(x1, y1, x2, y2)`` clipped to the image; None (with a warning
    naming ``tag``) for a box that is malformed or of zero size."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        warnings.append(f"{tag}: bbox is not [x, y, w, h]; dropped")
        return None
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        warnings.append(f"{tag}: bbox has non-numeric values; dropped")
        return None
    x1, y1, x2, y2 = x, y, x + w, y + h
    if rec.width and rec.height:
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(rec.width), x2), min(float(rec.height), y2)
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2) and cx2 > cx1 and cy2 > cy1:
            warnings.append(f"{tag}: box outside the image; clipped")
        x1, y1, x2, y2 = cx1, cy1, cx2, cy2
    if not (x2 - x1 >= 1.0 and y2 - y1 >= 1.0):
        warnings.append(f"{tag}: zero-size box; dropped")
        return None
    return (x1, y1, x2, y2)


@dataclass
class CategoryDigits:
    """What a COCO file's categories mean: ``digit[category id]`` is 0..9, or None for a category
    that is not a digit; ``names`` are the categories' names."""

    digit: dict[int, int | None]
    names: dict[int, str]

    def __contains__(self, cat: object) -> bool:
        return cat in self.digit


_STYLED = re.compile(r"(\D*?)\s*[_:#-]?\s*(\d)\s*[_:#-]?\s*(\D*)")


def category_digits(categories, warnings: list[str]) -> CategoryDigits | None:
    """Read a COCO file's categories as digits, by name: "0".."9", else "digit 5"-style names (one
    digit, with text that every such name shares). None, so that ``category_id - 1`` is the digit,
    when there are no categories or no digit names, or when two categories name the same digit.
    A warning says when names and ids disagree (id 0 named "0", which ``id - 1`` would read as -1).
    """
    if not isinstance(categories, list) or not categories:
        return None
    names: dict[int, str] = {}
    for k, c in enumerate(categories):
        cid = _as_int(c.get("id")) if isinstance(c, dict) else None
        if cid is None:
            warnings.append(f"categories[{k}]: no integer 'id'; ignored")
            continue
        if cid in names:
            warnings.append(f"categories[{k}]: category id {cid} is given twice; the first is kept; ignored")
            continue
        names[cid] = str(c.get("name", "")).strip()
    by_name = {cid: int(n) for cid, n in names.items() if n in _DIGIT_TEXT}
    if not by_name:
        templates: dict[tuple[str, str], dict[int, int]] = {}
        for cid, n in names.items():
            m = _STYLED.fullmatch(n)
            if m and (m.group(1) or m.group(3)):
                key = (m.group(1).strip().lower(), m.group(3).strip().lower())
                templates.setdefault(key, {})[cid] = int(m.group(2))
        if templates:
            by_name = max(templates.values(), key=len)
    if not by_name:
        named = [n for n in names.values() if n]
        if named:
            warnings.append(
                f"categories: no category is named as a digit (first: {named[0]!r}), "
                "so category_id - 1 is read as the digit; noted"
            )
        return None
    seen: dict[int, int] = {}
    for cid, d in sorted(by_name.items()):
        if d in seen:
            warnings.append(
                f"categories: ids {seen[d]} ({names[seen[d]]!r}) and {cid} ({names[cid]!r}) both name "
                f"digit {d}, so the names are not used and category_id - 1 is read as the digit; noted"
            )
            return None
        seen[d] = cid
    off = [(cid, d) for cid, d in sorted(by_name.items()) if cid - 1 != d]
    if off:
        shown = ", ".join(f"id {cid} is {names[cid]!r}" for cid, d in off[:3])
        more = f" and {len(off) - 3} more" if len(off) > 3 else ""
        warnings.append(
            f"categories: names and ids disagree ({shown}{more}; the dataset convention is "
            "category_id = digit + 1), so boxes are read by category name; noted"
        )
    return CategoryDigits({cid: by_name.get(cid) for cid in names}, names)


def _digit_of_category(cat: int | None, digits: CategoryDigits | None) -> int | None:
    if cat is None:
        return None
    if digits is None:
        return cat - 1 if 1 <= cat <= 10 else None
    return digits.digit.get(cat)


def _id_key(v) -> str:
    """A hashable key for an id as written (an integer, or any JSON value of a bad entry)."""
    iv = _as_int(v)
    return str(iv) if iv is not None else "raw:" + json.dumps(v, sort_keys=True)


def _image_entries(
    entries: list, images_dir: Path, warnings: list[str]
) -> tuple[dict[int, Record], dict[str, list]]:
    """Records of the usable image entries, and ``{id key: [message, boxes]}`` of the dropped ones
    (their annotations are counted into the message, which says "{boxes}" where the count goes)."""
    records: dict[int, Record] = {}
    first_of: dict[int, int] = {}
    bad: dict[str, list] = {}

    def drop(i: int, raw_id, what: str) -> None:
        key = _id_key(raw_id)
        if key not in bad:
            bad[key] = [f"images[{i}] (id {raw_id!r}, {{boxes}}): {what}; dropped", 0]

    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            has_id = isinstance(entry, dict) and "id" in entry
            if has_id:
                drop(i, entry["id"], "no 'file_name'")
            else:
                warnings.append(f"images[{i}]: no 'id' or 'file_name'; dropped")
            continue
        raw_id = entry["id"]
        image_id = _as_int(raw_id)
        if image_id is None:
            drop(i, raw_id, "the id is not an integer")
            continue
        if image_id in first_of or _id_key(raw_id) in bad:
            j = first_of.pop(image_id, None)
            if j is not None:
                records.pop(image_id)
                drop(j, raw_id, f"the id is also used by images[{i}], so its boxes are ambiguous")
            continue
        name = entry["file_name"]
        path = _inside(images_dir, name) if isinstance(name, str) and name.strip() else None
        if path is None:
            drop(i, raw_id, f"file_name {name!r} is not a file inside {images_dir}")
            continue
        w, h = _as_int(entry.get("width")), _as_int(entry.get("height"))
        if (entry.get("width") and not w) or (entry.get("height") and not h):
            warnings.append(f"images[{i}] (id {image_id}): width/height are not integers; ignored")
        records[image_id] = Record(image_id, path, w or None, h or None, boxes=[], labels=[])
        first_of[image_id] = i
    return records, bad


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
    """``v`` as an integer when it is one (3, 3.0 or "3"); None for anything else, booleans included."""
    if isinstance(v, bool):
        return None
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


# The share of the original training photos the bundled models' trainings held out (configs'
# "holdout", stable by id): models are tuned on them, and rehearsal never draws them.
HOLDOUT = 0.05


def held_out_photos(
    root: str | os.PathLike, share: float = HOLDOUT, splits=("train", "extra")
) -> list[Record]:
    """The photos of a dataset root's ``splits`` (``NAME/`` with ``NAME.json``) that ``train
    --holdout share`` keeps out of training: what models are tuned on, never valid."""
    root, pool = Path(root), []
    for split in splits:
        if (root / f"{split}.json").is_file():
            pool += load_coco(root / f"{split}.json", root / split).records
    return split_holdout(pool, share)[1]


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
