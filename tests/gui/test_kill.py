"""No edit is lost when the app is killed (SIGKILL) at any moment after the edit showed on screen.

A real child process (``kill_driver.py``: the real main window) makes scripted edits and reports
each once it is painted; the test kills it 0-500 ms after the last report, reopens the folder in
the real window here and compares with what the child last showed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kill_driver import EDITS, snapshot

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("kill_driver.py")
DELAYS = [0.0, 0.0, 0.01, 0.05, 0.1, 0.2, 0.5]


def _run_and_kill(folder: Path, delay: float, log: Path) -> list[dict]:
    """Start the app on ``folder``, wait for every edit to show, kill -9 ``delay`` s later."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(folder)], stdout=subprocess.PIPE, stderr=err, env=env, cwd=ROOT
        )
        shown: list[dict] = []
        try:
            for line in proc.stdout:
                tag, k, blob = line.decode().split(" ", 2)
                if tag in ("READY", "EDIT"):
                    assert int(k) == len(shown)
                    shown.append(json.loads(blob))
                if len(shown) == len(EDITS) + 1:
                    break
            if delay:
                time.sleep(delay)
        finally:
            proc.kill()  # SIGKILL: no handler, no flush, no atexit
            proc.wait(10)
    assert len(shown) == len(EDITS) + 1, log.read_text()[-3000:]
    return shown


@pytest.mark.slow
def test_kill_9_right_after_the_last_edit_loses_nothing(qtbot, make_window, tmp_path, synth_master):
    names = sorted(p.name for p in (synth_master / "images").glob("*.png"))[:4]
    win = make_window(show=False)
    lost_by_delay = {}
    for i, delay in enumerate(DELAYS):
        folder = tmp_path / f"trial-{i}"
        folder.mkdir()
        for n in names:
            shutil.copy(synth_master / "images" / n, folder / n)
        shown = _run_and_kill(folder, delay, tmp_path / f"trial-{i}.log")
        assert win.open_folder(folder)
        after = snapshot(win.doc)
        kept = max((k for k, s in enumerate(shown) if s == after), default=-1)
        lost_by_delay[f"{i}:{delay}s"] = len(EDITS) - kept if kept >= 0 else len(EDITS)
    total = len(EDITS) * len(DELAYS)
    lost = sum(lost_by_delay.values())
    print(f"edits lost: {lost} of {total} (by trial:delay {lost_by_delay})")
    assert lost == 0, f"edits lost: {lost} of {total}: {lost_by_delay}"
