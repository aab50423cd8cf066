"""Pure geometry of typing the number, duplicating and copying boxes, and the display table."""

from pathlib import Path

import numpy as np
import pytest

from digitgui.display_adjust import DisplayAdjust
from digitgui.edits import copied_boxes, duplicate_rect, with_number
from digitgui.number_entry import Plan, Slot, parse_number, plan_number, plan_placed
from digitgui.state import (
    Box,
    ImageEntry,
    Layer,
    Prediction,
    Shown,
    Status,
    pred_key,
    reading,
    shown_boxes,
    spot,
)


def _box(key, x, digit, score=1.0, y=10.0, w=10.0, h=20.0):
    return Shown(key, x, y, w, h, digit, score, score == 1.0)


def test_parse_number_keeps_leading_zeros_and_refuses_the_rest():
    assert parse_number("07") == [0, 7]
    assert parse_number(" 1199 ") == [1, 1, 9, 9]
    for bad in ("", "12a", "-3", "1 2", "1.5", "١٢", "1" * 13):
        with pytest.raises(ValueError):
            parse_number(bad)


def test_same_count_relabels_left_to_right_whatever_the_list_order():
    boxes = [_box(3, 50, 4), _box(1, 10, 7), _box(-1, 30, 1, 0.8)]
    assert plan_number(boxes, "123", (100, 40)) == Plan(
        (
            Slot(1, (10, 10, 10, 20), 1),
            Slot(-1, (30, 10, 10, 20), 2),
            Slot(3, (50, 10, 10, 20), 3),
        ),
        (),
    )


def test_more_boxes_keeps_the_ones_already_right_then_the_best_scored_then_the_leftmost():
    # 1 1 7 9 9 with a weak 7 in the middle: typing 1199 removes the 7
    boxes = [
        _box(-1, 0, 1, 0.9),
        _box(-2, 12, 1, 0.9),
        _box(-3, 24, 7, 0.6),
        _box(-4, 36, 9, 0.9),
        _box(-5, 48, 9, 0.9),
    ]
    plan = plan_number(boxes, "1199", None)
    assert [s.key for s in plan.slots] == [-1, -2, -4, -5] and plan.removed == (-3,)
    # no digit matches: the lowest score goes
    boxes = [_box(-1, 0, 5, 0.9), _box(-2, 12, 5, 0.3), _box(-3, 24, 5, 0.8)]
    plan = plan_number(boxes, "12", None)
    assert [s.key for s in plan.slots] == [-1, -3] and plan.removed == (-2,)
    assert [s.digit for s in plan.slots] == [1, 2]
    # everything equal: the rightmost goes
    boxes = [_box(1, 0, 5), _box(2, 12, 5), _box(3, 24, 5)]
    plan = plan_number(boxes, "4", None)
    assert [s.key for s in plan.slots] == [1] and plan.removed == (2, 3)


def test_fewer_boxes_extends_the_row_after_the_last_box():
    # two digits 10 wide at a pitch of 12 (centres 5 and 17): the third follows at centre 29
    boxes = [_box(-1, 0, 1, 0.9, y=8, h=20), _box(-2, 12, 9, 0.9, y=12, h=24)]
    plan = plan_number(boxes, "195", (100, 40))
    assert [s.key for s in plan.slots] == [-1, -2, None]
    assert plan.slots[2] == Slot(None, (24.0, 10.0, 10.0, 22.0), 5)  # median top and height


def test_fewer_boxes_fills_a_gap_wide_enough_for_the_missing_digit():
    # 1 _ 9 with 20 px between the boxes: the missing 1 goes in the middle
    boxes = [_box(-1, 0, 1, 0.9), _box(-2, 30, 9, 0.9)]
    plan = plan_number(boxes, "119", (100, 40))
    assert [s.key for s in plan.slots] == [-1, None, -2]
    assert plan.slots[1].rect == (15.0, 10.0, 10.0, 20.0)  # centre halfway between 5 and 35


def test_fewer_boxes_goes_before_the_row_when_the_image_ends_after_it():
    # the row touches the right edge: the new digit goes first, where there is room
    boxes = [_box(-1, 78, 3, 0.9), _box(-2, 90, 4, 0.9)]
    plan = plan_number(boxes, "534", (100, 40))
    assert [s.key for s in plan.slots] == [None, -1, -2]
    assert plan.slots[0].rect == (66.0, 10.0, 10.0, 20.0)


