"""A deleted box stays deleted: no box shows up in its place, after re-prediction or model switch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from guihelpers import SVHN, wait_model, wait_predicted, wait_shown
from PySide6.QtCore import Qt

from digitgui import project_file, project_store
from digitgui.model_control import registry_root
from digitgui.state import Prediction, Status
from trainer.paths import model_fingerprint


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _tab_to(qtbot, win, key) -> None:
    """Select box ``key`` with Tab, as a user does."""
    win.canvas.setFocus()
    for _ in range(len(win.doc.shown()) + 1):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Tab)
        if win.canvas.selected == key:
            return
    raise AssertionError(f"Tab never reached box {key}")


def _sidecar(folder) -> dict:
    return json.loads((folder / project_store.PROJECT_NAME).read_text())


def _on_spot(win, rect, row=None):
    return [s for s in win.doc.shown(row) if _iou(s.rect, rect) >= 0.5]


@pytest.fixture
def predicted(qtbot, window, plain_folder):
    win = window
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    wait_predicted(qtbot, win)
    return win


def test_deleting_a_box_never_reveals_another_on_the_same_spot(qtbot, predicted):
    """The case of 1600.png: "426" where a hidden "0" sits under the "6"; deleting the 6 reads 42."""
    win = predicted
    row = win.doc.current
    boxes = [[10, 10, 20, 30], [35, 10, 20, 30], [60, 10, 20, 30], [61, 11, 20, 30]]
    pred = Prediction(
        np.asarray(boxes, np.float32),
        np.asarray([0.95, 0.93, 0.88, 0.70], np.float32),
        np.asarray([4, 2, 6, 0]),
        "crafted",
    )
    win.doc.set_threshold(0.5)
    win.doc.set_predictions([(row, pred, win.doc.current_entry.size, None)])
    assert win.number.text == "426"
    six = next(s for s in win.doc.shown() if s.digit == 6)
    _tab_to(qtbot, win, six.key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert _on_spot(win, six.rect) == []
    assert win.doc.reading().text == "42" and win.number.text == "42"
    assert win.doc.status(row) == Status.EDITED
    # deleting means "no digit here" for hand-drawn (checked) boxes too
    checked_key = win.doc.add_box((35, 10, 20, 30), 2)
    win.canvas.set_selected(checked_key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert _on_spot(win, (35, 10, 20, 30)) == []
    assert win.doc.reading().text == "4"
    # undo brings each back, one step at a time
    win.doc.undo_stack.undo()
    win.doc.undo_stack.undo()
    assert win.doc.reading().text == "42"
    win.doc.undo_stack.undo()
    assert win.doc.reading().text == "426"


def _register_copy(model_path, run_id: str):
    """A second model in the registry: the test model's weights in another file (another tag)."""
    import torch

    d = registry_root() / run_id
    d.mkdir(parents=True)
    blob = torch.load(model_path, map_location="cpu", weights_only=True)
    torch.save({**blob, "note": run_id}, d / "best.pt")
    (d / "card.json").write_text(json.dumps({"title": run_id}))
    return d / "best.pt"


def _pick_model(win, run_id: str) -> None:
    win.toggle_training_dock()
    dock = win.training_dock
    dock.refresh(models=True)
    i = dock.picker.findData(run_id)
    assert i >= 0
    dock.picker.setCurrentIndex(i)
    dock.picker.activated.emit(i)


def test_switching_models_keeps_deletions_and_undo(qtbot, predicted, plain_folder, model_path):
    win = predicted
    row = win.doc.current
    win.doc.set_threshold(0.05)
    target = next(s for s in win.doc.shown() if not s.checked)
    _tab_to(qtbot, win, target.key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert _on_spot(win, target.rect) == []
    assert win.doc.status(row) == Status.EDITED
    name = win.doc.entry(row).name
    qtbot.waitUntil(lambda: (plain_folder / project_store.PROJECT_NAME).is_file(), timeout=3000)

    new_model = _register_copy(model_path, "run-b")
    new_id = model_fingerprint(new_model)
    assert new_id != win.doc.entry(row).pred.model
    _pick_model(win, "run-b")
    qtbot.waitUntil(lambda: win.doc.entry(row).pred.model == new_id, timeout=30000)
    wait_model(qtbot, win)
    new_pred = win.doc.entry(row).pred
    assert len(new_pred.scores)  # the new model predicts on the same spots
    assert _on_spot(win, target.rect) == []  # the deleted box stays deleted
    assert win.doc.status(row) == Status.EDITED
    assert win.doc.undo_stack.canUndo() and win.actions_by_name["undo"].isEnabled()
    win.store.flush()
    qtbot.waitUntil(lambda: bool(_sidecar(plain_folder)["images"][name].get("hidden")), timeout=3000)
    (spot,) = _sidecar(plain_folder)["images"][name]["hidden"]
    assert spot == pytest.approx(list(target.rect), abs=0.01)
    # undo still works and shows the box again, now from the new model
    win.actions_by_name["undo"].trigger()
    assert _on_spot(win, target.rect)


def test_old_sidecar_with_indices_is_converted(qtbot, make_window, plain_folder):
    names = sorted(p.name for p in plain_folder.glob("*.png"))
    boxes = np.asarray([[10, 10, 20, 30], [40, 10, 20, 30]], np.float32)
    pred = Prediction(boxes, np.asarray([0.9, 0.8], np.float32), np.asarray([1, 2]), "old-model")
    project_file.write_predictions(plain_folder / project_store.PREDICTIONS_NAME, [(names[0], None, pred)])
    blob = {
        "format": "digitstudio-project",
        "version": 1,
        "current": names[0],
        "threshold": 0.5,
        "images": {names[0]: {"status": "edited", "boxes": [], "suppressed": [1]}},
    }
    (plain_folder / project_store.PROJECT_NAME).write_text(json.dumps(blob))
    win = make_window()
    assert win.open_folder(plain_folder)
    assert [s.digit for s in win.doc.shown(0)] == [1]
    assert win.doc.entry(0).layer.hidden == frozenset({(40.0, 10.0, 20.0, 30.0)})
    # new predictions (another model, another order) keep the spot empty
    moved = Prediction(boxes[::-1] + 1, np.asarray([0.95, 0.9], np.float32), np.asarray([7, 1]), "new")
    win.doc.set_predictions([(0, moved, None, None)])
    assert [s.digit for s in win.doc.shown(0)] == [1]
    win.close()
    rec = _sidecar(plain_folder)["images"][names[0]]
    assert rec["hidden"] == [[40.0, 10.0, 20.0, 30.0]] and "suppressed" not in rec


@pytest.mark.svhn
@pytest.mark.slow
@pytest.mark.skipif(not (SVHN / "valid" / "1600.png").is_file(), reason="needs ../shared/data/svhn")
def test_svhn_1600_delete_the_six_reads_42(qtbot, make_window, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SVHN / "valid" / "1600.png", folder / "1600.png")
    win = make_window("default")
    assert win.open_folder(folder)
    wait_model(qtbot, win, timeout=60000)
    wait_predicted(qtbot, win, timeout=60000)
    assert win.doc.reading().text == "426", [(s.digit, s.score) for s in win.doc.shown()]
    six = next(s for s in win.doc.shown() if s.digit == 6)
    _tab_to(qtbot, win, six.key)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    assert _on_spot(win, six.rect) == []
    assert win.doc.reading().text == "42" and win.number.text == "42"
