"""The training event protocol: what ``fit`` reports, one typed event per happening.

The engine emits each event once; ``python -m trainer train --json-progress`` writes them as one
JSON object per line (``{"event": kind, "v": VERSION, ...fields}``); the app parses the lines
back into these same classes with :func:`parse_event`. Plain data only: no torch, no Qt.

Order of one run: ``stage`` events while the photos are prepared (fine-tuning: the starting
model chosen, typed numbers placed; again between its two rounds), ``start``, then
``progress`` (every few iterations) and ``epoch`` (after each epoch), then ``tuned`` (input
size and threshold chosen), ``compare`` (old and new model on the comparison images), and one
of ``done`` or ``stopped``; ``error`` instead when the run fails.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

VERSION = 2  # bump when a field changes meaning or goes away (new fields do not need it)

METRIC_KEYS = ("mAP", "AP50", "AP75", "number_accuracy", "score_thresh")


@dataclass
class Event:
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "v": VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)


STAGES = {  # what each stage of preparing a fine-tuning run is called on screen
    "choose": "choosing the starting model",
    "place": "placing the typed numbers",
    "place_again": "placing the left-out photos again",
}


@dataclass
class StageEvent(Event):
    """Work on the user's photos outside the training epochs, photo by photo: ``choose`` (the
    candidate starting models read them), ``place`` (typed numbers laid on the starting model's
    detections), ``place_again`` (the first round's model places the photos left out)."""

    kind: ClassVar[str] = "stage"
    stage: str
    done: int
    total: int

    @property
    def title(self) -> str:
        return STAGES.get(self.stage, self.stage)

    def describe(self) -> str:
        return f"{self.title}: {self.done}/{self.total} photos read"


@dataclass
class StartEvent(Event):
    kind: ClassVar[str] = "start"
    images: int
    val_images: int
    epochs: int
    batch_size: int
    lr: float
    device: str
    preset: str
    world_size: int = 1
    frozen_bn_stats: bool = False
    start_epoch: int = 0
    compare_images: int = 0
    warnings: list[str] = field(default_factory=list)
    start_model: str = ""  # fine-tuning: the model the run starts from ...
    start_note: str = ""  # ... and why (trainer.finetune.choose_start)


@dataclass
class ProgressEvent(Event):
    kind: ClassVar[str] = "progress"
    epoch: int  # 1-based
    epochs: int
    iter: int  # 1-based, within the epoch
    iters: int
    step: int  # optimizer steps since the run began
    loss: float
    lr: float
    images_per_second: float = 0.0
    eta_seconds: float | None = None
    losses: dict[str, float] = field(default_factory=dict)


@dataclass
class EpochEvent(Event):
    """One row of ``metrics.csv``; the validation metrics are None without a validation set."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    loss: float
    lr: float
    skipped_steps: int = 0
    seconds: float = 0.0
    images_per_second: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)
    mAP: float | None = None
    AP50: float | None = None
    AP75: float | None = None
    number_accuracy: float | None = None
    score_thresh: float | None = None
    best_mAP: float | None = None


@dataclass
class TunedEvent(Event):
    """The input size and score threshold chosen on the validation images after training."""

    kind: ClassVar[str] = "tuned"
    min_size: int
    score_thresh: float
    tried: list[dict] = field(default_factory=list)


@dataclass
class CompareEvent(Event):
    """The starting model and the new one on the same images, each at its own threshold.

    The images are the comparison set, kept apart from the validation images that chose
    ``best.pt``, the input size and the threshold.
    """

    kind: ClassVar[str] = "compare"
    images: int
    old: dict[str, float]
    new: dict[str, float]
    old_model: str = ""


@dataclass
class DoneEvent(Event):
    kind: ClassVar[str] = "done"
    status: ClassVar[str] = "done"
    run_dir: str
    best: str
    epoch: int = 0
    best_mAP: float = -1.0
    score_thresh: float = 0.5
    time_budget_reached: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)  # the last epoch's row


@dataclass
class StoppedEvent(Event):
    """Stopped on request (Ctrl+C, SIGTERM, the app's Cancel); ``last.pt`` is saved."""

    kind: ClassVar[str] = "stopped"
    status: ClassVar[str] = "stopped"
    run_dir: str
    reason: str
    epoch: int  # the epoch it stopped in (1-based)
    checkpoint: str
    best: str | None = None  # best.pt when an epoch had ended before the stop


@dataclass
class ErrorEvent(Event):
    kind: ClassVar[str] = "error"
    message: str


EVENTS: dict[str, type[Event]] = {
    c.kind: c
    for c in (
        StageEvent,
        StartEvent,
        ProgressEvent,
        EpochEvent,
        TunedEvent,
        CompareEvent,
        DoneEvent,
        StoppedEvent,
        ErrorEvent,
    )
}


class ProtocolError(ValueError):
    """A line that is not an event of this protocol version."""


def parse_event(data: dict | str) -> Event:
    """An event from its dict or JSON line; unknown extra fields are ignored (newer engines)."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("event") not in EVENTS:
        raise ProtocolError(f"not an event: {str(data)[:200]}")
    if data.get("v") != VERSION:
        raise ProtocolError(f"event protocol version {data.get('v')!r}, expected {VERSION}")
    cls = EVENTS[data["event"]]
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError as exc:
        raise ProtocolError(f"malformed {data['event']} event: {exc}") from None
