"""finetune: numbers or boxes in, one model out; bad input is a clear error with nothing left."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from trainer.__main__ import main
from trainer.data import gt_text
from trainer.formats import load_annotations
from trainer.loop import make_optimizer, make_scheduler, schedule_for
from trainer.model import read_checkpoint
from trainer.presets import get_preset

from .conftest import BIBS


def _numbers_csv(tmp_path, synth_set, n=12, bad_row=None):
    images, ann = synth_set
    recs = load_annotations(str(ann), str(images)).records[:n]
    path = tmp_path / "truth.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "file_name", "number"])
        for r in recs:
            w.writerow([r.image_id, r.path.name, gt_text(r)])
        if bad_row:
            w.writerow(bad_row)
    return path


def _no_model_left(out):
    return not any(out.rglob("*.pt")) if out.exists() else True


@pytest.mark.parametrize(
    "bad_row, needle",
    [
        ([999, "missing.png", "12"], "no image file 'missing.png'"),
        ([999, "1.png", "1a"], "number '1a' is not"),
    ],
)
def test_bad_numbers_csv_is_exit_2_naming_the_line(tmp_path, synth_set, capsys, bad_row, needle):
    images, _ = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=3, bad_row=bad_row)
    out = tmp_path / "run"
    code = main(
        ["finetune", "--images", str(images), "--numbers", str(path), "--out", str(out), "--device", "cpu"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "line 5" in err
    assert _no_model_left(out)


def test_duplicate_ids_in_numbers_csv_is_exit_2(tmp_path, synth_set, capsys):
    images, _ = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=2)
    rows = path.read_text().splitlines()
    path.write_text("\n".join(rows + [rows[1]]) + "\n")
    code = main(["finetune", "--images", str(images), "--numbers", str(path), "--out", str(tmp_path / "r")])
    assert code == 2 and "repeats line 2" in capsys.readouterr().err


def test_coco_without_boxes_is_exit_2(tmp_path, synth_set, capsys):
    images, ann = synth_set
    coco = json.loads(ann.read_text())
    coco["annotations"] = []
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(coco))
    out = tmp_path / "run"
    code = main(
        ["finetune", "--images", str(images), "--ann", str(empty), "--out", str(out), "--device", "cpu"]
    )
    assert code == 2
    assert "no digit boxes" in capsys.readouterr().err
    assert _no_model_left(out)


def test_init_that_is_not_a_checkpoint_is_exit_2(tmp_path, synth_set, capsys):
    images, ann = synth_set
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00\x01 not a model" * 50)
    out = tmp_path / "run"
    code = main(
        ["finetune", "--images", str(images), "--ann", str(ann), "--out", str(out), "--init", str(junk)]
    )
    assert code == 2
    assert "junk.pt" in capsys.readouterr().err
    assert _no_model_left(out)


def test_fewer_than_five_usable_photos_is_exit_2(tmp_path, synth_set, random_model, capsys):
    """A model that reads nothing places no number: every photo is left out."""
    images, _ = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=6)
    out = tmp_path / "run"
    code = main(
        [
            "finetune",
            "--images",
            str(images),
            "--numbers",
            str(path),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--init",
            str(random_model),
            "--start",
            "init",
        ]
    )
    assert code == 2
    assert "usable photos (at least 5 needed)" in capsys.readouterr().err
    assert _no_model_left(out)


def test_a_stop_while_the_numbers_are_placed_ends_as_stopped_with_nothing_written(tmp_path, synth_set):
    from trainer.events import StageEvent, StoppedEvent
    from trainer.finetune import FinetuneConfig, finetune
    from trainer.loop import Stopper

    images, _ = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=12)
    out = tmp_path / "run"
    stopper, events, placed = Stopper(), [], []

    def on_event(ev):
        if isinstance(ev, StageEvent):
            assert ev.stage == "place" and ev.total == 12
            placed.append(ev.done)
            if ev.done >= 2:
                stopper.stop("SIGINT")
        else:
            events.append(ev)

    fc = FinetuneConfig(images=str(images), out=str(out), numbers=str(path), device="cpu", start="init")
    end = finetune(fc, on_event, stopper)
    assert isinstance(end, StoppedEvent) and end.reason == "SIGINT" and end.best is None
    assert events == [end]  # reported as a stop (the app and the CLI print it), not an error
    assert placed and max(placed) < 12  # placing stopped early
    assert not out.exists()  # nothing written


@pytest.mark.slow
def test_finetune_on_numbers_writes_one_model_that_predict_loads(tmp_path, synth_set, capsys):
    images, _ = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=16)
    out = tmp_path / "run"
    code = main(
        [
            "finetune",
            "--images",
            str(images),
            "--numbers",
            str(path),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--epochs",
            "1",
            "--max-minutes",
            "2",
            "--json-progress",
        ]
    )
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    last = lines[-1]
    assert last["event"] == "done" and last["best"] == str(out / "model.pt")  # the app waits for it
    start = next(e for e in lines if e["event"] == "start")  # what it started from, and why
    # before it, the start chosen and the numbers placed, photo by photo (the app's bar shows them)
    before = lines[: lines.index(start)]
    assert {e["event"] for e in before} == {"stage"}
    assert [e["stage"] for e in before if e["done"] == e["total"]] == ["choose", "place"]
    assert next(e for e in before if e["stage"] == "place")["total"] == 16
    assert start["start_model"] in ("default", "printed") and start["start_note"].startswith("starting from")
    assert sorted(p.name for p in out.glob("*.pt")) == ["model.pt"]  # one checkpoint, not best and last
    blob = read_checkpoint(out / "model.pt")
    assert blob["config"]["printed"] > 0
    placed = json.loads((out / "train.json").read_text())
    val = json.loads((out / "val.json").read_text())
    left = list(csv.DictReader((out / "left_out.csv").open()))
    assert len(placed["images"]) + len(val["images"]) + len(left) == 16
    # the placed boxes spell the typed numbers
    truth = {int(r["image_id"]): r["number"] for r in csv.DictReader(path.open())}
    for im in placed["images"]:
        anns = sorted(
            (a for a in placed["annotations"] if a["image_id"] == im["id"]), key=lambda a: a["bbox"][0]
        )
        assert "".join(str(a["category_id"] - 1) for a in anns) == truth[im["id"]]
    pred_out = tmp_path / "pred"
    assert (
        main(
            [
                "predict",
                str(images),
                "--out",
                str(pred_out),
                "--model",
                str(out / "model.pt"),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert (pred_out / "pred.csv").is_file()


@pytest.mark.slow
def test_train_with_sgd_and_step_schedule(tmp_path, synth_set, random_model, capsys):
    images, ann = synth_set
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--train-images",
            str(images),
            "--train-ann",
            str(ann),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--optimizer",
            "sgd",
            "--schedule",
            "step",
            "--lr",
            "0.01",
            "--init",
            str(random_model),
        ]
    )
    assert code == 0
    blob = read_checkpoint(out / "last.pt")
    assert blob["config"]["schedule"]["kind"] == "step"
    assert "momentum" in blob["optimizer"]["param_groups"][0]


def test_step_schedule_falls_tenfold_at_its_milestones():
    cfg = get_preset("default")
    cfg["schedule"] = schedule_for("step", cfg["schedule"])
    p = torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer([p], "sgd", 0.1, cfg)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    sched, unit = make_scheduler(opt, cfg, epochs=10, iters_per_epoch=100)
    assert unit == "iter"
    lrs = []
    for _ in range(1000):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = cfg["schedule"]["warmup_iters"]
    assert math.isclose(lrs[warm + 10], 0.1)
    assert math.isclose(lrs[int(warm + 0.7 * (1000 - warm))], 0.01)
    assert math.isclose(lrs[-1], 0.001)
    cos = schedule_for("cosine", get_preset("default")["schedule"])
    assert cos["kind"] == "warmup_cosine"
    with pytest.raises(ValueError):
        schedule_for("linear", cos)
    with pytest.raises(ValueError):
        make_optimizer([p], "lion", 0.1, cfg)


@pytest.mark.slow
def test_photos_the_start_model_cannot_place_are_placed_by_the_first_rounds_model(
    tmp_path, synth_set, monkeypatch
):
    """Numbers alone: a first round trains on what the starting model placed; its model places
    the rest, and the second round trains on all of them. One start, epochs counting on."""
    import trainer.finetune as ft
    from trainer.events import DoneEvent, EpochEvent, StartEvent

    images, ann = synth_set
    path = _numbers_csv(tmp_path, synth_set, n=16)
    truth = {r.path.name: r for r in load_annotations(str(ann), str(images)).records}
    hard = sorted(truth)[:4]  # the starting model "cannot place" these
    models = []

    def fake_place(rows, predictor, progress=None, cancelled=None):
        models.append(predictor.model_path)
        first = len(models) == 1
        lab = ft.Labelled([], [], [])
        for row in rows:
            rec = truth[row.path.name]
            if first and row.path.name in hard:
                lab.left_out.append((row.path.name, "unsure of a digit (score 0.10)"))
                continue
            lab.images.append(
                {"id": row.image_id, "file_name": row.path.name, "width": rec.width, "height": rec.height}
            )
            for (x1, y1, x2, y2), c in zip(rec.boxes.tolist(), rec.labels.tolist()):
                lab.boxes.append(
                    {"image_id": row.image_id, "bbox": [x1, y1, x2 - x1, y2 - y1], "digit": c - 1}
                )
        return lab

    monkeypatch.setattr(ft, "place_numbers", fake_place)
    out = tmp_path / "run"
    events = []
    fc = ft.FinetuneConfig(
        images=str(images),
        out=str(out),
        numbers=str(path),
        epochs=1,
        max_minutes=2,
        device="cpu",
        start="init",
    )
    end = ft.finetune(fc, events.append)
    assert isinstance(end, DoneEvent) and end.best == str(out / "model.pt")
    assert len(models) == 2 and models[1].name == "model.pt" and models[1].parent.name == "first"
    assert sorted(p.name for p in out.rglob("*.pt")) == ["model.pt"] and not (out / "first").exists()
    placed = json.loads((out / "train.json").read_text())["images"]
    placed += json.loads((out / "val.json").read_text())["images"]
    assert len(placed) == 16 and {h for h in hard} <= {im["file_name"] for im in placed}
    assert list(csv.DictReader((out / "left_out.csv").open())) == []
    assert sum(isinstance(e, StartEvent) for e in events) == 1
    epochs = [e.epoch for e in events if isinstance(e, EpochEvent)]
    assert epochs == [1, 2] and end.epoch == 2
    assert events[-1] is end and sum(isinstance(e, DoneEvent) for e in events) == 1


def _train_config(fc, monkeypatch):
    """The engine's TrainConfig that ``finetune(fc)`` would train with (the training is not run)."""
    import trainer.engine
    from trainer.finetune import finetune

    seen = []

    class Enough(Exception):
        pass

    def fake_fit(tc, on_event=None, stopper=None):
        seen.append(tc)
        raise Enough

    monkeypatch.setattr(trainer.engine, "fit", fake_fit)
    with pytest.raises(Enough):
        finetune(fc)
    return seen[0]


