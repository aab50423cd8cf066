"""How long quitting the app takes, from closing the window to the end of the process.

    python bench/quit_time.py [--repeat 3]

Runs the real app (``digitgui.app.main``, offscreen, CPU, the bundled model) as a child process
on a folder of synthetic photos and closes its window

* ``idle``: once the model is loaded and the image on screen is predicted (nothing running);
* ``loading``: 0.3 s after start, while the model is still loading.

The baseline, measured in the same run, is a bare interpreter that imports torch, torchvision
and PySide6 and then exits normally: what the end of any such process costs. The ratio
``quit / baseline`` is comparable across machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, table

DRIVER = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from digitgui import app as appmod

mode = sys.argv[2]
qapp = QApplication(sys.argv[:1])
state = {}

def poll():
    wins = [w for w in qapp.topLevelWidgets() if type(w).__name__ == "MainWindow"]
    win = wins[0] if wins else None
    ready = win is not None and len(win.doc) and win.doc.entry(0).pred is not None
    if mode == "idle" and not ready:
        QTimer.singleShot(20, poll)
        return
    if mode == "idle" and "t" not in state:
        state["t"] = time.time()  # let the read-ahead predictions finish: nothing running
        QTimer.singleShot(3000, poll)
        return
    print("CLOSE", time.time(), flush=True)
    win.close()

QTimer.singleShot(20 if mode == "idle" else 300, poll)
appmod.main([sys.argv[1], "--device", "cpu"])
"""

BASELINE = r"""
import time
import torch, torchvision  # noqa: F401
from PySide6.QtWidgets import QApplication
app = QApplication([])
print("CLOSE", time.time(), flush=True)
"""


def _run(code: str, *args: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    closed = None
    for line in proc.stdout:
        if line.startswith("CLOSE"):
            closed = float(line.split()[1])
    proc.wait()
    end = time.time()
    if proc.returncode != 0 or closed is None:
        raise SystemExit(f"child failed (rc {proc.returncode})")
    return end - closed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from trainer.synth import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_dataset(root / "s", 6, seed=1)
        folder = str(root / "s" / "images")
        times: dict[str, list[float]] = {"baseline": [], "idle": [], "loading": []}
        for _ in range(args.repeat):
            times["baseline"].append(_run(BASELINE))
            for mode in ("idle", "loading"):
                for f in (root / "s" / "images").glob(".digitstudio*"):
                    f.unlink()
                times[mode].append(_run(DRIVER, folder, mode))
    base = statistics.median(times["baseline"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append([name, med, max(ts), med / base])
    print(table(rows, ["case", "median s", "max s", "ratio to baseline"]))


if __name__ == "__main__":
    main()
