"""Qt-free engine: train, evaluate and run Faster R-CNN digit detectors."""

__version__ = "0.1.0"
