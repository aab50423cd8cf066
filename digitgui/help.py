"""The Help menu: keyboard shortcuts (F1), About (version, model card, licences), the log folder.

The shortcuts window is built from the window's own actions and the canvas's key table each time
it opens, so it lists what the keys do now, never a copy that drifts.
"""

from __future__ import annotations

import html
import platform
import sys
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, QUrl, qVersion
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from trainer.paths import (
    BUNDLED_MODELS,
    BUNDLED_TITLES,
    CODE_LICENCE,
    DEFAULT_MODEL,
    FONTS_DIR,
    RESOURCES,
    bundled_card,
)

from . import __version__, desktop, dialogs, settings
from .canvas_keys import KEY_HELP
from .window_api import WindowHost

IMAGE_VIEW = "Image view"


class HelpMenu(QObject):
    """Adds the Help menu to ``win`` and owns its two windows."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.shortcuts_window: ShortcutsWindow | None = None
        self.about_box: AboutBox | None = None
        acts = {
            "shortcuts": _action(win, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence("F1")),
            "log_folder": _action(win, "Open &log folder", self.open_log_folder),
            "about": _action(win, "&About Digit Studio", self.show_about),
        }
        acts["about"].setMenuRole(QAction.MenuRole.AboutRole)
        menu = win.menuBar().addMenu("&Help")
        for a in acts.values():
            menu.addAction(a)
        win.actions_by_name.update(acts)

    def show_shortcuts(self) -> None:
        """F1: the shortcuts window (raised when open), listing every key as it is now."""
        if self.shortcuts_window is None:
            self.shortcuts_window = ShortcutsWindow(self.win)
        self.shortcuts_window.refresh()
        self.shortcuts_window.show()
        self.shortcuts_window.raise_()
        self.shortcuts_window.activateWindow()

    def show_about(self) -> None:
        if self.about_box is None:
            self.about_box = AboutBox(self.win)
        self.about_box.refresh()
        self.about_box.show()
        dialogs.take_focus(self.about_box)

    def open_log_folder(self) -> None:
        folder = desktop.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.win.message("info", f"The log folder is {folder}", popup=True)


def _action(win: WindowHost, text: str, slot, shortcut: QKeySequence | None = None) -> QAction:
    act = QAction(text, win)
    if shortcut is not None:
        act.setShortcut(shortcut)
        act.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    act.triggered.connect(lambda _checked=False: slot())
    win.addAction(act)
    return act


def shortcut_rows(win: WindowHost) -> list[tuple[str, str, str]]:
    """(keys, action, where) for every action of ``win`` that has a key, then the image view's keys.

    Actions come in menu order; an action in no menu is listed under "Window".
    """
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def visit(menu_title: str, actions) -> None:
        for act in actions:
            if act.menu() is not None:
                visit(_plain(act.menu().title()), act.menu().actions())
                continue
            if act.isSeparator() or id(act) in seen:
                continue
            seen.add(id(act))
            keys = action_keys(act)
            if keys:
                rows.append((keys, _plain(act.text()), menu_title))

    for top in win.menuBar().actions():
        if top.menu() is not None:
            visit(_plain(top.text()), top.menu().actions())
    visit("Window", win.actions())
    rows += [(label, what, IMAGE_VIEW) for _keys, label, what in KEY_HELP]
    return rows


def action_keys(act: QAction) -> str:
    """The keys of an action: its shortcuts, else the key named after a tab in its text."""
    seqs = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in act.shortcuts() if not s.isEmpty()]
    if not seqs and "\t" in act.text():
        seqs = [act.text().split("\t", 1)[1]]
    return ", ".join(seqs)


def _plain(text: str) -> str:
    return text.split("\t", 1)[0].replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


class ShortcutsWindow(QDialog):
    """A non-modal window listing every key: menus first, then the image view's own keys."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.setObjectName("shortcuts-window")
        self.setWindowTitle("Keyboard shortcuts — Digit Studio")
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Key", "Action", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        note = QLabel(
            "Keys of the image view work wherever the focus is in the main window, except in text "
            "and number fields.",
            self,
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        customise = buttons.addButton("&Customise…", QDialogButtonBox.ButtonRole.ActionRole)
        customise.clicked.connect(lambda: win.actions_by_name["customise_shortcuts"].trigger())
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.resize(660, 760)

    def refresh(self) -> None:
        rows = shortcut_rows(self.win)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setCurrentItem(None)

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row."""
        t = self.table
        return [tuple(t.item(r, c).text() for c in range(3)) for r in range(t.rowCount())]


class AboutBox(QDialog):
    """Version, the model in use and its card, licences, versions and folders."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.setObjectName("about-box")
        self.setWindowTitle("About Digit Studio")
        icon = QLabel(self)
        icon.setPixmap(desktop.app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.text.setOpenExternalLinks(True)
        self.text.setMinimumWidth(520)
        row = QHBoxLayout()
        row.addWidget(icon)
        row.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok, self)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(buttons)

    def refresh(self) -> None:
        self.text.setText(about_html(self.win))
        self.adjustSize()


