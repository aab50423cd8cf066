"""The steps ``fit`` is made of: one training epoch, validation, and the DDP agreements between.

As in torchvision's detection references (``train_one_epoch`` / ``evaluate``): each step takes
the run's state explicitly and returns what it measured; ``fit`` composes them and saves.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from .data import Record
from .errors import TrainingError
from .evaluate import evaluate_results
from .events import ProgressEvent
from .predict import Predictor

log = logging.getLogger(__name__)

LOSS_KEYS = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")


class Stopper:
    """Set by signal handlers (or the app's cancel) and checked every iteration.

    Under DDP every rank checks the flags of all ranks together (:func:`agree_any`), so a
    signal that reaches one rank stops them all at the same iteration.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def stop(self, reason: str = "interrupted") -> None:
        self.reason = reason


@dataclass
class Run:
    """What the steps share: the model and its optimisation state, and where they run."""

    model: torch.nn.Module  # DDP-wrapped under torchrun
    core: torch.nn.Module  # the detector itself
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    sched_unit: str  # "iter" or "epoch"
    scaler: torch.amp.GradScaler
    device: torch.device
    rank: int = 0
    world: int = 1
    freeze_bn: bool = False
    clip_norm: float = 10.0
    max_bad_steps: int = 20
    log_every: int = 10
    budget: float | None = None  # seconds
    t_start: float = field(default_factory=time.perf_counter)
    global_step: int = 0
    steps_this_run: int = 0
    bad_in_a_row: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def use_amp(self) -> bool:
        return self.device.type == "cuda"

    @property
    def params(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def time_frac(self) -> float:
        return (time.perf_counter() - self.t_start) / self.budget if self.budget else 0.0


@dataclass
class EpochResult:
    sums: dict[str, float]
    steps: int
    skipped: int
    seen: int
    seconds: float
    stopped: bool = False
    out_of_time: bool = False

    def row(self, epoch: int, lr: float) -> dict:
        """The epoch's row of ``metrics.csv`` (validation metrics are added by the caller)."""
        return {
            "epoch": epoch,
            **{k: v / max(1, self.steps) for k, v in self.sums.items()},
            "lr": lr,
            "skipped_steps": self.skipped,
            "seconds": round(self.seconds, 2),
            "images_per_second": round(self.seen / max(self.seconds, 1e-9), 2),
        }


def train_one_epoch(
    run: Run,
    loader,
    epoch: int,
    epochs: int,
    stopper: Stopper,
    emit: Callable,
    out_dir: str = "",
) -> EpochResult:
    """One pass over ``loader`` (``epoch`` is 0-based). Ends early, on every rank at once, when a
    stop is asked anywhere or the time budget runs out; raises after too many bad steps."""
    model, opt = run.model, run.opt
    model.train()
    if run.freeze_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    t_epoch = time.perf_counter()
    res = EpochResult({k: 0.0 for k in ("loss", *LOSS_KEYS)}, 0, 0, 0, 0.0)
    iters = len(loader)
    for it, (images, targets) in _batches(loader, stopper):
        over = bool(run.budget) and time.perf_counter() - run.t_start >= run.budget
        stop, over = agree_any((stopper.reason is not None, over), run)
        if stop:
            stopper.reason = stopper.reason or "stopped on another rank"
            res.stopped = True
            break
        if over:
            res.out_of_time = True  # finish this epoch early: validate and save as usual
            break
        images = [im.to(run.device, non_blocking=True) for im in images]
        targets = [{k: v.to(run.device) for k, v in t.items()} for t in targets]
        with torch.autocast(run.device.type, dtype=torch.float16, enabled=run.use_amp):
            losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        if not agree_all(bool(torch.isfinite(loss)), run):  # every rank skips together, or DDP hangs
            res.skipped += 1
            run.bad_in_a_row += 1
            log.warning("non-finite loss at epoch %d iter %d; step skipped", epoch + 1, it + 1)
            if run.bad_in_a_row >= run.max_bad_steps:
                raise TrainingError(
                    f"{run.bad_in_a_row} non-finite losses in a row (epoch {epoch + 1}); "
                    f"stopped. The last good checkpoint is kept in {out_dir}. Try a lower --lr."
                )
            continue
        run.bad_in_a_row = 0
        _step(run, loss)
        res.steps += 1
        res.seen += len(images) * run.world
        res.sums["loss"] += float(loss.detach())
        for k in LOSS_KEYS:
            res.sums[k] += float(losses[k].detach()) if k in losses else 0.0
        if run.main and ((it + 1) % run.log_every == 0 or it + 1 == iters):
            elapsed = time.perf_counter() - run.t_start
            rate = run.steps_this_run / elapsed if elapsed > 0 else 0.0
            remaining = (epochs - epoch) * iters - (it + 1)
            emit(
                ProgressEvent(
                    epoch=epoch + 1,
                    epochs=epochs,
                    iter=it + 1,
                    iters=iters,
                    step=run.global_step,
                    loss=float(loss.detach()),
                    lr=opt.param_groups[0]["lr"],
                    images_per_second=res.seen / max(1e-9, time.perf_counter() - t_epoch),
                    eta_seconds=remaining / rate if rate > 0 else None,
                    losses={k: float(losses[k].detach()) for k in LOSS_KEYS if k in losses},
                )
            )
    res.seconds = time.perf_counter() - t_epoch
    return res


def _step(run: Run, loss: torch.Tensor) -> None:
    run.scaler.scale(loss).backward()
    run.scaler.unscale_(run.opt)
    torch.nn.utils.clip_grad_norm_(run.params, run.clip_norm)
    run.scaler.step(run.opt)
    run.scaler.update()
    if run.sched_unit == "iter":
        run.sched.step()
    run.global_step += 1
    run.steps_this_run += 1


def validate(run: Run, cfg: dict, records: list[Record], score_thresh: float) -> dict:
    """Score the model on ``records`` (rank 0), tuning the number-reading threshold."""
    run.model.eval()
    pred = Predictor.from_model(run.core, cfg, run.device, score_thresh)
    results = list(pred.predict_paths([r.path for r in records]))
    m = evaluate_results(records, results, None)
    return {k: m[k] for k in ("mAP", "AP50", "AP75", "number_accuracy", "score_thresh")}


OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "step")
SGD_MOMENTUM = 0.9
SGD_WEIGHT_DECAY = 1e-4  # the preset's AdamW decay (decoupled, 0.05) would be far too strong for SGD
STEP_MILESTONES = (0.6, 0.85)  # "step": the rate falls tenfold at these shares of the run
STEP_GAMMA = 0.1
# With a time budget the warm-up also ends once this share of the budget has passed: the
# preset's warm-up is counted in iterations for long runs, and a fine-tuning round of a few
# minutes on a CPU would otherwise spend most of its time warming up (then fall straight to the
# end of the cosine, its budget nearly spent).
WARMUP_BUDGET_SHARE = 0.05


def make_optimizer(params, name: str, lr: float, cfg: dict) -> torch.optim.Optimizer:
    """AdamW with the preset's weight decay, or SGD with momentum (the lab report's other recipe)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, weight_decay=SGD_WEIGHT_DECAY)
    if name != "adamw":
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return torch.optim.AdamW(params, lr=lr, weight_decay=cfg["optimizer"]["weight_decay"], eps=1e-8)


def schedule_for(name: str, preset_schedule: dict) -> dict:
    """The schedule section for ``name``: "cosine" (warm-up, then cosine to ``eta_min``) or
    "step" (warm-up, then the rate times 0.1 at 60% and 85% of the run, like StepLR)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    warm = int(preset_schedule.get("warmup_iters", 0))
    eta = float(preset_schedule.get("eta_min", 0.0))
    if name == "step":
        return {
            "kind": "step",
            "warmup_iters": warm,
            "milestones": list(STEP_MILESTONES),
            "gamma": STEP_GAMMA,
        }
    return {"kind": "warmup_cosine", "warmup_iters": warm, "eta_min": eta}


def make_scheduler(opt, cfg: dict, epochs: int, iters_per_epoch: int, time_frac=None):
    sch = cfg["schedule"]
    if sch["kind"] == "seed_cosine":  # the lab's: per-epoch cosine with T_max = 60% of the epochs
        t_max = max(1, int(epochs * sch.get("t_max_frac", 0.6)))
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=sch["eta_min"]), "epoch"
    total = max(1, epochs * iters_per_epoch)
    warm = min(sch.get("warmup_iters", 0), total // 4)
    floor = sch.get("eta_min", 0.0) / opt.param_groups[0]["lr"]

    step_kind = sch["kind"] == "step"

    def factor(step: int) -> float:
        if step < warm:
            w = (step + 1) / warm
            if time_frac is not None:  # warm-up ends at whichever comes first, its steps or its time
                w = max(w, time_frac() / WARMUP_BUDGET_SHARE)
            if w < 1:
                return w
        p = max(0, step - warm) / max(1, total - warm)
        if time_frac is not None:  # with a time budget, progress is whichever runs out first
            p = max(p, time_frac())
        if step_kind:
            return float(sch.get("gamma", STEP_GAMMA)) ** sum(p >= m for m in sch["milestones"])
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor), "iter"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- DDP


def agree_any(flags: tuple[bool, ...], run: Run) -> tuple[bool, ...]:
    """Each flag, true when it holds on any rank (one all-reduce for all of them)."""
    if not run.distributed:
        return tuple(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=run.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in t.tolist())


def agree_all(flag: bool, run: Run) -> bool:
    """True when ``flag`` holds on every rank."""
    if not run.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=run.device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item() > 0)


def _batches(loader, stopper: Stopper):
    """enumerate(loader), ending quietly when a stop signal also took the loader workers down."""
    it = iter(loader)
    i = 0
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except RuntimeError:
            if stopper.reason:
                return
            raise
        yield i, batch
        i += 1
