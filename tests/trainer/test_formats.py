"""VOC, YOLO and labelme readers and writers: exact coordinates, the other tools' layout, bad input."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import yaml
from PIL import Image

from trainer.data import Record
from trainer.export import coco_ground_truth, written_by_export
from trainer.formats import find_labels, label_texts, load_annotations, read_predictions, records_to_coco
from trainer.formats.yolo import yaml_names
from trainer.imageio import (
    IMAGE_SUFFIXES,
    Listing,
    list_images,
    load_rgb,
    name_stem,
    name_suffix,
    natural_key,
    upright_boxes,
)


def _images(folder: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in sizes.items():
        Image.new("RGB", size, (200, 180, 160)).save(folder / name)
    return folder


def _coco(folder: Path, boxes: dict[str, list[tuple[float, float, float, float, int]]]) -> dict:
    """A COCO ground-truth dict of the images of ``folder`` (ids = leading numbers)."""
    images, anns = [], []
    for name, items in boxes.items():
        w, h = Image.open(folder / name).size
        image_id = int(Path(name).stem)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        anns += [{"image_id": image_id, "bbox": [x, y, bw, bh], "digit": d} for x, y, bw, bh, d in items]
    return coco_ground_truth(images, anns)


def _write(texts: dict[str, str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (out / name).write_text(text, encoding="utf-8")


def _bboxes(coco: dict) -> dict[int, list]:
    out: dict[int, list] = {}
    for a in coco["annotations"]:
        out.setdefault(a["image_id"], []).append((a["category_id"], *a["bbox"]))
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture
def fractional(tmp_path) -> tuple[Path, dict]:
    """Three images, one of them 4000 px wide, with boxes on the 0.01 px grid."""
    rng = np.random.default_rng(5)
    folder = _images(tmp_path / "img", {"1.png": (73, 37), "2.jpg": (640, 480), "3.png": (4000, 3000)})
    boxes = {}
    for name in ("1.png", "2.jpg", "3.png"):
        w, h = Image.open(folder / name).size
        items = []
        for _ in range(4):
            bw, bh = (round(float(v), 2) for v in rng.uniform(2, min(w, h) / 2, 2))
            x, y = round(float(rng.uniform(0, w - bw)), 2), round(float(rng.uniform(0, h - bh)), 2)
            items.append((x, y, bw, bh, int(rng.integers(10))))
        boxes[name] = items
    boxes["2.jpg"].append((0.0, 0.0, 640.0, 480.0, 1))  # the whole image, edges included
    return folder, _coco(folder, boxes)


@pytest.mark.parametrize("fmt", ["voc", "yolo", "labelme"])
def test_round_trip_is_exact_to_a_hundredth_of_a_pixel(tmp_path, fractional, fmt):
    folder, coco = fractional
    out = tmp_path / fmt
    _write(label_texts(fmt, coco, folder, out), out)
    labels = load_annotations(out, folder)
    assert labels.fmt == fmt and labels.warnings == [] and not labels.other_labels
    back = records_to_coco(labels.records, folder)
    assert back["images"] == sorted(coco["images"], key=lambda im: im["id"])
    got, want = _bboxes(back), _bboxes(coco)
    assert got.keys() == want.keys()
    for k in want:
        assert len(got[k]) == len(want[k])
        for a, b in zip(got[k], want[k]):
            assert a[0] == b[0] and max(abs(p - q) for p, q in zip(a[1:], b[1:])) <= 0.01 + 1e-9
            assert a == b  # rounded to 0.01 px, the numbers are the very same


def test_voc_file_has_labelimg_fields_and_layout(tmp_path, fractional):
    folder, coco = fractional
    text = label_texts("voc", coco, folder, tmp_path)["2.xml"]
    assert text.startswith("<annotation>\n\t<folder>img</folder>\n\t<filename>2.jpg</filename>\n\t<path>")
    root = ElementTree.fromstring(text)
    assert [c.tag for c in root] == ["folder", "filename", "path", "source", "size", "segmented"] + [
        "object"
    ] * 5
    assert root.findtext("path") == str((folder / "2.jpg").resolve())
    assert [root.findtext(f"size/{k}") for k in ("width", "height", "depth")] == ["640", "480", "3"]
    obj = root.findall("object")[-1]
    assert [c.tag for c in obj] == ["name", "pose", "truncated", "difficult", "bndbox"]
    assert obj.findtext("name") == "1" and obj.findtext("pose") == "Unspecified"
    assert obj.findtext("truncated") == "1"  # touches the border, as labelImg marks it
    assert [obj.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] == ["0", "0", "640", "480"]
    x, y, w, h = coco["annotations"][4]["bbox"]
    first = root.findall("object")[0]
    assert float(first.findtext("bndbox/xmax")) == pytest.approx(round(x + w, 2), abs=1e-9)


def test_labelme_file_has_labelme_keys(tmp_path, fractional):
    folder, coco = fractional
    out = tmp_path / "lm"
    data = json.loads(label_texts("labelme", coco, folder, out)["1.json"])
    assert set(data) == {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth"}
    assert data["imageData"] is None and (data["imageWidth"], data["imageHeight"]) == (73, 37)
    assert (out / data["imagePath"]).resolve() == (folder / "1.png").resolve()
    s = data["shapes"][0]
    assert s["shape_type"] == "rectangle" and len(s["points"]) == 2 and s["label"] in list("0123456789")
    x, y, w, h = coco["annotations"][0]["bbox"]
    assert s["points"] == [[x, y], [round(x + w, 2), round(y + h, 2)]]


def test_yolo_writes_class_index_as_digit_and_classes_txt(tmp_path, fractional):
    folder, coco = fractional
    texts = label_texts("yolo", coco, folder, tmp_path)
    assert texts["classes.txt"] == "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"
    line = texts["2.txt"].splitlines()[-1]
    assert line == "1 0.500000 0.500000 1.000000 1.000000"
    big = texts["3.txt"].splitlines()[0].split()
    assert len(big[1].split(".")[1]) == 8  # a 4000 px image gets 8 decimals
    assert int(big[0]) == coco["annotations"][9]["category_id"] - 1


def test_names_other_than_digits_are_counted_and_kept_out(tmp_path):
    folder = _images(tmp_path / "img", {"1.png": (100, 50)})
    (folder / "1.xml").write_text(
        "<annotation><size><width>100</width><height>50</height></size>"
        + "".join(
            f"<object><name>{n}</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>11</xmax><ymax>22</ymax></bndbox></object>"
            for n in ("7", "car", "car", " 3 ", "10")
        )
        + "</annotation>"
    )
    labels = load_annotations(folder / "1.xml", folder)
    assert labels.records[0].labels.tolist() == [8, 4]
    assert labels.other_labels == {"car": 2, "10": 1}
    assert "3 boxes whose label is not a digit" in labels.other_labels_text()
    assert any("'car' x2" in w for w in labels.all_warnings())


def test_data_yaml_names_in_every_layout(tmp_path):
    assert yaml_names("path: x\nnames: ['0', '1', two]\n") == ["0", "1", "two"]
    assert yaml_names("nc: 2\nnames:\n  - '5'\n  - cat\ntrain: a\n") == ["5", "cat"]
    assert yaml_names("names:\n  0: '9'\n  2: dog\n") == ["9", "class 1", "dog"]
    folder = _images(tmp_path / "ds" / "images" / "train", {"4.png": (200, 100)})
    labels = tmp_path / "ds" / "labels" / "train"
    labels.mkdir(parents=True)
    (tmp_path / "ds" / "data.yaml").write_text("names:\n  0: cat\n  1: '6'\n")
    (labels / "4.txt").write_text("1 0.5 0.5 0.1 0.2\n0 0.5 0.5 0.2 0.2\n")
    assert find_labels(folder) == ("yolo", labels)
    got = load_annotations(None, folder)
    assert got.records[0].labels.tolist() == [7] and got.other_labels == {"cat": 1}
    assert got.records[0].boxes.tolist() == [[90.0, 40.0, 110.0, 60.0]]


DIGITS = [str(d) for d in range(10)]
YAML_LAYOUTS = {
    "flow list": ("names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']\n", DIGITS),
    "inline comments": (
        "nc: 10  # classes\nnames:\n" + "".join(f"  - '{d}'  # digit {d}\n" for d in range(10)),
        DIGITS,
    ),
    "safe_dump block list": (yaml.safe_dump({"path": "ds", "names": DIGITS, "nc": 10}), DIGITS),
    "flow mapping": ("names: {" + ", ".join(f"{d}: '{d}'" for d in range(10)) + "}\n", DIGITS),
    "block mapping, plain": ("names:\n" + "".join(f"  {d}: {d}\n" for d in range(10)) + "train: a\n", DIGITS),
    "quoted keys": ('"names":\n' + "".join(f'  "{d}": "{d}"\n' for d in range(10)), DIGITS),
    "# inside a quoted name": ("names: ['0', 'plate #1', \"2\"]  # three\n", ["0", "plate #1", "2"]),
    ", inside a quoted name": ("names:\n  - '0'\n  - 'a, b'\n  - '2'\n", ["0", "a, b", "2"]),
    "flow list over lines": ("names: [\n  '0', '1',\n  # no 2\n  '3'\n]\nval: v\n", ["0", "1", "3"]),
}


@pytest.mark.parametrize("layout", list(YAML_LAYOUTS))
def test_data_yaml_common_layouts_give_the_right_names(layout):
    text, names = YAML_LAYOUTS[layout]
    assert yaml_names(text) == names


def test_data_yaml_that_is_not_yaml_is_named(tmp_path):
    folder = _images(tmp_path / "img", {"4.png": (200, 100)})
    (folder / "data.yaml").write_text("names: ['0', '1'\n")
    (folder / "4.txt").write_text("1 0.5 0.5 0.1 0.2\n")
    got = load_annotations(folder, folder, fmt="yolo")
    assert "data.yaml: not valid YAML" in got.warnings[0]
    assert got.records[0].labels.tolist() == [2]  # class index read as the digit


def test_labels_are_found_beside_or_in_sibling_folders(tmp_path):
    voc_root = tmp_path / "VOC"
    folder = _images(voc_root / "JPEGImages", {"1.png": (40, 30), "2.png": (40, 30)})
    assert find_labels(folder) is None
    coco = _coco(folder, {"1.png": [(1, 2, 10, 20, 3)], "2.png": []})
    _write(label_texts("voc", coco, folder, voc_root / "Annotations"), voc_root / "Annotations")
    assert find_labels(folder) == ("voc", voc_root / "Annotations")
    lm = _images(tmp_path / "lm", {"5.png": (40, 30)})
    _write(label_texts("labelme", _coco(lm, {"5.png": [(1, 1, 5, 5, 0)]}), lm, lm), lm)
    assert find_labels(lm) == ("labelme", lm)
    bare = _images(tmp_path / "bare", {"6.png": (40, 30)})
    (bare / "6.txt").write_text("3 0.5 0.5 0.2 0.2\n")  # no classes.txt: not taken automatically
    assert find_labels(bare) is None
    assert load_annotations(bare, bare).records[0].labels.tolist() == [4]  # explicit: class = digit


def test_bad_voc_files_name_file_and_line_and_the_rest_opens(tmp_path):
    folder = _images(tmp_path / "img", {f"{i}.png": (60, 40) for i in range(1, 6)})
    good = "<annotation>\n<size><width>60</width><height>40</height></size>\n<object><name>4</name>\n<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>10</xmax><ymax>10</ymax></bndbox></object>\n</annotation>\n"
    (folder / "1.xml").write_text(good)
    (folder / "2.xml").write_text("<annotation>\n<size><width>60</width>\n</annotation>\n")
    (folder / "3.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE a [\n<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
        "<annotation><object><name>&xxe;</name></object></annotation>\n"
    )
    (folder / "4.xml").write_text(good.replace("<xmax>10</xmax>", "<xmax>90</xmax>"))
    (folder / "5.xml").write_text(
        good.replace("<xmin>1</xmin>", "<xmin>70</xmin>").replace("<xmax>10</xmax>", "<xmax>80</xmax>")
    )
    labels = load_annotations(folder, folder)
    by = {r.path.name: r for r in labels.records}
    assert sorted(by) == ["1.png", "4.png", "5.png"]
    w = "\n".join(labels.warnings)
    assert f"{folder / '2.xml'}:3: not well-formed XML" in w
    assert f"{folder / '3.xml'}:3: unsafe XML refused" in w and "passwd" not in str(by)
    assert f"{folder / '4.xml'}:3: box (1, 1, 90, 10) passes the edge of the 60x40 image; clipped" in w
    assert by["4.png"].boxes.tolist() == [[1, 1, 60, 10]]
    assert f"{folder / '5.xml'}:3: box (70, 1, 80, 10) outside the image (60x40); dropped" in w
    assert len(by["5.png"].boxes) == 0
    assert "file skipped" in labels.summary() and "2 file skipped" in labels.summary()


def test_bad_yolo_lines_name_file_and_line(tmp_path):
    folder = _images(tmp_path / "img", {"1.png": (100, 50), "2.png": (100, 50)})
    (folder / "classes.txt").write_text("0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n")
    (folder / "1.txt").write_text(
        "3 0.5 0.5 0.2 0.2\n4 0.5 0.5 0.2\n12 0.5 0.5 0.2 0.2\n5 1.1 0.5 0.4 0.2\n6 0.1 0.5 0.4 0.2\n"
    )
    (folder / "2.txt").write_text("x y\n")
    labels = load_annotations(folder, folder, "yolo")
    w = "\n".join(labels.warnings)
    f1 = folder / "1.txt"
    assert f"{f1}:2: 4 numbers, a YOLO box line has 5 (class x_center y_center width height); dropped" in w
    assert f"{f1}:3: class 12 but classes.txt names only 10 classes (0..9); dropped" in w
    assert f"{f1}:4: box (90, 20, 130, 30) passes the edge of the 100x50 image; clipped" in w
    assert f"{f1}:5: box (-10, 20, 30, 30) passes the edge" in w
    assert f"{folder / '2.txt'}:1: 2 numbers" in w
    rec = {r.path.name: r for r in labels.records}
    assert rec["1.png"].labels.tolist() == [4, 6, 7]
    assert rec["1.png"].boxes.tolist() == [[40, 20, 60, 30], [90, 20, 100, 30], [0, 20, 30, 30]]
    assert len(rec["2.png"].boxes) == 0  # the file is there: the image is labelled, with nothing


def test_labelme_with_embedded_image_and_broken_json(tmp_path):
    folder = _images(tmp_path / "img", {"1.png": (60, 40), "2.png": (60, 40), "3.png": (60, 40)})
    shape = {"label": "8", "points": [[10, 5], [2, 30]], "shape_type": "rectangle"}
    base = {"version": "5.4.1", "shapes": [shape], "imagePath": "1.png", "imageHeight": 40, "imageWidth": 60}
    text = json.dumps({**base, "imageData": "iVBORw0KGgo="}, indent=2)
    (folder / "1.json").write_text(text)
    data_line = text.splitlines().index('  "imageData": "iVBORw0KGgo="') + 1
    (folder / "2.json").write_text('{\n  "shapes": [\n    {"label": "1",\n')
    (folder / "3.json").write_text(json.dumps({**base, "imageData": "x", "imageWidth": 600}, indent=2))
    labels = load_annotations(folder / "1.json", folder)
    assert labels.fmt == "labelme"
    w = "\n".join(labels.warnings)
    assert f"{folder / '1.json'}:{data_line}: embedded image (imageData) not decoded" in w
    assert f"{folder / '2.json'}:4: not valid JSON" in w
    assert f"{folder / '3.json'}:" in w and "600x40 but 3.png is 60x40" in w
    (rec,) = labels.records
    assert rec.path.name == "1.png" and rec.boxes.tolist() == [[2, 5, 10, 30]] and rec.labels.tolist() == [9]


def test_predictions_from_coco_results_and_yolo_with_confidence(tmp_path):
    folder = _images(tmp_path / "img", {"7.png": (100, 50), "8.png": (100, 50)})
    res = [
        {"image_id": 7, "bbox": [10.5, 5, 20, 30], "score": 0.87, "category_id": 4},
        {"image_id": 99, "bbox": [1, 1, 2, 2], "score": 0.5, "category_id": 1},
        {"image_id": 8, "bbox": [1, 1, 2, 2], "score": 0.5, "category_id": 11},
    ]
    (tmp_path / "r.json").write_text(json.dumps(res))
    det = read_predictions(tmp_path / "r.json", folder)
    boxes, scores, digits = det.by_name["7.png"]
    assert boxes.tolist() == [[10.5, 5, 20, 30]] and scores.tolist() == [pytest.approx(0.87)]
    assert digits.tolist() == [3] and len(det.by_name["8.png"][0]) == 0
    assert det.other_labels == {"category 11": 1} and "image ids not in this folder" in det.warnings[0]
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "8.txt").write_text("2 0.5 0.5 0.2 0.4 0.625\n")
    det = read_predictions(pred, folder)
    assert list(det.by_name) == ["8.png"]
    boxes, scores, digits = det.by_name["8.png"]
    assert boxes.tolist() == [[40, 15, 20, 20]] and scores.tolist() == [0.625] and digits.tolist() == [2]


def test_records_to_coco_reads_missing_sizes_from_headers(tmp_path):
    folder = _images(tmp_path / "img", {"3.png": (31, 17)})
    rec = Record(3, folder / "3.png", boxes=np.array([[1, 2, 5, 9]], np.float32), labels=np.array([2]))
    coco = records_to_coco([rec], folder)
    assert coco["images"] == [{"id": 3, "file_name": "3.png", "width": 31, "height": 17}]
    assert (
        coco["annotations"][0]["bbox"] == [1.0, 2.0, 4.0, 7.0] and coco["annotations"][0]["category_id"] == 2
    )


def test_export_files_are_ours_in_the_manifest(tmp_path, fractional):
    from trainer.errors import OutputConflictError
    from trainer.export import write_outputs

    folder, coco = fractional
    out = tmp_path / "out"
    texts = {f"voc/{k}": v for k, v in label_texts("voc", coco, folder, out / "voc").items()}
    write_outputs(out, texts, own_dirs=["voc"])
    assert all(written_by_export(out / n) for n in texts)
    (out / "voc" / "mine.xml").write_text("<annotation/>")  # the user's own file in our folder
    with pytest.raises(OutputConflictError) as exc:
        write_outputs(out, texts, replace_earlier=True, own_dirs=["voc"])
    assert exc.value.foreign == ["voc/mine.xml"]
    (out / "voc" / "mine.xml").unlink()
    fewer = {k: v for k, v in texts.items() if not k.endswith("3.xml")}
    write_outputs(out, fewer, replace_earlier=True, own_dirs=["voc"], supersede=["voc"])
    assert not (out / "voc" / "3.xml").exists() and (out / "voc" / "1.xml").exists()


def _turned_photo(folder: Path, name: str, orientation: int, box) -> list[int]:
    """A JPEG stored 80x40 with EXIF ``orientation`` and a white block at ``box`` of its stored
    pixels; returns where the block is on the image as shown (EXIF applied), as xyxy."""
    folder.mkdir(parents=True, exist_ok=True)
    im = Image.new("RGB", (80, 40), (0, 0, 0))
    im.paste((255, 255, 255), tuple(box))
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(folder / name, exif=exif, quality=100)
    shown = np.asarray(load_rgb(folder / name))[..., 0] > 128
    ys, xs = np.nonzero(shown)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def _voc(name, size, box, digit="3"):
    w, h = size
    x1, y1, x2, y2 = box
    return (
        f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height>"
        f"<depth>3</depth></size><object><name>{digit}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>"
    )


@pytest.mark.parametrize("orientation", [6, 8, 3, 5])
def test_labelimg_voc_on_an_exif_turned_jpeg_is_turned_upright(tmp_path, orientation):
    box = (10, 5, 30, 25)  # labelImg ignores EXIF: the box is on the stored pixels, the size is 80x40
    want = _turned_photo(tmp_path / "img", "7.jpg", orientation, box)
    (tmp_path / "img" / "7.xml").write_text(_voc("7.jpg", (80, 40), box))
    got = load_annotations(tmp_path / "img", tmp_path / "img", fmt="voc")
    rec = got.records[0]
    assert (rec.width, rec.height) == ((40, 80) if orientation >= 5 else (80, 40))
    np.testing.assert_allclose(rec.boxes[0], want, atol=1)  # where the digit is seen
    assert len(got.warnings) == 1 and "7.xml" in got.warnings[0] and got.warnings[0].endswith("; rotated")
    assert f"EXIF orientation {orientation}" in got.warnings[0]


def test_label_files_in_upright_pixels_stay_and_a_wrong_size_is_named(tmp_path):
    box = (10, 5, 30, 25)
    upright = _turned_photo(tmp_path / "img", "1.jpg", 6, box)
    _turned_photo(tmp_path / "img", "2.jpg", 6, box)
    # written by a tool that applies EXIF (the size is the upright one): read as it is
    (tmp_path / "img" / "1.xml").write_text(_voc("1.jpg", (40, 80), upright))
    (tmp_path / "img" / "2.xml").write_text(_voc("2.jpg", (60, 50), box))
    got = load_annotations(tmp_path / "img", tmp_path / "img", fmt="voc")
    assert [r.path.name for r in got.records] == ["1.jpg"]
    np.testing.assert_allclose(got.records[0].boxes[0], upright)
    assert len(got.warnings) == 1
    assert "2.xml:1: <size> 60x50 but 2.jpg is 40x80, 80x40 as stored" in got.warnings[0]
    assert got.warnings[0].endswith("file skipped")


def test_labelme_on_a_turned_jpeg_by_its_stated_size(tmp_path):
    box = (10, 5, 30, 25)
    folder = tmp_path / "img"
    want = _turned_photo(folder, "1.jpg", 6, box)
    _turned_photo(folder, "2.jpg", 6, box)
    for name, size, b in (("1", (40, 80), want), ("2", (80, 40), box)):  # upright / stored pixels
        d = {
            "shapes": [{"label": "4", "points": [b[:2], b[2:]], "shape_type": "rectangle"}],
            "imageWidth": size[0],
            "imageHeight": size[1],
        }
        (folder / f"{name}.json").write_text(json.dumps(d, default=int))
    got = load_annotations(folder, folder, fmt="labelme")
    for rec in got.records:
        np.testing.assert_allclose(rec.boxes[0], want, atol=1)
    assert len(got.warnings) == 1 and "2.json" in got.warnings[0] and "rotated" in got.warnings[0]


@pytest.mark.parametrize("names_file", ["classes.txt", "data.yaml"])
def test_yolo_on_a_turned_jpeg_follows_the_tool_that_wrote_it(tmp_path, names_file):
    box = (10, 5, 30, 25)
    folder = tmp_path / "img"
    want = _turned_photo(folder, "1.jpg", 6, box)
    if names_file == "classes.txt":  # labelImg: normalised by the stored pixels
        (folder / "classes.txt").write_text("".join(f"{d}\n" for d in range(10)))
        cx, cy, w, h = (box[0] + box[2]) / 160, (box[1] + box[3]) / 80, (box[2] - box[0]) / 80, 20 / 40
    else:  # Ultralytics and the tools that export for it read the image upright
        (folder / "data.yaml").write_text(yaml.safe_dump({"names": DIGITS}))
        x1, y1, x2, y2 = want
        cx, cy, w, h = (x1 + x2) / 80, (y1 + y2) / 160, (x2 - x1) / 40, (y2 - y1) / 80
    (folder / "1.txt").write_text(f"5 {cx} {cy} {w} {h}\n")
    got = load_annotations(folder, folder, fmt="yolo")
    np.testing.assert_allclose(got.records[0].boxes[0], want, atol=1)
    (warning,) = got.warnings
    assert "1.txt" in warning and "check them" in warning


def test_upright_boxes_match_pillow_for_every_orientation(tmp_path):
    box = (10, 5, 30, 25)
    for orientation in range(1, 9):
        want = _turned_photo(tmp_path, f"{orientation}.jpg", orientation, box)
        got = upright_boxes(np.array([box], np.float32), (80, 40), orientation)[0]
        np.testing.assert_allclose(got, want, atol=1)


def test_verified_and_checked_read_as_reviewed_and_written_back(tmp_path):
    folder = _images(tmp_path / "img", {"1.png": (60, 40), "2.png": (60, 40)})
    coco = _coco(folder, {"1.png": [(5, 5, 10, 20, 3)], "2.png": [(20, 5, 10, 20, 7)]})
    voc = label_texts("voc", coco, folder, folder, reviewed={1})
    assert ElementTree.fromstring(voc["1.xml"]).get("verified") == "yes"
    assert ElementTree.fromstring(voc["2.xml"]).get("verified") is None
    _write(voc, folder)
    got = load_annotations(folder, folder, fmt="voc")
    assert [r.reviewed for r in got.records] == [True, False]
    # labelImg writes the attribute on the root element of the file it saved
    (folder / "2.xml").write_text(voc["2.xml"].replace("<annotation>", '<annotation verified="yes">'))
    assert [r.reviewed for r in load_annotations(folder, folder, fmt="voc").records] == [True, True]
    out = tmp_path / "labelme"
    lm = label_texts("labelme", coco, folder, out, reviewed=True)
    assert all(json.loads(t)["checked"] is True for t in lm.values())
    assert "checked" not in json.loads(label_texts("labelme", coco, folder, out)["1.json"])
    d = json.loads(lm["2.json"])
    d["checked"] = False  # X-AnyLabeling writes false for images not checked yet
    lm["2.json"] = json.dumps(d)
    _write(lm, out)
    assert [r.reviewed for r in load_annotations(out, folder, fmt="labelme").records] == [True, False]


def test_convert_carries_the_reviewed_mark(tmp_path):
    from trainer.formats.convert import convert

    folder = _images(tmp_path / "img", {"1.png": (60, 40), "2.png": (60, 40)})
    coco = _coco(folder, {"1.png": [(5, 5, 10, 20, 3)], "2.png": [(20, 5, 10, 20, 7)]})
    _write(label_texts("voc", coco, folder, folder, reviewed=[2]), folder)
    convert(folder, folder, "voc", "labelme", tmp_path / "lm")
    checked = {p.stem: json.loads(p.read_text()).get("checked") for p in (tmp_path / "lm").glob("[0-9].json")}
    assert checked == {"1": None, "2": True}


@pytest.fixture
def listings(monkeypatch) -> Counter:
    """How often each folder is listed (os.scandir, os.listdir: what Path.iterdir and glob use)."""
    counts: Counter = Counter()
    real_scandir, real_listdir = os.scandir, os.listdir

    def key(path) -> object:
        return path if isinstance(path, int) else os.path.realpath(path)

    def scandir(path="."):
        counts[key(path)] += 1
        return real_scandir(path)

    def listdir(path="."):
        counts[key(path)] += 1
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    return counts


@pytest.mark.parametrize("fmt", ["voc", "yolo", "labelme"])
@pytest.mark.parametrize("where", ["beside", "labels"])
def test_finding_and_reading_labels_lists_each_folder_once(tmp_path, fractional, listings, fmt, where):
    folder, coco = fractional
    out = folder if where == "beside" else tmp_path / "labels"
    _write(label_texts(fmt, coco, folder, out), out)
    listings.clear()
    labels = load_annotations(None, folder)
    assert labels.fmt == fmt and len(labels.records) == 3
    assert listings[os.path.realpath(folder)] == 1
    assert listings[os.path.realpath(out)] == 1
    assert max(listings.values()) == 1


def test_a_shared_listing_is_read_once_for_images_and_labels(tmp_path, fractional, listings):
    folder, coco = fractional
    _write(label_texts("voc", coco, folder, folder), folder)
    listing = Listing()
    listings.clear()
    names = [p.name for p in list_images(folder, listing)]
    assert find_labels(folder, listing=listing) == ("voc", folder)
    assert len(load_annotations(folder, folder, listing=listing).records) == 3
    assert names == ["1.png", "2.jpg", "3.png"] and listings[os.path.realpath(folder)] == 1
    # without one, each call lists the folder afresh (and sees what changed on disk)
    (folder / "4.png").write_bytes((folder / "1.png").read_bytes())
    assert [p.name for p in list_images(folder)] == ["1.png", "2.jpg", "3.png", "4.png"]
    assert [p.name for p in list_images(folder, listing)] == names


def test_natural_order_from_names_is_the_order_of_path_names(tmp_path):
    names = ["10.png", "2.png", "a10b2.PNG", "A2b10.png", "a2b2.jpg", "x01.png", "x1.bmp", "ß3.webp"]
    names += ["..png", "z.PNG", "Z.png", "001.png", "1.jpeg", "b 7.png", "b 07.png", "c.txt", ".png"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    (tmp_path / "d.png").mkdir()  # a folder is never an image

    def reference(name):  # the key as it was computed from Path objects
        return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]

    want = sorted(
        (p for p in tmp_path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: reference(p.name),
    )
    assert list_images(tmp_path) == want
    assert [natural_key(n) for n in names] == [reference(n) for n in names]
    assert [name_stem(n) for n in names] == [Path(n).stem for n in names]
    assert [name_suffix(n) for n in names] == [Path(n).suffix for n in names]
