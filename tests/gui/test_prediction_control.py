"""What the model is asked, and when: export before the model is ready, the image on screen first,
requests queued while the model loads, big exports asked about first."""

from __future__ import annotations

import csv
import threading

import pytest
from PySide6.QtCore import Qt

from digitgui import settings


def _rows(path):
    with open(path, newline="") as f:
        return {int(a): int(b) for a, b in list(csv.reader(f))[1:]}


@pytest.fixture
def slow_model(monkeypatch):
    """The model loads only once the test opens the gate (the seam: the engine's Predictor)."""
    from trainer import predict

    gate = threading.Event()
    real_init = predict.Predictor.__init__

    def init(self, *a, **k):
        gate.wait(30)
        real_init(self, *a, **k)

    monkeypatch.setattr(predict.Predictor, "__init__", init)
    yield gate
    gate.set()  # never leave a worker blocked


def test_export_pressed_while_the_model_loads_waits_and_writes_the_right_numbers(
    qtbot, make_window, plain_folder, tmp_path, slow_model
):
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    win = make_window()
    assert win.open_folder(plain_folder)
    qtbot.wait(50)  # the worker is started and blocked in the model load; the window is active
    assert not win.inference.available and win.inference.error is None
    finished = []
    win.export_finished.connect(finished.append)
    qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(100)
    assert finished == []  # nothing written under "no model"
    assert not out.exists()
    assert "model" in win.statusBar().currentMessage().lower()
    assert win.progress.isVisible()  # the wait shows, with a Cancel button
    slow_model.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=60000)
    summary = finished[0]
    assert not isinstance(summary, str), summary
    assert summary.not_predicted == 0
    assert all(e.pred is not None for e in win.doc.entries)
    assert _rows(out / "pred.csv") == {
        e.image_id: win.doc.reading(i).number for i, e in enumerate(win.doc.entries)
    }


def test_export_waiting_for_the_model_can_be_cancelled(
    qtbot, make_window, plain_folder, tmp_path, slow_model
):
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    win = make_window()
    assert win.open_folder(plain_folder)
    qtbot.wait(50)  # the window is active: its shortcuts work
    with qtbot.waitSignal(win.export_finished, timeout=5000) as sig:
        qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        qtbot.wait(50)
        win.progress.cancel_button.click()
    assert isinstance(sig.args[0], str) and "cancelled" in sig.args[0].lower()
    assert not win.progress.isVisible() and not out.exists()


def test_the_image_on_screen_is_predicted_alone_and_first(qtbot, make_window, plain_folder, monkeypatch):
    from trainer import predict

    calls: list[list[str]] = []
    real = predict.Predictor.predict_paths

    def spy(self, paths, *a, **k):
        calls.append([p.name for p in paths])
        return real(self, paths, *a, **k)

    monkeypatch.setattr(predict.Predictor, "predict_paths", spy)
    win = make_window()
    assert win.open_folder(plain_folder)
    win.doc.set_current(2)
    qtbot.waitUntil(lambda: all(win.doc.entry(r).pred is not None for r in range(2, 6)), timeout=60000)
    assert calls[0] == [win.doc.entry(2).name]  # alone, not batched with the look-ahead
    assert [n for c in calls for n in c][:4] == [win.doc.entry(r).name for r in range(2, 6)]


def test_requests_made_while_the_model_loads_are_queued_and_said(
    qtbot, make_window, plain_folder, slow_model
):
    win = make_window()
    assert win.open_folder(plain_folder)
    qtbot.wait(50)
    win.predict_all()
    assert "predict all" in win.statusBar().currentMessage().lower()
    assert "model" in win.statusBar().currentMessage().lower()
    win.predict_all()  # asked twice: queued once
    assert win.predictions.waiting == ["Predict all"]
    with qtbot.waitSignal(win.predictions.job_finished, timeout=60000) as sig:
        slow_model.set()
    assert sig.args[1] is True
    assert all(e.pred is not None for e in win.doc.entries)


def test_predictions_loaded_from_a_file_replace_the_models_answers_on_their_way(
    qtbot, window, plain_folder, tmp_path
):
    import json

    from digitgui import label_formats

    win = window
    assert win.open_folder(plain_folder)
    qtbot.waitUntil(lambda: win.inference.available, timeout=60000)
    first = win.doc.entry(0)
    generation = win.inference.generation
    dets = [{"image_id": first.image_id, "bbox": [1, 2, 5, 9], "score": 0.9, "category_id": 4}]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(dets))
    assert label_formats.open_predictions(win, path)
    assert win.inference.generation == generation + 1  # answers of the model on their way are dropped
    assert all(e.pred is not None and e.pred.model == "file:other.json" for e in win.doc.entries)
    assert win.doc.reading(0).text == "3"
    late = win.doc.entry(1).pred
    win.predictions.inject(win.doc.entry(1).name, [[0, 0, 4, 8]], [0.99], [7])  # a model's answer
    assert win.doc.entry(1).pred is not late and win.doc.entry(1).pred.model == ""