def test_fewer_boxes_matches_digits_before_geometry():
    # boxes read 1 2 side by side, room on the right; typing 172 keeps 1 and 2 on their boxes
    # and squeezes the 7 between them (centre halfway), ready to be adjusted
    boxes = [_box(-1, 40, 1, 0.9), _box(-2, 52, 2, 0.9)]
    plan = plan_number(boxes, "172", (100, 40))
    assert [s.key for s in plan.slots] == [-1, None, -2]
    assert plan.slots[1].rect == (46.0, 10.0, 10.0, 20.0)
    # boxes read 7 2: the 1 goes before them
    boxes = [_box(-1, 40, 7, 0.9), _box(-2, 52, 2, 0.9)]
    assert [s.key for s in plan_number(boxes, "172", (100, 40)).slots] == [None, -1, -2]


def test_new_boxes_stay_inside_the_image():
    boxes = [_box(-1, 88, 1, 0.9)]
    plan = plan_number(boxes, "1234", (100, 40))
    for s in plan.slots:
        x, y, w, h = s.rect
        assert 0 <= x and x + w <= 100 and 0 <= y and y + h <= 40


def test_an_image_without_boxes_gets_a_centred_row_sized_to_its_height():
    plan = plan_number([], "07", (200, 100))
    assert [s.digit for s in plan.slots] == [0, 7] and plan.removed == ()
    (x0, y0, w0, h0), (x1, y1, w1, h1) = (s.rect for s in plan.slots)
    assert (h0, w0, y0) == (70.0, 35.0, 15.0) and (h1, w1, y1) == (70.0, 35.0, 15.0)
    assert x1 - x0 == pytest.approx(35 * 1.15, abs=0.01)
    assert (x0 + x1 + w1) / 2 == pytest.approx(100, abs=0.01)  # centred
    # a long number on a narrow image is made narrower so it fits
    plan = plan_number([], "123456", (60, 100))
    assert plan.slots[0].rect[0] >= 0 and plan.slots[-1].rect[0] + plan.slots[-1].rect[2] <= 60
    with pytest.raises(ValueError):
        plan_number([], "1", None)


def test_with_number_makes_every_box_of_the_number_checked_and_hides_what_went():
    pred = Prediction(
        np.asarray([[0, 10, 10, 20], [12, 10, 10, 20], [24, 10, 10, 20]], np.float32),
        np.asarray([0.9, 0.9, 0.6], np.float32),
        np.asarray([1, 7, 3]),
    )
    checked = Box(5, 40, 10, 10, 20, 8)
    e = ImageEntry("1.png", Path("1.png"), 1, (100, 40), Layer(boxes=(checked,)), pred)
    shown = shown_boxes(e, 0.5)
    plan = plan_number(shown, "18", (100, 40))
    assert [s.key for s in plan.slots] == [pred_key(0), 5]
    assert plan.removed == (pred_key(1), pred_key(2))
    ids = iter(range(100, 110))
    layer, keys = with_number(
        e, [(s.key, s.rect, s.digit) for s in plan.slots], plan.removed, lambda: next(ids)
    )
    assert keys == [100, 5]
    assert sorted((b.id, b.digit, b.rect) for b in layer.boxes) == [
        (5, 8, (40, 10, 10, 20)),
        (100, 1, (0, 10, 10, 20)),
    ]
    assert layer.hidden == {spot(r) for r in ((0, 10, 10, 20), (12, 10, 10, 20), (24, 10, 10, 20))}
    assert layer.status == Status.EDITED
    e.layer = layer
    assert [s.checked for s in shown_boxes(e, 0.05)] == [True, True]  # no prediction shows again
    assert reading(e, 0.5).text == "18"
    # one digit onto two checked boxes, neither right: the rightmost goes, its spot hidden
    plan = plan_number(shown_boxes(e, 0.5), "4", (100, 40))
    layer, keys = with_number(
        e, [(s.key, s.rect, s.digit) for s in plan.slots], plan.removed, lambda: next(ids)
    )
    assert keys == [100] and [(b.id, b.digit) for b in layer.boxes] == [(100, 4)]
    assert spot((40, 10, 10, 20)) in layer.hidden


