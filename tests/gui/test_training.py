"""The training dock: a real child training process driven from the panel (CPU, tiny data)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import pytest
from guihelpers import wait_model, wait_predicted
from PySide6.QtCore import QPoint, Qt, QTimer

from digitgui import dialogs
from digitgui.model_registry import ModelRegistry
from digitgui.services.training import (
    MIN_HELD_OUT,
    TrainingData,
    TrainingPlan,
    TrainingService,
    count_training_data,
)
from digitgui.state import ImageEntry, Layer, Status
from trainer.export import coco_ground_truth
from trainer.finetune import RECIPE
from trainer.paths import BUNDLED_MODELS


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
    qtbot.waitUntil(dock.start_btn.isEnabled, timeout=5000)
    yield win
    win.models.shutdown()  # a test that failed mid-run must not leave closing to ask


def _start(qtbot, win):
    dock = win.training_dock
    assert dock.start_btn.isEnabled(), dock.reason.text()
    with qtbot.waitSignal(win.models.progress, timeout=120000):
        qtbot.mouseClick(dock.start_btn, Qt.MouseButton.LeftButton)


def new_counts(ctl) -> dict:
    return ctl._run["counts"]


def _ids(path) -> set[int]:
    return {i["id"] for i in json.loads(path.read_text())["images"]}


def _drawn_pixels(view, series) -> int:
    """Pixels of ``series``' colour inside the chart's plot area as rendered (not its legend)."""
    img = view.grab().toImage()
    area = view.mapFromScene(view.chart().mapToScene(view.chart().plotArea())).boundingRect()
    c = series.color()
    n = 0
    for y in range(max(0, area.top()), min(img.height(), area.bottom() + 1)):
        for x in range(max(0, area.left()), min(img.width(), area.right() + 1)):
            p = img.pixelColor(x, y)
            if abs(p.red() - c.red()) + abs(p.green() - c.green()) + abs(p.blue() - c.blue()) < 40:
                n += 1
    return n


def test_start_is_disabled_with_a_reason_until_enough_reviews(qtbot, window, dataset):
    win = window
    assert win.open_folder(dataset)
    win.toggle_training_dock()
    dock = win.training_dock
    assert dock.isVisible()
    qtbot.waitUntil(lambda: "Review at least 10 images" in dock.reason.text(), timeout=5000)
    assert not dock.start_btn.isEnabled()


def test_training_data_is_built_off_the_ui_thread(qtbot, reviewed_window, monkeypatch):
    """Reading the images' sizes (seconds on thousands of photos) never freezes the window: Start
    is disabled meanwhile, and the run starts once the data is ready."""
    from digitgui import dataset

    win = reviewed_window
    ctl, dock = win.models, win.training_dock
    real = dataset.image_size_of
    threads = set()

    def slow_size(e):
        threads.add(threading.current_thread().name)
        time.sleep(0.1)
        return real(e)

    monkeypatch.setattr(dataset, "image_size_of", slow_size)
    launched = []
    monkeypatch.setattr(ctl.service, "start", lambda *args: launched.append(args))
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    t0 = time.monotonic()
    qtbot.mouseClick(dock.start_btn, Qt.MouseButton.LeftButton)
    assert time.monotonic() - t0 < 0.5  # the click returns at once
    assert not dock.start_btn.isEnabled() and "Preparing" in dock.reason.text()
    assert dock.bar.format() == "preparing the training data..." and dock.bar.maximum() == 0  # busy
    qtbot.waitUntil(lambda: bool(launched), timeout=30000)
    timer.stop()
    took = time.monotonic() - t0
    assert took >= 1.5  # 16 images at 0.1 s each
    assert threads == {"training-data"}
    assert len(ticks) >= took / 0.02 / 4  # the event loop kept turning all along
    _folder, _run_dir, data, _plan = launched[0]
    assert len(data.train["images"]) + len(data.heldout["images"]) == 16


def test_cancel_while_the_training_data_is_prepared_drops_the_start(qtbot, reviewed_window, monkeypatch):
    from digitgui import dataset

    win = reviewed_window
    ctl, dock = win.models, win.training_dock
    real = dataset.image_size_of
    monkeypatch.setattr(dataset, "image_size_of", lambda e: time.sleep(0.1) or real(e))
    launched = []
    monkeypatch.setattr(ctl.service, "start", lambda *args: launched.append(args))
    assert not dock.cancel_btn.isEnabled()
    qtbot.mouseClick(dock.start_btn, Qt.MouseButton.LeftButton)
    assert ctl.preparing and dock.cancel_btn.isEnabled()
    assert dock.bar.format() == "preparing the training data..."
    qtbot.mouseClick(dock.cancel_btn, Qt.MouseButton.LeftButton)
    assert not ctl.preparing and not dock.cancel_btn.isEnabled()
    assert dock.bar.format() == "idle" and dock.bar.maximum() == 1000  # not left busy
    qtbot.wait(2500)  # longer than the 16 sizes take: the prepared data arrives and is dropped
    assert launched == [] and not ctl.training_running
    assert dock.start_btn.isEnabled() and "Preparing" not in dock.reason.text()


@pytest.mark.slow
def test_full_run_chart_comparison_registry_and_switch(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    wait_predicted(qtbot, win, win.doc.current)
    before = win.doc.current_entry.pred
    old_spec = ctl.spec
    staged = []  # the dock's bar while the child reads the photos to choose where to start
    ctl.stage.connect(lambda ev: staged.append((ev.stage, ev.done, ev.total, dock.bar.format())))
    _start(qtbot, win)
    assert not dock.start_btn.isEnabled() and "going" in dock.reason.text()
    run_dir = ctl.service.run_dir
    with qtbot.waitSignal(ctl.run_finished, timeout=240000) as done:
        pass
    assert done.args[0].status == "done"
    assert staged and {s[0] for s in staged} == {"choose"} and staged[-1][1] == staged[-1][2] > 0
    assert staged[-1][3] == f"choosing the starting model: {staged[-1][1]}/{staged[-1][2]} photos read"
    assert dock.loss_series.count() > 0
    assert _drawn_pixels(dock.chart_view, dock.loss_series) > 10
    # the table shows the comparison of the old and the new model on the held-out photos
    cmp = ctl.last_compare
    cells = [dock.table.item(r, c).text() for r in range(3) for c in range(2)]
    assert cells == [
        f"{side[k]:.3f}" for k in ("mAP", "AP50", "number_accuracy") for side in (cmp.old, cmp.new)
    ]
    # how to read it: boxes taken from the current model flatter its mAP
    assert "flattering" in dock.table.toolTip() and "number accuracy" in dock.table.toolTip()

    # the engine's finetune ran with its own recipe; it split its validation share off the
    # photos it was given, and the compared ones were never among them
    # (under MIN_VAL validation photos the engine trains on all of them)
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train_config"]["lr"] == RECIPE["lr"]
    val, held, train = (_ids(run_dir / n) for n in ("val.json", "heldout.json", "train.json"))
    assert held and not (val & held) and not (train & (val | held))
    assert len(val | held | train) == 16
    assert _ids(run_dir / "photos.json") == train | val
    cmp = ctl.last_compare
    assert cmp.images == len(held)
    assert config["val_images"] == len(val) == new_counts(ctl)["val"]
    # one model in the finished run, nothing else that weighs
    assert (run_dir / "model.pt").is_file()
    assert not any((run_dir / n).exists() for n in ("best.pt", "last.pt", "synthetic"))
    assert (
        sum(f.stat().st_size for f in run_dir.iterdir()) < 1.1 * (run_dir / "model.pt").stat().st_size + 1e6
    )

    new = ctl.new_model
    assert new is not None and new.path == run_dir / "model.pt"
    assert new.key in {m.key for m in ctl.registry.models()}
    assert new.card["data"]["train"] + new.card["data"]["held_out"] + new.card["data"]["val"] == 16
    assert dock.use_btn.isEnabled()
    # the picker shows scores only beside the ones measured on the same images, and says how many
    texts = [dock.picker.itemText(i) for i in range(dock.picker.count())]
    default_text = next(t for t in texts if t.startswith("Bundled default"))
    assert "mAP" not in default_text
    new_text = next(t for t in texts if t.startswith(new.title))
    assert f"{len(held)} held-out image" in new_text
    assert f"{cmp.new['mAP']:.3f}" in new_text and f"{cmp.old['mAP']:.3f}" in new_text

    # the app stayed usable during the run, and can switch to the new model
    with qtbot.waitSignal(win.inference.ready, timeout=60000):
        dock.use_btn.click()
    assert ctl.spec == str(new.path) != old_spec
    assert win.current_model_key() == new.key
    assert ctl.stale and win.actions_by_name["repredict"].isEnabled()
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000):
        ctl.repredict_stale()
    qtbot.waitUntil(lambda: not ctl.stale, timeout=20000)
    after = win.doc.current_entry.pred
    assert after is not None and not (
        len(after.scores) == len(before.scores) and np.allclose(after.scores, before.scores)
    )


@pytest.mark.parametrize("key", ["best", "current", "default", "printed"])
def test_start_from_picks_the_model_the_run_begins_with(qtbot, reviewed_window, tmp_path, monkeypatch, key):
    """Start from: "reads these images best" lets the engine choose between the model in use and
    the bundled ones; any other choice is the model the run begins with. Remembered."""
    from digitgui.model_control import ModelController

    win = reviewed_window
    dock, ctl = win.training_dock, win.models
    choices = [dock.start_from.itemData(i) for i in range(dock.start_from.count())]
    assert choices == ["best", "current", "default", "printed"]
    assert ctl.saved_plan().start == "best"  # the recipe's choice until the user picks another
    dock.start_from.setCurrentIndex(dock.start_from.findData(key))
    begun = []
    monkeypatch.setattr(ctl, "_prepare", lambda plan, queued: begun.append(plan))
    dock.start()
    assert len(begun) == 1
    args = ctl.service.command(win.doc.folder, tmp_path / "run", begun[0])
    opt = lambda name: args[args.index(name) + 1]  # noqa: E731
    expected = BUNDLED_MODELS[key] if key in BUNDLED_MODELS else ctl.current_model_path()
    assert opt("--init") == str(expected)
    assert opt("--start") == ("best" if key == "best" else "init")
    assert ModelController.saved_plan().start == key


def test_train_runs_the_engine_finetune_recipe(qtbot, reviewed_window, tmp_path):
    win = reviewed_window
    dock = win.training_dock
    assert dock.minutes.value() == RECIPE["max_minutes"] and dock.batch.value() == 4
    assert not hasattr(dock, "lr") and not hasattr(dock, "preset")  # the recipe's, not the panel's
    plan = dock.plan()
    plan.init = win.models.current_model_path()
    args = win.models.service.command(win.doc.folder, tmp_path / "run", plan)
    assert args[:3] == ["-m", "trainer", "finetune"]
    opt = lambda name: args[args.index(name) + 1]  # noqa: E731
    assert opt("--max-minutes") == f"{RECIPE['max_minutes']:g}" and opt("--epochs") == "1"
    assert opt("--ann") == str(tmp_path / "run" / "photos.json")
    assert opt("--compare-ann") == str(tmp_path / "run" / "heldout.json")
    assert opt("--init") == str(plan.init)
    assert "--lr" not in args and "--preset" not in args
    plan.epochs = None
    assert "--epochs" not in win.models.service.command(win.doc.folder, tmp_path / "run", plan)


def test_counts_and_a_warning_when_the_held_out_part_is_small(qtbot, reviewed_window):
    win = reviewed_window
    dock = win.training_dock
    counts = win.models.recount()
    assert counts["train"] + counts["val"] + counts["held_out"] == 16
    assert counts["val"] == 0  # under trainer.finetune.MIN_VAL every photo trains
    qtbot.waitUntil(lambda: "held-out" in dock.counts.text(), timeout=5000)
    text = dock.counts.text()
    assert "16 reviewed images" in text
    assert f"train {counts['train']} / validation {counts['val']} / held-out {counts['held_out']}" in text
    assert dock.warning.isVisible()
    assert f"Only {counts['held_out']} held-out image" in dock.warning.text()
    assert "too noisy to trust" in dock.warning.text()
    assert dock.start_btn.isEnabled()  # a warning, not a refusal
    # enough held out: no warning
    many = [
        ImageEntry(f"{i}.png", win.doc.folder / f"{i}.png", i, None, Layer(status=Status.REVIEWED))
        for i in range(1, 301)
    ]
    big = count_training_data(many, TrainingPlan(holdout=0.15))
    assert big["held_out"] >= MIN_HELD_OUT
    dock._show_counts(big, "")
    assert not dock.warning.isVisible()
    assert big["train"] + big["val"] + big["held_out"] == 300 and big["val"] >= 20


@pytest.mark.slow
def test_cancel_mid_run_keeps_a_usable_model_or_nothing(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, win)
    run_dir = ctl.service.run_dir
    with qtbot.waitSignal(ctl.run_finished, timeout=60000) as done:
        dock.cancel_btn.click()
        assert dock.bar.format() == "stopping..." and not dock.cancel_btn.isEnabled()
    assert done.args[0].status == "stopped"
    assert "cancelled" in dock.bar.format()
    assert dock.start_btn.isEnabled() and not dock.cancel_btn.isEnabled()
    listed = {m.key for m in ctl.registry.models()}
    if run_dir.exists():  # an epoch ended: its model can be used, and it is the one checkpoint
        assert run_dir.name in listed
        assert (run_dir / "model.pt").is_file()
        assert not (run_dir / "best.pt").exists() and not (run_dir / "last.pt").exists()
    else:  # cancelled inside the first epoch: nothing to use, nothing left behind
        assert run_dir.name not in listed
    assert ctl.registry.unfinished() == []


@pytest.mark.slow
def test_cancel_during_the_childs_start_up_stops_the_run(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    failures = []
    ctl.failed.connect(lambda m, t: failures.append(m))
    with qtbot.waitSignal(ctl.run_finished, timeout=30000) as done:
        qtbot.mouseClick(dock.start_btn, Qt.MouseButton.LeftButton)
        # the training data is built off the UI thread first; then the child starts
        qtbot.waitUntil(lambda: ctl.training_running, timeout=20000)
        run_dir = ctl.service.run_dir
        qtbot.mouseClick(dock.cancel_btn, Qt.MouseButton.LeftButton)  # before it read a photo
    assert failures == []
    assert done.args[0].status == "stopped" and not done.args[0].best
    assert "cancelled; nothing was kept" in dock.bar.format()
    assert not run_dir.exists() and ctl.registry.unfinished() == []
    assert not ctl.training_running and dock.start_btn.isEnabled()


@pytest.mark.slow
def test_cancel_after_the_last_epoch_still_stops_the_run(qtbot, reviewed_window):
    """A Cancel while the child scores its only epoch (it checks for a stop only between
    training steps) still ends the run: the child is killed after ``kill_after_ms``."""
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    ctl.service.kill_after_ms = 500
    ctl.epoch.connect(lambda _ev: dock.cancel_btn.click())
    _start(qtbot, win)
    run_dir = ctl.service.run_dir
    with qtbot.waitSignal(ctl.run_finished, timeout=120000) as done:
        pass
    assert done.args[0].status == "stopped"
    assert "cancelled" in dock.bar.format() and not dock.use_btn.isEnabled()
    if run_dir.exists():  # the epoch had ended: its model is kept, one checkpoint
        assert sorted(p.name for p in run_dir.glob("*.pt")) == ["model.pt"]
        assert run_dir.name in {m.key for m in ctl.registry.models()}


def test_cancel_kills_a_child_that_does_not_stop(qtbot, tmp_path, monkeypatch):
    service = TrainingService(kill_after_ms=300)
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    monkeypatch.setattr(service, "command", lambda *a, **k: ["-c", deaf])
    lines = []
    service.log_line.connect(lines.append)
    run_dir = tmp_path / "run"
    empty = coco_ground_truth([], [])
    service.start(tmp_path, run_dir, TrainingData(train=empty, heldout=empty), TrainingPlan())
    qtbot.waitUntil(lambda: "up" in lines, timeout=20000)
    # a finished epoch's checkpoints, as a killed child leaves them
    (run_dir / "best.pt").write_bytes(b"PK\x03\x04" + b"\0" * 2000)
    (run_dir / "last.pt").write_bytes(b"PK\x03\x04" + b"\0" * 6000)
    t0 = time.monotonic()
    with qtbot.waitSignal(service.finished, timeout=10000) as done:
        service.cancel()
    assert time.monotonic() - t0 < 5
    ev = done.args[0]
    assert ev.status == "stopped" and ev.best == str(run_dir / "model.pt")
    assert sorted(p.name for p in run_dir.glob("*.pt")) == ["model.pt"]
    assert not service.running
    service.deleteLater()
    qtbot.wait(20)


@pytest.mark.slow
def test_start_during_wind_down_starts_when_it_can_and_says_so(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, win)
    first = ctl.service.run_dir
    dock.cancel_btn.click()
    assert ctl.training_running and dock.start_btn.isEnabled()  # still winding down
    with qtbot.waitSignal(ctl.run_launched, timeout=60000):
        qtbot.mouseClick(dock.start_btn, Qt.MouseButton.LeftButton)
        assert "Starts as soon as the cancelled run has stopped" in dock.reason.text()
        assert dock.reason.isVisible() and "waiting" in dock.bar.format()
        assert not dock.start_btn.isEnabled() and dock.cancel_btn.isEnabled()
    assert ctl.training_running and ctl.service.run_dir != first
    assert "Starts as soon" not in dock.reason.text() and dock.cancel_btn.isEnabled()
    assert "cancelled run has stopped" in dock.log.toPlainText()
    with qtbot.waitSignal(ctl.run_finished, timeout=60000):
        dock.cancel_btn.click()


@pytest.mark.slow
def test_cancel_does_not_kill_the_next_run(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    dock.epochs.setValue(200)
    ctl.service.kill_after_ms = 1500
    _start(qtbot, win)
    cancelled_at = time.monotonic()
    with qtbot.waitSignal(ctl.run_finished, timeout=60000):
        dock.cancel_btn.click()
    failures = []
    ctl.failed.connect(lambda m, t: failures.append(m))
    qtbot.waitUntil(dock.start_btn.isEnabled, timeout=5000)
    _start(qtbot, win)  # at once, well within the old run's kill deadline
    pid = ctl.service.pid()
    qtbot.waitUntil(lambda: time.monotonic() - cancelled_at > 2.5, timeout=30000)
    assert failures == [] and ctl.training_running and ctl.service.pid() == pid
    with qtbot.waitSignal(ctl.run_finished, timeout=60000):
        dock.cancel_btn.click()


@pytest.mark.slow
def test_killed_child_shows_the_error_and_the_app_goes_on(qtbot, reviewed_window):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, win)
    run_dir = ctl.service.run_dir
    with qtbot.waitSignal(ctl.failed, timeout=30000) as failed:
        os.kill(ctl.service.pid(), signal.SIGKILL)
    message, tail = failed.args
    assert "crashed" in message or "exit code" in message
    assert "training on" in tail  # the last log lines come with it
    assert dock.reason.isVisible() and message in dock.reason.text()
    assert dock.start_btn.isEnabled()
    assert not run_dir.exists()  # a failed run without a model leaves nothing behind
    row = win.doc.current
    win.go(-1 if row else 1)  # still usable
    assert win.doc.current != row
    assert win.inference.available


@pytest.mark.slow
def test_closing_mid_run_asks_then_leaves_no_process(qtbot, reviewed_window, monkeypatch):
    win = reviewed_window
    ctl = win.models
    dock = win.training_dock
    dock.epochs.setValue(200)
    _start(qtbot, win)
    pid = ctl.service.pid()
    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda *a: asked.append(a) or False)
    win.close()
    assert asked and win.isVisible() and ctl.training_running  # "No" keeps everything going
    monkeypatch.setattr(dialogs, "confirm", lambda *a: True)
    win.close()
    assert not win.isVisible()
    assert ctl.wait_stopped()  # what the app does once its window has gone
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


DEAF_CHILD = (  # a training child that ignores SIGTERM, as one inside a long step does for a while
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
)


def test_closing_mid_run_returns_at_once_and_the_child_ends_with_its_checkpoint(
    qtbot, reviewed_window, monkeypatch
):
    """Closing never waits for the child: the window goes at once, the child is killed after the
    service's kill delay, its last checkpoint is kept as one model with its card, and no process
    is left."""
    win = reviewed_window
    ctl = win.models
    ctl.service.kill_after_ms = 400
    monkeypatch.setattr(ctl.service, "command", lambda *a, **k: ["-c", DEAF_CHILD])
    lines = []
    ctl.log_line.connect(lines.append)
    win.training_dock.start_btn.click()
    qtbot.waitUntil(lambda: "up" in lines, timeout=20000)
    run_dir, pid = ctl.service.run_dir, ctl.service.pid()
    # a finished epoch's checkpoints, as the child leaves them
    (run_dir / "best.pt").write_bytes(b"PK\x03\x04" + b"\0" * 2000)
    (run_dir / "last.pt").write_bytes(b"PK\x03\x04" + b"\0" * 6000)
    monkeypatch.setattr(dialogs, "confirm", lambda *a: True)
    t0 = time.monotonic()
    win.close()
    assert time.monotonic() - t0 < 1.0
    assert not win.isVisible() and ctl.training_running  # the child is still winding down
    with qtbot.waitSignal(ctl.running_changed, timeout=10000):
        pass
    assert not ctl.training_running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sorted(p.name for p in run_dir.glob("*.pt")) == ["model.pt"]
    kept = ctl.registry.find(run_dir.name)
    assert kept is not None and "cancelled" in kept.title


def _fake_model(reg: ModelRegistry, key: str, title: str, name: str = "model.pt"):
    d = reg.new_run_dir(key)
    reg.write_card(d, {"title": title})
    (d / name).write_bytes(b"PK\x03\x04" + b"\0" * 2000)
    return d


def test_finished_runs_keep_one_checkpoint(qtbot, make_window):
    from digitgui.model_control import registry_root

    reg = ModelRegistry(registry_root())
    old = _fake_model(reg, "20240101-000000", "Retrained old", name="best.pt")  # an older version's run
    (old / "last.pt").write_bytes(b"PK\x03\x04" + b"\0" * 6000)
    (old / "synthetic").mkdir()
    (old / "synthetic" / "1.png").write_bytes(b"\0" * 3000)
    new = _fake_model(reg, "20250101-000000", "Retrained new")
    going = reg.new_run_dir("20250101-000001")  # no card: a run still going is never touched
    (going / "last.pt").write_bytes(b"\0" * 5000)
    win = make_window()
    listed = {m.key: m.path for m in win.models.registry.models()}
    assert listed[old.name] == old / "best.pt" and listed[new.name] == new / "model.pt"
    assert not (old / "last.pt").exists() and not (old / "synthetic").exists()
    assert (going / "last.pt").is_file()


def test_registry_skips_missing_and_corrupt_models(tmp_path):
    reg = ModelRegistry(tmp_path)
    for name, content in (("a", None), ("b", b"garbage"), ("c", b"PK\x03\x04" + b"\0" * 2000)):
        d = reg.new_run_dir(name)
        reg.write_card(d, {"title": name})
        if content is not None:
            (d / "model.pt").write_bytes(content)
    (reg.new_run_dir("d") / "card.json").write_text("{broken")
    keys = [m.key for m in reg.models() if m.key not in BUNDLED_MODELS]
    assert keys == ["c"]
    text = "\n".join(reg.problems)
    assert "a: model file missing or corrupt" in text and "b: model file missing" in text
    assert "d: unreadable model card" in text


def test_models_and_unfinished_runs_are_deleted_from_the_dock(qtbot, window, dataset, monkeypatch):
    win = window
    reg = win.models.registry
    kept = _fake_model(reg, "20250101-000000", "Retrained keep")
    gone = _fake_model(reg, "20250101-000001", "Retrained gone")
    stale = reg.new_run_dir("20250101-000002")  # a run that never finished: no card, a checkpoint
    (stale / "last.pt").write_bytes(b"\0" * 5000)
    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda *a: asked.append(a) or True)
    assert win.open_folder(dataset)
    win.toggle_training_dock()
    dock = win.training_dock
    texts = lambda: [dock.picker.itemText(i) for i in range(dock.picker.count())]  # noqa: E731
    assert any("Retrained gone" in t for t in texts())
    actions = {a.text(): a for a in dock.delete_menu.actions()}
    assert not any("Bundled default" in t for t in actions)  # the bundled model stays
    next(a for t, a in actions.items() if "Retrained gone" in t).trigger()
    assert asked and not gone.exists() and kept.is_dir()
    assert not any("Retrained gone" in t for t in texts())
    actions = {a.text(): a for a in dock.delete_menu.actions()}
    unfinished = next(a for t, a in actions.items() if "unfinished" in t)
    assert "1 unfinished run" in unfinished.text()
    unfinished.trigger()
    assert not stale.exists() and kept.is_dir() and reg.unfinished() == []


def test_start_cancel_and_use_are_visible_at_1280x800(qtbot, window, dataset):
    win = window
    win.resize(1280, 800)
    assert win.open_folder(dataset)
    win.toggle_training_dock()
    dock = win.training_dock
    qtbot.waitUntil(lambda: dock.isVisible() and win.height() <= 800, timeout=5000)
    qtbot.wait(50)
    for btn in (dock.start_btn, dock.cancel_btn, dock.use_btn):
        assert btn.isVisible(), btn.text()
        assert not btn.visibleRegion().isEmpty(), btn.text()
        bottom = btn.mapTo(win, QPoint(0, btn.height())).y()
        assert bottom <= win.height(), (btn.text(), bottom)


def test_time_budget_epochs_and_device_are_remembered(qtbot, make_window):
    win = make_window()
    win.toggle_training_dock()
    assert win.training_dock.minutes.value() == RECIPE["max_minutes"]  # the recipe's by default
    win.training_dock.minutes.setValue(2.5)
    win.training_dock.epochs.setValue(3)
    win.training_dock.device.setCurrentText("cpu")
    win.close()
    again = make_window()
    again.toggle_training_dock()
    assert again.training_dock.minutes.value() == 2.5
    assert again.training_dock.epochs.value() == 3
    assert again.training_dock.device.currentText() == "cpu"


def test_plan_json_is_replaced_atomically(qtbot, tmp_path, dataset):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "plan.json").write_text("{}")
    os.link(run_dir / "plan.json", tmp_path / "old-plan.json")  # the same file, by another name
    empty = coco_ground_truth([], [])
    service = TrainingService()
    service.start(dataset, run_dir, TrainingData(train=empty, heldout=empty), TrainingPlan(epochs=1))
    service.shutdown()
    service.deleteLater()  # gone now, with its process object, not at some later test's GC
    qtbot.wait(20)
    assert json.loads((run_dir / "plan.json").read_text())["epochs"] == 1
    assert (tmp_path / "old-plan.json").read_text() == "{}"  # replaced, never written in place


def test_the_bundled_printed_model_is_in_the_picker_and_remembered_per_folder(
    qtbot, make_window, plain_folder
):
    """Both bundled models are listed (neither can be deleted); picking the printed-numbers one
    reads with it, names it in the status bar, and the folder opens with it next time."""
    from digitgui import help as app_help

    win = make_window("default")
    assert win.open_folder(plain_folder)
    wait_model(qtbot, win)
    win.toggle_training_dock()
    dock = win.training_dock
    keys = [dock.picker.itemData(i) for i in range(dock.picker.count())]
    assert keys[:2] == ["default", "printed"]
    assert "Bundled default" in win.model_label.text()
    assert not any("Bundled" in a.text() for a in dock.delete_menu.actions())
    with qtbot.waitSignal(win.inference.ready, timeout=60000):
        dock.picker.setCurrentIndex(keys.index("printed"))
        dock.picker.activated.emit(keys.index("printed"))  # as a click on the item does
    assert win.current_model_key() == "printed"
    qtbot.waitUntil(lambda: "Bundled printed numbers" in win.model_label.text(), timeout=10000)
    title, card, bundled = app_help.model_summary(win)
    assert title == "Bundled printed numbers model" and bundled and "printed" in card["note"]
    win.close()
    again = make_window("default")
    assert again.open_folder(plain_folder)
    wait_model(qtbot, again)
    assert again.current_model_key() == "printed"
