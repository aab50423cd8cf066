"""Opening folders and seeing predictions: lazy listing, ids, the worker thread, threshold, errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from guihelpers import wait_model, wait_predicted, wait_shown
from PySide6.QtCore import Qt

from digitgui.state import Status, shown_boxes


def test_current_image_is_predicted_and_drawn(qtbot, window, dataset):
    win = window
    with qtbot.waitSignal(win.folder_opened, timeout=2000):
        assert win.open_folder(dataset)
    assert win.stack.currentIndex() == 1
    assert [e.name for e in win.doc.entries][:3] == ["1.png", "2.png", "3.png"]
    wait_model(qtbot, win)
    assert win.inference.available, win.inference.error
    assert "m.pt" in win.model_label.text() and "CPU" in win.model_label.text()
    with qtbot.waitSignal(win.inference.results, timeout=20000) as sig:
        pass  # the current image (and a few after it) are requested on open
    assert win.doc.entry(0).name in {r.key for r in sig.args[0]}
    wait_predicted(qtbot, win, 0)
    wait_shown(qtbot, win)
    win.doc.set_threshold(0.05)
    shown = win.doc.shown()
    assert len(shown) == len(win.canvas.items_by_key) > 0
    dashed = [it for it in win.canvas.items_by_key.values() if not it.shown.checked]
    solid = [it for it in win.canvas.items_by_key.values() if it.shown.checked]
    # an image with ground truth shows, reads and exports its truth; the model's reading is named
    assert solid and not dashed
    assert win.doc.entry(0).pred is not None and "model reads" in win.number.detail.text()
    assert win.number.text == win.doc.reading().text != ""
    text = win.image_list.model.data(win.image_list.model.index(0), Qt.ItemDataRole.DisplayRole)
    assert text.endswith(win.doc.reading(0).text)
    assert win.box_list.count() == len(shown)


def test_threshold_slider_refilters_without_rerunning(qtbot, window, plain_folder):
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    wait_predicted(qtbot, win)
    wait_shown(qtbot, win)
    scores = win.doc.current_entry.pred.scores
    calls = []
    win.inference.results.connect(lambda r: calls.append(r))
    win.inference.request = lambda items: calls.append(items)
    for value in (5, 9, 10, 50):
        win.slider.setValue(value)
        expected = int((scores >= value / 100).sum())
        assert len(win.canvas.items_by_key) <= expected
        assert win.slider_label.text().strip() == f"{value / 100:.2f}"
    win.slider.setValue(5)
    assert len(win.canvas.items_by_key) > 0
    win.slider.setValue(99)
    assert len(win.canvas.items_by_key) == 0 and win.number.text == "–"
    assert calls == []


def test_predict_all_progress_and_cancel(qtbot, window, tmp_path, synth_master):
    folder = tmp_path / "many"
    folder.mkdir()
    src = sorted((synth_master / "images").glob("*.png"))
    for i in range(48):
        shutil.copy(src[i % len(src)], folder / f"img_{i}.png")
    win = window
    win.open_folder(folder)
    wait_model(qtbot, win)
    progress = []
    win.inference.progress.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(win.inference.job_finished, timeout=5000) as sig:
        win.actions_by_name["predict_all"].trigger()
        qtbot.waitUntil(lambda: len(progress) >= 2, timeout=20000)
        assert win.progress.isVisible() and "Predicting" in win.progress.label.text()
        win.progress.cancel_button.click()
    assert sig.args[1] is False
    assert not win.progress.isVisible()
    done = sum(e.pred is not None for e in win.doc.entries)
    assert 0 < done < 48
    assert all(t == progress[0][1] for _d, t in progress)
    # run it again to the end: every image predicted, progress reaches the total
    progress.clear()
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000) as sig:
        win.predict_all()
    assert sig.args[1] is True
    assert progress[-1][0] == progress[-1][1] == 48 - done
    assert all(e.pred is not None for e in win.doc.entries)
    assert all(win.doc.status(i) == Status.PREDICTED for i in range(48))


def test_listing_reads_no_image_headers(qtbot, window, tmp_path, synth_master, monkeypatch):
    import PIL.Image

    folder = tmp_path / "big"
    folder.mkdir()
    one = (synth_master / "images" / "1.png").read_bytes()
    for i in range(1500):
        (folder / f"{i}.png").write_bytes(one)
    opened = []
    real_open = PIL.Image.open
    monkeypatch.setattr(PIL.Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    win = window
    win.inference.request = lambda items: None  # no inference: only the listing matters here
    assert win.open_folder(folder)
    assert opened == []
    assert len(win.doc) == 1500 and win.image_list.proxy.rowCount() == 1500
    assert [e.name for e in win.doc.entries[:3]] == ["0.png", "1.png", "2.png"]
    assert win.doc.entry(1499).image_id == 1499
    assert all(e.size is None for e in win.doc.entries[1:])


def test_broken_image_is_marked_and_app_goes_on(qtbot, window, plain_folder):
    (plain_folder / "2.png").write_bytes(b"this is not a png")
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    win.doc.set_current(1)
    assert win.doc.current_entry.name == "2.png"
    qtbot.waitUntil(lambda: win.doc.entry(1).error is not None, timeout=20000)
    wait_shown(qtbot, win)
    assert "2.png" in win.canvas._note.text() and win.canvas._note.isVisible()
    text = win.image_list.model.data(win.image_list.model.index(1), Qt.ItemDataRole.DisplayRole)
    assert "unreadable" in text
    win.image_list.filter.setCurrentIndex(7)  # unreadable
    assert win.image_list.rows_in_view_order() == [1]
    win.image_list.filter.setCurrentIndex(0)
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    wait_shown(qtbot, win)
    assert win.doc.current == 2 and win.canvas._pixmap.pixmap().width() > 0
    with qtbot.waitSignal(win.inference.job_finished, timeout=30000) as sig:
        win.predict_all()
    assert sig.args[1] is True
    assert win.doc.entry(1).pred is None and win.doc.entry(1).error


def test_filter_and_sort_by_confidence(qtbot, window, plain_folder):
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    with qtbot.waitSignal(win.inference.job_finished, timeout=30000):
        win.predict_all()
    win.doc.set_threshold(0.05)
    win.doc.mark_reviewed(0)
    il = win.image_list
    il.sort.setCurrentIndex(1)
    order = il.rows_in_view_order()
    # the lowest score among the predictions drawn on each image (duplicates on a spot are not drawn)
    conf = [min(b.score for b in shown_boxes(win.doc.entry(r), 0.05) if not b.checked) for r in order[:-1]]
    assert conf == sorted(conf)
    assert order[-1] == 0  # the reviewed image has nothing left to check
    il.filter.setCurrentIndex(6)  # reviewed
    assert il.rows_in_view_order() == [0]
    il.filter.setCurrentIndex(1)  # not reviewed
    assert 0 not in il.rows_in_view_order() and len(il.rows_in_view_order()) == len(win.doc) - 1


def test_predictions_from_old_folder_are_dropped(qtbot, window, plain_folder, dataset):
    from digitgui.services.inference import Result

    win = window
    win.open_folder(plain_folder)
    old_gen = win.inference.generation
    win.open_folder(dataset)
    assert win.inference.generation == old_gen + 1
    got = []
    win.inference.results.connect(got.append)
    empty = np.zeros((0, 4), np.float32)
    stale = Result(old_gen, 0, "1.png", 10, 10, empty, np.zeros(0), np.zeros(0), None)
    win.inference.deliver([stale])
    assert got == []
    fresh = Result(win.inference.generation, 0, "1.png", 10, 10, empty, np.zeros(0), np.zeros(0), None)
    win.inference.deliver([fresh])
    assert len(got) == 1 and win.doc.entry(0).pred is not None and len(win.doc.entry(0).pred.scores) == 0


@pytest.mark.parametrize("name", ["annotations.json"])
def test_annotations_inside_folder_are_found(qtbot, window, tmp_path, synth_master, name):
    folder = tmp_path / "imgs"
    shutil.copytree(synth_master / "images", folder)
    shutil.copy(synth_master / "annotations.json", folder / name)
    window.open_folder(folder)
    assert window.doc.gt_source == (folder / name).resolve()
    assert all(e.has_gt and e.layer.status == Status.LABELLED for e in window.doc.entries)


def test_window_closed_before_its_event_loop_ran_starts_no_worker(qtbot, make_window):
    win = make_window(show=False)
    win.close()  # the worker start queued by the constructor has not run yet
    qtbot.wait(100)
    assert win.inference._thread is None and not win.inference.available
