"""Qt-free engine: train, evaluate and run Faster R-CNN digit detectors."""

from .paths import version

__version__ = version()
