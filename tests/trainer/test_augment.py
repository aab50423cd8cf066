"""Augmentations move boxes with the pixels: a box must still frame its digit afterwards."""

import random

import numpy as np
import pytest
from PIL import Image, ImageDraw

from trainer.data import Record
from trainer.engine import TrainDataset
from trainer.presets import get_preset
from trainer.scenes import SceneSpec, compose_scene, erase_digits
from trainer.transforms import compose_strips, digit_strips, stretch_width

BG = (40, 40, 40)


def _photo(boxes, colours, size=(120, 60)):
    """A flat photo with one solid rectangle ("digit") per box, each in its own colour."""
    img = Image.new("RGB", size, BG)
    d = ImageDraw.Draw(img)
    for b, c in zip(boxes, colours):
        d.rectangle([b[0], b[1], b[2] - 1, b[3] - 1], fill=c)
    return img


def _colour_inside(img, box):
    """Mean colour of the central half of a box."""
    a = np.asarray(img, np.float64)
    x1, y1, x2, y2 = box
    cx1, cx2 = x1 + (x2 - x1) / 4, x2 - (x2 - x1) / 4
    cy1, cy2 = y1 + (y2 - y1) / 4, y2 - (y2 - y1) / 4
    return a[int(cy1) : int(np.ceil(cy2)), int(cx1) : int(np.ceil(cx2))].reshape(-1, 3).mean(0)


COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0)]


def test_strips_keep_each_digit_whole_and_labelled():
    boxes = np.array([[10, 10, 25, 50], [30, 12, 45, 50], [50, 10, 65, 48], [90, 10, 105, 50]], np.float32)
    labels = np.array([3, 1, 8, 10])
    img = _photo(boxes, COLOURS)
    strips = digit_strips(img, boxes, labels, random.Random(0))
    assert [s[2] for s in strips] == [3, 1, 8, 10]
    for (crop, box, _label), colour, orig in zip(strips, COLOURS, boxes):
        np.testing.assert_allclose(_colour_inside(crop, box), colour, atol=1)
        np.testing.assert_allclose(box[2:] - box[:2], orig[2:] - orig[:2], atol=1e-4)
        # a strip holds no pixels of its neighbours' colours
        other = [c for c in COLOURS if c != colour]
        pixels = {tuple(p) for p in np.asarray(crop).reshape(-1, 3)}
        assert not pixels & set(other)


def test_digits_overlapping_a_neighbour_are_not_cut_apart():
    boxes = np.array([[10, 10, 30, 50], [25, 10, 45, 50], [60, 10, 75, 50]], np.float32)
    strips = digit_strips(_photo(boxes, COLOURS[:3]), boxes, np.array([2, 3, 4]), random.Random(1))
    assert [s[2] for s in strips] == [4]


