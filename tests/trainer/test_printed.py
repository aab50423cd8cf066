"""Printed-number samples: exact boxes, letters unlabelled, bad fonts skipped."""

from __future__ import annotations

import logging
import random
import shutil

import numpy as np
import pytest
from PIL import Image

from trainer.data import Record
from trainer.paths import FONTS_DIR
from trainer.presets import get_preset
from trainer.printed import frame, printed_fonts, render_printed
from trainer.synth import make_dataset
from trainer.train_data import TrainDataset


def test_shipped_fonts_are_many_families_with_licences():
    fonts = printed_fonts()
    families = {f.path.rsplit("/", 1)[-1].split("-")[0].split("_")[0].split(".")[0] for f in fonts}
    assert len(families) >= 20, sorted(families)
    assert any(f.segments for f in fonts), "a seven-segment font"
    assert any("stencil" in f.path.lower() for f in fonts)
    licences = list(FONTS_DIR.glob("LICENSE-*.txt"))
    assert len(licences) >= 20


def test_a_bad_font_file_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    good = next(p for p in FONTS_DIR.iterdir() if p.name.startswith("DejaVuSans-Bold"))
    shutil.copy(good, tmp_path / good.name)
    (tmp_path / "Broken-Bold.ttf").write_bytes(b"not a font at all" * 10)
    with caplog.at_level(logging.WARNING, logger="trainer.printed"):
        fonts = printed_fonts(str(tmp_path))
    assert [f.path.rsplit("/", 1)[-1] for f in fonts] == [good.name]
    assert "Broken-Bold.ttf" in caplog.text
    img, boxes = render_printed(random.Random(0), fonts=fonts)  # generation goes on
    assert boxes


def test_boxes_frame_the_digits_ink_exactly():
    """Each box must contain its digit and nothing of the number's other digits: boxes come
    from masks, so a box never reaches into its neighbour by more than anti-aliasing."""
    for seed in range(40):
        img, boxes = render_printed(random.Random(seed))
        assert 1 <= len(boxes) <= 6
        w, h = img.size
        for (x, y, bw, bh), d in boxes:
            assert 0 <= d <= 9
            assert bw >= 1 and bh >= 1
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
        # left to right, as a number reads
        xs = [x + bw / 2 for (x, _, bw, _), _ in boxes]
        assert xs == sorted(xs), seed


def test_same_seed_same_photo_and_boxes():
    a_img, a_boxes = render_printed(random.Random(7))
    b_img, b_boxes = render_printed(random.Random(7))
    assert a_boxes == b_boxes
    assert np.array_equal(np.asarray(a_img), np.asarray(b_img))


def test_letters_beside_the_number_are_not_labelled(monkeypatch):
    """With a prefix forced on every bib, the image holds more glyphs than boxes."""
    import trainer.printed as printed

    found_prefix = 0
    for seed in range(60):
        rng = random.Random(seed)
        img, boxes = printed.render_printed(rng)
        # the truth is only ever digits, never more than the number's length
        assert all(0 <= d <= 9 for _, d in boxes)
    # the line builder puts letters before the number and labels only the digits
    rng = random.Random(1)
    font = printed.ImageFont.truetype(printed_fonts()[0].path, 30)
    for _ in range(50):
        line = printed._number_line(rng, "0374", "bib", font, font, 30)
        labelled = [c for c, i in line.chars if i is not None]
        assert labelled == list("0374")
        found_prefix += any(i is None for _, i in line.chars)
    assert found_prefix > 10


def test_make_dataset_printed_kind_writes_coco(tmp_path):
    ann = make_dataset(tmp_path, 6, seed=2, kind="printed")
    import json

    coco = json.loads(ann.read_text())
    assert len(coco["images"]) == 6
    assert coco["annotations"] and all(1 <= a["category_id"] <= 10 for a in coco["annotations"])
    for im in coco["images"]:
        with Image.open(tmp_path / "images" / im["file_name"]) as f:
            assert f.size == (im["width"], im["height"])
    with pytest.raises(ValueError):
        make_dataset(tmp_path / "x", 1, kind="nope")


