"""Menus, toolbar and shortcuts of the main window (kept apart from the wiring)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QToolBar

from . import label_formats


def _action(win, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    act = QAction(text, win)
    if shortcut is not None:
        seqs = shortcut if isinstance(shortcut, list) else [shortcut]
        act.setShortcuts([QKeySequence(s) for s in seqs])
    if tip:
        act.setToolTip(tip)
        act.setStatusTip(tip)
    act.triggered.connect(lambda _checked=False: slot())
    win.addAction(act)
    return act


def build_actions(win) -> dict[str, QAction]:
    """Create every action, its menu entry and its shortcut; returns them by name."""
    undo_redo = _undo_redo(win)
    a = {
        **_file_actions(win),
        **undo_redo,
        **_edit_actions(win),
        **_image_actions(win),
        **_model_and_view_actions(win),
    }
    a["repredict"].setEnabled(False)
    a["training"].setIconText("Train")
    a["review"].setIconText("Reviewed ✓ next")
    a["predict_all"].setIconText("Predict all")
    for key in ("prev", "next", "next_unreviewed", "fit"):
        a[key].setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    _build_menus(win, a)
    return a


def _file_actions(win) -> dict[str, QAction]:
    """Opening folders, annotations and predictions; saving, exporting, closing, quitting."""
    return {
        "open": _action(win, "&Open folder…", win.choose_folder, QKeySequence.StandardKey.Open),
        "samples": _action(win, "Open &sample images", win.open_samples),
        "coco": _action(
            win,
            "Open &annotations (COCO, VOC, YOLO, labelme)…",
            win.choose_coco,
            None,
            "Ground truth from a COCO JSON or any VOC .xml, YOLO .txt or labelme .json of a folder",
        ),
        "open_predictions": _action(
            win,
            "Open p&redictions of another model…",
            lambda: label_formats.choose_predictions(win),
            None,
            "Detections as a COCO results JSON or YOLO txt with confidences, shown to review",
        ),
        "save": _action(
            win,
            "&Save",
            win.save_now,
            QKeySequence.StandardKey.Save,
            "Save the project now (autosaved anyway)",
        ),
        "corrections": _action(win, "Save corrections as &COCO…", win.save_corrections),
        "export": _action(
            win, "&Export", win.export, "Ctrl+E", "Write pred.json, pred.csv, annotations.json"
        ),
        "export_to": _action(win, "Export &to…", lambda: win.export(choose=True)),
        "close_folder": _action(win, "&Close folder", win.close_folder),
        "quit": _action(win, "&Quit", win.close, QKeySequence.StandardKey.Quit),
    }


def _undo_redo(win) -> dict[str, QAction]:
    """Undo and redo, from the document's undo stack."""
    undo = win.doc.undo_stack.createUndoAction(win, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = win.doc.undo_stack.createRedoAction(win, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    win.addAction(undo)
    win.addAction(redo)
    return {"undo": undo, "redo": redo}


def _edit_actions(win) -> dict[str, QAction]:
    """Drawing and deleting a box."""
    return {
        "draw": _action(win, "&Draw box (then type its digit)\tW", win.canvas.arm_draw),
        "delete": _action(
            win, "De&lete box\tDel", lambda: win.canvas.selected and win.doc.delete_box(win.canvas.selected)
        ),
    }


def _image_actions(win) -> dict[str, QAction]:
    """Reviewing and moving through the images."""
    return {
        "review": _action(win, "Mark &reviewed and next\tSpace", win.review_and_next),
        "prev": _action(win, "&Previous image", lambda: win.go(-1), "A"),
        "next": _action(win, "&Next image", lambda: win.go(1), "D"),
        "next_unreviewed": _action(win, "Next &unreviewed image", win.next_unreviewed, "N"),
    }


def _model_and_view_actions(win) -> dict[str, QAction]:
    """Predicting and re-predicting, the training dock, fitting and zooming."""
    return {
        "predict_all": _action(
            win, "&Predict all", win.predict_all, "Ctrl+P", "Predict every image of the folder"
        ),
        "cancel": _action(win, "&Cancel prediction", win.cancel_predict, "Ctrl+."),
        "fit": _action(win, "&Fit to window", win.canvas.fit, ["F", "Ctrl+0"]),
        "actual": _action(win, "&Actual size (1:1)", win.canvas.actual_size, "Ctrl+1"),
        "zoom_in": _action(
            win, "Zoom &in", lambda: win.canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn
        ),
        "zoom_out": _action(
            win, "Zoom &out", lambda: win.canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut
        ),
        "training": _action(win, "&Training dock", win.toggle_training_dock, "Ctrl+T"),
        "repredict": _action(
            win,
            "&Re-predict stale images",
            lambda: win.models.repredict_stale(),
            None,
            "Predict again the images the previous model predicted",
        ),
        "digits": _action(
            win,
            "&Digits per number…",
            win.choose_digits,
            None,
            "How many digits this folder's numbers have (bibs: 4): a letter read as a digit goes",
        ),
    }


MENUS = {  # menu title -> action names, None: a separator
    "&File": [
        "open",
        "samples",
        "coco",
        "open_predictions",
        None,
        "save",
        "export",
        "export_to",
        "corrections",
        None,
        "close_folder",
        "quit",
    ],
    "&Edit": ["undo", "redo", None, "draw", "delete"],
    "&Image": ["prev", "next", "next_unreviewed", "review"],
    "&Model": ["predict_all", "cancel", "repredict", "digits", None, "training"],
    "&View": ["fit", "actual", "zoom_in", "zoom_out", None, "training"],
}
_MENU_ATTRS = {"&View": "view_menu", "&Edit": "edit_menu", "&Image": "image_menu"}  # kept on the window


def _build_menus(win, a: dict[str, QAction]) -> None:
    """The menu bar; the File menu gets the export-format submenu next to the export entries."""
    mb = win.menuBar()
    for title, names in MENUS.items():
        menu = mb.addMenu(title)
        for n in names:
            if n is None:
                menu.addSeparator()
            else:
                menu.addAction(a[n])
        if title in _MENU_ATTRS:
            setattr(win, _MENU_ATTRS[title], menu)
        if title == "&File":
            win.export_format_actions = label_formats.build_export_format_menu(win, menu)
            _export_menu_after_export_to(menu, a)


def _export_menu_after_export_to(menu, a: dict[str, QAction]) -> None:
    """The export-format submenu goes next to the export entries, and Quit stays last in File."""
    sub = next(act for act in menu.actions() if act.menu() is not None)
    menu.insertAction(a["corrections"], sub)  # a widget holds an action once: this moves it
    menu.removeAction(a["quit"])
    menu.addAction(a["quit"])


def build_toolbar(win, a: dict[str, QAction]) -> tuple[QToolBar, QSlider, QLabel]:
    """Toolbar with the score-threshold slider; returns (toolbar, slider, its label)."""
    tb = QToolBar("Main", win)
    tb.setObjectName("main-toolbar")
    tb.setMovable(False)
    for n in ("open", "predict_all", "review", "export", "training"):
        tb.addAction(a[n])
    tb.addSeparator()
    tb.addWidget(QLabel(" Score threshold ", tb))
    slider = QSlider(Qt.Orientation.Horizontal, tb)
    slider.setRange(1, 99)
    slider.setFixedWidth(180)
    slider.setToolTip("Show predictions scoring at least this much (re-filters at once)")
    tb.addWidget(slider)
    label = QLabel(" 0.50 ", tb)
    label.setMinimumWidth(40)
    tb.addWidget(label)
    tb.addSeparator()
    for n in ("fit", "actual"):
        tb.addAction(a[n])
    win.addToolBar(tb)
    return tb, slider, label