def test_the_user_photos_repeat_so_the_rehearsed_photos_are_varied(
    tmp_path, synth_set, random_model, monkeypatch
):
    """With --mix, each epoch holds the user's photos RECIPE["user_repeat"] times and
    mix_share of different rehearsal photos: at a quarter, as many as the user's photos seen."""
    from trainer.data import held_out
    from trainer.finetune import HOLDOUT, RECIPE, FinetuneConfig

    images, ann = synth_set
    mix_ann = tmp_path / "mix.json"
    mix_ann.write_text(ann.read_text())
    out = tmp_path / "run"
    fc = FinetuneConfig(
        images=str(images),
        out=str(out),
        ann=str(ann),
        init=str(random_model),
        device="cpu",
        start="init",
        mix=[(str(images), str(mix_ann))],
        mix_share=0.25,
        val_share=0.25,
    )
    tc = _train_config(fc, monkeypatch)
    k = RECIPE["user_repeat"]
    assert k > 1 and tc.repeat == [k, 1]
    n_train = len(json.loads((out / "train.json").read_text())["images"])
    mixed = json.loads((out / "mix0.json").read_text())["images"]
    # the rehearsal pool: the mixed set less the share the bundled models' trainings held out
    pool = [im for im in json.loads(ann.read_text())["images"] if not held_out(im["id"], HOLDOUT)]
    assert 0 < len(pool) < 48
    assert len(mixed) == min(len(pool), round(n_train * k * 0.25 / 0.75))  # distinct photos
    assert all(not held_out(im["id"], HOLDOUT) for im in mixed)
    assert len({im["id"] for im in mixed}) == len(mixed)


