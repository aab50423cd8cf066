"""Keystrokes to fix the worst-read valid photos: box by box, against typing the number.

    python bench/keystrokes.py [--worst 20] [--model default]

Runs the model (CPU) on ``../shared/data/svhn/valid``; the app's document gets the predictions
only, the ground truth stays with the bench. The ``--worst`` images are the misread ones with the
lowest confidence (then, if too few are misread, the lowest confidence of the rest). Each is fixed
twice from its predictions, by driving the app's document and undo stack, until its boxes are the
truth's (each truth digit a box with its digit at IoU >= 0.5, no other box) and it reads the truth:

* **by boxes** (the old way), the fewest keystrokes at a fixed cost per box: relabel = select (Tab
  or a click) + digit = 2; delete = select + Delete = 2; draw = W + drag + digit = 3; refit a box
  onto a digit it misses = select + move drag + resize drag (+ digit if wrong) = 3 or 4. An exact
  search over which box becomes which digit picks the cheapest plan;
* **typing the number**: Enter + the digits + Enter, one undo step (checked), then the same box
  fixes for what typing could not know (a new box placed near its digit but not on it, a kept box
  in the wrong place): the same exact search, from the typed state.

Prints a row per image, the totals, the ratio, and "best of both" (a user picks the cheaper way).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from functools import cache

from _common import ROOT, require_svhn, table  # noqa: F401 - ROOT puts the repo on sys.path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SELECT, DIGIT, DELETE, DRAW, REFIT = 1, 1, 1, 2, 2  # W + drag is DRAW; move + resize drags REFIT
IOU_OK = 0.5


def iou(a, b) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def plan_fix(shown, truth):
    """Cheapest box-by-box plan from ``shown`` (app boxes) to ``truth`` [(rect, digit)].

    Returns (cost, ops): ops are ("delete", key), ("relabel", key, digit),
    ("refit", key, rect, digit), ("draw", rect, digit).
    """
    n = len(truth)

    @cache
    def best(i: int, used: int):
        if i == len(shown):
            left = [j for j in range(n) if not used >> j & 1]
            return len(left) * (DRAW + DIGIT), tuple(("draw", *truth[j]) for j in left)
        s = shown[i]
        cost, ops = best(i + 1, used)
        options = [(cost + SELECT + DELETE, (("delete", s.key),) + ops)]
        for j in range(n):
            if used >> j & 1:
                continue
            rect, digit = truth[j]
            c, rest = best(i + 1, used | 1 << j)
            wrong = s.digit != digit
            if iou(s.rect, rect) >= IOU_OK:
                op = (("relabel", s.key, digit),) if wrong else ()
                options.append((c + (SELECT + DIGIT if wrong else 0), op + rest))
            else:
                options.append(
                    (c + SELECT + REFIT + (DIGIT if wrong else 0), (("refit", s.key, rect, digit),) + rest)
                )
        return min(options, key=lambda o: o[0])

    return best(0, 0)


def fix_by_boxes(doc, truth, text) -> int:
    """Apply the cheapest plan through the document until the image is the truth; its keystrokes."""
    total = 0
    for _round in range(4):
        cost, ops = plan_fix(tuple(doc.shown()), truth)
        if cost == 0 and doc.reading().text == text:
            return total
        total += cost
        order = {"delete": 0, "relabel": 1, "refit": 2, "draw": 3}
        for op in sorted(ops, key=lambda o: order[o[0]]):
            if op[0] == "delete":
                doc.delete_box(op[1])
            elif op[0] == "relabel":
                doc.change_box(op[1], digit=op[2])
            elif op[0] == "refit":
                doc.change_box(op[1], rect=op[2], digit=op[3])
            else:
                doc.add_box(op[1], op[2])
    raise RuntimeError(f"could not reach {text}: {[(s.rect, s.digit) for s in doc.shown()]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worst", type=int, default=20)
    ap.add_argument("--model", default="default")
    args = ap.parse_args()
    svhn = require_svhn()

    import torch
    from PySide6.QtGui import QGuiApplication

    from digitgui.document import Document
    from digitgui.state import ImageEntry, Layer, Prediction, confidence
    from trainer.data import gt_text, load_coco
    from trainer.predict import Predictor

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - Qt objects need it
    records = load_coco(svhn / "valid.json", svhn / "valid").records
    t0 = time.perf_counter()
    predictor = Predictor(args.model, device="cpu", batch_size=16, num_workers=0)
    results = list(predictor.predict_paths([r.path for r in records]))
    seconds = time.perf_counter() - t0
    entries = []
    for rec, res in zip(records, results):
        pred = Prediction(res.boxes, res.scores, res.digits, "bench")
        # the document sees the predictions only: no ground truth (has_gt False, empty layer)
        entries.append(
            ImageEntry(rec.path.name, rec.path, rec.image_id, (res.width, res.height), Layer(), pred)
        )
    doc = Document()
    doc.load(svhn / "valid", entries, 0, predictor.score_thresh)
    truths = []
    for rec in records:
        b = rec.boxes
        truths.append(
            tuple(
                ((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), int(c) - 1)
                for (x1, y1, x2, y2), c in zip(b, rec.labels)
            )
        )
    texts = [gt_text(r) for r in records]
    reads = [doc.reading(i).text for i in range(len(entries))]
    wrong = [i for i in range(len(entries)) if reads[i] != texts[i]]
    rank = sorted(
        range(len(entries)), key=lambda i: (reads[i] == texts[i], confidence(entries[i], doc.threshold))
    )
    worst = rank[: args.worst]

    rows, old_total, new_total, best_total, typed_right = [], 0, 0, 0, 0
    for i in worst:
        doc.set_current(i)
        truth = tuple(sorted(truths[i], key=lambda t: t[0][0] + t[0][2] / 2))
        old = fix_by_boxes(doc, truth, texts[i])
        # typing the number, from the same predictions
        entries[i].layer = Layer()
        doc.undo_stack.clear()
        shown_before = len(doc.shown())
        doc.type_number(texts[i])
        assert doc.undo_stack.count() == 1, "typing a number must be one undo step"
        read_now = doc.reading().text
        if shown_before >= len(texts[i]):  # the boxes were there: the typed number must read right away
            assert read_now == texts[i], (entries[i].name, read_now, texts[i])
        typed_right += read_now == texts[i]
        new = 1 + len(texts[i]) + 1 + fix_by_boxes(doc, truth, texts[i])
        old_total, new_total, best_total = old_total + old, new_total + new, best_total + min(old, new)
        rows.append([entries[i].name, texts[i], reads[i] or "-", str(shown_before), str(old), str(new)])
    print(
        f"{len(records)} valid photos predicted on CPU in {seconds:.1f} s "
        f"(threshold {doc.threshold:.2f}); {len(wrong)} misread; the {len(worst)} worst:"
    )
    print(table(rows, ["image", "truth", "model read", "boxes shown", "by boxes", "typing the number"]))
    print(f"typed number read right at once on {typed_right} of {len(worst)} images")
    print(f"keystrokes by boxes (old way):   {old_total}")
    print(f"keystrokes typing the number:    {new_total}")
    print(f"keystrokes best of both:         {best_total}")
    print(
        f"old/typing: {old_total / max(new_total, 1):.2f}x   old/best: {old_total / max(best_total, 1):.2f}x"
    )


if __name__ == "__main__":
    main()
