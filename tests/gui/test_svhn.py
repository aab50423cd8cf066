"""The real flow on real photos: ../shared/data/svhn/valid (skipped when absent)."""

from __future__ import annotations

import csv
import json

import pytest
from guihelpers import SVHN, wait_model, wait_predicted, wait_shown
from pycocotools.coco import COCO
from PySide6.QtCore import Qt

from digitgui import project_store, settings
from digitgui.state import Status

pytestmark = [
    pytest.mark.svhn,
    pytest.mark.slow,
    pytest.mark.skipif(not (SVHN / "valid.json").is_file(), reason="needs ../shared/data/svhn"),
]


def test_svhn_valid_open_predict_review_export(qtbot, window, tmp_path, monkeypatch):
    monkeypatch.setattr(project_store, "folder_is_writable", lambda folder: False)  # never write there
    folder = SVHN / "valid"
    before = sorted(p.name for p in folder.iterdir())
    coco = json.loads((SVHN / "valid.json").read_text())
    win = window
    assert win.open_folder(folder)
    d = win.doc
    assert len(d) == len(coco["images"]) == 342
    assert d.gt_source == (SVHN / "valid.json").resolve()
    by_name = {im["file_name"]: im["id"] for im in coco["images"]}
    assert all(by_name[e.name] == e.image_id for e in d.entries)
    assert all(e.layer.status == Status.LABELLED for e in d.entries)
    assert win.location.in_user_data
    wait_model(qtbot, win)
    wait_predicted(qtbot, win)
    wait_shown(qtbot, win)
    assert win.canvas._pixmap.pixmap().width() == d.current_entry.size[0]
    assert len(win.canvas.items_by_key) >= len(d.current_entry.layer.boxes)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert d.entry(0).layer.status == Status.REVIEWED and d.current == 1
    out = tmp_path / "export"
    settings.set_export_folder(d.folder, out)
    with qtbot.waitSignal(win.export_finished, timeout=170000) as sig:
        win.export()
    assert not isinstance(sig.args[0], str), sig.args[0]
    gt = COCO(str(SVHN / "valid.json"))
    res = gt.loadRes(str(out / "pred.json"))
    assert set(res.getImgIds()) <= set(gt.getImgIds())
    with open(out / "pred.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert len(rows) == 342 and {int(a) for a, _b in rows} == set(by_name.values())
    assert COCO(str(out / "annotations.json")).getImgIds() == [d.entry(0).image_id]
    assert sorted(p.name for p in folder.iterdir()) == before
