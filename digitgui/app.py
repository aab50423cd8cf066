"""Entry point: ``python main.py [FOLDER] [--model PATH] [--device auto|cpu|cuda]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from trainer.paths import licence_note

from . import __version__
from .desktop import configure_application, migrate_old_names, setup_logging

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
    p.epilog = licence_note()
    return p.parse_args(argv)


def model_choice(arg: str | None) -> str:
    """``--model`` wins, then the DIGIT_STUDIO_MODEL environment variable, then "default"."""
    return arg or os.environ.get(MODEL_ENV) or "default"


def main(argv: list[str] | None = None) -> int:
    """Start the app; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_application(app)
    moved = migrate_old_names()
    setup_logging()
    for m in moved:
        logging.getLogger(__name__).info("moved from the old names: %s", m)
    from .main_window import MainWindow

    win = MainWindow(model=model_choice(args.model), device=args.device)
    win.show()
    if args.folder:
        folder = Path(args.folder)
        QTimer.singleShot(0, lambda: win.open_folder(folder))
    rc = app.exec()
    win.models.wait_stopped()  # a training run stopped by closing ends (and is recorded) first
    fast_exit(rc)
    return rc  # not reached


def fast_exit(rc: int) -> None:
    """End the process now that the window has saved everything and stopped its workers.

    The interpreter's own teardown with torch loaded takes most of a second, and it would wait
    for a model still loading in a worker thread: neither has anything left to save.
    """
    QSettings().sync()  # preferences written during close (geometry, folders) reach the disk
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(rc)
