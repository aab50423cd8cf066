"""The dockable training panel: data counts, settings, live chart, log, old-vs-new comparison."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from trainer.presets import PRESETS

from ..model_registry import ModelInfo, ModelRegistry
from ..services.training import TrainingPlan, TrainingService, build_training_data, cannot_start_reason

log = logging.getLogger(__name__)

ROWS = (("mAP", "mAP@[.5:.95]"), ("AP50", "AP50"), ("number_accuracy", "Number accuracy"))


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class TrainingDock(QDockWidget):
    """Retrain on the reviewed images of the open folder without blocking the app."""

    use_model = Signal(object)  # ModelInfo the user switched to
    run_finished = Signal(dict)

    def __init__(self, window, registry: ModelRegistry, service: TrainingService | None = None) -> None:
        super().__init__("Training", window)
        self.setObjectName("dock-training")
        self.win = window
        self.registry = registry
        self.service = service or TrainingService(self)
        self.new_model: ModelInfo | None = None
        self._build()
        s = self.service
        s.started.connect(self._on_started)
        s.progress.connect(self._on_progress)
        s.epoch_done.connect(self._on_epoch)
        s.log_line.connect(self.log.appendPlainText)
        s.compared.connect(self._on_compare)
        s.finished.connect(self._on_finished)
        s.failed.connect(self._on_failed)
        self.refresh(models=True)

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        body = QWidget()
        columns = QHBoxLayout(body)
        left, right = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(left, 2)
        columns.addLayout(right, 5)
        lay = left

        data = QGroupBox("Training data")
        f = QFormLayout(data)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.include_gt = QCheckBox("Include the folder's ground truth")
        self.include_gt.setChecked(True)
        self.synthetic = QSpinBox(maximum=20000, singleStep=100)
        self.holdout = QSpinBox(minimum=5, maximum=50, suffix=" %", value=15)
        f.addRow(self.counts)
        f.addRow(self.include_gt)
        f.addRow("Synthetic images", self.synthetic)
        f.addRow("Held out of reviewed", self.holdout)
        for w in (self.include_gt, self.synthetic, self.holdout):
            (w.toggled if isinstance(w, QCheckBox) else w.valueChanged).connect(lambda *_: self.refresh())
        lay.addWidget(data)

        sett = QGroupBox("Settings")
        g = QFormLayout(sett)
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setCurrentText("default")
        self.epochs = QSpinBox(minimum=1, maximum=500, value=10)
        self.lr = QDoubleSpinBox(decimals=5, minimum=0.0, maximum=1.0, singleStep=1e-4, value=0.0)
        self.lr.setSpecialValueText("preset (a tenth when fine-tuning)")
        self.batch = QSpinBox(minimum=1, maximum=256, value=8)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.from_current = QCheckBox("Start from the current model")
        self.from_current.setChecked(True)
        for label, w in (
            ("Preset", self.preset),
            ("Epochs", self.epochs),
            ("Learning rate", self.lr),
            ("Batch size", self.batch),
            ("Device", self.device),
        ):
            g.addRow(label, w)
        g.addRow(self.from_current)
        lay.addWidget(sett)

        row = QHBoxLayout()
        self.start_btn = QPushButton("Start")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.service.cancel)
        row.addWidget(self.start_btn)
        row.addWidget(self.cancel_btn)
        lay.addLayout(row)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #b35c00")
        lay.addWidget(self.reason)

        pick = QGroupBox("Model in use")
        p = QHBoxLayout(pick)
        self.picker = QComboBox()
        self.picker.activated.connect(self._picked)
        p.addWidget(self.picker, 1)
        lay.addWidget(pick)
        lay.addStretch(1)

        lay = right
        self.bar = QProgressBar()
        self.bar.setFormat("idle")
        self.bar.setValue(0)
        lay.addWidget(self.bar)
        charts = QHBoxLayout()
        lay.addLayout(charts, 1)

        self.chart = QChart()
        self.chart.setTitle("Training loss and held-out mAP")
        self.loss_series = QLineSeries(name="loss (per iteration)")
        self.map_series = QLineSeries(name="held-out mAP (per epoch)")
        self.chart.addSeries(self.loss_series)
        self.chart.addSeries(self.map_series)
        self.x_axis = QValueAxis(titleText="iteration")
        self.loss_axis = QValueAxis(titleText="loss")
        self.map_axis = QValueAxis(titleText="mAP", min=0.0, max=1.0)
        self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        self.chart.addAxis(self.map_axis, Qt.AlignmentFlag.AlignRight)
        for s, ax in ((self.loss_series, self.loss_axis), (self.map_series, self.map_axis)):
            s.attachAxis(self.x_axis)
            s.attachAxis(ax)
        view = QChartView(self.chart)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(220)
        charts.addWidget(view, 3)
        side = QVBoxLayout()
        charts.addLayout(side, 2)

        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(300)
        self.log.setMinimumHeight(90)
        side.addWidget(self.log, 1)
        lay = side

        cmp_box = QGroupBox("Current model vs new model (same held-out images)")
        c = QVBoxLayout(cmp_box)
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Current", "New"])
        self.table.setVerticalHeaderLabels([r[1] for r in ROWS])
        self.table.setMaximumHeight(120)
        c.addWidget(self.table)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use_new)
        c.addWidget(self.use_btn)
        lay.addWidget(cmp_box)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.setWidget(scroll)

    # ---------------------------------------------------------------- state

    def plan(self) -> TrainingPlan:
        return TrainingPlan(
            preset=self.preset.currentText(),
            epochs=self.epochs.value(),
            lr=self.lr.value() or None,
            batch_size=self.batch.value(),
            device=self.device.currentText(),
            init=self.win.current_model_path() if self.from_current.isChecked() else None,
            include_gt=self.include_gt.isChecked(),
            synthetic=self.synthetic.value(),
            holdout=self.holdout.value() / 100.0,
        )

    def refresh(self, models: bool = False) -> None:
        """Recount the data and decide whether Start is allowed (and rescan models if asked)."""
        doc = self.win.doc
        data = (
            build_training_data(doc.entries, doc.threshold, self.plan(), read_sizes=False)
            if doc.entries
            else None
        )
        counts = data.counts if data else {}
        self.counts.setText(
            f"{counts.get('reviewed', 0)} reviewed images: {counts.get('train', 0)} to train on, "
            f"{counts.get('held_out', 0)} held out for comparison; "
            f"{counts.get('ground_truth', 0)} ground-truth images; {self.synthetic.value()} synthetic."
        )
        reason = cannot_start_reason(counts, self.service.running)
        if reason is None and doc.folder is None:
            reason = "Open a folder first."
        self.start_btn.setEnabled(reason is None)
        self.reason.setText(reason or "")
        self.reason.setVisible(bool(reason))
        if models:
            self.refresh_models()

    def refresh_models(self) -> None:
        models = self.registry.models()
        current = self.win.current_model_key()
        self.picker.blockSignals(True)
        self.picker.clear()
        for m in models:
            metrics = m.card.get("eval") or m.card.get("holdout_metrics") or {}
            extra = f"  (mAP {metrics['mAP']:.3f})" if isinstance(metrics.get("mAP"), (int, float)) else ""
            self.picker.addItem(m.title + extra, m.key)
        i = self.picker.findData(current)
        if i < 0 and current:
            self.picker.addItem(f"{Path(current).name} (file)", current)
            i = self.picker.count() - 1
        self.picker.setCurrentIndex(max(i, 0))
        self.picker.blockSignals(False)
        tip = "\n".join(self.registry.problems)
        self.picker.setToolTip(("Skipped:\n" + tip) if tip else "")

    def _picked(self, index: int) -> None:
        key = self.picker.itemData(index)
        info = self.registry.find(key)
        if info is not None and key != self.win.current_model_key():
            self.use_model.emit(info)

    # ---------------------------------------------------------------- run

    def start(self) -> None:
        doc = self.win.doc
        plan = self.plan()
        data = build_training_data(doc.entries, doc.threshold, plan)
        reason = cannot_start_reason(data.counts, self.service.running)
        if reason:
            self.reason.setText(reason)
            return
        run_id = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_dir = self.registry.new_run_dir(run_id)
        self._plan, self._counts, self._run_id = plan, data.counts, run_id
        self.loss_series.clear()
        self.map_series.clear()
        self.table.clearContents()
        self.use_btn.setEnabled(False)
        self.new_model = None
        self.log.clear()
        self.bar.setRange(0, 0)
        self.bar.setFormat("starting...")
        self.service.start(doc.folder, run_dir, data, plan)
        self._running_ui(True)

    def _running_ui(self, running: bool) -> None:
        self.cancel_btn.setEnabled(running)
        self.refresh()

    def _on_started(self, ev: dict) -> None:
        self._iters_per_epoch = 1
        self.bar.setRange(0, 1000)

    def _on_progress(self, ev: dict) -> None:
        iters, epochs = max(1, ev["iters"]), max(1, ev["epochs"])
        self._iters_per_epoch = iters
        done = (ev["epoch"] - 1) * iters + ev["iter"]
        self.bar.setValue(int(1000 * done / (iters * epochs)))
        self.bar.setFormat(
            f"epoch {ev['epoch']}/{epochs} · iteration {ev['iter']}/{iters} · "
            f"ETA {_fmt_eta(ev.get('eta_seconds'))}"
        )
        self.loss_series.append(ev["step"], ev["loss"])
        self._fit_axes()

    def _on_epoch(self, ev: dict) -> None:
        if "mAP" in ev:
            self.map_series.append(ev["epoch"] * self._iters_per_epoch, ev["mAP"])
        self._fit_axes()

    def _fit_axes(self) -> None:
        pts = self.loss_series.points()
        if pts:
            self.x_axis.setRange(0, max(1.0, max(p.x() for p in pts)))
            self.loss_axis.setRange(0, max(0.1, max(p.y() for p in pts) * 1.1))

    def _on_compare(self, ev: dict) -> None:
        for r, (key, _label) in enumerate(ROWS):
            for c, side in enumerate(("old", "new")):
                v = ev.get(side, {}).get(key)
                self.table.setItem(r, c, QTableWidgetItem("-" if v is None else f"{v:.3f}"))

    def _on_finished(self, summary: dict) -> None:
        self._running_ui(False)
        self.bar.setRange(0, 1000)
        if summary.get("status") == "stopped":
            self.bar.setFormat("cancelled; the last checkpoint was kept")
            self.run_finished.emit(summary)
            return
        self.bar.setValue(1000)
        self.bar.setFormat("done")
        run_dir = Path(summary["run_dir"])
        cmp = summary.get("compare") or {}
        card = {
            "title": f"Retrained {self._run_id}",
            "preset": self._plan.preset,
            "created": dt.datetime.now().isoformat(timespec="seconds"),
            "data": self._counts,
            "settings": {k: str(v) for k, v in self._plan.__dict__.items()},
            "holdout_metrics": cmp.get("new")
            or {k: summary.get(k) for k in ("mAP", "AP50", "number_accuracy")},
            "previous_model_metrics": cmp.get("old"),
            "folder": str(self.win.doc.folder),
        }
        self.registry.write_card(run_dir, card)
        self.new_model = self.registry.find(run_dir.name)
        self.use_btn.setEnabled(self.new_model is not None)
        self.refresh_models()
        self.run_finished.emit(summary)

    def _on_failed(self, message: str, tail: str) -> None:
        self._running_ui(False)
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("failed")
        self.reason.setText(message)
        self.reason.setVisible(True)
        self.log.appendPlainText(f"\n{message}")

    def _use_new(self) -> None:
        if self.new_model is not None:
            self.use_model.emit(self.new_model)
