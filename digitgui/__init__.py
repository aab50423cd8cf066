"""Digit Studio: the Qt desktop shell around the ``trainer`` engine."""

__all__ = ["__version__"]

__version__ = "0.1.0"
