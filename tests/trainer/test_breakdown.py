"""The error breakdown of ``eval`` on hand-made truths and detections."""

from pathlib import Path

import numpy as np
import pytest

from trainer.breakdown import (
    box_state,
    breakdown_lines,
    error_breakdown,
    failure_cause,
    length_bucket,
    one_digit_off,
)
from trainer.data import Record
from trainer.evaluate import number_accuracy
from trainer.predict import ImageResult

SPOTS = [10, 24, 38, 52]  # x of digit boxes 10 px wide, 20 high, at y 0: one number (4 px gaps)


def truth(image_id: int, digits: str | tuple[str, list[int]], xs=SPOTS) -> Record:
    if isinstance(digits, tuple):
        digits, xs = digits
    boxes = [[x, 0, x + 10, 20] for x in xs[: len(digits)]]
    return Record(
        image_id,
        Path(f"{image_id}.png"),
        100,
        40,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        labels=np.asarray([int(d) + 1 for d in digits], np.int64),
    )


def dets(*items: tuple[float, int, float]) -> ImageResult:
    """Detections from (x, digit, score): COCO boxes 10x20 at (x, 0)."""
    return ImageResult(
        None,
        100,
        40,
        boxes=np.asarray([[x, 0, 10, 20] for x, _, _ in items], np.float32).reshape(-1, 4),
        scores=np.asarray([s for _, _, s in items], np.float32),
        digits=np.asarray([d for _, d, _ in items], np.int64),
    )


# (truth, detections, expected read, cause, one digit off, box state)
CASES = [
    ("123", dets((10, 1, 0.9), (24, 2, 0.9), (38, 3, 0.9)), "123", None, None, None),
    ("5", dets((10, 5, 0.8)), "5", None, None, None),
    ("07", dets((24, 7, 0.9)), "7", None, None, None),  # the same number, as accuracy counts it
    ("123", dets((10, 1, 0.9), (24, 7, 0.9), (38, 3, 0.9)), "173", "wrong_digit", True, "misnamed"),
    # the right 2 is there, but an 8 on the same spot outscores it
    (
        "123",
        dets((10, 1, 0.9), (24, 2, 0.8), (25, 8, 0.95), (38, 3, 0.9)),
        "183",
        "wrong_digit",
        True,
        "all_named",
    ),
    # the 2 is found 4 px off (IoU 0.43 < 0.5), a 9 too, 4 px off the 3: a localisation miss
    ("123", dets((10, 1, 0.9), (20, 2, 0.9), (34, 9, 0.9)), "129", "wrong_digit", True, "not_found"),
    ("42", dets((10, 9, 0.9), (24, 7, 0.9)), "97", "wrong_digit", False, "misnamed"),
    ("123", dets((10, 1, 0.9), (24, 2, 0.9)), "12", "missing_digit", True, "not_found"),
    ("1234", dets((10, 1, 0.9), (24, 2, 0.9)), "12", "missing_digit", False, "not_found"),
    # two overlapping digits (truth at x 10 and 13): duplicate suppression keeps one of their boxes
    (("11", [10, 13]), dets((10, 1, 0.9), (13, 1, 0.95)), "1", "missing_digit", True, "all_named"),
    ("12", dets((10, 1, 0.9), (24, 2, 0.9), (38, 4, 0.9)), "124", "extra_digit", True, "all_named"),
    ("8", dets((10, 3, 0.9), (24, 6, 0.9)), "36", "extra_digit", False, "misnamed"),
    ("123", dets((10, 1, 0.3), (24, 2, 0.3), (38, 3, 0.3)), "", "nothing_read", False, "not_found"),
    ("6", dets(), "", "nothing_read", True, "not_found"),
]
THRESH = 0.5


@pytest.mark.parametrize("text, res, read, cause, one_off, state", CASES)
def test_each_case_is_classified(text, res, read, cause, one_off, state):
    rec = truth(1, text)
    text = text[0] if isinstance(text, tuple) else text
    assert failure_cause(text, read) == cause
    if cause is not None:
        assert one_digit_off(text, read) is one_off
        assert box_state(rec, res, THRESH) == state
    b = error_breakdown([rec], [res], THRESH)
    assert b["failed"] == (cause is not None) and b["correct"] == (cause is None)
    if cause is not None:
        assert b["failures"] == [
            {"image_id": 1, "file": "1.png", "truth": text, "read": read, "cause": cause, "boxes": state}
        ]


