"""Keyboard handling of the canvas (a mixin of :class:`~digitgui.canvas.Canvas`).

0-9 label the selected box (the digit typed right after drawing a box merges into the same undo
step), Delete removes it, Tab/Shift+Tab cycle boxes, arrows nudge by 1 px (Shift: 10 px), W arms
drawing, R arms reading inside a rectangle, Esc cancels, Space marks the image reviewed on release (unless it was held to pan),
Enter opens the editor of the whole number (``number_requested``). The photo's display: [ and ]
darker/brighter, { and } less/more contrast, G and Shift+G gamma up/down, I invert, \\ reset.

:class:`KeyRouter` sends the editing keys (digits, Delete, W, R, Space, Tab, Enter) to the canvas from
anywhere in the main window — the image list, its combo boxes, the box list, the toolbar — except
text and number fields, so a key never does something else because a click moved the focus.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsView,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)


class CanvasKeys:
    """Key events -> document edits. Expects ``doc``, ``selected``, ``pending_label`` etc. on self."""

    def event(self, event: QEvent) -> bool:
        # Keep our keys for the canvas even where the window has a shortcut for them.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if (
                event.key() in _OWN_KEYS
                and not event.modifiers()
                & ~Qt.KeyboardModifier.ShiftModifier
                & ~Qt.KeyboardModifier.KeypadModifier
            ):
                event.accept()
                return True
        return QGraphicsView.event(self, event)

    def focusNextPrevChild(self, _next: bool) -> bool:  # noqa: N802 - Tab cycles boxes instead
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        k, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if Qt.Key.Key_0 <= k <= Qt.Key.Key_9 and not mods & Qt.KeyboardModifier.ControlModifier:
            self.label_selected(k - Qt.Key.Key_0)
        elif k in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            if self.selected:
                self.doc.delete_box(self.selected)
        elif k == Qt.Key.Key_Tab:
            self.cycle(1)
        elif k == Qt.Key.Key_Backtab:
            self.cycle(-1)
        elif k in _ARROWS and self.selected:
            dx, dy = _ARROWS[k]
            step = 10.0 if shift else 1.0
            self.nudge(dx * step, dy * step)
        elif k in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if not event.isAutoRepeat():
                self.number_requested.emit()
        elif k in DISPLAY_KEYS and not (k == Qt.Key.Key_I and shift):
            op = DISPLAY_KEYS[k]
            self.adjust_display("gamma_down" if op == "gamma_up" and shift else op)
        elif k == Qt.Key.Key_W:
            self.arm_draw()
        elif k == Qt.Key.Key_R:
            self.arm_region()
        elif k == Qt.Key.Key_Escape:
            if self._drag is not None and self._drag[0] == "region":
                self._drag = None
                self.show_region(None)
            self.disarm()
            self.prompt.hide()
            self.set_selected(0)
        elif k == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down, self._space_panned = True, False
        else:
            QGraphicsView.keyPressEvent(self, event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            was_down, panned = self._space_down, self._space_panned
            self._space_down = self._space_panned = False
            if was_down and not panned:
                self.review_requested.emit()
            return
        QGraphicsView.keyReleaseEvent(self, event)

    def label_selected(self, digit: int) -> None:
        if not self.selected:
            return
        merge = "new" if self.selected == self.pending_label else None
        new = self.doc.change_box(self.selected, merge=merge, digit=digit)
        self.pending_label = 0
        self.prompt.hide()
        self.set_selected(new)

    def nudge(self, dx: float, dy: float) -> None:
        s = self.doc.find_shown(self.selected)
        if s is None:
            return
        new = self.doc.change_box(
            self.selected, merge="nudge", move=True, rect=(s.x + dx, s.y + dy, s.w, s.h)
        )
        self.set_selected(new)


_ARROWS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}
DISPLAY_KEYS = {
    Qt.Key.Key_BracketLeft: "darker",
    Qt.Key.Key_BracketRight: "brighter",
    Qt.Key.Key_BraceLeft: "contrast_down",
    Qt.Key.Key_BraceRight: "contrast_up",
    Qt.Key.Key_G: "gamma_up",  # with Shift: gamma_down
    Qt.Key.Key_I: "invert",
    Qt.Key.Key_Backslash: "reset",
}
ROUTED_KEYS = {
    Qt.Key.Key_Space,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
    Qt.Key.Key_Delete,
    Qt.Key.Key_Backspace,
    Qt.Key.Key_W,
    Qt.Key.Key_R,
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
    *DISPLAY_KEYS,
    *range(Qt.Key.Key_0, Qt.Key.Key_9 + 1),
}
_OWN_KEYS = ROUTED_KEYS | {Qt.Key.Key_Escape, *_ARROWS}
_TEXT_FIELDS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)
_KEY_EVENTS = (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress, QEvent.Type.KeyRelease)


def _plain(event: QKeyEvent) -> bool:
    extra = event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier & ~Qt.KeyboardModifier.KeypadModifier
    return event.key() in ROUTED_KEYS and not extra


def _is_text_field(widget: QWidget) -> bool:
    w: QWidget | None = widget
    while w is not None and not w.isWindow():
        if isinstance(w, _TEXT_FIELDS) or (isinstance(w, QComboBox) and w.isEditable()):
            return True
        w = w.parentWidget()
    return False


class KeyRouter(QObject):
    """Application event filter: editing keys typed in ``window`` go to ``canvas``.

    Only while ``active()`` (an image is open), and never from text or number fields or from
    other windows (dialogs, menus, pop-ups).
    """

    def __init__(self, window: QWidget, canvas: QGraphicsView, active) -> None:
        super().__init__(window)
        self.window, self.canvas, self.active = window, canvas, active
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if (
            event.type() not in _KEY_EVENTS
            or not isinstance(obj, QWidget)
            or not isinstance(event, QKeyEvent)
        ):
            return False
        if obj is self.canvas or not _plain(event) or obj.window() is not self.window:
            return False
        if _is_text_field(obj) or not self.active():
            return False
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # no window shortcut takes it: it comes back as a key press
        elif event.type() == QEvent.Type.KeyPress:
            self.canvas.keyPressEvent(event)
        else:
            self.canvas.keyReleaseEvent(event)
        return True


# What each key of the image view does, for Help ▸ Keyboard shortcuts: (keys, as shown, what it
# does). Every key the canvas handles itself (_OWN_KEYS) must be here; a test checks it.
KEY_HELP: tuple[tuple[tuple[Qt.Key, ...], str, str], ...] = (
    (tuple(Qt.Key(Qt.Key.Key_0 + i) for i in range(10)), "0 – 9", "Type the digit of the selected box"),
    ((Qt.Key.Key_W,), "W, then drag", "Draw a box, then type its digit"),
    (
        (Qt.Key.Key_R,),
        "R, then drag",
        "Read inside a box: the model reads the number in the rectangle at its best scale",
    ),
    ((Qt.Key.Key_Delete, Qt.Key.Key_Backspace), "Delete, Backspace", "Delete the selected box"),
    ((Qt.Key.Key_Tab, Qt.Key.Key_Backtab), "Tab, Shift+Tab", "Select the next / previous box"),
    (tuple(_ARROWS), "Arrows", "Move the selected box by 1 px (with Shift: 10 px)"),
    ((Qt.Key.Key_Escape,), "Esc", "Stop drawing or reading a box; clear the selection"),
    ((Qt.Key.Key_Space,), "Space", "Mark the image reviewed and open the next"),
    (
        (Qt.Key.Key_Return, Qt.Key.Key_Enter),
        "Enter, or double-click the number",
        "Type the whole number: boxes relabelled left to right, added or removed (one undo step)",
    ),
    ((Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight), "[ / ]", "Photo darker / brighter (display only)"),
    ((Qt.Key.Key_BraceLeft, Qt.Key.Key_BraceRight), "{ / }", "Less / more contrast (display only)"),
    ((Qt.Key.Key_G,), "G / Shift+G", "Gamma up (lift shadows) / down (display only)"),
    ((Qt.Key.Key_I,), "I", "Invert the photo (display only)"),
    ((Qt.Key.Key_Backslash,), "\\", "Reset the photo display"),
    ((), "Space+drag, middle drag", "Pan"),
    ((), "Wheel", "Zoom"),
    ((), "Drag a box or its handles", "Move or resize it"),
)
