"""Retraining in a child process (``python -m trainer train --json-progress``) driven by QProcess.

The app never blocks on it and never dies with it: progress arrives as JSON lines, parsed into
the engine's own event types (:mod:`trainer.events`); a crash or a kill becomes a ``failed``
signal with the last log lines, and closing the app stops the child.
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
    StartEvent,
    StoppedEvent,
    TunedEvent,
    parse_event,
)
from trainer.export import coco_ground_truth, write_coco
from trainer.fileio import atomic_write_json

from ..state import UNKNOWN_DIGIT, ImageEntry, Status, shown_boxes
from .export import image_size_of, unreadable

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
MIN_REVIEWED = 10
FINE_TUNE_LR_FACTOR = 0.1
KILL_AFTER_MS = 15000  # a child that has not stopped this long after Cancel is killed
VAL_SALT = 1  # the validation share is drawn apart from the comparison share


@dataclass
class TrainingPlan:
    """What the user chose in the panel."""

    preset: str = "default"
    epochs: int = 10
    lr: float | None = None
    batch_size: int = 8
    device: str = "auto"
    init: Path | None = None  # start from this model (the current one by default)
    include_gt: bool = True
    synthetic: int = 0
    holdout: float = 0.15  # of the reviewed images, for comparison; as many again for validation


@dataclass
class TrainingData:
    """COCO sets of one run. ``val`` chooses best.pt, the input size and the threshold;
    ``heldout`` compares the old and the new model, and is never seen before that."""

    train: dict
    heldout: dict
    val: dict | None = None
    counts: dict = field(default_factory=dict)


def split_reviewed(image_ids: list[int], share: float) -> tuple[set[int], set[int]]:
    """(comparison ids, validation ids) of the reviewed images, both stable by image id.

    Neither is empty while there are three images or more: a model is never compared, or its
    epoch chosen, on nothing.
    """
    ids = sorted(image_ids)
    if share <= 0 or not ids:
        return set(), set()
    cmp = {i for i in ids if held_out(i, share)}
    if not cmp:
        cmp = {ids[-1]}
    rest = [i for i in ids if i not in cmp]
    val = {i for i in rest if held_out(i, share, VAL_SALT)}
    if not val and len(rest) > 1:
        val = {rest[-1]}
    return cmp, val


def count_training_data(entries: list[ImageEntry], plan: TrainingPlan) -> dict:
    """What :func:`build_training_data` would use, counted cheaply (no sizes, no boxes)."""
    reviewed, gt = [], 0
    for e in entries:
        status = e.layer.status
        if status == Status.REVIEWED and not unreadable(e):
            reviewed.append(e.image_id)
        elif plan.include_gt and status == Status.LABELLED and e.has_gt and not unreadable(e):
            gt += 1
    cmp, val = split_reviewed(reviewed, plan.holdout)
    return {
        "reviewed": len(reviewed),
        "train": len(reviewed) - len(cmp) - len(val),
        "val": len(val),
        "ground_truth": gt,
        "held_out": len(cmp),
        "synthetic": plan.synthetic,
    }


def build_training_data(entries: list[ImageEntry], threshold: float, plan: TrainingPlan) -> TrainingData:
    """COCO train / validation / comparison sets from the document (sizes read from the files).

    Images that cannot be read are left out (the training child could not load them either).
    """
    sizes = {}
    for e in entries:
        if e.layer.status in (Status.REVIEWED, Status.LABELLED) and not unreadable(e):
            size = image_size_of(e)
            if size is not None:
                sizes[e.name] = size
    reviewed = [e for e in entries if e.layer.status == Status.REVIEWED and e.name in sizes]
    cmp_ids, val_ids = split_reviewed([e.image_id for e in reviewed], plan.holdout)
    apart = cmp_ids | val_ids
    train_e = [e for e in reviewed if e.image_id not in apart]
    gt_e: list[ImageEntry] = []
    if plan.include_gt:
        gt_e = [
            e
            for e in entries
            if e.has_gt and e.layer.status == Status.LABELLED and e.name in sizes and e.image_id not in apart
        ]
    held_e = [e for e in reviewed if e.image_id in cmp_ids]
    val_e = [e for e in reviewed if e.image_id in val_ids]

    def coco(items: list[ImageEntry]) -> dict:
        images, boxes = [], []
        for e in items:
            w, h = sizes[e.name]
            images.append({"id": e.image_id, "file_name": e.name, "width": w, "height": h})
            for s in shown_boxes(e, threshold):
                if s.digit != UNKNOWN_DIGIT and (s.checked or e.layer.status == Status.REVIEWED):
                    boxes.append({"image_id": e.image_id, "bbox": list(s.rect), "digit": s.digit})
        return coco_ground_truth(images, boxes)

    counts = {
        "reviewed": len(reviewed),
        "train": len(train_e),
        "val": len(val_e),
        "ground_truth": len(gt_e),
        "held_out": len(held_e),
        "synthetic": plan.synthetic,
    }
    return TrainingData(coco(train_e + gt_e), coco(held_e), coco(val_e), counts)


def cannot_start_reason(counts: dict, running: bool) -> str | None:
    """Why Start is disabled, or None."""
    if running:
        return "A training run is going."
    if counts.get("reviewed", 0) < MIN_REVIEWED:
        return f"Review at least {MIN_REVIEWED} images first ({counts.get('reviewed', 0)} so far)."
    return None


class TrainingService(QObject):
    """Owns at most one training child process; reports its events as the engine's types."""

    started = Signal(object)  # StartEvent
    progress = Signal(object)  # ProgressEvent
    epoch_done = Signal(object)  # EpochEvent
    tuned = Signal(object)  # TunedEvent
    compared = Signal(object)  # CompareEvent: old vs new model on the held-out images
    log_line = Signal(str)
    finished = Signal(object)  # DoneEvent or StoppedEvent
    failed = Signal(str, str)  # message, last log lines

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.run_dir: Path | None = None
        self._buf = b""
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._error: str | None = None
        self._end: DoneEvent | StoppedEvent | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def command(self, folder: Path, run_dir: Path, plan: TrainingPlan) -> list[str]:
        args = ["-m", "trainer", "train", "--json-progress", "--exit-with-parent", "--log-every", "2"]
        args += ["--train-images", str(folder), "--train-ann", str(run_dir / "train.json")]
        args += ["--val-images", str(folder), "--val-ann", str(run_dir / "val.json")]
        args += ["--preset", plan.preset, "--epochs", str(plan.epochs), "--batch-size", str(plan.batch_size)]
        args += ["--device", plan.device, "--out", str(run_dir), "--workers", "0"]
        lr = plan.lr
        if not lr and plan.init:  # fine-tuning: a tenth of the preset's from-scratch rate
            from trainer.presets import PRESETS

            lr = PRESETS[plan.preset]["optimizer"]["lr"] * FINE_TUNE_LR_FACTOR
        if lr:
            args += ["--lr", f"{lr:g}"]
        if plan.synthetic:
            args += ["--synthetic", str(plan.synthetic)]
        if plan.init:
            args += ["--init", str(plan.init), "--compare-with", str(plan.init)]
            args += ["--compare-images", str(folder), "--compare-ann", str(run_dir / "heldout.json")]
        return args

    def start(self, folder: Path, run_dir: Path, data: TrainingData, plan: TrainingPlan) -> None:
        if self.running:
            raise RuntimeError("a training run is already going")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_coco(run_dir / "train.json", data.train)
        write_coco(run_dir / "val.json", data.val if data.val is not None else coco_ground_truth([], []))
        write_coco(run_dir / "heldout.json", data.heldout)
        atomic_write_json(run_dir / "plan.json", {**asdict(plan), "init": str(plan.init or "")})
        self.run_dir = run_dir
        self._buf, self._error, self._end = b"", None, None
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
        proc.start(sys.executable, self.command(folder, run_dir, plan))

    def cancel(self) -> None:
        """Ask the child to stop: it saves a checkpoint and exits; killed if it takes too long.

        The kill timer belongs to this child's QProcess: it can never reach a later run.
        """
        proc = self.proc
        if not self.running:
            return
        proc.terminate()
        timer = QTimer(proc)
        timer.setSingleShot(True)
        timer.timeout.connect(proc.kill)
        timer.start(KILL_AFTER_MS)

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Stop the child and wait for it (used when the app closes): no orphan is left."""
        proc = self.proc
        if not self.running:
            return
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
        if isinstance(ev, StartEvent):
            self._log(f"training on {ev.images} images, {ev.val_images} for validation, device {ev.device}")
            self.started.emit(ev)
        elif isinstance(ev, ProgressEvent):
            self.progress.emit(ev)
        elif isinstance(ev, EpochEvent):
            held = "" if ev.mAP is None else f", validation mAP {ev.mAP:.3f}"
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
