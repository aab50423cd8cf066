"""Retraining in a child process (``python -m trainer finetune --json-progress``) driven by QProcess.

The recipe is the engine's (:data:`trainer.finetune.RECIPE`): the app chooses only what the
user chose (time budget, an epoch cap, batch size, device, the model to start from). The app
keeps a comparison share of the reviewed images apart (``--compare-images``); the engine splits
its own validation share off the rest.

The app never blocks on it and never dies with it: progress arrives as JSON lines, parsed into
the engine's own event types (:mod:`trainer.events`); a crash or a kill becomes a ``failed``
signal with the last log lines, and closing the app stops the child. Cancel always ends the run:
the child is asked to stop (SIGTERM), killed if it has not within ``kill_after_ms``, and however
it ends, the run is reported as stopped, with at most one model left in its folder.
"""

from __future__ import annotations

import collections
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from trainer.data import held_out
from trainer.events import (
    CompareEvent,
    DoneEvent,
    EpochEvent,
    ErrorEvent,
    ProgressEvent,
    ProtocolError,
    StageEvent,
    StartEvent,
    StoppedEvent,
    TunedEvent,
    parse_event,
)
from trainer.export import write_coco
from trainer.fileio import atomic_write_json
from trainer.finetune import MIN_VAL, RECIPE, Labelled, split_val
from trainer.paths import BUNDLED_MODELS, bundled_label

from ..dataset import document_coco, readable_sizes, training_boxes, unreadable
from ..model_registry import keep_one_model
from ..state import ImageEntry, Status

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
MIN_REVIEWED = 10
MIN_HELD_OUT = 20  # fewer compared images than this make the old-vs-new figures too noisy to trust
KILL_AFTER_MS = 15000  # a child that has not stopped this long after Cancel is killed
HELD_SALT = 1  # the comparison share is drawn apart from the engine's validation share (salt 0)
PHOTOS = "photos.json"  # what the child learns from (it splits its validation share off)
HELD_OUT = "heldout.json"  # what it never sees until the comparison


@dataclass
class TrainingPlan:
    """What the user chose in the panel; the rest is the engine's recipe."""

    max_minutes: float = RECIPE["max_minutes"]
    epochs: int | None = None  # at most this many; None: the recipe's
    batch_size: int = RECIPE["batch_size"]
    device: str = "auto"
    init: Path | None = None  # start from this model (None: the bundled one)
    start: str = "best"  # a key of START_FROM: which model the run starts from
    include_gt: bool = True
    holdout: float = 0.15  # of the reviewed images, kept apart to compare the models


# What a run may start from (the panel's choice): the model in use or a bundled model, whichever
# reads the reviewed images best (trainer.finetune.choose_start); the model in use; a bundled one.
START_FROM = {
    "best": "The model that reads these images best",
    "current": "The model in use",
    **{name: bundled_label(name).capitalize() for name in BUNDLED_MODELS},
}


@dataclass
class TrainingData:
    """COCO sets of one run. ``train`` (with ``val``, if a caller made its own split) is what the
    child learns from, its validation share included; ``heldout`` compares the old and the new
    model, and is never seen before that."""

    train: dict
    heldout: dict
    val: dict | None = None
    counts: dict = field(default_factory=dict)


def split_reviewed(image_ids: list[int], share: float) -> set[int]:
    """The comparison ids of the reviewed images, stable by image id; never empty while there
    are images (a model is never compared on nothing)."""
    ids = sorted(image_ids)
    if share <= 0 or not ids:
        return set()
    cmp = {i for i in ids if held_out(i, share, HELD_SALT)}
    return cmp or {ids[-1]}


def validation_ids(image_ids: list[int]) -> set[int]:
    """The ids the engine keeps for validation (:func:`trainer.finetune.split_val`, its recipe):
    none below :data:`trainer.finetune.MIN_VAL`, where every photo trains."""
    lab = Labelled([{"id": i} for i in image_ids], [], [])
    val = {im["id"] for im in split_val(lab, RECIPE["val_share"])[1].images}
    return val if len(val) >= MIN_VAL else set()


