"""Command line: ``python -m trainer synth|train|eval|predict|convert``."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path

from .cli_options import build_parser
from .errors import DigitError
from .events import Event, StageEvent
from .recipes import apply_recipe, given_train_options

log = logging.getLogger("trainer")


def _bar(total: int, desc: str, quiet: bool, unit: str = "img"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=quiet, file=sys.stderr)


def cmd_synth(a) -> int:
    from .synth import make_dataset

    backgrounds = None
    if a.backgrounds:
        from .formats import load_annotations

        backgrounds = load_annotations(a.backgrounds[1], a.backgrounds[0]).records
    path = make_dataset(a.out, a.count, a.seed, kind=a.kind, backgrounds=backgrounds)
    print(f"wrote {a.count} images to {a.out / 'images'} and {path}")
    return 0


def cmd_train(a) -> int:
    from .engine import TrainConfig, fit

    if a.config:  # a recipe file: its values fill every option not given on the command line
        apply_recipe(a, a.config, getattr(a, "given", set()))
    if not a.train_images or not a.train_ann or len(a.train_images) != len(a.train_ann):
        raise DigitError("give one --train-ann for every --train-images")
    if a.train_repeat and (len(a.train_repeat) != len(a.train_images) or min(a.train_repeat) < 1):
        raise DigitError("give one --train-repeat of at least 1 for every --train-images")
    val = (a.val_images, a.val_ann) if a.val_images and a.val_ann else None
    if bool(a.val_images) != bool(a.val_ann):
        raise DigitError("--val-images and --val-ann go together")
    if bool(a.compare_images) != bool(a.compare_ann):
        raise DigitError("--compare-images and --compare-ann go together")
    tc = TrainConfig(
        train=list(zip(a.train_images, a.train_ann)),
        repeat=list(a.train_repeat or []),
        out=str(a.out),
        preset=a.preset,
        val=val,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        device=a.device,
        init=a.init,
        backbone_weights=a.backbone_weights,
        synthetic=a.synthetic,
        resume=a.resume,
        seed=a.seed,
        workers=a.workers,
        log_every=a.log_every,
        holdout=a.holdout,
        max_seconds=a.max_minutes * 60 if a.max_minutes else None,
        compare_with=a.compare_with,
        compare=(a.compare_images, a.compare_ann) if a.compare_images else None,
        overrides=getattr(a, "overrides", {}),
        optimizer=a.optimizer,
        schedule=a.schedule,
    )
    stopper = _stopper(a.exit_with_parent)
    # a failure is reported by fit itself (an "error" event), then raised
    fit(tc, _event_printer(a.json_progress), stopper)
    return 0


def cmd_finetune(a) -> int:
    from .finetune import FinetuneConfig, finetune

    if bool(a.ann) == bool(a.numbers):
        raise DigitError("give either --ann (digit boxes) or --numbers (a CSV of image_id,file_name,number)")
    if bool(a.compare_images) != bool(a.compare_ann):
        raise DigitError("--compare-images and --compare-ann go together")
    if bool(a.mix_images) != bool(a.mix_ann) or len(a.mix_images or []) != len(a.mix_ann or []):
        raise DigitError("give one --mix-ann for every --mix-images")
    fc = FinetuneConfig(
        images=a.images,
        out=str(a.out),
        ann=a.ann,
        numbers=a.numbers,
        init=a.init,
        start=a.start,
        max_minutes=a.max_minutes,
        epochs=a.epochs,
        lr=a.lr,
        batch_size=a.batch_size,
        optimizer=a.optimizer,
        schedule=a.schedule or "cosine",
        mix=list(zip(a.mix_images or [], a.mix_ann or [])),
        compare=(a.compare_images, a.compare_ann) if a.compare_images else None,
        device=a.device,
        seed=a.seed,
        workers=a.workers,
    )
    stopper = _stopper(a.exit_with_parent)
    end = finetune(fc, _event_printer(a.json_progress), stopper)
    left = Path(a.out) / "left_out.csv"
    if not a.json_progress and left.is_file():
        n = sum(1 for _ in left.open()) - 1
        print(f"photos left out: {n} (see {left})" if n else "photos left out: none")
    return 0 if end.best else 1


def _stopper(exit_with_parent: bool):
    """A Stopper that Ctrl+C, SIGTERM and (optionally) the parent's exit trigger."""
    from .engine import Stopper

    stopper = Stopper()

    def on_signal(signum, _frame):
        stopper.stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if exit_with_parent:
        _watch_parent(stopper)
    return stopper


