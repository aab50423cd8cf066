"""What export and save may write, and what they take: ownership, one detection policy, no mixing.

Each test drives the real main window (dialogs patched as in the other GUI tests) or the CLI.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict

import pytest
from guihelpers import drag, wait_model, wait_predicted, wait_shown
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QMessageBox

from digitgui import dialogs, settings
from digitgui.project_file import read_project
from digitgui.state import Status
from trainer.__main__ import main as cli

REAL_CHOOSE_OUTPUT_FOLDER = getattr(dialogs, "choose_output_folder", None)  # before the fixtures patch it


def _rows(path):
    with open(path, newline="") as f:
        return {int(a): int(b) for a, b in list(csv.reader(f))[1:]}


def _export(qtbot, win, timeout=60000):
    """Ctrl+E; returns the summary, or the message when the export did not happen."""
    with qtbot.waitSignal(win.export_finished, timeout=timeout) as sig:
        qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    return sig.args[0]


def _gt_folder(tmp_path, synth_master, n=4):
    """``n`` photos with a real COCO ``annotations.json`` of their boxes inside the folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    coco = json.loads((synth_master / "annotations.json").read_text())
    keep = coco["images"][:n]
    ids = {im["id"] for im in keep}
    for im in keep:
        shutil.copy(synth_master / "images" / im["file_name"], folder / im["file_name"])
    coco = {**coco, "images": keep, "annotations": [a for a in coco["annotations"] if a["image_id"] in ids]}
    (folder / "annotations.json").write_text(json.dumps(coco))
    return folder, len(coco["annotations"])


def _inject(win, name, boxes, scores, digits, model="", size=(0, 0)):
    """Deliver a model result for ``name`` through the prediction controller's seam."""
    win.predictions.inject(name, boxes, scores, digits, size=size, model=model)


# ---------------------------------------------------------------- 1. files export did not write


def test_export_never_replaces_ground_truth_in_the_output_folder(
    qtbot, window, tmp_path, synth_master, monkeypatch
):
    folder, n_boxes = _gt_folder(tmp_path, synth_master)
    before = (folder / "annotations.json").read_bytes()
    monkeypatch.setattr(dialogs, "choose_folder", lambda *a, **k: str(folder))
    monkeypatch.setattr(dialogs, "choose_output_folder", lambda *a, **k: str(folder), raising=False)
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)  # even a careless "yes" must not help
    win = window
    win.open_folder(folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    assert all(e.layer.status == Status.LABELLED for e in win.doc.entries)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.doc.status(0) == Status.REVIEWED
    got = _export(qtbot, win)
    assert isinstance(got, str) and "annotations.json" in got  # said why, naming the file
    assert (folder / "annotations.json").read_bytes() == before
    assert not (folder / "pred.json").exists() and not (folder / "pred.csv").exists()  # all or nothing
    win.close_folder()
    win.open_folder(folder, use_gt=True)
    assert sum(e.has_gt for e in win.doc.entries) == 4
    assert sum(len(e.layer.boxes) for e in win.doc.entries) == n_boxes


def test_export_asks_before_replacing_an_earlier_export(qtbot, window, plain_folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    asked: list[str] = []
    answer = [False]
    monkeypatch.setattr(dialogs, "confirm", lambda _p, _t, text: asked.append(text) or answer[0])
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    first = _export(qtbot, win)
    assert not isinstance(first, str) and asked == []  # an empty folder: nothing to ask
    written = {p.name: p.read_bytes() for p in out.iterdir() if p.name in ("pred.json", "pred.csv")}
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    w, h = win.doc.current_entry.size
    drag(qtbot, win.canvas, (0.1 * w, 0.1 * h), (0.4 * w, 0.9 * h))
    qtbot.keyClick(win.canvas, Qt.Key.Key_7)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    declined = _export(qtbot, win)
    assert isinstance(declined, str) and len(asked) == 1 and "pred.json" in asked[0]
    assert {n: (out / n).read_bytes() for n in written} == written  # "no" leaves the files alone
    answer[0] = True
    accepted = _export(qtbot, win)
    assert not isinstance(accepted, str) and len(asked) == 2
    assert (out / "pred.csv").read_bytes() != written["pred.csv"]


def test_exported_annotations_are_not_ground_truth_unless_opened_as_such(
    qtbot, window, plain_folder, monkeypatch
):
    settings.set_export_folder(plain_folder, plain_folder)  # results beside the photos
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    wait_predicted(qtbot, win)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.doc.status(0) == Status.REVIEWED
    assert not isinstance(_export(qtbot, win), str)
    assert (plain_folder / "annotations.json").is_file()
    win.close_folder()
    win.open_folder(plain_folder)
    assert win.doc.gt_source is None
    assert not any(e.has_gt for e in win.doc.entries)
    assert not any(e.layer.status == Status.LABELLED for e in win.doc.entries)
    assert any("annotations.json" in t and "export" in t.lower() for _lvl, t in win.messages)
    # the user says so: File ▸ Open annotations
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a, **k: str(plain_folder / "annotations.json"))
    win.choose_coco()
    assert win.doc.gt_source == (plain_folder / "annotations.json").resolve()
    assert win.doc.entry(0).has_gt, win.messages


# ---------------------------------------------------------------- 6. unreadable images, "?" boxes


def test_unreadable_image_cannot_be_reviewed(qtbot, window, plain_folder, isolated_user_dirs):
    (plain_folder / "0001.png").write_text("this is not a picture")
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    row = win.doc.row_of("0001.png")
    win.doc.set_current(row)
    qtbot.waitUntil(lambda: bool(win.doc.entry(row).error), timeout=20000)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.doc.status(row) != Status.REVIEWED
    assert win.doc.current == row
    assert any("0001.png" in t and "review" in t.lower() for _lvl, t in win.messages)


def test_unreadable_reviewed_image_is_not_exported_as_0x0(qtbot, window, plain_folder, tmp_path):
    (plain_folder / "0001.png").write_text("this is not a picture")
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    row = win.doc.row_of("0001.png")
    win.doc.set_current(row)
    qtbot.waitUntil(lambda: bool(win.doc.entry(row).error), timeout=20000)
    win.doc.mark_reviewed(row)  # as a project saved by an earlier version holds it
    summary = _export(qtbot, win)
    assert not isinstance(summary, str), summary
    ann = json.loads((out / "annotations.json").read_text())
    assert all(im["width"] > 0 and im["height"] > 0 for im in ann["images"])
    assert win.doc.entry(row).image_id not in {im["id"] for im in ann["images"]}
    assert _rows(out / "pred.csv")[win.doc.entry(row).image_id] == -1
    assert summary.unreadable == 1 and "unreadable" in summary.text()


def test_review_with_an_unlabelled_box_is_refused(qtbot, window, plain_folder):
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    w, h = win.doc.current_entry.size
    drag(qtbot, win.canvas, (0.2 * w, 0.2 * h), (0.6 * w, 0.8 * h))
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)  # its digit was never typed
    assert win.doc.status(0) == Status.EDITED and win.doc.current == 0
    assert any("?" in t and "digit" in t for _lvl, t in win.messages)
    qtbot.keyClick(win.canvas, Qt.Key.Key_5)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.doc.status(0) == Status.REVIEWED


