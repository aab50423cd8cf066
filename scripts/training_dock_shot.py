"""The training dock after a real round: numbers typed on photos, then Train, then a screenshot.

    .venv/bin/python scripts/training_dock_shot.py ../shared/data/bibs/truth.csv \\
        [--first 100] [--minutes 5] [--out docs/screenshots/training_dock.png]

Opens the CSV's photo folder in the real main window (settings and the project file in a
temporary folder, nothing written beside the photos), lets the model read every photo, types the
numbers of the first ``--first`` photos the way a person does (Enter after the number: the boxes
that best explain the typed digits become checked boxes, and a guess has the number's region
read again; Space reviews the photo, unless the boxes are still a guess, which a person would
fix first and this script leaves), starts a run from the Training dock
with ``--minutes`` of budget on the CPU and saves the dock once the run has finished. Prints the
counts, the run's epochs and the comparison with the starting model. ``--stage-out`` also saves
the dock halfway through the photos read before training (choosing the starting model).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _shots import isolated_window  # noqa: E402

from trainer.finetune import RECIPE  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("truth", type=Path, help="numbers CSV: image_id,file_name,number")
    p.add_argument("--first", type=int, default=100, help="type the numbers of this many photos")
    p.add_argument(
        "--minutes", type=float, default=RECIPE["max_minutes"], help="the run's time budget (the recipe's)"
    )
    p.add_argument("--model", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "training_dock.png")
    p.add_argument("--stage-out", type=Path, help="also save the dock while the photos are read")
    p.add_argument("--size", default="1400x860")
    a = p.parse_args()

    from trainer.truth import read_numbers_csv

    rows = read_numbers_csv(a.truth)[: a.first]
    folder = rows[0].path.parent
    app, win = isolated_window(a.model, a.size)

    slowest = [0.0]  # the longest single pass of the event loop: how long the UI could not answer

    def pump(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            t = time.perf_counter()
            app.processEvents()
            slowest[0] = max(slowest[0], time.perf_counter() - t)
            time.sleep(0.01)

    if not win.open_folder(folder):
        print("cannot open", folder, file=sys.stderr)
        return 1
    pump(120, lambda: win.inference.available or win.inference.error is not None)
    done = []
    win.inference.job_finished.connect(lambda *_a: done.append(1))
    win.predict_all()
    pump(900, lambda: bool(done))
    from digitgui import quick_edits

    doc = win.doc
    typed = doubtful = 0
    doubts: Counter[str] = Counter()
    for r in rows:
        row = doc.row_of(r.path.name)
        if row is None:
            continue
        doc.set_current(row)
        quick_edits.type_number(win, r.number)
        pump(120, lambda: not win.predictions.reads)  # a guess has its number's region read again
        typed += 1
        if doc.typing_doubt:  # the boxes are a guess: a person would fix them first; left as is
            doubtful += 1
            doubts[re.sub(r"\d+", "N", doc.typing_doubt)] += 1
        else:
            win.review_and_next()  # Space
    print(f"typed {typed} numbers and reviewed them; {doubtful} left unreviewed (boxes a guess)")
    for why, count in doubts.most_common():
        print(f"  {count:3d}  {why}")
    win.toggle_training_dock()
    dock = win.training_dock
    dock.minutes.setValue(a.minutes)
    dock.device.setCurrentText("cpu")
    dock.refresh()
    pump(1)
    print(dock.counts.text())
    ends = []
    win.models.run_finished.connect(ends.append)
    staged = []

    def on_stage(ev) -> None:  # the dock has shown it already (connected first)
        if a.stage_out and not staged and 2 * ev.done >= ev.total:
            staged.append(ev.describe())
            a.stage_out.parent.mkdir(parents=True, exist_ok=True)
            dock.grab().save(str(a.stage_out))
            print(f"wrote {a.stage_out} at: {ev.describe()}")

    win.models.stage.connect(on_stage)
    t0 = time.monotonic()
    slowest[0] = 0.0
    dock.start()
    pump(a.minutes * 60 + 600, lambda: bool(ends))
    pump(3)
    print(f"run ended after {time.monotonic() - t0:.0f} s")
    print(f"longest pass of the event loop during the run: {slowest[0] * 1000:.0f} ms")
    print(dock.log.toPlainText())
    from PySide6.QtCore import Qt

    win.resizeDocks([dock], [470], Qt.Orientation.Vertical)  # room for the whole comparison table
    pump(1)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    dock.grab().save(str(a.out))
    print("wrote", a.out)
    win.models.shutdown()
    win.close()  # joins the model's threads before Python tears down
    return 0 if ends else 1


if __name__ == "__main__":
    raise SystemExit(main())
