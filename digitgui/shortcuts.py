"""Customisable shortcuts: *Help ▸ Customise shortcuts…* edits the keys of the window's actions,
stored in the settings (group ``shortcuts``, one entry per changed action, keys in Qt's portable
text, several separated by ``; ``, an empty value for none).

The keys of the image view itself (digits, W, R, Delete, Space, Enter, Tab, arrows, the photo
display keys) are fixed: the dialog refuses them for an action, as it refuses a key another
action already has. The F1 list reads the actions, so it always shows the keys as customised.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from . import dialogs, settings
from .canvas_keys import KEY_HELP
from .window_api import WindowHost

PORTABLE = QKeySequence.SequenceFormat.PortableText
NATIVE = QKeySequence.SequenceFormat.NativeText


def customisable(win: WindowHost) -> dict[str, QAction]:
    """The actions whose keys can be changed: every named action of the window except those whose
    key belongs to the image view (named after a tab in their text) and checkable choices."""
    return {
        name: act
        for name, act in win.actions_by_name.items()
        if "\t" not in act.text() and (name == "hide_boxes" or not act.isCheckable())
    }


def keys_text(seqs: list[QKeySequence]) -> str:
    return "; ".join(s.toString(PORTABLE) for s in seqs if not s.isEmpty())


def parse_keys(text: str) -> list[QKeySequence]:
    return [QKeySequence(t.strip()) for t in str(text).split(";") if t.strip()]


def image_view_keys() -> set[str]:
    """The plain keys the image view handles itself (as portable text), never an action's."""
    out = set()
    for keys, _label, _what in KEY_HELP:
        for k in keys:
            out.add(QKeySequence(k).toString(PORTABLE))
    return out


def conflicts(wanted: dict[str, list[QKeySequence]], titles: dict[str, str]) -> list[str]:
    """Why ``wanted`` (action name -> keys) cannot be used: keys given twice, image-view keys."""
    fixed = image_view_keys()
    owner: dict[str, str] = {}
    problems = []
    for name, seqs in wanted.items():
        for s in seqs:
            text = s.toString(PORTABLE)
            if text in fixed:
                problems.append(f"{s.toString(NATIVE)} is a key of the image view ({titles[name]}).")
            elif text in owner:
                problems.append(f"{s.toString(NATIVE)} is given to {titles[owner[text]]} and {titles[name]}.")
            else:
                owner[text] = name
    return problems


def title_of(act: QAction) -> str:
    return act.text().split("\t", 1)[0].replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…")


class Shortcuts(QObject):
    """Keeps the default keys, applies the stored ones, and opens the dialog."""

    def __init__(self, win: WindowHost) -> None:
        super().__init__(win)
        self.win = win
        self.actions = customisable(win)
        self.defaults = {n: list(a.shortcuts()) for n, a in self.actions.items()}
        self.dialog: ShortcutsDialog | None = None
        self.apply(settings.custom_shortcuts())

    def current(self) -> dict[str, list[QKeySequence]]:
        return {n: list(a.shortcuts()) for n, a in self.actions.items()}

    def apply(self, stored: dict[str, str]) -> None:
        """Set every action's keys: the stored ones where there are some, else the defaults."""
        for name, act in self.actions.items():
            act.setShortcuts(parse_keys(stored[name]) if name in stored else self.defaults[name])

    def save(self, wanted: dict[str, list[QKeySequence]]) -> None:
        """Store the keys that differ from the defaults, and apply them."""
        stored = {
            n: keys_text(seqs)
            for n, seqs in wanted.items()
            if keys_text(seqs) != keys_text(self.defaults.get(n, []))
        }
        settings.set_custom_shortcuts(stored)
        self.apply(stored)
        help_window = getattr(self.win.help, "shortcuts_window", None)
        if help_window is not None and help_window.isVisible():
            help_window.refresh()

    def edit(self) -> None:
        if self.dialog is None:
            self.dialog = ShortcutsDialog(self)
        self.dialog.load()
        self.dialog.show()
        dialogs.take_focus(self.dialog)


class ShortcutsDialog(QDialog):
    """A table of actions with a key editor each; OK refuses keys given twice."""

    def __init__(self, owner: Shortcuts) -> None:
        super().__init__(owner.win)
        self.owner = owner
        self.setObjectName("shortcuts-dialog")
        self.setWindowTitle("Customise shortcuts — Digit Studio")
        self.names = sorted(owner.actions, key=lambda n: title_of(owner.actions[n]).lower())
        self.table = QTableWidget(len(self.names), 2, self)
        self.table.setHorizontalHeaderLabels(["Action", "Key"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(1, 190)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 14)
        self.edits: dict[str, QKeySequenceEdit] = {}
        for r, name in enumerate(self.names):
            item = QTableWidgetItem(title_of(owner.actions[name]))
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(owner.actions[name].toolTip())
            self.table.setItem(r, 0, item)
            edit = QKeySequenceEdit(self)
            edit.setMaximumSequenceLength(1)
            edit.setClearButtonEnabled(True)
            self.table.setCellWidget(r, 1, edit)
            self.edits[name] = edit
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setObjectName("shortcut-problem")
        note = QLabel(
            "Click a key and press the new one (the clear button removes it). The keys of the image "
            "view (digits, W, R, Delete, Space, Enter, Tab, arrows, [ ] { } G I \\) are fixed.",
            self,
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.reset_button = QPushButton("Restore &defaults", self)
        buttons.addButton(self.reset_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.reset_button.clicked.connect(self.restore_defaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        lay.addWidget(self.problem)
        lay.addWidget(buttons)
        self.resize(520, 640)

    def load(self, keys: dict[str, list[QKeySequence]] | None = None) -> None:
        keys = self.owner.current() if keys is None else keys
        self.base = keys
        for name, edit in self.edits.items():
            seqs = keys.get(name) or []
            edit.setKeySequence(seqs[0] if seqs else QKeySequence())
        self.problem.setText("")

    def restore_defaults(self) -> None:
        self.load(self.owner.defaults)

    def wanted(self) -> dict[str, list[QKeySequence]]:
        """Keys as edited: the first of each action is the edited one, the others are kept."""
        out = {}
        for name, edit in self.edits.items():
            seq = edit.keySequence()
            old = self.base.get(name) or []
            rest = [s for s in old[1:] if s != seq] if old and seq == old[0] else []
            out[name] = ([seq] if not seq.isEmpty() else []) + rest
        return out

    def accept(self) -> None:
        wanted = self.wanted()
        titles = {n: title_of(a) for n, a in self.owner.actions.items()}
        problems = conflicts(wanted, titles)
        if problems:
            self.problem.setText("Not saved: " + " ".join(problems[:3]))
            return
        self.owner.save(wanted)
        super().accept()


def install(win: WindowHost) -> Shortcuts:
    """After every action exists: apply the stored keys and add *Customise shortcuts…*."""
    owner = Shortcuts(win)
    act = QAction("&Customise shortcuts…", win)
    act.triggered.connect(lambda _c=False: owner.edit())
    win.addAction(act)
    help_menu = next(
        (a.menu() for a in win.menuBar().actions() if a.menu() is not None and "Help" in a.text()), None
    )
    if help_menu is not None:
        help_menu.insertAction(help_menu.actions()[1] if len(help_menu.actions()) > 1 else None, act)
    win.actions_by_name["customise_shortcuts"] = act
    return owner
