"""Screenshots of Help ▸ Keyboard shortcuts and Help ▸ About into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/help_screenshots.py

Runs offscreen when there is no display. Settings and user data go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = p.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="digitstudio-shots-"))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(tmp / var.lower())

    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from digitgui.app import configure_application
    from digitgui.main_window import MainWindow

    configure_application(app)
    win = MainWindow(model="default", device="cpu", start_inference=False)  # no model needed
    win.show()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    pump(1.0)
    win.actions_by_name["shortcuts"].trigger()
    pump(0.5)
    win.help.shortcuts_window.grab().save(str(out / "help_shortcuts.png"))
    win.help.shortcuts_window.close()
    win.actions_by_name["about"].trigger()
    pump(0.5)
    win.help.about_box.grab().save(str(out / "about_box.png"))
    print("wrote", out / "help_shortcuts.png", "and", out / "about_box.png")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
