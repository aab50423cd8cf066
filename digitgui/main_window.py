"""The main window: wiring only. State lives in the document, work in the services."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from trainer.errors import DigitError
from trainer.numbers import DigitCount

from . import desktop, dialogs, folder_lock, habits, label_formats, quick_edits, region_read, settings
from .actions import build_actions, build_toolbar
from .canvas import Canvas
from .canvas_keys import KeyRouter
from .document import Document
from .export_flow import ExportFlow
from .folder_loader import open_folder
from .folder_lock import FolderLocked
from .help import HelpMenu
from .model_control import ModelController
from .prediction_control import PredictionController
from .project_store import Location, ProjectStore
from .services.export import unreadable
from .services.images import ImageLoader
from .services.inference import InferenceService
from .state import UNKNOWN_DIGIT, Status
from .widgets.box_list import BoxList
from .widgets.image_list import ImageList
from .widgets.number_display import NumberDisplay
from .widgets.progress import PredictProgress
from .widgets.start_page import StartPage

log = logging.getLogger(__name__)

FOLDER_ACTIONS = "export export_to corrections save close_folder review prev next next_unreviewed draw read_box digits".split()


class MainWindow(QMainWindow):
    """Digit Studio's main window."""

    folder_opened = Signal(str)
    export_finished = Signal(object)  # ExportSummary, or a str message on failure

    def __init__(self, model: str = "default", device: str = "auto", start_inference: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Digit Studio")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.messages: list[tuple[str, str]] = []
        self.doc = Document(self)
        self.store = ProjectStore(self.doc)
        self.loader = ImageLoader(self)
        self.inference = InferenceService(model, device, self)
        # what the model is asked next, and what its answers become (models: set below)
        self.predictions = PredictionController(self.doc, self.inference, lambda: self.models.stale, self)
        self._threshold_chosen = False  # the user (or the project) picked one: the model's won't replace it
        self._quiet_threshold = False
        self.folder_lock: folder_lock.FolderLock | None = None  # one instance per folder

        self._build_views()
        self.actions_by_name = build_actions(self)
        for title in ("Images", "Boxes"):
            dock = self.findChild(QDockWidget, f"dock-{title.lower()}")
            self.view_menu.addAction(dock.toggleViewAction())
        self.toolbar, self.slider, self.slider_label = build_toolbar(self, self.actions_by_name)
        self._build_status_bar()
        self.help = HelpMenu(self)
        desktop.restore_window(self)
        self._show_editor(False)

        self.start_page.open_folder.connect(self.choose_folder)
        self.start_page.open_recent.connect(lambda f: self.open_folder(Path(f)))
        self.start_page.open_samples.connect(self.open_samples)
        self.start_page.set_recent(settings.recent_folders())
        self.slider.valueChanged.connect(lambda v: self.doc.set_threshold(v / 100.0))
        self.doc.threshold_changed.connect(self._on_threshold)
        self.doc.current_changed.connect(self._on_current)
        self.canvas.review_requested.connect(self.review_and_next)
        self.canvas.selection_changed.connect(self.box_list.select_key)
        self.box_list.box_selected.connect(self._select_box)
        self.image_list.row_activated.connect(self.doc.set_current)
        self.store.failed.connect(lambda m: self.message("warning", m))
        self.inference.ready.connect(self._on_model_ready)
        self.inference.failed.connect(self._on_model_failed)
        self.predictions.message.connect(self.message)
        self._quiet_threshold = True
        self._on_threshold(self.doc.threshold)
        self._quiet_threshold = False
        self.models = ModelController(self.doc, self.inference, self.predictions, model, parent=self)
        self.exports = ExportFlow(self, self.doc, self.store, self.predictions, self.models)
        self._training_dock = None
        self._wire_models()
        self.key_router = KeyRouter(self, self.canvas, lambda: self.stack.currentIndex() == 1)
        quick_edits.install(self)  # type the number, duplicate, copy boxes, photo display
        self.region_reader = region_read.install(self)  # R: read inside a box
        habits.install(self)  # go to image, box menu, hide boxes, theme, custom shortcuts (last)
        self._update_actions()
        if start_inference:
            QTimer.singleShot(0, self.inference.start)

    def _build_views(self) -> None:
        """The start page and the editor (number above the image), the image and box docks."""
        self.canvas = Canvas(self.doc, self.loader, self)
        self.number = NumberDisplay(self.doc, self)
        editor = QWidget(self)
        lay = QVBoxLayout(editor)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.number)
        lay.addWidget(self.canvas, 1)
        self.start_page = StartPage(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(editor)
        self.setCentralWidget(self.stack)
        self.image_list = ImageList(self.doc, self)
        self.box_list = BoxList(self.doc, self)
        for title, w, area in (
            ("Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Boxes", self.box_list, Qt.DockWidgetArea.RightDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower()}")
            dock.setWidget(w)
            dock.setMinimumWidth(240)
            dock.hide()
            self.addDockWidget(area, dock)

    # ------------------------------------------------------------------ status bar and messages

    def _build_status_bar(self) -> None:
        self.progress = PredictProgress(self.predictions, self)
        self.progress.cancelled.connect(self.cancel_predict)
        self.model_label = QLabel("Model: loading…", self)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_label)

    def message(self, level: str, text: str, popup: bool = False) -> None:
        """Tell the user: status bar always, a non-modal box for warnings, errors and ``popup``."""
        log.log(logging.WARNING if level in ("warning", "error") else logging.INFO, "%s", text)
        self.messages.append((level, text))
        self.statusBar().showMessage(text.splitlines()[0], 15000)
        if popup or level in ("warning", "error"):
            dialogs.show_message(self, level, "Digit Studio", text)

    # ------------------------------------------------------------------ opening

    def choose_folder(self) -> None:
        start = str(self.doc.folder or Path.home())
        folder = dialogs.choose_folder(self, "Open a folder of images", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, gt: Path | None = None, use_gt: bool = True) -> bool:
        """Open ``folder`` (its ground truth and project are found and merged)."""
        try:
            opened = open_folder(Path(folder), gt, use_gt=use_gt)
        except (OSError, DigitError) as exc:
            self.message("error", f"Cannot open {folder}: {exc}")
            return False
        if not opened.entries:
            self.message("warning", f"No images (png, jpg, jpeg, bmp, webp) in {opened.folder}.")
            return False
        try:
            project_dir = opened.location.project.parent
            self.folder_lock = folder_lock.switch(self.folder_lock, project_dir, opened.folder, self)
        except FolderLocked as exc:
            self.message("warning", str(exc))
            return False
        self.store.pause(True)
        self.store.bind(None)
        self.predictions.new_folder()
        self.loader.clear()
        self._threshold_chosen = opened.threshold is not None
        self._quiet_threshold = True
        self.doc.load(opened.folder, opened.entries, opened.current, opened.threshold, opened.gt_source)
        self._quiet_threshold = False
        self.store.bind(opened.location, opened.journal_seq)
        self.store.pause(False)
        if opened.needs_save:
            self.store.save_project()
        self._show_editor(True)
        settings.add_recent_folder(opened.folder)
        self.start_page.set_recent(settings.recent_folders())
        for m in opened.messages:
            self.message("warning", m)
        n_gt = sum(e.has_gt for e in opened.entries)
        gt = f", ground truth {opened.gt_source.name} ({n_gt} images)" if opened.gt_source else ""
        back = f"; {opened.replayed} unsaved edits restored" if opened.replayed else ""
        self.statusBar().showMessage(f"Opened {opened.folder}: {len(opened.entries)} images{gt}{back}", 10000)
        self._update_actions()
        self.canvas.setFocus()
        self.folder_opened.emit(str(opened.folder))
        return True

    def open_samples(self) -> None:
        """Generate (once) and open a folder of synthetic sample images."""
        from trainer.synth import make_dataset

        root = settings.samples_dir()
        images = root / "images"
        try:
            if not (root / "annotations.json").is_file():
                make_dataset(root, 24, seed=0)
        except OSError as exc:
            self.message("error", f"Cannot create sample images in {root}: {exc}")
            return
        self.open_folder(images, root / "annotations.json")

    def choose_coco(self) -> None:
        start = str(self.doc.folder.parent if self.doc.folder else Path.home())
        path = dialogs.choose_open_file(
            self, "Open annotations", start, "COCO, VOC, YOLO or labelme (*.json *.xml *.txt)"
        )
        if path:
            self.open_coco(Path(path))

    def open_coco(self, path: Path) -> bool:
        """Load ground truth (a COCO file, or a VOC/YOLO/labelme file of a label folder) for the open
        folder, or for the image folder it belongs to."""
        folder = self.doc.folder or label_formats.image_folder_for(path)
        return self.open_folder(folder, path)

    def close_folder(self) -> None:
        self.store.flush()
        self.store.bind(None)
        self.predictions.new_folder()
        self.doc.load(None, [])
        self.folder_lock = folder_lock.switch(self.folder_lock, None, None, self)
        self._show_editor(False)
        self._update_actions()

    # ------------------------------------------------------------------ navigation and review

    def _on_current(self, row: int) -> None:
        e = self.doc.current_entry
        title = "Digit Studio"
        if e is not None:
            title = f"{e.name} ({row + 1}/{len(self.doc)}) — {self.doc.folder.name} — Digit Studio"
        self.setWindowTitle(title)

    def go(self, step: int) -> None:
        nxt = self.image_list.neighbour(self.doc.current, step)
        if nxt is not None:
            self.doc.set_current(nxt)

    def next_unreviewed(self) -> None:
        order = self.image_list.rows_in_view_order() or list(range(len(self.doc)))
        if self.doc.current in order:
            i = order.index(self.doc.current)
            order = order[i + 1 :] + order[:i]
        for r in order:
            if self.doc.status(r) != Status.REVIEWED and r != self.doc.current:
                self.doc.set_current(r)
                return
        self.message("info", "Every image is reviewed.")

    def review_and_next(self) -> None:
        """Space: accept the shown boxes as checked (one undo step), then open the next image."""
        row = self.doc.current
        if row < 0:
            return
        e = self.doc.entry(row)
        if unreadable(e):
            self.message("info", f"{e.name} cannot be read, so it cannot be reviewed ({e.error}).")
            return
        if e.pred is None and not e.layer.boxes and not e.error and self.predictions.ready:
            # accepting "nothing" before the model has answered would record an empty image
            self.statusBar().showMessage("Still predicting this image: review it once its boxes show.", 4000)
            return
        unknown = [s for s in self.doc.shown(row) if s.digit == UNKNOWN_DIGIT]
        if unknown:
            self.canvas.set_selected(unknown[0].key)
            n = len(unknown)
            self.message(
                "info",
                f"{n} box{'es' if n > 1 else ''} on {e.name} {'have' if n > 1 else 'has'} no digit yet "
                "(shown as ?): type its digit or delete it, then review.",
            )
            return
        nxt = self.image_list.neighbour(row, 1)
        self.doc.mark_reviewed(row)
        if nxt is not None:
            self.doc.set_current(nxt)

    def _select_box(self, key: int) -> None:
        self.canvas.set_selected(key)
        self.canvas.setFocus()

    # ------------------------------------------------------------------ inference

    def _on_model_ready(self, device: str, desc: str, thresh: float) -> None:
        self._show_model()
        self.number.set_model_error(None)
        if not self._threshold_chosen:
            self._quiet_threshold = True
            self.doc.set_threshold(min(max(thresh, 0.05), 0.95))
            self._quiet_threshold = False
        self._update_actions()

    def _on_model_failed(self, message: str) -> None:
        self.model_label.setText("Model: none (manual annotation only)")
        self.number.set_model_error(message)
        self.message("warning", message)
        self._update_actions()

    def _show_model(self) -> None:
        """The status bar's model label, with the folder's digit count where one is set (while a
        model loads or after it failed, the label says so and stays)."""
        inf = self.inference
        if not inf.available:
            return
        digits = "" if inf.digits is None else f" · {inf.digits.label}"
        self.model_label.setText(f"Model: {inf.model_desc} · {inf.device_name}{digits}")

    def choose_digits(self) -> None:
        """Ask how many digits the open folder's numbers have (empty: any) and read them so."""
        if self.doc.folder is None:
            return
        cur = self.inference.digits
        text = dialogs.ask_text(
            self,
            "Digits per number",
            "How many digits do this folder's numbers have? A number (4) or a range (3-5);\n"
            "empty for any. A letter read as a digit is dropped, and a number read short\n"
            "is completed with weaker digits that continue its row.",
            "" if cur is None else str(cur),
        )
        if text is None:
            return
        try:
            digits = DigitCount.parse(text) if text.strip() else None
        except ValueError as exc:
            self.message("warning", f"Digits per number not changed: {exc}.")
            return
        self.models.set_digits(digits)

    def predict_all(self) -> None:
        """Predict every image not predicted yet (queued until the model is loaded)."""
        self.predictions.predict_all()

    def cancel_predict(self) -> None:
        self.predictions.cancel()

    # ------------------------------------------------------------------ threshold

    def _on_threshold(self, value: float) -> None:
        if not self._quiet_threshold:
            self._threshold_chosen = True
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 100))
        self.slider.blockSignals(False)
        self.slider_label.setText(f" {value:.2f} ")

    # ------------------------------------------------------------------ export

    def export(self, choose: bool = False) -> None:
        """Ctrl+E: write pred.json, pred.csv and annotations.json (see :mod:`.export_flow`)."""
        self.exports.export(choose)

    def save_corrections(self) -> None:
        self.exports.save_corrections()

    def save_now(self) -> None:
        """Ctrl+S: write the project file now (autosave does it within a second anyway) and say so."""
        if self.store.location is None:
            self.statusBar().showMessage("Nothing to save: no folder is open.", 5000)
            return
        errors: list[str] = []
        self.store.failed.connect(errors.append)
        try:
            self.store.save_project()
            self.store.save_predictions()
            self.store.flush()
        finally:
            self.store.failed.disconnect(errors.append)
        if not errors:
            self.statusBar().showMessage(f"Saved {self.store.location.project}", 8000)

    # ------------------------------------------------------------------ misc

    def _wire_models(self) -> None:
        m, act = self.models, self.actions_by_name["repredict"]
        m.stale_changed.connect(
            lambda n: (
                act.setEnabled(n > 0),
                act.setText(f"&Re-predict {n} stale images" if n else "&Re-predict stale images"),
            )
        )
        m.message.connect(lambda text: self.statusBar().showMessage(text, 15000))
        m.model_loading.connect(lambda title: self.model_label.setText(f"Model: loading {title}…"))
        m.digits_changed.connect(self._show_model)

    def toggle_training_dock(self) -> None:
        if self._training_dock is None:
            from .widgets.training_dock import TrainingDock

            self._training_dock = TrainingDock(self.models, self)
            if not self.restoreDockWidget(self._training_dock):  # where it was in the last session
                self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self._training_dock)
            self._training_dock.show()
            return
        self._training_dock.setVisible(not self._training_dock.isVisible())
        if self._training_dock.isVisible():
            self._training_dock.refresh(models=True)

    @property
    def training_dock(self):
        return self._training_dock

    def _may_close_training(self) -> bool:
        """Ask before closing mid-run; when the user agrees, stop the child without waiting for
        it (the app waits once the window has gone: :meth:`ModelController.wait_stopped`)."""
        if not self.models.training_running:
            return True
        if not dialogs.confirm(
            self,
            "Training is running",
            "A training run is going. Stop it and quit? The last checkpoint is kept.",
        ):
            return False
        self.models.stop()
        return True

    def current_model_key(self) -> str:
        return self.models.current_model_key()

    def _show_editor(self, on: bool) -> None:
        """The editor and its docks for an open folder; the start page otherwise."""
        self.stack.setCurrentIndex(1 if on else 0)
        for name in ("images", "boxes"):
            self.findChild(QDockWidget, f"dock-{name}").setVisible(on)

    def _update_actions(self) -> None:
        has = len(self.doc) > 0
        for n in FOLDER_ACTIONS:
            self.actions_by_name[n].setEnabled(has)
        self.actions_by_name["predict_all"].setEnabled(has and self.predictions.error is None)

    @property
    def location(self) -> Location | None:
        return self.store.location

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            p = Path(url.toLocalFile())
            if p.is_dir():
                self.open_folder(p)
            elif p.suffix.lower() in (".json", ".xml"):
                self.open_coco(p)
            elif p.is_file():
                self.open_folder(p.parent)
            break

    def closeEvent(self, event) -> None:  # noqa: N802
        """Save, cancel the workers and close at once: a training run is asked to stop, never
        waited for here (its child is killed after the training service's kill delay)."""
        if not self._may_close_training():
            event.ignore()
            return
        self.store.close()
        self.folder_lock = folder_lock.switch(self.folder_lock, None, None, self)
        desktop.save_window(self)
        self.exports.close()  # before the inference worker: it may be predicting for it
        self.inference.close()
        self.loader.shutdown()
        super().closeEvent(event)