@pytest.mark.parametrize("answer", ["Predict", "Export without", None])
def test_export_of_a_mostly_unpredicted_folder_asks_first(
    qtbot, window, plain_folder, tmp_path, monkeypatch, answer
):
    from digitgui import dialogs, export_flow

    monkeypatch.setattr(export_flow, "ASK_ABOVE", 4, raising=False)  # as 13,000 images, 14 predicted
    out = tmp_path / "out"
    settings.set_export_folder(plain_folder, out)
    asked = []

    def ask(_parent, _title, text, options):
        asked.append(text)
        return next((o for o in options if answer and o.startswith(answer)), None)

    monkeypatch.setattr(dialogs, "ask", ask)
    win = window
    win.inference.request = lambda items: True  # nothing predicted while the test looks
    assert win.open_folder(plain_folder)
    qtbot.waitUntil(lambda: win.inference.available, timeout=60000)
    win.predictions.inject(win.doc.entry(0).name, [[1, 1, 5, 9]], [0.9], [4], model=win.models.current_id)
    with qtbot.waitSignal(win.export_finished, timeout=60000) as sig:
        win.actions_by_name["export"].trigger()
    assert len(asked) == 1 and "7 of the 8 images" in asked[0]
    got = sig.args[0]
    if answer is None:
        assert isinstance(got, str) and not out.exists()
        assert sum(e.pred is not None for e in win.doc.entries) == 1
    elif answer == "Predict":
        assert not isinstance(got, str) and got.not_predicted == 0
        assert all(e.pred is not None for e in win.doc.entries)
    else:
        assert not isinstance(got, str) and got.not_predicted == 7
        assert sum(e.pred is not None for e in win.doc.entries) == 1  # nothing predicted for it
        assert "7 images were not predicted" in got.text()
        rows = _rows(out / "pred.csv")
        assert sorted(rows.values()).count(-1) >= 7


def test_a_result_batch_moves_only_its_rows_in_a_big_list_sorted_by_confidence(
    qtbot, window, tmp_path, synth_master, monkeypatch
):
    """13,000 rows re-sorted per batch of 8 took the UI thread seconds; now the batch's rows move."""
    from digitgui.widgets.image_list import CONFIDENCE_ROLE

    folder = tmp_path / "big"
    folder.mkdir()
    one = (synth_master / "images" / "1.png").read_bytes()
    for i in range(2000):
        (folder / f"{i}.png").write_bytes(one)
    win = window
    win.inference.request = lambda items: True  # only the predictions given below
    assert win.open_folder(folder)
    il = win.image_list
    il.sort.setCurrentIndex(1)
    compares = []  # the sort key of a row, asked for by each comparison (and by painting)
    real = il.model._computed
    monkeypatch.setattr(il.model, "_computed", lambda row: compares.append(row) or real(row))
    win.doc.set_threshold(0.5)
    qtbot.wait(400)  # a threshold change sorts once, a moment later
    compares.clear()
    for i, r in enumerate(range(100, 1700, 200)):  # eight results arrive
        win.predictions.inject(f"{r}.png", [[2, 2, 10, 20]], [0.6 + i / 40], [i])
    qtbot.wait(400)
    assert 0 < len(compares) < 2000  # the full sort of 2,000 rows took 26,000
    keys = [il.model.index(r).data(CONFIDENCE_ROLE) for r in il.rows_in_view_order()]
    assert keys == sorted(keys)
    assert il.rows_in_view_order()[:8] == list(range(100, 1700, 200))
    win.doc.set_threshold(0.7)  # the weaker ones now read nothing: they lead, once sorted again
    qtbot.wait(400)
    keys = [il.model.index(r).data(CONFIDENCE_ROLE) for r in il.rows_in_view_order()]
    assert keys == sorted(keys) and keys[0] == -1.0


def test_a_read_inside_a_box_asked_for_while_the_model_loads_waits_for_it(
    qtbot, make_window, plain_folder, slow_model
):
    from guihelpers import wait_shown

    win = make_window()
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    w, h = win.doc.current_entry.size
    win.actions_by_name["read_box"].trigger()
    assert win.canvas.region_armed  # not refused while the model loads
    win.region_reader.request((0.0, 0.0, w / 2, h / 2))
    assert "model is loaded" in win.statusBar().currentMessage()
    assert win.predictions.waiting == [f"Reading inside the box on {win.doc.current_entry.name}"]
    with qtbot.waitSignal(win.predictions.region_finished, timeout=60000) as sig:
        slow_model.set()
    assert sig.args[0].startswith(("Read inside the box", "No digit found"))
