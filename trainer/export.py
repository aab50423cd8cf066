"""Writers for task-1 JSON, task-2 CSV and COCO ground truth. Every write is atomic."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

CATEGORIES = [{"id": d + 1, "name": str(d), "supercategory": "digit"} for d in range(10)]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8 text, written atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _file_mode(path: Path) -> int:
    """The existing file's mode, or what a plain open() would give (mkstemp makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def detection_entries(image_id: int, boxes_xywh, scores, digits) -> list[dict]:
    """Task-1 entries of one image (``category_id = digit + 1``, boxes rounded to 0.01 px)."""
    out = []
    for (x, y, w, h), s, d in zip(boxes_xywh, scores, digits, strict=True):
        out.append(
            {
                "image_id": int(image_id),
                "bbox": [round(float(x), 2), round(float(y), 2), round(float(w), 2), round(float(h), 2)],
                "score": round(float(s), 5),
                "category_id": int(d) + 1,
            }
        )
    return out


def write_task1_json(path: str | os.PathLike, entries: Iterable[dict]) -> None:
    """Task 1: a JSON list of COCO detection results."""
    atomic_write_text(path, json.dumps(list(entries)))


def write_task2_csv(path: str | os.PathLike, rows: Iterable[tuple[int, int]]) -> None:
    """Task 2: ``image_id,pred_label``, sorted by image id; -1 where no digit was found."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image_id", "pred_label"])
    for image_id, label in sorted(rows):
        w.writerow([int(image_id), int(label)])
    atomic_write_text(path, buf.getvalue())


def write_id_map(path: str | os.PathLike, mapping: Iterable[tuple[int, str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image_id", "file_name"])
    for image_id, name in sorted(mapping):
        w.writerow([int(image_id), name])
    atomic_write_text(path, buf.getvalue())


def coco_ground_truth(images: Iterable[dict], boxes: Iterable[dict]) -> dict:
    """A COCO ground-truth dict.

    ``images``: dicts with ``id``, ``file_name``, ``width``, ``height``.
    ``boxes``: dicts with ``image_id``, ``bbox`` [x, y, w, h] and ``digit`` (0..9).
    """
    anns = []
    for i, b in enumerate(boxes, 1):
        x, y, w, h = (float(v) for v in b["bbox"])
        anns.append(
            {
                "id": i,
                "image_id": int(b["image_id"]),
                "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                "category_id": int(b["digit"]) + 1,
                "area": round(w * h, 2),
                "iscrowd": 0,
            }
        )
    return {"images": list(images), "annotations": anns, "categories": CATEGORIES}


def write_coco(path: str | os.PathLike, coco: dict) -> None:
    atomic_write_text(path, json.dumps(coco))
