"""Why numbers are misread: accuracy by number length, causes of failure, and what the boxes show.

Definitions (the truth is the digits of the ground-truth boxes read left to right by x-centre; the
reading is :func:`trainer.numbers.read_number` at the score threshold, as in number accuracy):

- correct: the same number as number accuracy counts it (``int`` equality, so "07" reads as 7);
- ``nothing_read``: no digit read (``-1``) where the truth has digits;
- ``wrong_digit``: as many digits read as the truth has, and some differ;
- ``missing_digit``: fewer digits read than the truth has (but at least one);
- ``extra_digit``: more digits read than the truth has.

``one_digit`` counts the failures one digit away from the truth: one digit replaced (wrong), left
out (missing) or added (extra); for ``nothing_read``, a one-digit truth.

For every failing number the boxes say where it went wrong, using every detection at or above the
threshold (any number of them per truth box):

- ``not_found``: some truth digit has no detection at IoU >= 0.5 (a localisation miss);
- ``misnamed``: every truth digit has one, but some has none with its own digit (a naming error);
- ``all_named``: every truth digit has a detection with its digit at IoU >= 0.5: the reading went
  wrong elsewhere (an extra box, or a wrong digit outscoring the right one on the same spot).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .data import Record, gt_text
from .numbers import box_iou, read_number
from .predict import ImageResult

LENGTHS = ("1", "2", "3", "4+")
CAUSES = ("wrong_digit", "missing_digit", "extra_digit", "nothing_read")
BOX_STATES = ("not_found", "misnamed", "all_named")
MATCH_IOU = 0.5


def length_bucket(n_digits: int) -> str:
    """ "1", "2", "3" or "4+" ("0" for an image without truth digits)."""
    return str(n_digits) if n_digits < 4 else "4+"


def failure_cause(truth: str, read: str) -> str | None:
    """The cause of a misread (one of :data:`CAUSES`), or None when the number is right."""
    if (int(read) if read else -1) == (int(truth) if truth else -1):
        return None
    if not read:
        return "nothing_read"
    if len(read) == len(truth):
        return "wrong_digit"
    return "missing_digit" if len(read) < len(truth) else "extra_digit"


def one_digit_off(truth: str, read: str) -> bool:
    """True when ``read`` is ``truth`` with one digit replaced, left out or added."""
    if len(truth) == len(read):
        return sum(a != b for a, b in zip(truth, read)) == 1
    if abs(len(truth) - len(read)) != 1:
        return False
    longer, shorter = (truth, read) if len(truth) > len(read) else (read, truth)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def box_state(rec: Record, res: ImageResult, score_thresh: float) -> str:
    """``not_found``, ``misnamed`` or ``all_named`` (see the module docstring)."""
    keep = np.asarray(res.scores, np.float64).reshape(-1) >= score_thresh
    det = np.asarray(res.boxes, np.float64).reshape(-1, 4)[keep]
    det_xyxy = np.concatenate([det[:, :2], det[:, :2] + det[:, 2:]], axis=1)
    det_digits = np.asarray(res.digits, np.int64).reshape(-1)[keep]
    hit = box_iou(np.asarray(rec.boxes, np.float64).reshape(-1, 4), det_xyxy) >= MATCH_IOU
    if not hit.any(axis=1).all():
        return "not_found"
    truth_digits = np.asarray(rec.labels, np.int64).reshape(-1) - 1
    named = hit & (truth_digits[:, None] == det_digits[None, :])
    return "all_named" if named.any(axis=1).all() else "misnamed"


def error_breakdown(records: Sequence[Record], results: Sequence[ImageResult], score_thresh: float) -> dict:
    """Accuracy by number length and the failures by cause and box state, as plain JSON data.

    ``failures`` lists every misread image in record order: ``image_id``, ``file``, ``truth``,
    ``read`` (``""`` when nothing is read), ``cause`` and ``boxes`` (its box state).
    """
    lengths = {k: {"images": 0, "correct": 0} for k in LENGTHS}
    causes = {c: {"count": 0, "one_digit": 0, **dict.fromkeys(BOX_STATES, 0)} for c in CAUSES}
    failures = []
    for rec, res in zip(records, results):
        truth = gt_text(rec)
        read = read_number(res.boxes, res.scores, res.digits, score_thresh).text
        bucket = lengths.setdefault(length_bucket(len(truth)), {"images": 0, "correct": 0})
        bucket["images"] += 1
        cause = failure_cause(truth, read)
        if cause is None:
            bucket["correct"] += 1
            continue
        state = box_state(rec, res, score_thresh)
        row = causes[cause]
        row["count"] += 1
        row["one_digit"] += one_digit_off(truth, read)
        row[state] += 1
        failures.append(
            {
                "image_id": rec.image_id,
                "file": rec.path.name,
                "truth": truth,
                "read": read,
                "cause": cause,
                "boxes": state,
            }
        )
    for v in lengths.values():
        v["accuracy"] = v["correct"] / v["images"] if v["images"] else None
    by_length = {k: lengths[k] for k in sorted(lengths, key=lambda k: (k != "0", k))}
    return {
        "score_thresh": float(score_thresh),
        "images": len(records),
        "correct": len(records) - len(failures),
        "failed": len(failures),
        "by_length": by_length,
        "causes": causes,
        "failures": failures,
    }


def breakdown_lines(errors: dict, show_failures: int = 0) -> list[str]:
    """The breakdown as a short plain-text table (and the first ``show_failures`` failures)."""
    lines = ["", "number accuracy by length (digits in the truth)"]
    lines.append(f"  {'length':<8}{'images':>7}{'correct':>9}{'accuracy':>10}")
    for k, v in errors["by_length"].items():
        acc = "-" if v["accuracy"] is None else f"{v['accuracy']:.3f}"
        lines.append(f"  {k:<8}{v['images']:>7}{v['correct']:>9}{acc:>10}")
    failed = errors["failed"]
    lines += ["", f"failed numbers: {failed} of {errors['images']}"]
    head = ("count", "share", "one digit", "not found", "misnamed", "all named")
    lines.append(f"  {'cause':<15}" + "".join(f"{h:>11}" for h in head))
    for c in CAUSES:
        v = errors["causes"][c]
        share = f"{v['count'] / failed:.2f}" if failed else "-"
        cells = (v["count"], share, v["one_digit"], *(v[s] for s in BOX_STATES))
        lines.append(f"  {c.replace('_', ' '):<15}" + "".join(f"{x:>11}" for x in cells))
    lines += [
        "  one digit: one digit replaced, left out or added; boxes at the score threshold:",
        "  not found: a truth digit has no box at IoU >= 0.5; misnamed: none with its digit;",
        "  all named: every truth digit has a box with its digit (extra or outscored boxes).",
    ]
    shown = errors["failures"][: max(0, show_failures)]
    if shown:
        lines += ["", f"failures (first {len(shown)} of {failed})"]
        lines.append(f"  {'image_id':>9}  {'file':<16}{'truth':>8}{'read':>8}  {'cause':<15}boxes")
        for f in shown:
            read = f["read"] or "-1"
            cause, boxes = f["cause"].replace("_", " "), f["boxes"].replace("_", " ")
            lines.append(f"  {f['image_id']:>9}  {f['file']:<16}{f['truth']:>8}{read:>8}  {cause:<15}{boxes}")
    return lines
