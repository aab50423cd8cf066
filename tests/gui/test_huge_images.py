"""Images too big for Qt's decoder: shown reduced, boxes in original pixels, predictions kept."""

from __future__ import annotations

import pytest
from guihelpers import drag, wait_model, wait_predicted, wait_shown
from PIL import Image, ImageDraw
from PySide6.QtCore import QRectF, Qt

from digitgui.state import UNKNOWN_DIGIT, Status

BIG = (12000, 9000)  # 108 million pixels: over Qt's 256 MB allocation limit as 32-bit pixels


def _big_image(path, size=BIG, mode="RGB") -> None:
    """A mostly flat image (compresses to a few hundred KB) with a dark square to find."""
    im = Image.new(mode, size, "white" if mode != "1" else 1)
    if mode != "1":
        ImageDraw.Draw(im).rectangle((6000, 4000, 6599, 4899), fill=(20, 20, 20))
    im.save(path)


@pytest.fixture
def huge_folder(tmp_path):
    folder = tmp_path / "huge"
    folder.mkdir()
    _big_image(folder / "1.jpg")
    _big_image(folder / "2.png")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("row", [0, 1], ids=["jpeg", "png"])
def test_huge_image_is_shown_in_original_pixels_and_keeps_its_prediction(qtbot, window, huge_folder, row):
    win = window
    assert win.open_folder(huge_folder)
    wait_model(qtbot, win)
    win.doc.set_current(row)
    wait_shown(qtbot, win, timeout=60000)
    e = win.doc.current_entry
    assert not win.canvas._note.isVisible(), win.canvas._note.text()
    assert e.error is None
    assert e.size == BIG
    # the picture may be decoded reduced, but on the scene it covers exactly the original pixels
    assert win.canvas._pixmap.sceneBoundingRect() == QRectF(0, 0, *BIG)
    assert win.canvas._pixmap.pixmap().width() * win.canvas._pixmap.pixmap().height() < BIG[0] * BIG[1]
    # the dark square is where the original pixels say, on the displayed picture
    shown = win.canvas._pixmap.pixmap().toImage()
    inv, ok = win.canvas._pixmap.sceneTransform().inverted()
    assert ok
    inside = inv.map(QRectF(6300, 4450, 1, 1).center()).toPoint()
    outside = inv.map(QRectF(5800, 4450, 1, 1).center()).toPoint()
    assert shown.pixelColor(inside).lightness() < 60 and shown.pixelColor(outside).lightness() > 200
    # the model reads the full image; its result stays and the image is not marked unreadable
    wait_predicted(qtbot, win, row, timeout=60000)
    assert e.pred is not None and e.error is None
    assert win.doc.status(row) == Status.PREDICTED
    text = win.image_list.model.data(win.image_list.model.index(row), Qt.ItemDataRole.DisplayRole)
    assert "unreadable" not in text
    # a box drawn over the square lands on it in original pixels (one screen pixel is ~20 image pixels)
    win.doc.set_threshold(0.99)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    drag(qtbot, win.canvas, (6000, 4000), (6600, 4900))
    (box,) = e.layer.boxes
    assert box.digit == UNKNOWN_DIGIT
    tol = 2.0 / win.canvas.zoom
    assert (box.x, box.y) == pytest.approx((6000, 4000), abs=tol)
    assert (box.w, box.h) == pytest.approx((600, 900), abs=tol)
    assert e.error is None


def test_image_that_truly_cannot_be_shown_names_the_cause(qtbot, window, tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    _big_image(folder / "1.png", (16000, 12000), mode="1")  # 192 Mpx: past the decompression-bomb guard
    Image.new("RGB", (64, 48), "white").save(folder / "2.png")
    win = window
    win.inference.request = lambda items: None  # only the display matters here
    assert win.open_folder(folder)
    wait_shown(qtbot, win, timeout=30000)
    note = win.canvas._note.text()
    assert win.canvas._note.isVisible()
    assert "1.png" in note and "16000x12000" in note and "Unable to read image data" not in note
    assert "million pixels" in note
    # a display failure is not a prediction failure: the engine decides whether the image is readable
    assert win.doc.entry(0).error is None
