"""The document as a data set (no Qt): which boxes count as truth, image sizes, and document -> COCO.

Every COCO file the app writes from the document (the export's ``annotations.json``, saved
corrections, a training run's sets) is built by :func:`document_coco`; the callers only say which
images take part and which of their boxes count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from trainer.export import coco_ground_truth
from trainer.imageio import READ_ERRORS, image_size

from .state import UNKNOWN_DIGIT, ImageEntry, Status, shown_boxes

Rect = tuple[float, float, float, float]
BoxesOf = Callable[[ImageEntry], Iterable[tuple[Rect, int]]]  # an image's (rect, digit) that count
SizeOf = Callable[[ImageEntry], "tuple[int, int] | None"]

CORRECTED = (Status.LABELLED, Status.EDITED, Status.REVIEWED)  # a person's boxes: saved as corrections


def snapshot(entries: Iterable[ImageEntry]) -> list[ImageEntry]:
    """Shallow copies for a worker thread: layers and predictions are immutable, so it is safe."""
    return [
        ImageEntry(e.name, e.path, e.image_id, e.size, e.layer, e.pred, e.error, e.has_gt) for e in entries
    ]


def unreadable(e: ImageEntry) -> bool:
    """The image could not be decoded and the model has nothing for it."""
    return bool(e.error) and e.pred is None


def image_size_of(e: ImageEntry) -> tuple[int, int] | None:
    """The image's (width, height), read from the file when not known yet; None if unreadable."""
    if e.size and e.size[0] > 0 and e.size[1] > 0:
        return e.size
    try:
        w, h = image_size(e.path)
    except READ_ERRORS:
        return None
    return (w, h) if w > 0 and h > 0 else None


def readable_sizes(entries: Iterable[ImageEntry]) -> dict[str, tuple[int, int]]:
    """Name -> (width, height) of the images that can be read (header reads for unknown sizes)."""
    sizes = {}
    for e in entries:
        if not unreadable(e):
            size = image_size_of(e)
            if size is not None:
                sizes[e.name] = size
    return sizes


def checked_boxes(e: ImageEntry) -> list[tuple[Rect, int]]:
    """The boxes a person checked (ground truth, edits, reviews), in their order."""
    return [(b.rect, b.digit) for b in e.layer.boxes]


def is_corrected(e: ImageEntry) -> bool:
    """The image has boxes a person made or checked (labelled, edited or reviewed)."""
    return e.layer.status in CORRECTED


def training_boxes(threshold: float) -> BoxesOf:
    """What a training run learns from an image: the boxes shown at ``threshold`` that a person
    checked, every shown box once the image is reviewed."""

    def boxes(e: ImageEntry) -> list[tuple[Rect, int]]:
        reviewed = e.layer.status == Status.REVIEWED
        return [(s.rect, s.digit) for s in shown_boxes(e, threshold) if s.checked or reviewed]

    return boxes


@dataclass
class DocumentCoco:
    """A COCO set built from the document, and what was left out of it."""

    coco: dict
    unreadable: list[ImageEntry] = field(default_factory=list)  # images whose size cannot be read
    unlabelled_boxes: int = 0  # boxes without a digit ("?")


def document_coco(
    entries: Iterable[ImageEntry],
    include: Callable[[ImageEntry], bool] = lambda e: True,
    boxes: BoxesOf = checked_boxes,
    size_of: SizeOf | None = None,
) -> DocumentCoco:
    """COCO ground truth of the ``include``-d images, in the document's order, with the ``boxes``
    that count (those without a digit are left out and counted). An image whose size cannot be
    read (``size_of``, by default :func:`image_size_of`) is left out with its boxes."""
    size_of = size_of or image_size_of
    images: list[dict] = []
    anns: list[dict] = []
    out = DocumentCoco({})
    for e in entries:
        if not include(e):
            continue
        size = size_of(e)
        if size is None:
            out.unreadable.append(e)
            continue
        images.append({"id": e.image_id, "file_name": e.name, "width": size[0], "height": size[1]})
        for rect, digit in boxes(e):
            if digit == UNKNOWN_DIGIT:
                out.unlabelled_boxes += 1
            else:
                anns.append({"image_id": e.image_id, "bbox": list(rect), "digit": digit})
    out.coco = coco_ground_truth(images, anns)
    return out
