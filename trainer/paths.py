"""Locations shared by the engine and the app (no heavy imports here)."""

from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "default.pt"