def test_breakdown_of_all_cases_is_exact_and_agrees_with_number_accuracy():
    records = [truth(i, c[0]) for i, c in enumerate(CASES)]
    results = [c[1] for c in CASES]
    b = error_breakdown(records, results, THRESH)
    assert b["images"] == 14 and b["correct"] == 3 and b["failed"] == 11
    assert b["correct"] / b["images"] == number_accuracy(records, results, THRESH)
    assert b["by_length"] == {
        "1": {"images": 3, "correct": 1, "accuracy": 1 / 3},
        "2": {"images": 4, "correct": 1, "accuracy": 1 / 4},
        "3": {"images": 6, "correct": 1, "accuracy": 1 / 6},
        "4+": {"images": 1, "correct": 0, "accuracy": 0.0},
    }
    assert b["causes"] == {
        "wrong_digit": {"count": 4, "one_digit": 3, "not_found": 1, "misnamed": 2, "all_named": 1},
        "missing_digit": {"count": 3, "one_digit": 2, "not_found": 2, "misnamed": 0, "all_named": 1},
        "extra_digit": {"count": 2, "one_digit": 1, "not_found": 0, "misnamed": 1, "all_named": 1},
        "nothing_read": {"count": 2, "one_digit": 1, "not_found": 2, "misnamed": 0, "all_named": 0},
    }
    assert [f["image_id"] for f in b["failures"]] == [i for i, c in enumerate(CASES) if c[3]]


def test_truth_is_read_by_x_centre_and_threshold_moves_the_reading():
    rec = truth(3, "321", xs=[38, 24, 10])  # boxes listed right to left: the truth is "123"
    res = dets((10, 1, 0.9), (24, 2, 0.9), (38, 3, 0.6))
    assert error_breakdown([rec], [res], 0.5)["correct"] == 1
    b = error_breakdown([rec], [res], 0.7)  # the 3 falls under the threshold
    assert b["failures"][0] | {"truth": "123", "read": "12"} == b["failures"][0]
    assert b["failures"][0]["boxes"] == "not_found" and b["score_thresh"] == 0.7


def test_empty_buckets_and_images_without_truth():
    b = error_breakdown([truth(1, ""), truth(2, "")], [dets(), dets((10, 4, 0.9))], THRESH)
    assert b["by_length"]["0"] == {"images": 2, "correct": 1, "accuracy": 0.5}
    assert b["by_length"]["2"] == {"images": 0, "correct": 0, "accuracy": None}
    assert list(b["by_length"]) == ["0", "1", "2", "3", "4+"]
    assert b["causes"]["extra_digit"]["count"] == 1
    assert error_breakdown([], [], THRESH)["failed"] == 0


def test_length_bucket():
    assert [length_bucket(n) for n in range(7)] == ["0", "1", "2", "3", "4+", "4+", "4+"]


def test_one_digit_off_is_one_replacement_deletion_or_insertion():
    assert one_digit_off("123", "124") and one_digit_off("123", "13") and one_digit_off("123", "1293")
    assert not one_digit_off("123", "321") and not one_digit_off("1234", "12")
    assert not one_digit_off("12", "1234") and not one_digit_off("123", "123")


def test_text_table_lists_lengths_causes_and_failures():
    records = [truth(i, c[0]) for i, c in enumerate(CASES)]
    b = error_breakdown(records, [c[1] for c in CASES], THRESH)
    lines = breakdown_lines(b, show_failures=2)
    text = "\n".join(lines)
    assert "failed numbers: 11 of 14" in text
    row = next(line for line in lines if line.strip().startswith("wrong digit")).split()
    assert row[2:] == ["4", "0.36", "3", "1", "2", "1"]
    row = next(line for line in lines if line.strip().startswith("4+")).split()
    assert row == ["4+", "1", "0", "0.000"]
    assert "failures (first 2 of 11)" in text
    assert lines[-2].split() == ["3", "3.png", "123", "173", "wrong", "digit", "misnamed"]
    assert "failures" not in "\n".join(breakdown_lines(b))
    nothing = error_breakdown([truth(9, "6")], [dets()], THRESH)
    assert breakdown_lines(nothing, 1)[-1].split()[3] == "-1"  # nothing read shows as -1
