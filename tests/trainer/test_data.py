"""Bad input gets a clear error (or a warning and a fix), never a traceback or garbage."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trainer.data import folder_records, gt_number, gt_text, load_coco
from trainer.errors import AnnotationError, EmptyFolderError, ImageReadError
from trainer.imageio import assign_ids, image_size, list_images, load_rgb


def _write(tmp_path, coco, images=(("1.png", 40, 20),)):
    d = tmp_path / "imgs"
    d.mkdir(exist_ok=True)
    for name, w, h in images:
        Image.new("RGB", (w, h)).save(d / name)
    p = tmp_path / "ann.json"
    p.write_text(json.dumps(coco) if not isinstance(coco, str) else coco)
    return p, d


def _coco(anns, images=None):
    images = images or [{"id": 1, "file_name": "1.png", "width": 40, "height": 20}]
    return {"images": images, "annotations": anns, "categories": []}


def test_valid_file_loads(tmp_path):
    p, d = _write(
        tmp_path,
        _coco(
            [
                {"id": 1, "image_id": 1, "bbox": [20, 2, 5, 10], "category_id": 3},
                {"id": 2, "image_id": 1, "bbox": [5, 2, 5, 10], "category_id": 10},
            ]
        ),
    )
    c = load_coco(p, d)
    assert c.warnings == []
    rec = c.records[0]
    np.testing.assert_allclose(rec.boxes[0], [20, 2, 25, 12])
    assert gt_number(rec) == 92


def test_not_json(tmp_path):
    p, d = _write(tmp_path, "{not json")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        load_coco(p, d)


def test_missing_keys_name_the_entry(tmp_path):
    p, d = _write(tmp_path, {"annotations": []})
    with pytest.raises(AnnotationError, match="'images'"):
        load_coco(p, d)
    p, d = _write(tmp_path, _coco([], images=[{"id": 1}]))
    c = load_coco(p, d)  # an image entry without a file name is dropped, not the whole file
    assert c.records == [] and c.warnings == ["images[0] (id 1, 0 boxes): no 'file_name'; dropped"]
    p, d = _write(tmp_path, _coco([{"id": 7, "image_id": 1, "bbox": [0, 0, 1, 1]}]))
    with pytest.raises(AnnotationError, match=r"annotations\[0\]"):
        load_coco(p, d)


def test_duplicate_image_ids_drop_both_entries_and_their_boxes(tmp_path):
    imgs = [
        {"id": 1, "file_name": "1.png"},
        {"id": 2, "file_name": "2.png"},
        {"id": 1, "file_name": "3.png"},
    ]
    anns = [{"image_id": i, "bbox": [1, 1, 5, 5], "category_id": 3} for i in (1, 1, 2)]
    p, d = _write(
        tmp_path, _coco(anns, images=imgs), images=[("1.png", 9, 9), ("2.png", 9, 9), ("3.png", 9, 9)]
    )
    c = load_coco(p, d)
    assert [r.image_id for r in c.records] == [2] and c.records[0].labels.tolist() == [3]
    assert c.warnings == [
        "images[0] (id 1, 2 boxes): the id is also used by images[2], so its boxes are ambiguous; dropped"
    ]


def test_unknown_category_outside_and_zero_size_boxes(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "bbox": [0, 0, 5, 5], "category_id": 11},
        {"id": 2, "image_id": 1, "bbox": [35, -2, 10, 10], "category_id": 2},
        {"id": 3, "image_id": 1, "bbox": [5, 5, 0, 4], "category_id": 2},
        {"id": 4, "image_id": 99, "bbox": [5, 5, 3, 4], "category_id": 2},
        {"id": 4, "image_id": 1, "bbox": [1, 1, 3, 4], "category_id": 5},
    ]
    p, d = _write(tmp_path, _coco(anns))
    c = load_coco(p, d)
    text = "\n".join(c.warnings)
    assert "unknown category_id 11; dropped" in text
    assert "(id 2): box outside the image; clipped" in text
    assert "(id 3): zero-size box; dropped" in text
    assert "unknown image_id 99" in text
    assert "duplicate annotation id" in text
    rec = c.records[0]
    assert rec.labels.tolist() == [2, 5]
    np.testing.assert_allclose(rec.boxes[0], [35, 0, 40, 8])


def test_many_warnings_are_logged_as_a_summary(tmp_path, caplog):
    anns = [{"id": i, "image_id": 1, "bbox": [35, -2, 10, 10], "category_id": 2} for i in range(30)]
    anns.append({"id": 99, "image_id": 1, "bbox": [5, 5, 0, 4], "category_id": 2})
    p, d = _write(tmp_path, _coco(anns))
    with caplog.at_level("WARNING", logger="trainer.data"):
        c = load_coco(p, d)
    assert len(c.warnings) == 31  # the full list stays available to callers
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert (
        lines[-1]
        == "ann.json: 28 more warnings (27 box outside the image; clipped, 1 zero-size box; dropped)"
    )


def test_file_name_escaping_the_folder_is_refused(tmp_path):
    p, d = _write(tmp_path, _coco([], images=[{"id": 1, "file_name": "../secret.png"}]))
    c = load_coco(p, d)
    assert c.records == [] and "'../secret.png' is not a file inside" in c.warnings[0]


def test_one_bad_image_entry_drops_only_that_entry_and_its_boxes(tmp_path, caplog):
    imgs = [
        {"id": 1, "file_name": "1.png", "width": 40, "height": 20},
        {"id": 2, "file_name": "../2.png"},
        {"id": [3], "file_name": "3.png"},
        {"id": True, "file_name": "4.png"},
        {"id": 5.5, "file_name": "5.png"},
        "not an object",
    ]
    anns = [
        {"image_id": 1, "bbox": [2, 2, 5, 10], "category_id": 4},
        {"image_id": 2, "bbox": [2, 2, 5, 10], "category_id": 4},
        {"image_id": 2, "bbox": [9, 2, 5, 10], "category_id": 5},
        {"image_id": [3], "bbox": [2, 2, 5, 10], "category_id": 4},
    ]
    p, d = _write(tmp_path, _coco(anns, images=imgs))
    with caplog.at_level("WARNING", logger="trainer.data"):
        c = load_coco(p, d)  # missing files of dropped entries are not asked for either
    assert [r.image_id for r in c.records] == [1] and gt_number(c.records[0]) == 3
    assert c.warnings[0] == "images[5]: no 'id' or 'file_name'; dropped"
    assert c.warnings[1].startswith("images[1] (id 2, 2 boxes): file_name '../2.png' is not a file inside")
    assert c.warnings[2:] == [
        "images[2] (id [3], 1 box): the id is not an integer; dropped",
        "images[3] (id True, 0 boxes): the id is not an integer; dropped",
        "images[4] (id 5.5, 0 boxes): the id is not an integer; dropped",
    ]
    assert len(caplog.records) == 4  # three shown, the rest counted


def test_boolean_and_non_integer_category_ids_are_dropped(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "bbox": [2, 2, 5, 10], "category_id": True},
        {"id": 2, "image_id": 1, "bbox": [2, 2, 5, 10], "category_id": 2.5},
        {"id": 3, "image_id": True, "bbox": [2, 2, 5, 10], "category_id": 3},
        {"id": 4, "image_id": 1, "bbox": [9, 2, 5, 10], "category_id": 3},
    ]
    c = load_coco(*_write(tmp_path, _coco(anns)))
    assert c.records[0].labels.tolist() == [3]  # True was digit 0 before
    assert c.warnings == [
        "annotations[0] (id 1): unknown category_id True; dropped",
        "annotations[1] (id 2): unknown category_id 2.5; dropped",
        "annotations[2] (id 3): unknown image_id True; dropped",
    ]


def _named(ids_names):
    return [{"id": i, "name": n} for i, n in ids_names]


def _with_categories(tmp_path, categories, cats):
    anns = [{"image_id": 1, "bbox": [1 + 4 * k, 2, 3, 10], "category_id": c} for k, c in enumerate(cats)]
    coco = _coco(anns)
    coco["categories"] = categories
    return load_coco(*_write(tmp_path, coco))


def test_categories_named_0_to_9_with_ids_0_to_9_are_read_by_name(tmp_path):
    c = _with_categories(tmp_path, _named((d, str(d)) for d in range(10)), [5, 0, 9])
    assert gt_number(c.records[0]) == 509  # by id - 1 it was 48 and the 0 was dropped
    assert c.warnings == [
        "categories: names and ids disagree (id 0 is '0', id 1 is '1', id 2 is '2' and 7 more; the "
        "dataset convention is category_id = digit + 1), so boxes are read by category name; noted"
    ]


def test_digit_style_category_names_and_shuffled_ids(tmp_path):
    cats = _named([(7, "digit 0"), (3, "digit 1"), (1, "digit 2"), (12, "background")])
    c = _with_categories(tmp_path, cats, [3, 7, 1, 12])
    assert gt_text(c.records[0]) == "102"
    assert "categories: names and ids disagree (id 1 is 'digit 2', id 3 is 'digit 1', id 7" in c.warnings[0]
    assert c.warnings[1] == "annotations[3] (id ?): category 12 ('background', not a digit); dropped"


def test_categories_fall_back_to_id_minus_one_without_digit_names(tmp_path):
    c = _with_categories(tmp_path, [], [6, 1])
    assert gt_text(c.records[0]) == "50" and c.warnings == []
    c = _with_categories(tmp_path, _named((d + 1, f"class{chr(97 + d)}") for d in range(10)), [6, 1])
    assert gt_text(c.records[0]) == "50"
    assert c.warnings[0].startswith("categories: no category is named as a digit (first: 'classa')")
    # two categories naming the same digit: the names cannot be trusted
    c = _with_categories(tmp_path, _named([(1, "5"), (2, "5"), (6, "0")]), [6, 1])
    assert gt_text(c.records[0]) == "50" and "both name digit 5" in c.warnings[0]


def test_our_own_categories_give_no_warning(tmp_path):
    from trainer.export import CATEGORIES

    c = _with_categories(tmp_path, CATEGORIES, [2, 10])
    assert gt_text(c.records[0]) == "19" and c.warnings == []


def test_missing_image_files_are_listed(tmp_path):
    imgs = [{"id": 1, "file_name": "1.png"}, {"id": 2, "file_name": "2.png"}, {"id": 3, "file_name": "3.png"}]
    p, d = _write(tmp_path, _coco([], images=imgs))
    with pytest.raises(ImageReadError, match=r"2 image file\(s\).*2\.png.*3\.png"):
        load_coco(p, d)


def test_empty_folder(tmp_path):
    with pytest.raises(EmptyFolderError):
        folder_records(tmp_path)


def test_ids_from_file_names_and_stable_fresh_ids(tmp_path):
    for n in ("10.png", "2.png", "house.png", "abc.jpg", "7_left.jpeg", "notes.txt"):
        (tmp_path / n).write_bytes(b"")
    paths = list_images(tmp_path)
    assert [p.name for p in paths] == ["2.png", "7_left.jpeg", "10.png", "abc.jpg", "house.png"]
    ids = {p.name: i for p, i in assign_ids(paths).items()}
    assert ids == {"2.png": 2, "7_left.jpeg": 7, "10.png": 10, "abc.jpg": 11, "house.png": 12}


def test_ids_from_a_coco_file_win_and_are_never_given_twice():
    paths = [Path(n) for n in ("2.png", "7.png", "abc.png", "5.png")]
    # 2.png is image 30 in the COCO file; 7 is taken by another image there, so 7.png gets a fresh id
    ids = assign_ids(paths, {"2.png": 30, "other.png": 7})
    assert {p.name: i for p, i in ids.items()} == {"2.png": 30, "7.png": 31, "abc.png": 32, "5.png": 5}


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA", "I;16", "CMYK", "1"])
def test_every_image_mode_becomes_rgb(tmp_path, mode):
    if mode == "I;16":
        arr = np.arange(30 * 20, dtype=np.uint16).reshape(20, 30) * 100
        im = Image.fromarray(arr)
        path = tmp_path / "x.png"
    else:
        im = Image.new(mode, (30, 20))
        path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    im.save(path)
    out = load_rgb(path)
    assert out.mode == "RGB" and out.size == (30, 20)
    if mode == "I;16":
        a = np.asarray(out)
        assert a.max() > 200 and a.min() == 0  # full range kept, not clipped to white


def test_exif_rotation_is_applied(tmp_path):
    im = Image.new("RGB", (60, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_rgb(tmp_path / "r.jpg").size == (20, 60)
    assert image_size(tmp_path / "r.jpg") == (20, 60)


def test_unreadable_image_raises_named_error(tmp_path):
    from trainer.data import read_image_or_raise

    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_image_or_raise(tmp_path / "bad.png")


def test_non_integer_ids_and_sizes_are_named(tmp_path):
    p, d = _write(tmp_path, _coco([], images=[{"id": [1], "file_name": "1.png"}]))
    assert load_coco(p, d).warnings == ["images[0] (id [1], 0 boxes): the id is not an integer; dropped"]
    p, d = _write(tmp_path, _coco([], images=[{"id": 1, "file_name": "1.png", "width": "abc", "height": 20}]))
    c = load_coco(p, d)
    assert "width/height are not integers" in c.warnings[0] and c.records[0].width is None


def test_symlinked_image_inside_the_folder_is_accepted(tmp_path):
    other = tmp_path / "elsewhere.png"
    Image.new("RGB", (10, 10)).save(other)
    p, d = _write(tmp_path, _coco([], images=[{"id": 1, "file_name": "link.png"}]), images=())
    (d / "link.png").symlink_to(other)
    assert load_coco(p, d).records[0].path.name == "link.png"
