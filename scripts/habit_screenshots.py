"""Screenshots of the box menu, the Go-to dialog and the dark theme into docs/screenshots/.

    python scripts/habit_screenshots.py ../shared/data/svhn/valid [--model PATH] [--out docs/screenshots]

Runs offscreen when there is no display. Settings and the project file go to a temporary folder,
so the user's settings and the photo folder are left untouched. Pop-ups (the menu, the dialog)
are separate windows: each is drawn over the window's picture where it stands on screen.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _shots import isolated_window  # noqa: E402


def composite(win, popups):
    """The window's picture with ``popups`` (top-level widgets) drawn where they are."""
    from PySide6.QtGui import QPainter

    shot = win.grab()
    p = QPainter(shot)
    origin = win.mapToGlobal(win.rect().topLeft())
    for w in popups:
        pos = w.mapToGlobal(w.rect().topLeft()) - origin
        p.drawPixmap(pos, w.grab())
    p.end()
    return shot


def show_a_busy_photo(win, pump) -> None:
    """Predict the first photos and show the one with the most digits (up to 4), the widest."""
    doc = win.doc
    pump(120, lambda: win.inference.available or win.inference.error is not None)
    first = list(range(min(12, len(doc))))
    win.inference.request([(doc.entry(r).name, doc.entry(r).path) for r in first])
    pump(120, lambda: all(doc.entry(r).pred is not None or doc.entry(r).error for r in first))
    row = max(first, key=lambda r: (min(len(doc.shown(r)), 4), (doc.entry(r).size or (0, 0))[0]))
    doc.set_current(row)
    pump(5, lambda: win.canvas.shown_path == str(doc.current_entry.path))
    pump(0.5)
    win.statusBar().clearMessage()  # it names the folder


def box_menu_shot(win, pump, save) -> None:
    """The menu of the second box from the left, its Set digit submenu open."""
    from PySide6.QtCore import QPoint

    shown = sorted(win.doc.shown(), key=lambda s: s.x)
    target = shown[min(1, len(shown) - 1)]
    pos = win.canvas.view_pos(target.x + target.w * 0.6, target.y + target.h * 0.6)
    win.canvas.set_selected(target.key)
    win.canvas.box_menu_requested.emit(target.key, win.canvas.viewport().mapToGlobal(pos))
    menu = win.box_menu.menu
    pump(0.5)
    menu.move(win.canvas.viewport().mapToGlobal(pos))  # where it opens on a screen large enough
    digits = next(a for a in menu.actions() if a.menu() is not None)
    menu.setActiveAction(digits)
    sub = digits.menu()
    at = menu.mapToGlobal(QPoint(menu.width() - 4, menu.actionGeometry(digits).top()))
    sub.popup(at)
    pump(0.3)
    sub.move(at)  # a small offscreen screen would push both to the left
    pump(0.5)
    save(composite(win, [menu, sub]), "box_context_menu.png")
    sub.close()
    menu.close()


def goto_shot(win, pump, save) -> None:
    """Go to image, with the first letters of a file name typed."""
    from PySide6.QtCore import QPoint

    dlg = win.goto_dialog
    dlg.start()
    dlg.edit.setText("161")
    dlg.resize(420, 330)
    pump(0.5)
    dlg.move(win.mapToGlobal(QPoint((win.width() - dlg.width()) // 2, (win.height() - dlg.height()) // 3)))
    pump(0.3)
    save(composite(win, [dlg]), "goto_dialog.png")
    dlg.reject()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "data" / "svhn" / "valid"))
    p.add_argument("--model", default=None, help="model checkpoint (default: the bundled one)")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--size", default="1200x760")
    args = p.parse_args()
    app, win = isolated_window(args.model, args.size, device="cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def pump(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.01)

    def save(pixmap, name: str) -> None:
        pixmap.save(str(out / name))
        print("wrote", out / name)

    if not win.open_folder(Path(args.folder), use_gt=False):
        print("cannot open", args.folder, win.messages, file=sys.stderr)
        return 1
    show_a_busy_photo(win, pump)
    box_menu_shot(win, pump, save)
    goto_shot(win, pump, save)
    win.theme.choose("dark")  # the dark theme, with the boxes and the list as they are
    win.canvas.set_selected(0)
    pump(0.8)
    save(win.grab(), "dark_theme.png")
    win.theme.choose("system")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
