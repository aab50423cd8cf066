"""Locations shared by the engine and the app, and model identity (no heavy imports here)."""

import hashlib
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

DISTRIBUTION = "digit-studio"

# Files shipped inside the package (package data): the same place in a clone and in an install.
RESOURCES = Path(str(resources.files("trainer").joinpath("resources")))
DEFAULT_MODEL = RESOURCES / "models" / "default.pt"
DEFAULT_CARD = DEFAULT_MODEL.with_suffix(".json")
# The models shipped with the package, by the name ``--model`` and the app know them by: the
# default reads house numbers and photos like them; "printed" was trained on printed numbers in
# many fonts besides (race bibs, labels, meters) and knows the letters beside them are not digits.
BUNDLED_MODELS = {"default": DEFAULT_MODEL, "printed": RESOURCES / "models" / "printed.pt"}
BUNDLED_TITLES = {"default": "Bundled default", "printed": "Bundled printed numbers"}
FONTS_DIR = RESOURCES / "fonts"

CODE_LICENCE = "MIT"


def bundled_card(name: str = "default") -> dict:
    """A bundled model's card ({} when it is absent or unreadable)."""
    from .cards import read_card

    try:
        return read_card(BUNDLED_MODELS[name].with_suffix(".json"))
    except (OSError, ValueError):
        return {}


def bundled_label(name: str) -> str:
    """A bundled model in a sentence: "the bundled printed numbers model"."""
    return f"the {BUNDLED_TITLES[name].lower()} model"


def bundled_name(path: str | os.PathLike) -> str | None:
    """The name of the bundled model at ``path``, or None for any other file."""
    try:
        p = Path(path).resolve()
    except OSError:
        return None
    return next((n for n, f in BUNDLED_MODELS.items() if f.resolve() == p), None)


def licence_note() -> str:
    """What may be done with the code and the bundled model (for --help and the About box)."""
    model = bundled_card().get("licence") or "see its model card"
    return f"Code: {CODE_LICENCE} licence. Bundled default model: {model}"


@lru_cache(maxsize=1)
def version() -> str:
    """The project's one version, written in pyproject.toml only.

    Installed: the package metadata. In a source checkout, pyproject.toml itself, so a clone never
    reports the version of some other copy that happens to be installed in the same environment.
    """
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        text = ""
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if m and f'name = "{DISTRIBUTION}"' in text:
        return m.group(1)
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


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
