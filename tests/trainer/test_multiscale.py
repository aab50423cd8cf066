"""The scale search: numbers that fill a small part of a big photo, and images that are odd."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from trainer.multiscale import (
    ScaleSearch,
    number_region,
    plan_levels,
    search_image,
    tile_grid,
)
from trainer.numbers import group_numbers, pick_number, read_number
from trainer.paths import DEFAULT_MODEL
from trainer.synth import render_sample

needs_model = pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no bundled default model")


def scene_background(w: int, h: int, seed: int) -> Image.Image:
    """A smooth colour gradient with mild grain (no digit-like marks)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(60, 190, 3).astype(np.float32)
    arr = base + 40 * np.stack([xx / w, yy / h, (xx + yy) / (w + h)], axis=-1)
    arr += rng.normal(0, 3, arr.shape).astype(np.float32)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def on_digit(gt, box) -> bool:
    """A predicted box lands on a digit: its centre inside the digit's ink box, overlapping it well.

    Synthetic boxes are tight ink boxes; the model draws SVHN-style boxes a little larger.
    """
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return gt[0] <= cx <= gt[0] + gt[2] and gt[1] <= cy <= gt[1] + gt[3] and iou(gt, box) >= 0.3


@pytest.fixture(scope="module")
def predictors():
    from trainer.predict import Predictor

    return (
        Predictor("default", "cpu", 8, num_workers=0, scales="single"),
        Predictor("default", "cpu", 8, num_workers=0, scales="auto"),
    )


@pytest.fixture(scope="module")
def readable_numbers(predictors):
    """Synthetic numbers (image, [(xywh, digit)]) that today's single pass reads right as crops."""
    single = predictors[0]
    found = []
    for seed in range(60):
        img, boxes = render_sample(random.Random(seed))
        if not boxes:
            continue
        truth = int("".join(str(d) for _, d in sorted(boxes, key=lambda b: b[0][0] + b[0][2] / 2)))
        res = single.predict_images([img])[0]
        if read_number(res.boxes, res.scores, res.digits, single.score_thresh).number == truth:
            found.append((img, boxes, truth))
        if len(found) == 6:
            break
    assert found, "the bundled model reads none of the synthetic crops"
    return found


# ------------------------------------------------------------------ pure parts


def test_tiles_cover_the_image_with_overlap_and_one_size():
    grid = tile_grid(1000, 450, 320, 96)
    assert {(x1 - x0, y1 - y0) for x0, y0, x1, y1 in grid} == {(320, 320)}
    covered = np.zeros((450, 1000), bool)
    for x0, y0, x1, y1 in grid:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({g[0] for g in grid})
    assert all(b - a <= 320 - 96 for a, b in zip(xs, xs[1:]))
    assert tile_grid(50, 30, 320, 96) == [(0, 0, 50, 30)]


def test_levels_magnify_in_steps_within_the_scale_and_pixel_limits():
    cfg = ScaleSearch(step=2.0, max_scale=2.0, max_pixels=2_000_000)
    levels = plan_levels(600, 300, 0.37, cfg)
    assert levels == pytest.approx([0.74, 1.48])
    assert plan_levels(60, 30, 3.7, cfg) == []  # a crop is already magnified enough
    big = plan_levels(4000, 3000, 0.037, cfg)
    assert sum(4000 * 3000 * s * s for s in big) <= cfg.max_pixels
    assert big and all(b == pytest.approx(a * 2) for a, b in zip(big, big[1:]))


def test_digits_in_a_row_make_one_number_and_distant_marks_another():
    row = np.array([[100, 100, 120, 140], [124, 101, 144, 141], [148, 99, 168, 139]], np.float32)
    far = np.array([[600, 400, 650, 500]], np.float32)
    groups = group_numbers(np.concatenate([row, far]))
    assert sorted(sorted(g.tolist()) for g in groups) == [[0, 1, 2], [3]]
    x0, y0, x1, y1 = number_region(row, 1000, 600, ScaleSearch())
    assert x0 < 100 and y0 < 99 and x1 > 168 and y1 > 141  # padded around the digits
    assert number_region(row, 150, 130, ScaleSearch())[2:] == (150, 130)  # inside the image


def test_the_most_confident_number_is_read_and_stray_marks_drop_below_the_threshold():
    row = np.array([[100, 100, 120, 140], [124, 101, 144, 141]], np.float32)
    stray = np.array([[600, 400, 650, 500]], np.float32)
    boxes = np.concatenate([row, stray])
    scores = np.array([0.9, 0.85, 0.95], np.float32)
    out = pick_number(boxes, scores, 0.5)
    assert out[:2].tolist() == scores[:2].tolist()
    assert out[2] < 0.5


