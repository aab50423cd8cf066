"""Quitting: no wait for a model still loading, and the work is saved first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trainer.imageio import list_images

QUIT_SCRIPT = r"""
import os, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from digitgui import app as appmod

qapp = QApplication(sys.argv[:1])

def quit_now():
    win = next(w for w in qapp.topLevelWidgets() if type(w).__name__ == "MainWindow")
    if not len(win.doc):
        QTimer.singleShot(20, quit_now)
        return
    win.doc.set_current(2)
    thread = win.inference._thread
    loading = thread is not None and not win.inference.available
    win.close()
    print("closed; model was loading:", loading, "; worker still running:", thread.isRunning(), flush=True)

QTimer.singleShot(0, quit_now)
appmod.main([sys.argv[1], "--device", "cpu"])
print("not reached", flush=True)
"""


def test_quitting_while_the_model_loads_does_not_wait_for_it_and_keeps_the_work(
    tmp_path, plain_folder, model_path
):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DIGIT_STUDIO_MODEL=str(model_path))
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-c", QUIT_SCRIPT, str(plain_folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model was loading: True ; worker still running: True" in proc.stdout, proc.stdout + proc.stderr
    assert "not reached" not in proc.stdout
    assert "Destroyed while thread" not in proc.stderr
    project = json.loads((plain_folder / ".digitstudio.json").read_text())
    assert project["current"] == list_images(plain_folder)[2].name  # saved before the process ended
