"""scripts/retune_model.py: a packaged model's input size and threshold chosen again on held-out photos."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from trainer.model import build_detector, load_detector, save_checkpoint
from trainer.presets import get_preset

ROOT = Path(__file__).resolve().parents[2]


def test_retune_writes_a_half_precision_model_with_the_chosen_size_in_its_card(tmp_path, synth_set):
    images, ann = synth_set
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(images, data / "train")
    shutil.copy(ann, data / "train.json")
    cfg = get_preset("default")
    torch.manual_seed(0)
    src = tmp_path / "in.pt"
    card = {"name": "m", "score_thresh": 0.9, "input_min_size": 128}
    save_checkpoint(src, build_detector(cfg).eval(), cfg, score_thresh=0.9, card=card)
    out = tmp_path / "out.pt"
    done = subprocess.run(
        [
            sys.executable,
            "scripts/retune_model.py",
            str(src),
            "--out",
            str(out),
            "--data",
            str(data),
            "--sizes",
            "80",
            "96",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "input 80:" in done.stdout and "input 96:" in done.stdout
    _, new_cfg, blob = load_detector(out)
    assert new_cfg["resize"]["min_size"] in (80, 96)
    assert all(v.dtype == torch.float16 for v in blob["model"].values() if v.is_floating_point())
    written = json.loads(out.with_suffix(".json").read_text())
    assert written["input_min_size"] == new_cfg["resize"]["min_size"]
    assert [t["min_size"] for t in written["tuned_sizes"]] == [80, 96]
    assert written["score_thresh"] == blob["score_thresh"] == blob["card"]["score_thresh"]


def test_retune_without_svhn_data_is_a_clear_error(tmp_path, random_model):
    done = subprocess.run(
        [
            sys.executable,
            "scripts/retune_model.py",
            str(random_model),
            "--out",
            str(tmp_path / "o.pt"),
            "--data",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "no train.json or extra.json" in done.stderr
    assert not (tmp_path / "o.pt").exists()