def test_rehearsal_never_draws_the_photos_training_held_out(tmp_path, synth_set):
    """The mixed photos leave out the stable share the bundled models' trainings held out, so
    those photos still measure what a fine-tune forgot."""
    from trainer.data import held_out
    from trainer.finetune import HOLDOUT, _mix_subset

    images, ann = synth_set
    coco = json.loads(ann.read_text())
    held = [i for i in range(1, 100_000) if held_out(i, HOLDOUT)][:24]
    kept = [i for i in range(1, 100_000) if not held_out(i, HOLDOUT)][:24]
    new_id = dict(zip([im["id"] for im in coco["images"]], held + kept, strict=True))
    for im in coco["images"]:
        im["id"] = new_id[im["id"]]
    for a in coco["annotations"]:
        a["image_id"] = new_id[a["image_id"]]
    mix_ann = tmp_path / "mix.json"
    mix_ann.write_text(json.dumps(coco))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pairs = _mix_subset(run_dir, [(str(images), str(mix_ann))], count=48, seed=0)
    drawn = {im["id"] for im in json.loads(Path(pairs[0][1]).read_text())["images"]}
    assert drawn == set(kept)


@pytest.mark.parametrize("text_class", [True, False])
def test_text_class_knob_gives_a_model_without_one_the_text_class(
    tmp_path, synth_set, random_model, monkeypatch, text_class
):
    from trainer.finetune import FinetuneConfig
    from trainer.model import load_detector

    images, ann = synth_set
    assert not load_detector(random_model)[1].get("text_class")  # the starting model has none
    fc = FinetuneConfig(
        images=str(images),
        out=str(tmp_path / "run"),
        ann=str(ann),
        init=str(random_model),
        device="cpu",
        start="init",
        text_class=text_class,
    )
    assert bool(_train_config(fc, monkeypatch).overrides.get("text_class")) is text_class


