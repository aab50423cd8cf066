"""Writers for task-1 JSON, task-2 CSV and COCO ground truth. Every write is atomic.

Results go through :func:`write_outputs`, which marks what it writes in one manifest beside them
(``digitstudio-export.json``: each file's name and SHA-256). A file is "ours" only when the
manifest names it with its current hash, so export never replaces a file it did not write (ground
truth, someone's own results, or an export edited by hand since), and a folder opened later can
tell its exported ``annotations.json`` from real ground truth. A manifest rather than a marker
inside each file: task 1 must stay a bare JSON list and task 2 a two-column CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import OutputConflictError, describe_names  # noqa: F401 (re-exported)
from .fileio import atomic_write_bytes, atomic_write_text  # noqa: F401 - re-exported
from .paths import file_sha256

DET_THRESH = 0.05  # lowest score kept in task 1: a COCO mAP is computed over the whole score range
EXPORT_MARK = "Digit Studio export"
MANIFEST_NAME = "digitstudio-export.json"

CATEGORIES = [{"id": d + 1, "name": str(d), "supercategory": "digit"} for d in range(10)]


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


def prediction_entries(
    image_id: int, boxes_xywh, scores, digits, det_thresh: float = DET_THRESH
) -> list[dict]:
    """Task 1 of a model's raw detections: every one scoring at least ``det_thresh``.

    The one policy for task 1, used by ``python -m trainer predict`` and the app's export alike:
    the number-reading threshold (the app's slider) never filters what a COCO mAP runs over.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    keep = np.nonzero(s >= det_thresh)[0]
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    d = np.asarray(digits, np.int64).reshape(-1)
    return detection_entries(image_id, b[keep], s[keep], d[keep])


def task1_text(entries: Iterable[dict]) -> str:
    """Task 1: a JSON list of COCO detection results."""
    return json.dumps(list(entries))


def task2_text(rows: Iterable[tuple[int, int]]) -> str:
    """Task 2: ``image_id,pred_label``, sorted by image id; -1 where no digit was found."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image_id", "pred_label"])
    for image_id, label in sorted(rows):
        w.writerow([int(image_id), int(label)])
    return buf.getvalue()


def id_map_text(mapping: Iterable[tuple[int, str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image_id", "file_name"])
    for image_id, name in sorted(mapping):
        w.writerow([int(image_id), name])
    return buf.getvalue()


def coco_ground_truth(images: Iterable[dict], boxes: Iterable[dict], decimals: int | None = 2) -> dict:
    """A COCO ground-truth dict.

    ``images``: dicts with ``id``, ``file_name``, ``width``, ``height``.
    ``boxes``: dicts with ``image_id``, ``bbox`` [x, y, w, h] and ``digit`` (0..9).
    ``decimals``: boxes and areas are rounded to this many decimals (None: kept exact, as an
    in-memory ground truth for scoring wants them).
    """

    def r(v: float) -> float:
        return v if decimals is None else round(v, decimals)

    anns = []
    for i, b in enumerate(boxes, 1):
        x, y, w, h = (float(v) for v in b["bbox"])
        anns.append(
            {
                "id": i,
                "image_id": int(b["image_id"]),
                "bbox": [r(x), r(y), r(w), r(h)],
                "category_id": int(b["digit"]) + 1,
                "area": r(w * h),
                "iscrowd": 0,
            }
        )
    return {"images": list(images), "annotations": anns, "categories": CATEGORIES}


def write_coco(path: str | os.PathLike, coco: dict) -> None:
    atomic_write_text(path, json.dumps(coco))


def coco_text(coco: dict) -> str:
    return json.dumps(coco)


# ------------------------------------------------------------------ files export wrote itself


def _read_manifest(folder: Path) -> dict[str, list[str]] | None:
    """``{file name: [sha256, ...]}`` of the manifest in ``folder``; {} when there is none, None
    when a file of that name exists but is not our manifest (it is then never replaced)."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if data.get("written_by") != EXPORT_MARK or not isinstance(files, dict):
            return None
        return {str(k): [str(h) for h in (v if isinstance(v, list) else [v])] for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def written_by_export(path: str | os.PathLike) -> bool:
    """True when ``path`` is, byte for byte, a file an export wrote (its manifest says so)."""
    path = Path(path)
    for folder in (path.parent, path.parent.parent):  # a label file may lie in a subfolder ("voc/")
        hashes = (_read_manifest(folder) or {}).get(path.relative_to(folder).as_posix())
        if hashes:
            return file_sha256(path) in hashes
    return False


def output_conflicts(
    folder: str | os.PathLike, names: Iterable[str], own_dirs: Iterable[str] = ()
) -> tuple[list[str], list[str]]:
    """(foreign, earlier): existing files among ``names`` that an export did not write / did write.

    ``own_dirs``: subfolders the export writes into that must hold only files an export wrote
    (a folder of the user's own label files is never mixed with ours); every file in them counts.
    """
    folder = Path(folder)
    manifest = _read_manifest(folder)
    foreign = [MANIFEST_NAME] if manifest is None else []
    earlier = []
    names = list(names)
    for d in own_dirs:
        sub = folder / d
        if sub.is_dir():
            names += sorted(p.relative_to(folder).as_posix() for p in sub.rglob("*") if p.is_file())
    for name in dict.fromkeys(names):
        path = folder / name
        if not path.exists():
            continue
        if manifest and file_sha256(path) in manifest.get(name, []):
            earlier.append(name)
        else:
            foreign.append(name)
    return foreign, earlier


def _write_manifest(folder: Path, files: dict[str, list[str]]) -> None:
    data = {
        "written_by": EXPORT_MARK,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": "Files written by a Digit Studio export (name: SHA-256). Only these may be replaced "
        "by the next export, and an annotations.json listed here is not loaded as ground truth.",
        "files": files,
    }
    atomic_write_text(folder / MANIFEST_NAME, json.dumps(data, indent=1, sort_keys=True))


def write_outputs(
    folder: str | os.PathLike,
    texts: dict[str, str],
    replace_earlier: bool = False,
    own_dirs: Iterable[str] = (),
    supersede: Iterable[str] = (),
) -> list[Path]:
    """Write ``{file name: text}`` into ``folder`` atomically and record them in the manifest.

    Names may lie in subfolders ("voc/1.xml"). Raises :class:`OutputConflictError` before writing
    anything when a file would replace one an export did not write (or, unless
    ``replace_earlier``, one an earlier export wrote), or when one of ``own_dirs`` holds such a
    file. A file that already holds exactly the text to write is left as it is (a user's own
    ``classes.txt`` naming the same classes, say). After writing, files of an earlier export under
    ``supersede`` (names or subfolders) that this one does not write again are removed, so the
    folder holds one export, not a mix of two.
    """
    folder = Path(folder)
    blobs = {name: text.encode("utf-8") for name, text in texts.items()}
    foreign, earlier = output_conflicts(folder, texts, own_dirs)
    same = {n for n in foreign if n in blobs and _same_bytes(folder / n, blobs[n])}
    foreign = [n for n in foreign if n not in same]
    if foreign or (earlier and not replace_earlier):
        raise OutputConflictError(folder, foreign, earlier)
    blobs = {n: b for n, b in blobs.items() if n not in same}
    folder.mkdir(parents=True, exist_ok=True)
    new = {name: hashlib.sha256(b).hexdigest() for name, b in blobs.items()}
    old = {k: v for k, v in (_read_manifest(folder) or {}).items() if (folder / k).exists()}
    # first claim both the old and the new content, so a crash mid-way leaves only files we own
    _write_manifest(folder, {**old, **{n: sorted(set(old.get(n, [])) | {h}) for n, h in new.items()}})
    for name, b in blobs.items():
        atomic_write_bytes(folder / name, b)
    for name in _stale(folder, old, supersede, blobs):
        try:
            (folder / name).unlink()
        except OSError:
            continue
        old.pop(name, None)
    _write_manifest(folder, {**old, **{n: [h] for n, h in new.items()}})
    return [folder / name for name in texts]


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _stale(folder: Path, old: dict[str, list[str]], supersede: Iterable[str], keep) -> list[str]:
    """Files an earlier export wrote (unchanged since) under ``supersede`` that ``keep`` lacks."""
    prefixes = [s.rstrip("/") for s in supersede]
    out = []
    for name, hashes in old.items():
        if name in keep or not any(name == p or name.startswith(p + "/") for p in prefixes):
            continue
        if file_sha256(folder / name) in hashes:
            out.append(name)
    return out
