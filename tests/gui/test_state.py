"""Pure document state: what is drawn, read and accepted is one set of boxes."""

import numpy as np

from digitgui.edits import reviewed
from digitgui.state import ImageEntry, Layer, Prediction, Status, reading, shown_boxes


def _entry(boxes, scores, digits, status=Status.NOT_SEEN):
    pred = Prediction(np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(digits))
    return ImageEntry("1.png", __import__("pathlib").Path("1.png"), 1, (100, 40), Layer(status=status), pred)


def test_overlapping_predictions_with_other_digits_are_one_box_everywhere():
    # "1" and "7" on the same spot, and a "2" beside them: the image reads 12 or 72, never 172
    e = _entry([[10, 5, 10, 20], [11, 5, 10, 20], [30, 5, 10, 20]], [0.9, 0.6, 0.95], [1, 7, 2])
    assert reading(e, 0.5).number == 12
    assert [s.digit for s in shown_boxes(e, 0.5)] == [1, 2]
    ids = iter(range(1, 10))
    layer = reviewed(e, 0.5, lambda: next(ids))
    assert sorted(b.digit for b in layer.boxes) == [1, 2]
    e.layer = layer
    assert reading(e, 0.5).number == 12
