"""The window's side of other tools' formats: the export format menu, opening another model's
predictions, and which image folder a label file belongs to. The formats themselves are read and
written in :mod:`trainer.formats`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction, QActionGroup

from trainer.errors import DigitError
from trainer.formats import TITLE, read_predictions
from trainer.imageio import list_images

from . import dialogs, settings
from .window_api import WindowHost

EXPORT_CHOICES = [
    ("coco", "COCO ground truth (annotations.json)"),
    ("voc", "Pascal VOC XML (voc/)"),
    ("yolo", "YOLO txt + classes.txt (yolo/)"),
    ("labelme", "labelme JSON (labelme/)"),
]


def build_export_format_menu(win: WindowHost, file_menu) -> dict[str, QAction]:
    """File ▸ Export ground truth as ▸ one of the formats, remembered per image folder."""
    menu = file_menu.addMenu("Export &ground truth as")
    menu.setToolTip("The format of the reviewed images' boxes written beside pred.json and pred.csv")
    group = QActionGroup(win)
    group.setExclusive(True)
    acts: dict[str, QAction] = {}
    for fmt, text in EXPORT_CHOICES:
        act = QAction(text, win)
        act.setCheckable(True)
        act.setData(fmt)
        group.addAction(act)
        menu.addAction(act)
        act.triggered.connect(lambda _c=False, f=fmt: _choose(win, f))
        acts[fmt] = act
    acts["coco"].setChecked(True)
    win.doc.reset.connect(lambda: _sync(win, acts))
    menu.aboutToShow.connect(lambda: _sync(win, acts))
    return acts


def _choose(win: WindowHost, fmt: str) -> None:
    if win.doc.folder is not None:
        settings.set_export_format(win.doc.folder, fmt)
        win.statusBar().showMessage(f"Export writes the reviewed images' ground truth as {TITLE[fmt]}.", 6000)


def _sync(win: WindowHost, acts: dict[str, QAction]) -> None:
    fmt = settings.export_format(win.doc.folder) if win.doc.folder is not None else "coco"
    acts[fmt].setChecked(True)


def export_format(win: WindowHost) -> str:
    return settings.export_format(win.doc.folder) if win.doc.folder is not None else "coco"


def image_folder_for(path: Path) -> Path:
    """The image folder a label file or folder opened on its own belongs to: a COCO ``x.json``
    beside ``x/``; else the folder holding it, or the one above (``Annotations/``, ``labels/``)."""
    path = Path(path)
    if path.suffix.lower() == ".json" and path.with_suffix("").is_dir():
        return path.with_suffix("")
    here = path if path.is_dir() else path.parent
    for cand in (here, here.parent, here.parent / "images", here.parent / "JPEGImages"):
        try:
            if cand.is_dir() and list_images(cand):
                return cand
        except OSError:
            continue
    return here


def choose_predictions(win: WindowHost) -> None:
    if not len(win.doc):
        win.message("warning", "Open a folder of images first, then its predictions.")
        return
    path = dialogs.choose_open_file(
        win,
        "Open predictions of another model",
        str(win.doc.folder),
        "COCO results or YOLO txt (*.json *.txt)",
    )
    if path:
        open_predictions(win, Path(path))


def open_predictions(win: WindowHost, path: Path) -> bool:
    """Show another model's detections (COCO results JSON, or YOLO txt with confidences) as the
    predictions of the open folder's images, to be reviewed like the bundled model's."""
    doc = win.doc
    ids = {e.name: e.image_id for e in doc.entries}
    try:
        det = read_predictions(path, doc.folder, ids)
    except (OSError, DigitError) as exc:
        win.message("error", f"Predictions not loaded: {exc}")
        return False
    n_images = win.predictions.set_external(det.by_name, f"file:{Path(path).name}")
    n_boxes = sum(
        len(scores) for name, (_b, scores, _d) in det.by_name.items() if doc.row_of(name) is not None
    )
    text = (
        f"Loaded {n_boxes} predicted boxes for {n_images} images from {Path(path).name} ({TITLE[det.fmt]})."
    )
    extra = list(det.warnings[:5])
    if len(det.warnings) > 5:
        extra.append(f"... and {len(det.warnings) - 5} more.")
    if det.other_labels:
        n = sum(det.other_labels.values())
        parts = ", ".join(f"{k!r} x{v}" for k, v in det.other_labels.most_common(8))
        extra.append(f"{n} boxes whose class is not a digit were kept out: {parts}.")
    win.message("warning" if extra else "info", "\n".join([text, *extra]))
    return True
