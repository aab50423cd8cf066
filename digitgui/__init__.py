"""Digit Studio: the Qt desktop shell around the ``trainer`` engine."""

from trainer.paths import version

__all__ = ["__version__"]

__version__ = version()
