"""COCO mAP on in-memory ground truth, as training and `eval` compute it."""

from pathlib import Path

import numpy as np
import pytest

from trainer.data import Record
from trainer.evaluate import coco_from_records, coco_map


def _records() -> list[Record]:
    boxes = np.array([[10, 5, 20, 25], [22, 5, 32, 25]], np.float32)
    return [Record(7, Path("7.png"), 64, 32, boxes, np.array([2, 5], np.int64))]


def test_ground_truth_carries_the_info_section_that_load_res_copies():
    gt = coco_from_records(_records())
    # pycocotools 2.0.10 copies dataset["info"] into every result set and fails without it
    assert "info" in gt.dataset
    assert len(gt.getAnnIds()) == 2


def test_exact_detections_score_full_map_and_a_wrong_digit_scores_half():
    gt = coco_from_records(_records())
    exact = [
        {"image_id": 7, "bbox": [10, 5, 10, 20], "score": 0.9, "category_id": 2},
        {"image_id": 7, "bbox": [22, 5, 10, 20], "score": 0.8, "category_id": 5},
    ]
    assert coco_map(gt, exact)["mAP"] == pytest.approx(1.0)
    wrong = [exact[0], {**exact[1], "category_id": 6}]
    assert coco_map(gt, wrong)["AP50"] == pytest.approx(0.5)
