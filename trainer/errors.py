"""Typed errors for mistakes a user can make. The CLI and the app turn them into messages."""

from __future__ import annotations

from collections.abc import Iterable


class DigitError(Exception):
    """Base class for every user-facing error raised by the engine."""


class ImageReadError(DigitError):
    """One or more image files are missing or cannot be decoded."""

    def __init__(self, paths: list[str], reason: str = "cannot be read") -> None:
        self.paths = list(paths)
        shown = ", ".join(self.paths[:10])
        more = f" (and {len(self.paths) - 10} more)" if len(self.paths) > 10 else ""
        super().__init__(f"{len(self.paths)} image file(s) {reason}: {shown}{more}")


class AnnotationError(DigitError):
    """A COCO annotation file is malformed or inconsistent."""


class CheckpointError(DigitError):
    """A model file is missing, not a checkpoint, or built for another preset."""


class NoDefaultModelError(CheckpointError):
    """The bundled default model is not present."""


class EmptyFolderError(DigitError):
    """A folder holds no images."""


class TrainingError(DigitError):
    """Training cannot go on (non-finite losses, no data, ...)."""


def describe_names(names: Iterable[str], shown: int = 6) -> str:
    """File names for a message: those in subfolders counted per folder ("voc/ (342 files)")."""
    top, per_dir = [], {}
    for n in names:
        head, _, rest = n.partition("/")
        if rest:
            per_dir[head] = per_dir.get(head, 0) + 1
        else:
            top.append(n)
    parts = top[:shown] + [f"{d}/ ({k} file{'s' if k > 1 else ''})" for d, k in per_dir.items()]
    more = f" and {len(top) - shown} more" if len(top) > shown else ""
    return ", ".join(parts) + more


class OutputConflictError(DigitError):
    """Writing results would replace files: ``foreign`` ones export did not write (never replaced),
    or ``earlier`` ones from a previous export (replaced only when the caller says so)."""

    def __init__(self, folder, foreign: list[str], earlier: list[str]) -> None:
        self.folder, self.foreign, self.earlier = folder, list(foreign), list(earlier)
        if self.foreign:
            msg = (
                f"{describe_names(self.foreign)} in {folder} {'was' if len(self.foreign) == 1 else 'were'} "
                "not written by a Digit Studio export and will not be replaced; choose another folder"
            )
        else:
            msg = f"{describe_names(self.earlier)} in {folder} hold an earlier export"
        super().__init__(msg)


class DeviceError(DigitError):
    """The device asked for (``--device cuda``, say) is not available on this machine."""