def model_summary(win: WindowHost) -> tuple[str, dict, bool]:
    """(title, card, is the bundled model) of the model in use."""
    key = win.current_model_key()
    if key in BUNDLED_MODELS:
        return f"{BUNDLED_TITLES[key]} model", bundled_card(key), True
    info = win.models.registry.find(key)
    if info is not None:
        return info.title, info.card, False
    return Path(key).name, {}, False


def card_lines(card: dict) -> list[tuple[str, str]]:
    """The model card in a few lines (label, text)."""
    out: list[tuple[str, str]] = []
    if card.get("preset"):
        out.append(("Preset", str(card["preset"])))
    if card.get("created"):
        out.append(("Created", str(card["created"])[:10]))
    training = card.get("training") or {}
    data = training.get("data") or []
    if data:
        names = ", ".join(Path(str(d[0] if isinstance(d, (list, tuple)) else d)).name for d in data)
        images = training.get("train_images")
        synth = training.get("synthetic_images")
        extra = f" ({images} training images" if images else ""
        extra += f", {synth} of them synthetic)" if synth and images else (")" if images else "")
        out.append(("Trained on", f"{names}{extra}"))
    elif isinstance(card.get("data"), dict):
        out.append(("Trained on", ", ".join(f"{k} {v}" for k, v in card["data"].items())))
    if card.get("input_min_size"):
        out.append(("Input", f"{card['input_min_size']} px short side"))
    if isinstance(card.get("score_thresh"), (int, float)):
        out.append(("Score threshold", f"{card['score_thresh']:.2f}"))
    ev = card.get("eval") or {}
    if isinstance(ev.get("mAP"), (int, float)):
        where = Path(str(ev.get("data", ""))).name or "held-out photos"
        acc = ev.get("number_accuracy")
        acc_text = f", number accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
        out.append(("Measured", f"mAP {ev['mAP']:.3f}{acc_text} on {ev.get('images', '?')} {where} photos"))
    hold = card.get("holdout_metrics") or {}
    if not ev and isinstance(hold.get("mAP"), (int, float)):
        acc = hold.get("number_accuracy")
        acc_text = f", number accuracy {acc:.3f}" if isinstance(acc, (int, float)) else ""
        out.append(("Held out", f"mAP {hold['mAP']:.3f}{acc_text}"))
    return out


def about_html(win: WindowHost) -> str:
    title, card, bundled = model_summary(win)
    model_licence = bundled_card().get("licence", "see the model card")
    if not bundled:
        model_licence = (
            "a retrained model keeps the licence of the model it started from; the bundled one: "
            + model_licence
        )
    rows = (
        "".join(
            f"<tr><td><i>{html.escape(k)}</i>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
            for k, v in card_lines(card)
        )
        or "<tr><td>no model card</td></tr>"
    )
    try:
        torch_version = metadata.version("torch")  # the metadata only: torch is not imported here
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    folders = [
        ("Settings", settings.settings().fileName()),
        ("User data", str(desktop.data_dir())),
        ("Logs", str(desktop.log_dir())),
    ]
    folder_rows = "".join(
        f"<tr><td><i>{k}</i>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>" for k, v in folders
    )
    licences = sorted(FONTS_DIR.glob("LICENSE-*.txt"))
    fonts = FONTS_DIR.relative_to(RESOURCES.parent).as_posix()
    return (
        f"<h2>Digit Studio {html.escape(__version__)}</h2>"
        "<p>Detect, read and fix multi-digit numbers in photos: a Faster R-CNN boxes every digit and "
        "reads the whole number; fix it by hand, retrain on your fixes, export COCO results.</p>"
        f"<h3>Model: {html.escape(title)}</h3><table>{rows}</table>"
        "<h3>Licences</h3><ul>"
        f"<li>Digit Studio: {CODE_LICENCE} licence (the LICENSE file).</li>"
        f"<li><b>Model</b> ({html.escape(DEFAULT_MODEL.name)}): {html.escape(model_licence)}</li>"
        "<li>Fonts of the synthetic training photos (DejaVu and others): freely licensed, each family's licence beside it "
        f"in trainer/{html.escape(fonts)} ({len(licences)} LICENSE-*.txt files).</li>"
        "<li>Qt and PySide6: LGPL v3. PyTorch and torchvision: BSD.</li></ul>"
        f"<h3>This installation</h3><table>{folder_rows}</table>"
        f"<p>Python {platform.python_version()} · Qt {qVersion()} · PySide6 {pyside_version} · "
        f"torch {html.escape(torch_version)} · {html.escape(sys.platform)}</p>"
    )