def _counts(reviewed: list[int], gt: list[int], held: set[int]) -> dict:
    learn = [i for i in reviewed if i not in held] + gt
    val = validation_ids(learn)
    return {
        "reviewed": len(reviewed),
        "train": len(learn) - len(val),
        "val": len(val),
        "ground_truth": len(gt),
        "held_out": len(held),
    }


def count_training_data(entries: list[ImageEntry], plan: TrainingPlan) -> dict:
    """What :func:`build_training_data` would use, counted cheaply (no sizes, no boxes)."""
    reviewed, gt = [], []
    for e in entries:
        status = e.layer.status
        if status == Status.REVIEWED and not unreadable(e):
            reviewed.append(e.image_id)
        elif plan.include_gt and status == Status.LABELLED and e.has_gt and not unreadable(e):
            gt.append(e.image_id)
    return _counts(reviewed, gt, split_reviewed(reviewed, plan.holdout))


def build_training_data(entries: list[ImageEntry], threshold: float, plan: TrainingPlan) -> TrainingData:
    """COCO sets to learn from and to compare on, from the document (sizes read from the files).

    Images that cannot be read are left out (the training child could not load them either).
    """
    sizes = readable_sizes(e for e in entries if e.layer.status in (Status.REVIEWED, Status.LABELLED))
    reviewed = [e for e in entries if e.layer.status == Status.REVIEWED and e.name in sizes]
    held_ids = split_reviewed([e.image_id for e in reviewed], plan.holdout)
    learn_e = [e for e in reviewed if e.image_id not in held_ids]
    gt_e: list[ImageEntry] = []
    if plan.include_gt:
        gt_e = [
            e
            for e in entries
            if e.has_gt
            and e.layer.status == Status.LABELLED
            and e.name in sizes
            and e.image_id not in held_ids
        ]
    held_e = [e for e in reviewed if e.image_id in held_ids]

    def coco(items: list[ImageEntry]) -> dict:
        return document_coco(items, boxes=training_boxes(threshold), size_of=lambda e: sizes.get(e.name)).coco

    counts = _counts([e.image_id for e in reviewed], [e.image_id for e in gt_e], held_ids)
    return TrainingData(coco(learn_e + gt_e), coco(held_e), None, counts)


def cannot_start_reason(counts: dict, running: bool) -> str | None:
    """Why Start is disabled, or None."""
    if running:
        return "A training run is going."
    if counts.get("reviewed", 0) < MIN_REVIEWED:
        return f"Review at least {MIN_REVIEWED} images first ({counts.get('reviewed', 0)} so far)."
    return None


def small_parts_warning(counts: dict) -> str:
    """A warning when the compared part is too small to trust ("" when it is not)."""
    held = counts.get("held_out", 0)
    if not counts.get("reviewed") or held >= MIN_HELD_OUT:
        return ""
    return (
        f"Only {held} held-out image{'s' if held != 1 else ''}: the current-vs-new comparison is "
        f"too noisy to trust under {MIN_HELD_OUT}. Review more images, or hold out a larger share."
    )


def _merge(a: dict, b: dict | None) -> dict:
    if not b or not b.get("images"):
        return a
    return {**a, "images": a["images"] + b["images"], "annotations": _renumbered(a, b)}


def _renumbered(a: dict, b: dict) -> list[dict]:
    out = list(a.get("annotations", []))
    n = max((x["id"] for x in out), default=0)
    for k, x in enumerate(b.get("annotations", []), start=n + 1):
        out.append({**x, "id": k})
    return out


