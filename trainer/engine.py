"""fit(): the training loop (AMP, clipping, non-finite guard, cancel, resume, DDP, callbacks)."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .data import Record, load_coco, read_image_or_raise, split_holdout  # noqa: F401
from .errors import CheckpointError, TrainingError
from .evaluate import evaluate_results
from .formats import load_annotations
from .model import build_detector, load_detector, read_checkpoint, save_checkpoint
from .predict import Predictor, pick_device
from .presets import get_preset
from .transforms import Augment, compose_strips, digit_strips, resize

log = logging.getLogger(__name__)

LOSS_KEYS = ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
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


@dataclass
class TrainConfig:
    """Everything a run needs; written to ``RUN_DIR/config.json``."""

    train: list[tuple[str, str]]  # (images dir, COCO json) pairs
    out: str
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
    overrides: dict = field(default_factory=dict)


class TrainDataset(Dataset):
    def __init__(self, records: list[Record], cfg: dict, augment: bool, seed: int) -> None:
        self.records, self.cfg, self.augment, self.seed = records, cfg, augment, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def _read(self, rec: Record):
        img = read_image_or_raise(rec.path)
        boxes = rec.boxes.copy()
        w, h = img.size
        if len(boxes):
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        return img, boxes, rec.labels.copy()

    def _recomposed(self, rng: random.Random):
        """A new number joined from one-digit slices of random training photos (None if none found)."""
        want = rng.choices((1, 2, 3, 4, 5), weights=(15, 40, 30, 12, 3))[0]
        strips = []
        for _ in range(4 * want):
            if len(strips) == want:
                break
            rec = self.records[rng.randrange(len(self.records))]
            if len(rec.labels) == 0:
                continue
            found = digit_strips(*self._read(rec), rng)
            if found:
                strips.append(rng.choice(found))
        return compose_strips(strips, rng) if strips else None

    def __getitem__(self, i: int):
        rng = random.Random(hash((self.seed, self.epoch, i)))
        composed = None
        if self.augment and rng.random() < float(self.cfg.get("recompose", 0.0)):
            composed = self._recomposed(rng)
        img, boxes, labels = composed or self._read(self.records[i])
        min_size = None
        if self.augment:
            stretch = self.cfg.get("stretch")
            img, boxes = Augment(rng, stretch=tuple(stretch) if stretch else None)(img, boxes)
            if self.cfg.get("min_size_jitter"):
                min_size = rng.choice(self.cfg["min_size_jitter"])
        img, boxes, _ = resize(img, boxes, self.cfg["resize"], min_size)
        keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
        t = torch.from_numpy(np.asarray(img, np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
        target = {
            "boxes": torch.from_numpy(boxes[keep].astype(np.float32)).reshape(-1, 4),
            "labels": torch.from_numpy(labels[keep].astype(np.int64)),
        }
        return t, target


def _collate(batch):
    return tuple(zip(*batch))


def _dist_info() -> tuple[int, int, int]:
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), ws, int(os.environ.get("LOCAL_RANK", "0"))


def _make_scheduler(opt, cfg: dict, epochs: int, iters_per_epoch: int, time_frac=None):
    sch = cfg["schedule"]
    if sch["kind"] == "seed_cosine":  # the lab's: per-epoch cosine with T_max = 60% of the epochs
        t_max = max(1, int(epochs * sch.get("t_max_frac", 0.6)))
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=sch["eta_min"]), "epoch"
    total = max(1, epochs * iters_per_epoch)
    warm = min(sch.get("warmup_iters", 0), total // 4)
    floor = sch.get("eta_min", 0.0) / opt.param_groups[0]["lr"]

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, total - warm)
        if time_frac is not None:  # with a time budget, progress is whichever runs out first
            p = max(p, time_frac())
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor), "iter"


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _load_training_records(tc: TrainConfig, run_dir: Path, rank: int) -> tuple[list[Record], list[str]]:
    records: list[Record] = []
    warnings: list[str] = []
    pairs = list(tc.train)
    if tc.synthetic > 0:
        from .synth import make_dataset

        syn = run_dir / "synthetic"
        ann = syn / "annotations.json"
        if rank == 0 and not ann.is_file():
            make_dataset(syn, tc.synthetic, seed=tc.seed + 7919, start_id=10_000_000)
        if dist.is_initialized():
            dist.barrier()
        pairs.append((str(syn / "images"), str(ann)))
    for images, ann in pairs:
        coco = load_annotations(ann, images)  # COCO json, or a folder of VOC/YOLO/labelme files
        records += coco.records
        warnings += coco.all_warnings()
    return records, warnings


class _Stopper:
    """Set by signal handlers (or the app's cancel) and checked every iteration."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def stop(self, reason: str = "interrupted") -> None:
        self.reason = reason


def fit(
    tc: TrainConfig, on_event: Callable[[dict], None] | None = None, stopper: _Stopper | None = None
) -> dict:
    """Train a detector. Returns a summary dict; raises :class:`TrainingError` on failure."""
    emit = on_event or (lambda e: None)
    stopper = stopper or _Stopper()
    rank, world, local_rank = _dist_info()
    distributed = world > 1
    device = pick_device(tc.device)
    if distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
    main = rank == 0
    if not main:  # one stream of events: rank 0's (other ranks' failures still raise)
        emit = lambda e: None  # noqa: E731
    run_dir = Path(tc.out)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)

    # ---- config and model
    resume_blob = None
    if tc.resume and (run_dir / "last.pt").is_file():
        resume_blob = read_checkpoint(run_dir / "last.pt")
        cfg = resume_blob["config"]
    else:
        cfg = get_preset(tc.preset)
        cfg.update(tc.overrides)
    epochs = tc.epochs or cfg["epochs"]
    batch_size = tc.batch_size or cfg["batch_size"]
    lr = tc.lr or cfg["optimizer"]["lr"]
    # Fine-tuning with small batches: batch statistics of a few images (padded to one size)
    # swing wildly, and one odd batch can spike the loss 30x. Keep the running statistics of
    # the model we start from; the BatchNorm scales and shifts still train.
    freeze_bn = bool(tc.init) and batch_size < 8
    _seed_everything(tc.seed + rank)

    model = build_detector(cfg, tc.backbone_weights if resume_blob is None else None)
    if tc.init and resume_blob is None:
        init_model, init_cfg, _ = load_detector(tc.init)
        if init_cfg.get("arch") != cfg.get("arch") or init_cfg.get("preset") != cfg.get("preset"):
            raise CheckpointError(
                f"--init {tc.init} holds a '{init_cfg.get('preset')}' model; this run trains "
                f"'{cfg.get('preset')}'"
            )
        model.load_state_dict(init_model.state_dict())
    model.to(device)

    # ---- data
    records, warnings = _load_training_records(tc, run_dir, rank)
    val_records: list[Record] = []
    if tc.val:
        val_records = load_annotations(tc.val[1], tc.val[0]).records
    if tc.holdout > 0:
        real = [r for r in records if r.image_id < 10_000_000]
        syn = [r for r in records if r.image_id >= 10_000_000]
        real, hold = split_holdout(real, tc.holdout)
        records, val_records = real + syn, val_records + hold
    if not records:
        raise TrainingError("no training images")
    ds = TrainDataset(records, cfg, cfg.get("augment", False), tc.seed)
    sampler = DistributedSampler(ds, world, rank, shuffle=True, seed=tc.seed) if distributed else None
    workers = tc.workers if tc.workers is not None else min(2, os.cpu_count() or 1)
    gen = torch.Generator().manual_seed(tc.seed)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=_collate,
        drop_last=len(ds) > batch_size,
        generator=gen,
        persistent_workers=False,
        worker_init_fn=_quiet_worker,
    )

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=cfg["optimizer"]["weight_decay"], eps=1e-8)
    t_run = time.perf_counter()
    budget = tc.max_seconds

    def time_frac() -> float:
        return (time.perf_counter() - t_run) / budget

    sched, sched_unit = _make_scheduler(opt, cfg, epochs, len(loader), time_frac if budget else None)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    start_epoch, best_map, global_step = 0, -1.0, 0
    score_thresh = float(cfg.get("score_thresh", 0.5))
    if resume_blob is not None:
        model.load_state_dict(resume_blob["model"])
        opt.load_state_dict(resume_blob["optimizer"])
        sched.load_state_dict(resume_blob["scheduler"])
        if "scaler" in resume_blob and use_amp:
            scaler.load_state_dict(resume_blob["scaler"])
        start_epoch = int(resume_blob["epoch"])
        best_map = float(resume_blob.get("best_map", -1.0))
        global_step = int(resume_blob.get("global_step", 0))
        score_thresh = float(resume_blob.get("score_thresh", score_thresh))

    if distributed:
        # some detector parameters get no gradient on a step (e.g. FPN levels a preset does not
        # read, or a box head when a batch samples no positives), so DDP must look for them
        model = torch.nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )
    core = getattr(model, "module", model)

    meta = {
        "images": len(records),
        "val_images": len(val_records),
        "epochs": epochs,
        "batch_size": batch_size,
        "frozen_bn_stats": freeze_bn,
        "lr": lr,
        "device": str(device),
        "world_size": world,
        "preset": cfg["preset"],
    }
    if main:
        cfg_out = {"train_config": asdict(tc), "model_config": cfg, **meta}
        (run_dir / "config.json").write_text(json.dumps(cfg_out, indent=2))
    emit({"event": "start", **meta, "start_epoch": start_epoch, "warnings": warnings[:50]})

    def state(epoch_next: int) -> dict:
        return {
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "epoch": epoch_next,
            "best_map": best_map,
            "global_step": global_step,
            "score_thresh": score_thresh,
            "meta": meta,
        }

    metrics_path = run_dir / "metrics.csv"
    if main and (not metrics_path.is_file() or resume_blob is None):
        with metrics_path.open("w", newline="") as f:
            csv.writer(f).writerow(METRIC_FIELDS)

    bad_in_a_row, last_metrics = 0, {}
    iters = len(loader)
    steps_done_run = 0
    out_of_time = False
    for epoch in range(start_epoch, epochs):
        ds.epoch = epoch
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        if freeze_bn:
            for m in model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        t_epoch = time.perf_counter()
        sums = {k: 0.0 for k in ("loss", *LOSS_KEYS)}
        n_ok, skipped, seen = 0, 0, 0
        for it, (images, targets) in _batches(loader, stopper):
            if stopper.reason:
                break
            if budget and _all_agree(time.perf_counter() - t_run >= budget, distributed, device):
                out_of_time = True  # finish this epoch early: validate and save as usual
                break
            images = [im.to(device, non_blocking=True) for im in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                losses = model(images, targets)
            loss = sum(losses.values())
            finite = torch.isfinite(loss)
            if distributed:  # every rank must agree to skip, or DDP hangs
                flag = finite.float().to(device)
                dist.all_reduce(flag, op=dist.ReduceOp.MIN)
                finite = flag > 0
            opt.zero_grad(set_to_none=True)
            if not bool(finite):
                skipped += 1
                bad_in_a_row += 1
                log.warning("non-finite loss at epoch %d iter %d; step skipped", epoch + 1, it + 1)
                if bad_in_a_row >= tc.max_bad_steps:
                    msg = (
                        f"{bad_in_a_row} non-finite losses in a row (epoch {epoch + 1}); "
                        f"stopped. The last good checkpoint is kept in {run_dir}. "
                        "Try a lower --lr."
                    )
                    emit({"event": "error", "message": msg})
                    raise TrainingError(msg)
                continue
            bad_in_a_row = 0
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, tc.clip_norm)
            scaler.step(opt)
            scaler.update()
            if sched_unit == "iter":
                sched.step()
            global_step += 1
            steps_done_run += 1
            n_ok += 1
            seen += len(images) * world
            sums["loss"] += float(loss.detach())
            for k in LOSS_KEYS:
                sums[k] += float(losses[k].detach()) if k in losses else 0.0
            if main and ((it + 1) % tc.log_every == 0 or it + 1 == iters):
                elapsed = time.perf_counter() - t_run
                rate = steps_done_run / elapsed if elapsed > 0 else 0.0
                remaining = (epochs - epoch) * iters - (it + 1)
                emit(
                    {
                        "event": "progress",
                        "epoch": epoch + 1,
                        "epochs": epochs,
                        "iter": it + 1,
                        "iters": iters,
                        "step": global_step,
                        "loss": float(loss.detach()),
                        **{k: float(losses[k].detach()) for k in LOSS_KEYS if k in losses},
                        "lr": opt.param_groups[0]["lr"],
                        "images_per_second": seen / max(1e-9, time.perf_counter() - t_epoch),
                        "eta_seconds": remaining / rate if rate > 0 else None,
                    }
                )
        if stopper.reason:
            if main:
                save_checkpoint(run_dir / "last.pt", core, cfg, **state(epoch))
            emit(
                {
                    "event": "stopped",
                    "reason": stopper.reason,
                    "epoch": epoch + 1,
                    "checkpoint": str(run_dir / "last.pt"),
                }
            )
            _cleanup(distributed)
            return {"status": "stopped", "run_dir": str(run_dir), "epoch": epoch, **last_metrics}
        if sched_unit == "epoch":
            sched.step()
        seconds = time.perf_counter() - t_epoch
        row = {
            "epoch": epoch + 1,
            **{k: v / max(1, n_ok) for k, v in sums.items()},
            "lr": opt.param_groups[0]["lr"],
            "skipped_steps": skipped,
            "seconds": round(seconds, 2),
            "images_per_second": round(seen / max(seconds, 1e-9), 2),
        }
        if main:
            if val_records and tc.validate:
                model.eval()
                pred = Predictor.from_model(core, cfg, device, score_thresh)
                results = list(pred.predict_paths([r.path for r in val_records]))
                m = evaluate_results(val_records, results, None)
                row.update({k: m[k] for k in ("mAP", "AP50", "AP75", "number_accuracy", "score_thresh")})
                improved = m["mAP"] > best_map
            else:
                improved = True
            if improved:
                best_map = row.get("mAP", 0.0)
                score_thresh = row.get("score_thresh", score_thresh)
                save_checkpoint(
                    run_dir / "best.pt",
                    core,
                    cfg,
                    score_thresh=score_thresh,
                    metrics={k: row.get(k) for k in ("mAP", "AP50", "AP75", "number_accuracy")},
                    meta=meta,
                    epoch=epoch + 1,
                )
            save_checkpoint(run_dir / "last.pt", core, cfg, **state(epoch + 1))
            with metrics_path.open("a", newline="") as f:
                csv.writer(f).writerow([_fmt(row.get(k, "")) for k in METRIC_FIELDS])
            last_metrics = row
            emit({"event": "epoch", **row, "best_mAP": best_map})
        if distributed:
            dist.barrier()
        if out_of_time:
            break
    if main and val_records and tc.validate and cfg.get("test_sizes") and (run_dir / "best.pt").is_file():
        tuned = tune_input_size(run_dir / "best.pt", val_records, device, cfg["test_sizes"])
        score_thresh = tuned["score_thresh"]
        emit({"event": "tuned", **tuned})
    summary = {
        "status": "done",
        "time_budget_reached": out_of_time,
        "run_dir": str(run_dir),
        "best": str(run_dir / "best.pt"),
        "best_mAP": best_map,
        "score_thresh": score_thresh,
        **last_metrics,
    }
    emit({"event": "done", **summary})
    _cleanup(distributed)
    return summary


