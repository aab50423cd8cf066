"""Every model the user trained, kept in the user data folder with its model card.

Layout: ``<root>/<run id>/`` holds the training run (``best.pt``, ``metrics.csv``, the data files)
and ``card.json``. The bundled default model is always listed first.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from trainer.cards import CARD_NAME, read_card, write_card
from trainer.paths import DEFAULT_MODEL, bundled_card

log = logging.getLogger(__name__)

DEFAULT_KEY = "default"


@dataclass(frozen=True)
class ModelInfo:
    key: str  # "default" or the run id
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
        """The bundled model (if present) and every finished, readable registry model, newest first."""
        out: list[ModelInfo] = []
        self.problems = []
        if DEFAULT_MODEL.is_file():
            out.append(ModelInfo(DEFAULT_KEY, DEFAULT_MODEL, "Bundled default", bundled_card()))
        if not self.root.is_dir():
            return out
        for d in sorted((p for p in self.root.iterdir() if p.is_dir()), reverse=True):
            card_path = d / CARD_NAME
            if not card_path.is_file():
                continue  # a run still going, or one that never finished
            try:
                card = read_card(card_path)
            except (OSError, ValueError) as exc:
                self.problems.append(f"{d.name}: unreadable model card ({exc})")
                continue
            model = d / "best.pt"
            if not _looks_like_checkpoint(model):
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

    def delete(self, key: str) -> None:
        """Delete a trained model and its run folder (never the bundled model)."""
        if key == DEFAULT_KEY or not key or "/" in key or key in (".", ".."):
            raise ValueError(f"not a registry model: {key!r}")
        shutil.rmtree(self.root / key, ignore_errors=True)

    def delete_folder(self, run_dir: Path) -> None:
        """Delete a run folder of this registry (an unfinished or failed run)."""
        run_dir = Path(run_dir)
        if run_dir.parent.resolve() != self.root.resolve():
            raise ValueError(f"{run_dir} is not a run folder of {self.root}")
        shutil.rmtree(run_dir, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _looks_like_checkpoint(path: Path) -> bool:
    """A cheap check without torch: a torch.save file is a non-empty zip archive."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"PK\x03\x04" and path.stat().st_size > 1024
    except OSError:
        return False
