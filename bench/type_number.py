"""Typing the number on every photo of a folder with truth: how often the boxes kept are sure.

    .venv/bin/python bench/type_number.py --model models/printed_v9.pt --truth ../shared/data/bibs/truth.csv --first 100
    .venv/bin/python bench/type_number.py                      # SVHN valid, its boxes as truth

Runs the model (CPU) on the photos; the app's document gets the predictions only. On each photo
the true number is typed (``Document.type_number``, what Enter + digits + Enter does in the app)
and the bench counts what a person would see: boxes the app is sure of (Space then marks the
photo reviewed) or a doubt that leaves the photo unreviewed (the reasons are tallied). With
``--read-again``, a guess has the number's region read again and typed again, as the app does
after a guess. Where the truth has boxes (SVHN COCO), it also checks the boxes typing left against them: *right* when every true digit has a box of its
digit at IoU >= 0.5 and there is no other box. A sure but wrong photo is the costly kind: it
becomes ground truth for training without anyone looking at it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter

from _common import ROOT, require_svhn, table  # noqa: F401 - ROOT puts the repo on sys.path
from keystrokes import IOU_OK, iou

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def boxes_right(shown, truth) -> bool:
    """Every true (rect, digit) has its own shown box of that digit at IoU >= 0.5, and no more."""
    if len(shown) != len(truth):
        return False
    free = list(shown)
    for rect, digit in truth:
        hit = next((s for s in free if s.digit == digit and iou(s.rect, rect) >= IOU_OK), None)
        if hit is None:
            return False
        free.remove(hit)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--truth", help="numbers CSV (image_id,file_name,number); default SVHN valid")
    ap.add_argument("--images", help="folder the CSV's file names are in (default: beside it)")
    ap.add_argument("--first", type=int, help="only the first N photos")
    ap.add_argument(
        "--read-again",
        action="store_true",
        help="where typing is a guess, read the number's region again and type again (as the app does)",
    )
    a = ap.parse_args()

    import torch
    from PySide6.QtGui import QGuiApplication

    from digitgui.document import Document
    from digitgui.state import ImageEntry, Layer, Prediction, RegionRead
    from trainer.data import gt_text, load_coco
    from trainer.predict import Predictor
    from trainer.truth import read_numbers_csv

    torch.set_num_threads(max(1, os.cpu_count() or 2))
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt objects need it
    if a.truth:
        rows = read_numbers_csv(a.truth, a.images)
        items = [(r.path, r.number, None) for r in rows]
    else:
        svhn = require_svhn()
        records = load_coco(svhn / "valid.json", svhn / "valid").records
        items = []
        for rec in records:
            truth = tuple(
                ((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), int(c) - 1)
                for (x1, y1, x2, y2), c in zip(rec.boxes, rec.labels)
            )
            items.append((rec.path, gt_text(rec), truth))
    items = items[: a.first] if a.first else items

    t0 = time.perf_counter()
    predictor = Predictor(a.model, device="cpu", batch_size=8, num_workers=0)
    results = list(predictor.predict_paths([p for p, _, _ in items]))
    seconds = time.perf_counter() - t0
    entries = [
        ImageEntry(
            p.name, p, i + 1, (r.width, r.height), Layer(), Prediction(r.boxes, r.scores, r.digits, "bench")
        )
        for i, ((p, _, _), r) in enumerate(zip(items, results))
    ]
    doc = Document()
    doc.load(items[0][0].parent, entries, 0, predictor.score_thresh)

    doubts: Counter[str] = Counter()
    count = Counter()
    wrong: list[str] = []  # sure, with boxes other than the truth's
    for i, (_, number, truth) in enumerate(items):
        doc.set_current(i)
        already = doc.reading(i).text == number
        before = doc.entry(i).layer
        doc.type_number(number)
        read_again = False
        region = doc.number_region(i, number, before) if doc.typing_doubt and a.read_again else None
        if region is not None:  # what the app does next
            again = predictor.predict_region(items[i][0], region)
            if not again.error:
                count["read again"] += 1
                read = RegionRead.of(region, again.boxes, again.scores, again.digits, "bench")
                read_again = doc.retype_with_read(i, number, doc.entry(i).layer, before, read)
                count["read again sure"] += read_again
        sure = not doc.typing_doubt  # the app then lets Space mark it reviewed
        kind = "sure" if sure else "unsure"
        count[kind] += 1
        count[f"{kind} read right before"] += already
        if not sure:
            doubts[re.sub(r"\d+", "N", doc.typing_doubt)] += 1
        if truth is not None:
            right = boxes_right(doc.shown(i), truth)
            count[f"{kind} boxes right"] += right
            if sure and not right:
                wrong.append(f"{items[i][0].name} {number}" + (" (read again)" if read_again else ""))

    n = len(items)
    print(f"{n} photos predicted on CPU in {seconds:.1f} s (threshold {doc.threshold:.2f})")
    rows = []
    for kind in ("sure", "unsure"):
        row = [kind + (" (to review)" if kind == "sure" else " (left unreviewed)"), str(count[kind])]
        row.append(str(count[f"{kind} read right before"]))
        if items[0][2] is not None:
            row.append(f"{count[f'{kind} boxes right']} of {count[kind]}")
        rows.append(row)
    header = ["typed number", "photos", "model had read it already"]
    if items[0][2] is not None:
        header.append("boxes right")
    print(table(rows, header))
    for why, k in doubts.most_common():
        print(f"  {k:4d}  {why}")
    if a.read_again:
        print(
            f"guesses read again in their number's region: {count['read again']}, sure then: {count['read again sure']}"
        )
    if wrong:
        print("sure, but other boxes than the truth's:", ", ".join(wrong))
    print(f"sure share: {count['sure'] / max(n, 1):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
