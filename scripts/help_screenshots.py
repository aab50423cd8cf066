"""Screenshots of Help ▸ Keyboard shortcuts and Help ▸ About into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/help_screenshots.py

Runs offscreen when there is no display. Settings and user data go to a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shots import ROOT, isolated_window  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = p.parse_args()
    # no model is needed for Help: the window starts without one
    app, win = isolated_window("default", "1280x800", device="cpu", start_inference=False)
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
