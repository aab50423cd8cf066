import csv
import json

import pytest
from pycocotools.coco import COCO

from trainer.export import (
    atomic_write_text,
    coco_ground_truth,
    detection_entries,
    task1_text,
    task2_text,
    write_coco,
)


def test_task1_loads_in_pycocotools_against_our_gt(tmp_path):
    images = [
        {"id": 5, "file_name": "5.png", "width": 100, "height": 50},
        {"id": 9, "file_name": "9.png", "width": 80, "height": 40},
    ]
    gt_boxes = [
        {"image_id": 5, "bbox": [10, 5, 10, 20], "digit": 3},
        {"image_id": 9, "bbox": [1, 2, 3, 4], "digit": 0},
    ]
    write_coco(tmp_path / "gt.json", coco_ground_truth(images, gt_boxes))
    entries = detection_entries(5, [[10, 5, 10, 20]], [0.9], [3]) + detection_entries(9, [], [], [])
    atomic_write_text(tmp_path / "pred.json", task1_text(entries))
    gt = COCO(str(tmp_path / "gt.json"))
    dt = gt.loadRes(str(tmp_path / "pred.json"))
    ann = dt.loadAnns(dt.getAnnIds())[0]
    assert ann["category_id"] == 4 and ann["image_id"] == 5
    assert ann["bbox"] == [10.0, 5.0, 10.0, 20.0]
    assert set(json.loads((tmp_path / "pred.json").read_text())[0]) == {
        "image_id",
        "bbox",
        "score",
        "category_id",
    }
    gt_anns = gt.loadAnns(gt.getAnnIds())
    assert sorted(a["category_id"] for a in gt_anns) == [1, 4]


def test_task2_csv_sorted_with_minus_one(tmp_path):
    atomic_write_text(tmp_path / "pred.csv", task2_text([(10, 42), (2, -1), (3, 7)]))
    rows = list(csv.reader((tmp_path / "pred.csv").open()))
    assert rows == [["image_id", "pred_label"], ["2", "-1"], ["3", "7"], ["10", "42"]]


def test_atomic_write_leaves_no_temp_and_keeps_old_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(p, "new")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["f.txt"]