def _one_photo_all_printed(synth_set) -> tuple[Record, dict]:
    """A training record of one synthetic photo, and a config whose samples are all printed."""
    images, _ = synth_set
    photo = next(images.iterdir())
    rec = Record(1, photo, boxes=np.array([[2, 2, 10, 20]], np.float32), labels=np.array([3]))
    cfg = get_preset("default")
    cfg.update(printed=1.0, recompose=0.0, scene=0.0)
    return rec, cfg


def test_training_samples_include_printed_numbers_on_the_training_photos(synth_set):
    rec, cfg = _one_photo_all_printed(synth_set)
    ds = TrainDataset([rec] * 4, cfg, augment=True, seed=0)
    for i in range(4):
        t, target = ds[i]
        assert t.shape[0] == 3
        assert len(target["boxes"]) == len(target["labels"]) >= 1
    cfg["printed"] = 0.0  # off: the photo itself, with its one box
    t, target = TrainDataset([rec], cfg, augment=False, seed=0)[0]
    assert target["labels"].tolist() == [3]


def test_with_text_the_letters_come_as_text_boxes_and_the_digits_are_unchanged():
    from trainer.printed import LIKE_DIGITS, TEXT, _is_text

    n_text = 0
    for seed in range(40):
        plain_img, plain = render_printed(random.Random(seed))
        img, boxes = render_printed(random.Random(seed), text=True)
        assert np.array_equal(np.asarray(plain_img), np.asarray(img)), seed
        digits = [b for b in boxes if b[1] != TEXT]
        text = [b for b in boxes if b[1] == TEXT]
        assert digits == plain, seed  # same digits, same order, same boxes
        w, h = img.size
        for (x, y, bw, bh), _ in text:
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h and bw >= 2 and bh >= 3
            for (dx, dy, dw, dh), _ in digits:  # a letter is not one of the digits
                ix = max(0.0, min(x + bw, dx + dw) - max(x, dx))
                iy = max(0.0, min(y + bh, dy + dh) - max(y, dy))
                assert ix * iy < 0.5 * min(bw * bh, dw * dh), seed
        n_text += len(text)
    assert n_text >= 40  # most bibs and plates carry letters
    assert not any(_is_text(c) for c in LIKE_DIGITS) and _is_text("S") and not _is_text("-")


def test_a_text_class_model_trains_on_its_letters_as_class_11(synth_set):
    rec, cfg = _one_photo_all_printed(synth_set)
    for text_class in (False, True):
        cfg["text_class"] = text_class
        ds = TrainDataset([rec] * 12, cfg, augment=True, seed=0)
        labels = {int(v) for i in range(12) for v in ds[i][1]["labels"]}
        assert (11 in labels) == text_class, labels
        assert labels - {11} <= set(range(1, 11))


def test_a_tight_frame_cuts_the_outer_digits_and_a_narrow_number_cut_at_both_ends_is_no_frame():
    boxes = [[100, 50, 30, 50], [135, 50, 30, 50]]  # two digits 50 px tall, x 100..165
    assert frame(boxes, [0.2, 0.2, 0.2, 0.2], (400, 200)) == (90, 40, 176, 111)
    # cut 10 px into each outer digit, and clipped to the image
    assert frame(boxes, [-0.2, 1.0, -0.2, 5.0], (400, 200)) == (110, 0, 156, 200)
    # a lone "1" 10 px wide, cut 15 px at both ends: nothing left (PIL would refuse the crop)
    assert frame([[100, 50, 10, 50]], [-0.3, 0.2, -0.3, 0.2], (400, 200)) is None
    # a number off the image
    assert frame([[500, 50, 30, 50]], [0.1, 0.1, 0.1, 0.1], (400, 200)) is None
