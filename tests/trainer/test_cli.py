"""The command line, driven in-process through ``trainer.__main__.main``."""

import csv
import json
import os
import re

import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

from trainer import paths
from trainer.__main__ import main
from trainer.predict import Predictor
from trainer.presets import get_preset


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
    named = {v: k for k, v in ids.items()}
    labels = {r["image_id"]: r["pred_label"] for r in rows}
    assert named["broken.png"] not in labels  # unreadable: no row, every other image has one
    assert all(re.fullmatch(r"-1|[0-9]+", v) for v in labels.values())
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
    assert set(m) == {"mAP", "AP50", "AP75", "number_accuracy", "images", "images_per_second", "errors"}
    assert m["images"] == 48 and 0 <= m["mAP"] <= m["AP50"] <= 1  # AP falls as the IoU bar rises
    assert m["errors"]["failures"] == []  # listed only with --show-failures


def _truths(ann) -> dict[int, str]:
    """Each image's number straight from the COCO file: digits ordered by box x-centre."""
    coco = json.loads(ann.read_text())
    boxes: dict[int, list] = {i["id"]: [] for i in coco["images"]}
    for a in coco["annotations"]:
        x, _, w, _ = a["bbox"]
        boxes[a["image_id"]].append((x + w / 2, str(a["category_id"] - 1)))
    return {i: "".join(d for _, d in sorted(b)) for i, b in boxes.items()}


