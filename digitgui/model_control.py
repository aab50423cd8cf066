"""The one owner of models and training: which model is in use, the registry of trained models,
their cards, the training service, and the predictions a previous model left (stale).

Not a widget: it takes the document, the inference service (to switch the model it runs) and the
prediction controller (the one owner of what the model is asked: re-predicting stale images goes
through it) explicitly and talks through signals and plain methods. The training dock renders
its signals and forwards clicks; the window wires the status bar and menus to it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QStandardPaths, QTimer, Signal

from trainer.cards import training_card
from trainer.errors import DigitError
from trainer.events import CompareEvent, DoneEvent, EpochEvent, StartEvent, StoppedEvent
from trainer.numbers import DigitCount
from trainer.paths import BUNDLED_MODELS, model_fingerprint

from . import settings
from .dataset import snapshot
from .model_registry import ModelInfo, ModelRegistry, folder_bytes, keep_one_model
from .services.inference import reading_tag
from .services.training import (
    TrainingPlan,
    TrainingService,
    build_training_data,
    cannot_start_reason,
    count_training_data,
)

QUEUED = "Starts as soon as the cancelled run has stopped."
PREPARING = "Preparing the training data..."
SAVED_PLAN = (  # what the panel remembers across restarts: (settings key, plan field, type)
    ("training/max_minutes", "max_minutes", float),
    ("training/max_epochs", "epochs", int),
    ("training/batch_size", "batch_size", int),
    ("training/device", "device", str),
    ("training/start", "start", str),
)

log = logging.getLogger(__name__)


def _parse_digits(text: str | None) -> DigitCount | None:
    """A folder's saved digit count; an unreadable one (edited by hand) reads as any."""
    try:
        return DigitCount.parse(text) if text else None
    except ValueError:
        return None


def registry_root() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "models"


