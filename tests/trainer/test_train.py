"""Short CPU trainings on synthetic photos."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer.data import Record
from trainer.engine import TrainConfig, fit, split_holdout
from trainer.errors import TrainingError

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # short trainings: `pytest -m "not slow"` leaves them out


def _rows(run):
    return list(csv.DictReader((run / "metrics.csv").open()))


def _tc(synth_set, out, **kw):
    images, ann = synth_set
    base = dict(
        train=[(str(images), str(ann))], out=str(out), epochs=1, batch_size=8, device="cpu", workers=0, seed=3
    )
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_and_files_are_written(tmp_path, synth_set):
    events = []
    images, ann = synth_set
    out = tmp_path / "run"
    summary = fit(
        _tc(
            synth_set,
            out,
            epochs=6,
            val=(str(images), str(ann)),
            lr=2e-3,
            overrides={"schedule": {"kind": "warmup_cosine", "warmup_iters": 5, "eta_min": 1e-5}},
        ),
        events.append,
    )
    assert summary.status == "done"
    for name in ("last.pt", "best.pt", "config.json", "metrics.csv"):
        assert (out / name).is_file()
    rows = _rows(out)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    first, last = float(rows[0]["loss"]), float(rows[-1]["loss"])
    assert last < 0.8 * first, (first, last)
    assert {"mAP", "AP50", "number_accuracy", "lr", "seconds"} <= set(rows[0])
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 6
    # the input size is chosen on the held-out photos after training and stored with the model
    tuned = next(e for e in events if e.kind == "tuned")
    assert [t["min_size"] for t in tuned.tried] == [80, 96, 112, 128]
    best = max(t["number_accuracy"] for t in tuned.tried)
    chosen = next(t for t in tuned.tried if t["min_size"] == tuned.min_size)
    assert chosen["number_accuracy"] == best
    blob = torch.load(out / "best.pt", weights_only=True)
    assert blob["config"]["resize"]["min_size"] == tuned.min_size
    assert blob["score_thresh"] == tuned.score_thresh == summary.score_thresh
    assert any(e.kind == "progress" and e.eta_seconds is not None for e in events)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_config"]["preset"] == "default"


def test_resume_continues_where_it_stopped(tmp_path, synth_set):
    out = tmp_path / "run"
    fit(_tc(synth_set, out, epochs=2))
    blob = torch.load(out / "last.pt", weights_only=True)
    assert blob["epoch"] == 2
    events = []
    fit(_tc(synth_set, out, epochs=3, resume=True), events.append)
    assert events[0].start_epoch == 2
    assert [int(r["epoch"]) for r in _rows(out)] == [1, 2, 3]


def test_non_finite_losses_stop_with_clear_error_and_keep_checkpoint(tmp_path, synth_set, monkeypatch):
    out = tmp_path / "run"
    fit(_tc(synth_set, out, epochs=1))
    good = (out / "last.pt").read_bytes()
    from torchvision.models.detection import FasterRCNN

    real_forward = FasterRCNN.forward

    def nan_forward(self, images, targets=None):
        out_ = real_forward(self, images, targets)
        if self.training:
            out_ = {k: v * float("nan") for k, v in out_.items()}
        return out_

    monkeypatch.setattr(FasterRCNN, "forward", nan_forward)
    events = []
    with pytest.raises(TrainingError, match="non-finite losses"):
        fit(_tc(synth_set, out, epochs=3, resume=True, max_bad_steps=3), events.append)
    assert (out / "last.pt").read_bytes() == good
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and "non-finite losses" in errors[0].message  # reported once


def test_comparison_images_are_kept_apart_from_validation(tmp_path, synth_set, random_model):
    """Validation picks best.pt, the input size and the threshold; the comparison uses other photos."""
    images, ann = synth_set
    coco = json.loads(ann.read_text())
    half = {i["id"] for i in coco["images"][::2]}
    for name, keep in (("val.json", half), ("cmp.json", {i["id"] for i in coco["images"]} - half)):
        part = {
            **coco,
            "images": [i for i in coco["images"] if i["id"] in keep],
            "annotations": [a for a in coco["annotations"] if a["image_id"] in keep],
        }
        (tmp_path / name).write_text(json.dumps(part))
    events = []
    tc = _tc(synth_set, tmp_path / "run", val=(str(images), str(tmp_path / "val.json")))
    tc.compare_with, tc.compare = str(random_model), (str(images), str(tmp_path / "cmp.json"))
    fit(tc, events.append)
    start = events[0]
    cmp = next(e for e in events if e.kind == "compare")
    assert start.val_images == len(half) and start.compare_images == cmp.images == 48 - len(half)
    assert [e.kind for e in events][-3:] == ["tuned", "compare", "done"]


def test_holdout_is_stable_by_id():
    recs = [Record(i, Path(f"{i}.png")) for i in range(1000)]
    train, hold = split_holdout(recs, 0.15)
    train2, hold2 = split_holdout(list(reversed(recs)), 0.15)
    assert {r.image_id for r in hold} == {r.image_id for r in hold2}
    assert 100 < len(hold) < 200 and len(train) + len(hold) == 1000


def test_repeated_set_is_seen_more_often_and_its_held_out_photos_scored_once(tmp_path, synth_set):
    images, ann = synth_set
    coco = json.loads(ann.read_text())
    ids = [i["id"] for i in coco["images"]]
    parts = {"a.json": set(ids[:16]), "b.json": set(ids[16:])}
    for name, keep in parts.items():
        part = {
            **coco,
            "images": [i for i in coco["images"] if i["id"] in keep],
            "annotations": [a for a in coco["annotations"] if a["image_id"] in keep],
        }
        (tmp_path / name).write_text(json.dumps(part))
    held = {i for i in ids if split_holdout([Record(i, Path("x"))], 0.25)[1]}
    assert held & parts["a.json"], "the check needs a held-out photo in the repeated set"
    events = []
    pairs = [(str(images), str(tmp_path / "a.json")), (str(images), str(tmp_path / "b.json"))]
    fit(_tc(synth_set, tmp_path / "run", train=pairs, repeat=[3, 1], holdout=0.25), events.append)
    start = events[0]
    progress = next(e for e in events if e.kind == "progress")
    assert start.images == 48 - len(held) and start.val_images == len(held)  # photos, once each
    seen = 3 * len(parts["a.json"] - held) + len(parts["b.json"] - held)
    assert progress.iters == seen // 8  # batches of 8 over every repeat (the last part batch dropped)


def _train_args(synth_set, out, *extra: str, val: bool = False) -> list[str]:
    """``train`` arguments for a short CPU run on the synthetic set (as the CLI takes them)."""
    images, ann = synth_set
    args = [
        "train",
        "--train-images",
        str(images),
        "--train-ann",
        str(ann),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--workers",
        "0",
        "--json-progress",
    ]
    if val:
        args += ["--val-images", str(images), "--val-ann", str(ann)]
    return args + list(extra)


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


@pytest.mark.parametrize(
    ("sig", "workers", "group"),
    [(signal.SIGTERM, "0", False), (signal.SIGINT, "1", True)],
    ids=["sigterm", "ctrl-c-to-process-group-with-loader-workers"],
)
def test_stop_signal_saves_a_checkpoint_and_exits_cleanly(tmp_path, synth_set, sig, workers, group):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainer",
            *_train_args(
                synth_set,
                out,
                "--epochs",
                "50",
                "--batch-size",
                "4",
                "--workers",
                workers,
                "--log-every",
                "1",
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(),
        start_new_session=True,
    )
    for line in proc.stdout:
        if json.loads(line)["event"] == "progress":
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
            break
    rest, err = proc.communicate(timeout=120)
    events = [json.loads(x) for x in rest.splitlines() if x.strip()]
    assert proc.returncode == 0, err
    assert events[-1]["event"] == "stopped" and events[-1]["reason"] == sig.name
    assert (out / "last.pt").is_file()
    assert "Traceback" not in err


def test_torchrun_two_processes_gloo(tmp_path, synth_set):
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29533",
            "-m",
            "trainer",
            *_train_args(synth_set, out, "--epochs", "2", "--batch-size", "4", val=True),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]  # every line is one event
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # rank 0 alone reports
    assert [int(r["epoch"]) for r in _rows(out)] == [1, 2]  # rank 0 alone wrote the rows
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    # each rank sees half the data per epoch: 48 images / 2 ranks / batch 4 = 6 iterations
    assert max(e["iters"] for e in events if e["event"] == "progress") == 6


def test_compare_with_scores_old_and_new_on_the_same_photos(tmp_path, synth_set, random_model, capsys):
    from trainer.__main__ import main

    rc = main(
        _train_args(
            synth_set,
            tmp_path / "run",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--compare-with",
            str(random_model),
            val=True,
        )
    )
    assert rc == 0
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [e["event"] for e in events][-2:] == ["compare", "done"]
    cmp = events[-2]
    assert cmp["images"] == 48 and cmp["v"] == 2
    for side in ("old", "new"):
        assert set(cmp[side]) == {"mAP", "AP50", "AP75", "number_accuracy", "score_thresh"}
    assert cmp["old"]["score_thresh"] == 0.0  # the random model keeps its own threshold


def test_max_minutes_ends_the_run(tmp_path, synth_set, capsys):
    from trainer.__main__ import main

    rc = main(
        _train_args(
            synth_set, tmp_path / "run", "--epochs", "50", "--batch-size", "8", "--max-minutes", "0.05"
        )
    )
    assert rc == 0
    events = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    done = next(e for e in events if e["event"] == "done")
    assert done["time_budget_reached"] is True and done["epoch"] < 50
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["train_config"]["max_seconds"] == pytest.approx(3.0)


def test_time_budget_anneals_the_learning_rate_over_the_budget():
    from trainer.loop import make_scheduler as _make_scheduler

    cfg = {"schedule": {"kind": "warmup_cosine", "warmup_iters": 4, "eta_min": 1e-5}}
    clock = {"frac": 0.0}
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1e-3)
    sched, unit = _make_scheduler(opt, cfg, epochs=1000, iters_per_epoch=10, time_frac=lambda: clock["frac"])
    assert unit == "iter"
    for _ in range(4):  # warm-up
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    lrs = []
    for frac in (0.25, 0.5, 0.75, 1.0, 1.5):  # 1000 epochs are far away; the budget is not
        clock["frac"] = frac
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == sorted(lrs, reverse=True)
    assert lrs[1] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5, rel=1e-3)
    assert lrs[3] == lrs[4] == pytest.approx(1e-5)


def test_time_budget_ends_a_long_warm_up_early():
    """A few minutes' budget with the preset's 200 warm-up steps: the warm-up ends after 5% of
    the time, so the run trains at its rate, not warming up for most of the budget."""
    from trainer.loop import WARMUP_BUDGET_SHARE, make_scheduler

    cfg = {"schedule": {"kind": "warmup_cosine", "warmup_iters": 200, "eta_min": 1e-5}}
    clock = {"frac": 0.0}
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1e-3)
    sched, _ = make_scheduler(opt, cfg, epochs=1000, iters_per_epoch=10, time_frac=lambda: clock["frac"])
    lrs = []
    for step in range(60):  # 2% of the budget per step: 60 steps run the budget out twice over
        clock["frac"] = (step + 1) * 0.02
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    warm_steps = int(WARMUP_BUDGET_SHARE / 0.02)
    assert lrs[0] == pytest.approx(1e-3 * 0.02 / WARMUP_BUDGET_SHARE)  # still warming up, by time
    assert lrs[warm_steps] == pytest.approx(1e-3, rel=0.02)  # warmed up after 5% of the time, not 200 steps
    peak = max(lrs)
    assert lrs.index(peak) <= warm_steps + 1
    after = lrs[lrs.index(peak) :]
    assert after == sorted(after, reverse=True)  # then one cosine over the rest of the budget
    assert lrs[24] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5, rel=1e-2)  # half the budget
    assert lrs[-1] == pytest.approx(1e-5)


def _bn_means(state: dict) -> torch.Tensor:
    return torch.cat([v.float().flatten() for k, v in state.items() if k.endswith("running_mean")])


@pytest.mark.parametrize(
    "batch, asked, frozen", [(4, None, True), (8, None, False), (8, True, True), (4, False, False)]
)
def test_small_batch_fine_tuning_keeps_batchnorm_statistics(
    tmp_path, synth_set, random_model, batch, asked, frozen
):
    """By default only batches under 8 keep the starting statistics; freeze_bn says so outright."""
    events = []
    out = tmp_path / "run"
    fit(_tc(synth_set, out, batch_size=batch, init=str(random_model), freeze_bn=asked), events.append)
    assert events[0].frozen_bn_stats is frozen
    before = _bn_means(torch.load(random_model, weights_only=True)["model"])
    after = _bn_means(torch.load(out / "last.pt", weights_only=True)["model"])
    assert torch.equal(before, after) is frozen
    weights_before = torch.load(random_model, weights_only=True)["model"]
    weights_after = torch.load(out / "last.pt", weights_only=True)["model"]
    bn_scale = next(
        k
        for k in weights_before
        if k.endswith(".weight") and k.replace("weight", "running_mean") in weights_before
    )
    assert not torch.equal(weights_before[bn_scale], weights_after[bn_scale])  # scales still train


def test_a_text_class_is_added_to_a_warm_start_and_kept_by_later_fine_tunes(
    tmp_path, synth_set, random_model
):
    from trainer.model import load_detector

    first = tmp_path / "text"
    fit(_tc(synth_set, first, init=str(random_model), overrides={"text_class": True, "printed": 0.5}))
    model, cfg, _ = load_detector(first / "best.pt")
    assert cfg["text_class"] is True and model.roi_heads.box_predictor.cls_score.out_features == 12
    again = tmp_path / "again"  # a fine-tune of it that does not name the text class keeps it
    fit(_tc(synth_set, again, init=str(first / "best.pt")))
    model, cfg, _ = load_detector(again / "best.pt")
    assert cfg["text_class"] is True and model.roi_heads.text_label == 11


def test_an_epoch_the_budget_ends_before_its_first_step_is_not_reported(tmp_path, synth_set, monkeypatch):
    """A time budget that runs out just as an epoch begins: no "epoch N: loss 0.000" in the
    chart and the log, no metrics row; the run ends with the epoch before it."""
    import trainer.engine
    from trainer.events import DoneEvent, EpochEvent
    from trainer.loop import EpochResult

    real = trainer.engine.train_one_epoch

    def budget_gone_at_the_second_epoch(run, loader, epoch, *args, **kwargs):
        if epoch == 0:
            return real(run, loader, epoch, *args, **kwargs)
        return EpochResult({"loss": 0.0}, 0, 0, 0, 0.0, out_of_time=True)

    monkeypatch.setattr(trainer.engine, "train_one_epoch", budget_gone_at_the_second_epoch)
    events = []
    out = tmp_path / "run"
    end = fit(_tc(synth_set, out, epochs=3, max_seconds=3600), events.append)
    epochs = [e.epoch for e in events if isinstance(e, EpochEvent)]
    assert epochs == [1]
    assert [r["epoch"] for r in _rows(out)] == ["1"]
    assert isinstance(end, DoneEvent) and end.epoch == 1 and end.time_budget_reached
    assert float(end.metrics["loss"]) > 0
