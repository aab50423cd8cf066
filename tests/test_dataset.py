"""Document -> COCO (digitgui/dataset.py): one builder behind the export's ground truth, saved
corrections and a training run's sets, each with the images and boxes it always had."""

from __future__ import annotations

import numpy as np
import pytest

from digitgui import dataset
from digitgui.dataset import document_coco, is_corrected, training_boxes
from digitgui.services.export import build_export, corrections_coco
from digitgui.services.training import TrainingPlan, build_training_data
from digitgui.state import UNKNOWN_DIGIT, Box, ImageEntry, Layer, Prediction, Status
from trainer.export import EXPORT_MARK, coco_ground_truth

THRESHOLD = 0.5


@pytest.fixture
def entries(tmp_path):
    """A small document: reviewed, labelled, edited (one unreadable), predicted images."""

    def entry(i, name, status, boxes=(), size=None, pred=None, has_gt=False):
        layer = Layer(boxes=tuple(Box(k, *b) for k, b in enumerate(boxes, 1)), status=status)
        return ImageEntry(name, tmp_path / name, i, size, layer, pred, None, has_gt)

    pred = Prediction(
        np.array([[3, 3, 4, 4]], np.float32), np.array([0.9], np.float32), np.array([8], np.int64)
    )
    return [
        entry(1, "a.png", Status.REVIEWED, [(1, 2, 3, 4, 5), (5, 5, 2, 2, UNKNOWN_DIGIT)], (40, 30)),
        entry(2, "b.png", Status.LABELLED, [(0, 0, 10, 10, 3)], (50, 20), pred, has_gt=True),
        entry(3, "c.png", Status.EDITED, [(1, 1, 1, 1, 2)]),  # no size, no file: unreadable
        entry(4, "d.png", Status.PREDICTED, (), (30, 30), pred),
        entry(5, "e.png", Status.REVIEWED, [(1.234, 2, 3, 4, 7)], (20, 20)),
        entry(6, "f.png", Status.EDITED, [(2, 2, 2, 2, 0)], (10, 10), pred),
    ]


def _image(i, name, w, h):
    return {"id": i, "file_name": name, "width": w, "height": h}


def _box(i, bbox, digit):
    return {"image_id": i, "bbox": list(bbox), "digit": digit}


A, B, E, F = (
    _image(1, "a.png", 40, 30),
    _image(2, "b.png", 50, 20),
    _image(5, "e.png", 20, 20),
    _image(6, "f.png", 10, 10),
)
BOX_A, BOX_B = _box(1, (1, 2, 3, 4), 5), _box(2, (0, 0, 10, 10), 3)
BOX_E, BOX_F = _box(5, (1.234, 2, 3, 4), 7), _box(6, (2, 2, 2, 2), 0)


def test_corrections_are_every_image_a_person_checked(entries):
    built = document_coco(entries, is_corrected)
    expected = coco_ground_truth([A, B, E, F], [BOX_A, BOX_B, BOX_E, BOX_F])
    assert built.coco == expected
    assert [e.name for e in built.unreadable] == ["c.png"] and built.unlabelled_boxes == 1
    assert corrections_coco(entries) == (expected, 1, 1)


def test_the_exports_ground_truth_is_the_reviewed_images(entries, tmp_path):
    _dets, _rows, coco, summary = build_export(entries, THRESHOLD, tmp_path)
    expected = coco_ground_truth([A, E], [BOX_A, BOX_E])
    assert coco == {**expected, "info": {**coco["info"], "written_by": EXPORT_MARK}}
    assert summary.reviewed == 2 and summary.unreadable == 0


def test_training_learns_reviewed_and_ground_truth_images(entries):
    data = build_training_data(entries, THRESHOLD, TrainingPlan(holdout=0.0))
    assert data.train == coco_ground_truth([A, E, B], [BOX_A, BOX_E, BOX_B])
    assert data.heldout == coco_ground_truth([], [])
    # the predictions shown on an edited image are not truth; its checked boxes are
    shown = document_coco(entries[5:], boxes=training_boxes(0.0))
    assert shown.coco == coco_ground_truth([F], [BOX_F])


def test_training_asks_each_images_size_once(entries, monkeypatch):
    asked = []
    real = dataset.image_size_of
    monkeypatch.setattr(dataset, "image_size_of", lambda e: asked.append(e.name) or real(e))
    build_training_data(entries, THRESHOLD, TrainingPlan(holdout=0.0))
    assert asked == ["a.png", "b.png", "e.png"]