class ModelController(QObject):
    model_switched = Signal(str)  # registry key or file path now in use
    model_loading = Signal(str)  # title of the model being loaded
    stale_changed = Signal(int)  # images still showing the previous model's predictions
    message = Signal(str)  # for the status bar
    models_changed = Signal()  # the registry changed (a run finished, a model was deleted)
    digits_changed = Signal()  # the open folder's digit count changed (inference.digits)
    counts_changed = Signal(dict, str)  # training data counts, why Start is disabled ("" if not)
    # one training run: the engine's typed events (trainer.events)
    stage = Signal(object)  # StageEvent
    run_started = Signal(object)  # StartEvent
    progress = Signal(object)  # ProgressEvent
    epoch = Signal(object)  # EpochEvent
    compared = Signal(object)  # CompareEvent
    log_line = Signal(str)
    running_changed = Signal(bool)
    run_launched = Signal()  # a child process was started (at once, or after a queued Start)
    start_queued = Signal(str)  # Start was clicked while a cancelled run winds down: why it waits
    run_finished = Signal(object)  # DoneEvent or StoppedEvent, after the card is written
    failed = Signal(str, str)  # message, last log lines
    _prepared = Signal(int, object, object)  # (preparation, TrainingData or None, error or None)

    def __init__(
        self, doc, inference, predictions, model_spec: str, root: Path | None = None, parent=None
    ) -> None:
        super().__init__(parent)
        self.doc, self.inference, self.predictions, self.spec = doc, inference, predictions, model_spec
        self.registry = ModelRegistry(root or registry_root())
        self.service = TrainingService(self)
        self.stale: set[str] = set()  # images whose predictions another model made
        self.current_id = self._fingerprint()
        self.new_model: ModelInfo | None = None
        self.last_compare: CompareEvent | None = None
        self.plan = self.saved_plan()
        self._run: dict = {}
        self.queued: TrainingPlan | None = None  # a Start waiting for the wind-down
        # the Start whose training data is being built off the UI thread: (number, plan, folder,
        # whether it waited for a wind-down); a number no longer current is dropped when it arrives
        self._pending: tuple[int, TrainingPlan, Path, bool] | None = None
        self._preparations = 0
        self._prep_thread: threading.Thread | None = None
        self._prepared.connect(self._on_prepared)
        self.registry.tidy()
        self._recount = QTimer(self, singleShot=True, interval=300)
        self._recount.timeout.connect(self.recount)
        predictions.stored.connect(self._on_results)
        doc.reset.connect(self._on_reset)
        doc.image_changed.connect(lambda _r: self._recount.start())
        s = self.service
        s.started.connect(self._on_started)
        s.stage.connect(self.stage)
        s.progress.connect(self.progress)
        s.epoch_done.connect(self._on_epoch)
        s.compared.connect(self._on_compared)
        s.log_line.connect(self.log_line)
        s.finished.connect(self._on_finished)
        s.failed.connect(self._on_failed)

    # ---------------------------------------------------------------- current model

    def current_model_key(self) -> str:
        if self.spec in BUNDLED_MODELS:
            return self.spec
        for m in self.registry.models():
            if str(m.path) == self.spec:
                return m.key
        return self.spec

    def current_model_path(self) -> Path | None:
        path = BUNDLED_MODELS.get(self.spec) or Path(self.spec)
        return path if path.is_file() else None

    def models(self) -> list[ModelInfo]:
        return self.registry.models()

    def _fingerprint(self) -> str:
        """The tag of what the model in use reads now (:func:`reading_tag`)."""
        path = self.current_model_path()
        return reading_tag(model_fingerprint(path) if path is not None else "", self.inference.digits)

    def _find_stale(self, unknown_too: bool) -> None:
        """Images whose predictions a different model file made (the tags survive restarts).

        ``unknown_too``: untagged predictions count as stale too (right after a switch, all
        predictions on screen came from an earlier model).
        """
        cur = self.current_id
        self.stale = {
            e.name
            for e in self.doc.entries
            if e.pred is not None and (e.pred.model or unknown_too) and e.pred.model != cur
        }

    def switch_to(self, info: ModelInfo) -> None:
        """Use another model; what the old one predicted is marked stale (one click re-predicts).

        The image on screen is predicted again as soon as the new model is ready: the prediction
        controller asks for it, as it does for any stale image on screen.
        """
        spec = info.key if info.key in BUNDLED_MODELS else str(info.path)
        if spec == self.spec:
            return
        self.spec = spec
        self.current_id = self._fingerprint()
        self._find_stale(unknown_too=True)
        self.inference.switch_model(spec)
        if self.doc.folder is not None:
            settings.set_folder_model(self.doc.folder, info.key)
        self.model_loading.emit(info.title)
        if self.stale:
            self.message.emit(
                f"Switched to {info.title}: {len(self.stale)} images show the previous model's "
                "predictions (Model ▸ Re-predict stale images)."
            )
        self.stale_changed.emit(len(self.stale))
        self.model_switched.emit(info.key)

    def switch_to_key(self, key: str) -> None:
        info = self.registry.find(key)
        if info is not None and key != self.current_model_key():
            self.switch_to(info)

    def set_digits(self, digits: DigitCount | None) -> int:
        """Read the open folder's numbers as having this many digits (None: any), remembered for
        the folder. The images predicted under another count are predicted again at once (those a
        person reviewed keep their boxes); returns how many."""
        if self.doc.folder is not None:
            settings.set_folder_digits(self.doc.folder, None if digits is None else str(digits))
        if digits == self.inference.digits:
            return 0
        self.inference.set_digits(digits)
        self.current_id = self._fingerprint()
        self.digits_changed.emit()
        self._find_stale(unknown_too=False)
        self.stale_changed.emit(len(self.stale))
        count = self.predictions.repredict(self.stale) if self.stale else 0
        what = "any number of digits" if digits is None else digits.label
        self.message.emit(
            f"Reading {what}"
            + (f": predicting {count} image{'s' if count != 1 else ''} again." if count else ".")
        )
        return count

    def repredict_stale(self) -> int:
        """Predict again the images the previous model predicted; returns how many."""
        return self.predictions.repredict(self.stale)

    def _on_results(self, results) -> None:
        if self.stale:
            before = len(self.stale)
            self.stale.difference_update(r.key for r in results if not r.error and r.model == self.current_id)
            if len(self.stale) != before:
                self.stale_changed.emit(len(self.stale))

    def _on_reset(self) -> None:
        """A folder was opened: use the model chosen for it before, and mark what others predicted."""
        if self.doc.folder is not None:
            self.inference.set_digits(_parse_digits(settings.folder_digits(self.doc.folder)))
            self.current_id = self._fingerprint()
            self.digits_changed.emit()
            key = settings.folder_model(self.doc.folder)
            if key and key != self.current_model_key():
                self.switch_to_key(key)
        self._find_stale(unknown_too=False)
        self.stale_changed.emit(len(self.stale))
        if self.stale:
            self.message.emit(
                f"{len(self.stale)} images show predictions of another model "
                "(Model ▸ Re-predict stale images)."
            )
        self.recount()
        self.models_changed.emit()

    # ---------------------------------------------------------------- deleting

    def deletable_models(self) -> list[ModelInfo]:
        """Trained models that may be deleted: not a bundled one, not the one in use."""
        cur = self.current_model_key()
        return [m for m in self.registry.models() if m.key not in BUNDLED_MODELS and m.key != cur]

    def unfinished_runs(self) -> tuple[int, int]:
        """(count, bytes) of run folders that never became a model."""
        dirs = self.registry.unfinished(self.service.run_dir if self.training_running else None)
        return len(dirs), sum(folder_bytes(d) for d in dirs)

    def delete_model(self, key: str) -> None:
        if key in BUNDLED_MODELS or key == self.current_model_key():
            raise ValueError("a bundled model and the model in use cannot be deleted")
        self.registry.delete(key)
        if self.new_model is not None and self.new_model.key == key:
            self.new_model = None
        self.models_changed.emit()

    def delete_unfinished(self) -> None:
        for d in self.registry.unfinished(self.service.run_dir if self.training_running else None):
            self.registry.delete_folder(d)
        self.models_changed.emit()

    # ---------------------------------------------------------------- training

    @property
    def training_running(self) -> bool:
        return self.service.running

    @staticmethod
    def saved_plan() -> TrainingPlan:
        """The settings of the last run (time budget, device, ...), remembered across restarts."""
        s = settings.settings()
        plan = TrainingPlan()
        for key, name, kind in SAVED_PLAN:
            value = s.value(key, None)
            if value is not None:
                try:
                    setattr(plan, name, kind(value) or getattr(TrainingPlan, name))
                except (TypeError, ValueError):
                    pass
        return plan

    def set_plan(self, plan: TrainingPlan) -> None:
        """The panel's settings changed: remember them and recount."""
        self.plan = plan
        s = settings.settings()
        for key, name, _kind in SAVED_PLAN:
            s.setValue(key, getattr(plan, name) or 0)
        self._recount.start()

    def recount(self) -> dict:
        """Count the training data (cheap: no file reads) and say whether Start is allowed."""
        counts = count_training_data(self.doc.entries, self.plan) if self.doc.entries else {}
        if self.queued is not None:
            reason = QUEUED
        elif self.preparing:
            reason = PREPARING
        else:
            reason = self._cannot_start(counts)
        self.counts_changed.emit(counts, reason or "")
        return counts

    def _cannot_start(self, counts: dict) -> str | None:
        reason = cannot_start_reason(counts, self._busy())
        if reason is None and self.doc.folder is None:
            reason = "Open a folder first."
        return reason

    def _busy(self) -> bool:
        """A run is going that a Start cannot follow (one winding down after Cancel can)."""
        return (
            self.queued is not None
            or self.preparing
            or (self.training_running and not self.service.cancelling)
        )

    @property
    def preparing(self) -> bool:
        """A Start's training data is being built (image sizes read from the files)."""
        return self._pending is not None

    @property
    def cancelling(self) -> bool:
        return self.training_running and self.service.cancelling

    def start_training(self, plan: TrainingPlan) -> str | None:
        """Start a run on the reviewed images; returns why it cannot start, or None.

        While a cancelled run winds down the Start waits for it (:data:`QUEUED`, ``start_queued``)
        and begins as soon as it has stopped. The training data is built off the UI thread (image
        sizes not known yet are read from the files): Start stays disabled (:data:`PREPARING`)
        and the run begins once the data is ready; a reason found only then is shown through
        ``counts_changed``, as every other.
        """
        return self._start(plan, queued=False)

    def _start(self, plan: TrainingPlan, queued: bool) -> str | None:
        if self.cancelling and self.queued is None:
            self.queued = plan
            self.start_queued.emit(QUEUED)
            self.recount()
            return None
        if self.preparing:
            return PREPARING
        # "best" starts from the model in use unless a bundled one reads the images better
        plan.init = BUNDLED_MODELS.get(plan.start) or self.current_model_path()
        self.plan = plan
        counts = count_training_data(self.doc.entries, plan)
        reason = self._cannot_start(counts)
        if reason:
            self.counts_changed.emit(counts, reason)
            return reason
        self._prepare(plan, queued)
        return None

    def _prepare(self, plan: TrainingPlan, queued: bool) -> None:
        """Build the run's training data in a thread; :meth:`_on_prepared` goes on from there."""
        entries, threshold = snapshot(self.doc.entries), self.doc.threshold
        self._preparations += 1
        number = self._preparations
        self._pending = (number, plan, self.doc.folder, queued)

        def work() -> None:
            try:
                data, error = build_training_data(entries, threshold, plan), None
            except (OSError, ValueError, DigitError) as exc:
                data, error = None, f"Cannot prepare the training data: {exc}"
            try:
                self._prepared.emit(number, data, error)
            except RuntimeError:  # the controller is gone (the app has closed): nobody to tell
                pass

        self._prep_thread = threading.Thread(target=work, name="training-data", daemon=True)
        self._prep_thread.start()
        self.recount()

    def _on_prepared(self, number: int, data, error: str | None) -> None:
        pending = self._pending
        if pending is None or pending[0] != number:  # dropped (Cancel, a closing window)
            return
        self._pending = None
        _number, plan, folder, queued = pending
        if folder is None or self.doc.folder != folder:  # another folder was opened meanwhile
            self.recount()
            return
        if error:
            self.recount()
            self.failed.emit(error, "")
            return
        reason = self._cannot_start(data.counts)
        if reason:
            self.counts_changed.emit(data.counts, reason)
            if queued:
                self.message.emit(f"The waiting training run did not start: {reason}")
            return
        self._launch(plan, data)

    def _launch(self, plan: TrainingPlan, data) -> None:
        run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        n = 1
        while (self.registry.root / run_id).exists():  # two runs within one second
            n += 1
            run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{n}"
        run_dir = self.registry.new_run_dir(run_id)
        self._run = {"id": run_id, "plan": plan, "counts": data.counts, "start": None, "epoch": None}
        self.new_model, self.last_compare = None, None
        self.service.start(self.doc.folder, run_dir, data, plan)
        self.running_changed.emit(True)
        self.run_launched.emit()
        self.recount()

    def _drop_preparation(self, wait: bool = False) -> bool:
        """Forget the Start whose data is being built (it will not run); True if there was one.
        ``wait``: also let the thread end first (scripts and tests leave no thread behind)."""
        had, self._pending = self._pending is not None, None
        thread = self._prep_thread
        if wait and thread is not None:
            thread.join()
        return had

    def cancel_training(self) -> None:
        """Cancel: a Start waiting for a wind-down or for its data is dropped, else the run is stopped."""
        if self.queued is not None or self._drop_preparation():
            self.queued = None
            self.message.emit("The waiting training run will not start.")
            self.recount()
            return
        self.service.cancel()
        self.recount()

    def stop(self) -> None:
        """Stop the run for good (the window closes); returns at once.

        A Start waiting for a wind-down is dropped; the child is asked to stop (it keeps its last
        finished epoch) and killed if it has not after the service's ``kill_after_ms``, and its
        end is recorded as every cancelled run's (one model kept, with its card). The app waits
        for that after its window has gone (:meth:`wait_stopped`), so no child outlives it.
        """
        self.queued = None
        self._drop_preparation()
        self.service.cancel()

    def wait_stopped(self, slack_ms: int = 5000) -> bool:
        """Process events until a stopping run has ended and its end is recorded (the app's last
        step, once no window is left to freeze). Returns False if it had not within the service's
        ``kill_after_ms`` plus ``slack_ms``."""
        if not self.training_running:
            return True
        loop = QEventLoop()
        deadline = QTimer(singleShot=True, interval=max(0, int(self.service.kill_after_ms)) + slack_ms)
        deadline.timeout.connect(loop.quit)
        self.running_changed.connect(loop.quit)
        deadline.start()
        loop.exec()
        deadline.stop()
        self.running_changed.disconnect(loop.quit)
        return not self.training_running

    def shutdown(self) -> None:
        """Stop a run and block until the child has ended (scripts and tests; the window uses
        :meth:`stop`): none is left behind."""
        self.queued = None
        self._drop_preparation(wait=True)
        self.service.shutdown()

    def _on_started(self, ev: StartEvent) -> None:
        self._run["start"] = ev
        self.run_started.emit(ev)

    def _on_epoch(self, ev: EpochEvent) -> None:
        self._run["epoch"] = ev
        self.epoch.emit(ev)

    def _on_compared(self, ev: CompareEvent) -> None:
        self.last_compare = ev
        self.compared.emit(ev)

    def _on_finished(self, ev: DoneEvent | StoppedEvent) -> None:
        """A run ended: a model to use gets its card; a run without one leaves nothing behind."""
        run_dir = Path(ev.run_dir)
        model = keep_one_model(run_dir) if run_dir.is_dir() else None
        if model is None:  # cancelled before an epoch ended, or no model: nothing is kept
            self.registry.delete_folder(run_dir)
            if isinstance(ev, DoneEvent):
                self._ended()
                self.failed.emit("The run ended without writing a model.", self.service.tail())
                self._start_queued()
                return
        else:
            self._write_card(run_dir, "done" if isinstance(ev, DoneEvent) else "cancelled")
        self._ended()
        self.run_finished.emit(ev)
        self._start_queued()

    def _on_failed(self, message: str, tail: str) -> None:
        run_dir = self.service.run_dir
        if run_dir is not None and run_dir.is_dir():
            if keep_one_model(run_dir) is not None:
                self._write_card(run_dir, "failed")
            else:
                self.registry.delete_folder(run_dir)
        self._ended()
        self.failed.emit(message, tail)
        self._start_queued()

    def _ended(self) -> None:
        self.running_changed.emit(False)
        self.models_changed.emit()
        self.recount()

    def _start_queued(self) -> None:
        """The cancelled run has stopped: the Start that waited for it begins now."""
        if self.queued is None or self.training_running:
            return
        plan, self.queued = self.queued, None
        reason = self._start(plan, queued=True)
        if reason:
            self.message.emit(f"The waiting training run did not start: {reason}")

    def _write_card(self, run_dir: Path, status: str) -> None:
        run, plan = self._run, self._run.get("plan") or TrainingPlan()
        start, epoch = run.get("start"), run.get("epoch")
        title = f"Retrained {run.get('id', run_dir.name)}"
        if status != "done":
            title += f" ({status} after epoch {epoch.epoch if epoch else 0})"
        validation = None
        if epoch is not None and epoch.mAP is not None:
            validation = {
                "images": start.val_images if start else 0,
                **{k: getattr(epoch, k) for k in ("mAP", "AP50", "number_accuracy")},
            }
        card = training_card(
            title=title,
            preset=start.preset if start else "",
            created=dt.datetime.now().isoformat(timespec="seconds"),
            data=run.get("counts", {}),
            settings={
                "recipe": "trainer.finetune.RECIPE",
                **{k: str(v) for k, v in asdict(plan).items()},
                **({"started_from": start.start_model} if start and start.start_model else {}),
            },
            status=status,
            comparison=self.last_compare if status == "done" else None,
            validation=validation,
            folder=str(self.doc.folder or ""),
        )
        self.registry.write_card(run_dir, card)
        if status == "done":
            self.new_model = self.registry.find(run_dir.name)
