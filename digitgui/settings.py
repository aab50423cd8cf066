"""Persistent preferences (QSettings, INI format).

Organisation "DigitStudio", application "digit-studio" (the command's name): settings in
``~/.config/DigitStudio/digit-studio.ini`` and user data in ``~/.local/share/DigitStudio/digit-studio``
on Linux. Up to 0.1.0 both names were "DigitStudio"; :func:`digitgui.desktop.migrate_old_names`
moves such data once.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORG = "DigitStudio"
APP = "digit-studio"
DISPLAY_NAME = "Digit Studio"
MAX_RECENT = 10


def settings() -> QSettings:
    """The app's settings store (tests redirect it with ``QSettings.setPath``)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)


def recent_folders() -> list[str]:
    value = settings().value("recent_folders", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or []) if Path(str(v)).is_dir()]


def add_recent_folder(folder: Path) -> None:
    s = settings()
    items = [str(folder)] + [f for f in recent_folders() if f != str(folder)]
    s.setValue("recent_folders", items[:MAX_RECENT])


def export_folder(dataset: Path) -> str | None:
    """Where this image folder's results were last exported (None: ask first).

    Per image folder, so exporting a second dataset never silently overwrites the first one's
    pred.json and pred.csv.
    """
    value = settings().value(f"export_folders/{_folder_key(dataset)}", "")
    return str(value) if value else None


def last_export_folder() -> str | None:
    """The most recent export folder of any dataset (where the folder dialog starts)."""
    value = settings().value("export_folder", "")
    return str(value) if value else None


def set_export_folder(dataset: Path, folder: Path) -> None:
    settings().setValue(f"export_folders/{_folder_key(dataset)}", str(folder))
    settings().setValue("export_folder", str(folder))


def export_format(dataset: Path) -> str:
    """The ground-truth format this image folder's export writes ("coco", "voc", "yolo", "labelme")."""
    value = settings().value(f"export_formats/{_folder_key(dataset)}", "coco")
    return str(value) if value in ("coco", "voc", "yolo", "labelme") else "coco"


def set_export_format(dataset: Path, fmt: str) -> None:
    settings().setValue(f"export_formats/{_folder_key(dataset)}", fmt)


def samples_dir() -> Path:
    """Cache folder for the generated sample images."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return Path(base) / "samples"


def folder_model(folder: Path) -> str | None:
    """The model the user picked for this folder (a registry key or "default")."""
    return settings().value(f"folder_models/{_folder_key(folder)}", None)


def set_folder_model(folder: Path, key: str) -> None:
    settings().setValue(f"folder_models/{_folder_key(folder)}", key)


def folder_digits(folder: Path) -> str | None:
    """The digit count the folder's numbers are read with ("4", "3-5"), None for any."""
    value = settings().value(f"folder_digits/{_folder_key(folder)}", None)
    return str(value) if value else None


def set_folder_digits(folder: Path, text: str | None) -> None:
    if text:
        settings().setValue(f"folder_digits/{_folder_key(folder)}", text)
    else:
        settings().remove(f"folder_digits/{_folder_key(folder)}")


def _folder_key(folder: Path) -> str:
    import hashlib

    return hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]


def display_adjust() -> dict:
    """Brightness, contrast, gamma and invert of the photo on screen (see ``display_adjust``)."""
    s = settings()
    return {
        k: s.value(f"display/{k}")
        for k in ("brightness", "contrast", "gamma", "invert")
        if s.contains(f"display/{k}")
    }


def set_display_adjust(values: dict) -> None:
    s = settings()
    for k, v in values.items():
        s.setValue(f"display/{k}", v)


def image_sort() -> int:
    """The image list's sort (0: file order, 1: lowest confidence first), remembered."""
    try:
        return int(settings().value("image_list/sort", 0))
    except (TypeError, ValueError):
        return 0


def set_image_sort(index: int) -> None:
    settings().setValue("image_list/sort", int(index))


def custom_shortcuts() -> dict[str, str]:
    """Action name -> keys (portable text, ``; ``-separated; empty: none) the user changed."""
    s = settings()
    s.beginGroup("shortcuts")
    try:
        out = {}
        for k in s.childKeys():
            v = s.value(k, "") or ""
            out[k] = ", ".join(v) if isinstance(v, list) else str(v)  # an unquoted comma splits
        return out
    finally:
        s.endGroup()


def set_custom_shortcuts(keys: dict[str, str]) -> None:
    s = settings()
    s.remove("shortcuts")
    for name, text in keys.items():
        s.setValue(f"shortcuts/{name}", text)


def theme() -> str:
    """ "system" (follow the system's light or dark scheme), "light" or "dark"."""
    value = settings().value("theme", "system")
    return value if value in ("system", "light", "dark") else "system"


def set_theme(mode: str) -> None:
    settings().setValue("theme", mode)
