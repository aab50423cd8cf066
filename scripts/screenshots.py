"""Save screenshots of the real main window into docs/screenshots/.

    python scripts/screenshots.py ../shared/data/svhn/valid [--model PATH] [--out docs/screenshots]

Runs offscreen when there is no display (or under ``xvfb-run``). Settings and the project file
go to a temporary folder, so the user's settings and the photo folder are left untouched.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _shots import isolated_window, pumper  # noqa: E402


def training_panel(win, doc, pump, save, out: Path) -> None:
    """Review 40 photos as predicted, start a short retraining and capture the panel mid-run."""
    from PySide6.QtCore import Qt

    for r in range(min(40, len(doc))):
        doc.mark_reviewed(r)
    win.toggle_training_dock()
    dock = win.training_dock
    dock.epochs.setValue(4)
    dock.batch.setValue(4)
    dock.device.setCurrentText("cpu")
    win.resizeDocks([dock], [400], Qt.Orientation.Vertical)
    dock.refresh()
    dock.start()
    epochs = []
    win.models.epoch.connect(epochs.append)
    pump(600, lambda: len(epochs) >= 2 or not win.models.training_running)
    pump(3)
    save("training_panel.png")
    dock.grab().save(str(out / "training_panel_dock.png"))
    win.models.shutdown()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "data" / "svhn" / "valid"))
    p.add_argument(
        "--model", default=None, help="model checkpoint (default: $DIGIT_STUDIO_MODEL or the bundled one)"
    )
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--image", default=None, help="file name of the image to show (default: a busy one)")
    p.add_argument("--size", default="1400x860")
    p.add_argument(
        "--with-gt", action="store_true", help="load the folder's ground truth (default: photos only)"
    )
    args = p.parse_args()
    from PySide6.QtCore import Qt

    app, win = isolated_window(args.model, args.size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    pump = pumper(app)

    def save(name: str) -> None:
        pump(0.3)
        win.grab().save(str(out / name))
        print("wrote", out / name)

    save("start_page.png")
    if not win.open_folder(Path(args.folder), use_gt=args.with_gt):
        print("cannot open", args.folder, win.messages, file=sys.stderr)
        return 1
    pump(60, lambda: win.inference.available or win.inference.error is not None)
    if win.inference.available:
        done = []
        win.inference.job_finished.connect(lambda *_a: done.append(1))
        win.predict_all()
        pump(300, lambda: bool(done))
    doc = win.doc
    row = doc.row_of(args.image) if args.image else None
    if row is None:  # a photo with several digits, predictions and a reasonable size
        scored = [
            (min(len(doc.shown(i)), 4), (e.size or (0, 0))[0], i)
            for i, e in enumerate(doc.entries[:80])
            if e.pred is not None and (e.size or (0, 0))[0] >= 90
        ]
        row = max(scored)[2] if scored else 0
    doc.set_current(row)
    pump(3, lambda: win.canvas.shown_path == str(doc.current_entry.path))
    shown = doc.shown()
    if shown:
        win.canvas.set_selected(max(shown, key=lambda s: s.w * s.h).key)
    save("main_window.png")
    win.image_list.sort.setCurrentIndex(1)
    win.image_list.filter.setCurrentIndex(1)
    first = win.image_list.rows_in_view_order()[0]
    doc.set_current(first)
    pump(3, lambda: win.canvas.shown_path == str(doc.current_entry.path))
    save("lowest_confidence_first.png")
    win.image_list.filter.setCurrentIndex(0)
    win.image_list.sort.setCurrentIndex(0)
    doc.set_current(row)
    pump(3, lambda: win.canvas.shown_path == str(doc.current_entry.path))
    e = doc.current_entry
    win.canvas.setFocus()
    win.canvas.arm_draw()
    rect = (e.size[0] * 0.05, e.size[1] * 0.1, e.size[0] * 0.12, e.size[1] * 0.6)
    key = doc.add_box(rect)
    win.canvas.pending_label = key
    win.canvas.set_selected(key)
    win.canvas._show_prompt(key)
    win.canvas.draw_armed = False
    win.canvas.viewport().unsetCursor()
    save("drawing_a_box.png")
    win.canvas.prompt.hide()
    doc.undo_stack.undo()
    if win.inference.available:
        training_panel(win, doc, pump, save, out)
    win.setWindowState(win.windowState() & ~Qt.WindowState.WindowMinimized)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
