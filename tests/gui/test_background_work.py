"""Background work has an owner: switching models never waits for a busy worker, and closing the
window while an export writes finishes the write (nothing half-written) before it returns."""

from __future__ import annotations

import csv
import json
import threading

from guihelpers import wait_model, wait_shown
from PySide6.QtCore import Qt

from digitgui import dialogs
from digitgui.services import export as export_mod
from digitgui.services import inference as inference_mod
from digitgui.services.inference import InferenceService
from trainer.imageio import list_images


def test_switch_model_returns_while_the_old_worker_is_inside_a_model_call(qtbot, model_path, plain_folder):
    svc = InferenceService(str(model_path), "cpu")
    with qtbot.waitSignal(svc.ready, timeout=30000):
        svc.start()
    entered, release = threading.Event(), threading.Event()
    old_worker, old_thread = svc._worker, svc._thread
    real = old_worker.predictor.predict_paths

    def busy(paths, **kw):  # a model call that lasts until the test lets it end
        entered.set()
        release.wait(30)
        yield from real(paths, **kw)

    old_worker.predictor.predict_paths = busy
    stale = []
    svc.results.connect(stale.append)
    path = list_images(plain_folder)[0]
    svc.request([(path.name, path)])
    qtbot.waitUntil(entered.is_set, timeout=10000)
    # the busy step ends on its own after 5 s: a switch that waits for the old worker (it used to
    # wait up to 10 s) would come back only after that
    ends = threading.Timer(5.0, release.set)
    ends.start()
    try:
        svc.switch_model(str(model_path))
        # switch_model came back while the old worker is still inside its model call
        assert not release.is_set() and old_thread.isRunning()
        assert svc._thread is not old_thread and old_thread in inference_mod._DETACHED
    finally:
        ends.cancel()
        release.set()
    with qtbot.waitSignal(svc.ready, timeout=30000):
        pass
    qtbot.waitUntil(old_thread.isFinished, timeout=30000)
    assert stale == []  # the old worker's result for the old model never arrives
    # the new worker serves requests
    with qtbot.waitSignal(svc.results, timeout=30000) as got:
        svc.request([(path.name, path)])
    assert got.args[0][0].key == path.name and got.args[0][0].error is None
    svc.close()
    inference_mod.wait_detached()
    assert not inference_mod._DETACHED


def test_closing_the_window_while_an_export_writes_finishes_the_files_first(
    qtbot, window, dataset, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    monkeypatch.setattr(dialogs, "choose_output_folder", lambda *a, **k: str(out))
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    writing, release = threading.Event(), threading.Event()
    real = export_mod.write_export

    def slow_write(*args, **kw):
        writing.set()
        release.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(export_mod, "write_export", slow_write)
    win = window
    win.open_folder(dataset)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(writing.is_set, timeout=60000)  # missing images predicted, the write begun
    job = win.exports.job
    assert job is not None and job._thread.is_alive() and not job._thread.daemon
    timer = threading.Timer(0.3, release.set)  # the write ends only after close() has begun
    timer.start()
    win.close()
    timer.join()
    assert not job._thread.is_alive()  # close() waited for the writer
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".tmp")], names
    dets = json.loads((out / "pred.json").read_text())
    assert isinstance(dets, list) and all(
        {"image_id", "bbox", "score", "category_id"} <= set(d) for d in dets
    )
    with open(out / "pred.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image_id", "pred_label"] and len(rows) == 1 + len(win.doc.entries)
