"""The command line, driven in-process through ``trainer.__main__.main``."""

import csv
import json

import pytest
from PIL import Image
from pycocotools.coco import COCO

from trainer import model as model_mod
from trainer.__main__ import main


def test_synth_writes_dataset_layout(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path / "s"), "--count", "5", "--seed", "2"]) == 0
    coco = json.loads((tmp_path / "s" / "annotations.json").read_text())
    assert len(coco["images"]) == 5 and len(list((tmp_path / "s" / "images").glob("*.png"))) == 5
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        img = next(i for i in coco["images"] if i["id"] == a["image_id"])
        assert 1 <= a["category_id"] <= 10 and w > 0 and h > 0
        assert x >= 0 and y >= 0 and x + w <= img["width"] and y + h <= img["height"]


def test_synth_is_deterministic(tmp_path):
    main(["synth", "--out", str(tmp_path / "a"), "--count", "3", "--seed", "4"])
    main(["synth", "--out", str(tmp_path / "b"), "--count", "3", "--seed", "4"])
    a, b = (json.loads((tmp_path / x / "annotations.json").read_text()) for x in "ab")
    assert a == b


def test_predict_skips_unreadable_and_writes_all_other_rows(tmp_path, synth_set, random_model, capsys):
    images, _ = synth_set
    folder = tmp_path / "in"
    folder.mkdir()
    for p in sorted(images.glob("*.png"))[:4]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    Image.new("L", (50, 30), 128).save(folder / "gray_label.png")
    out = tmp_path / "out"
    assert (
        main(["predict", str(folder), "--out", str(out), "--model", str(random_model), "--device", "cpu"])
        == 0
    )
    err = capsys.readouterr().err
    assert "skipped unreadable image broken.png" in err
    rows = list(csv.DictReader((out / "pred.csv").open()))
    ids = dict(csv.reader((out / "image_ids.csv").open()))
    assert len(rows) == 5 and "broken.png" in ids.values()
    assert all(int(r["pred_label"]) >= -1 for r in rows)
    named = {v: k for k, v in ids.items()}
    assert named["gray_label.png"] in {r["image_id"] for r in rows}
    dets = json.loads((out / "pred.json").read_text())
    assert all(set(d) == {"image_id", "bbox", "score", "category_id"} for d in dets)


def test_eval_json_prints_exactly_one_object(synth_set, random_model, capsys):
    images, ann = synth_set
    assert (
        main(
            [
                "eval",
                "--images",
                str(images),
                "--ann",
                str(ann),
                "--model",
                str(random_model),
                "--json",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    m = json.loads(out[0])
    assert set(m) == {"mAP", "AP50", "AP75", "number_accuracy", "images", "images_per_second"}
    assert m["images"] == 48 and 0 <= m["mAP"] <= 1


def test_pred_json_loads_against_ground_truth(tmp_path, synth_set, random_model):
    images, ann = synth_set
    main(["predict", str(images), "--out", str(tmp_path), "--model", str(random_model), "--device", "cpu"])
    gt = COCO(str(ann))
    dt = gt.loadRes(str(tmp_path / "pred.json"))
    assert set(dt.getImgIds()) <= set(gt.getImgIds())


def test_missing_default_model_is_a_clear_error(tmp_path, monkeypatch, capsys, synth_set):
    monkeypatch.setattr(model_mod, "DEFAULT_MODEL", tmp_path / "absent.pt")
    images, _ = synth_set
    assert main(["predict", str(images), "--out", str(tmp_path / "o"), "--model", "default"]) == 2
    assert "no default model is bundled" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", b"\x80\x04K\x01."])
def test_bad_model_file_is_a_clear_error(tmp_path, capsys, synth_set, content):
    (tmp_path / "m.pt").write_bytes(content)
    images, _ = synth_set
    assert (
        main(["predict", str(images), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "m.pt")]) == 2
    )
    assert "error:" in capsys.readouterr().err


def test_empty_folder_is_a_clear_error(tmp_path, capsys, random_model):
    (tmp_path / "empty").mkdir()
    assert (
        main(["predict", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--model", str(random_model)])
        == 2
    )
    assert "no images" in capsys.readouterr().err


def test_train_with_bad_annotations_is_a_clear_error(tmp_path, capsys, synth_set):
    images, _ = synth_set
    (tmp_path / "a.json").write_text("[1, 2")
    assert (
        main(
            [
                "train",
                "--train-images",
                str(images),
                "--train-ann",
                str(tmp_path / "a.json"),
                "--out",
                str(tmp_path / "run"),
                "--epochs",
                "1",
            ]
        )
        == 2
    )
    assert "not valid JSON" in capsys.readouterr().err


def test_predict_never_replaces_a_file_it_did_not_write(tmp_path, synth_set, random_model, capsys):
    images, ann = synth_set
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("1.png", "2.png"):
        (folder / name).write_bytes((images / name).read_bytes())
    (folder / "pred.csv").write_text("image_id,pred_label\n1,42\n")  # someone's own results
    before = (folder / "pred.csv").read_bytes()
    args = ["--model", str(random_model), "--device", "cpu"]
    assert main(["predict", str(folder), "--out", str(folder), *args]) == 2
    assert "pred.csv" in capsys.readouterr().err
    assert (folder / "pred.csv").read_bytes() == before and not (folder / "pred.json").exists()
    out = tmp_path / "out"
    for _ in range(2):  # its own earlier output is replaced (a command line cannot ask)
        assert main(["predict", str(folder), "--out", str(out), *args]) == 0
    assert json.loads((out / "pred.json").read_text())
    (out / "pred.csv").write_text("image_id,pred_label\n1,7\n")  # edited by hand since: not ours now
    assert main(["predict", str(folder), "--out", str(out), *args]) == 2
    assert (out / "pred.csv").read_text() == "image_id,pred_label\n1,7\n"
