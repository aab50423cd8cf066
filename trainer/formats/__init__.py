"""Label files of the tools annotators already use: Pascal VOC XML (labelImg), YOLO txt, labelme
JSON, and COCO. One reader and one writer each, shared by the app and the command line.

Readers give a :class:`LabelSet` of the engine's :class:`~trainer.data.Record` (xyxy boxes in
original pixels, category id = digit + 1); writers take a COCO ground-truth dict (what
:func:`trainer.export.coco_ground_truth` builds) and return ``{file name: text}`` to be written
through :func:`trainer.export.write_outputs`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from ..data import Record, load_coco
from ..errors import AnnotationError
from ..export import coco_ground_truth, coco_text
from ..imageio import READ_ERRORS, Listing, image_size, name_stem
from .common import DIGIT_NAMES, FOLDER_FORMATS, FORMATS, SUFFIX, TITLE, LabelSet, digit_of
from .labelme import labelme_texts, read_labelme
from .predictions import Detections, read_predictions
from .voc import read_voc, voc_texts
from .yolo import class_names, read_yolo, yolo_texts

__all__ = [
    "DIGIT_NAMES",
    "FOLDER_FORMATS",
    "FORMATS",
    "TITLE",
    "Detections",
    "LabelSet",
    "digit_of",
    "find_labels",
    "label_dirs",
    "label_texts",
    "load_annotations",
    "read_labelme",
    "read_predictions",
    "read_voc",
    "read_yolo",
    "records_to_coco",
]

_READERS = {"voc": read_voc, "yolo": read_yolo, "labelme": read_labelme}
_WRITERS = {"voc": voc_texts, "yolo": yolo_texts, "labelme": labelme_texts}


def label_dirs(images_dir: Path) -> list[Path]:
    """Where label files of a folder of images are looked for, in order: beside the images, in
    ``labels/`` or ``Annotations/`` inside or beside the folder, and the Ultralytics layout
    (``.../images/train`` -> ``.../labels/train``)."""
    d = Path(images_dir)
    cands = [d]
    for name in ("labels", "Annotations"):
        cands += [d / name, d.parent / name, d.parent / name / d.name]
    parts = list(d.parts)
    if "images" in parts:
        i = len(parts) - 1 - parts[::-1].index("images")
        cands.append(Path(*parts[:i], "labels", *parts[i + 1 :]))
    out: list[Path] = []
    for c in cands:
        if c not in out and c.is_dir():
            out.append(c)
    return out


def _files(folder: Path, listing: Listing) -> tuple[str, ...]:
    """Names of the files in ``folder`` (none when it cannot be read), listed once per ``listing``."""
    try:
        return listing.files(folder)
    except OSError:
        return ()


def _matches(label_dir: Path, stems: set[str], fmt: str, listing: Listing | None = None) -> int:
    """How many files of ``fmt`` in ``label_dir`` are named after one of the image ``stems`` (0 when
    the first of them is not such a file)."""
    suffix = SUFFIX[fmt]
    hits = [
        n for n in _files(label_dir, listing or Listing()) if n.endswith(suffix) and name_stem(n) in stems
    ]
    if not hits:
        return 0
    probe = label_dir / hits[0]
    try:
        head = probe.read_bytes()[:4096]
    except OSError:
        return 0
    if fmt == "voc" and b"<annotation" not in head:
        return 0
    if fmt == "labelme" and b'"shapes"' not in probe.read_bytes():
        return 0
    return len(hits)


def find_labels(
    images_dir: str | Path, fmt: str | None = None, explicit: bool = False, listing: Listing | None = None
) -> tuple[str, Path] | None:
    """(format, folder) of the VOC, YOLO or labelme files that belong to the images of ``images_dir``.

    The folder and format matching the most images wins. Found automatically (``explicit`` False),
    YOLO files need a ``classes.txt`` or ``data.yaml``: without one a folder of .txt files may be
    anything. Every folder is listed once (``listing``: shared with the caller, who may have listed
    the images already).
    """
    images_dir = Path(images_dir)
    listing = listing or Listing()
    stems = _stems(images_dir, listing)
    best: tuple[int, str, Path] | None = None
    for d in label_dirs(images_dir):
        for f in [fmt] if fmt else FOLDER_FORMATS:
            n = _matches(d, stems, f, listing)
            if f == "yolo" and n and not explicit and class_names(d, images_dir)[0] is None:
                n = 0
            if n and (best is None or n > best[0]):
                best = (n, f, d)
    return (best[1], best[2]) if best else None


def _format_of_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return "voc"
    if suffix == ".txt":
        return "yolo"
    if suffix == ".json":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AnnotationError(f"{path}: not valid JSON ({exc})") from None
        return "labelme" if isinstance(raw, dict) and "shapes" in raw else "coco"
    raise AnnotationError(f"{path}: not a COCO, VOC (.xml), YOLO (.txt) or labelme (.json) file")


def load_annotations(
    ann: str | Path | None,
    images_dir: str | Path,
    fmt: str | None = None,
    check_files: bool = True,
    listing: Listing | None = None,
) -> LabelSet:
    """Ground truth for the images of ``images_dir`` in any format.

    ``ann``: a COCO JSON file; a folder of VOC/YOLO/labelme files (the format found from its
    contents unless ``fmt`` says); one file of such a folder; or None to look beside the images
    and in the usual sibling folders (:func:`label_dirs`). ``listing`` lists each folder once for
    everything that looks into it (shared with the caller, who may have listed the images already).
    """
    images_dir = Path(images_dir)
    listing = listing or Listing()
    if fmt is not None and fmt not in FORMATS:
        raise AnnotationError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    if ann is None:
        if fmt == "coco":
            raise AnnotationError("a COCO file must be given (--ann FILE.json)")
        found = find_labels(images_dir, fmt, explicit=fmt is not None, listing=listing)
        if found is None:
            what = TITLE[fmt] if fmt else "VOC, YOLO or labelme"
            raise AnnotationError(f"no {what} label files found for the images of {images_dir}")
        fmt, label_dir = found
        return _READERS[fmt](label_dir, images_dir, listing)
    ann = Path(ann)
    if not ann.exists():
        raise AnnotationError(f"annotation file not found: {ann}")
    if ann.is_file():
        file_fmt = _format_of_file(ann)
        if file_fmt == "coco" or fmt == "coco":
            if fmt not in (None, "coco") or file_fmt != "coco":
                raise AnnotationError(f"{ann} is not a {TITLE[fmt or 'coco']} file")
            coco = load_coco(ann, images_dir, check_files=check_files)
            return LabelSet(coco.records, coco.warnings, ann, "coco")
        if fmt not in (None, file_fmt):
            raise AnnotationError(f"{ann} is a {TITLE[file_fmt]} file, not {TITLE[fmt]}")
        return _READERS[file_fmt](ann.parent, images_dir, listing)
    if fmt == "coco":
        raise AnnotationError(f"{ann} is a folder; COCO annotations are one .json file")
    if fmt is None:
        stems = _stems(images_dir, listing)
        found = [(f, _matches(ann, stems, f, listing)) for f in FOLDER_FORMATS]
        fmt, n = max(found, key=lambda t: t[1])
        if not n:
            raise AnnotationError(f"no VOC, YOLO or labelme files in {ann} match the images of {images_dir}")
    return _READERS[fmt](ann, images_dir, listing)


def _stems(images_dir: Path, listing: Listing) -> set[str]:
    """The name stems of the images of ``images_dir`` (raises ``FileNotFoundError`` for a missing
    folder, as :func:`trainer.imageio.list_images` does)."""
    if not images_dir.is_dir():
        raise FileNotFoundError(f"not a folder: {images_dir}")
    return {name_stem(n) for n in listing.image_names(images_dir)}


def records_to_coco(records: list[Record], images_dir: str | Path) -> dict:
    """A COCO ground-truth dict of records (file names relative to ``images_dir``; sizes read from
    the image headers where a record has none)."""
    base = Path(images_dir).resolve()
    images, boxes = [], []
    for r in records:
        w, h = r.width, r.height
        if not (w and h):
            try:
                w, h = image_size(r.path)
            except READ_ERRORS as exc:
                raise AnnotationError(f"cannot read the size of {r.path}: {exc}") from None
        try:
            name = Path(r.path).resolve().relative_to(base).as_posix()
        except ValueError:
            name = Path(r.path).name
        images.append({"id": int(r.image_id), "file_name": name, "width": int(w), "height": int(h)})
        for (x1, y1, x2, y2), cat in zip(r.boxes.tolist(), r.labels.tolist()):
            boxes.append(
                {"image_id": int(r.image_id), "bbox": [x1, y1, x2 - x1, y2 - y1], "digit": int(cat) - 1}
            )
    return coco_ground_truth(images, boxes)


def label_texts(
    fmt: str,
    coco: dict,
    images_dir: str | Path,
    out_dir: str | Path,
    reviewed: bool | Collection[int] = False,
) -> dict[str, str]:
    """``{file name: text}`` of a COCO ground-truth dict in ``fmt``, for files written into ``out_dir``
    (``voc``/``labelme``: ``<stem>.xml``/``.json`` per image; ``yolo``: ``<stem>.txt`` and
    ``classes.txt``; ``coco``: ``annotations.json``). ``reviewed`` (True: every image, or image ids)
    marks images as a person checked them: labelImg's ``verified="yes"``, labelme's ``"checked": true``."""
    if fmt == "coco":
        return {"annotations.json": coco_text(coco)}
    if fmt not in _WRITERS:
        raise AnnotationError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    return _WRITERS[fmt](coco, Path(images_dir), Path(out_dir), reviewed)
