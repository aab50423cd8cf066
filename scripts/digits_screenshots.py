"""Screenshots of Model > Digits per number, into docs/screenshots/.

    .venv/bin/python scripts/digits_screenshots.py runs/printed_holdout/images/343.png --digits 4

Copies the photo to a temporary folder (settings and the project file go there too), opens it in
the real main window with the bundled model and saves ``digits_before.png`` (the model's
reading), ``digits_dialog.png`` (the question, answered with ``--digits``) and
``digits_after.png`` (the photo read again under that count). Make the photo with ``python -m
trainer synth --kind printed --seed 90211 --count 400 --out runs/printed_holdout`` (with
``--backgrounds`` as in the README).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _shots import isolated_window, pumper  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photo", type=Path)
    p.add_argument("--digits", default="4")
    p.add_argument("--model", default=None)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--size", default="1100x640")
    a = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="digitstudio-digits-")) / "photos"
    folder.mkdir()
    shutil.copy(a.photo, folder / a.photo.name)
    app, win = isolated_window(a.model, a.size)
    a.out.mkdir(parents=True, exist_ok=True)

    pump = pumper(app)

    def save(name: str) -> None:
        pump(0.5)
        win.grab().save(str(a.out / name))
        print("wrote", a.out / name, "reading", win.doc.reading().text or "-")

    if not win.open_folder(folder):
        print("cannot open", folder, file=sys.stderr)
        return 1
    pump(120, lambda: win.inference.available or win.inference.error is not None)
    pump(60, lambda: win.doc.current_entry.pred is not None)
    pump(5, lambda: win.canvas.shown_path == str(win.doc.current_entry.path))
    save("digits_before.png")

    from PySide6.QtWidgets import QInputDialog

    from digitgui import dialogs

    def answer(parent, title, label, text=""):
        dlg = QInputDialog(parent)
        dlg.setWindowTitle(title)
        dlg.setLabelText(label)
        dlg.setTextValue(a.digits)
        dlg.show()
        pump(0.5)
        dlg.grab().save(str(a.out / "digits_dialog.png"))
        print("wrote", a.out / "digits_dialog.png")
        dlg.close()
        return a.digits

    dialogs.ask_text = answer
    win.actions_by_name["digits"].trigger()
    pump(60, lambda: not win.models.stale and not win.inference.busy)
    save("digits_after.png")
    win.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
