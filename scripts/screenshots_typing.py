"""Screenshots of typing the number and of the photo display adjustment, into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1280x800x24" python scripts/screenshots_typing.py \\
        [--folder ../shared/data/svhn/valid] [--image 1641.png] [--number 725] [--dark 1911.png]

Copies the two photos to a temporary folder (the project file goes there, settings too), opens
it in the real main window with the bundled model, and drives it with key presses:
``typing_before.png`` (the model's reading, the editor open with the number typed),
``typing_after.png`` (after Enter) and ``display_adjust.png`` (brightness, contrast, gamma).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folder", default=str(ROOT.parent / "shared" / "data" / "svhn" / "valid"))
    p.add_argument("--image", default="1641.png")
    p.add_argument("--number", default="725")
    p.add_argument("--dark", default="1911.png", help="a dark photo for the display adjustment")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = p.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="digitstudio-typing-"))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())
    photos = tmp / "photos"
    photos.mkdir()
    for name in (args.image, args.dark):
        shutil.copy(Path(args.folder) / name, photos / name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from digitgui.main_window import MainWindow

    win = MainWindow(model="default", device="cpu")
    win.resize(1100, 640)
    win.show()

    def pump(seconds: float, until=None) -> None:
        end = time.time() + seconds
        while time.time() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.02)

    def save(name: str) -> None:
        pump(0.4)
        win.grab().save(str(out / name))
        print("wrote", out / name)

    win.open_folder(photos)
    doc = win.doc
    doc.set_current(doc.row_of(args.image))
    pump(120, lambda: doc.current_entry.pred is not None and win.canvas.shown_path is not None)
    pump(1)
    win.activateWindow()
    win.canvas.setFocus()
    QTest.keyClick(win.canvas, Qt.Key.Key_Return)
    QTest.keyClicks(win.number.editor, args.number)
    save("typing_before.png")
    QTest.keyClick(win.number.editor, Qt.Key.Key_Return)
    save("typing_after.png")
    doc.set_current(doc.row_of(args.dark))
    pump(60, lambda: doc.current_entry.pred is not None and win.canvas.shown_path is not None)
    for key in (Qt.Key.Key_BracketRight, Qt.Key.Key_BracketRight, Qt.Key.Key_BraceRight, Qt.Key.Key_G):
        QTest.keyClick(win.canvas, key)
    save("display_adjust.png")
    QTest.keyClick(win.canvas, Qt.Key.Key_Backslash)
    save("display_adjust_before.png")
    win.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
