"""Retraining in a child process (``python -m trainer train --json-progress``) driven by QProcess.

The app never blocks on it and never dies with it: progress arrives as JSON lines, a crash or a
kill becomes a ``failed`` signal with the last log lines, and closing the app stops the child.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from trainer.data import Record, split_holdout
from trainer.export import coco_ground_truth, write_coco

from ..state import UNKNOWN_DIGIT, ImageEntry, Status, shown_boxes
from .export import image_size_of, unreadable

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
MIN_REVIEWED = 10
FINE_TUNE_LR_FACTOR = 0.1


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
    holdout: float = 0.15


@dataclass
class TrainingData:
    train: dict
    heldout: dict
    counts: dict = field(default_factory=dict)


def build_training_data(
    entries: list[ImageEntry], threshold: float, plan: TrainingPlan, read_sizes: bool = True
) -> TrainingData:
    """COCO train / held-out sets from the document. Held out: a stable share of reviewed images.

    Images that cannot be read are left out (the training child could not load them either).
    Sizes not known yet are read from the files; ``read_sizes=False`` skips that (to count only,
    on the UI thread) and leaves them 0.
    """
    sizes = {}
    for e in entries:
        if e.layer.status in (Status.REVIEWED, Status.LABELLED) and not unreadable(e):
            size = image_size_of(e) if read_sizes else (e.size or (0, 0))
            if size is not None:
                sizes[e.name] = size
    reviewed = [e for e in entries if e.layer.status == Status.REVIEWED and e.name in sizes]
    recs = [Record(e.image_id, e.path) for e in reviewed]
    _, hold = split_holdout(recs, plan.holdout)
    hold_ids = {r.image_id for r in hold}
    if reviewed and not hold_ids and plan.holdout > 0:
        hold_ids = {reviewed[-1].image_id}  # never compare on an empty set
    train_e = [e for e in reviewed if e.image_id not in hold_ids]
    gt_e: list[ImageEntry] = []
    if plan.include_gt:
        gt_e = [
            e
            for e in entries
            if e.has_gt
            and e.layer.status == Status.LABELLED
            and e.name in sizes
            and e.image_id not in hold_ids
        ]
    held_e = [e for e in reviewed if e.image_id in hold_ids]

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
        "ground_truth": len(gt_e),
        "held_out": len(held_e),
        "synthetic": plan.synthetic,
    }
    return TrainingData(coco(train_e + gt_e), coco(held_e), counts)


def cannot_start_reason(counts: dict, running: bool) -> str | None:
    """Why Start is disabled, or None."""
    if running:
        return "A training run is going."
    if counts.get("reviewed", 0) < MIN_REVIEWED:
        return f"Review at least {MIN_REVIEWED} images first ({counts.get('reviewed', 0)} so far)."
    return None


class TrainingService(QObject):
    """Owns at most one training child process."""

    started = Signal(dict)  # the "start" event
    progress = Signal(dict)  # "progress" events (iteration loss, lr, ETA)
    epoch_done = Signal(dict)  # "epoch" events (validation metrics)
    compared = Signal(dict)  # old vs new model on the held-out images
    log_line = Signal(str)
    finished = Signal(dict)  # {"status": "done"|"stopped", "run_dir": ..., ...}
    failed = Signal(str, str)  # message, last log lines

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.proc: QProcess | None = None
        self.run_dir: Path | None = None
        self._buf = b""
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self._error: str | None = None
        self._end: dict | None = None
        self._compare: dict | None = None
        self._cancelled = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning

    def command(self, folder: Path, run_dir: Path, plan: TrainingPlan) -> list[str]:
        args = [
            "-m",
            "trainer",
            "train",
            "--json-progress",
            "--exit-with-parent",
            "--log-every",
            "2",
            "--train-images",
            str(folder),
            "--train-ann",
            str(run_dir / "train.json"),
            "--val-images",
            str(folder),
            "--val-ann",
            str(run_dir / "heldout.json"),
            "--preset",
            plan.preset,
            "--epochs",
            str(plan.epochs),
            "--batch-size",
            str(plan.batch_size),
            "--device",
            plan.device,
            "--out",
            str(run_dir),
            "--workers",
            "0",
        ]
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
        return args

    def start(self, folder: Path, run_dir: Path, data: TrainingData, plan: TrainingPlan) -> None:
        if self.running:
            raise RuntimeError("a training run is already going")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_coco(run_dir / "train.json", data.train)
        write_coco(run_dir / "heldout.json", data.heldout)
        (run_dir / "plan.json").write_text(
            json.dumps({**plan.__dict__, "init": str(plan.init or "")}, indent=2)
        )
        self.run_dir = run_dir
        self._buf, self._error, self._end, self._compare, self._cancelled = b"", None, None, None, False
        self._tail.clear()
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(ROOT))
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self.proc = proc
        self._started_at = time.monotonic()
        proc.start(sys.executable, self.command(folder, run_dir, plan))

    def cancel(self) -> None:
        """Ask the child to stop: it saves a checkpoint and exits; killed if it takes too long."""
        if not self.running:
            return
        self._cancelled = True
        self.proc.terminate()
        QTimer.singleShot(15000, self._kill_if_running)

    def _kill_if_running(self) -> None:
        if self.running:
            self.proc.kill()

    def shutdown(self, timeout_ms: int = 15000) -> None:
        """Stop the child and wait for it (used when the app closes): no orphan is left."""
        if not self.running:
            return
        self._cancelled = True
        self.proc.terminate()
        if not self.proc.waitForFinished(timeout_ms):
            self.proc.kill()
            self.proc.waitForFinished(5000)

    def pid(self) -> int:
        return int(self.proc.processId()) if self.proc is not None else 0

    def tail(self) -> str:
        return "\n".join(self._tail)

    # ---------------------------------------------------------------- child output

    def _on_stdout(self) -> None:
        self._buf += bytes(self.proc.readAllStandardOutput())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                self._log(line)
                continue
            self._dispatch(ev)

    def _on_stderr(self) -> None:
        text = bytes(self.proc.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self._log(line.rstrip())

    def _log(self, line: str) -> None:
        self._tail.append(line)
        self.log_line.emit(line)

    def _dispatch(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "start":
            self._log(
                f"training on {ev['images']} images, {ev['val_images']} held out, device {ev['device']}"
            )
            self.started.emit(ev)
        elif kind == "progress":
            self.progress.emit(ev)
        elif kind == "epoch":
            self._log(f"epoch {ev['epoch']}: loss {ev['loss']:.3f}, held-out mAP {ev.get('mAP', 0):.3f}")
            self.epoch_done.emit(ev)
        elif kind == "tuned":
            best = next((t for t in ev.get("tried", []) if t.get("min_size") == ev.get("min_size")), {})
            self._log(
                f"input size {ev.get('min_size')} px chosen on the held-out photos "
                f"(number accuracy {best.get('number_accuracy', 0):.3f}, threshold {ev.get('score_thresh')})"
            )
        elif kind in ("done", "stopped"):
            self._end = ev
            self._log(f"run {kind}")
        elif kind == "compare":
            self._compare = ev
            self.compared.emit(ev)
        elif kind == "error":
            self._error = ev.get("message", "unknown error")
            self._log(f"error: {self._error}")

    def _on_error(self, err: QProcess.ProcessError) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.proc = None
            self.failed.emit(f"The training process could not start ({err.name}).", self.tail())

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()
        end, error = self._end, self._error
        self.proc = None
        if status == QProcess.ExitStatus.NormalExit and code == 0 and end is not None:
            self.finished.emit(
                {**end, "status": end.get("status", end.get("event")), "compare": self._compare}
            )
            return
        if error is None:
            error = (
                f"The training process crashed (exit code {code})."
                if status == QProcess.ExitStatus.CrashExit
                else f"The training process ended with exit code {code}."
            )
        if "out of memory" in (error + self.tail()).lower():
            error += " The GPU ran out of memory: try a smaller batch size."
        self.failed.emit(error, self.tail())
