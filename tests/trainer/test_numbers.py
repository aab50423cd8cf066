import numpy as np

from trainer.numbers import box_iou, read_all, read_number, suppress_duplicates, xyxy


def test_reads_left_to_right_regardless_of_order():
    boxes = [[50, 0, 10, 20], [10, 0, 10, 20], [30, 0, 10, 20]]
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
    boxes = [[0, 0, 10, 20], [1, 0, 10, 20], [20, 0, 10, 20]]
    r = read_number(boxes, [0.7, 0.95, 0.9], [1, 7, 5])
    assert r.number == 75


def test_adjacent_digits_are_both_kept():
    boxes = [[0, 0, 10, 20], [9, 0, 10, 20]]  # touching, IoU 0.05
    assert read_number(boxes, [0.9, 0.9], [1, 1]).number == 11


def test_leading_zero_kept_in_text():
    r = read_number([[0, 0, 10, 20], [20, 0, 10, 20]], [0.9, 0.9], [0, 7])
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
