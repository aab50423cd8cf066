"""Entry point: ``python main.py [FOLDER] [--model PATH] [--device auto|cpu|cuda]``."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QStandardPaths, QTimer
from PySide6.QtWidgets import QApplication

from . import __version__
from .settings import APP, ORG

MODEL_ENV = "DIGIT_STUDIO_MODEL"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="digit-studio", description="Box, read and fix multi-digit numbers in photos."
    )
    p.add_argument("folder", nargs="?", help="folder of images to open")
    p.add_argument(
        "--model",
        default=None,
        help=f"model checkpoint (default: ${MODEL_ENV}, else the bundled default model)",
    )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p.parse_args(argv)


def model_choice(arg: str | None) -> str:
    """``--model`` wins, then the DIGIT_STUDIO_MODEL environment variable, then "default"."""
    return arg or os.environ.get(MODEL_ENV) or "default"


def configure_application(app: QCoreApplication) -> None:
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationVersion(__version__)


_fault_log = None  # kept open for the life of the process


def fault_log_path() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "logs" / "faults.log"


def enable_fault_log() -> Path | None:
    """Write the Python stacks of a hard crash (segfault, abort) to a log file, not to nowhere."""
    global _fault_log
    path = fault_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _fault_log = path.open("a", encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("no fault log (%s)", exc)
        faulthandler.enable()
        return None
    faulthandler.enable(_fault_log, all_threads=True)
    return path


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_application(app)
    enable_fault_log()
    from .main_window import MainWindow

    win = MainWindow(model=model_choice(args.model), device=args.device)
    win.show()
    if args.folder:
        folder = Path(args.folder)
        QTimer.singleShot(0, lambda: win.open_folder(folder))
    rc = app.exec()
    fast_exit(rc)
    return rc  # not reached


def fast_exit(rc: int) -> None:
    """End the process now that the window has saved everything and stopped its workers.

    The interpreter's own teardown with torch loaded takes most of a second, and it would wait
    for a model still loading in a worker thread: neither has anything left to save.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(rc)
