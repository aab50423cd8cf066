"""Every model the user trained, kept in the user data folder with its model card.

Layout: ``<root>/<run id>/`` holds the training run (its one model ``model.pt``, ``metrics.csv``,
the data files) and ``card.json``. Runs of older versions kept ``best.pt`` (still listed) and a
``last.pt`` with the optimiser state (about 60 MB no one reads: removed by :meth:`tidy`). The
bundled models are always listed first.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from trainer.cards import CARD_NAME, read_card, write_card
from trainer.paths import BUNDLED_MODELS, BUNDLED_TITLES, bundled_card

log = logging.getLogger(__name__)

MODEL_NAME = "model.pt"  # the one model of a finished run (trainer.finetune writes it)
OLD_MODEL_NAME = "best.pt"  # runs of older versions
SPARE = ("last.pt",)  # checkpoints a finished run does not need


@dataclass(frozen=True)
class ModelInfo:
    key: str  # a bundled model's name ("default", "printed") or the run id
    path: Path
    title: str
    card: dict


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.problems: list[str] = []  # what the last scan skipped, for the UI to show

    def new_run_dir(self, run_id: str) -> Path:
        d = self.root / run_id
        d.mkdir(parents=True, exist_ok=True)
        return d

    def models(self) -> list[ModelInfo]:
        """The bundled models (those present) and every finished, readable registry model, newest
        first."""
        out: list[ModelInfo] = []
        self.problems = []
        for name, path in BUNDLED_MODELS.items():
            if path.is_file():
                out.append(ModelInfo(name, path, BUNDLED_TITLES[name], bundled_card(name)))
        if not self.root.is_dir():
            return out
        for d in sorted(
            (p for p in self.root.iterdir() if p.is_dir() and p.name not in BUNDLED_MODELS), reverse=True
        ):
            card_path = d / CARD_NAME
            if not card_path.is_file():
                continue  # a run still going, or one that never finished
            try:
                card = read_card(card_path)
            except (OSError, ValueError) as exc:
                self.problems.append(f"{d.name}: unreadable model card ({exc})")
                continue
            model = model_file(d)
            if model is None:
                self.problems.append(f"{d.name}: model file missing or corrupt")
                continue
            out.append(ModelInfo(d.name, model, card.get("title", d.name), card))
        for p in self.problems:
            log.warning("model registry: %s", p)
        return out

    def find(self, key: str) -> ModelInfo | None:
        return next((m for m in self.models() if m.key == key), None)

    def write_card(self, run_dir: Path, card: dict) -> None:
        write_card(run_dir / CARD_NAME, card)

    def unfinished(self, going: Path | None = None) -> list[Path]:
        """Run folders without a model card (runs that never finished), except the one ``going``."""
        if not self.root.is_dir():
            return []
        return sorted(
            d
            for d in self.root.iterdir()
            if d.is_dir() and not (d / CARD_NAME).is_file() and (going is None or d != Path(going))
        )

    def tidy(self) -> int:
        """Free what finished runs do not need (``last.pt``, synthetic images); returns bytes freed.

        Only folders with a card and a model are touched: a run still going has no card.
        """
        freed = 0
        if not self.root.is_dir():
            return 0
        for d in self.root.iterdir():
            if d.is_dir() and (d / CARD_NAME).is_file() and model_file(d) is not None:
                freed += drop_spares(d)
        if freed:
            log.info("model registry: freed %.0f MB of spare checkpoints", freed / 1e6)
        return freed

    def delete(self, key: str) -> None:
        """Delete a trained model and its run folder (never a bundled model)."""
        if key in BUNDLED_MODELS or not key or "/" in key or key in (".", ".."):
            raise ValueError(f"not a registry model: {key!r}")
        shutil.rmtree(self.root / key, ignore_errors=True)

    def delete_folder(self, run_dir: Path) -> None:
        """Delete a run folder of this registry (an unfinished or failed run)."""
        run_dir = Path(run_dir)
        if run_dir.parent.resolve() != self.root.resolve():
            raise ValueError(f"{run_dir} is not a run folder of {self.root}")
        shutil.rmtree(run_dir, ignore_errors=True)


def model_file(run_dir: Path) -> Path | None:
    """The model of a run folder: ``model.pt``, else an older run's ``best.pt``; None if neither
    looks like a checkpoint."""
    for name in (MODEL_NAME, OLD_MODEL_NAME):
        if _looks_like_checkpoint(Path(run_dir) / name):
            return Path(run_dir) / name
    return None


def keep_one_model(run_dir: Path) -> Path | None:
    """Leave one model in a run that ended without tidying itself (killed, crashed): the best
    epoch's checkpoint becomes ``model.pt``, ``last.pt`` goes. Returns the model, or None."""
    run_dir = Path(run_dir)
    model = run_dir / MODEL_NAME
    best = run_dir / OLD_MODEL_NAME
    if not _looks_like_checkpoint(model) and _looks_like_checkpoint(best):
        best.replace(model)
    best.unlink(missing_ok=True)
    drop_spares(run_dir)
    return model if _looks_like_checkpoint(model) else None


def drop_spares(run_dir: Path) -> int:
    """Delete ``last.pt`` and synthetic images of a run; returns the bytes freed."""
    freed = 0
    for name in SPARE:
        f = Path(run_dir) / name
        if f.is_file():
            freed += f.stat().st_size
            f.unlink(missing_ok=True)
    syn = Path(run_dir) / "synthetic"
    if syn.is_dir():
        freed += folder_bytes(syn)
        shutil.rmtree(syn, ignore_errors=True)
    return freed


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _looks_like_checkpoint(path: Path) -> bool:
    """A cheap check without torch: a torch.save file is a non-empty zip archive."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"PK\x03\x04" and path.stat().st_size > 1024
    except OSError:
        return False
