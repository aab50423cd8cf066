"""Faster hands: type the number, duplicate a box, copy the previous image's boxes, and the
photo's display adjustment. Menu entries, shortcuts and wiring, installed on the main window.

| key | what |
| --- | --- |
| Enter, or double-click the number | type the whole number; Enter lays it onto the boxes, Esc cancels |
| Ctrl+D | duplicate the selected box just right of it |
| Ctrl+Shift+V | copy the previous image's shown boxes onto this one as checked boxes |
| [ ] | photo darker / brighter |
| { } | photo less / more contrast |
| G, Shift+G | gamma up (lift the shadows) / down |
| I | invert the photo |
| \\ | reset the display |

Enter and the display keys are canvas keys (so they also work from the image list, box list
and toolbar, not in text fields: see :class:`~digitgui.canvas_keys.KeyRouter`); their menu
entries only name them. Ctrl+D and Ctrl+Shift+V are window shortcuts.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from . import settings
from .actions import _action
from .display_adjust import DisplayAdjust


def install(win) -> dict:
    """Create the actions and wire them to ``win`` (a MainWindow); returns them by name."""
    canvas = win.canvas
    canvas.set_display_adjust(DisplayAdjust.from_dict(settings.display_adjust()))
    label = QLabel(win)
    label.setObjectName("display-adjust")
    win.statusBar().addPermanentWidget(label)

    def on_adjusted(adjust: DisplayAdjust) -> None:
        settings.set_display_adjust(adjust.to_dict())
        label.setText(adjust.describe())
        label.setVisible(not adjust.identity)

    on_adjusted(canvas.display_adjust)
    canvas.display_adjusted.connect(on_adjusted)
    canvas.number_requested.connect(lambda: start_typing(win))
    win.number.number_typed.connect(lambda text: type_number(win, text))
    win.number.editing_finished.connect(lambda: win.canvas.setFocus() if win.isActiveWindow() else None)

    a = {
        "type_number": _action(win, "&Type the number…\tEnter", lambda: start_typing(win)),
        "duplicate": _action(win, "D&uplicate box", lambda: duplicate(win), "Ctrl+D"),
        "copy_previous": _action(
            win,
            "Copy the pre&vious image's boxes",
            lambda: copy_previous(win),
            "Ctrl+Shift+V",
            "Copy the boxes shown on the previous image onto this one as checked boxes",
        ),
    }
    display = {
        "brighter": "&Brighter\t]",
        "darker": "&Darker\t[",
        "contrast_up": "More &contrast\t}",
        "contrast_down": "&Less contrast\t{",
        "gamma_up": "&Gamma up (lift shadows)\tG",
        "gamma_down": "Gamma d&own\tShift+G",
        "invert": "&Invert\tI",
        "reset": "&Reset display\t\\",
    }
    for op, text in display.items():
        a[f"display_{op}"] = _action(win, text, lambda op=op: canvas.adjust_display(op))
    edit = getattr(win, "edit_menu", None)
    if edit is not None:
        edit.addSeparator()
        for n in ("type_number", "duplicate", "copy_previous"):
            edit.addAction(a[n])
    sub = win.view_menu.addMenu("&Photo display (never the data)")
    for op in display:
        sub.addAction(a[f"display_{op}"])
    win.actions_by_name.update(a)
    return a


def start_typing(win) -> None:
    if win.stack.currentIndex() == 1 and win.doc.current_entry is not None:
        win.number.start_edit()


def type_number(win, text: str) -> None:
    """Lay the typed number onto the boxes (one undo step) and select the first new box."""
    if win.doc.current_entry is None:
        return
    before = {s.rect for s in win.doc.shown()}  # a prediction kept becomes a checked box in place
    try:
        keys = win.doc.type_number(text)
    except ValueError as exc:
        win.statusBar().showMessage(f"Number not typed: {exc}.", 8000)
        return
    new = [k for k in keys if (s := win.doc.find_shown(k)) is not None and s.rect not in before]
    win.canvas.set_selected(new[0] if new else 0)
    doubt = win.doc.typing_doubt  # the boxes were a guess: the image was left unreviewed
    if new:
        n = len(new)
        win.statusBar().showMessage(
            f"{n} new box{'es' if n > 1 else ''} placed: adjust {'them' if n > 1 else 'it'} "
            "(drag, handles, arrows; Tab for the next)."
            + (" The image stays unreviewed until you review it (Space)." if doubt else ""),
            8000,
        )
    elif doubt:
        win.statusBar().showMessage(
            f"Typed {text.strip()}, but the boxes kept are a guess ({doubt}): check them; "
            "the image stays unreviewed.",
            10000,
        )


def duplicate(win) -> None:
    key = win.canvas.selected
    if key and win.doc.current_entry is not None:
        win.canvas.set_selected(win.doc.duplicate_box(key))


def copy_previous(win) -> None:
    """Copy the previous image's shown boxes (the previous one in the list as it is sorted)."""
    row = win.doc.current
    if row < 0:
        return
    prev = win.image_list.neighbour(row, -1)
    if prev is None:
        win.statusBar().showMessage("There is no previous image to copy boxes from.", 5000)
        return
    n = win.doc.copy_boxes_from(prev)
    name = win.doc.entry(prev).name
    win.statusBar().showMessage(f"Copied {n} box{'es' if n != 1 else ''} from {name}.", 5000)
