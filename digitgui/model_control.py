"""Which model the app uses, the model registry, the training dock, and stale predictions.

Kept out of the main window so it stays wiring only: the window forwards Ctrl+T, folder
changes and close requests here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal

from trainer.paths import DEFAULT_MODEL, model_fingerprint

from . import dialogs, settings
from .model_registry import DEFAULT_KEY, ModelInfo, ModelRegistry

log = logging.getLogger(__name__)


def registry_root() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "models"


class ModelControl(QObject):
    model_switched = Signal(str)  # registry key or file path now in use
    stale_changed = Signal(int)  # images still showing the previous model's predictions

    def __init__(self, window, model_spec: str) -> None:
        super().__init__(window)
        self.win = window
        self.spec = model_spec
        self.registry = ModelRegistry(registry_root())
        self.dock = None
        self.stale: set[str] = set()  # images whose predictions another model made
        self.current_id = self._fingerprint()
        window.inference.results.connect(self._on_results)
        window.doc.reset.connect(self._on_reset)
        act = window.actions_by_name["repredict"]
        self.stale_changed.connect(
            lambda n: (
                act.setEnabled(n > 0),
                act.setText(f"&Re-predict {n} stale images" if n else "&Re-predict stale images"),
            )
        )

    # ---------------------------------------------------------------- current model

    def current_model_key(self) -> str:
        if self.spec == "default":
            return DEFAULT_KEY
        for m in self.registry.models():
            if str(m.path) == self.spec:
                return m.key
        return self.spec

    def current_model_path(self) -> Path | None:
        path = DEFAULT_MODEL if self.spec == "default" else Path(self.spec)
        return path if path.is_file() else None

    def _fingerprint(self) -> str:
        path = self.current_model_path()
        return model_fingerprint(path) if path is not None else ""

    def _find_stale(self, unknown_too: bool) -> None:
        """Images whose predictions a different model file made (the tags survive restarts).

        ``unknown_too``: untagged predictions count as stale too (right after a switch, all
        predictions on screen came from an earlier model).
        """
        cur = self.current_id
        self.stale = {
            e.name
            for e in self.win.doc.entries
            if e.pred is not None and (e.pred.model or unknown_too) and e.pred.model != cur
        }

    def switch_to(self, info: ModelInfo) -> None:
        """Use another model; what the old one predicted is marked stale (one click re-predicts)."""
        spec = "default" if info.key == DEFAULT_KEY else str(info.path)
        if spec == self.spec:
            return
        self.spec = spec
        self.current_id = self._fingerprint()
        doc = self.win.doc
        self._find_stale(unknown_too=True)
        self.win.inference.switch_model(spec)
        if doc.folder is not None:
            settings.set_folder_model(doc.folder, info.key)
            cur = doc.current_entry
            if cur is not None:
                self.win.inference.request([(cur.name, cur.path)])
        self.win.model_label.setText(f"Model: loading {info.title}…")
        if self.stale:
            self.win.statusBar().showMessage(
                f"Switched to {info.title}: {len(self.stale)} images show the previous model's "
                "predictions (Model ▸ Re-predict stale images).",
                15000,
            )
        self.stale_changed.emit(len(self.stale))
        self.model_switched.emit(info.key)
        if self.dock is not None:
            self.dock.refresh_models()

    def repredict_stale(self) -> int:
        doc = self.win.doc
        items = [(e.name, e.path) for e in doc.entries if e.name in self.stale]
        if items:
            self.win.inference.predict_all(items)
        return len(items)

    def _on_results(self, results) -> None:
        if self.stale:
            before = len(self.stale)
            self.stale.difference_update(r.key for r in results if not r.error and r.model == self.current_id)
            if len(self.stale) != before:
                self.stale_changed.emit(len(self.stale))

    def _on_reset(self) -> None:
        """A folder was opened: use the model chosen for it before, and mark what others predicted."""
        doc = self.win.doc
        if doc.folder is not None:
            key = settings.folder_model(doc.folder)
            if key and key != self.current_model_key():
                info = self.registry.find(key)
                if info is not None:
                    self.switch_to(info)
        self._find_stale(unknown_too=False)
        self.stale_changed.emit(len(self.stale))
        if self.stale:
            self.win.statusBar().showMessage(
                f"{len(self.stale)} images show predictions of another model "
                "(Model ▸ Re-predict stale images).",
                15000,
            )
        if doc.folder is not None and self.dock is not None:
            self.dock.refresh(models=True)

    # ---------------------------------------------------------------- training dock

    def toggle_dock(self) -> None:
        if self.dock is None:
            from .widgets.training_dock import TrainingDock

            self.dock = TrainingDock(self.win, self.registry)
            self.dock.use_model.connect(self.switch_to)
            # recount after edits, at most a few times a second and only while the dock is shown
            self._recount = QTimer(self, singleShot=True, interval=300)
            self._recount.timeout.connect(lambda: self.dock.isVisible() and self.dock.refresh())
            self.win.doc.image_changed.connect(lambda _r: self._recount.start())
            if not self.win.restoreDockWidget(self.dock):  # where it was in the last session
                self.win.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
            self.dock.show()
            return
        self.dock.setVisible(not self.dock.isVisible())
        if self.dock.isVisible():
            self.dock.refresh(models=True)

    @property
    def training_running(self) -> bool:
        return self.dock is not None and self.dock.service.running

    def may_close(self) -> bool:
        """Ask before closing mid-run; stop the child (no orphan) when the user agrees."""
        if not self.training_running:
            return True
        if not dialogs.confirm(
            self.win,
            "Training is running",
            "A training run is going. Stop it and quit? The last checkpoint is kept.",
        ):
            return False
        self.dock.service.shutdown()
        return True