# ---------------------------------------------------------------- 7. one task-1 policy


def test_app_pred_json_keeps_the_detections_the_cli_keeps(qtbot, window, plain_folder, tmp_path, model_path):
    out = tmp_path / "app"
    settings.set_export_folder(plain_folder, out)
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    win.slider.setValue(90)  # the slider changes what is shown and read, not task 1
    assert win.doc.threshold == pytest.approx(0.9)
    summary = _export(qtbot, win)
    assert not isinstance(summary, str), summary
    cli_out = tmp_path / "cli"
    assert (
        cli(
            [
                "predict",
                str(plain_folder),
                "--out",
                str(cli_out),
                "--model",
                str(model_path),
                "--device",
                "cpu",
            ]
        )
        == 0
    )

    def by_image(path):
        got = defaultdict(list)
        for d in json.loads(path.read_text()):
            got[d["image_id"]].append(d)
        return {k: sorted(v, key=lambda d: -d["score"]) for k, v in got.items()}

    app, ref = by_image(out / "pred.json"), by_image(cli_out / "pred.json")
    assert sum(map(len, ref.values())) > 0 and any(d["score"] < 0.9 for v in ref.values() for d in v)
    assert app.keys() == ref.keys()
    for k in ref:
        assert len(app[k]) == len(ref[k]), k
        for a, b in zip(app[k], ref[k]):
            assert a["category_id"] == b["category_id"] and a["score"] == pytest.approx(b["score"], abs=1e-3)
            assert a["bbox"] == pytest.approx(b["bbox"], abs=0.05)
    # task 2 is what the window reads at the slider's threshold
    assert _rows(out / "pred.csv") == {
        e.image_id: win.doc.reading(i).number for i, e in enumerate(win.doc.entries)
    }


# ---------------------------------------------------------------- 8. shown = read = exported