def _event_printer(json_progress: bool):
    """Training events to stdout: JSON lines, or tqdm bars and a line per epoch."""
    if json_progress:

        def on_event(ev: Event) -> None:
            # one write per event: a line must never be split by another process's output
            sys.stdout.write(ev.to_json() + "\n")
            sys.stdout.flush()
    else:
        state = {"bar": None, "stage": None}

        def bar_for(key: str, desc: str, total: int, unit: str):
            """The open bar of ``key``, or a new one where ``desc`` changed (the old one closed)."""
            bar = state[key]
            if bar is None or bar.desc != desc:
                if bar is not None:
                    bar.close()
                bar = state[key] = _bar(total, desc, False, unit)
            return bar

        def close(key: str) -> None:
            if state[key] is not None:
                state[key].close()
                state[key] = None

        def on_event(ev: Event) -> None:
            if isinstance(ev, StageEvent):
                stage = bar_for("stage", ev.title, ev.total, "img")
                stage.total, stage.n = ev.total, ev.done
                stage.refresh()
                return
            close("stage")
            kind, ev = ev.kind, ev.to_dict()
            if kind == "progress":
                bar = bar_for("bar", f"epoch {ev['epoch']}/{ev['epochs']}", ev["iters"], "it")
                bar.n = ev["iter"]
                bar.set_postfix(loss=f"{ev['loss']:.3f}", lr=f"{ev['lr']:.2e}")
            elif kind == "epoch":
                close("bar")
                keys = [
                    k
                    for k in ("loss", "mAP", "AP50", "number_accuracy", "score_thresh")
                    if ev.get(k) is not None
                ]
                print(f"epoch {ev['epoch']}: " + "  ".join(f"{k}={ev[k]:.4f}" for k in keys), flush=True)
            elif kind == "start":
                print(
                    f"training {ev['preset']} on {ev['images']} images ({ev['val_images']} for "
                    f"validation), {ev['epochs']} epochs, device {ev['device']}",
                    flush=True,
                )
                if ev.get("start_note"):
                    print(ev["start_note"], flush=True)
                for w in ev.get("warnings", []):
                    print(f"warning: {w}", file=sys.stderr)
            elif kind in ("done", "stopped", "compare"):
                print(json.dumps(ev, default=str), flush=True)

    return on_event


