"""Checks on the real SVHN sample (skipped when ../shared/data/svhn is absent)."""

import pytest

from trainer.data import load_coco
from trainer.paths import DEFAULT_MODEL

from .conftest import SVHN

pytestmark = pytest.mark.skipif(not (SVHN / "valid.json").is_file(), reason="SVHN sample absent")


def test_real_annotations_load_with_only_recoverable_warnings():
    train = load_coco(SVHN / "train.json", SVHN / "train")
    valid = load_coco(SVHN / "valid.json", SVHN / "valid")
    assert len(train.records) == 1640 and len(valid.records) == 342
    assert sum(len(r.labels) for r in valid.records) >= 740
    assert all("clipped" in w or "dropped" in w for w in train.warnings + valid.warnings)


@pytest.mark.skipif(not DEFAULT_MODEL.is_file(), reason="no bundled default model")
def test_bundled_model_reads_real_house_numbers():
    from trainer.evaluate import evaluate
    from trainer.predict import Predictor

    recs = load_coco(SVHN / "valid.json", SVHN / "valid").records[:60]
    m = evaluate(Predictor("default", "cpu", 16, num_workers=0), recs)
    # far above chance: a random detector scores 0 on both
    assert m["AP50"] > 0.3 and m["number_accuracy"] > 0.3, m
