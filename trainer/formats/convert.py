"""``python -m trainer convert``: ground truth from one format to another, through COCO."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DigitError
from ..export import atomic_write_text, write_outputs
from . import label_texts, load_annotations, records_to_coco
from .common import LabelSet


@dataclass
class Converted:
    labels: LabelSet
    files: list[Path]
    images: int
    boxes: int


def convert(
    images: str | Path, ann: str | Path | None, src: str, dst: str, out: str | Path | None
) -> Converted:
    """Read ``src`` labels of the images in ``images`` and write them as ``dst``.

    COCO goes to one JSON file (``out``, required), never onto an existing file. VOC, YOLO and
    labelme go to a folder (``out``, else the images' own folder) through
    :func:`~trainer.export.write_outputs`: files are listed in its manifest, so running the command
    again replaces its own earlier files but never a label file it did not write.
    """
    images = Path(images)
    labels = load_annotations(ann, images, src)
    coco = records_to_coco(labels.records, images)
    n_boxes = len(coco["annotations"])
    if dst == "coco":
        if out is None:
            raise ValueError("--out FILE.json is needed to write COCO")
        out = Path(out)
        if out.exists():
            raise DigitError(f"{out} exists; convert never replaces a COCO file: give a new name")
        coco["info"] = {"description": f"converted from {labels.fmt} labels of {images.name}"}
        atomic_write_text(out, label_texts("coco", coco, images, out.parent)["annotations.json"])
        return Converted(labels, [out], len(coco["images"]), n_boxes)
    out_dir = Path(out) if out is not None else images
    reviewed = {r.image_id for r in labels.records if r.reviewed}  # verified / checked carried over
    texts = label_texts(dst, coco, images, out_dir, reviewed)
    files = write_outputs(out_dir, texts, replace_earlier=True)
    return Converted(labels, files, len(coco["images"]), n_boxes)
