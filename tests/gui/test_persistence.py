"""Never losing work: autosave, reopen, corrupt project files, read-only folders, GT untouched."""

from __future__ import annotations

import hashlib
import json

import pytest
from guihelpers import drag, wait_model, wait_shown
from PySide6.QtCore import Qt

from digitgui import dialogs, project_file, project_store
from digitgui.state import Status
from trainer.paths import model_fingerprint


def _draw_labelled(qtbot, win, rect, key):
    x, y, w, h = rect
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    drag(qtbot, win.canvas, (x, y), (x + w, y + h))
    qtbot.keyClick(win.canvas, key)


def _project(folder):
    return json.loads((folder / project_store.PROJECT_NAME).read_text())


def test_autosave_close_reopen_restores_everything(qtbot, make_window, plain_folder):
    win = make_window()
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    win.doc.set_threshold(0.42)
    win.canvas.setFocus()
    _draw_labelled(qtbot, win, (10, 10, 30, 40), Qt.Key.Key_5)
    first_box = win.doc.entry(0).layer.boxes[0]
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)  # review image 0, go to image 1
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    _draw_labelled(qtbot, win, (40, 20, 25, 35), Qt.Key.Key_2)
    win.doc.set_current(3)
    # autosave lands within about a second of the last edit, without closing anything
    qtbot.waitUntil(lambda: (plain_folder / project_store.PROJECT_NAME).is_file(), timeout=1500)
    qtbot.waitUntil(lambda: _project(plain_folder)["current"] == win.doc.entry(3).name, timeout=1500)
    saved = _project(plain_folder)
    names = [win.doc.entry(i).name for i in range(2)]
    assert saved["images"][names[0]]["status"] == "reviewed"
    assert saved["images"][names[1]]["status"] == "edited"
    assert saved["images"][names[1]]["boxes"][0][4] == 2
    reviewed_boxes = len(win.doc.entry(0).layer.boxes)
    win.close()

    win2 = make_window()
    assert win2.open_folder(plain_folder)
    d = win2.doc
    assert d.current == 3
    assert d.threshold == pytest.approx(0.42)
    assert win2.slider.value() == 42
    assert d.entry(0).layer.status == Status.REVIEWED and len(d.entry(0).layer.boxes) == reviewed_boxes
    b = next(x for x in d.entry(0).layer.boxes if x.digit == 5)
    assert (b.x, b.y, b.w, b.h) == pytest.approx((first_box.x, first_box.y, first_box.w, first_box.h))
    assert d.entry(1).layer.status == Status.EDITED and [x.digit for x in d.entry(1).layer.boxes] == [2]
    assert d.status(2) != Status.REVIEWED
    # box ids stay unique after restoring, so new edits never collide
    ids = [x.id for e in d.entries for x in e.layer.boxes]
    assert len(ids) == len(set(ids))
    assert win2.image_list.model.data(win2.image_list.model.index(0), Qt.ItemDataRole.ToolTipRole).endswith(
        "reviewed"
    )


def test_prediction_cache_survives_reopen(qtbot, make_window, plain_folder, model_path, tmp_path):
    win = make_window()
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    with qtbot.waitSignal(win.inference.job_finished, timeout=30000) as sig:
        win.predict_all()
    assert sig.args[1] is True
    preds = {e.name: e.pred for e in win.doc.entries}
    win.close()  # flushes the prediction cache
    assert (plain_folder / project_store.PREDICTIONS_NAME).is_file()
    win2 = make_window()
    win2.open_folder(plain_folder)
    for e in win2.doc.entries:
        assert e.pred is not None
        assert e.pred.scores.tolist() == pytest.approx(preds[e.name].scores.tolist(), abs=1e-6)
        assert win2.doc.status(win2.doc.row_of(e.name)) == Status.PREDICTED
        assert e.pred.model == model_fingerprint(model_path) != ""
    assert not win2.models.stale and not win2.actions_by_name["repredict"].isEnabled()
    win2.close()

    # another model file: the cached predictions are known to be someone else's after a restart
    import torch

    from trainer.model import build_detector, save_checkpoint
    from trainer.presets import get_preset

    torch.manual_seed(1)
    other = tmp_path / "other.pt"
    save_checkpoint(other, build_detector(get_preset("default")), get_preset("default"), score_thresh=0.0)
    win3 = make_window(other)
    win3.open_folder(plain_folder)
    n = len(win3.doc.entries)
    assert win3.models.stale == {e.name for e in win3.doc.entries}
    act = win3.actions_by_name["repredict"]
    assert act.isEnabled() and act.text() == f"&Re-predict {n} stale images"
    wait_model(qtbot, win3)
    with qtbot.waitSignal(win3.inference.job_finished, timeout=30000):
        assert win3.models.repredict_stale() == n
    qtbot.waitUntil(lambda: not win3.models.stale, timeout=5000)
    assert not act.isEnabled()