def test_duplicate_rect_goes_right_or_left_at_the_edge():
    assert duplicate_rect((10, 5, 10, 20), (100, 40)) == (21.0, 5.0, 10.0, 20.0)
    assert duplicate_rect((85, 5, 10, 20), (100, 40)) == (74.0, 5.0, 10.0, 20.0)
    assert duplicate_rect((0, 5, 95, 20), (100, 40)) == (5.0, 5.0, 95.0, 20.0)  # no room: clamped
    assert duplicate_rect((10, 5, 10, 20), None) == (21.0, 5.0, 10.0, 20.0)


def test_copied_boxes_are_cut_to_the_image_and_never_doubled():
    src = [_box(-1, 50, 3, 0.9), _box(2, 5, 1), _box(3, 90, 4, w=30), _box(4, 130, 5)]
    there = (Box(9, 51, 10, 10, 20, 3),)
    assert copied_boxes(src, there, (100, 40)) == [((5, 10, 10, 20), 1), ((90, 10, 10, 20), 4)]
    assert copied_boxes(src, (), None)[0] == ((5, 10, 10, 20), 1)


def test_display_lut():
    assert np.array_equal(DisplayAdjust().lut(), np.arange(256, dtype=np.uint8))
    assert np.array_equal(DisplayAdjust(invert=True).lut(), 255 - np.arange(256, dtype=np.uint8))
    lut = DisplayAdjust(brightness=0.2).lut()
    assert (lut[0], lut[100], lut[250]) == (51, 151, 255)
    lut = DisplayAdjust(contrast=2.0).lut()
    assert (lut[0], lut[64], lut[128], lut[200]) == (0, 0, 128, 255)
    lut = DisplayAdjust(gamma=2.0).lut()
    assert lut[64] == round((64 / 255) ** 0.5 * 255)
    a = DisplayAdjust()
    assert a.brighter(3).brightness == 0.3 and a.brighter(-20).brightness == -0.9
    assert a.more_contrast(1).contrast == 1.25 and a.more_contrast(1).more_contrast(-1).contrast == 1.0
    assert a.more_gamma(-20).gamma == 0.25
    assert DisplayAdjust.from_dict(a.brighter(2).inverted().to_dict()) == DisplayAdjust(0.2, 1.0, 1.0, True)
    assert DisplayAdjust.from_dict({"brightness": "x"}) == DisplayAdjust()
    assert DisplayAdjust.from_dict({"invert": "true", "gamma": "9"}) == DisplayAdjust(0.0, 1.0, 4.0, True)


def test_a_new_box_takes_a_weak_detection_where_it_goes():
    # 7 and 6 are shown; the model also saw a 2 between them, too weakly to show it. Typing 725
    # keeps 7, puts the new 2 on that detection and relabels the 6 as 5 (instead of adding a box
    # after the row, where there is room but nothing was seen)
    boxes = [_box(-1, 31, 7, 0.98, y=2, w=19, h=40), _box(-2, 58, 6, 0.62, y=8, w=20, h=40)]
    weak = [((47.0, 5.0, 15.0, 41.0), 0.25), ((59.0, 8.0, 18.0, 40.0), 0.47), ((200.0, 5.0, 15.0, 41.0), 0.4)]
    plan = plan_number(boxes, "725", (107, 50), weak)
    assert plan.slots == (
        Slot(-1, (31, 2, 19, 40), 7),
        Slot(None, (47.0, 5.0, 15.0, 41.0), 2),
        Slot(-2, (58, 8, 20, 40), 5),
    )
    # without it, the new digit follows the row
    assert [s.key for s in plan_number(boxes, "725", (107, 50)).slots] == [-1, -2, None]


def _seen(**by_digit) -> tuple[float, ...]:
    """Ten class scores, e.g. _seen(d8=0.97, d4=0.3)."""
    out = [0.0] * 10
    for k, v in by_digit.items():
        out[int(k[1:])] = v
    return tuple(out)