def tune_input_size(path: str | os.PathLike, records: list[Record], device: torch.device, sizes) -> dict:
    """Choose the input short side that reads numbers best on held-out photos, and store it.

    A detector trained with scale jitter often reads small photos best a little above its
    training size. Each size in ``sizes`` is scored with its own tuned score threshold; the
    best number accuracy wins (then mAP, then the smaller size). The checkpoint at ``path`` is
    rewritten with the chosen size and threshold. Returns the choice and every size's scores.
    """
    model, cfg, blob = load_detector(path)
    if cfg["resize"].get("mode") != "keep":
        raise TrainingError("input-size tuning needs an aspect-keeping resize")
    model.to(device)
    tried = []
    for size in sorted({int(v) for v in sizes}):
        trial = {**cfg, "resize": {**cfg["resize"], "min_size": size}}
        pred = Predictor.from_model(model, trial, device, 0.5)
        m = evaluate_results(records, list(pred.predict_paths([r.path for r in records])), None)
        tried.append(
            {
                "min_size": size,
                **{k: m[k] for k in ("mAP", "AP50", "AP75", "number_accuracy", "score_thresh")},
            }
        )
    best = max(tried, key=lambda t: (round(t["number_accuracy"], 9), round(t["mAP"], 9), -t["min_size"]))
    cfg = {**cfg, "resize": {**cfg["resize"], "min_size": best["min_size"]}}
    extra = {k: v for k, v in blob.items() if k not in ("format", "version", "preset", "config", "model")}
    extra.update(
        score_thresh=best["score_thresh"],
        metrics={k: best[k] for k in ("mAP", "AP50", "AP75", "number_accuracy")},
        tuned_sizes=tried,
    )
    save_checkpoint(path, model, cfg, **extra)
    return {"min_size": best["min_size"], "score_thresh": best["score_thresh"], "tried": tried}


def _quiet_worker(_worker_id: int) -> None:
    """Ctrl+C reaches the whole process group: let the main process alone handle it and save."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _batches(loader, stopper: _Stopper):
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


def _all_agree(flag: bool, distributed: bool, device: torch.device) -> bool:
    """True when ``flag`` holds on any rank (so every rank takes the same branch)."""
    if not distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, float) else v


def _cleanup(distributed: bool) -> None:
    if distributed and dist.is_initialized():
        dist.destroy_process_group()
