"""Read inside a box: R (or Image ▸ Read inside a box), drag a rectangle around a number the
model missed, and the model reads just that region; the result shows as predictions there,
undoable like any edit, saved and journaled like any edit."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from guihelpers import drag, type_number, wait_model, wait_predicted, wait_shown
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from digitgui import project_file, project_store
from digitgui.edits import with_read
from digitgui.state import (
    ImageEntry,
    Layer,
    Prediction,
    RegionRead,
    Status,
    merge_reads,
    predictions,
    shown_boxes,
)
from trainer.paths import DEFAULT_MODEL
from trainer.region import mostly_inside
from trainer.synth import render_sample

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no bundled default model")


def on_digit(gt, box) -> bool:
    """A box lands on a digit: its centre inside the digit's ink box, overlapping it well."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    x1, y1 = max(gt[0], box[0]), max(gt[1], box[1])
    x2, y2 = min(gt[0] + gt[2], box[0] + box[2]), min(gt[1] + gt[3], box[1] + box[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    iou = inter / (gt[2] * gt[3] + box[2] * box[3] - inter)
    return gt[0] <= cx <= gt[0] + gt[2] and gt[1] <= cy <= gt[1] + gt[3] and iou >= 0.3


def small_number_photo(path: Path, seed: int = 0, k: float = 0.5, at=(500, 600)):
    """A blank 1600x1200 photo with a synthetic number shrunk by ``k``: too small for the
    whole-image pass. Returns (its text, its digits' boxes, the rectangle to drag around it)."""
    crop, boxes = render_sample(random.Random(seed))
    small = crop.resize((round(crop.width * k), round(crop.height * k)), Image.BILINEAR)
    scene = Image.new("RGB", (1600, 1200), (200, 200, 200))
    scene.paste(small, at)
    scene.save(path)
    digits = [((x * k + at[0], y * k + at[1], w * k, h * k), d) for (x, y, w, h), d in boxes]
    text = "".join(str(d) for _, d in sorted(digits, key=lambda b: b[0][0]))
    b = np.array([r for r, _ in digits])
    m = 0.4 * float(np.median(b[:, 3]))
    x0, y0 = b[:, 0].min() - m, b[:, 1].min() - m
    x1, y1 = (b[:, 0] + b[:, 2]).max() + m, (b[:, 1] + b[:, 3]).max() + m
    return text, digits, (x0, y0, x1 - x0, y1 - y0)


@pytest.fixture
def missed(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    # a number the whole-image pass (scale search included) does not find at all
    text, digits, rect = small_number_photo(folder / "1.png", seed=6)
    Image.new("RGB", (400, 300), (120, 140, 160)).save(folder / "2.png")
    return folder, text, digits, rect


def open_predicted(qtbot, make_window, folder):
    win = make_window(model="default")
    assert win.open_folder(folder)
    wait_model(qtbot, win, timeout=60000)
    wait_shown(qtbot, win)
    wait_predicted(qtbot, win, timeout=60000)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=5000)
    return win


def in_rect(win, rect) -> list:
    return [s for s in win.doc.shown() if not s.checked and mostly_inside(np.array([s.rect]), rect)[0]]


@needs_model
def test_r_and_a_drag_read_a_missed_number_undo_redo_and_reopen(qtbot, make_window, missed):
    folder, text, digits, rect = missed
    win = open_predicted(qtbot, make_window, folder)
    row, e = win.doc.current, win.doc.current_entry
    x, y, w, h = rect
    assert not in_rect(win, rect) and win.doc.reading().text != text  # the model missed it
    before = win.doc.shown()
    # R from the image list (not the canvas) arms the read, with its own cursor
    view = win.image_list.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert win.canvas.region_armed and not win.canvas.draw_armed
    assert win.canvas.viewport().cursor().shape() == Qt.CursorShape.BitmapCursor
    with qtbot.waitSignal(win.doc.layer_applied, timeout=30000):
        drag(qtbot, win.canvas, (x, y), (x + w, y + h))
        assert win.canvas.region_shown is not None  # the dashed rectangle stays while it is read
        assert not win.canvas.region_armed
    assert win.canvas.region_shown is None
    (read,) = e.layer.reads
    assert read.rect == pytest.approx(rect, abs=3)  # within a screen pixel at this zoom
    assert e.layer.status == Status.EDITED and e.layer.boxes == ()
    assert win.doc.reading().text == text
    found = in_rect(win, read.rect)
    for gt, d in digits:  # boxes in the photo's own pixels, on the pasted digits
        assert any(on_digit(gt, s.rect) and s.digit == d for s in found), (gt, found)
    assert win.doc.undo_stack.count() == 1
    assert text in win.statusBar().currentMessage()

    # the model predicting the whole image again keeps the read the person asked for
    old = e.pred
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000):
        win.inference.predict_all([(e.name, e.path)])
    assert e.pred is not old and e.layer.reads == (read,)
    assert win.doc.reading().text == text

    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert e.layer.reads == () and e.layer.status == Status.NOT_SEEN
    assert win.doc.shown() == before
    qtbot.keyClick(
        win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert e.layer.reads == (read,) and win.doc.reading().text == text
    qtbot.waitUntil(lambda: not win.store.pending, timeout=5000)
    saved = project_file.read_project(folder / project_store.PROJECT_NAME)[0].layers[e.name]
    assert saved.reads == (read,)
    win.close()

    win2 = make_window(model="default")
    assert win2.open_folder(folder)
    e2 = win2.doc.entry(row)
    assert e2.layer.reads == (read,) and e2.layer.status == Status.EDITED
    assert win2.doc.reading(row).text == text


@needs_model
def test_esc_cancels_nothing_found_changes_nothing_and_a_late_read_is_dropped(qtbot, make_window, missed):
    folder, text, _digits, rect = missed
    win = open_predicted(qtbot, make_window, folder)
    e = win.doc.current_entry
    layer = e.layer
    canvas, vp = win.canvas, win.canvas.viewport()
    # Esc in the middle of the drag: no read is asked for
    win.actions_by_name["read_box"].trigger()
    assert canvas.region_armed
    a, b = canvas.view_pos(100, 100), canvas.view_pos(300, 250)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(vp, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    assert canvas.region_shown is not None
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    assert canvas.region_shown is None and not canvas.region_armed and not win.region_reader.waiting
    # a blank part of the photo: said in the status bar, nothing changes
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    with qtbot.waitSignal(win.inference.region_result, timeout=30000):
        drag(qtbot, canvas, (100, 100), (300, 250))
    assert "No digit found" in win.statusBar().currentMessage()
    assert e.layer is layer and win.doc.undo_stack.count() == 0
    # the person opens the next image before the read arrives: it is dropped
    x, y, w, h = rect
    qtbot.keyClick(canvas, Qt.Key.Key_R)
    with qtbot.waitSignal(win.inference.region_result, timeout=30000):
        drag(qtbot, canvas, (x, y), (x + w, y + h))
        qtbot.keyClick(canvas, Qt.Key.Key_D)
        assert win.doc.current == 1
    assert e.layer is layer and win.doc.undo_stack.count() == 0 and win.doc.current == 1


# ------------------------------------------------------------------ the data, without a window


def _entry(pred, layer=Layer()):
    return ImageEntry("1.png", Path("1.png"), 1, (200, 100), layer, pred)


def test_a_read_replaces_the_predictions_inside_its_rectangle_and_keeps_the_rest():
    pred = Prediction(
        np.array([[10, 10, 8, 16], [100, 10, 8, 16], [150, 60, 8, 16]], np.float32),
        np.array([0.9, 0.3, 0.8], np.float32),
        np.array([1, 7, 4], np.int64),
        "whole",
    )
    read = RegionRead.of((90, 0, 40, 40), [[100, 11, 9, 17], [110, 11, 9, 17]], [0.95, 0.9], [2, 5], "m")
    merged = merge_reads(pred, (read,))
    assert merged.boxes.tolist() == [[10, 10, 8, 16], [150, 60, 8, 16], [100, 11, 9, 17], [110, 11, 9, 17]]
    assert merged.digits.tolist() == [1, 4, 2, 5] and merged.model == "whole"
    e = _entry(pred, with_read(Layer(), read))
    assert e.layer.status == Status.EDITED
    assert predictions(e) is predictions(e)  # cached while neither changes
    assert [s.digit for s in shown_boxes(e, 0.5)] == [1, 4, 2, 5]
    assert predictions(_entry(None, e.layer)).digits.tolist() == [2, 5]  # before the whole image
    # a later read over the same spot wins; one it covers wholly is dropped from the layer
    again = RegionRead.of((95, 5, 30, 30), [[101, 11, 9, 17]], [0.7], [3])
    assert with_read(e.layer, again).reads == (again,)
    beside = RegionRead.of((0, 0, 30, 40), [[10, 11, 9, 17]], [0.99], [8])
    assert with_read(e.layer, beside).reads == (read, beside)


def test_a_read_survives_the_journal_and_project_file_record():
    read = RegionRead.of((90.123, 0, 40, 40), [[100, 11, 9, 17]], [0.951234567], [2], "abc")
    layer = with_read(Layer(), read)
    back = project_file.parse_layer(project_file.layer_json(layer))
    assert back == layer
    bad = project_file.layer_json(layer)
    bad["reads"][0]["boxes"][0][4] = 12  # not a digit
    with pytest.raises(ValueError):
        project_file.parse_layer(bad)


@needs_model
def test_a_guessed_number_has_its_region_read_again_and_lands_on_the_digits_found(qtbot, make_window, missed):
    folder, text, digits, _rect = missed
    win = open_predicted(qtbot, make_window, folder)
    doc, row, e = win.doc, win.doc.current, win.doc.current_entry
    ordered = sorted(digits, key=lambda b: b[0][0])
    (mid, mid_digit) = ordered[1]
    # the model saw only the middle digit of the small number "174"
    seen = Prediction(np.asarray([mid], np.float32), np.asarray([0.6], np.float32), np.asarray([mid_digit]))
    doc.set_predictions([(row, seen, e.size, None)])
    doc.set_threshold(0.5)
    assert len(text) == 3 and doc.reading().text == str(mid_digit)
    win.canvas.setFocus()

    with qtbot.waitSignal(win.predictions.region_finished, timeout=60000):
        type_number(qtbot, win, text)
        assert doc.typing_doubt  # two new boxes placed by the row's spacing alone
        guess = e.layer
        assert win.canvas.region_shown is not None and "again" in win.statusBar().currentMessage()
    kept = sorted(e.layer.boxes, key=lambda b: b.x)
    assert "".join(str(b.digit) for b in kept) == text and doc.typing_doubt == "", (
        win.statusBar().currentMessage()
    )
    for (gt, _d), b in zip(ordered, kept):
        assert on_digit(gt, (b.x, b.y, b.w, b.h)), (gt, b)
    assert e.layer.status == Status.EDITED and "review it" in win.statusBar().currentMessage()
    assert win.canvas.region_shown is None
    # the read replaced the guess as its own undo step: undo shows the guess, then the model's reading
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert e.layer is guess
    doc.undo_stack.undo()
    assert e.layer.boxes == () and doc.reading().text == str(mid_digit)

    # a read that arrives after the person went on changes nothing
    with qtbot.waitSignal(win.predictions.region_finished, timeout=60000):
        type_number(qtbot, win, text)
        guess = e.layer
        doc.delete_box(e.layer.boxes[0].id)
        edited = e.layer
    assert e.layer is edited and e.layer is not guess