@pytest.mark.parametrize("seed", range(5))
def test_composed_number_boxes_frame_their_digits(seed):
    rng = random.Random(seed)
    strips = []
    for k, colour in enumerate(COLOURS):
        h = 40 + 20 * k  # photos of different sizes are brought to one height
        boxes = np.array([[8, 5, 8 + h // 3, 5 + h - 10]], np.float32)
        img = _photo(boxes, [colour], size=(h // 3 + 20, h))
        strips += digit_strips(img, boxes, np.array([k + 1]), rng)
    rng.shuffle(strips)
    img, boxes, labels = compose_strips(strips, rng)
    assert len(boxes) == len(labels) == 4
    assert (np.diff((boxes[:, 0] + boxes[:, 2]) / 2) > 0).all()  # left to right, no overlap
    for box, label in zip(boxes, labels):
        assert 0 <= box[0] < box[2] <= img.width and 0 <= box[1] < box[3] <= img.height
        np.testing.assert_allclose(_colour_inside(img, box), COLOURS[label - 1], atol=2)


def test_stretch_moves_boxes_with_the_pixels():
    boxes = np.array([[10, 10, 25, 50], [50, 10, 65, 48]], np.float32)
    img = _photo(boxes, COLOURS[:2])
    wide, wboxes = stretch_width(img, boxes.copy(), 1.25)
    assert wide.size == (150, 60)
    for box, colour in zip(wboxes, COLOURS):
        np.testing.assert_allclose(_colour_inside(wide, box), colour, atol=1)
    np.testing.assert_allclose(wboxes[:, 1::2], boxes[:, 1::2])


def test_training_samples_mix_recomposed_numbers(tmp_path):
    paths = []
    records = []
    for i in range(6):
        boxes = np.array([[10, 10, 25, 50], [35, 10, 50, 50]], np.float32)
        p = tmp_path / f"{i}.png"
        _photo(boxes, COLOURS[:2]).save(p)
        paths.append(p)
        records.append(Record(i, p, 120, 60, boxes, np.array([1, 2])))
    cfg = get_preset("default")
    cfg["recompose"] = 1.0
    ds = TrainDataset(records, cfg, True, seed=0)
    counts = set()
    for i in range(len(ds)):
        t, target = ds[i]
        assert t.shape[0] == 3 and len(target["boxes"]) == len(target["labels"]) > 0
        assert set(target["labels"].tolist()) <= {1, 2}
        counts.add(len(target["labels"]))
    # new numbers have other lengths than the photos' two digits
    assert counts != {2}


MAGENTA = (255, 0, 255)


def _near(img, colour, tol):
    a = np.asarray(img, np.float64)
    return bool((np.abs(a - np.array(colour)).max(axis=2) <= tol).any())


def test_erased_photos_keep_no_digit_pixels():
    boxes = np.array([[20, 10, 38, 52], [45, 10, 63, 52]], np.float32)
    img = _photo(boxes, [MAGENTA, MAGENTA])
    assert _near(img, MAGENTA, 40)
    clean = erase_digits(img, boxes)
    assert clean.size == img.size
    assert not _near(clean, MAGENTA, 40)
    # away from the digits the photo is untouched
    assert np.asarray(clean)[:, 75:].tolist() == np.asarray(img)[:, 75:].tolist()


@pytest.mark.parametrize("seed", range(8))
def test_a_scene_holds_the_number_small_with_every_box_on_its_digit(seed):
    rng = random.Random(seed)
    spec = SceneSpec()
    boxes = np.array([[20, 8, 40, 70], [46, 8, 66, 70], [72, 8, 92, 70]], np.float32)
    labels = np.array([1, 2, 3])
    number = _photo(boxes, COLOURS[:3], size=(112, 80))
    # backgrounds: photos whose own (magenta) digits must be painted over first
    bg_boxes = np.array([[30, 10, 50, 50]], np.float32)
    photos = [erase_digits(_photo(bg_boxes, [MAGENTA], size=(90, 60)), bg_boxes) for _ in range(3)]
    pick = lambda: rng.choice(photos)  # noqa: E731
    img, out, out_labels = compose_scene(number, boxes.copy(), labels, pick, rng, spec)
    assert img.width <= spec.max_width and img.height <= spec.max_height
    assert min(img.size) >= min(spec.min_side, spec.max_height)
    assert out_labels.tolist() == [1, 2, 3]
    heights = out[:, 3] - out[:, 1]
    assert float(np.median(heights)) <= spec.digit_px[1] + 1e-3
    for box, colour in zip(out, COLOURS):
        assert 0 <= box[0] < box[2] <= img.width and 0 <= box[1] < box[3] <= img.height
        np.testing.assert_allclose(_colour_inside(img, box), colour, atol=12)
    assert not _near(img, MAGENTA, 40)
    # the scene is bigger than the number: there is background around it
    assert img.width * img.height >= 1.4 * (out[:, 2].max() - out[:, 0].min()) * heights.max()


def test_a_photo_without_digits_makes_no_scene():
    img = Image.new("RGB", (50, 40), BG)
    empty = np.zeros((0, 4), np.float32)
    assert (
        compose_scene(img, empty, np.zeros(0, np.int64), lambda: img, random.Random(0), SceneSpec()) is None
    )


def test_scene_samples_are_built_at_model_scale(tmp_path):
    records = []
    for i in range(6):
        boxes = np.array([[10, 10, 25, 50], [35, 10, 50, 50]], np.float32)
        p = tmp_path / f"{i}.png"
        _photo(boxes, COLOURS[:2]).save(p)
        records.append(Record(i, p, 120, 60, boxes, np.array([1, 2])))
    cfg = get_preset("default")
    cfg["scene"], cfg["recompose"] = 1.0, 0.0
    spec = SceneSpec.from_config(cfg)
    ds = TrainDataset(records, cfg, True, seed=3)
    heights = []
    for i in range(len(ds)):
        t, target = ds[i]
        assert t.shape[1] <= spec.max_height and t.shape[2] <= spec.max_width
        assert target["labels"].tolist() == [1, 2]
        heights += (target["boxes"][:, 3] - target["boxes"][:, 1]).tolist()
    # crops are read with 40 px digits and more; scenes teach the small ones
    assert max(heights) <= spec.digit_px[1] + 1e-3 and min(heights) < 30