def test_more_boxes_keeps_the_boxes_where_the_model_saw_the_typed_digits():
    # a photo read 8116; on the third and fourth glyphs the model also saw 4s, less surely
    boxes = [_box(-1, 0, 8, 0.97), _box(-2, 12, 1, 0.96), _box(-3, 24, 1, 0.6), _box(-4, 36, 6, 0.7)]
    seen = {
        -1: _seen(d8=0.97),
        -2: _seen(d1=0.96),
        -3: _seen(d1=0.6, d4=0.4),
        -4: _seen(d6=0.7, d4=0.35),
    }
    plan = plan_number(boxes, "44", None, class_scores=seen)
    assert [s.key for s in plan.slots] == [-3, -4] and plan.removed == (-1, -2)
    assert [s.digit for s in plan.slots] == [4, 4] and plan.sure and plan.doubt == ""
    # knowing only the digits shown, the choice is the two best-scored boxes: a guess, and said so
    plan = plan_number(boxes, "44", None)
    assert [s.key for s in plan.slots] == [-1, -2]
    assert not plan.sure and "saw no 4" in plan.doubt
    # order counts: 4 then 8 cannot take the 8 before the 4s
    plan = plan_number(boxes, "48", None, class_scores=seen)
    assert not plan.sure
    # two boxes that fit as well as each other: a guess too
    plan = plan_number([_box(-1, 0, 1, 0.9), _box(-2, 12, 1, 0.9), _box(-3, 24, 9, 0.9)], "19", None)
    assert not plan.sure and "about as well" in plan.doubt
    # the typed digits on the boxes that show them, one box left over: sure
    boxes = [_box(-1, 0, 1, 0.9), _box(-2, 12, 1, 0.9), _box(-3, 24, 7, 0.6), _box(-4, 36, 9, 0.9)]
    plan = plan_number(boxes, "119", None)
    assert [s.key for s in plan.slots] == [-1, -2, -4] and plan.sure


def test_a_number_placed_by_geometry_alone_is_unsure():
    assert not plan_number([], "07", (200, 100)).sure
    plan = plan_number([_box(-1, 0, 1, 0.9, y=8, h=20), _box(-2, 12, 9, 0.9, y=12, h=24)], "195", (100, 40))
    assert not plan.sure and "1 new box placed by the row's spacing" in plan.doubt
    assert plan_number([_box(-1, 0, 1, 0.9), _box(-2, 12, 9, 0.9)], "27", (100, 40)).sure


def _detections(*items):
    """(x, y, w, h, score, digit) rows -> what the model saw: boxes, scores, digits."""
    a = np.array(items, np.float64)
    return a[:, :4].astype(np.float32), a[:, 4].astype(np.float32), a[:, 5].astype(np.int64)


def test_an_unsure_choice_gives_way_to_the_placement_over_everything_the_model_saw():
    # "S0374" on a bib: shown are the S (read 5), the 0 and the 3; the 7 and the 4 were seen at
    # 0.4 and 0.45, under the threshold. Typing 0374 on the shown boxes alone is a guess
    det = _detections(
        (0, 0, 10, 20, 0.7, 5),
        (12, 0, 10, 20, 0.9, 0),
        (24, 0, 10, 20, 0.85, 3),
        (36, 1, 10, 19, 0.4, 7),
        (48, 0, 10, 20, 0.45, 4),
    )
    shown = [
        _box(k, x, dg, sc, y=0) for k, x, dg, sc in ((-1, 0, 5, 0.7), (-2, 12, 0, 0.9), (-3, 24, 3, 0.85))
    ]
    assert not plan_number(shown, "0374", (60, 20)).sure
    plan = plan_placed(shown, "0374", det)
    assert plan is not None and plan.sure and plan.doubt == ""
    assert plan.slots == (
        Slot(-2, (12, 0, 10, 20), 0),  # shown boxes keep their keys and rects
        Slot(-3, (24, 0, 10, 20), 3),
        Slot(None, (36.0, 1.0, 10.0, 19.0), 7),  # new boxes on the detections the model made there
        Slot(None, (48.0, 0.0, 10.0, 20.0), 4),
    )
    assert plan.removed == (-1,)  # the S is no digit
    # with more digits than the model saw spots, or two spots that fit as well, there is none
    assert plan_placed(shown, "037414", det) is None
    row = _detections((0, 0, 10, 20, 0.9, 1), (12, 0, 10, 20, 0.9, 1), (24, 0, 10, 20, 0.9, 9))
    assert plan_placed([], "19", row) is None


