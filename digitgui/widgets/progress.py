"""Status-bar progress of "predict all": count, bar, ETA and a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class PredictProgress(QWidget):
    """Shown while a bulk prediction job runs; hidden otherwise."""

    cancelled = Signal()

    def __init__(self, inference, parent=None) -> None:
        super().__init__(parent)
        self.inference = inference
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel", self)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.cancel_button):
            lay.addWidget(w)
        self.cancel_button.clicked.connect(self.cancelled)
        inference.progress.connect(self.on_progress)
        inference.job_finished.connect(lambda _job, _ok: self.hide())
        self.hide()

    def on_progress(self, done: int, total: int) -> None:
        self.show()
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        eta = self.inference.eta_seconds(done, total)
        eta_text = f" · ETA {int(eta) // 60}:{int(eta) % 60:02d}" if eta is not None else ""
        self.label.setText(f"Predicting {done}/{total}{eta_text}")
