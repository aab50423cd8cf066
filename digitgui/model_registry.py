"""Every model the user trained, kept in the user data folder with its model card.

Layout: ``<root>/<run id>/`` holds the training run (``best.pt``, ``metrics.csv``, the data files)
and ``card.json``. The bundled default model is always listed first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from trainer.export import atomic_write_text
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
            card_path = d / "card.json"
            if not card_path.is_file():
                continue  # a run still going, or one that never finished
            try:
                card = json.loads(card_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
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
        atomic_write_text(run_dir / "card.json", json.dumps(card, indent=2))


def _looks_like_checkpoint(path: Path) -> bool:
    """A cheap check without torch: a torch.save file is a non-empty zip archive."""
    try:
        with path.open("rb") as f:
            return f.read(4) == b"PK\x03\x04" and path.stat().st_size > 1024
    except OSError:
        return False