def test_one_large_false_digit_does_not_stop_the_search_for_a_small_number():
    img = Image.new("RGB", (800, 600), (120, 120, 120))
    spec = {"mode": "keep", "min_size": 112, "max_size": 448}
    cfg = ScaleSearch()
    base = 112 / 600
    # the whole-image pass (in model pixels) sees one big "digit" (a door, say) filling half
    # the height: a crop shows two or more such digits; one alone must not end the search
    first = {
        "boxes": np.array([[20, 10, 50, 66]], np.float32),
        "scores": np.array([0.9], np.float32),
        "labels": np.array([8], np.int64),
    }
    calls = []

    def run(tensors):
        outs = []
        for t in tensors:
            calls.append(tuple(t.shape[1:]))
            empty = np.zeros((0, 4), np.float32)
            outs.append({"boxes": empty, "scores": np.zeros(0, np.float32), "labels": np.zeros(0, np.int64)})
        return outs

    search_image(img, first, (base, base), run, spec, cfg, 8, 0.5)
    assert calls, "no search: one large digit alone was taken for a crop"
    # two confident tall digits side by side are a crop: no search
    calls.clear()
    two = {
        "boxes": np.array([[20, 10, 50, 66], [52, 10, 82, 66]], np.float32),
        "scores": np.array([0.9, 0.9], np.float32),
        "labels": np.array([8, 3], np.int64),
    }
    res = search_image(img, two, (base, base), run, spec, cfg, 8, 0.5)
    assert not calls and len(res["boxes"]) == 2


# ------------------------------------------------------------------ with the bundled model


@pytest.mark.slow
@needs_model
def test_a_small_number_in_a_big_scene_is_found_on_its_digits(predictors, readable_numbers):
    single, auto = predictors
    hits = 0
    for i, (crop, boxes, truth) in enumerate(readable_numbers):
        k = 6
        scene = scene_background(crop.width * k, crop.height * k, seed=i)
        at = (crop.width * (k - 2), crop.height * 2)
        scene.paste(crop, at)
        res = auto.predict_images([scene])[0]
        assert (res.width, res.height) == scene.size
        reading = read_number(res.boxes, res.scores, res.digits, auto.score_thresh)
        if reading.number != truth:
            continue
        hits += 1
        read = [(res.boxes[j], int(res.digits[j])) for j in reading.kept]
        for (x, y, w, h), d in boxes:  # in scene pixels: every pasted digit has its box
            gt = (x + at[0], y + at[1], w, h)
            assert any(on_digit(gt, b) and d == dd for b, dd in read), (gt, read)
    assert hits >= len(readable_numbers) // 2, f"{hits} of {len(readable_numbers)} read in the scene"


@needs_model
def test_crops_read_the_same_with_both_modes(predictors, readable_numbers):
    single, auto = predictors
    crops = [c for c, _, _ in readable_numbers]
    for a, b in zip(single.predict_images(crops), auto.predict_images(crops)):
        ra = read_number(a.boxes, a.scores, a.digits, single.score_thresh)
        rb = read_number(b.boxes, b.scores, b.digits, auto.score_thresh)
        assert ra.number == rb.number


@needs_model
def test_a_one_pixel_image_gives_an_empty_or_clipped_result(predictors, tmp_path):
    _, auto = predictors
    path = tmp_path / "1.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(path)
    (res,) = list(auto.predict_paths([path]))
    assert res.error is None and (res.width, res.height) == (1, 1)
    assert (res.boxes[:, :2] >= 0).all() and (res.boxes[:, :2] + res.boxes[:, 2:] <= 1 + 1e-4).all()


@pytest.mark.slow
@needs_model
def test_a_panorama_costs_a_bounded_amount_of_model_work(predictors, tmp_path):
    _, auto = predictors
    path = tmp_path / "pano.png"
    pano = Image.new("RGB", (20000, 2000), (90, 120, 150))
    pano.paste(scene_background(2000, 2000, seed=3), (9000, 0))
    pano.save(path, compress_level=1)
    run, pixels = auto._run, []

    def counting(tensors):
        pixels.extend(t.shape[1] * t.shape[2] for t in tensors)
        return run(tensors)

    auto._run = counting
    try:
        (res,) = list(auto.predict_paths([path]))
    finally:
        del auto._run
    assert res.error is None and (res.width, res.height) == (20000, 2000)
    assert (res.boxes[:, 0] >= 0).all() and (res.boxes[:, 0] + res.boxes[:, 2] <= 20000 + 1e-3).all()
    cfg = auto.search
    bound = 112 * 320 + cfg.max_pixels * 1.5 + cfg.max_regions * 112 * 320
    assert sum(pixels) <= bound


@pytest.mark.slow
@needs_model
def test_a_photo_of_forty_numbers_reads_one_of_them(predictors, readable_numbers):
    _, auto = predictors
    cell = max(max(c.width, c.height) for c, _, _ in readable_numbers) + 40
    scene = scene_background(cell * 8, cell * 5, seed=9)
    placed = []
    for n in range(40):
        crop, boxes, truth = readable_numbers[n % len(readable_numbers)]
        at = ((n % 8) * cell + 20, (n // 8) * cell + 20)
        scene.paste(crop, at)
        placed.append((at[0], at[1], crop.width, crop.height))
    res = auto.predict_images([scene])[0]
    reading = read_number(res.boxes, res.scores, res.digits, auto.score_thresh)
    assert reading.number != -1
    centres = [
        (res.boxes[j, 0] + res.boxes[j, 2] / 2, res.boxes[j, 1] + res.boxes[j, 3] / 2) for j in reading.kept
    ]
    inside = {
        i
        for i, (x, y, w, h) in enumerate(placed)
        for cx, cy in centres
        if x <= cx <= x + w and y <= cy <= y + h
    }
    assert len(inside) == 1  # one number, not digits gathered from all over the photo
    found = {
        i for i, (x, y, w, h) in enumerate(placed) for b in res.boxes if iou((x, y, w, h), b) > 0 and b[2] > 4
    }
    assert len(found) >= 20  # the others are still there, scored below the threshold
