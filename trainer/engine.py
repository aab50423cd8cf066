"""fit(): a training run composed of small steps (see :mod:`trainer.loop`), with its files.

A run: set up (device, DDP, model, data), then per epoch ``train_one_epoch``, ``validate`` and
save (``best.pt``, ``last.pt``, a row of ``metrics.csv``); after the last epoch, calibration
(input size and threshold, :mod:`trainer.calibrate`) and the comparison of the starting model
with the new one. Every step reports through one typed event (:mod:`trainer.events`).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from .calibrate import compare_models, tune_input_size
from .data import Record, split_holdout  # noqa: F401 - split_holdout: part of this module's API
from .ddp import cleanup, dist_info, init_device
from .errors import CheckpointError, TrainingError
from .events import DoneEvent, EpochEvent, ErrorEvent, Event, StartEvent, StoppedEvent
from .fileio import atomic_write_json
from .loop import (
    LOSS_KEYS,
    Run,
    Stopper,
    make_optimizer,
    make_scheduler,
    schedule_for,
    seed_everything,
    train_one_epoch,
    validate,
)
from .model import build_detector, load_detector, read_checkpoint, save_checkpoint, warm_start
from .presets import get_preset
from .train_data import SYNTHETIC_FIRST_ID, TrainDataset, load_training_records, make_loader, records_of

log = logging.getLogger(__name__)

METRIC_FIELDS = (
    "epoch",
    "loss",
    *LOSS_KEYS,
    "lr",
    "mAP",
    "AP50",
    "AP75",
    "number_accuracy",
    "score_thresh",
    "skipped_steps",
    "seconds",
    "images_per_second",
)
BEST_KEYS = ("mAP", "AP50", "AP75", "number_accuracy")


@dataclass
class TrainConfig:
    """Everything a run needs; written to ``RUN_DIR/config.json``."""

    train: list[tuple[str, str]]  # (images dir, COCO json) pairs
    out: str
    repeat: list[int] = field(default_factory=list)  # per pair: times each photo is seen per epoch
    preset: str = "default"
    val: tuple[str, str] | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    device: str = "auto"
    init: str | None = None
    backbone_weights: str | None = None
    synthetic: int = 0
    resume: bool = False
    seed: int = 0
    workers: int | None = None
    log_every: int = 10
    max_bad_steps: int = 20
    max_seconds: float | None = None  # wall-clock budget: the LR schedule anneals over it
    clip_norm: float = 10.0
    holdout: float = 0.0  # share of the training photos held out for validation (stable by id)
    validate: bool = True  # False: keep the holdout out of training but skip scoring it
    compare_with: str | None = None  # after training, score this model and the new one ...
    compare: tuple[str, str] | None = None  # ... on these images (default: the validation set)
    overrides: dict = field(default_factory=dict)
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9), the lab report's other recipe
    schedule: str | None = None  # "cosine" or "step"; None: the preset's own
    # Keep the BatchNorm running statistics of the starting model; None: only when warm-started
    # with batches under 8 images (see _make_run)
    freeze_bn: bool | None = None


def fit(
    tc: TrainConfig, on_event: Callable[[Event], None] | None = None, stopper: Stopper | None = None
) -> DoneEvent | StoppedEvent:
    """Train a detector. Returns the final event; raises :class:`TrainingError` on failure.

    Every event goes to ``on_event`` once (rank 0's only); a failure is reported as an
    :class:`~trainer.events.ErrorEvent` before the exception propagates.
    """
    emit = on_event or (lambda e: None)
    rank, world, local_rank = dist_info()
    if rank != 0:  # one stream of events: rank 0's (other ranks' failures still raise)
        emit = lambda e: None  # noqa: E731
    try:
        return _fit(tc, emit, stopper or Stopper(), rank, world, local_rank)
    except Exception as exc:
        msg = str(exc) if isinstance(exc, TrainingError | CheckpointError) else f"{type(exc).__name__}: {exc}"
        emit(ErrorEvent(message=msg))
        raise
    finally:
        cleanup(world > 1)


def _fit(tc: TrainConfig, emit, stopper: Stopper, rank: int, world: int, local_rank: int):
    session = _Session(tc, emit, stopper, rank, world, local_rank)
    session.start()
    stopped = session.train_epochs()
    return stopped if stopped is not None else session.finish()


class _Session:
    """One run of :func:`fit`: set up (config, model, data, optimisation state, resume), then the
    epochs, then calibration and the comparison. Attributes are the state the steps share."""

    def __init__(self, tc: TrainConfig, emit, stopper: Stopper, rank: int, world: int, local_rank: int):
        self.tc, self.emit, self.stopper, self.rank, self.world = tc, emit, stopper, rank, world
        self.device = init_device(tc.device, world, local_rank)
        self.run_dir = run_dir = Path(tc.out)
        if rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
        blob = read_checkpoint(run_dir / "last.pt") if tc.resume and (run_dir / "last.pt").is_file() else None
        self.resumed = blob is not None
        self.cfg = cfg = self._model_config(blob)
        self.epochs = tc.epochs or cfg["epochs"]
        self.batch_size = tc.batch_size or cfg["batch_size"]
        self.lr = tc.lr or cfg["optimizer"]["lr"]
        seed_everything(tc.seed + rank)
        self.model = _build_model(tc, cfg, blob, self.device)

        self.records, self.val_records, self.warnings = _training_sets(tc, run_dir, rank)
        self.compare_records = records_of(tc.compare) if tc.compare else self.val_records
        self.ds = TrainDataset(self.records, cfg, cfg.get("augment", False), tc.seed)
        self.loader, self.sampler = make_loader(self.ds, self.batch_size, tc.workers, tc.seed, rank, world)
        self.run = self._make_run()
        self.start_epoch, self.best_map = 0, -1.0
        self.score_thresh = float(cfg.get("score_thresh", 0.5))
        if blob is not None:
            self._resume(blob)
        if self.run.distributed:
            # some detector parameters get no gradient on a step (e.g. FPN levels a preset does not
            # read, or a box head when a batch samples no positives), so DDP must look for them
            device = self.device
            self.run.model = torch.nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=True,
            )
        self.metrics_path = run_dir / "metrics.csv"
        self.meta: dict = {}
        self.last_row: dict = {}
        self.out_of_time = False

    def _model_config(self, blob: dict | None) -> dict:
        """The resumed run's model config, else the preset with the run's overrides."""
        if blob is not None:
            return blob["config"]
        cfg = get_preset(self.tc.preset)
        for key, value in self.tc.overrides.items():  # a dict value replaces only the keys it names
            cfg[key] = {**cfg[key], **value} if isinstance(cfg.get(key), dict) else value
        return cfg

    def _make_run(self) -> Run:
        tc, cfg, model = self.tc, self.cfg, self.model
        opt = make_optimizer([p for p in model.parameters() if p.requires_grad], tc.optimizer, self.lr, cfg)
        if tc.schedule and not self.resumed:
            cfg["schedule"] = schedule_for(tc.schedule, cfg["schedule"])
        run = Run(
            model=model,
            core=model,
            opt=opt,
            sched=None,  # set below: its time budget reads the run's clock
            sched_unit="iter",
            scaler=torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda"),
            device=self.device,
            rank=self.rank,
            world=self.world,
            # Fine-tuning with small batches: batch statistics of a few images (padded to one size)
            # swing wildly, and one odd batch can spike the loss 30x. Keep the running statistics of
            # the model we start from; the BatchNorm scales and shifts still train.
            freeze_bn=tc.freeze_bn if tc.freeze_bn is not None else bool(tc.init) and self.batch_size < 8,
            clip_norm=tc.clip_norm,
            max_bad_steps=tc.max_bad_steps,
            log_every=tc.log_every,
            budget=tc.max_seconds,
            t_start=time.perf_counter(),
        )
        run.sched, run.sched_unit = make_scheduler(
            opt, cfg, self.epochs, len(self.loader), run.time_frac if run.budget else None
        )
        return run

    def _resume(self, blob: dict) -> None:
        run = self.run
        self.model.load_state_dict(blob["model"])
        run.opt.load_state_dict(blob["optimizer"])
        run.sched.load_state_dict(blob["scheduler"])
        if "scaler" in blob and run.use_amp:
            run.scaler.load_state_dict(blob["scaler"])
        self.start_epoch = int(blob["epoch"])
        self.best_map = float(blob.get("best_map", -1.0))
        run.global_step = int(blob.get("global_step", 0))
        self.score_thresh = float(blob.get("score_thresh", self.score_thresh))

    def start(self) -> None:
        """Report the run (:class:`StartEvent`); rank 0 writes ``config.json`` and the CSV header."""
        tc, run = self.tc, self.run
        start = StartEvent(
            images=len({id(r) for r in self.records}),  # photos, each counted once however often repeated
            val_images=len(self.val_records),
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            device=str(self.device),
            preset=self.cfg["preset"],
            world_size=self.world,
            frozen_bn_stats=run.freeze_bn,
            start_epoch=self.start_epoch,
            compare_images=len(self.compare_records) if tc.compare_with else 0,
            warnings=self.warnings[:50],
        )
        self.meta = {k: v for k, v in asdict(start).items() if k not in ("start_epoch", "warnings")}
        if run.main:
            atomic_write_json(
                self.run_dir / "config.json",
                {"train_config": asdict(tc), "model_config": self.cfg, **self.meta},
            )
            if not self.metrics_path.is_file() or not self.resumed:
                with self.metrics_path.open("w", newline="") as f:
                    csv.writer(f).writerow(METRIC_FIELDS)
        self.emit(start)

    def _state(self, epoch_next: int) -> dict:
        """What ``last.pt`` holds besides the model, to resume before epoch ``epoch_next``."""
        run = self.run
        return {
            "optimizer": run.opt.state_dict(),
            "scheduler": run.sched.state_dict(),
            "scaler": run.scaler.state_dict(),
            "epoch": epoch_next,
            "best_map": self.best_map,
            "global_step": run.global_step,
            "score_thresh": self.score_thresh,
            "meta": self.meta,
        }

    def train_epochs(self) -> StoppedEvent | None:
        """Train, validate and save each epoch; a :class:`StoppedEvent` when the stopper ended it."""
        run, run_dir = self.run, self.run_dir
        for epoch in range(self.start_epoch, self.epochs):
            self.ds.epoch = epoch
            if self.sampler is not None:
                self.sampler.set_epoch(epoch)
            res = train_one_epoch(run, self.loader, epoch, self.epochs, self.stopper, self.emit, str(run_dir))
            if res.stopped:
                if run.main:
                    save_checkpoint(run_dir / "last.pt", self.model, self.cfg, **self._state(epoch))
                best = run_dir / "best.pt"
                return _emit(
                    self.emit,
                    StoppedEvent(
                        run_dir=str(run_dir),
                        reason=self.stopper.reason or "interrupted",
                        epoch=epoch + 1,
                        checkpoint=str(run_dir / "last.pt"),
                        best=str(best) if best.is_file() else None,
                    ),
                )
            self.out_of_time = res.out_of_time
            if res.out_of_time and res.steps == 0 and epoch > self.start_epoch:
                break  # the budget ran out as this epoch began: it trained nothing, so it is no epoch
            if run.sched_unit == "epoch":
                run.sched.step()
            if run.main:
                self._end_epoch(res.row(epoch + 1, run.opt.param_groups[0]["lr"]))
            if run.distributed:
                dist.barrier()
            if self.out_of_time:
                break
        return None

    def _end_epoch(self, row: dict) -> None:
        """Rank 0: validate, save ``best.pt`` and ``last.pt``, add the CSV row, report the epoch."""
        tc, run_dir, epoch = self.tc, self.run_dir, row["epoch"]
        scored = bool(self.val_records) and tc.validate
        if scored:
            row.update(validate(self.run, self.cfg, self.val_records, self.score_thresh))
        if not scored or row["mAP"] > self.best_map:
            self.best_map = row.get("mAP", 0.0)
            self.score_thresh = row.get("score_thresh", self.score_thresh)
            save_checkpoint(
                run_dir / "best.pt",
                self.model,
                self.cfg,
                score_thresh=self.score_thresh,
                metrics={k: row.get(k) for k in BEST_KEYS},
                meta=self.meta,
                epoch=epoch,
            )
        save_checkpoint(run_dir / "last.pt", self.model, self.cfg, **self._state(epoch))
        with self.metrics_path.open("a", newline="") as f:
            csv.writer(f).writerow([_fmt(row.get(k, "")) for k in METRIC_FIELDS])
        self.last_row = row
        self.emit(_epoch_event(row, self.best_map))

    def finish(self) -> DoneEvent:
        """Tune the input size and threshold, compare with the starting model, report the end."""
        tc, run_dir, device = self.tc, self.run_dir, self.device
        best = run_dir / "best.pt"
        main = self.run.main
        if main and self.val_records and tc.validate and self.cfg.get("test_sizes") and best.is_file():
            tuned = tune_input_size(best, self.val_records, device, self.cfg["test_sizes"])
            self.score_thresh = tuned.score_thresh
            self.emit(tuned)
        if main and tc.compare_with and self.compare_records and best.is_file():
            self.emit(compare_models(tc.compare_with, str(best), self.compare_records, str(device)))
        return _emit(
            self.emit,
            DoneEvent(
                run_dir=str(run_dir),
                best=str(best),
                epoch=int(self.last_row.get("epoch", self.start_epoch)),
                best_mAP=self.best_map,
                score_thresh=self.score_thresh,
                time_budget_reached=self.out_of_time,
                metrics=self.last_row,
            ),
        )


def _emit(emit, ev: Event) -> Event:
    emit(ev)
    return ev


def _build_model(tc: TrainConfig, cfg: dict, resume_blob: dict | None, device: torch.device):
    init_model = None
    if tc.init and resume_blob is None:
        init_model, init_cfg, _ = load_detector(tc.init)
        if init_cfg.get("arch") != cfg.get("arch") or init_cfg.get("preset") != cfg.get("preset"):
            raise CheckpointError(
                f"--init {tc.init} holds a '{init_cfg.get('preset')}' model; this run trains "
                f"'{cfg.get('preset')}'"
            )
        if init_cfg.get("text_class"):  # a model that knows text keeps knowing it
            cfg["text_class"] = True
    model = build_detector(cfg, tc.backbone_weights if resume_blob is None else None)
    if init_model is not None:
        warm_start(model, init_model)
    return model.to(device)


def _training_sets(tc: TrainConfig, run_dir: Path, rank: int) -> tuple[list[Record], list[Record], list[str]]:
    """Training and validation records; ``holdout`` moves a stable share of the real photos."""
    records, warnings = load_training_records(tc.train, tc.synthetic, tc.seed, run_dir, rank, tc.repeat)
    val_records = records_of(tc.val)
    if tc.holdout > 0:
        real = [r for r in records if r.image_id < SYNTHETIC_FIRST_ID]
        syn = [r for r in records if r.image_id >= SYNTHETIC_FIRST_ID]
        real, hold = split_holdout(real, tc.holdout)
        hold = list({id(r): r for r in hold}.values())  # a repeated photo is scored once
        records, val_records = real + syn, val_records + hold
    if not records:
        raise TrainingError("no training images")
    return records, val_records, warnings


def _epoch_event(row: dict, best_map: float) -> EpochEvent:
    return EpochEvent(
        epoch=row["epoch"],
        loss=row["loss"],
        lr=row["lr"],
        skipped_steps=row["skipped_steps"],
        seconds=row["seconds"],
        images_per_second=row["images_per_second"],
        losses={k: row[k] for k in LOSS_KEYS},
        mAP=row.get("mAP"),
        AP50=row.get("AP50"),
        AP75=row.get("AP75"),
        number_accuracy=row.get("number_accuracy"),
        score_thresh=row.get("score_thresh"),
        best_mAP=best_map,
    )


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v
