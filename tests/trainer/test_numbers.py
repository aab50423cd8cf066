import numpy as np

from trainer.numbers import (
    box_containment,
    box_iou,
    pick_number,
    read_all,
    read_number,
    split_runs,
    suppress_duplicates,
    xyxy,
)


def test_reads_left_to_right_regardless_of_order():
    boxes = [[34, 0, 10, 20], [10, 0, 10, 20], [22, 0, 10, 20]]
    r = read_number(boxes, [0.9, 0.9, 0.9], [3, 1, 2])
    assert r.number == 123 and r.text == "123"
    assert r.kept == (1, 2, 0)


def test_no_digit_gives_minus_one():
    assert read_number([], [], []).number == -1
    assert read_number([[0, 0, 5, 5]], [0.2], [7], score_thresh=0.5).number == -1


def test_threshold_drops_weak_boxes():
    r = read_number([[0, 0, 10, 20], [20, 0, 10, 20]], [0.9, 0.4], [4, 2], score_thresh=0.5)
    assert r.number == 4


def test_duplicate_on_same_spot_with_other_digit_is_suppressed():
    boxes = [[0, 0, 10, 20], [1, 0, 10, 20], [13, 0, 10, 20]]
    r = read_number(boxes, [0.7, 0.95, 0.9], [1, 7, 5])
    assert r.number == 75


def test_adjacent_digits_are_both_kept():
    boxes = [[0, 0, 10, 20], [9, 0, 10, 20]]  # touching, IoU 0.05
    assert read_number(boxes, [0.9, 0.9], [1, 1]).number == 11


def test_leading_zero_kept_in_text():
    r = read_number([[0, 0, 10, 20], [12, 0, 10, 20]], [0.9, 0.9], [0, 7])
    assert r.text == "07" and r.number == 7


def test_suppress_duplicates_orders_by_score():
    b = np.array([[0, 0, 10, 10], [100, 0, 110, 10], [1, 1, 10, 10]], float)
    keep = suppress_duplicates(b, np.array([0.5, 0.9, 0.6]))
    assert keep.tolist() == [1, 2]


def test_read_all_keeps_every_box_left_to_right():
    # overlapping boxes and any score: the truth reading drops nothing (unlike read_number)
    boxes = [[20, 0, 10, 20], [0, 0, 10, 20], [1, 0, 10, 20]]
    r = read_all(boxes, [5, 1, 7])
    assert (r.number, r.text, r.kept) == (175, "175", (1, 2, 0))
    assert read_all([], []) == read_all(np.zeros((0, 4)), np.zeros(0))
    assert read_all([], []).number == -1 and read_all([], []).text == ""
    assert read_all([[0, 0, 4, 4], [10, 0, 4, 4]], [0, 0]).text == "00"


def test_box_iou_of_xywh_boxes():
    a = xyxy([[0, 0, 10, 10]])
    b = xyxy([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    assert np.allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])
    assert box_iou(a, xyxy([])).shape == (1, 0)


def test_a_box_mostly_inside_another_is_the_same_digit_read_twice():
    # a narrow "1" inside the box of a "4": IoU 0.4, under the 0.5 that NMS needs
    boxes = [[10, 0, 10, 20], [14, 0, 4, 20], [22, 0, 10, 20]]
    assert box_iou(xyxy(boxes[:1]), xyxy(boxes[1:2]))[0, 0] < 0.5
    assert box_containment(xyxy(boxes[:1]), xyxy(boxes[1:2]))[0, 0] == 1.0
    assert read_number(boxes, [0.9, 0.8, 0.9], [4, 1, 2]).text == "42"
    # neighbours that touch are not inside each other
    assert read_number([[0, 0, 10, 20], [9, 0, 10, 20]], [0.9, 0.9], [1, 1]).text == "11"


def test_a_row_parts_at_a_gap_that_stands_out():
    b = xyxy([[0, 0, 10, 20], [12, 0, 10, 20], [24, 0, 10, 20], [50, 0, 10, 20]])
    assert [r.tolist() for r in split_runs(b)] == [[0, 1, 2], [3]]  # gap 0.8 h after gaps of 0.1 h
    assert [r.tolist() for r in split_runs(b[::-1])] == [[3, 2, 1], [0]]  # left to right
    assert split_runs(np.zeros((0, 4))) == []
    # widely spaced type is one number: every gap is 0.5 h
    wide = xyxy([[0, 0, 10, 20], [20, 0, 10, 20], [40, 0, 10, 20]])
    assert [r.tolist() for r in split_runs(wide)] == [[0, 1, 2]]
    assert read_number([[0, 0, 10, 20], [20, 0, 10, 20], [40, 0, 10, 20]], [0.9] * 3, [1, 7, 4]).text == "174"
    # a narrow "1" (and a box drawn short of its glyph) leaves wide gaps at an even step: "2182"
    # as found on a blurred bib, whose 0.31 h gap before the "8" is twice the others
    bib = [[15.1, 11.3, 7.1, 9.5], [23.3, 11.4, 4.5, 7.2], [29.8, 11.2, 5.3, 5.9], [35.3, 11.5, 5.8, 6.7]]
    assert [r.tolist() for r in split_runs(xyxy(bib))] == [[0, 1, 2, 3]]
    assert read_number(bib, [0.9] * 4, [2, 1, 8, 2]).text == "2182"
    # two digits alone part only when further apart than 0.8 h
    assert len(split_runs(wide[:2])) == 1
    assert len(split_runs(xyxy([[0, 0, 10, 20], [27, 0, 10, 20]]))) == 2


def test_the_number_is_read_and_a_stray_digit_beside_it_is_not():
    # "628" with three "1"s of a sign at the right: the number's digits outscore the stray ones
    boxes = [[47, 15, 17, 43], [63, 11, 16, 44], [80, 11, 21, 44], [116, 12, 14, 41], [134, 12, 15, 41]]
    scores = [0.93, 0.89, 0.97, 0.84, 0.8]
    assert read_number(boxes, scores, [6, 2, 8, 1, 1]).text == "628"
    # a lone confident stray digit loses to two digits in a row
    assert (
        read_number([[0, 0, 10, 20], [30, 0, 10, 20], [42, 0, 10, 20]], [0.99, 0.7, 0.7], [2, 3, 0]).text
        == "30"
    )
    # without the choice every box is read (checked boxes of a person)
    assert read_number(boxes, scores, [6, 2, 8, 1, 1], choose=False).text == "62811"


def test_pick_number_drops_digits_outside_the_number_below_the_threshold():
    b = xyxy([[0, 0, 10, 20], [12, 0, 10, 20], [40, 0, 10, 20], [13, 0, 9, 20]])
    s = np.array([0.9, 0.8, 0.95, 0.6], np.float32)
    out = pick_number(b, s, 0.5)
    assert out[2] < 0.5  # the stray digit: kept for mAP, no longer drawn or read
    assert out[[0, 1, 3]].tolist() == s[[0, 1, 3]].tolist()  # a duplicate on the number stays
    assert out.dtype == s.dtype
    alone = np.array([0.9, 0.8, 0.3, 0.2], np.float32)
    assert pick_number(b, alone, 0.5).tolist() == alone.tolist()