def test_labelled_image_exports_what_it_shows(qtbot, make_window, tmp_path):
    win = make_window(model=str(tmp_path / "missing.pt"))  # no model: only the result given below
    qtbot.waitUntil(lambda: win.inference.error is not None, timeout=20000)
    folder = tmp_path / "one"
    folder.mkdir()
    from PIL import Image

    Image.new("RGB", (120, 60), "white").save(folder / "1.png")
    coco = {
        "images": [{"id": 1, "file_name": "1.png", "width": 120, "height": 60}],
        "annotations": [
            {"id": 1, "image_id": 1, "bbox": [5, 10, 15, 30], "category_id": 2, "area": 450, "iscrowd": 0},
            {"id": 2, "image_id": 1, "bbox": [25, 10, 15, 30], "category_id": 3, "area": 450, "iscrowd": 0},
        ],
        "categories": [{"id": d + 1, "name": str(d)} for d in range(10)],
    }
    (folder / "annotations.json").write_text(json.dumps(coco))
    out = tmp_path / "out"
    settings.set_export_folder(folder, out)
    win.open_folder(folder)
    assert win.doc.status(0) == Status.LABELLED
    _inject(win, "1.png", [[80, 10, 15, 30]], [0.9], [7], size=(120, 60))
    # the truth is what is shown, read and exported; the model's reading is named beside it
    assert win.number.number.text() == "12" == win.doc.reading(0).text
    assert [s.digit for s in win.doc.shown(0)] == [1, 2]
    assert "model reads 7" in win.number.detail.text()
    summary = _export(qtbot, win)
    assert not isinstance(summary, str), summary
    assert _rows(out / "pred.csv") == {1: 12}
    dets = sorted(json.loads((out / "pred.json").read_text()), key=lambda d: d["bbox"][0])
    assert [d["category_id"] - 1 for d in dets] == [1, 2]
    assert [d["score"] for d in dets] == [1.0, 1.0]


# ---------------------------------------------------------------- 9. results of several models


def _all_predicted(qtbot, win, folder):
    """``win`` on ``folder`` with every image predicted by the model in use; (win, its tag)."""
    win.open_folder(folder)
    wait_model(qtbot, win)
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000):
        win.predict_all()
    cur = win.models.current_id
    assert cur and all(e.pred is not None and e.pred.model == cur for e in win.doc.entries)
    return win, cur


@pytest.mark.parametrize("choice", ["re-predict", "export as is", None])
def test_export_of_mixed_models_asks_and_can_repredict(
    qtbot, window, plain_folder, tmp_path, monkeypatch, choice
):
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    asked = []

    def ask(_parent, _title, text, options):
        asked.append((text, options))
        return next((o for o in options if choice and o.lower().startswith(choice)), None)

    monkeypatch.setattr(dialogs, "ask", ask, raising=False)
    win, cur = _all_predicted(qtbot, window, plain_folder)
    _inject(win, win.doc.entry(1).name, [[1, 1, 5, 9]], [0.99], [3], model="an-older-model")
    _inject(win, win.doc.entry(2).name, [[1, 1, 5, 9]], [0.99], [4], model="an-older-model")
    got = _export(qtbot, win)
    assert len(asked) == 1
    text, options = asked[0]
    assert "2 models" in text and f"{len(win.doc) - 2}/2" in text
    if choice is None:
        assert isinstance(got, str) and not out.exists()
        return
    assert not isinstance(got, str), got
    models = {e.pred.model for e in win.doc.entries}
    assert models == ({cur} if choice == "re-predict" else {cur, "an-older-model"})


def test_export_of_results_read_under_another_digit_count_says_so(
    qtbot, window, plain_folder, tmp_path, monkeypatch
):
    """The same model under another digit count is not "another model": the question names the
    counts, and re-predicting reads those images under the count in use."""
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    asked = []

    def ask(_parent, title, text, options):
        asked.append((title, text))
        return next(o for o in options if o.startswith("Re-predict"))

    monkeypatch.setattr(dialogs, "ask", ask, raising=False)
    win, cur = _all_predicted(qtbot, window, plain_folder)
    _inject(win, win.doc.entry(1).name, [[1, 1, 5, 9]], [0.99], [3], model=f"{cur}+digits=4")
    got = _export(qtbot, win)
    assert not isinstance(got, str), got
    title, text = asked[0]
    assert title == "Results of several digit counts"
    assert "read under 2 digit counts" in text and "another digit count" in text
    assert "no digit count" in text and "models" not in text
    assert {e.pred.model for e in win.doc.entries} == {cur}


# ---------------------------------------------------------------- Ctrl+S, new export folder


