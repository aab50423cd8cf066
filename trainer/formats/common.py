"""What every label-file format shares: the result type, digit names, box checks, image matching."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import Record
from ..export import written_by_export
from ..imageio import READ_ERRORS, Listing, assign_ids, image_size, list_images, stored_size

FORMATS = ("coco", "voc", "yolo", "labelme")
FOLDER_FORMATS = ("voc", "yolo", "labelme")
SUFFIX = {"voc": ".xml", "yolo": ".txt", "labelme": ".json"}
TITLE = {"coco": "COCO", "voc": "Pascal VOC", "yolo": "YOLO", "labelme": "labelme"}
DIGIT_NAMES = [str(d) for d in range(10)]
MIN_SIDE = 1.0  # the smallest box side kept, as for COCO files (trainer.data.load_coco)
EDGE_SLACK = 0.005  # px a box may pass the image edge (decimal rounding) before it counts as outside


@dataclass
class LabelSet:
    """Ground truth read from any format, as the engine's records.

    ``warnings`` name the file and line of every entry that was dropped, clipped or ignored (each
    ends with "; dropped", "; clipped", "; ignored", "; file skipped", or "; rotated" / "; noted" for
    boxes of an EXIF-turned image); ``other_labels`` counts the
    boxes whose label is not a digit name ("0".."9"): they are kept out, never silently.
    """

    records: list[Record]
    warnings: list[str]
    source: Path
    fmt: str
    other_labels: Counter = field(default_factory=Counter)

    def other_labels_text(self) -> str | None:
        if not self.other_labels:
            return None
        n = sum(self.other_labels.values())
        parts = ", ".join(f"{name!r} x{k}" for name, k in self.other_labels.most_common(8))
        more = f" and {len(self.other_labels) - 8} more labels" if len(self.other_labels) > 8 else ""
        return f"{n} boxes whose label is not a digit (0-9) were kept out: {parts}{more}"

    def all_warnings(self) -> list[str]:
        """The warnings, then one line for the labels kept out (what a command line prints)."""
        extra = self.other_labels_text()
        return self.warnings + ([extra] if extra else [])

    def summary(self, show: int = 5) -> str | None:
        """A few lines for the user: counts by kind, the first warnings, the labels kept out."""
        if not self.warnings and not self.other_labels:
            return None
        kinds = Counter(w.rsplit("; ", 1)[-1] if "; " in w else "noted" for w in self.warnings)
        counts = ", ".join(f"{k} {kind}" for kind, k in kinds.most_common())
        head = f"{TITLE.get(self.fmt, self.fmt)} labels in {self.source}"
        lines = [f"{head}: {counts}." if counts else f"{head}:"] + self.warnings[:show]
        if len(self.warnings) > show:
            lines.append(f"... and {len(self.warnings) - show} more.")
        if self.other_labels:
            lines.append(self.other_labels_text() + ".")
        return "\n".join(lines)


def digit_of(label) -> int | None:
    """The digit a label names ("0".."9", surrounding spaces allowed), else None."""
    text = str(label).strip()
    return int(text) if text in DIGIT_NAMES else None


def fmt_px(v: float) -> str:
    """A pixel coordinate as labelImg writes it: "24" for whole pixels, else up to 2 decimals."""
    r = round(float(v), 2)
    if r == int(r):
        return str(int(r))
    return f"{r:.2f}".rstrip("0")


def place_box(
    box: tuple[float, float, float, float], size: tuple[int, int], where: str, warnings: list[str]
) -> tuple[float, float, float, float] | None:
    """Check an xyxy box against a (width, height) image: clipped when it passes an edge, dropped
    when nothing of at least 1 px is left. Every change is reported in ``warnings``."""
    x1, y1, x2, y2 = box
    if not all(math.isfinite(v) for v in box):
        warnings.append(f"{where}: coordinates are not finite numbers; dropped")
        return None
    if x2 < x1 or y2 < y1:
        warnings.append(f"{where}: the box ends before it starts ({_xyxy(box)}); dropped")
        return None
    w, h = size
    cx1, cy1, cx2, cy2 = max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2)
    moved = max(cx1 - x1, cy1 - y1, x2 - cx2, y2 - cy2)
    if not (cx2 - cx1 >= MIN_SIDE and cy2 - cy1 >= MIN_SIDE):
        what = "outside the image" if moved > EDGE_SLACK else "smaller than 1 px"
        warnings.append(f"{where}: box ({_xyxy(box)}) {what} ({w}x{h}); dropped")
        return None
    if moved > EDGE_SLACK:
        warnings.append(f"{where}: box ({_xyxy(box)}) passes the edge of the {w}x{h} image; clipped")
    return cx1, cy1, cx2, cy2


def _xyxy(box) -> str:
    return ", ".join(f"{v:g}" for v in box)


class ImageFolder:
    """The images of one folder, matched to label files by file stem, with the folder's image ids.

    ``listing`` lists each folder once for everything that looks into it (:class:`~trainer.imageio.Listing`).
    """

    def __init__(self, images_dir: str | Path, listing: Listing | None = None) -> None:
        self.dir = Path(images_dir).resolve()
        self.listing = listing or Listing()
        paths = list_images(self.dir, self.listing)
        self.ids = assign_ids(paths)
        self.by_stem: dict[str, Path] = {}
        self.duplicates: list[Path] = []  # a second image with the same stem (1.png and 1.jpg)
        for p in paths:
            if p.stem in self.by_stem:
                self.duplicates.append(p)
            else:
                self.by_stem[p.stem] = p

    def size(self, path: Path, where: str, warnings: list[str]) -> tuple[int, int] | None:
        """(width, height) from the image header, or None with a warning when it cannot be read."""
        try:
            w, h = image_size(path)
        except READ_ERRORS as exc:
            warnings.append(f"{where}: cannot read the size of {path.name} ({exc}); file skipped")
            return None
        return w, h

    def upright(
        self,
        img: Path,
        label_file: Path,
        stated: tuple[int, int] | None,
        where: str,
        size_key: str,
        warnings: list[str],
        drawn_on_stored: bool,
    ) -> tuple[tuple[int, int], tuple[int, int], int] | None:
        """How a label file's boxes sit on its image as shown (EXIF orientation applied).

        Returns (size as shown, size as stored, orientation to turn the boxes by: 1 = as they are),
        or None (warned; file skipped) when the file's ``stated`` size fits the image neither way.
        A file whose size is the stored one of a turned image was written by a tool that ignores EXIF
        (labelImg): its boxes are turned upright. When the size cannot tell (no size, as in YOLO, or a
        turn that keeps it, such as 180 degrees), ``drawn_on_stored`` says what the format's usual
        tool does; files our export wrote are upright. Every turn or doubt is a warning naming the file.
        """
        try:
            stored, orient = stored_size(img)
        except READ_ERRORS as exc:
            if stated is not None:
                return stated, stated, 1  # the file's own size, unchecked (the image shows its error)
            warnings.append(f"{where}: cannot read the size of {img.name} ({exc}); file skipped")
            return None
        shown = (stored[1], stored[0]) if orient >= 5 else stored
        if stated is not None and stated not in (stored, shown):
            also = f", {stored[0]}x{stored[1]} as stored" if stored != shown else ""
            warnings.append(
                f"{where}: {size_key} {stated[0]}x{stated[1]} but {img.name} is {shown[0]}x{shown[1]}{also}: "
                "the boxes belong to another image; file skipped"
            )
            return None
        if orient == 1 or (stated == shown and stated != stored):
            return shown, stored, 1
        turned = f"{img.name} is stored {stored[0]}x{stored[1]} and shown turned (EXIF orientation {orient})"
        if stated is not None and stated != shown:  # the stored size: drawn ignoring EXIF
            warnings.append(
                f"{where}: {turned}; the file's {size_key} is the stored size, so its boxes were drawn on "
                "the stored pixels (as labelImg does) and are turned with the image; rotated"
            )
            return shown, stored, orient
        if written_by_export(label_file):  # our own export writes boxes on the image as shown
            return shown, stored, 1
        if drawn_on_stored:
            warnings.append(
                f"{where}: {turned}; the file cannot say which way up its boxes were drawn: read as drawn "
                "on the stored pixels (as labelImg does) and turned with the image; check them; rotated"
            )
            return shown, stored, orient
        warnings.append(
            f"{where}: {turned}; the file cannot say which way up its boxes were drawn: read on the image "
            "as shown; check them; noted"
        )
        return shown, stored, 1

    def record(
        self, path: Path, size: tuple[int, int], boxes: list, labels: list, reviewed: bool = False
    ) -> Record:
        return Record(
            self.ids[path],
            path,
            int(size[0]),
            int(size[1]),
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(labels, np.int64),
            reviewed,
        )

    def label_files(self, label_dir: Path, suffix: str, warnings: list[str]) -> list[tuple[Path, Path]]:
        """(image, label file) pairs in natural image order; label files without an image are reported."""
        label_dir = Path(label_dir)
        try:
            present = {n for n in self.listing.files(label_dir) if n.endswith(suffix)}
        except OSError:  # a folder that cannot be read holds no label files
            present = set()
        pairs = []
        for stem, img in self.by_stem.items():
            if stem + suffix in present:
                pairs.append((img, label_dir / (stem + suffix)))
        names = {f.name for _i, f in pairs}
        for f in (label_dir / n for n in sorted(present)):
            if f.name not in names and f.name not in IGNORED_NAMES and f.stem not in self.by_stem:
                if suffix == ".json" and _looks_foreign_json(f):
                    continue
                warnings.append(f"{f}: no image named {f.stem}.* in {self.dir}; file skipped")
        for p in self.duplicates:
            warnings.append(
                f"{p}: another image has the same name stem ({p.stem}); not matched; file skipped"
            )
        return pairs


# files that live among label files but are not per-image labels
IGNORED_NAMES = {"classes.txt", "data.yaml", "digitstudio-export.json", ".digitstudio.json"}


def reviewed_ids(coco: dict, reviewed: bool | Collection[int]) -> set[int]:
    """The image ids of a COCO dict whose label files say they were reviewed: all (True), none
    (False), or the ids given."""
    if reviewed is True:
        return {int(im["id"]) for im in coco["images"]}
    return set() if reviewed is False else {int(i) for i in reviewed}


def _looks_foreign_json(path: Path) -> bool:
    """JSON files beside labelme files that are not labelme (a COCO file, our own sidecars)."""
    return path.name.startswith(".") or path.name in {"annotations.json", "pred.json"}


def line_of(text: str, pos: int) -> int:
    """1-based line number of character ``pos`` in ``text``."""
    return text.count("\n", 0, max(0, pos)) + 1
