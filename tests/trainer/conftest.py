from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainer.model import build_detector, save_checkpoint
from trainer.presets import get_preset
from trainer.synth import make_dataset

torch.set_num_threads(1)

SVHN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "svhn"
BIBS = SVHN.parent / "bibs"


@pytest.fixture(scope="session")
def synth_set(tmp_path_factory) -> tuple[Path, Path]:
    """(images dir, annotations.json) of 48 synthetic photos."""
    out = tmp_path_factory.mktemp("synth")
    ann = make_dataset(out, 48, seed=11)
    return out / "images", ann


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> Path:
    """A default-preset checkpoint with random weights (threshold 0 so it reads something)."""
    path = tmp_path_factory.mktemp("model") / "random.pt"
    cfg = get_preset("default")
    torch.manual_seed(0)
    save_checkpoint(path, build_detector(cfg).eval(), cfg, score_thresh=0.0)
    return path
