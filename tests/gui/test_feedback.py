"""What the window tells the user: dropped ground truth, failed images and models, waiting for
the model."""

from __future__ import annotations

import json
import shutil

from guihelpers import wait_model, wait_shown


def test_dropped_ground_truth_entries_are_counted_in_the_app(
    qtbot, window, tmp_path, synth_master, isolated_user_dirs
):
    folder = tmp_path / "gt"
    shutil.copytree(synth_master / "images", folder)
    coco = json.loads((synth_master / "annotations.json").read_text())
    coco["annotations"][0]["bbox"] = ["a", 1, 2, 3]
    coco["annotations"][1]["category_id"] = 2.5
    (folder / "annotations.json").write_text(json.dumps(coco))
    win = window
    win.inference.request = lambda items: None
    assert win.open_folder(folder)
    text = "\n".join(t for _level, t in win.messages)
    assert "2 ground-truth entries" in text, text
    assert "annotations.json" in text
    assert any("2 ground-truth entries" in t for _l, t in isolated_user_dirs)  # shown, not only logged


def test_a_failed_image_shows_the_failure_instead_of_dots(qtbot, window, plain_folder):
    (plain_folder / "1.png").write_bytes(b"not an image at all")
    win = window
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    qtbot.waitUntil(lambda: win.doc.entry(0).error is not None, timeout=20000)
    assert win.number.text not in ("…", "")
    assert "unreadable" in win.number.text.lower()


def test_a_failed_model_shows_the_failure_instead_of_dots(qtbot, make_window, plain_folder, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    win = make_window(model=str(bad))
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    assert win.inference.error
    wait_shown(qtbot, win)
    assert win.number.text not in ("…", "")
    assert "no model" in win.number.text.lower()


def test_predict_all_pressed_while_the_model_loads_is_queued(
    qtbot, make_window, plain_folder, isolated_user_dirs
):
    win = make_window(show=False)
    assert not win.inference.available  # the model starts loading once the event loop runs
    assert win.open_folder(plain_folder)
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000) as sig:
        win.actions_by_name["predict_all"].trigger()
        assert isolated_user_dirs == []  # no warning box
        assert "model" in win.statusBar().currentMessage().lower()
    assert sig.args[1] is True
    assert all(e.pred is not None for e in win.doc.entries)
