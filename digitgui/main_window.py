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

from trainer.errors import DigitError, describe_names

from . import desktop, dialogs, folder_lock, habits, label_formats, quick_edits, region_read, settings
from .actions import build_actions, build_toolbar
from .canvas import Canvas
from .canvas_keys import KeyRouter
from .document import Document
from .folder_loader import open_folder
from .folder_lock import FolderLocked
from .help import HelpMenu
from .model_control import ModelController
from .project_store import Location, ProjectStore
from .services.export import (
    ExportJob,
    ExportSummary,
    corrections_target,
    export_conflicts,
    models_used,
    save_corrections,
    unreadable,
)
from .services.images import ImageLoader
from .services.inference import InferenceService, Result
from .state import UNKNOWN_DIGIT, Prediction, Status
from .widgets.box_list import BoxList
from .widgets.image_list import ImageList
from .widgets.number_display import NumberDisplay
from .widgets.progress import PredictProgress
from .widgets.start_page import StartPage

log = logging.getLogger(__name__)

LOOKAHEAD = 3  # images predicted ahead of the one on screen


class MainWindow(QMainWindow):
    """Digit Studio's main window."""

    folder_opened = Signal(str)
    export_finished = Signal(object)  # ExportSummary, or a str message on failure
    message_shown = Signal(str, str)  # level, text

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
        self._threshold_chosen = False  # the user (or the project) picked one: the model's won't replace it
        self._quiet_threshold = False
        self._export_job: ExportJob | None = None
        self._predict_all_queued = False  # Predict all was asked for while the model loads
        self.folder_lock: folder_lock.FolderLock | None = None  # one instance per folder

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
        self.inference.results.connect(self._on_results)
        self.inference.job_finished.connect(self._on_job_finished)
        self._quiet_threshold = True
        self._on_threshold(self.doc.threshold)
        self._quiet_threshold = False
        self.models = ModelController(self.doc, self.inference, model, parent=self)
        self._training_dock = None
        self._wire_models()
        self.key_router = KeyRouter(self, self.canvas, lambda: self.stack.currentIndex() == 1)
        quick_edits.install(self)  # type the number, duplicate, copy boxes, photo display
        self.region_reader = region_read.install(self)  # R: read inside a box
        habits.install(self)  # go to image, box menu, hide boxes, theme, custom shortcuts (last)
        self._update_actions()
        if start_inference:
            QTimer.singleShot(0, self.inference.start)

    # ------------------------------------------------------------------ status bar and messages

    def _build_status_bar(self) -> None:
        self.progress = PredictProgress(self.inference, self)
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
        self.message_shown.emit(level, text)

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
        self._predict_all_queued = False
        self.inference.new_generation()
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
        self._on_current(self.doc.current)
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
        self._predict_all_queued = False
        self.inference.new_generation()
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
            want = [row] + [r for r in range(row + 1, min(row + 1 + LOOKAHEAD, len(self.doc)))]
            todo = [
                (self.doc.entry(r).name, self.doc.entry(r).path)
                for r in want
                if self.doc.entry(r).pred is None and not self.doc.entry(r).error
            ]
            if todo:
                self.inference.request(todo)
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
        if e.pred is None and not e.layer.boxes and not e.error and self.inference.available:
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
        self.model_label.setText(f"Model: {desc} · {device}")
        self.number.set_model_error(None)
        if not self._threshold_chosen:
            self._quiet_threshold = True
            self.doc.set_threshold(min(max(thresh, 0.05), 0.95))
            self._quiet_threshold = False
        self._update_actions()
        if self._predict_all_queued:
            self._predict_all_queued = False
            self.predict_all()

    def _on_model_failed(self, message: str) -> None:
        self.model_label.setText("Model: none (manual annotation only)")
        self.number.set_model_error(message)
        if self._predict_all_queued:
            self._predict_all_queued = False
            message += "\nPredict all, asked for while the model was loading, did not run."
        self.message("warning", message)
        self._update_actions()

    def _on_results(self, results: list[Result]) -> None:
        items = []
        for r in results:
            row = self.doc.row_of(r.key)
            if row is None:
                continue
            pred = None if r.error else Prediction(r.boxes, r.scores, r.digits, r.model)
            items.append((row, pred, (r.width, r.height), r.error))
        self.doc.set_predictions(items)

    def predict_all(self) -> None:
        """Predict every image not predicted yet (queued until the model is loaded)."""
        if self.inference.error is not None:
            self.message("warning", self.inference.error)
            return
        if not self.inference.available:
            self._predict_all_queued = True
            self.statusBar().showMessage("Predict all starts as soon as the model is loaded…")
            return
        rows = self.doc.unlabelled_rows()
        if not rows:
            self.statusBar().showMessage("Every image is already predicted.", 5000)
            return
        self.inference.predict_all([(self.doc.entry(r).name, self.doc.entry(r).path) for r in rows])

    def cancel_predict(self) -> None:
        if self._export_job is not None:
            self._export_job.cancel()
        if self._predict_all_queued:
            self._predict_all_queued = False
            self.statusBar().showMessage("Prediction cancelled.", 8000)
        self.inference.cancel_all()

    def _on_job_finished(self, _job: int, completed: bool) -> None:
        self.statusBar().showMessage("Prediction finished." if completed else "Prediction cancelled.", 8000)

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
        """Ctrl+E: write pred.json, pred.csv and annotations.json to the remembered folder.

        Never replaces a file an export did not write, asks before replacing an earlier export and
        before mixing the results of several models.
        """
        if not len(self.doc):
            self.message("warning", "Open a folder first.")
            return
        if self._export_job is not None:
            self.message("info", "An export is already running.")
            return
        out = settings.export_folder(self.doc.folder)
        if choose or not out:
            start = out or settings.last_export_folder() or str(self.doc.folder.parent)
            out = dialogs.choose_output_folder(self, "Export to folder", start)
            if not out:
                return
            settings.set_export_folder(self.doc.folder, Path(out))
        out = Path(out)
        fmt = label_formats.export_format(self)
        foreign, earlier = export_conflicts(out, fmt)
        if foreign:
            return self._export_refused(
                f"Not exported: {describe_names(foreign)} in {out} {'was' if len(foreign) == 1 else 'were'} not "
                "written by Digit Studio's export, and export never replaces such a file (it may be "
                "ground truth). Choose another folder with File ▸ Export to…",
                "warning",
            )
        repredict = self._ask_about_models()
        if repredict is None:
            return self._export_refused("Export cancelled.")
        if earlier and not dialogs.confirm(
            self,
            "Replace the earlier export?",
            f"{out} holds an earlier export ({describe_names(earlier)}). Replace it with this one?",
        ):
            return self._export_refused(f"Export cancelled: the earlier export in {out} is kept.")
        self.store.flush()
        job = ExportJob(
            self.doc, self.inference, out, self, repredict=repredict, replace_earlier=True, fmt=fmt
        )
        job.finished.connect(self._on_export_done)
        job.failed.connect(self._on_export_failed)
        job.waiting.connect(self._on_export_waiting)
        self._export_job = job
        self.statusBar().showMessage(f"Exporting to {out}…")
        job.start()

    def _ask_about_models(self) -> list[int] | None:
        """When the results come from several models, ask. Returns the rows to re-predict first
        (empty: export as is), or None when the user cancels."""
        used = models_used(self.doc.entries)
        cur = self.models.current_id
        if self.doc.unlabelled_rows() and self.inference.available:
            used[cur] += len(self.doc.unlabelled_rows())  # predicted by the current model first
        if len(used) < 2:
            return []
        others = [
            r
            for r, e in enumerate(self.doc.entries)
            if e.pred is not None and e.layer.status != Status.REVIEWED and e.pred.model != cur
        ]
        counts = "/".join(str(n) for _m, n in used.most_common())
        text = (
            f"The results to export come from {len(used)} models ({counts} images): {len(others)} "
            f"images were predicted by another model than the one in use ({self.inference.model_desc or 'current'})."
        )
        options = ["Export as is", "Cancel"]
        if self.inference.available:
            text += f"\n\nRe-predict those {len(others)} images with the current model before exporting?"
            options.insert(0, "Re-predict and export")
        answer = dialogs.ask(self, "Results of several models", text, options)
        if answer is None or answer == "Cancel":
            return None
        return others if answer.startswith("Re-predict") else []

    def _on_export_waiting(self, n: int) -> None:
        self.progress.on_progress(0, n)
        self.statusBar().showMessage(f"Export waits for the model to load, then predicts {n} images…")

    def _export_refused(self, text: str, level: str = "info") -> None:
        self.message(level, text)
        self.export_finished.emit(text)

    def _on_export_done(self, summary: ExportSummary) -> None:
        self._export_job = None
        self.progress.setVisible(self.inference.busy)  # shown while it waited for the model
        self.message("info", summary.text(), popup=True)
        self.export_finished.emit(summary)

    def _on_export_failed(self, text: str) -> None:
        self._export_job = None
        self.progress.setVisible(self.inference.busy)
        self.message("info" if text.startswith("Export cancelled") else "error", text)  # cancelled: no fault
        self.export_finished.emit(text)

    def save_corrections(self) -> None:
        """Write the checked boxes of every labelled/edited/reviewed image as a new COCO file."""
        if not len(self.doc):
            return
        gt = self.doc.gt_source
        default = gt.with_name(gt.stem + ".corrected.json") if gt else self.doc.folder / "corrections.json"
        path = dialogs.choose_save_file(self, "Save corrections as COCO", str(default), "COCO JSON (*.json)")
        if not path:
            return
        target = corrections_target(Path(path), gt)
        if target != Path(path) and target.exists():  # the file dialog asked about another name
            if not dialogs.confirm(
                self,
                "Replace the corrections file?",
                f"The ground truth {gt.name} is never overwritten: corrections go to {target.name}, "
                "which already exists. Replace it?",
            ):
                self.statusBar().showMessage(f"Not saved: {target} is kept.", 10000)
                return
        try:
            saved = save_corrections(self.doc.entries, Path(path), gt)
        except OSError as exc:
            self.message("error", f"Cannot write {path}: {exc}")
            return
        note = " (the ground truth file itself is never overwritten)" if saved.path != Path(path) else ""
        text = f"Saved {saved.images} images, {saved.boxes} boxes to {saved.path}{note}."
        if saved.unreadable:
            text += f"\n{saved.unreadable} unreadable images were left out."
        if saved.unlabelled_boxes:
            text += f"\n{saved.unlabelled_boxes} boxes without a digit were left out."
        self.message("info", text, popup=True)

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
        """Ask before closing mid-run; stop the child (no orphan) when the user agrees."""
        if not self.models.training_running:
            return True
        if not dialogs.confirm(
            self,
            "Training is running",
            "A training run is going. Stop it and quit? The last checkpoint is kept.",
        ):
            return False
        self.models.shutdown()
        return True

    def current_model_path(self) -> Path | None:
        return self.models.current_model_path()

    def current_model_key(self) -> str:
        return self.models.current_model_key()

    def _show_editor(self, on: bool) -> None:
        """The editor and its docks for an open folder; the start page otherwise."""
        self.stack.setCurrentIndex(1 if on else 0)
        for name in ("images", "boxes"):
            self.findChild(QDockWidget, f"dock-{name}").setVisible(on)

    def _update_actions(self) -> None:
        has = len(self.doc) > 0
        for n in (
            "export",
            "export_to",
            "corrections",
            "save",
            "close_folder",
            "review",
            "prev",
            "next",
            "next_unreviewed",
            "draw",
            "read_box",
        ):
            self.actions_by_name[n].setEnabled(has)
        self.actions_by_name["predict_all"].setEnabled(has and self.inference.error is None)

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
        """Save, cancel the workers and wait for their threads before closing."""
        if not self._may_close_training():
            event.ignore()
            return
        self.store.close()
        self.folder_lock = folder_lock.switch(self.folder_lock, None, None, self)
        desktop.save_window(self)
        if self._export_job is not None:
            self._export_job.close()  # before the inference worker: it may be predicting for it
        self.inference.close()
        self.loader.shutdown()
        super().closeEvent(event)
