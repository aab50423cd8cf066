"""The real app making scripted edits, for the kill -9 test (run as a child process).

``python tests/gui/kill_driver.py FOLDER`` opens FOLDER in the real main window, then makes
:data:`EDITS` one after another through the document's undo commands, 30 ms apart, with one
longer pause (:data:`PAUSE_AFTER`) in which the autosave writes the project file. After each edit
is applied and the canvas repainted it prints ``EDIT <k> <snapshot>`` (``READY 0 ...`` before the
first), so the test can kill it at any moment after an edit showed on screen.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

STEP_MS = 30
PAUSE_AFTER, PAUSE_MS = 4, 700  # the autosave (400 ms debounce) lands between edits 4 and 5


def snapshot(doc) -> dict:
    """What the person made of each image: status, checked boxes and emptied spots (ids left out)."""
    out = {}
    for e in doc.entries:
        lay = e.layer
        if lay.boxes or lay.hidden or lay.status.name not in ("NOT_SEEN", "LABELLED"):
            boxes = sorted(
                [round(b.x, 2), round(b.y, 2), round(b.w, 2), round(b.h, 2), b.digit] for b in lay.boxes
            )
            hidden = sorted([round(v, 2) for v in r] for r in lay.hidden)
            out[e.name] = [lay.status.name, boxes, hidden]
    return out


def _key(doc, digit: int) -> int:
    return next(s.key for s in doc.shown() if s.checked and s.digit == digit)


def _go(doc, row: int) -> None:
    doc.set_current(row)


EDITS = [
    lambda d: d.add_box((10, 10, 20, 30), 3),
    lambda d: d.add_box((40, 10, 20, 30), 5),
    lambda d: d.change_box(_key(d, 3), digit=7),
    lambda d: d.change_box(_key(d, 5), rect=(44, 12, 20, 30), move=True),
    lambda d: d.delete_box(_key(d, 7)),
    lambda d: (_go(d, 1), d.add_box((12, 8, 18, 26), 2)),
    lambda d: d.mark_reviewed(1),
    lambda d: (_go(d, 2), d.add_box((5, 5, 15, 25), 9)),
]


def main(folder: str) -> int:
    app = QApplication(sys.argv[:1])
    from digitgui.app import configure_application
    from digitgui.main_window import MainWindow

    configure_application(app)
    win = MainWindow(model="default", device="cpu", start_inference=False)
    win.show()
    if not win.open_folder(Path(folder)):
        return 2
    step = iter(enumerate(EDITS, 1))

    def shown(tag: str, k: int) -> None:
        app.processEvents()
        win.canvas.viewport().repaint()
        print(tag, k, json.dumps(snapshot(win.doc)), flush=True)

    def next_edit() -> None:
        item = next(step, None)
        if item is None:
            return  # keep running: the test kills us
        k, edit = item
        edit(win.doc)
        shown("EDIT", k)
        QTimer.singleShot(PAUSE_MS if k == PAUSE_AFTER else STEP_MS, next_edit)

    shown("READY", 0)
    QTimer.singleShot(STEP_MS, next_edit)
    QTimer.singleShot(30000, app.quit)  # never outlive a broken test
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