def _predicted_window(qtbot, win, folder):
    """The window on ``folder``, every photo predicted, active, the canvas focused."""
    from guihelpers import wait_model, wait_predicted, wait_shown
    from PySide6.QtWidgets import QApplication

    assert win.open_folder(folder)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    wait_predicted(qtbot, win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    win.canvas.setFocus()
    return win


def test_typing_keeps_the_boxes_the_model_saw_the_digits_on_and_a_guess_stays_unreviewed(
    qtbot, window, plain_folder
):
    from guihelpers import type_number

    win = _predicted_window(qtbot, window, plain_folder)
    doc, row = win.doc, win.doc.current
    w, h = doc.current_entry.size
    bw, bh, y = w / 8, h / 2, h / 4
    xs = [w / 10 + k * bw * 1.2 for k in range(4)]
    # the model read 8116 (8 and the first 1 best scored) and saw 4s, less surely, on the last two
    rects = [(x, y, bw, bh) for x in xs] + [(xs[2], y, bw, bh), (xs[3] + 1, y, bw, bh)]
    pred = Prediction(
        np.asarray(rects, np.float32),
        np.asarray([0.97, 0.96, 0.6, 0.7, 0.4, 0.35], np.float32),
        np.asarray([8, 1, 1, 6, 4, 4]),
    )
    doc.set_predictions([(row, pred, (w, h), None)])
    doc.set_threshold(0.5)
    assert doc.reading().text == "8116"

    type_number(qtbot, win, "44")
    kept = sorted(doc.current_entry.layer.boxes, key=lambda b: b.x)
    assert [b.digit for b in kept] == [4, 4]
    assert [b.x for b in kept] == pytest.approx([xs[2], xs[3]], abs=0.01)  # not the 8 and the 1
    assert doc.current_entry.layer.status == Status.EDITED and "guess" not in win.statusBar().currentMessage()

    # a reviewed image stays reviewed where the typed digits were seen ...
    doc.undo_stack.undo()
    doc.mark_reviewed(row)
    type_number(qtbot, win, "44")
    assert doc.current_entry.layer.status == Status.REVIEWED and doc.reading().text == "44"
    # ... and becomes unreviewed, saying so, where the boxes kept are a guess: 7 was seen nowhere
    type_number(qtbot, win, "7")
    assert doc.reading().text == "7"  # applied all the same: the person asked for it
    assert doc.current_entry.layer.status == Status.EDITED
    message = win.statusBar().currentMessage()
    assert "guess" in message and "saw no 7" in message and "unreviewed" in message


def test_typing_a_number_the_model_half_saw_places_it_over_its_weak_detections(qtbot, window, plain_folder):
    from guihelpers import type_number
    from PySide6.QtCore import Qt

    win = _predicted_window(qtbot, window, plain_folder)
    doc, row = win.doc, win.doc.current
    w, h = doc.current_entry.size
    bw, bh, y = w / 8, h / 2, h / 4
    xs = [w / 10 + k * bw * 1.2 for k in range(5)]
    # a bib "S0374": the S read as 5, the 0 and the 3 shown; the 7 and the 4 seen under the threshold
    pred = Prediction(
        np.asarray([(x, y, bw, bh) for x in xs], np.float32),
        np.asarray([0.7, 0.9, 0.85, 0.4, 0.45], np.float32),
        np.asarray([5, 0, 3, 7, 4]),
    )
    doc.set_predictions([(row, pred, (w, h), None)])
    doc.set_threshold(0.5)
    assert doc.reading().text == "503"

    type_number(qtbot, win, "0374")
    kept = sorted(doc.current_entry.layer.boxes, key=lambda b: b.x)
    assert [b.digit for b in kept] == [0, 3, 7, 4]
    assert [b.x for b in kept] == pytest.approx(xs[1:], abs=0.01)  # on the model's spots, not the S
    assert doc.typing_doubt == "" and "guess" not in win.statusBar().currentMessage()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Space)  # sure: Space marks it reviewed (and moves on)
    assert doc.entries[row].layer.status == Status.REVIEWED

    # the review and the typing are an undo step each: two bring the model's reading back
    doc.undo_stack.undo()
    assert doc.reading(row).text == "0374"
    doc.undo_stack.undo()
    assert doc.reading(row).text == "503" and not doc.entries[row].layer.boxes
