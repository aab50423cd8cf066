"""What makes the app a desktop tool: its names and folders, the log file, crash traces, the icon
and the remembered window layout.

A GUI script has no console, so everything the app logs goes to a rotating file in the user data
folder, and ``faulthandler`` writes the Python stacks of a hard crash (a segfault in Qt or torch)
beside it.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMainWindow

from . import __version__
from .settings import APP, DISPLAY_NAME, ORG, settings

log = logging.getLogger(__name__)

OLD_APP = "DigitStudio"  # the application name up to 0.1.0 (paths read DigitStudio/DigitStudio)
LOG_NAME = "digit-studio.log"
CRASH_NAME = "crash.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
ICON = Path(str(resources.files("digitgui").joinpath("resources", "digit-studio.svg")))

_log_handler: logging.Handler | None = None
_crash_file = None


def configure_application(app: QCoreApplication) -> None:
    """Names (which decide every settings and data path), version and icon."""
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationVersion(__version__)
    if hasattr(app, "setApplicationDisplayName"):
        app.setApplicationDisplayName(DISPLAY_NAME)
        app.setDesktopFileName(APP)  # Wayland and the task bar match it with digit-studio.desktop
        app.setWindowIcon(app_icon())


def app_icon() -> QIcon:
    return QIcon(str(ICON))


def data_dir() -> Path:
    """The user data folder (trained models, projects of read-only folders, logs)."""
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation))


def log_dir() -> Path:
    return data_dir() / "logs"


def migrate_old_names() -> list[str]:
    """Move settings and user data from the old ``DigitStudio/DigitStudio`` names, once.

    Only when nothing exists under the new names yet; both live under the same parent folder, so
    a rename is enough. Returns what was moved (for the log).
    """
    moved = []
    new_ini = Path(settings().fileName())
    old_ini = Path(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, OLD_APP).fileName())
    if old_ini.is_file() and not new_ini.exists() and old_ini != new_ini:
        new_ini.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(old_ini, new_ini)  # a copy: an older version started later still finds its own
        moved.append(f"settings {old_ini} -> {new_ini}")
    new_data = data_dir()
    old_data = new_data.with_name(OLD_APP)
    if old_data.is_dir() and not new_data.exists() and old_data != new_data:
        try:
            os.replace(old_data, new_data)
            moved.append(f"user data {old_data} -> {new_data}")
        except OSError as exc:
            moved.append(f"user data left in {old_data} ({exc})")
    return moved


def setup_logging(level: int = logging.INFO) -> Path:
    """Log to the console (when there is one) and to a rotating file; crash traces to a file.

    Idempotent: calling it again (a second window, a test) adds no second handler. Returns the
    log folder.
    """
    global _log_handler, _crash_file
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = folder / LOG_NAME
    if _log_handler is None or Path(getattr(_log_handler, "baseFilename", "")) != path:
        if _log_handler is not None:
            root.removeHandler(_log_handler)
            _log_handler.close()
        _log_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
        _log_handler.setFormatter(fmt)
        root.addHandler(_log_handler)
    if sys.stderr is not None and not any(type(h) is logging.StreamHandler for h in root.handlers):
        console = logging.StreamHandler()
        console.setFormatter(fmt)
        root.addHandler(console)
    crash = folder / CRASH_NAME
    if _crash_file is None or _crash_file.closed or Path(_crash_file.name) != crash:
        if _crash_file is not None and not _crash_file.closed:
            _crash_file.close()
        _crash_file = open(crash, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
        faulthandler.enable(file=_crash_file, all_threads=True)
    elif not faulthandler.is_enabled():
        faulthandler.enable(file=_crash_file, all_threads=True)
    log.info("Digit Studio %s, Python %s, log in %s", __version__, sys.version.split()[0], folder)
    return folder


def restore_window(win: QMainWindow) -> None:
    """Size, position and dock layout of the last session (nothing on the first start)."""
    s = settings()
    geometry, state = s.value("window/geometry"), s.value("window/state")
    if geometry is not None:
        win.restoreGeometry(geometry)
    if state is not None:
        win.restoreState(state)


def save_window(win: QMainWindow) -> None:
    s = settings()
    s.setValue("window/geometry", win.saveGeometry())
    s.setValue("window/state", win.saveState())