def test_corrupt_project_is_kept_aside(qtbot, make_window, plain_folder, isolated_user_dirs):
    bad = plain_folder / project_store.PROJECT_NAME
    bad.write_text('{"format": "digitstudio-project", "images": {"1.png": ')
    win = make_window()
    assert win.open_folder(plain_folder)
    aside = list(plain_folder.glob(project_store.PROJECT_NAME + ".corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_text().startswith('{"format": "digitstudio-project", "images"')
    assert any(
        "could not be read" in t and str(aside[0]) in t for lvl, t in isolated_user_dirs if lvl == "warning"
    )
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    _draw_labelled(qtbot, win, (10, 10, 30, 40), Qt.Key.Key_9)
    qtbot.waitUntil(lambda: bad.is_file(), timeout=2000)
    assert _project(plain_folder)["images"][win.doc.entry(0).name]["boxes"][0][4] == 9
    assert aside[0].read_text().startswith('{"format": "digitstudio-project", "images"')


def test_partly_invalid_project_keeps_good_entries(qtbot, make_window, plain_folder, isolated_user_dirs):
    names = sorted(p.name for p in plain_folder.glob("*.png"))
    blob = {
        "format": "digitstudio-project",
        "version": 1,
        "images": {
            names[0]: {"status": "reviewed", "boxes": [[1, 2, 10, 20, 3, 1.0]]},
            names[1]: {"status": "bogus", "boxes": "nope"},
        },
    }
    (plain_folder / project_store.PROJECT_NAME).write_text(json.dumps(blob))
    win = make_window()
    win.open_folder(plain_folder)
    e = win.doc.entry(win.doc.row_of(names[0]))
    assert e.layer.status == Status.REVIEWED and e.layer.boxes[0].digit == 3
    assert list(plain_folder.glob(project_store.PROJECT_NAME + ".corrupt-*"))
    assert any("invalid" in t for _lvl, t in isolated_user_dirs)


def test_read_only_folder_saves_in_user_data(
    qtbot, make_window, plain_folder, monkeypatch, tmp_path, isolated_user_dirs
):
    monkeypatch.setattr(project_store, "folder_is_writable", lambda folder: False)
    win = make_window()
    assert win.open_folder(plain_folder)
    loc = win.location
    assert loc.in_user_data and str(loc.project).startswith(str(tmp_path / "xdg-data"))
    assert any("read-only" in t for _lvl, t in isolated_user_dirs)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    _draw_labelled(qtbot, win, (10, 10, 30, 40), Qt.Key.Key_4)
    qtbot.waitUntil(lambda: loc.project.is_file(), timeout=2000)
    assert not (plain_folder / project_store.PROJECT_NAME).exists()
    win.close()
    win2 = make_window()
    win2.open_folder(plain_folder)
    assert [b.digit for b in win2.doc.entry(0).layer.boxes] == [4]


def test_ground_truth_is_loaded_never_overwritten(qtbot, make_window, dataset, monkeypatch, tmp_path):
    from pycocotools.coco import COCO

    gt = dataset.parent / "train.json"
    digest = hashlib.sha256(gt.read_bytes()).hexdigest()
    coco = json.loads(gt.read_text())
    win = make_window()
    assert win.open_folder(dataset)
    d = win.doc
    assert d.gt_source == gt.resolve()
    assert {e.image_id for e in d.entries} == {im["id"] for im in coco["images"]}
    e0 = d.entry(0)
    n_gt = sum(a["image_id"] == e0.image_id for a in coco["annotations"])
    assert e0.layer.status == Status.LABELLED and len(e0.layer.boxes) == n_gt
    wait_shown(qtbot, win)
    win.canvas.set_selected(e0.layer.boxes[0].id)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert len(d.entry(0).layer.boxes) == n_gt - 1
    # choosing the ground truth itself as target still writes a new file next to it
    monkeypatch.setattr(dialogs, "choose_save_file", lambda *a, **k: str(gt))
    with qtbot.waitSignal(win.exports.corrections_finished, timeout=10000):
        win.save_corrections()  # written off the UI thread
    out = gt.with_name("train.corrected.json")
    assert hashlib.sha256(gt.read_bytes()).hexdigest() == digest
    fixed = COCO(str(out))
    assert len(fixed.getImgIds()) == len(coco["images"])
    assert len(fixed.getAnnIds(imgIds=[e0.image_id])) == n_gt - 1
    assert len(fixed.getAnnIds()) == len(coco["annotations"]) - 1
    qtbot.waitUntil(lambda: (dataset / project_store.PROJECT_NAME).is_file(), timeout=2000)
    assert hashlib.sha256(gt.read_bytes()).hexdigest() == digest


def test_autosave_encodes_only_the_images_that_changed(monkeypatch):
    from pathlib import Path

    from digitgui.state import Box, ImageEntry, Layer

    entries = [
        ImageEntry(
            f"{i}.png",
            Path(f"{i}.png"),
            i,
            (60, 30),
            Layer(boxes=(Box(i + 1, 1.0, 2.0, 10.0, 20.0, i % 10, 1.0),), status=Status.REVIEWED),
        )
        for i in range(50)
    ]
    ser = project_file.ProjectSerializer()
    first = ser.text(entries, "3.png", 0.5, None)
    assert json.loads(first) == json.loads(project_file.ProjectSerializer().text(entries, "3.png", 0.5, None))
    encoded = []
    real = project_file.json.dumps
    monkeypatch.setattr(project_file.json, "dumps", lambda obj, **kw: encoded.append(obj) or real(obj, **kw))
    entries[7].layer = Layer(boxes=(Box(99, 5.0, 5.0, 8.0, 16.0, 4, 1.0),), status=Status.EDITED)
    second = ser.text(entries, "7.png", 0.6, None)
    records = [o for o in encoded if isinstance(o, dict) and "boxes" in o]
    assert len(records) == 1 and records[0]["boxes"] == [[5.0, 5.0, 8.0, 16.0, 4, 1.0]]
    blob = json.loads(second)
    assert blob["current"] == "7.png" and blob["threshold"] == 0.6 and len(blob["images"]) == 50
    assert blob["images"]["7.png"]["status"] == "edited"
    assert blob == json.loads(project_file.ProjectSerializer().text(entries, "7.png", 0.6, None))
