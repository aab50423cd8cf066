"""Start-up: no torch on the UI thread, start page, recent folders, samples, arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from guihelpers import wait_model
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from digitgui import app, settings
from digitgui.state import Status

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_torch_is_imported_in_the_worker_only(model_path, tmp_path, synth_master):
    script = textwrap.dedent(
        f"""
        import sys, threading, time
        importers = []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    importers.append(threading.current_thread().name)
                return None

        sys.meta_path.insert(0, Spy())
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from digitgui.main_window import MainWindow
        t0 = time.monotonic()
        win = MainWindow(model={str(model_path)!r}, device="cpu")
        win.show()
        win.open_folder(__import__("pathlib").Path({str(synth_master / "images")!r}))
        print("TORCH_AFTER_WINDOW", "torch" in sys.modules, round(time.monotonic() - t0, 2))
        end = time.monotonic() + 30
        while not win.inference.available and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        print("MODEL", win.inference.available, win.model_label.text())
        print("TORCH_AFTER_MODEL", "torch" in sys.modules)
        print("IMPORTED_IN", *importers)
        win.close()
        """
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.stdout.splitlines() if ln.strip()}
    assert lines["TORCH_AFTER_WINDOW"][0] == "False"
    assert lines["MODEL"][0] == "True" and "CPU" in " ".join(lines["MODEL"])
    assert lines["TORCH_AFTER_MODEL"] == ["True"]
    assert lines["IMPORTED_IN"] and "MainThread" not in lines["IMPORTED_IN"]


def test_start_page_recent_folders_and_samples(qtbot, make_window, plain_folder, tmp_path):
    win = make_window()
    assert win.stack.currentIndex() == 0 and win.stack.currentWidget() is win.start_page
    assert win.start_page.recent.item(0).text() == "(none yet)"
    win.open_folder(plain_folder)
    assert settings.recent_folders() == [str(plain_folder.resolve())]
    win.close_folder()
    assert win.stack.currentIndex() == 0
    assert win.start_page.recent.item(0).text() == str(plain_folder.resolve())
    with qtbot.waitSignal(win.folder_opened, timeout=2000):
        win.start_page.recent.itemClicked.emit(win.start_page.recent.item(0))
    assert win.doc.folder == plain_folder.resolve()
    # sample images are generated into the cache folder, with their ground truth
    with qtbot.waitSignal(win.folder_opened, timeout=20000) as sig:
        win.start_page.samples_button.click()
    assert Path(sig.args[0]).is_relative_to(tmp_path / "xdg-cache")
    assert len(win.doc) == 24 and all(e.layer.status == Status.LABELLED for e in win.doc.entries)
    # a second window remembers both folders, newest first
    win2 = make_window()
    assert [win2.start_page.recent.item(i).text() for i in range(2)] == [
        sig.args[0],
        str(plain_folder.resolve()),
    ]


def test_status_bar_shows_model_and_device(qtbot, window):
    wait_model(qtbot, window)
    text = window.model_label.text()
    assert text.startswith("Model: m.pt") and "CPU" in text


def test_arguments_and_model_choice(monkeypatch):
    args = app.parse_args(["some/folder", "--model", "x.pt", "--device", "cpu"])
    assert (args.folder, args.model, args.device) == ("some/folder", "x.pt", "cpu")
    monkeypatch.setenv(app.MODEL_ENV, "env.pt")
    assert app.model_choice(None) == "env.pt"
    assert app.model_choice("arg.pt") == "arg.pt"
    monkeypatch.delenv(app.MODEL_ENV)
    assert app.model_choice(None) == "default"


def test_drop_a_folder_opens_it(qtbot, window, plain_folder):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(plain_folder))])
    ev = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(ev)
    assert window.doc.folder == plain_folder.resolve() and len(window.doc) == 8


def test_training_dock_hook(qtbot, window):
    assert window.training_dock is None
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert window.training_dock is not None and window.training_dock.isVisible()
    window.actions_by_name["training"].trigger()
    assert not window.training_dock.isVisible()


def test_open_coco_menu_loads_ground_truth(qtbot, window, dataset, monkeypatch):
    from digitgui import dialogs

    gt = dataset.parent / "train.json"
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a, **k: str(gt))
    window.actions_by_name["coco"].trigger()
    assert window.doc.folder == dataset.resolve()
    assert window.doc.gt_source == gt.resolve()
    assert all(e.has_gt for e in window.doc.entries)
