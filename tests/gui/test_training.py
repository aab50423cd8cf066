"""The training dock: a real child training process driven from the panel (CPU, tiny data)."""

from __future__ import annotations

import os
import shutil
import signal

import numpy as np
import pytest
from guihelpers import wait_model, wait_predicted

from digitgui import dialogs
from digitgui.model_registry import ModelRegistry
from digitgui.state import Status


@pytest.fixture(scope="module")
def big_synth(tmp_path_factory):
    from trainer.synth import make_dataset

    root = tmp_path_factory.mktemp("train-synth")
    make_dataset(root, 16, seed=21)
    return root


@pytest.fixture
def reviewed_window(qtbot, window, tmp_path, big_synth):
    """A window on a 16-image dataset whose images are all reviewed (boxes = its ground truth)."""
    ds = tmp_path / "ds"
    shutil.copytree(big_synth / "images", ds / "train")
    shutil.copy(big_synth / "annotations.json", ds / "train.json")
    win = window
    assert win.open_folder(ds / "train")
    wait_model(qtbot, win)
    win.doc.set_threshold(0.99)  # the random test model's boxes stay hidden: review keeps the GT
    for row in range(len(win.doc)):
        win.doc.mark_reviewed(row)
    assert all(e.layer.status == Status.REVIEWED for e in win.doc.entries)
    win.toggle_training_dock()
    dock = win.training_dock
    dock.epochs.setValue(1)
    dock.batch.setValue(4)
    dock.device.setCurrentText("cpu")
    dock.refresh()
    return win


def _start(qtbot, dock):
    assert dock.start_btn.isEnabled(), dock.reason.text()
    with qtbot.waitSignal(dock.service.progress, timeout=120000):
        qtbot.mouseClick(dock.start_btn, qtbot_button())


def qtbot_button():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_start_is_disabled_with_a_reason_until_enough_reviews(qtbot, window, dataset):
    win = window
    assert win.open_folder(dataset)
    win.toggle_training_dock()
    dock = win.training_dock
    assert dock.isVisible()
    assert not dock.start_btn.isEnabled()
    assert "Review at least 10 images" in dock.reason.text()


def test_full_run_chart_comparison_registry_and_switch(qtbot, reviewed_window):
    win = reviewed_window
    dock = win.training_dock
    wait_predicted(qtbot, win, win.doc.current)
    before = win.doc.current_entry.pred
    old_spec = win.models.spec
    _start(qtbot, dock)
    assert not dock.start_btn.isEnabled() and "going" in dock.reason.text()
    with qtbot.waitSignal(dock.run_finished, timeout=240000) as done:
        pass
    assert done.args[0]["status"] == "done"
    assert dock.loss_series.count() > 0
    assert dock.map_series.count() == 1
    cells = [dock.table.item(r, c).text() for r in range(3) for c in range(2)]
    assert all(float(x) >= 0 for x in cells)
    new = dock.new_model
    assert new is not None and new.path.is_file()
    assert new.key in {m.key for m in dock.registry.models()}
    assert new.card["data"]["train"] + new.card["data"]["held_out"] == 16
    assert dock.use_btn.isEnabled()
    # the app stayed usable during the run, and can switch to the new model
    with qtbot.waitSignal(win.inference.ready, timeout=60000):
        dock.use_btn.click()
    assert win.models.spec == str(new.path) != old_spec
    assert win.current_model_key() == new.key
    assert win.models.stale and win.actions_by_name["repredict"].isEnabled()
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000):
        win.models.repredict_stale()
    qtbot.waitUntil(lambda: not win.models.stale, timeout=20000)
    after = win.doc.current_entry.pred
    assert after is not None and not (
        len(after.scores) == len(before.scores) and np.allclose(after.scores, before.scores)
    )


def test_cancel_mid_run_keeps_a_checkpoint(qtbot, reviewed_window):
    dock = reviewed_window.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, dock)
    run_dir = dock.service.run_dir
    with qtbot.waitSignal(dock.run_finished, timeout=60000) as done:
        dock.cancel_btn.click()
    assert done.args[0]["status"] == "stopped"
    assert (run_dir / "last.pt").is_file()
    assert "cancelled" in dock.bar.format()
    assert dock.start_btn.isEnabled() and not dock.cancel_btn.isEnabled()


def test_killed_child_shows_the_error_and_the_app_goes_on(qtbot, reviewed_window):
    win = reviewed_window
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, dock)
    with qtbot.waitSignal(dock.service.failed, timeout=30000) as failed:
        os.kill(dock.service.pid(), signal.SIGKILL)
    message, tail = failed.args
    assert "crashed" in message or "exit code" in message
    assert "training on" in tail  # the last log lines come with it
    assert dock.reason.isVisible() and message in dock.reason.text()
    assert dock.start_btn.isEnabled()
    row = win.doc.current
    win.go(-1 if row else 1)  # still usable
    assert win.doc.current != row
    assert win.inference.available


def test_closing_mid_run_asks_then_leaves_no_process(qtbot, reviewed_window, monkeypatch):
    win = reviewed_window
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, dock)
    pid = dock.service.pid()
    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda *a: asked.append(a) or False)
    win.close()
    assert asked and win.isVisible() and dock.service.running  # "No" keeps everything going
    monkeypatch.setattr(dialogs, "confirm", lambda *a: True)
    win.close()
    assert not dock.service.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_registry_skips_missing_and_corrupt_models(tmp_path):
    reg = ModelRegistry(tmp_path)
    for name, content in (("a", None), ("b", b"garbage"), ("c", b"PK\x03\x04" + b"\0" * 2000)):
        d = reg.new_run_dir(name)
        reg.write_card(d, {"title": name})
        if content is not None:
            (d / "best.pt").write_bytes(content)
    (reg.new_run_dir("d") / "card.json").write_text("{broken")
    keys = [m.key for m in reg.models() if m.key != "default"]
    assert keys == ["c"]
    text = "\n".join(reg.problems)
    assert "a: model file missing or corrupt" in text and "b: model file missing" in text
    assert "d: unreadable model card" in text