@pytest.mark.slow
def test_eval_error_breakdown_matches_predict_and_ground_truth(tmp_path, synth_set, random_model, capsys):
    """The breakdown's truth comes from the boxes, its reading is what ``predict`` writes."""
    images, ann = synth_set
    # a threshold between the random model's best scores: it reads half the images, not the rest
    pred = Predictor(str(random_model), "cpu", 16, num_workers=0)
    best = sorted({float(r.scores.max()) for r in pred.predict_paths(sorted(images.glob("*.png")))})
    thresh = (best[len(best) // 2 - 1] + best[len(best) // 2]) / 2
    args = ["--model", str(random_model), "--device", "cpu", "--score-thresh", repr(thresh)]
    assert main(["predict", str(images), "--out", str(tmp_path), *args]) == 0
    predicted = {
        int(r["image_id"]): int(r["pred_label"]) for r in csv.DictReader((tmp_path / "pred.csv").open())
    }
    capsys.readouterr()
    assert (
        main(["eval", "--images", str(images), "--ann", str(ann), *args, "--json", "--show-failures", "100"])
        == 0
    )
    m = json.loads(capsys.readouterr().out)
    e = m["errors"]
    truths = _truths(ann)
    wrong = {i for i, t in truths.items() if predicted[i] != int(t)}
    assert e["images"] == 48 and e["failed"] == len(wrong) and e["correct"] == 48 - len(wrong)
    assert e["correct"] / 48 == pytest.approx(m["number_accuracy"]) and e["score_thresh"] == thresh
    assert sum(v["images"] for v in e["by_length"].values()) == 48
    for k, v in e["by_length"].items():
        n = [i for i, t in truths.items() if (str(len(t)) if len(t) < 4 else "4+") == k]
        assert v["images"] == len(n) and v["correct"] == len([i for i in n if i not in wrong])
    assert {f["image_id"] for f in e["failures"]} == wrong
    assert sum(v["count"] for v in e["causes"].values()) == len(wrong)
    causes = {c: 0 for c in e["causes"]}
    for f in e["failures"]:
        assert f["truth"] == truths[f["image_id"]] and f["file"] == f"{f['image_id']}.png"
        assert (int(f["read"]) if f["read"] else -1) == predicted[f["image_id"]]
        causes[f["cause"]] += 1
    assert causes == {c: v["count"] for c, v in e["causes"].items()}
    assert causes["nothing_read"] and causes["extra_digit"]  # the threshold gives more than one kind

    assert main(["eval", "--images", str(images), "--ann", str(ann), *args, "--show-failures", "3"]) == 0
    text = capsys.readouterr().out
    assert f"failed numbers: {len(wrong)} of 48" in text
    listed = text.split(f"failures (first 3 of {len(wrong)})\n")[1].splitlines()[1:]
    assert [int(line.split()[0]) for line in listed] == [f["image_id"] for f in e["failures"][:3]]


def test_pred_json_loads_against_ground_truth(tmp_path, synth_set, random_model):
    images, ann = synth_set
    main(["predict", str(images), "--out", str(tmp_path), "--model", str(random_model), "--device", "cpu"])
    gt = COCO(str(ann))
    dt = gt.loadRes(str(tmp_path / "pred.json"))
    assert set(dt.getImgIds()) <= set(gt.getImgIds())


def test_missing_default_model_is_a_clear_error(tmp_path, monkeypatch, capsys, synth_set):
    monkeypatch.setitem(paths.BUNDLED_MODELS, "default", tmp_path / "absent.pt")
    images, _ = synth_set
    assert main(["predict", str(images), "--out", str(tmp_path / "o"), "--model", "default"]) == 2
    assert "no default model is bundled" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "content", [b"", b"PK\x03\x04 not a zip", b"\x80\x04K\x01.", bytes(range(256)) * 9, b"a text file\n"]
)
def test_bad_model_file_is_a_clear_error(tmp_path, capsys, synth_set, content):
    (tmp_path / "m.pt").write_bytes(content)
    images, _ = synth_set
    assert (
        main(["predict", str(images), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "m.pt")]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"error: not a Digit Studio model: {tmp_path / 'm.pt'} (")
    assert err.count("\n") == 1 and "weights_only" not in err


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


def _small_set(tmp_path, synth_set, n=4):
    """The first ``n`` photos of the synthetic set, with their own COCO file."""
    images, ann = synth_set
    coco = json.loads(ann.read_text())
    keep = {i["id"] for i in coco["images"][:n]}
    small = {
        **coco,
        "images": [i for i in coco["images"] if i["id"] in keep],
        "annotations": [a for a in coco["annotations"] if a["image_id"] in keep],
    }
    path = tmp_path / "small.json"
    path.write_text(json.dumps(small))
    return images, path


@pytest.mark.slow
def test_command_line_options_win_over_the_recipe_even_at_their_defaults(tmp_path, synth_set):
    images, ann = _small_set(tmp_path, synth_set)
    recipe = tmp_path / "r.json"
    model = {"min_size_jitter": [72, 88], "sampling": {"box_detections_per_img": 7}}
    recipe.write_text(
        json.dumps({"seed": 5, "preset": "mobilenet_v3_small_fpn", "log_every": 3, "model": model})
    )
    out = tmp_path / "run"
    args = ["train", "--config", str(recipe), "--seed", "0", "--preset", "default"]
    args += ["--train-images", str(images), "--train-ann", str(ann), "--out", str(out)]
    args += ["--epochs", "1", "--batch-size", "2", "--workers", "0", "--device", "cpu"]
    assert main(args) == 0
    tc = json.loads((out / "config.json").read_text())["train_config"]
    assert tc["seed"] == 0 and tc["preset"] == "default"  # given: the command line wins
    assert tc["log_every"] == 3  # not given: the recipe fills it
    cfg = json.loads((out / "config.json").read_text())["model_config"]
    assert cfg["min_size_jitter"] == [72, 88]  # the recipe's model values, on the command line's preset
    assert cfg["sampling"]["box_detections_per_img"] == 7
    assert (
        cfg["sampling"]["box_batch_size_per_image"]
        == get_preset("default")["sampling"]["box_batch_size_per_image"]
    )


@pytest.mark.parametrize(
    "content, says",
    [
        ("{broken", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"epochs": "ten"}', "epochs"),
        ('{"device": "tpu"}', "device"),
        ('{"no_such_option": 1}', "unknown option"),
        ('{"model": [72]}', "'model' must be a JSON object"),
        ('{"train_repeat": ["2"]}', "a list of whole numbers"),
        ('{"model": {"no_such_value": 1}}', "no value 'no_such_value'"),
        ('{"model": {"min_size_jitter": 80}}', "'min_size_jitter' must look like"),
        ('{"model": {"sampling": {"typo": 1}}}', "'sampling' must look like"),
        ('{"model": {"arch": "resnet50_fpn"}}', "no value 'arch'"),
    ],
)
def test_malformed_recipe_is_a_clear_error(tmp_path, capsys, synth_set, content, says):
    images, ann = _small_set(tmp_path, synth_set)
    recipe = tmp_path / "r.json"
    recipe.write_text(content)
    args = ["train", "--config", str(recipe), "--train-images", str(images), "--train-ann", str(ann)]
    args += ["--epochs", "1", "--batch-size", "2", "--workers", "0"]  # short, should it get through
    assert main([*args, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(recipe) in err and says in err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


@pytest.mark.parametrize("repeats", [["2", "1"], ["0"]])
def test_train_repeat_needs_one_count_per_set(tmp_path, capsys, synth_set, repeats):
    images, ann = _small_set(tmp_path, synth_set)
    args = ["train", "--train-images", str(images), "--train-ann", str(ann), "--out", str(tmp_path / "run")]
    for n in repeats:
        args += ["--train-repeat", n]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--train-repeat" in err and not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_predict_on_cuda_without_cuda_is_a_clear_error(tmp_path, capsys, synth_set, random_model):
    images, _ = synth_set
    args = ["predict", str(images), "--out", str(tmp_path / "o"), "--model", str(random_model)]
    assert main([*args, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "CUDA" in err and "--device" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_config_json_is_replaced_atomically(tmp_path, synth_set):
    """A resumed run replaces config.json as a new file: a crash mid-write leaves the old one whole."""
    images, ann = _small_set(tmp_path, synth_set)
    out = tmp_path / "run"
    args = ["train", "--train-images", str(images), "--train-ann", str(ann), "--out", str(out)]
    args += ["--batch-size", "2", "--workers", "0", "--device", "cpu"]
    assert main([*args, "--epochs", "1"]) == 0
    first = (out / "config.json").read_text()
    os.link(out / "config.json", tmp_path / "old-config.json")  # the same file, by another name
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert json.loads((out / "config.json").read_text())["train_config"]["epochs"] == 2
    # written in place, the old name would show the new text; replaced, it keeps the old file
    assert (tmp_path / "old-config.json").read_text() == first


def _prediction_files(out):
    dets = json.loads((out / "pred.json").read_text())
    dets.sort(key=lambda d: (d["image_id"], d["category_id"], d["bbox"][0], d["bbox"][1]))
    return list(csv.reader((out / "pred.csv").open())), dets


@pytest.mark.skipif(not paths.DEFAULT_MODEL.is_file(), reason="no bundled default model")
def test_an_image_reads_the_same_whatever_the_batch_and_its_neighbours(tmp_path, synth_set):
    """torchvision pads a batch to its widest image: a narrow photo beside a wide one must still
    read as it reads alone (the same folder predicted one image at a time and in batches)."""
    images, _ = synth_set
    folder = tmp_path / "in"
    folder.mkdir()
    for k, p in enumerate(sorted(images.glob("*.png"))[:10]):
        img = Image.open(p).convert("RGB")
        if k % 3 == 1:  # wide neighbours: the photo three times side by side
            wide = Image.new("RGB", (img.width * 3, img.height))
            for j in range(3):
                wide.paste(img, (j * img.width, 0))
            img = wide
        elif k % 3 == 2:  # narrow crops, digits up to the edge
            img = img.crop((img.width // 4, 0, img.width * 3 // 4, img.height))
        img.save(folder / p.name)
    outs = {}
    for batch in ("1", "10"):
        out = tmp_path / f"b{batch}"
        args = ["predict", str(folder), "--out", str(out), "--device", "cpu", "--batch-size", batch]
        assert main([*args, "--workers", "0"]) == 0
        outs[batch] = _prediction_files(out)
    (rows1, dets1), (rows10, dets10) = outs["1"], outs["10"]
    assert rows1 == rows10 and len(rows1) == 11
    assert any(r[1] != "-1" for r in rows1[1:])  # it reads numbers here, so the check means something
    assert len(dets1) == len(dets10)
    for a, b in zip(dets1, dets10):
        assert (a["image_id"], a["category_id"]) == (b["image_id"], b["category_id"])
        assert a["bbox"] == pytest.approx(b["bbox"], abs=0.05) and a["score"] == pytest.approx(
            b["score"], abs=1e-3
        )
