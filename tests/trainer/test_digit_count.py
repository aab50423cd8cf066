"""A known digit count (bibs, meters): the reader keeps the best run of that length and completes
a short number with weaker digits that continue its row."""

import numpy as np
import pytest

from trainer.__main__ import main
from trainer.numbers import COUNT_FLOOR, DigitCount, fit_count, pick_number, read_number, xyxy

from .conftest import BIBS


def _row(xs, scores, digits, y=10.0, w=12.0, h=20.0):
    boxes = np.array([[x, y, w, h] for x in xs], np.float32)
    return boxes, np.asarray(scores, np.float32), np.asarray(digits, np.int64)


def _read(boxes, scores, digits, count, t=0.5):
    picked = pick_number(xyxy(boxes), scores, t)
    fitted = fit_count(boxes, picked, scores, t, count)
    return read_number(boxes, fitted, digits, t).text, fitted


@pytest.mark.parametrize(("text", "low", "high"), [("4", 4, 4), (" 3-5 ", 3, 5), ("1-12", 1, 12)])
def test_a_count_is_a_number_or_a_range(text, low, high):
    c = DigitCount.parse(text)
    assert (c.low, c.high) == (low, high) and DigitCount.parse(str(c)) == c
    assert c.label == f"{c} digits per number" and DigitCount(1, 1).label == "1 digit per number"


@pytest.mark.parametrize("text", ["", "four", "0", "5-3", "3-", "1-2-3", "13", "-4", "4.5"])
def test_a_count_that_is_not_one_says_so(text):
    with pytest.raises(ValueError, match="digit count"):
        DigitCount.parse(text)


def test_a_letter_read_as_a_digit_goes_when_the_number_has_one_digit_too_many():
    # "S0374": the S read as a 5 at 0.7, the four digits surer
    boxes, scores, digits = _row([0, 14, 28, 42, 56], [0.7, 0.95, 0.9, 0.97, 0.9], [5, 0, 3, 7, 4])
    assert read_number(boxes, scores, digits, 0.5).text == "50374"
    text, fitted = _read(boxes, scores, digits, DigitCount(4, 4))
    assert text == "0374"
    assert fitted[0] < 0.5 and np.array_equal(fitted[1:], scores[1:])  # still exported, not read
    # the run with the highest summed score stays, wherever it is
    boxes, scores, digits = _row([0, 14, 28, 42, 56], [0.95, 0.9, 0.97, 0.9, 0.6], [2, 1, 7, 3, 8])
    assert _read(boxes, scores, digits, DigitCount(4, 4))[0] == "2173"
    assert _read(boxes, scores, digits, DigitCount(3, 5))[0] == "21738"  # within the range: as read


def test_a_short_number_takes_the_weak_digit_that_continues_its_row():
    # "4018" with the 4 just under the threshold and a weak mark far off the row
    boxes, scores, digits = _row([0, 14, 28, 42], [0.45, 0.9, 0.95, 0.9], [4, 0, 1, 8])
    far = np.array([[0, 80, 12, 20]], np.float32)  # under the row
    boxes = np.concatenate([boxes, far])
    scores, digits = np.append(scores, 0.48).astype(np.float32), np.append(digits, 7)
    assert read_number(boxes, scores, digits, 0.5).text == "018"
    text, fitted = _read(boxes, scores, digits, DigitCount(4, 4))
    assert text == "4018" and fitted[0] == np.float32(0.5) and fitted[4] == np.float32(0.48)
    # raised to the threshold in float32 and float64 alike (0.45 is not a float32)
    text, fitted = _read(boxes, scores * 0.9, digits, DigitCount(4, 4), t=0.45)
    assert text == "4018" and float(fitted[0]) >= 0.45 and fitted[0] >= np.float32(0.45)


def test_only_detections_above_the_floor_that_fit_the_row_complete_it():
    # too weak, too small, or inside the row: nothing is added and the number stays short
    boxes, scores, digits = _row([14, 28, 42], [0.9, 0.95, 0.9], [0, 1, 8])
    extra = np.array([[0, 10, 12, 20], [56, 14, 5, 8], [30, 10, 12, 20]], np.float32)
    boxes = np.concatenate([boxes, extra])
    scores = np.append(scores, [COUNT_FLOOR / 2, 0.4, 0.4]).astype(np.float32)
    digits = np.append(digits, [4, 4, 4])
    text, fitted = _read(boxes, scores, digits, DigitCount(4, 4))
    assert text == "018" and np.array_equal(fitted, scores)


def test_a_number_of_the_right_length_or_no_number_is_left_alone():
    boxes, scores, digits = _row([0, 14, 28], [0.9, 0.9, 0.9], [1, 2, 3])
    assert np.array_equal(_read(boxes, scores, digits, DigitCount(2, 4))[1], scores)
    weak = np.full(3, 0.3, np.float32)
    assert np.array_equal(_read(boxes, weak, digits, DigitCount(4, 4))[1], weak)


def test_the_command_line_refuses_a_bad_digit_count(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(tmp_path), "--out", str(tmp_path / "o"), "--digits", "5-3"])
    assert exc.value.code == 2 and "digit count '5-3'" in capsys.readouterr().err


@pytest.mark.skipif(not (BIBS / "truth.csv").is_file(), reason="bibs absent")
def test_predict_with_a_digit_count_reads_bibs_without_their_letter(tmp_path, capsys):
    """The bundled model reads the letter of some bibs as a digit; told the bibs have four digits,
    the command line writes four-digit numbers, and the bibs it read as four digits before stay."""
    folder = tmp_path / "bibs"
    folder.mkdir()
    for p in sorted((BIBS / "images").iterdir())[:24]:
        (folder / p.name).write_bytes(p.read_bytes())
    rows = {}
    for name, extra in (("any", []), ("four", ["--digits", "4"])):
        args = ["predict", str(folder), "--out", str(tmp_path / name), "--device", "cpu", "--workers", "0"]
        assert main([*args, *extra]) == 0
        with (tmp_path / name / "pred.csv").open() as f:
            rows[name] = dict(line.strip().split(",") for line in f.readlines()[1:])
    assert "4 digits per number" in capsys.readouterr().out
    longer = [k for k, v in rows["any"].items() if len(v) > 4]
    assert longer  # the letter is read as a digit somewhere here, so the count has work to do
    # four of its digits, in their order (pred.csv writes integers: "0868" is 868)
    assert all(rows["four"][k].zfill(4) in rows["any"][k] for k in longer)
    assert all(rows["four"][k] == v for k, v in rows["any"].items() if len(v) == 4)
