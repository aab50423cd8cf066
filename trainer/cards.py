"""Model cards: the JSON beside a model that says how it was made and how well it did.

One schema for every writer (the app's training runs, ``scripts/package_model.py``) and one
reader of the scores, so that a score is only ever shown with the images it was measured on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .events import CompareEvent
from .fileio import atomic_write_json

CARD_VERSION = 1
CARD_NAME = "card.json"


def training_card(
    title: str,
    preset: str,
    created: str,
    data: dict[str, int],
    settings: dict[str, Any],
    status: str = "done",
    comparison: CompareEvent | None = None,
    validation: dict[str, Any] | None = None,
    folder: str = "",
) -> dict:
    """The card of a model trained by the app.

    ``comparison``: the starting model and this one on the held-out images (same images, each
    at its own threshold). ``validation``: this model on the images that chose its epoch, input
    size and threshold (optimistic: for the record, not for comparing models).
    """
    card: dict[str, Any] = {
        "card_version": CARD_VERSION,
        "title": title,
        "preset": preset,
        "created": created,
        "status": status,
        "data": data,
        "settings": settings,
        "folder": folder,
    }
    if comparison is not None:
        card["comparison"] = {
            "images": comparison.images,
            "old": comparison.old,
            "new": comparison.new,
            "old_model": comparison.old_model,
        }
    if validation:
        card["validation"] = validation
    return card


SVHN_LICENCE = (
    "Trained partly on SVHN photos, which are for non-commercial use only; the weights inherit that "
    "restriction."
)


def tuning_fields(cfg: dict, blob: dict) -> dict:
    """A card's record of the input size and threshold a checkpoint was tuned to, and its
    held-out scores there (``blob``: the checkpoint :func:`~trainer.calibrate.tune_input_size`
    wrote)."""
    return {
        "input_min_size": cfg["resize"].get("min_size"),
        "tuned_sizes": blob.get("tuned_sizes"),
        "score_thresh": blob.get("score_thresh"),
        "holdout_metrics": blob.get("metrics"),
    }


def packaged_card(
    name: str,
    cfg: dict,
    best: dict,
    run_config: dict,
    epochs: list[dict],
    command: str,
    hardware: str,
    parent: dict | None,
    note: str = "",
    created: str = "",
) -> dict:
    """The card of a model packaged from a training run (``scripts/package_model.py``).

    ``best``: the run's ``best.pt`` blob; ``run_config``: its ``config.json``; ``epochs``: the rows
    of its ``metrics.csv``; ``parent``: the card of the model it was warm-started from, kept under
    ``previous`` so the lineage and the accumulated training time travel with the weights.
    """
    seconds = sum(float(r["seconds"]) for r in epochs)
    prev = (parent or {}).get("training", {})
    tc = run_config["train_config"]
    return {
        "name": name,
        "preset": cfg["preset"],
        "created": created,
        "training": {
            "command": command,
            "data": tc["train"],
            "synthetic_images": tc["synthetic"],
            "train_images": run_config["images"],
            "holdout_images": run_config["val_images"],
            "epochs_run": len(epochs),
            "best_epoch": best.get("epoch"),
            "seconds": round(seconds),
            "hardware": hardware,
            "warm_start": tc.get("init"),
            "total_seconds": round(seconds + prev.get("total_seconds", prev.get("seconds", 0))),
        },
        "previous": parent,
        **tuning_fields(cfg, best),
        "licence": SVHN_LICENCE,
        "note": note,
    }


def write_card(path: str | os.PathLike, card: dict) -> None:
    atomic_write_json(path, card)


def read_card(path: str | os.PathLike) -> dict:
    """A card as a dict; raises OSError or ValueError (json) when it cannot be read."""
    card = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(card, dict):
        raise ValueError("a model card must be a JSON object")
    return card


def comparison(card: dict) -> dict | None:
    """``{"images", "old", "new"}`` when the card holds a comparison on the same images."""
    cmp = card.get("comparison")
    if not isinstance(cmp, dict) or not isinstance(cmp.get("images"), int) or cmp["images"] <= 0:
        return None
    if not all(isinstance(cmp.get(s), dict) and _num(cmp[s].get("mAP")) for s in ("old", "new")):
        return None
    return cmp


def scores_text(card: dict) -> str:
    """The scores to show beside a model's name: only the old-vs-new comparison, which was measured
    on the same images, with how many. Scores of different image sets are never put side by side."""
    cmp = comparison(card)
    if cmp is None:
        return ""
    n = cmp["images"]
    return (
        f"  (mAP {cmp['new']['mAP']:.3f} vs {cmp['old']['mAP']:.3f} for the model it started from, "
        f"on the same {n} held-out image{'s' if n != 1 else ''})"
    )


def _num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)
