"""Locations shared by the engine and the app, and model identity (no heavy imports here)."""

import hashlib
import os
from functools import lru_cache
from pathlib import Path

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "resources" / "models" / "default.pt"


def model_fingerprint(path: str | os.PathLike) -> str:
    """A short content hash naming a model file; "" when it cannot be read.

    Predictions are tagged with it, so the app can tell which images another model (or an
    older version of the same file) predicted, even after a restart.
    """
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return _fingerprint(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=32)
def _fingerprint(path: str, size: int, mtime_ns: int) -> str:
    return (file_sha256(path) or "")[:16]


def file_sha256(path: str | os.PathLike) -> str | None:
    """Hex SHA-256 of a file's bytes, or None when it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()
