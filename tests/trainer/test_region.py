"""Reading inside a box: the region a person points at is read at the model's best scale."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from trainer.errors import DigitError
from trainer.numbers import read_number
from trainer.paths import DEFAULT_MODEL
from trainer.region import clip_rect, fraction_inside, mostly_inside, padded_crop
from trainer.synth import render_sample

from .test_multiscale import on_digit

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no bundled default model")


# ------------------------------------------------------------------ pure parts


def test_a_rectangle_is_normalised_and_cut_to_the_image():
    assert clip_rect((10, 20, 30, 40), 100, 100) == (10, 20, 30, 40)
    assert clip_rect((40, 60, -30, -40), 100, 100) == (10, 20, 30, 40)  # dragged up and left
    assert clip_rect((-5, 90, 20, 30), 100, 100) == (0, 90, 15, 10)
    for outside in ((100, 0, 10, 10), (0, -20, 10, 10), (5, 5, 0.5, 10), (float("nan"), 0, 1, 1)):
        with pytest.raises(DigitError):
            clip_rect(outside, 100, 100)


def test_the_crop_is_padded_by_the_rectangles_height_like_a_training_crop():
    # 40 px tall: 0.5 * 40 = 20 px left and right, 0.3 * 40 = 12 px above and below
    assert padded_crop((100, 100, 60, 40), 1000, 1000, 0.5, 0.3) == (80, 88, 180, 152)
    assert padded_crop((5, 2, 60, 40), 70, 50, 0.5, 0.3) == (0, 0, 70, 50)  # inside the image


def test_boxes_belong_to_a_rectangle_when_mostly_inside_it():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [8, 0, 10, 10], [50, 50, 4, 4], [1, 1, 0, 5]])
    assert fraction_inside(boxes, (0, 0, 10, 10)).tolist() == [1.0, 0.5, 0.2, 0.0, 0.0]
    assert mostly_inside(boxes, (0, 0, 10, 10)).tolist() == [True, True, False, False, False]
    assert fraction_inside(np.zeros((0, 4)), (0, 0, 1, 1)).shape == (0,)


# ------------------------------------------------------------------ with the bundled model


@pytest.fixture(scope="module")
def predictors():
    from trainer.predict import Predictor

    return (
        Predictor("default", "cpu", 8, num_workers=0, scales="single"),
        Predictor("default", "cpu", 8, num_workers=0, scales="auto"),
    )


def readable(single, count: int) -> list:
    """Synthetic numbers (image, [(xywh, digit)], text) the single pass reads right as crops."""
    found = []
    for seed in range(40):
        img, boxes = render_sample(random.Random(seed))
        if not boxes:
            continue
        text = "".join(str(d) for _, d in sorted(boxes, key=lambda b: b[0][0] + b[0][2] / 2))
        res = single.predict_images([img])[0]
        if read_number(res.boxes, res.scores, res.digits, single.score_thresh).text == text:
            found.append((img, boxes, text))
        if len(found) == count:
            break
    return found


def small_in_big(crop: Image.Image, boxes, at=(500, 600), k=0.5, size=(1600, 1200)):
    """``crop`` shrunk by ``k`` and pasted at ``at`` into a blank photo. Returns the photo, the
    digits' boxes in its pixels and the rectangle a person would drag around them."""
    small = crop.resize((max(1, round(crop.width * k)), max(1, round(crop.height * k))), Image.BILINEAR)
    scene = Image.new("RGB", size, (200, 200, 200))
    scene.paste(small, at)
    digits = [((x * k + at[0], y * k + at[1], w * k, h * k), d) for (x, y, w, h), d in boxes]
    b = np.array([r for r, _ in digits])
    m = 0.4 * float(np.median(b[:, 3]))
    x0, y0 = b[:, 0].min() - m, b[:, 1].min() - m
    x1, y1 = (b[:, 0] + b[:, 2]).max() + m, (b[:, 1] + b[:, 3]).max() + m
    return scene, digits, (x0, y0, x1 - x0, y1 - y0)


@needs_model
def test_a_small_number_missed_by_the_whole_image_is_read_inside_its_box(predictors, tmp_path):
    single, auto = predictors
    numbers = readable(single, 4)
    assert len(numbers) == 4, "the bundled model reads too few synthetic crops"
    for i, (crop, boxes, text) in enumerate(numbers):
        scene, digits, rect = small_in_big(crop, boxes)
        path = tmp_path / f"{i}.png"
        scene.save(path)
        whole = single.predict_images([scene])[0]
        assert read_number(whole.boxes, whole.scores, whole.digits, single.score_thresh).text != text
        for predictor, image in ((auto, path), (single, scene)):
            res = predictor.predict_region(image, rect)
            assert res.error is None and (res.width, res.height) == scene.size
            reading = read_number(res.boxes, res.scores, res.digits, predictor.score_thresh)
            assert reading.text == text, (i, reading.text, text)
            read = [(res.boxes[j], int(res.digits[j])) for j in reading.kept]
            for gt, d in digits:  # in the photo's own pixels: every pasted digit has its box
                assert any(on_digit(gt, b) and d == dd for b, dd in read), (gt, read)
            assert mostly_inside(res.boxes, rect).all()


@needs_model
def test_only_what_is_inside_the_box_comes_back(predictors):
    single, auto = predictors
    (crop, boxes, text), (crop2, boxes2, _text2) = readable(single, 2)
    scene, digits, rect = small_in_big(crop, boxes)
    other = crop2.resize((crop2.width // 2, crop2.height // 2))
    scene.paste(other, (int(rect[0] + rect[2] + 8), 600))  # another number just right of the box
    res = auto.predict_region(scene, rect)
    assert read_number(res.boxes, res.scores, res.digits, auto.score_thresh).text == text
    assert mostly_inside(res.boxes, rect).all()
    empty = auto.predict_region(scene, (50, 50, 200, 120))  # a blank part of the photo
    assert not (empty.scores >= auto.score_thresh).any()


@needs_model
def test_a_box_outside_the_image_or_an_unreadable_file_is_a_clear_answer(predictors, tmp_path):
    _, auto = predictors
    with pytest.raises(DigitError):
        auto.predict_region(Image.new("RGB", (50, 40)), (60, 0, 10, 10))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    res = auto.predict_region(bad, (0, 0, 10, 10))
    assert res.error and "bad.png" in res.error and len(res.boxes) == 0
