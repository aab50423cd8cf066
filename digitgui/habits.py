"""What people bring from labelImg, labelme and similar tools, installed on the main window:
Go to image and the image search (:mod:`.goto`), the box menu, digit editor, copy/paste and
hide-boxes key (:mod:`.box_menu`), the theme (:mod:`.theme`) and customisable shortcuts
(:mod:`.shortcuts`, installed last, once every action exists)."""

from __future__ import annotations

from . import box_menu, goto, shortcuts, theme
from .window_api import WindowHost


def install(win: WindowHost) -> None:
    win.goto_dialog = goto.install(win)  # Ctrl+G: go to an image by name or id; Ctrl+F: search
    win.box_menu = box_menu.install(win)  # right-click and double-click a box, copy, paste, H
    win.theme = theme.install(win)  # View > Theme: system, light, dark
    win.shortcuts = shortcuts.install(win)  # the user's keys for every action
