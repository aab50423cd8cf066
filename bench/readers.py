"""Number accuracy and speed of readers on any folder with truth.

Truth is SVHN-style COCO (``--images DIR --ann FILE``) or a numbers CSV (``--truth FILE``:
``image_id,file_name,number``, file names relative to its folder or its ``images/``). Numbers
compare as task 2 does, as integers ("0374" equals 374). The first model is the baseline; every
other prints its accuracy and images/s as a ratio to it, measured in the same run.

    .venv/bin/python bench/readers.py                       # bibs and SVHN valid, bundled model
    .venv/bin/python bench/readers.py --model runs/x/best.pt --truth ../shared/data/bibs/truth.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import torch
from _common import ROOT, table

from trainer.cli_options import DIGITS_HELP, digit_count
from trainer.data import gt_number
from trainer.errors import DigitError
from trainer.formats import load_annotations
from trainer.numbers import DigitCount, read_number
from trainer.predict import Predictor
from trainer.truth import read_numbers_csv, same_number

BIBS = ROOT.parent / "shared" / "data" / "bibs" / "truth.csv"
SVHN_VALID = ROOT.parent / "shared" / "data" / "svhn" / "valid"

KINDS = (
    "nothing read",
    "letter or sign read as a digit",  # extra digits before the number, the number itself intact
    "extra text",  # extra digits after or around the number
    "missed digit",
    "wrong digit",
    "other",
)


def error_kind(truth: str, read: str) -> str | None:
    """What went wrong reading ``truth`` as ``read`` (digit strings, "" for nothing), or None."""
    if same_number(truth, read):
        return None
    if not read:
        return "nothing read"
    t, r = truth.lstrip("0") or "0", read.lstrip("0") or "0"
    if len(r) > len(t):
        if r.endswith(t):
            return "letter or sign read as a digit"
        return "extra text" if t in r else "other"
    if len(r) < len(t):
        it = iter(t)
        return "missed digit" if all(c in it for c in r) else "other"
    return "wrong digit"


def load_set(args) -> tuple[str, list[tuple[Path, str]]]:
    """(name, [(image path, truth digits)]) of one truth source."""
    if args.truth:
        rows = read_numbers_csv(args.truth, args.images)
        return Path(args.truth).parent.name, [(r.path, r.number) for r in rows]
    coco = load_annotations(args.ann, args.images)
    items = []
    for rec in coco.records:
        n = gt_number(rec)
        items.append((rec.path, "" if n < 0 else str(n)))
    return Path(args.images).name, items


def run(model: str, items: list[tuple[Path, str]], batch: int, digits: DigitCount | None = None) -> dict:
    pred = Predictor(model, device="cpu", batch_size=batch, num_workers=0, digits=digits)
    paths = [p for p, _ in items]
    list(pred.predict_paths(paths[: min(8, len(paths))]))  # warm-up, not timed
    t0 = time.perf_counter()
    results = list(pred.predict_paths(paths))
    seconds = time.perf_counter() - t0
    kinds: Counter = Counter()
    failures = []
    correct = 0
    for (path, truth), res in zip(items, results):
        read = "" if res.error else read_number(res.boxes, res.scores, res.digits, pred.score_thresh).text
        kind = error_kind(truth, read)
        if kind is None:
            correct += 1
        else:
            kinds[kind] += 1
            failures.append((path.name, truth, read or "-1", kind))
    return {
        "model": model,
        "images": len(items),
        "accuracy": correct / max(1, len(items)),
        "images_per_second": len(items) / seconds,
        "kinds": {k: kinds.get(k, 0) for k in KINDS},
        "failures": failures,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", help="a model to compare with the bundled one (repeatable)")
    p.add_argument("--images", help="images folder (with --ann; or the folder --truth names files in)")
    p.add_argument("--ann", help="COCO ground truth of --images")
    p.add_argument("--truth", help="numbers CSV: image_id,file_name,number")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--limit", type=int, default=0, help="only the first N images")
    p.add_argument("--show", type=int, default=0, help="list the first N misread images per model")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--digits", type=digit_count, metavar="N|N-M", help=DIGITS_HELP)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    models = ["default"] + [m for m in (a.model or []) if m != "default"]
    if a.truth or a.ann:
        sets = [a]
    else:  # the two sets this project measures on, where present
        sets = []
        if BIBS.is_file():
            sets.append(argparse.Namespace(truth=str(BIBS), images=None, ann=None))
        if (SVHN_VALID.parent / "valid.json").is_file():
            sets.append(argparse.Namespace(truth=None, images=str(SVHN_VALID), ann=str(SVHN_VALID) + ".json"))
        if not sets:
            raise SystemExit("no truth given and no ../shared/data/bibs or svhn/valid found")
    report = []
    for s in sets:
        name, items = load_set(s)
        if a.limit:
            items = items[: a.limit]
        rows = [run(m, items, a.batch_size, a.digits) for m in models]
        report.append({"set": name, "results": rows})
        if a.json:
            continue
        base = rows[0]
        digits = f", {a.digits.label}" if a.digits else ""
        print(f"\n{name}: {len(items)} images, {a.threads} CPU threads{digits}")
        out = []
        for r in rows:
            acc_ratio = r["accuracy"] / base["accuracy"] if base["accuracy"] else float("inf")
            out.append(
                [
                    Path(r["model"]).as_posix(),
                    r["accuracy"],
                    acc_ratio,
                    r["images_per_second"],
                    r["images_per_second"] / base["images_per_second"],
                ]
                + [r["kinds"][k] for k in KINDS]
            )
        print(table(out, ["model", "accuracy", "x baseline", "images/s", "x baseline", *KINDS]))
        for r in rows:
            for f in r["failures"][: a.show]:
                print(f"  {Path(r['model']).name}: {f[0]} truth {f[1]} read {f[2]} ({f[3]})")
    if a.json:
        for s in report:
            for r in s["results"]:
                r.pop("failures")
        print(json.dumps(report))


if __name__ == "__main__":
    try:
        main()
    except DigitError as e:  # bad truth: a clear message naming the line, exit code 2
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
