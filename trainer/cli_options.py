"""The command line's options: one parser, a helper per subcommand.

The train options have a home of their own (:func:`train_options`): a recipe file
(:mod:`trainer.recipes`) is checked against them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .export import DET_THRESH
from .numbers import DigitCount
from .paths import licence_note, version

SCALES_HELP = "auto: find numbers at any size in the photo; single: one pass at the model's input size"
MODEL_HELP = (
    "a checkpoint file, or a bundled model: 'default' (house numbers and photos like them) or "
    "'printed' (printed numbers: race bibs, labels, meters) (default: %(default)s)"
)
DIGITS_HELP = (
    "the numbers have this many digits (4) or a range (3-5), as on bibs or meters: keep the best "
    "run of that length (a letter read as a digit goes) and complete a short one with weaker "
    "digits that continue its row (default: any length)"
)


def digit_count(text: str) -> DigitCount:
    try:
        return DigitCount.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer", description=description, epilog=licence_note())
    p.add_argument("--version", action="version", version=f"digit-trainer {version()}")
    sub = p.add_subparsers(dest="cmd", required=True)
    _synth_parser(sub)
    train_options(sub.add_parser("train", help="train or fine-tune a detector"))
    finetune_options(
        sub.add_parser(
            "finetune",
            help="teach a model a new kind of number: photos with digit boxes, or just their numbers",
        )
    )
    _eval_parser(sub)
    _predict_parser(sub)
    _convert_parser(sub)
    _export_onnx_parser(sub)
    return p


def _synth_parser(sub) -> None:
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


def _eval_parser(sub) -> None:
    e = sub.add_parser(
        "eval", help="COCO mAP and whole-number accuracy on a labelled set", epilog=licence_note()
    )
    e.add_argument("--images", required=True)
    e.add_argument("--ann", required=True, help="COCO json, or a folder of VOC/YOLO/labelme files")
    e.add_argument("--model", default="default", help=MODEL_HELP)
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
    e.add_argument("--scales", choices=["auto", "single"], default="auto", help=SCALES_HELP)
    e.add_argument("--digits", type=digit_count, metavar="N|N-M", help=DIGITS_HELP)


def _predict_parser(sub) -> None:
    r = sub.add_parser(
        "predict", help="write pred.json (task 1) and pred.csv (task 2)", epilog=licence_note()
    )
    r.add_argument("images_dir", type=Path)
    r.add_argument("--out", required=True, type=Path)
    r.add_argument("--model", default="default", help=MODEL_HELP)
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
    r.add_argument("--scales", choices=["auto", "single"], default="auto", help=SCALES_HELP)
    r.add_argument("--digits", type=digit_count, metavar="N|N-M", help=DIGITS_HELP)


def _convert_parser(sub) -> None:
    fmts = ["voc", "yolo", "labelme", "coco"]
    c = sub.add_parser("convert", help="convert ground truth between COCO, VOC, YOLO and labelme")
    c.add_argument("--images", required=True, type=Path, help="the images the labels belong to")
    c.add_argument("--ann", type=Path, help="COCO: the JSON file; others: the label folder (default: found)")
    c.add_argument("--from", dest="src", required=True, choices=fmts)
    c.add_argument("--to", dest="dst", required=True, choices=fmts)
    c.add_argument("--out", type=Path, help="COCO: a new JSON file; others: a folder (default: the images')")


def _export_onnx_parser(sub) -> None:
    x = sub.add_parser("export-onnx", help="write the detector as an ONNX file for onnxruntime")
    x.add_argument("--model", default="default", help=MODEL_HELP)
    x.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (11 or later; default 17)")
    x.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def train_options(t: argparse.ArgumentParser) -> None:
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
    optimizer_options(t)
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


def finetune_options(f: argparse.ArgumentParser) -> None:
    from .finetune import RECIPE, START_CHOICES

    f.add_argument("--images", required=True, help="folder of the photos")
    f.add_argument("--ann", help="their digit boxes: COCO json, or a folder of VOC/YOLO/labelme files")
    f.add_argument(
        "--numbers",
        help="or just their numbers: a CSV of image_id,file_name,number (boxes are placed by the model)",
    )
    f.add_argument("--out", required=True, type=Path, help="run folder; the model is OUT/model.pt")
    f.add_argument(
        "--init",
        default="default",
        help="the model to start from: a checkpoint, or 'default' / 'printed' for a bundled one "
        "(default: %(default)s)",
    )
    f.add_argument(
        "--start",
        choices=START_CHOICES,
        default=RECIPE["start"],
        help="best: start from --init or a bundled model, whichever reads the most of your numbers "
        "right; init: from --init always (default: %(default)s)",
    )
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
    optimizer_options(f)
    f.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--workers", type=int, default=0)
    f.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    f.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the launching process goes away"
    )


def optimizer_options(t: argparse.ArgumentParser) -> None:
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
