"""``python -m trainer convert`` and the other formats in ``eval``/``train``, through the real CLI."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from trainer.__main__ import main
from trainer.data import load_coco
from trainer.export import written_by_export
from trainer.formats import records_to_coco

from .conftest import SVHN


def _boxes(coco: dict) -> dict[int, tuple]:
    return {a["id"]: (a["image_id"], a["category_id"], *a["bbox"]) for a in coco["annotations"]}


def _gt_against_itself(gt_file, coco: dict) -> float:
    """mAP of ``coco``'s boxes (score 1) scored against the ground truth in ``gt_file``."""
    gt = COCO(str(gt_file))
    dets = [
        {"image_id": a["image_id"], "bbox": a["bbox"], "score": 1.0, "category_id": a["category_id"]}
        for a in coco["annotations"]
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


@pytest.mark.svhn
@pytest.mark.parametrize("fmt", ["yolo", "voc", "labelme"])
def test_svhn_valid_round_trip_is_exact(tmp_path, fmt, capsys):
    images, ann = SVHN / "valid", SVHN / "valid.json"
    if not ann.is_file():
        pytest.skip("../shared/data/svhn is not present")
    # the boxes as the engine reads them (SVHN has a few boxes past the image edge: clipped)
    ref = records_to_coco(load_coco(ann, images).records, images)
    out = tmp_path / fmt
    assert (
        main(
            [
                "convert",
                "--images",
                str(images),
                "--ann",
                str(ann),
                "--from",
                "coco",
                "--to",
                fmt,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    back = tmp_path / "back.json"
    assert (
        main(
            [
                "convert",
                "--images",
                str(images),
                "--ann",
                str(out),
                "--from",
                fmt,
                "--to",
                "coco",
                "--out",
                str(back),
            ]
        )
        == 0
    )
    assert (
        f"wrote {len(ref['images'])} images, {len(ref['annotations'])} boxes as coco"
        in capsys.readouterr().out
    )
    got = json.loads(back.read_text())
    for path in (ann, back):
        COCO(str(path))  # pycocotools loads every COCO file
    assert got["images"] == sorted(ref["images"], key=lambda im: im["id"])
    a, b = _boxes(ref), _boxes(got)
    assert a.keys() == b.keys()
    worst = max(max(abs(p - q) for p, q in zip(a[k][2:], b[k][2:])) for k in a)
    assert worst <= 0.01 and all(a[k][:2] == b[k][:2] for k in a)
    assert _gt_against_itself(back, ref) == 1.0
    assert len(list(out.glob(f"*{ {'yolo': '.txt', 'voc': '.xml', 'labelme': '.json'}[fmt] }"))) >= len(
        ref["images"]
    )


def test_convert_reports_bad_lines_and_never_replaces_foreign_files(tmp_path, synth_set, capsys):
    images, ann = synth_set
    folder = tmp_path / "img"
    shutil.copytree(images, folder)
    assert (
        main(["convert", "--images", str(folder), "--ann", str(ann), "--from", "coco", "--to", "yolo"]) == 0
    )
    assert (folder / "classes.txt").read_text().splitlines() == [str(d) for d in range(10)]
    assert written_by_export(folder / "1.txt")
    (folder / "1.txt").write_text("3 0.5 0.5 0.2\n")  # now the user's own, and broken
    assert (
        main(
            [
                "convert",
                "--images",
                str(folder),
                "--from",
                "yolo",
                "--to",
                "voc",
                "--out",
                str(tmp_path / "voc"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert f"{folder / '1.txt'}:1: 4 numbers, a YOLO box line has 5" in err
    assert len(list((tmp_path / "voc").glob("*.xml"))) == len(list(folder.glob("*.png")))
    # converting into the images' folder again would replace the edited 1.txt: refused, nothing written
    before = {p.name: p.read_bytes() for p in folder.glob("*.txt")}
    assert (
        main(
            [
                "convert",
                "--images",
                str(folder),
                "--ann",
                str(tmp_path / "voc"),
                "--from",
                "voc",
                "--to",
                "yolo",
            ]
        )
        == 2
    )
    assert "1.txt" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.glob("*.txt")} == before
    assert (
        main(
            [
                "convert",
                "--images",
                str(folder),
                "--ann",
                str(ann),
                "--from",
                "coco",
                "--to",
                "coco",
                "--out",
                str(ann),
            ]
        )
        == 2
    )
    assert "never replaces a COCO file" in capsys.readouterr().err


def test_eval_and_training_data_accept_a_folder_of_label_files(tmp_path, synth_set, random_model, capsys):
    images, ann = synth_set
    coco = json.loads(ann.read_text())
    keep = {im["id"] for im in coco["images"][:6]}
    small = {
        "images": [im for im in coco["images"] if im["id"] in keep],
        "annotations": [a for a in coco["annotations"] if a["image_id"] in keep],
        "categories": coco["categories"],
    }
    small_json = tmp_path / "small.json"
    small_json.write_text(json.dumps(small))
    labelme = tmp_path / "labelme"
    assert (
        main(
            [
                "convert",
                "--images",
                str(images),
                "--ann",
                str(small_json),
                "--from",
                "coco",
                "--to",
                "labelme",
                "--out",
                str(labelme),
            ]
        )
        == 0
    )
    capsys.readouterr()
    results = []
    for a in (small_json, labelme):
        args = [
            "eval",
            "--images",
            str(images),
            "--ann",
            str(a),
            "--model",
            str(random_model),
            "--json",
            "--device",
            "cpu",
        ]
        assert main(args) == 0
        results.append(json.loads(capsys.readouterr().out))
    for r in results:
        r.pop("images_per_second")
    assert results[0]["images"] == 6 and results[0] == results[1]

    from trainer.train_data import load_training_records

    records, warnings = load_training_records([(str(images), str(labelme))], 0, 0, tmp_path / "run", 0)
    want = load_coco(small_json, images).records
    assert warnings == [] and [r.image_id for r in records] == [r.image_id for r in want]
    for r, w in zip(records, want):
        np.testing.assert_allclose(r.boxes, w.boxes, atol=0.01)
        assert r.labels.tolist() == w.labels.tolist()


@pytest.mark.svhn
def test_coco_with_categories_0_to_9_named_by_digit_converts_like_valid_json(tmp_path, caplog):
    images, ann = SVHN / "valid", SVHN / "valid.json"
    if not ann.is_file():
        pytest.skip("../shared/data/svhn is not present")
    raw = json.loads(ann.read_text())
    # as Label Studio's converter numbers them: id = digit, named by the digit
    raw["categories"] = [{"id": d, "name": str(d)} for d in range(10)]
    for a in raw["annotations"]:
        a["category_id"] -= 1
    renumbered = tmp_path / "renumbered.json"
    renumbered.write_text(json.dumps(raw))
    out = tmp_path / "out.json"
    with caplog.at_level("WARNING", logger="trainer.data"):
        args = ["convert", "--images", str(images), "--ann", str(renumbered), "--from", "coco"]
        assert main([*args, "--to", "coco", "--out", str(out)]) == 0
    assert "names and ids disagree" in caplog.text
    ref = records_to_coco(load_coco(ann, images).records, images)
    got = json.loads(out.read_text())
    assert _boxes(got) == _boxes(ref) and len(got["annotations"]) == len(ref["annotations"])
