"""One-button export: pred.json / pred.csv / annotations.json, checked against pycocotools."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from guihelpers import drag, wait_model, wait_shown
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from PySide6.QtCore import Qt

from digitgui import dialogs, settings
from digitgui.state import Status
from trainer.export import DET_THRESH


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _export(qtbot, win, timeout=60000):
    with qtbot.waitSignal(win.export_finished, timeout=timeout) as sig:
        qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert not isinstance(sig.args[0], str), sig.args[0]
    return sig.args[0]


def test_export_predicts_missing_and_writes_valid_files(
    qtbot, window, dataset, tmp_path, monkeypatch, isolated_user_dirs
):
    out = tmp_path / "out"
    asked = []
    monkeypatch.setattr(dialogs, "choose_output_folder", lambda *a, **k: asked.append(a) or str(out))
    replaced = []
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text: replaced.append(text) or True)
    (dataset / "3.png").write_bytes(b"\x89PNG broken")
    win = window
    win.open_folder(dataset)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    win.doc.set_threshold(0.05)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)  # review image 1.png: GT boxes + shown predictions
    reviewed = win.doc.entry(0)
    assert reviewed.layer.status == Status.REVIEWED
    assert any(e.pred is None for e in win.doc.entries)  # export must predict these first
    summary = _export(qtbot, win)
    assert len(asked) == 1 and settings.export_folder(dataset) == str(out)
    assert all(e.pred is not None or e.error for e in win.doc.entries)
    assert summary.images == 8 and summary.reviewed == 1 and summary.unreadable == 1
    assert any(str(out) in t and "pred.json" in t for _lvl, t in isolated_user_dirs) or any(
        "pred.json" in t for _lvl, t in win.messages
    )
    # task 1: a COCO result list loadable against the dataset's ground truth
    gt = COCO(str(dataset.parent / "train.json"))
    dets = json.loads((out / "pred.json").read_text())
    assert dets and set(dets[0]) == {"image_id", "bbox", "score", "category_id"}
    res = gt.loadRes(str(out / "pred.json"))
    assert len(res.getAnnIds()) == len(dets)
    mine = [d for d in dets if d["image_id"] == reviewed.image_id]
    assert len(mine) == len(reviewed.layer.boxes) and all(d["score"] == 1.0 for d in mine)
    assert all(1 <= d["category_id"] <= 10 for d in dets)
    others = [d for d in dets if d["image_id"] != reviewed.image_id]
    assert all(d["score"] >= DET_THRESH - 1e-5 for d in others)  # every detection, whatever the slider
    # task 2: one row per image, -1 for the unreadable one
    rows = _rows(out / "pred.csv")
    assert rows[0] == ["image_id", "pred_label"]
    body = {int(a): int(b) for a, b in rows[1:]}
    assert len(rows) - 1 == len(body) == 8
    assert set(body) == {e.image_id for e in win.doc.entries}
    assert body[3] == -1
    assert body[reviewed.image_id] == win.doc.reading(0).number
    # annotations.json: COCO ground truth of the reviewed images only
    ann = COCO(str(out / "annotations.json"))
    assert ann.getImgIds() == [reviewed.image_id]
    assert len(ann.getAnnIds()) == len(reviewed.layer.boxes)
    img = ann.loadImgs([reviewed.image_id])[0]
    assert (img["width"], img["height"]) == reviewed.size
    # a second export reuses the remembered folder (no folder dialog), asking before it replaces
    assert replaced == []
    _export(qtbot, win)
    assert len(asked) == 1 and len(replaced) == 1 and "pred.json" in replaced[0]
    # another image folder asks again (starting in the last export folder), never overwriting
    other = tmp_path / "other_photos"
    shutil.copytree(dataset, other)
    win.open_folder(other)
    wait_shown(qtbot, win)
    _export(qtbot, win)
    assert len(asked) == 2 and asked[1][2] == str(out)


def test_fully_reviewed_export_scores_perfectly(qtbot, window, plain_folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    win = window
    win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    for i in range(len(win.doc)):
        wait_shown(qtbot, win)
        qtbot.keyClick(win.canvas, Qt.Key.Key_W)
        w, h = win.doc.current_entry.size  # known once the image is on screen
        drag(qtbot, win.canvas, (0.2 * w, 0.2 * h), (0.8 * w, 0.8 * h))
        assert len(win.doc.current_entry.layer.boxes) == 1
        qtbot.keyClick(win.canvas, Qt.Key.Key_0 + (i % 10))
        win.doc.set_threshold(0.99)
        qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert all(win.doc.status(i) == Status.REVIEWED for i in range(len(win.doc)))
    assert [len(e.layer.boxes) for e in win.doc.entries] == [1] * len(win.doc)
    summary = _export(qtbot, win)
    assert summary.reviewed == len(win.doc)
    gt = COCO(str(out / "annotations.json"))
    res = gt.loadRes(str(out / "pred.json"))
    ev = COCOeval(gt, res, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)
    body = _rows(out / "pred.csv")[1:]
    assert sorted(int(b) for _a, b in body) == sorted(i % 10 for i in range(len(win.doc)))


def test_export_without_model_writes_minus_one(
    qtbot, make_window, plain_folder, tmp_path, isolated_user_dirs
):
    win = make_window(model=str(tmp_path / "missing.pt"))
    qtbot.waitUntil(lambda: win.inference.error is not None, timeout=20000)
    assert "Model: none" in win.model_label.text()
    assert any("not found" in t for _lvl, t in isolated_user_dirs)
    assert not win.actions_by_name["predict_all"].isEnabled()
    win.open_folder(plain_folder)
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    summary = _export(qtbot, win)
    assert summary.not_predicted == len(win.doc)
    assert json.loads((out / "pred.json").read_text()) == []
    assert {b for _a, b in _rows(out / "pred.csv")[1:]} == {"-1"}
