"""Command line: ``python -m trainer synth|train|eval|predict|convert``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from .errors import DigitError
from .events import Event
from .export import DET_THRESH
from .paths import licence_note, version

log = logging.getLogger("trainer")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description=__doc__, epilog=licence_note())
    p.add_argument("--version", action="version", version=f"digit-trainer {version()}")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("synth", help="write synthetic multi-digit photos with exact boxes")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--count", required=True, type=int)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--kind",
        choices=("house", "printed"),
        default="house",
        help="house: house-number plates; printed: bibs, plates, labels and meters in many fonts, "
        "with letters and words around the number that are not digits",
    )
    s.add_argument(
        "--backgrounds",
        nargs=2,
        metavar=("IMAGES", "ANN"),
        help="printed: lay the numbers on these photos, their labelled digits painted over",
    )

    t = sub.add_parser("train", help="train or fine-tune a detector")
    _train_options(t)

    f = sub.add_parser(
        "finetune",
        help="teach a model a new kind of number: photos with digit boxes, or just their numbers",
    )
    _finetune_options(f)

    e = sub.add_parser(
        "eval", help="COCO mAP and whole-number accuracy on a labelled set", epilog=licence_note()
    )
    e.add_argument("--images", required=True)
    e.add_argument("--ann", required=True, help="COCO json, or a folder of VOC/YOLO/labelme files")
    e.add_argument("--model", default="default")
    e.add_argument("--device", default="auto")
    e.add_argument("--batch-size", type=int, default=16)
    e.add_argument("--score-thresh", type=float, help="number-reading threshold (default: the model's)")
    e.add_argument("--json", action="store_true", help="print exactly one JSON object")
    e.add_argument(
        "--show-failures",
        type=int,
        default=0,
        metavar="N",
        help="list the first N misread images (id, file, truth, read, cause)",
    )
    e.add_argument(
        "--scales",
        choices=["auto", "single"],
        default="auto",
        help="auto: find numbers at any size in the photo; single: one pass at the model's input size",
    )

    r = sub.add_parser(
        "predict", help="write pred.json (task 1) and pred.csv (task 2)", epilog=licence_note()
    )
    r.add_argument("images_dir", type=Path)
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--model", default="default")
    r.add_argument("--score-thresh", type=float, help="number-reading threshold (default: the model's)")
    r.add_argument(
        "--det-thresh",
        type=float,
        default=DET_THRESH,
        help="lowest score kept in pred.json (low keeps mAP honest)",
    )
    r.add_argument("--device", default="auto")
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--workers", type=int)
    r.add_argument(
        "--scales",
        choices=["auto", "single"],
        default="auto",
        help="auto: find numbers at any size in the photo; single: one pass at the model's input size",
    )
    fmts = ["voc", "yolo", "labelme", "coco"]
    c = sub.add_parser("convert", help="convert ground truth between COCO, VOC, YOLO and labelme")
    c.add_argument("--images", required=True, type=Path, help="the images the labels belong to")
    c.add_argument("--ann", type=Path, help="COCO: the JSON file; others: the label folder (default: found)")
    c.add_argument("--from", dest="src", required=True, choices=fmts)
    c.add_argument("--to", dest="dst", required=True, choices=fmts)
    c.add_argument("--out", type=Path, help="COCO: a new JSON file; others: a folder (default: the images')")
    x = sub.add_parser("export-onnx", help="write the detector as an ONNX file for onnxruntime")
    x.add_argument("--model", default="default", help="checkpoint file, or 'default' for the bundled model")
    x.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (11 or later; default 17)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return p


def _train_options(t: argparse.ArgumentParser) -> None:
    t.add_argument("--train-images", action="append", help="image folder (repeatable)")
    t.add_argument(
        "--train-ann",
        action="append",
        help="COCO json, or a folder of VOC/YOLO/labelme files (repeatable, paired)",
    )
    t.add_argument(
        "--train-repeat",
        action="append",
        type=int,
        help="times each photo of the paired --train-images is seen per epoch (repeatable; default 1): "
        "weights a smaller set that is closer to the photos to be read",
    )
    t.add_argument("--val-images")
    t.add_argument("--val-ann")
    t.add_argument(
        "--holdout",
        type=float,
        default=0.0,
        help="share of the training photos held out as validation, stable by image id",
    )
    t.add_argument("--preset", default="default")
    t.add_argument("--epochs", type=int)
    t.add_argument("--out", required=True, type=Path, help="run folder")
    t.add_argument("--init", help="warm-start weights from a checkpoint of the same preset")
    t.add_argument("--backbone-weights", help="local torchvision backbone state dict")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    _optimizer_options(t)
    t.add_argument("--synthetic", type=int, default=0, help="mix in N synthetic images")
    t.add_argument("--workers", type=int)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    t.add_argument("--log-every", type=int, default=10)
    t.add_argument("--resume", action="store_true", help="continue RUN_DIR/last.pt")
    t.add_argument(
        "--compare-with",
        help="after training, score this model and the new one on the comparison images "
        "(--compare-images/--compare-ann; else the validation set)",
    )
    t.add_argument("--compare-images", help="images kept apart from validation to compare models on")
    t.add_argument("--compare-ann")
    t.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop (saving a checkpoint) when the launching process goes away",
    )
    t.add_argument("--max-minutes", type=float, help="wall-clock budget; the LR schedule anneals over it")
    t.add_argument("--config", type=Path, help="JSON file of default values for these options")


def _finetune_options(f: argparse.ArgumentParser) -> None:
    from .finetune import RECIPE

    f.add_argument("--images", required=True, help="folder of the photos")
    f.add_argument("--ann", help="their digit boxes: COCO json, or a folder of VOC/YOLO/labelme files")
    f.add_argument(
        "--numbers",
        help="or just their numbers: a CSV of image_id,file_name,number (boxes are placed by the model)",
    )
    f.add_argument("--out", required=True, type=Path, help="run folder; the model is OUT/model.pt")
    f.add_argument("--init", default="default", help="the model to start from (default: the bundled one)")
    f.add_argument(
        "--max-minutes",
        type=float,
        default=RECIPE["max_minutes"],
        help="wall-clock budget of the training (default %(default)s)",
    )
    f.add_argument("--epochs", type=int, help=f"at most this many epochs (default {RECIPE['epochs']})")
    f.add_argument("--lr", type=float, help=f"learning rate (default {RECIPE['lr']})")
    f.add_argument("--batch-size", type=int)
    f.add_argument(
        "--mix-images",
        action="append",
        help="original training photos to mix in so the model keeps what it knew (repeatable)",
    )
    f.add_argument("--mix-ann", action="append", help="their COCO file (paired with --mix-images)")
    f.add_argument(
        "--compare-images",
        help="photos kept apart (never trained on) to score the starting and the new model on",
    )
    f.add_argument("--compare-ann", help="their truth (COCO json, or a folder of VOC/YOLO/labelme files)")
    _optimizer_options(f)
    f.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--workers", type=int, default=0)
    f.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    f.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the launching process goes away"
    )


def _optimizer_options(t: argparse.ArgumentParser) -> None:
    t.add_argument(
        "--optimizer",
        choices=("adamw", "sgd"),
        default="adamw",
        help="adamw (the preset's weight decay) or sgd (momentum 0.9, weight decay 1e-4)",
    )
    t.add_argument(
        "--schedule",
        choices=("cosine", "step"),
        help="cosine: warm-up then cosine; step: warm-up then x0.1 at 60%% and 85%% of the run "
        "(default: the preset's)",
    )


def _bar(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=quiet, file=sys.stderr)


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
        _apply_recipe(a, a.config, getattr(a, "given", set()))
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
    bar = _bar(0, "placing the numbers", a.json_progress)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    end = finetune(fc, _event_printer(a.json_progress), stopper, progress)
    bar.close()
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
        state = {"bar": None}

        def on_event(ev: Event) -> None:
            kind, ev = ev.kind, ev.to_dict()
            if kind == "progress":
                bar = state["bar"]
                if bar is None or bar.desc != f"epoch {ev['epoch']}/{ev['epochs']}":
                    if bar is not None:
                        bar.close()
                    from tqdm import tqdm

                    bar = state["bar"] = tqdm(
                        total=ev["iters"],
                        desc=f"epoch {ev['epoch']}/{ev['epochs']}",
                        unit="it",
                        file=sys.stderr,
                    )
                bar.n = ev["iter"]
                bar.set_postfix(loss=f"{ev['loss']:.3f}", lr=f"{ev['lr']:.2e}")
            elif kind == "epoch":
                if state["bar"] is not None:
                    state["bar"].close()
                    state["bar"] = None
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
    pred = Predictor(a.model, a.device, a.batch_size, scales=a.scales)
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
        print(f"number accuracy  {out['number_accuracy']:.4f}  (score threshold {m['score_thresh']:.2f})")
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

    pred = Predictor(a.model, device, a.batch_size, a.workers, scales=a.scales)
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
    print(
        f"wrote {a.out / 'pred.json'} ({len(entries)} boxes) and {a.out / 'pred.csv'} "
        f"({len(rows)} rows); model {pred.model_path.name} on {pred.device_name}, "
        f"score threshold {thresh:.2f}{split}"
    )
    return 0


def _given_train_options(argv: list[str]) -> set[str]:
    """The train options written on the command line: a second parse in which nothing defaults."""
    q = argparse.ArgumentParser(add_help=False)
    _train_options(q)
    for act in q._actions:
        act.default = argparse.SUPPRESS
    return set(vars(q.parse_args(argv)))


def _apply_recipe(a: argparse.Namespace, path: Path, given: set[str]) -> None:
    """Fill the options not given on the command line from a JSON recipe, checking each value."""
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DigitError(f"{path}: cannot read the recipe ({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DigitError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(recipe, dict):
        raise DigitError(f"{path}: a recipe must be a JSON object of option names and values")
    q = argparse.ArgumentParser(add_help=False)
    _train_options(q)
    options = {act.dest: act for act in q._actions if act.dest not in ("config",)}
    for k, v in recipe.items():
        if k == "model":  # checked below, against the preset the run ends up with
            continue
        key = k.replace("-", "_")
        act = options.get(key)
        if act is None:
            raise DigitError(f"{path}: unknown option {k!r}")
        value = _recipe_value(path, k, v, act)
        if key not in given:
            setattr(a, key, value)
    if "model" in recipe:
        a.overrides = _model_overrides(path, recipe["model"], a.preset)


def _model_overrides(path: Path, section, preset: str) -> dict:
    """A recipe's ``model`` section: preset values to replace, each of the type the preset holds.

    A dict value replaces only the keys it names (``{"sampling": {"box_detections_per_img": 50}}``).
    """
    from .presets import get_preset

    base = get_preset(preset)
    if not isinstance(section, dict):
        raise DigitError(f"{path}: 'model' must be a JSON object of {preset!r} preset values")
    for name, v in section.items():
        if name not in base or name in ("arch", "preset"):
            known = ", ".join(k for k in base if k not in ("arch", "preset"))
            raise DigitError(f"{path}: the {preset!r} preset has no value {name!r} to set (it has: {known})")
        old = base[name]
        if not _like(v, old):
            raise DigitError(
                f"{path}: model value {name!r} must look like the preset's {json.dumps(old)}, not {json.dumps(v)}"
            )
    return dict(section)


def _like(v, old) -> bool:
    """Whether a recipe value ``v`` may replace the preset value ``old``."""
    if isinstance(old, dict):
        return isinstance(v, dict) and set(v) <= set(old)
    if isinstance(old, list | bool):
        return isinstance(v, type(old))
    if isinstance(old, int | float):
        return isinstance(v, int | float) and not isinstance(v, bool)
    return not isinstance(v, list | dict | bool)  # a string, or a value the preset leaves unset


def _recipe_value(path: Path, name: str, v, act: argparse.Action):
    def bad(want: str):
        return DigitError(f"{path}: option {name!r} must be {want}, not {json.dumps(v)}")

    if act.nargs == 0:  # a flag
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if isinstance(act, argparse._AppendAction):
        if act.type is int:
            if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise bad("a list of whole numbers")
        elif not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise bad("a list of strings")
        return v
    if v is None:
        return None
    kind = act.type or str
    if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
        raise bad("a whole number")
    if kind is float and (isinstance(v, bool) or not isinstance(v, int | float)):
        raise bad("a number")
    if kind in (str, Path) and not isinstance(v, str):
        raise bad("a string")
    value = kind(v)
    if act.choices is not None and value not in act.choices:
        raise bad("one of " + ", ".join(map(str, act.choices)))
    return value


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
    a = _parser().parse_args(argv)
    if a.cmd == "train":
        a.given = _given_train_options(argv[1:])
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