# ---------------------------------------------------------------- which model a run starts from


def _bib_numbers(tmp_path, n):
    """The first ``n`` bibs' truth rows, as a numbers CSV beside the shipped images."""
    rows = list(csv.DictReader((BIBS / "truth.csv").open()))[:n]
    path = tmp_path / "bibs.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image_id", "file_name", "number"])
        for r in rows:
            w.writerow([r["image_id"], r["file_name"], r["number"]])
    return path


@pytest.mark.skipif(not (BIBS / "truth.csv").is_file(), reason="bibs absent")
def test_race_bibs_start_from_the_printed_model_that_reads_more_of_them(tmp_path):
    from trainer.finetune import FinetuneConfig, choose_start

    fc = FinetuneConfig(
        images=str(BIBS / "images"),
        out=str(tmp_path / "run"),
        numbers=str(_bib_numbers(tmp_path, 20)),
        device="cpu",
    )
    choice = choose_start(fc)
    assert choice.photos == 20 and set(choice.right) == {"default", "printed"}
    assert choice.right["printed"] > choice.right["default"]
    assert choice.model == "printed"
    assert choice.text().startswith("starting from the bundled printed numbers model: it reads the most")
    assert f"printed numbers model {choice.right['printed']}" in choice.text()
    # --start init: the given model, nothing read
    forced = choose_start(FinetuneConfig(**{**fc.__dict__, "start": "init"}))
    assert (forced.model, forced.right) == ("default", {})


def test_a_tie_keeps_the_given_model(tmp_path, synth_set, monkeypatch):
    """A bundled model that reads no more than the given one is not taken: the given one stays."""
    import shutil

    from trainer import paths
    from trainer.finetune import FinetuneConfig, choose_start

    twin = tmp_path / "printed.pt"
    shutil.copy(paths.DEFAULT_MODEL, twin)  # reads exactly as the default does
    monkeypatch.setitem(paths.BUNDLED_MODELS, "printed", twin)
    images, _ = synth_set
    fc = FinetuneConfig(
        images=str(images),
        out=str(tmp_path / "run"),
        numbers=str(_numbers_csv(tmp_path, synth_set, n=10)),
        device="cpu",
    )
    read = []
    choice = choose_start(fc, progress=lambda done, total: read.append((done, total)))
    assert choice.right["default"] == choice.right["printed"] > 0
    # both candidates read the 10 photos, told as one count
    assert read[-1] == (20, 20) and [d for d, _ in read] == sorted({d for d, _ in read})
    assert choice.model == "default" and "no other model reads more" in choice.text()


def test_an_unknown_start_rule_is_exit_2(tmp_path, synth_set, capsys):
    images, ann = synth_set
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "finetune",
                "--images",
                str(images),
                "--ann",
                str(ann),
                "--out",
                str(tmp_path / "r"),
                "--start",
                "x",
            ]
        )
    assert exc.value.code == 2 and "invalid choice: 'x'" in capsys.readouterr().err
