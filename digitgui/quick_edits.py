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
from .state import RegionRead, Status


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
    """Lay the typed number onto the boxes (one undo step) and select the first new box. Where the
    boxes are a guess on an image the person has not boxed, the number's region is read again
    (:func:`read_again`)."""
    doc = win.doc
    e = doc.current_entry
    if e is None:
        return
    row, before = doc.current, e.layer
    shown_before = {s.rect for s in doc.shown()}  # a prediction kept becomes a checked box in place
    try:
        keys = doc.type_number(text)
    except ValueError as exc:
        win.statusBar().showMessage(f"Number not typed: {exc}.", 8000)
        return
    new = [k for k in keys if (s := doc.find_shown(k)) is not None and s.rect not in shown_before]
    win.canvas.set_selected(new[0] if new else 0)
    doubt = doc.typing_doubt  # the boxes were a guess: the image was left unreviewed
    if new:
        n = len(new)
        them = "them" if n > 1 else "it"
        message = f"{n} new box{'es' if n > 1 else ''} placed: adjust {them} (drag, handles, arrows; Tab for the next)."
        if doubt:
            message += " The image stays unreviewed until you review it (Space)."
    elif doubt:
        message = f"Typed {text.strip()}, but the boxes kept are a guess ({doubt}): check them; the image stays unreviewed."
    else:
        return
    if doubt and not before.boxes and before.status != Status.REVIEWED and read_again(win, row, text, before):
        message = f"Typed {text.strip()}: the boxes are a guess ({doubt}); reading the number's region again…"
    win.statusBar().showMessage(message, 10000 if doubt else 8000)


def read_again(win, row: int, text: str, before) -> bool:
    """Have the model read the number's region of image ``row`` (just typed as ``text``, a guess,
    over the layer ``before``); where its detections there place the number surely, they replace
    the guess (:meth:`~digitgui.document.Document.retype_with_read`). False when it cannot be
    asked (nothing to go by, or no model)."""
    doc = win.doc
    typed = doc.entry(row).layer
    region = doc.number_region(row, text, before)
    if region is None:
        return False

    def apply(r: int, res) -> str:
        if doc.entry(r).layer is not typed:
            return ""  # the person went on: their edits stand
        read = RegionRead.of(res.rect, res.boxes, res.scores, res.digits, res.model)
        if doc.retype_with_read(r, text, typed, before, read):
            win.canvas.set_selected(0)
            return f"Read the number's region again: {text.strip()} now sits on the digits found there; review it (Space)."
        return "Read the number's region again: the boxes are still a guess; check them (the image stays unreviewed)."

    if win.predictions.read_region(row, region, apply) is not None:
        return False
    win.canvas.show_region(region)
    return True


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