def _watch_parent(stopper) -> None:
    """Stop cleanly if the process that started us dies (no orphaned trainings)."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while stopper.reason is None:
            if os.getppid() != parent:
                stopper.stop("parent exited")
                return
            time.sleep(1.0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def cmd_eval(a) -> int:
    from .breakdown import breakdown_lines
    from .evaluate import evaluate
    from .formats import load_annotations
    from .predict import Predictor

    coco = load_annotations(a.ann, a.images)
    for w in coco.all_warnings():
        log.warning(w)
    pred = Predictor(a.model, a.device, a.batch_size, scales=a.scales, digits=a.digits)
    bar = _bar(len(coco.records), "eval", a.json)
    m = evaluate(pred, coco.records, a.score_thresh, progress=lambda d, t: bar.update(d - bar.n))
    bar.close()
    out = {k: m[k] for k in ("mAP", "AP50", "AP75", "number_accuracy", "images", "images_per_second")}
    errors = {**m["errors"], "failures": m["errors"]["failures"][: max(0, a.show_failures)]}
    if a.json:
        print(json.dumps({**out, "errors": errors}))
    else:
        print(f"model            {pred.model_path} ({pred.preset}, {pred.device_name})")
        print(f"mAP@[.5:.95]     {out['mAP']:.4f}")
        print(f"AP50             {out['AP50']:.4f}")
        print(f"AP75             {out['AP75']:.4f}")
        digits = f", {a.digits.label}" if a.digits else ""
        print(
            f"number accuracy  {out['number_accuracy']:.4f}  (score threshold {m['score_thresh']:.2f}{digits})"
        )
        print(f"images           {out['images']}  ({out['images_per_second']:.1f} images/s)")
        print("\n".join(breakdown_lines(m["errors"], a.show_failures)))
    return 0


def cmd_predict(a) -> int:
    """Predict a folder; under torchrun each rank predicts a contiguous shard and rank 0 writes."""
    from .data import folder_records
    from .ddp import cleanup, dist_info, init_device

    records = folder_records(a.images_dir)
    rank, world, local_rank = dist_info()
    try:
        device = str(init_device(a.device, world, local_rank)) if world > 1 else a.device
        return _predict(a, records, device, rank, world)
    finally:
        cleanup(world > 1)


def _predict(a, records, device: str, rank: int, world: int) -> int:
    from .ddp import gather_to_main, shard_bounds
    from .export import id_map_text, prediction_entries, task1_text, task2_text, write_outputs
    from .numbers import read_number
    from .predict import Predictor

    pred = Predictor(a.model, device, a.batch_size, a.workers, scales=a.scales, digits=a.digits)
    thresh = pred.score_thresh if a.score_thresh is None else a.score_thresh
    # whole batches per rank: the same batches as one process, so the same bytes
    start, stop = shard_bounds(len(records), world, rank, pred.batch_size)
    mine = records[start:stop]
    bar = _bar(len(mine), "predict", rank != 0)
    entries, rows, skipped = [], [], []
    results = pred.predict_paths([r.path for r in mine], progress=lambda d, t: bar.update(d - bar.n))
    for rec, res in zip(mine, results):
        if res.error:
            skipped.append(rec.path.name)
            continue
        entries += prediction_entries(rec.image_id, res.boxes, res.scores, res.digits, a.det_thresh)
        rows.append((rec.image_id, read_number(res.boxes, res.scores, res.digits, thresh).number))
    bar.close()
    shards = gather_to_main((len(mine), entries, rows, skipped), world)
    if rank != 0:
        return 0
    counts = [s[0] for s in shards]
    entries = [e for s in shards for e in s[1]]  # rank order is the folder's order
    rows = [r for s in shards for r in s[2]]
    skipped = [n for s in shards for n in s[3]]
    texts = {
        "pred.json": task1_text(entries),
        "pred.csv": task2_text(rows),
        "image_ids.csv": id_map_text([(r.image_id, r.path.name) for r in records]),
    }
    # a command line cannot ask: its own earlier output is replaced, anything else never is
    write_outputs(a.out, texts, replace_earlier=True)
    for name in skipped:
        print(f"warning: skipped unreadable image {name}", file=sys.stderr)
    split = f"; ranks: {'+'.join(map(str, counts))} images" if world > 1 else ""
    digits = f", {a.digits.label}" if a.digits else ""
    print(
        f"wrote {a.out / 'pred.json'} ({len(entries)} boxes) and {a.out / 'pred.csv'} "
        f"({len(rows)} rows); model {pred.model_path.name} on {pred.device_name}, "
        f"score threshold {thresh:.2f}{digits}{split}"
    )
    return 0


def cmd_convert(a) -> int:
    from .formats.convert import convert

    if a.dst == "coco" and a.out is None:
        raise DigitError("--to coco needs --out FILE.json")
    done = convert(a.images, a.ann, a.src, a.dst, a.out)
    for w in done.labels.all_warnings() if a.src != "coco" else []:  # load_coco logs its own
        print(f"warning: {w}", file=sys.stderr)
    where = done.files[0] if len(done.files) == 1 else done.files[0].parent
    print(f"wrote {done.images} images, {done.boxes} boxes as {a.dst} to {where} ({len(done.files)} files)")
    return 0


def cmd_export_onnx(a) -> int:
    from .onnx_export import export_onnx

    done = export_onnx(a.model, a.out, opset=a.opset, overwrite=a.overwrite)
    checked = "checked by onnx" if done.checked else "not checked: the onnx package is not installed"
    print(
        f"wrote {done.path} ({done.size_bytes / 1e6:.1f} MB, opset {done.opset}, {checked}); "
        f"score threshold {done.score_thresh:g}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    argv = sys.argv[1:] if argv is None else list(argv)
    a = build_parser(__doc__).parse_args(argv)
    if a.cmd == "train":
        a.given = given_train_options(argv[1:])
    try:
        return {
            "synth": cmd_synth,
            "finetune": cmd_finetune,
            "train": cmd_train,
            "eval": cmd_eval,
            "predict": cmd_predict,
            "convert": cmd_convert,
            "export-onnx": cmd_export_onnx,
        }[a.cmd](a)
    except DigitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
