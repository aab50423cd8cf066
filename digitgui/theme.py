"""Light and dark: *View ▸ Theme ▸ System / Light / Dark*, remembered in the settings.

"System" follows the desktop's colour scheme (Qt's style hints), also when it changes while the
app runs. Dark is the Fusion style with a dark palette; light is the palette the app started
with (the platform's own) or, when the desktop itself is dark, Fusion's light one. Only the
widgets change: the image view is dark in both, and box colours are the same.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from . import settings
from .window_api import WindowHost

MODES = {"system": "&System", "light": "&Light", "dark": "&Dark"}

_startup: tuple[QPalette, str] | None = None  # the app's palette and style before any theme


def system_is_dark() -> bool:
    """Whether the desktop asks for a dark scheme (unknown counts as light)."""
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    p = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        role.Window: QColor(45, 47, 51),
        role.WindowText: QColor(225, 225, 225),
        role.Base: QColor(30, 31, 34),
        role.AlternateBase: QColor(45, 47, 51),
        role.ToolTipBase: QColor(30, 31, 34),
        role.ToolTipText: QColor(225, 225, 225),
        role.PlaceholderText: QColor(140, 140, 140),
        role.Text: QColor(225, 225, 225),
        role.Button: QColor(52, 54, 59),
        role.ButtonText: QColor(225, 225, 225),
        role.BrightText: QColor(255, 90, 90),
        role.Light: QColor(70, 72, 78),
        role.Midlight: QColor(60, 62, 67),
        role.Mid: QColor(40, 41, 45),
        role.Dark: QColor(25, 26, 28),
        role.Shadow: QColor(10, 10, 10),
        role.Highlight: QColor(42, 130, 218),
        role.HighlightedText: QColor(255, 255, 255),
        role.Link: QColor(90, 170, 255),
        role.LinkVisited: QColor(170, 130, 255),
    }
    for r, c in colours.items():
        p.setColor(r, c)
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor(125, 125, 125))
    p.setColor(group.Disabled, role.Highlight, QColor(80, 80, 80))
    return p


def effective(mode: str) -> str:
    """ "light" or "dark": what ``mode`` ("system", "light", "dark") means now."""
    if mode == "system":
        return "dark" if system_is_dark() else "light"
    return "dark" if mode == "dark" else "light"


def apply(mode: str) -> str:
    """Give the whole application the colours of ``mode``; returns "light" or "dark"."""
    global _startup
    app = QApplication.instance()
    if _startup is None:
        _startup = (QPalette(app.palette()), app.style().name())
    palette, style = _startup
    look = effective(mode)
    if look == "dark":
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(dark_palette())
    elif system_is_dark():  # light asked of a dark desktop: Fusion's own light palette
        fusion = QStyleFactory.create("Fusion")
        app.setStyle(fusion)
        app.setPalette(fusion.standardPalette())
    else:
        if app.style().name() != style:
            app.setStyle(QStyleFactory.create(style))
        app.setPalette(palette)
    _repolish(app)
    return look


def _repolish(app: QApplication) -> None:
    """Widgets with a style sheet keep the palette they were polished with: set theirs again."""
    for w in app.allWidgets():
        sheet = w.styleSheet()
        if sheet:
            w.setStyleSheet("")
            w.setStyleSheet(sheet)


def is_dark() -> bool:
    """Whether the application shows dark colours now."""
    return QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 128


class ThemeMenu(QObject):
    """View ▸ Theme, applying and remembering the choice, and following the system's changes."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.mode = settings.theme()
        menu = win.view_menu.addMenu("T&heme")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for mode, text in MODES.items():
            act = QAction(text, win)
            act.setCheckable(True)
            act.setChecked(mode == self.mode)
            act.triggered.connect(lambda _c=False, m=mode: self.choose(m))
            group.addAction(act)
            menu.addAction(act)
            self.actions[mode] = act
        win.actions_by_name.update({f"theme_{m}": a for m, a in self.actions.items()})
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_changed)
        self.look = apply(self.mode)

    def choose(self, mode: str) -> None:
        self.mode = mode
        self.actions[mode].setChecked(True)
        settings.set_theme(mode)
        self.look = apply(mode)

    def _system_changed(self, _scheme) -> None:
        if self.mode == "system":
            self.look = apply("system")


def install(win: WindowHost) -> ThemeMenu:
    return ThemeMenu(win)
