"""Cost of the edit journal on the UI thread: one JSON line, write, fsync per edit.

    python bench/journal_cost.py [--edits 60] [--dir PATH]

Times ``Document.add_box`` / relabel / delete with the project store bound to a folder in
``--dir`` (default: a temp folder beside the repo, on the same disk as users' data would be),
i.e. the whole edit as the UI thread runs it, journal included, against the same edits with no
folder bound (no journal), and the journal append alone. Reports median and 95th percentile.

The default stays small: PySide6 6.12.0 (Python 3.11) drops a reference to ``True`` on every
Python-side ``Signal.emit``, and a few thousand emits in one process abort the interpreter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _edits(doc, n: int) -> list[float]:
    """n edits on the current image (add, relabel, delete in turn); the time of each, in ms."""
    out = []
    for i in range(n):
        t = time.perf_counter()
        if i % 3 == 0:
            doc.add_box((5 + i % 40, 5, 10, 20), i % 10)
        elif i % 3 == 1:
            key = doc.entry(doc.current).layer.boxes[-1].id
            doc.change_box(key, digit=(i + 1) % 10)
        else:
            key = doc.entry(doc.current).layer.boxes[-1].id
            doc.delete_box(key)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _stats(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"median {statistics.median(ms):.3f} ms, p95 {q[18]:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=60)
    ap.add_argument("--dir", default=str(ROOT.parent))
    args = ap.parse_args()
    from PySide6.QtGui import QGuiApplication

    from digitgui.document import Document
    from digitgui.journal import Journal
    from digitgui.project_file import layer_json
    from digitgui.project_store import Location, ProjectStore
    from digitgui.state import ImageEntry

    app = QGuiApplication([])  # noqa: F841 - Qt objects need an application
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="journal-bench-") as tmp:
        folder = Path(tmp)
        entries = [ImageEntry(f"{i}.png", folder / f"{i}.png", i, (200, 100)) for i in range(3)]
        doc = Document()
        store = ProjectStore(doc, delay_ms=10**7)  # no autosave while timing
        doc.load(folder, entries)
        bare = _edits(doc, args.edits)
        doc.load(folder, [ImageEntry(e.name, e.path, e.image_id, e.size) for e in entries])
        store.bind(Location.for_folder(folder))
        journaled = _edits(doc, args.edits)
        j = Journal(folder / "alone.journal")
        rec = {"image": "0.png", "layer": layer_json(doc.entry(0).layer), "current": "0.png"}
        alone = []
        for _ in range(args.edits):
            t = time.perf_counter()
            j.append(rec)
            alone.append((time.perf_counter() - t) * 1000)
        j.close()
        store.close()
    print(f"journal directory: {args.dir} ({args.edits} edits each)")
    print(f"edit without journal:  {_stats(bare)}")
    print(f"edit with journal:     {_stats(journaled)}")
    print(f"journal append alone:  {_stats(alone)}")


if __name__ == "__main__":
    main()