class TrainingService(QObject):
    """Owns at most one training child process; reports its events as the engine's types."""

    stage = Signal(object)  # StageEvent: the photos read before (or between) the training rounds
    started = Signal(object)  # StartEvent
    progress = Signal(object)  # ProgressEvent
    epoch_done = Signal(object)  # EpochEvent
    tuned = Signal(object)  # TunedEvent
    compared = Signal(object)  # CompareEvent: old vs new model on the held-out images
    log_line = Signal(str)
    finished = Signal(object)  # DoneEvent or StoppedEvent (every run that was cancelled)
    failed = Signal(str, str)  # message, last log lines

    def __init__(self, parent: QObject | None = None, kill_after_ms: int = KILL_AFTER_MS) -> None:
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.run_dir: Path | None = None
        self.kill_after_ms = kill_after_ms
        self.cancelling = False  # Cancel was asked; the child is winding down
        self._buf = b""
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._error: str | None = None
        self._end: DoneEvent | StoppedEvent | None = None
        self._epoch = 0  # the last epoch the child finished

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def command(self, folder: Path, run_dir: Path, plan: TrainingPlan, compare: bool = True) -> list[str]:
        """The child's arguments: the engine's fine-tuning recipe with the user's choices."""
        args = ["-m", "trainer", "finetune", "--json-progress", "--exit-with-parent"]
        args += ["--images", str(folder), "--ann", str(run_dir / PHOTOS), "--out", str(run_dir)]
        args += ["--init", str(plan.init or "default"), "--start", "best" if plan.start == "best" else "init"]
        args += ["--device", plan.device, "--workers", "0"]
        args += ["--max-minutes", f"{plan.max_minutes:g}", "--batch-size", str(plan.batch_size)]
        if plan.epochs:
            args += ["--epochs", str(plan.epochs)]
        if compare:
            args += ["--compare-images", str(folder), "--compare-ann", str(run_dir / HELD_OUT)]
        return args

    def start(self, folder: Path, run_dir: Path, data: TrainingData, plan: TrainingPlan) -> None:
        if self.running:
            raise RuntimeError("a training run is already going")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_coco(run_dir / PHOTOS, _merge(data.train, data.val))
        write_coco(run_dir / HELD_OUT, data.heldout)
        atomic_write_json(run_dir / "plan.json", {**asdict(plan), "init": str(plan.init or "")})
        self.run_dir = run_dir
        self._buf, self._error, self._end, self._epoch = b"", None, None, 0
        self.cancelling = False
        self._tail.clear()
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(ROOT))
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        # every handler is bound to this process: a late signal of an earlier one is ignored
        proc.readyReadStandardOutput.connect(lambda: self._on_stdout(proc))
        proc.readyReadStandardError.connect(lambda: self._on_stderr(proc))
        proc.finished.connect(lambda code, status: self._on_finished(proc, code, status))
        proc.errorOccurred.connect(lambda err: self._on_error(proc, err))
        self.proc = proc
        compare = bool(data.heldout.get("images"))
        proc.start(sys.executable, self.command(folder, run_dir, plan, compare))

    def cancel(self) -> None:
        """Stop the run, whatever the child is doing: asked to stop (it keeps its last finished
        epoch), killed if it has not ended ``kill_after_ms`` later. A child still starting up
        is asked as soon as it runs. The kill timer belongs to this child's QProcess: it can
        never reach a later run.
        """
        proc = self.proc
        if not self.running or self.cancelling:
            return
        self.cancelling = True
        self._log("cancelling: the run stops at the next step")
        if proc.state() == QProcess.ProcessState.Starting:
            proc.started.connect(proc.terminate)
        proc.terminate()
        timer = QTimer(proc)
        timer.setSingleShot(True)
        timer.timeout.connect(proc.kill)
        timer.start(max(0, int(self.kill_after_ms)))

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Stop the child and wait for it (used when the app closes): no orphan is left."""
        proc = self.proc
        if not self.running:
            return
        self.cancelling = True
        proc.terminate()
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(5000)

    def pid(self) -> int:
        return int(self.proc.processId()) if self.proc is not None else 0

    def tail(self) -> str:
        return "\n".join(self._tail)

    # ---------------------------------------------------------------- child output

    def _on_stdout(self, proc: QProcess) -> None:
        if proc is not self.proc:
            return
        self._buf += bytes(proc.readAllStandardOutput())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = parse_event(line)
            except ProtocolError:
                self._log(line)
                continue
            self._dispatch(ev)

    def _on_stderr(self, proc: QProcess) -> None:
        if proc is not self.proc:
            return
        text = bytes(proc.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self._log(line.rstrip())

    def _log(self, line: str) -> None:
        self._tail.append(line)
        self.log_line.emit(line)

    def _dispatch(self, ev) -> None:
        if isinstance(ev, StageEvent):
            self.stage.emit(ev)
        elif isinstance(ev, StartEvent):
            if ev.start_note:
                self._log(ev.start_note[0].upper() + ev.start_note[1:])
            self._log(f"training on {ev.images} images, {ev.val_images} for validation, device {ev.device}")
            self.started.emit(ev)
        elif isinstance(ev, ProgressEvent):
            self.progress.emit(ev)
        elif isinstance(ev, EpochEvent):
            held = "" if ev.mAP is None else f", validation mAP {ev.mAP:.3f}"
            self._epoch = ev.epoch
            self._log(f"epoch {ev.epoch}: loss {ev.loss:.3f}{held}")
            self.epoch_done.emit(ev)
        elif isinstance(ev, TunedEvent):
            best = next((t for t in ev.tried if t.get("min_size") == ev.min_size), {})
            self._log(
                f"input size {ev.min_size} px chosen on the validation photos "
                f"(number accuracy {best.get('number_accuracy', 0):.3f}, threshold {ev.score_thresh})"
            )
            self.tuned.emit(ev)
        elif isinstance(ev, CompareEvent):
            self._log(f"compared with the starting model on {ev.images} held-out images")
            self.compared.emit(ev)
        elif isinstance(ev, DoneEvent | StoppedEvent):
            self._end = ev
            self._log(f"run {ev.status}")
        elif isinstance(ev, ErrorEvent):
            self._error = ev.message
            self._log(f"error: {ev.message}")

    def _on_error(self, proc: QProcess, err: QProcess.ProcessError) -> None:
        if proc is self.proc and err == QProcess.ProcessError.FailedToStart:
            self.proc = None
            proc.deleteLater()
            self.failed.emit(f"The training process could not start ({err.name}).", self.tail())

    def _on_finished(self, proc: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if proc is not self.proc:
            return
        self._on_stdout(proc)
        self._on_stderr(proc)
        end, error = self._end, self._error
        self.proc = None
        proc.deleteLater()
        if self.cancelling:  # however it ended (stopped, killed, done meanwhile): cancelled
            self.cancelling = False
            self.finished.emit(self._stopped(end))
            return
        if status == QProcess.ExitStatus.NormalExit and code == 0 and end is not None:
            self.finished.emit(end)
            return
        if error is None:
            said = [ln for ln in self._tail if ln.startswith("error: ")]
            if said and status == QProcess.ExitStatus.NormalExit:
                error = said[-1][len("error: ") :]
            elif status == QProcess.ExitStatus.CrashExit:
                error = f"The training process crashed (exit code {code})."
            else:
                error = f"The training process ended with exit code {code}."
        if "out of memory" in (error + self.tail()).lower():
            error += " The GPU ran out of memory: try a smaller batch size."
        self.failed.emit(error, self.tail())

    def _stopped(self, end: DoneEvent | StoppedEvent | None) -> StoppedEvent:
        """The end of a cancelled run, with at most one model left in its folder."""
        run_dir = self.run_dir
        model = keep_one_model(run_dir) if run_dir is not None and run_dir.is_dir() else None
        if isinstance(end, StoppedEvent) and end.best and model is not None:
            return end
        epoch = end.epoch if end is not None else self._epoch
        how = "stopped" if end is not None else "ended (killed or exited early)"
        self._log(f"run cancelled; the child {how}")
        return StoppedEvent(
            run_dir=str(run_dir or ""),
            reason="cancelled",
            epoch=int(epoch or 0),
            checkpoint=str(model or ""),
            best=str(model) if model is not None else None,
        )