def test_ctrl_s_saves_now_and_says_so(qtbot, window, plain_folder):
    win = window
    win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    w, h = win.doc.current_entry.size
    drag(qtbot, win.canvas, (0.2 * w, 0.2 * h), (0.6 * w, 0.8 * h))
    qtbot.keyClick(win.canvas, Qt.Key.Key_4)
    qtbot.keyClick(win.canvas, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    saved, _msgs = read_project(win.location.project)  # at once, not after the autosave delay
    assert [b.digit for b in saved.layers["1.png"].boxes] == [4]
    assert "Saved" in win.statusBar().currentMessage()


def test_export_dialog_creates_a_typed_new_folder(qtbot, window, plain_folder, tmp_path, monkeypatch):
    target = tmp_path / "results" / "run 1"
    monkeypatch.setattr(dialogs, "choose_output_folder", REAL_CHOOSE_OUTPUT_FOLDER, raising=False)
    seen = []

    def type_new_folder():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QMessageBox) and w.isVisible():  # "Directory not found": the old failure
                seen.append(w.text())
                w.done(0)
        dlg = next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, QFileDialog) and w.isVisible()), None
        )
        if dlg is None:
            QTimer.singleShot(50, type_new_folder)
            return
        if seen:
            dlg.reject()
            return
        dlg.findChild(QLineEdit, "fileNameEdit").setText(str(target))
        QTimer.singleShot(200, type_new_folder)  # closes an error box, if one comes
        dlg.accept()

    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    QTimer.singleShot(100, type_new_folder)
    with qtbot.waitSignal(win.export_finished, timeout=60000) as sig:
        win.export(choose=True)
    assert not seen, seen
    assert not isinstance(sig.args[0], str), sig.args[0]
    assert target.is_dir() and (target / "pred.json").is_file()


# ---------------------------------------------------------------- the other writers


def _reviewed_unreadable(qtbot, win, folder):
    """Open ``folder`` with an unreadable ``0099.png`` marked reviewed (as an older project holds it)."""
    (folder / "0099.png").write_text("this is not a picture")
    win.open_folder(folder)
    wait_model(qtbot, win)
    row = win.doc.row_of("0099.png")
    win.doc.set_current(row)
    qtbot.waitUntil(lambda: bool(win.doc.entry(row).error), timeout=20000)
    win.doc.mark_reviewed(row)
    assert win.doc.status(row) == Status.REVIEWED
    return row


def test_save_corrections_leaves_out_unreadable_images(
    qtbot, window, dataset, monkeypatch, isolated_user_dirs
):
    win = window
    row = _reviewed_unreadable(qtbot, win, dataset)
    target = dataset.parent / "fixed.json"
    monkeypatch.setattr(dialogs, "choose_save_file", lambda *a, **k: str(target))
    with qtbot.waitSignal(win.exports.corrections_finished, timeout=10000):
        win.save_corrections()  # written off the UI thread
    coco = json.loads(target.read_text())
    assert all(im["width"] > 0 and im["height"] > 0 for im in coco["images"])
    assert win.doc.entry(row).image_id not in {im["id"] for im in coco["images"]}
    assert len(coco["images"]) == len(win.doc) - 1
    assert any("1 unreadable" in t for _lvl, t in isolated_user_dirs)


def test_training_data_leaves_out_unreadable_images(qtbot, window, plain_folder):
    from digitgui.services.training import build_training_data

    win = window
    row = _reviewed_unreadable(qtbot, win, plain_folder)
    wait_predicted(qtbot, win, row=0)
    win.doc.set_current(0)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    assert win.doc.status(0) == Status.REVIEWED
    qtbot.keyClick(win.canvas, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    dock = win.training_dock
    dock.refresh()
    assert "1 reviewed images" in dock.counts.text()
    data = build_training_data(win.doc.entries, win.doc.threshold, dock.plan())  # what Start writes
    ids = {im["id"] for im in data.train["images"] + data.heldout["images"]}
    assert ids == {win.doc.entry(0).image_id} and win.doc.entry(row).image_id not in ids
    assert all(im["width"] > 0 for im in data.train["images"] + data.heldout["images"])


@pytest.mark.parametrize("replace", [False, True])
def test_save_corrections_onto_the_ground_truth_asks_before_replacing_the_corrected_file(
    qtbot, window, dataset, monkeypatch, replace
):
    win = window
    with qtbot.waitSignal(win.folder_opened, timeout=5000):
        assert win.open_folder(dataset)
    gt = win.doc.gt_source
    assert gt is not None
    gt_bytes = gt.read_bytes()
    corrected = gt.with_name(gt.stem + ".corrected.json")
    corrected.write_text("an earlier file the user keeps")
    asked = []
    monkeypatch.setattr(dialogs, "choose_save_file", lambda *a, **k: str(gt))
    monkeypatch.setattr(dialogs, "confirm", lambda _p, title, text: asked.append(text) or replace)
    with qtbot.waitSignal(
        win.exports.corrections_finished, timeout=10000 if replace else 200, raising=replace
    ):
        win.save_corrections()  # written off the UI thread (nothing written when not replaced)
    assert gt.read_bytes() == gt_bytes  # the ground truth itself is never written
    assert len(asked) == 1 and corrected.name in asked[0]
    if replace:
        assert json.loads(corrected.read_text())["images"]
    else:
        assert corrected.read_text() == "an earlier file the user keeps"
