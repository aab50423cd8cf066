"""The main window for screenshots: offscreen unless a display is there, user data and settings
in a temporary folder, and never a write into the photo folder."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def isolated_window(model: str | None, size: str, **kwargs):
    """(app, window) shown at ``size`` ("WxH"), with the app's user data kept out of the way."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="digitstudio-shots-"))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(tmp / var.lower())

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from digitgui import app as app_module
    from digitgui import project_store

    app_module.configure_application(app)
    project_store.folder_is_writable = lambda folder: False  # never write into the photo folder
    from digitgui.main_window import MainWindow

    w, h = (int(v) for v in size.split("x"))
    win = MainWindow(model=app_module.model_choice(model), **kwargs)
    win.resize(w, h)
    win.show()
    return app, win


def pumper(app):
    """``pump(seconds, until=None)``: run ``app``'s events for ``seconds`` or until ``until()``."""

    def pump(seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            app.processEvents()
            time.sleep(0.01)

    return pump
