"""Detections made by another model: a COCO results JSON (task-1 format) or YOLO txt with confidences.

Both become, per image of the folder, xywh boxes in original pixels, scores and digits: what the
app shows as predictions to review, like the bundled model's.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AnnotationError
from .common import ImageFolder, place_box
from .yolo import box_from_yolo, class_names, parse_line


@dataclass
class Detections:
    """``by_name``: image file name -> (xywh float32 (N, 4), scores float32 (N,), digits int64 (N,))."""

    by_name: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    warnings: list[str]
    source: Path
    fmt: str
    other_labels: Counter = field(default_factory=Counter)

    @property
    def boxes(self) -> int:
        return sum(len(v[1]) for v in self.by_name.values())


def _pack(items: dict[str, list]) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = {}
    for name, rows in items.items():
        out[name] = (
            np.asarray([r[0] for r in rows], np.float32).reshape(-1, 4),
            np.asarray([r[1] for r in rows], np.float32),
            np.asarray([r[2] for r in rows], np.int64),
        )
    return out


def read_coco_results(
    path: str | Path, images_dir: str | Path, ids: dict[str, int] | None = None
) -> Detections:
    """A task-1 list ``[{image_id, bbox, score, category_id}]``; ``ids`` maps file names to image ids
    (the folder's own ids from file names when not given). Every image of the folder gets an entry."""
    path = Path(path)
    folder = ImageFolder(images_dir)
    if ids is None:
        ids = {p.name: i for p, i in folder.ids.items()}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AnnotationError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(raw, dict) and "annotations" in raw:
        raise AnnotationError(
            f"{path} is COCO ground truth, not detections: open it with File ▸ Open annotations"
        )
    if not isinstance(raw, list):
        raise AnnotationError(f"{path}: not a COCO results list ([{{image_id, bbox, score, category_id}}])")
    names = {i: n for n, i in ids.items()}
    sizes: dict[str, tuple[int, int] | None] = {}
    items: dict[str, list] = {n: [] for n in ids}
    warnings: list[str] = []
    other: Counter = Counter()
    unknown: Counter = Counter()
    for k, d in enumerate(raw):
        where = f"{path}: entry [{k}]"
        try:
            image_id, cat, score = int(d["image_id"]), int(d["category_id"]), float(d["score"])
            x, y, w, h = (float(v) for v in d["bbox"])
        except (KeyError, TypeError, ValueError):
            warnings.append(f"{where}: needs image_id, bbox [x, y, w, h], score and category_id; dropped")
            continue
        name = names.get(image_id)
        if name is None:
            unknown[image_id] += 1
            continue
        if not 1 <= cat <= 10:
            other[f"category {cat}"] += 1
            continue
        if name not in sizes:
            sizes[name] = folder.size(folder.dir / name, where, warnings)
        if sizes[name] is None:
            continue
        placed = place_box((x, y, x + w, y + h), sizes[name], where, warnings)
        if placed is not None:
            x1, y1, x2, y2 = placed
            items[name].append(((x1, y1, x2 - x1, y2 - y1), score, cat - 1))
    if unknown:
        warnings.append(
            f"{path}: {sum(unknown.values())} detections of {len(unknown)} image ids not in this folder "
            f"(e.g. {next(iter(unknown))}); dropped"
        )
    return Detections(_pack(items), warnings, path, "coco", other)


def read_yolo_predictions(label_dir: str | Path, images_dir: str | Path) -> Detections:
    """``<stem>.txt`` files of ``class x y w h confidence`` (Ultralytics ``save_txt`` + ``save_conf``).

    A line without a confidence is read with score 1.0 (and said once). Images without a file get
    no entry (they were not predicted)."""
    label_dir = Path(label_dir)
    folder = ImageFolder(images_dir)
    warnings: list[str] = []
    other: Counter = Counter()
    names, names_file, problem = class_names(label_dir, folder.dir)
    if problem:
        warnings.append(f"{problem}; class index read as the digit; ignored")
    src = names_file.name if names_file else "classes.txt"
    items: dict[str, list] = {}
    no_conf = 0
    for img, f in folder.label_files(label_dir, ".txt", warnings):
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{f}: cannot be read ({exc}); file skipped")
            continue
        size = folder.size(img, str(f), warnings)
        if size is None:
            continue
        rows = items.setdefault(img.name, [])
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            where = f"{f}:{n}"
            if len(parts) not in (5, 6):
                warnings.append(
                    f"{where}: {len(parts)} numbers, a prediction line has 6 (class x y w h confidence); dropped"
                )
                continue
            digit, other_name, nums, why = parse_line(parts, names, src)
            if why:
                warnings.append(f"{where}: {why}; dropped")
                continue
            if digit is None:
                other[other_name] += 1
                continue
            score = nums[4] if len(nums) == 5 else 1.0
            no_conf += len(nums) == 4
            placed = place_box(box_from_yolo(nums, size), size, where, warnings)
            if placed is not None:
                x1, y1, x2, y2 = placed
                rows.append(((x1, y1, x2 - x1, y2 - y1), score, digit))
    if no_conf:
        warnings.append(f"{label_dir}: {no_conf} lines without a confidence were read with score 1.0; noted")
    return Detections(_pack(items), warnings, label_dir, "yolo", other)


def read_predictions(
    path: str | Path, images_dir: str | Path, ids: dict[str, int] | None = None
) -> Detections:
    """COCO results from a ``.json`` file; YOLO predictions from a folder or one of its ``.txt`` files."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json":
        return read_coco_results(path, images_dir, ids)
    label_dir = path if path.is_dir() else path.parent
    if path.is_file() and path.suffix.lower() != ".txt":
        raise AnnotationError(f"{path}: predictions are a COCO results .json or a folder of YOLO .txt files")
    return read_yolo_predictions(label_dir, images_dir)
