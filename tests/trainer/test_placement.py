"""Laying a typed number onto detections: class scores and order, not the top scores."""

from __future__ import annotations

import numpy as np

from trainer.placement import place_clearly, place_number, spots


def _det(*items):
    """(x, y, w, h, score, digit) rows -> boxes, scores, digits."""
    a = np.array(items, np.float64)
    return a[:, :4], a[:, 4], a[:, 5].astype(int)


def test_the_letter_before_the_number_is_the_spot_left_over():
    # "S0374": the S is taken for a 5 (0.7); the digits are sure
    b, s, d = _det(
        (0, 0, 10, 20, 0.70, 5),
        (12, 0, 10, 20, 0.90, 0),
        (24, 0, 10, 20, 0.85, 3),
        (36, 0, 10, 20, 0.80, 7),
        (48, 0, 10, 20, 0.95, 4),
    )
    p = place_number(b, s, d, "0374")
    assert p is not None and p.confident
    assert p.boxes[:, 0].tolist() == [12, 24, 36, 48]
    assert p.digits == (0, 3, 7, 4)


def test_typed_digits_go_where_the_model_saw_them_not_on_the_best_scores():
    # read as 8116; the model also saw 4s (weaker) on the 1st and 4th glyphs
    b, s, d = _det(
        (0, 0, 10, 20, 0.9, 8),
        (0, 0, 10, 20, 0.4, 4),
        (12, 0, 10, 20, 0.95, 1),
        (24, 0, 10, 20, 0.93, 1),
        (36, 0, 10, 20, 0.8, 6),
        (36, 0, 10, 20, 0.35, 4),
    )
    p = place_number(b, s, d, "44")
    assert p is not None
    assert p.boxes[:, 0].tolist() == [0, 36]
    assert p.class_scores == (0.4, 0.35)


def test_spots_group_classes_on_one_place():
    b, s, d = _det((0, 0, 10, 20, 0.9, 8), (1, 0, 10, 20, 0.3, 3), (30, 0, 10, 20, 0.6, 1))
    sp = spots(b, s, d)
    assert len(sp.best) == 2
    assert sp.by_digit[0, 8] == 0.9 and sp.by_digit[0, 3] == 0.3 and sp.by_digit[1, 1] == 0.6


def test_too_few_spots_or_no_row_gives_none():
    b, s, d = _det((0, 0, 10, 20, 0.9, 1), (12, 0, 10, 20, 0.9, 2))
    assert place_number(b, s, d, "123") is None
    # two digits far apart vertically and in size are no row
    b, s, d = _det((0, 0, 10, 20, 0.9, 1), (12, 200, 40, 80, 0.9, 2))
    assert place_number(b, s, d, "12") is None


def test_a_weak_spot_makes_the_placement_unsure():
    b, s, d = _det((0, 0, 10, 20, 0.9, 1), (12, 0, 10, 20, 0.1, 2))
    p = place_number(b, s, d, "12")
    assert p is not None and not p.confident and p.weakest == 0.1


def test_a_clear_placement_has_no_rival_about_as_good():
    # "119" read, "19" typed: either 1 could be the typed one, so the placement is a guess
    b, s, d = _det((0, 0, 10, 20, 0.9, 1), (12, 0, 10, 20, 0.9, 1), (24, 0, 10, 20, 0.9, 9))
    assert place_number(b, s, d, "19").confident
    assert place_clearly(b, s, d, "19") is None
    # the same row with the second 1 barely seen: the first is the clear choice
    b, s, d = _det((0, 0, 10, 20, 0.9, 1), (12, 0, 10, 20, 0.35, 1), (24, 0, 10, 20, 0.9, 9))
    p = place_clearly(b, s, d, "19")
    assert p is not None and p.boxes[:, 0].tolist() == [0, 24]
    # a placement that is not confident is not clear either
    b, s, d = _det((0, 0, 10, 20, 0.2, 1), (12, 0, 10, 20, 0.9, 9))
    assert place_number(b, s, d, "19") is not None and place_clearly(b, s, d, "19") is None


def test_the_region_read_again_spans_the_placement_or_the_fair_detections():
    from trainer.placement import read_again_region

    b, s, d = _det((20, 10, 10, 20, 0.9, 1), (32, 10, 10, 20, 0.9, 2))
    p = place_number(b, s, d, "12")
    # a digit height (20) beside the row, half of one above and below, inside the image
    assert read_again_region(p, b, s, 100, 40) == (0.0, 0.0, 62.0, 40.0)
    assert read_again_region(p, b, s, 200, 100) == (0.0, 0.0, 62.0, 40.0)
    # no placement: around the detections scored 0.2 or more; none: nothing to read
    b, s, d = _det((50, 40, 10, 20, 0.5, 1), (5, 5, 4, 4, 0.1, 2))
    assert read_again_region(None, b, s, 200, 100) == (30.0, 30.0, 50.0, 40.0)
    assert read_again_region(None, b[1:], s[1:], 200, 100) is None
    # three digits typed, one spot seen: room for two more on each side (0.8 digit heights each)
    b, s, d = _det((100, 40, 10, 20, 0.5, 7))
    assert read_again_region(None, b, s, 300, 100, typed=3) == (68.0, 30.0, 74.0, 40.0)
    assert read_again_region(None, b, s, 300, 100, typed=1) == (80.0, 30.0, 50.0, 40.0)
