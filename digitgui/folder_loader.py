"""Turn a folder (plus its ground truth and project files) into document entries.

Lists file names only: image sizes and pixels are read later, when an image is shown or
predicted, so a folder of 13,000 photos opens in a fraction of a second.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from trainer.errors import DigitError
from trainer.export import written_by_export
from trainer.formats import find_labels, load_annotations
from trainer.imageio import Listing, assign_ids, list_images

from .edits import renumber_boxes
from .journal import JOURNAL_NAME, read_journal
from .project_file import ProjectData, parse_layer, read_predictions, read_project
from .project_store import Location
from .state import Box, ImageEntry, Layer, Status, resolve_legacy

log = logging.getLogger(__name__)


@dataclass
class OpenedFolder:
    """Everything needed to fill the document for one folder."""

    folder: Path
    entries: list[ImageEntry]
    location: Location
    current: int = 0
    threshold: float | None = None
    gt_source: Path | None = None
    messages: list[str] = field(default_factory=list)
    gt_warnings: list[str] = field(default_factory=list)  # entries of the COCO file dropped or fixed
    needs_save: bool = False  # the project read was converted or completed: write it back soon
    journal_seq: int = 0  # the last edit journal record read (new ones continue from it)
    replayed: int = 0  # edits restored from the journal (they were not in the project file yet)


def find_ground_truth(
    folder: Path, skipped: list[Path] | None = None, listing: Listing | None = None
) -> Path | None:
    """COCO file of a folder in the dataset layout: ``folder/annotations.json`` or ``../<folder>.json``;
    else the folder of VOC, YOLO or labelme files of its images (:func:`trainer.formats.find_labels`).

    A file an export wrote is results, not ground truth: it is passed over (and added to
    ``skipped``); *Open annotations* still loads it when the user asks for it. ``listing``: the
    caller's listing of the folder, when it has one (the folder is then not listed again).
    """
    for cand in (folder / "annotations.json", folder.parent / f"{folder.name}.json"):
        if cand.is_file():
            if written_by_export(cand):
                if skipped is not None:
                    skipped.append(cand)
                continue
            return cand
    found = find_labels(
        folder, listing=listing
    )  # VOC, YOLO or labelme files beside the images or in labels/, Annotations/
    return found[1] if found else None


def _gt_layers(
    gt: Path, folder: Path, out: OpenedFolder, listing: Listing | None = None
) -> tuple[dict[str, int], dict[str, Layer], dict]:
    """Image ids, checked layers and sizes from a COCO file or a folder (or one file) of VOC, YOLO or
    labelme labels (errors become messages)."""
    try:
        coco = load_annotations(gt, folder, check_files=False, listing=listing)
    except DigitError as exc:
        out.messages.append(f"Ground truth not loaded: {exc}")
        return {}, {}, {}
    if coco.fmt == "coco":
        out.gt_warnings = list(coco.warnings)
    elif coco.summary():
        out.messages.append(coco.summary())
    root = folder.resolve()
    ids, layers, sizes = {}, {}, {}
    for rec in coco.records:
        if rec.path.parent != root:
            continue
        name = rec.path.name
        ids[name] = rec.image_id
        boxes = [  # ids are given to every box of the folder at once (renumber_boxes)
            Box(0, x1, y1, x2 - x1, y2 - y1, int(cat) - 1)
            for (x1, y1, x2, y2), cat in zip(rec.boxes.tolist(), rec.labels.tolist())
        ]
        # labelImg's verified="yes" and labelme's "checked": true: a person reviewed the image
        layers[name] = Layer(tuple(boxes), frozenset(), Status.REVIEWED if rec.reviewed else Status.LABELLED)
        if rec.width and rec.height:
            sizes[name] = (rec.width, rec.height)
    return ids, layers, sizes


def gt_warning_message(gt: Path, warnings: list[str], show: int = 5) -> str:
    """What the user is told about entries of a ground-truth file that were dropped or fixed."""
    dropped = sum(w.endswith("dropped") for w in warnings)
    fixed = len(warnings) - dropped
    parts = []
    if dropped:
        parts.append(f"{dropped} ground-truth {'entry' if dropped == 1 else 'entries'} dropped")
    if fixed:
        parts.append(f"{fixed} fixed or ignored")
    lines = [f"Ground truth {gt.name}: {', '.join(parts)}."] + warnings[:show]
    if len(warnings) > show:
        lines.append(f"… and {len(warnings) - show} more.")
    return "\n".join(lines)


def open_folder(
    folder: Path, gt: Path | None = None, use_project: bool = True, use_gt: bool = True
) -> OpenedFolder:
    """List a folder's images and merge ground truth, the project file and the prediction cache.

    ``use_gt=False`` ignores any ground truth (photos are then checked from predictions only).

    Raises ``FileNotFoundError`` for a missing folder; other problems become ``messages``.
    The folder is listed once: the image list and the search for label files share one listing.
    """
    folder = Path(folder).resolve()
    listing = Listing()
    paths = list_images(folder, listing)
    location = Location.for_folder(folder)
    out = OpenedFolder(folder, [], location)
    project = ProjectData()
    journal = location.journal
    if use_project:
        existing = location.existing_project()
        if existing is not None:
            project, msgs = read_project(existing)
            out.messages += msgs
            journal = existing.with_name(JOURNAL_NAME)
    if gt is None and project.gt_source and Path(project.gt_source).exists():
        gt = Path(project.gt_source)
    if gt is None and use_gt:
        skipped: list[Path] = []
        gt = find_ground_truth(folder, skipped, listing)
        out.messages += [
            f"{p.name} in {p.parent} was written by a Digit Studio export, so it is not loaded as "
            "ground truth (File ▸ Open annotations loads it)."
            for p in skipped
        ]
    if not use_gt:
        gt = None
    gt_ids, gt_layers, gt_sizes = _gt_layers(gt, folder, out, listing) if gt else ({}, {}, {})
    out.gt_source = gt if gt and (gt_ids or not out.messages) else None
    if out.gt_warnings:
        out.messages.append(gt_warning_message(gt, out.gt_warnings))
    cache = read_predictions(location.predictions) if use_project else {}
    by_path = assign_ids(paths, gt_ids)
    ids = [by_path[p] for p in paths]
    entries = []
    for p, image_id in zip(paths, ids):
        name = p.name
        e = ImageEntry(name, p, image_id, has_gt=name in gt_layers)
        e.size = gt_sizes.get(name) or project.sizes.get(name)
        if name in gt_layers:
            e.layer = gt_layers[name]
        if name in project.layers:
            e.layer = project.layers[name]
        if name in cache:
            pred, size = cache[name]
            e.pred = pred
            if size[0] > 0 and e.size is None:
                e.size = size
        legacy = project.legacy_suppressed.get(name)
        if legacy and name in project.layers:
            # a version-1 project hid predictions by index: turn them into spots where the
            # predictions they name are known, else when the first predictions arrive
            if e.pred is not None:
                e.layer = replace(e.layer, hidden=e.layer.hidden | resolve_legacy(legacy, e.pred))
                out.needs_save = True
            else:
                e.legacy_suppressed = legacy
        e.error = project.errors.get(name)
        entries.append(e)
    current = project.current
    if use_project:
        current = _replay(journal, project.journal_seq, entries, out) or current
    renumber_boxes(entries)
    out.entries = entries
    out.threshold = project.threshold
    if current:
        out.current = next((i for i, e in enumerate(entries) if e.name == current), 0)
    if location.in_user_data:
        out.messages.append(
            f"{folder} is read-only: your work is saved in {location.project.parent} instead."
        )
    return out


def _replay(path: Path, after: int, entries: list[ImageEntry], out: OpenedFolder) -> str | None:
    """Apply the edit journal's records newer than the project file; returns the last current image."""
    records, last = read_journal(path, after, out.messages)
    out.journal_seq = max(after, last)
    by_name = {e.name: e for e in entries}
    current = None
    for rec in records:
        e = by_name.get(rec.get("image"))
        try:
            layer = parse_layer(rec["layer"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("skipping edit journal record %s: %s", rec.get("seq"), exc)
            continue
        if e is not None:
            e.layer, e.legacy_suppressed = layer, frozenset()
            out.replayed += 1
        if isinstance(rec.get("current"), str):
            current = rec["current"]
    if out.replayed:
        log.info("restored %d edits from %s", out.replayed, path)
        out.needs_save = True  # write them into the project file, which empties the journal
    return current
