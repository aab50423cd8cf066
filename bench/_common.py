"""Shared helpers for the benchmarks (run by hand: ``.venv/bin/python bench/NAME.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVHN = ROOT.parent / "shared" / "data" / "svhn"
sys.path.insert(0, str(ROOT))


def require_svhn() -> Path:
    if not (SVHN / "valid.json").is_file():
        sys.exit(f"needs the SVHN sample at {SVHN}")
    return SVHN


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[c if isinstance(c, str) else f"{c:.4g}" for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
