"""Waiting and input helpers shared by the GUI tests."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt

SVHN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "svhn"


def wait_model(qtbot, win, timeout=20000) -> None:
    qtbot.waitUntil(lambda: win.inference.available or win.inference.error is not None, timeout=timeout)


def wait_shown(qtbot, win, timeout=5000) -> None:
    """Wait until the current image is decoded and on screen."""
    qtbot.waitUntil(lambda: win.canvas.shown_path == str(win.doc.current_entry.path), timeout=timeout)


def wait_predicted(qtbot, win, row=None, timeout=20000) -> None:
    r = win.doc.current if row is None else row
    qtbot.waitUntil(
        lambda: bool(win.doc.entry(r).pred is not None or win.doc.entry(r).error), timeout=timeout
    )


def drag(qtbot, canvas, start_xy, end_xy, button=Qt.MouseButton.LeftButton, steps=4) -> None:
    """Press at image pixel ``start_xy``, move in steps, release at ``end_xy`` (on the viewport)."""
    vp = canvas.viewport()
    a, b = canvas.view_pos(*start_xy), canvas.view_pos(*end_xy)
    qtbot.mousePress(vp, button, pos=a)
    for i in range(1, steps + 1):
        p = QPoint(a.x() + (b.x() - a.x()) * i // steps, a.y() + (b.y() - a.y()) * i // steps)
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, button, pos=b)


def type_number(qtbot, win, text: str) -> None:
    """Enter, the digits, Enter: type the whole number on the current image, as a person does."""
    from PySide6.QtCore import Qt

    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    assert win.number.editing
    qtbot.keyClicks(win.number.editor, text)
    qtbot.keyClick(win.number.editor, Qt.Key.Key_Return)
