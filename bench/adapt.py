"""The learning curve: how fast the model learns a new kind of number from corrected photos.

For a folder with truth (a numbers CSV, by default ``../shared/data/bibs``), fine-tune the
starting model (``python -m trainer finetune``'s recipe, numbers only: the model places the
boxes itself) on the first N photos for each N of ``--rounds``, and score each round on the last
``--test`` photos, which no round ever trains on. Per round it prints: minutes of training (wall
and CPU), number accuracy on the test photos, photos left out for lack of boxes, SVHN valid
accuracy after the round (forgetting), and the edits a person would still make per test photo
to correct what is read (box adds, deletes and relabels: the alignment of the digits read with
the truth's). Round 0 is the starting model itself, the baseline the ratios are against. Each
round starts as the recipe does (``--start best``: from ``--model`` or a bundled model, whichever
reads that round's photos best; the table names it); ``--start init`` always from ``--model``.

    .venv/bin/python bench/adapt.py                              # bibs: N = 0, 25, 50, 100
    .venv/bin/python bench/adapt.py --rounds 0 100 --optimizer sgd --schedule step --lr 0.01

``--tune`` measures on the first 100 photos alone (train on the first N of them, test on the
rest), to choose a recipe without ever looking at the test photos; forgetting is then measured
on the SVHN train+extra photos that training holds out (the stable 5% by id), not on valid.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import table
from readers import BIBS, SVHN_VALID, run

from trainer.errors import DigitError
from trainer.events import StartEvent
from trainer.finetune import RECIPE, START_CHOICES, FinetuneConfig, finetune
from trainer.formats import load_annotations
from trainer.truth import read_numbers_csv


def edits(truth: str, read: str) -> tuple[int, int, int]:
    """(adds, deletes, relabels) that turn the digits read into the truth's, fewest in all."""
    t, r = list(truth), list(read)
    n, m = len(t), len(r)
    cost = [[(0, 0, 0)] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = (i, 0, 0)
    for j in range(1, m + 1):
        cost[0][j] = (0, j, 0)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a, d, s = cost[i - 1][j], cost[i][j - 1], cost[i - 1][j - 1]
            same = t[i - 1] == r[j - 1]
            options = [
                (a[0] + 1, a[1], a[2]),  # a truth digit with no box: add one
                (d[0], d[1] + 1, d[2]),  # a box that is no digit of the truth: delete it
                (s[0], s[1], s[2] + (0 if same else 1)),  # relabel (or keep) a box
            ]
            cost[i][j] = min(options, key=sum)
    return cost[n][m]


def score(model: str, items, svhn_items, batch: int) -> dict:
    r = run(model, items, batch)
    adds = deletes = relabels = 0
    for path, truth in items:
        read = next((f[2] for f in r["failures"] if f[0] == path.name), None)
        if read is None:
            continue
        a, d, s = edits(truth, "" if read == "-1" else read)
        adds, deletes, relabels = adds + a, deletes + d, relabels + s
    n = max(1, len(items))
    out = {
        "accuracy": r["accuracy"],
        "adds": adds / n,
        "deletes": deletes / n,
        "relabels": relabels / n,
        "images_per_second": r["images_per_second"],
    }
    if svhn_items:
        out["svhn"] = run(model, svhn_items, batch)["accuracy"]
    return out


def forgetting_set(tune: bool) -> list:
    """SVHN valid; when tuning, the train+extra photos training holds out (valid is for reports)."""
    if not tune:
        return load_annotations(str(SVHN_VALID) + ".json", str(SVHN_VALID)).records
    from trainer.data import held_out_photos

    return held_out_photos(SVHN_VALID.parent)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--truth", default=str(BIBS), help="numbers CSV (image_id,file_name,number)")
    p.add_argument("--images", help="folder the CSV's file names are in (default: found beside it)")
    p.add_argument("--model", default="default", help="the starting model (--init)")
    p.add_argument(
        "--start",
        default=RECIPE["start"],
        choices=START_CHOICES,
        help="best: --model or a bundled model, whichever reads the round's photos best; init: --model",
    )
    p.add_argument("--rounds", type=int, nargs="+", default=[0, 25, 50, 100])
    p.add_argument("--test", type=int, default=50, help="the last N photos are the test part")
    p.add_argument("--tune", action="store_true", help="measure within the first 100 photos only")
    p.add_argument("--max-minutes", type=float, default=RECIPE["max_minutes"])
    p.add_argument("--lr", type=float)
    p.add_argument("--epochs", type=int)
    p.add_argument("--optimizer", default=RECIPE["optimizer"], choices=("adamw", "sgd"))
    p.add_argument("--schedule", default=RECIPE["schedule"], choices=("cosine", "step"))
    p.add_argument(
        "--mix-svhn", type=int, default=0, help="mix in SVHN train photos (share of each epoch, %%)"
    )
    p.add_argument(
        "--freeze-bn",
        action=argparse.BooleanOptionalAction,
        default=RECIPE["freeze_bn"],
        help="keep the starting model's BatchNorm statistics",
    )
    p.add_argument(
        "--text-class",
        action=argparse.BooleanOptionalAction,
        default=RECIPE["text_class"],
        help="give a starting model without the text class one",
    )
    p.add_argument("--no-svhn", action="store_true", help="skip the forgetting check on SVHN valid")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", type=Path, help="keep the round's runs in this folder")
    p.add_argument("--json", type=Path, help="also write the rows here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rows = read_numbers_csv(a.truth, a.images)
    if a.tune:
        rows = rows[:100]
        a.test = min(a.test, len(rows) - max(a.rounds))
    if a.test + max(a.rounds) > len(rows):
        raise DigitError(
            f"{len(rows)} photos: too few for {max(a.rounds)} to train on and {a.test} to test on"
        )
    test = [(r.path, r.number) for r in rows[-a.test :]]
    svhn = []
    if not a.no_svhn and (SVHN_VALID.parent / "valid.json").is_file():
        from trainer.data import gt_number

        svhn = [(rec.path, str(gt_number(rec))) for rec in forgetting_set(a.tune)]
    mix = []
    if a.mix_svhn:
        svhn_root = SVHN_VALID.parent
        mix = [(str(svhn_root / s), str(svhn_root / f"{s}.json")) for s in ("train", "extra")]
    work = a.keep or Path(tempfile.mkdtemp(prefix="adapt-"))
    results = []
    print(f"{Path(a.truth).parent.name}: test on the last {len(test)} photos; {a.threads} CPU threads")
    for n in a.rounds:
        model, minutes, cpu, left, began = a.model, 0.0, 0.0, 0, a.model
        if n > 0:
            part = work / f"round{n}"
            part.mkdir(parents=True, exist_ok=True)
            csv_path = part / "numbers.csv"
            with csv_path.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["image_id", "file_name", "number"])
                for r in rows[:n]:
                    w.writerow([r.image_id, r.path.name, r.number])
            fc = FinetuneConfig(
                images=str(rows[0].path.parent),
                out=str(part / "run"),
                numbers=str(csv_path),
                init=a.model,
                start=a.start,
                max_minutes=a.max_minutes,
                epochs=a.epochs,
                lr=a.lr,
                optimizer=a.optimizer,
                schedule=a.schedule,
                freeze_bn=a.freeze_bn,
                text_class=a.text_class,
                mix=mix,
                mix_share=a.mix_svhn / 100 if mix else 0.0,
                device="cpu",
            )
            t0, c0 = time.perf_counter(), time.process_time()
            events = []
            end = finetune(fc, events.append)
            starts = [ev for ev in events if isinstance(ev, StartEvent)]
            began = starts[0].start_model if starts else a.model
            if starts and starts[0].start_note:
                print(f"  round {n}: {starts[0].start_note}", flush=True)
            minutes, cpu = (time.perf_counter() - t0) / 60, (time.process_time() - c0) / 60
            model = end.best
            with (part / "run" / "left_out.csv").open() as f:
                left = sum(1 for _ in f) - 1
        s = score(model, test, svhn, 16)
        results.append(
            {"n": n, "start": Path(began).name, "minutes": minutes, "cpu_minutes": cpu, "left_out": left, **s}
        )
        print(f"  round {n}: accuracy {s['accuracy']:.3f} after {minutes:.1f} min", flush=True)
    base = results[0]["accuracy"] or float("nan")
    print(
        table(
            [
                [
                    str(r["n"]),
                    r["start"],
                    r["minutes"],
                    r["cpu_minutes"],
                    r["accuracy"],
                    r["accuracy"] / base,
                    str(r["left_out"]),
                    r.get("svhn", float("nan")),
                    r["adds"],
                    r["deletes"],
                    r["relabels"],
                ]
                for r in results
            ],
            [
                "photos",
                "started from",
                "minutes",
                "CPU min",
                "accuracy",
                "x round 0",
                "left out",
                "SVHN held-out" if a.tune else "SVHN valid",
                "adds/photo",
                "deletes/photo",
                "relabels/photo",
            ],
        )
    )
    recipe = {
        k: getattr(a, k)
        for k in (
            "lr",
            "epochs",
            "optimizer",
            "schedule",
            "max_minutes",
            "mix_svhn",
            "freeze_bn",
            "text_class",
            "start",
        )
    }
    print("recipe:", json.dumps(recipe), "| work:", work)
    if a.json:
        a.json.write_text(json.dumps({"recipe": recipe, "rounds": results}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    try:
        main()
    except DigitError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
