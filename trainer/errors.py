"""Typed errors for mistakes a user can make. The CLI and the app turn them into messages."""

from __future__ import annotations


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
