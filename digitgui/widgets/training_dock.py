"""The dockable training panel: data counts, settings, live chart, log, old-vs-new comparison.

It renders what the model controller (:mod:`digitgui.model_control`) reports and forwards clicks
to it; it never starts a process, writes a file or reads the window.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import Qt
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
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from trainer.cards import scores_text
from trainer.finetune import RECIPE
from trainer.paths import BUNDLED_MODELS

from .. import dialogs
from ..services.training import START_FROM, TrainingPlan, small_parts_warning

log = logging.getLogger(__name__)

PREPARING_BAR = "preparing the training data..."
START_TIP = (
    'The model the run starts from. "Reads these images best": the model in use, or a bundled '
    "model where it reads more of the reviewed numbers right (printed numbers such as race bibs "
    "start from the printed-numbers model). The log names the model and its score."
)
COMPARE_TIP = (
    "Scored on the held-out reviewed images. Boxes that came from the current model (accepted "
    "with Space, or placed by typing the number) sit exactly where it draws them, so its mAP "
    "there is flattering; number accuracy compares the numbers read."
)
ROWS = (("mAP", "mAP@[.5:.95]"), ("AP50", "AP50"), ("number_accuracy", "Number accuracy"))


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class TrainingDock(QDockWidget):
    """Retrain on the reviewed images of the open folder without blocking the app."""

    def __init__(self, controller, parent=None) -> None:
        super().__init__("Training", parent)
        self.setObjectName("dock-training")
        self.ctl = controller
        self._iters_per_epoch = 1
        self._t0, self._budget = time.monotonic(), None
        self._waiting = False  # a Start waits for a cancelled run to stop
        self._build()
        self._show_plan(controller.plan)
        c = controller
        c.stage.connect(self._on_stage)
        c.run_started.connect(self._on_started)
        c.progress.connect(self._on_progress)
        c.epoch.connect(self._on_epoch)
        c.log_line.connect(self.log.appendPlainText)
        c.compared.connect(self._on_compare)
        c.run_finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.running_changed.connect(lambda _on: self._sync_cancel())
        c.run_launched.connect(self._on_launched)
        c.start_queued.connect(self._on_queued)
        c.counts_changed.connect(self._show_counts)
        c.models_changed.connect(self.refresh_models)
        c.model_switched.connect(lambda _k: self.refresh_models())
        self._watch_plan()
        self.refresh(models=True)

    # ---------------------------------------------------------------- layout

    def _build(self) -> None:
        outer = QWidget()
        top = QVBoxLayout(outer)
        top.setContentsMargins(4, 4, 4, 4)
        # the actions stay in view whatever the dock's height: only the rest scrolls
        top.addLayout(self._build_actions())
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #b35c00")
        top.addWidget(self.reason)

        body = QWidget()
        columns = QHBoxLayout(body)
        left, right = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(left, 2)
        columns.addLayout(right, 5)
        left.addWidget(self._build_data_box())
        left.addWidget(self._build_settings_box())
        left.addStretch(1)
        charts = QHBoxLayout()
        right.addLayout(charts, 1)
        charts.addWidget(self._build_chart(), 3)
        charts.addLayout(self._build_log_and_comparison(), 2)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        top.addWidget(scroll, 1)
        self.setWidget(outer)

    def _build_actions(self) -> QHBoxLayout:
        """Start, Cancel, the progress bar, Use this model, the model picker and Delete."""
        actions = QHBoxLayout()
        self.start_btn = QPushButton("Start")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.bar = QProgressBar()
        self.bar.setFormat("idle")
        self.bar.setValue(0)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use_new)
        self.picker = QComboBox()
        self.picker.setMinimumContentsLength(24)
        self.picker.activated.connect(self._picked)
        self.delete_btn = QToolButton(text="Delete…", popupMode=QToolButton.ToolButtonPopupMode.InstantPopup)
        self.delete_menu = QMenu(self.delete_btn)
        self.delete_btn.setMenu(self.delete_menu)
        for w in (self.start_btn, self.cancel_btn):
            actions.addWidget(w)
        actions.addWidget(self.bar, 1)
        actions.addWidget(self.use_btn)
        actions.addWidget(QLabel("Model in use"))
        actions.addWidget(self.picker, 1)
        actions.addWidget(self.delete_btn)
        return actions

    def _build_data_box(self) -> QGroupBox:
        """What the run learns from: the counts, the ground-truth choice, the held-out share."""
        data = QGroupBox("Training data")
        f = QFormLayout(data)
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        self.counts.setToolTip(
            "train: what the model learns from; validation: the engine's share of them, which "
            "picks the epoch kept, the input size and the threshold (none under 20: then every "
            "photo trains and the last epoch is kept); held-out: kept apart to "
            "compare the current and the new model, never seen before that."
        )
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b35c00")
        self.warning.setVisible(False)
        self.include_gt = QCheckBox("Include the folder's ground truth")
        self.include_gt.setChecked(True)
        self.holdout = QSpinBox(minimum=5, maximum=50, suffix=" %", value=15)
        self.holdout.setToolTip(
            "Share of the reviewed images held out to compare the current and the new model."
        )
        f.addRow(self.counts)
        f.addRow(self.warning)
        f.addRow(self.include_gt)
        f.addRow("Held out of reviewed", self.holdout)
        return data

    def _build_settings_box(self) -> QGroupBox:
        """The user's choices of the run: time budget, epochs, batch size, device, starting model."""
        sett = QGroupBox("Settings (the rest is the engine's fine-tuning recipe)")
        g = QFormLayout(sett)
        self.minutes = QDoubleSpinBox(
            decimals=1, minimum=0.1, maximum=600.0, singleStep=1.0, suffix=" min", value=RECIPE["max_minutes"]
        )
        self.minutes.setToolTip("Training time; the learning rate anneals over it.")
        self.epochs = QSpinBox(minimum=0, maximum=500, value=0)
        self.epochs.setSpecialValueText(f"as the time allows (up to {RECIPE['epochs']})")
        self.batch = QSpinBox(minimum=1, maximum=256, value=RECIPE["batch_size"])
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.start_from = QComboBox()
        for key, text in START_FROM.items():
            if key not in BUNDLED_MODELS or BUNDLED_MODELS[key].is_file():
                self.start_from.addItem(text, key)
        self.start_from.setToolTip(START_TIP)
        for label, w in (
            ("Time budget", self.minutes),
            ("Epochs at most", self.epochs),
            ("Batch size", self.batch),
            ("Device", self.device),
            ("Start from", self.start_from),
        ):
            g.addRow(label, w)
        return sett

    def _build_chart(self) -> QChartView:
        """Training loss per iteration and validation mAP per epoch, on one chart."""
        self.chart = QChart()
        self.chart.setTitle("Training loss and validation mAP")
        self.loss_series = QLineSeries(name="loss (per iteration)")
        self.map_series = QLineSeries(name="validation mAP (per epoch)")
        for s in (self.loss_series, self.map_series):
            s.setPointsVisible(True)  # a run of one epoch (one point) still shows
            self.chart.addSeries(s)
        self.x_axis = QValueAxis(titleText="iteration")
        self.loss_axis = QValueAxis(titleText="loss")
        self.map_axis = QValueAxis(titleText="mAP", min=0.0, max=1.0)
        self.chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        self.chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        self.chart.addAxis(self.map_axis, Qt.AlignmentFlag.AlignRight)
        for s, ax in ((self.loss_series, self.loss_axis), (self.map_series, self.map_axis)):
            s.attachAxis(self.x_axis)
            s.attachAxis(ax)
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(220)
        return self.chart_view

    def _build_log_and_comparison(self) -> QVBoxLayout:
        """The run's log, and the table of the current vs the new model on the held-out images."""
        side = QVBoxLayout()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(300)
        self.log.setMinimumHeight(90)
        side.addWidget(self.log, 1)
        cmp_box = QGroupBox("Current model vs new model (same held-out images)")
        c = QVBoxLayout(cmp_box)
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["Current", "New"])
        self.table.setVerticalHeaderLabels([r[1] for r in ROWS])
        self.table.setMaximumHeight(120)
        self.table.setToolTip(COMPARE_TIP)
        c.addWidget(self.table)
        side.addWidget(cmp_box)
        return side

    # ---------------------------------------------------------------- settings and counts

    def plan(self) -> TrainingPlan:
        """The settings as chosen (the controller fills ``init`` from "start from current")."""
        return TrainingPlan(
            max_minutes=self.minutes.value(),
            epochs=self.epochs.value() or None,
            batch_size=self.batch.value(),
            device=self.device.currentText(),
            include_gt=self.include_gt.isChecked(),
            holdout=self.holdout.value() / 100.0,
            start=self.start_from.currentData() or "best",
        )

    def _show_plan(self, plan: TrainingPlan) -> None:
        self.minutes.setValue(plan.max_minutes)
        self.epochs.setValue(plan.epochs or 0)
        self.batch.setValue(plan.batch_size)
        self.device.setCurrentText(plan.device)
        self.start_from.setCurrentIndex(max(0, self.start_from.findData(plan.start)))

    def _watch_plan(self) -> None:
        forward = lambda *_: self.ctl.set_plan(self.plan())  # noqa: E731
        self.include_gt.toggled.connect(forward)
        self.start_from.currentIndexChanged.connect(forward)
        for w in (self.minutes, self.holdout, self.epochs, self.batch):
            w.valueChanged.connect(forward)
        self.device.currentTextChanged.connect(forward)

    def refresh(self, models: bool = False) -> None:
        """Recount now (and re-list the models if asked)."""
        self.ctl.plan = self.plan()
        self.ctl.recount()
        if models:
            self.refresh_models()

    def _show_counts(self, counts: dict, reason: str) -> None:
        gt = counts.get("ground_truth", 0)
        self.counts.setText(
            f"{counts.get('reviewed', 0)} reviewed images"
            + (f" and {gt} ground-truth images" if gt else "")
            + f": train {counts.get('train', 0)} / validation {counts.get('val', 0)} / "
            f"held-out {counts.get('held_out', 0)}"
        )
        warning = small_parts_warning(counts)
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        self.start_btn.setEnabled(not reason)
        if reason or not self.reason.text().startswith("The training"):
            self.reason.setText(reason)
            self.reason.setVisible(bool(reason))
        self._sync_cancel()  # preparing a Start's data begins and ends with a recount
        self._sync_preparing()

    def refresh_models(self) -> None:
        models = self.ctl.models()
        current = self.ctl.current_model_key()
        self.picker.blockSignals(True)
        self.picker.clear()
        for m in models:
            self.picker.addItem(m.title + scores_text(m.card), m.key)
        i = self.picker.findData(current)
        if i < 0 and current:
            self.picker.addItem(f"{Path(current).name} (file)", current)
            i = self.picker.count() - 1
        self.picker.setCurrentIndex(max(i, 0))
        self.picker.blockSignals(False)
        tip = "\n".join(self.ctl.registry.problems)
        self.picker.setToolTip(("Skipped:\n" + tip) if tip else "")
        self._fill_delete_menu()

    def _fill_delete_menu(self) -> None:
        self.delete_menu.clear()
        for m in self.ctl.deletable_models():
            self.delete_menu.addAction(f"Delete {m.title}", lambda key=m.key, t=m.title: self._delete(key, t))
        n, size = self.ctl.unfinished_runs()
        if n:
            text = f"Delete {n} unfinished run{'s' if n != 1 else ''} ({size / 1e6:.0f} MB)"
            self.delete_menu.addAction(text, self._delete_unfinished)
        self.delete_btn.setEnabled(not self.delete_menu.isEmpty())

    def _delete(self, key: str, title: str) -> None:
        if dialogs.confirm(self, "Delete model", f"Delete {title} and its training run for good?"):
            self.ctl.delete_model(key)

    def _delete_unfinished(self) -> None:
        if dialogs.confirm(self, "Delete unfinished runs", "Delete the runs that never finished?"):
            self.ctl.delete_unfinished()

    def _picked(self, index: int) -> None:
        self.ctl.switch_to_key(self.picker.itemData(index))

    # ---------------------------------------------------------------- run

    def start(self) -> None:
        """Start a run, or have one start as soon as a cancelled run has stopped."""
        self.reason.clear()
        self.ctl.start_training(self.plan())

    def cancel(self) -> None:
        if self._waiting:
            self.log.appendPlainText("The waiting run will not start.")
            self.reason.clear()
            self.reason.setVisible(False)
        self.ctl.cancel_training()
        self._waiting = self.ctl.queued is not None
        if self.ctl.cancelling:
            self.bar.setRange(0, 0)
            self.bar.setFormat("stopping...")
        self._sync_cancel()

    def _sync_cancel(self) -> None:
        """Cancel stops a run that is not stopping yet, or drops a Start that waits (for a run
        winding down, or for its training data)."""
        ctl = self.ctl
        waits = ctl.queued is not None or ctl.preparing
        self.cancel_btn.setEnabled(waits or (ctl.training_running and not ctl.cancelling))

    def _sync_preparing(self) -> None:
        """The bar is busy while a Start's training data is prepared, and idle again when the
        Start is dropped (Cancel, a reason found in the data); a launch takes over from it."""
        if self.ctl.preparing:
            self.bar.setRange(0, 0)
            self.bar.setFormat(PREPARING_BAR)
        elif self.bar.format() == PREPARING_BAR:
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)
            self.bar.setFormat("idle")

    def _on_launched(self) -> None:
        self.loss_series.clear()
        self.map_series.clear()
        self.table.clearContents()
        self.use_btn.setEnabled(False)
        self.log.clear()
        self.reason.clear()
        self.reason.setVisible(False)
        self.bar.setRange(0, 0)
        self.bar.setFormat("starting...")
        if self._waiting:
            self.log.appendPlainText("The cancelled run has stopped: the new run starts.")
        self._waiting = False
        self._sync_cancel()

    def _on_queued(self, text: str) -> None:
        self._waiting = True
        self.reason.setText(text)
        self.reason.setVisible(True)
        self.bar.setRange(0, 0)
        self.bar.setFormat("waiting for the cancelled run to stop...")
        self.log.appendPlainText(text)
        self._sync_cancel()

    def _on_stage(self, ev) -> None:
        """Photos read outside the epochs: the starting model chosen, typed numbers placed."""
        self.bar.setRange(0, max(1, ev.total))
        self.bar.setValue(min(ev.done, ev.total))
        self.bar.setFormat(ev.describe())

    def _on_started(self, ev) -> None:
        self._iters_per_epoch = 1
        self._t0 = time.monotonic()
        self._budget = 60.0 * self.ctl.plan.max_minutes if self.ctl.plan.max_minutes else None
        self.bar.setRange(0, 1000)

    def _on_progress(self, ev) -> None:
        """Progress by epochs or by the time budget, whichever ends the run first."""
        iters, epochs = max(1, ev.iters), max(1, ev.epochs)
        self.bar.setRange(0, 1000)  # after a stage between the rounds, counted in photos
        self._iters_per_epoch = iters
        share = ((ev.epoch - 1) * iters + ev.iter) / (iters * epochs)
        eta = ev.eta_seconds
        if self._budget:
            spent = time.monotonic() - self._t0
            share = max(share, min(1.0, spent / self._budget))
            eta = max(0.0, self._budget - spent) if eta is None else min(eta, max(0.0, self._budget - spent))
        self.bar.setValue(int(1000 * share))
        self.bar.setFormat(f"epoch {ev.epoch} · iteration {ev.iter}/{iters} · ETA {_fmt_eta(eta)}")
        self.loss_series.append(ev.step, ev.loss)
        self._fit_axes()

    def _on_epoch(self, ev) -> None:
        if ev.mAP is not None:
            self.map_series.append(ev.epoch * self._iters_per_epoch, ev.mAP)
        self._fit_axes()

    def _fit_axes(self) -> None:
        xs = [p.x() for s in (self.loss_series, self.map_series) for p in s.points()]
        ys = [p.y() for p in self.loss_series.points()]
        if xs:
            self.x_axis.setRange(0, max(1.0, max(xs)) * 1.02)
        if ys:
            self.loss_axis.setRange(0, max(0.1, max(ys) * 1.1))

    def _on_compare(self, ev) -> None:
        for r, (key, _label) in enumerate(ROWS):
            for c, side in enumerate((ev.old, ev.new)):
                v = side.get(key)
                self.table.setItem(r, c, QTableWidgetItem("-" if v is None else f"{v:.3f}"))

    def _on_finished(self, ev) -> None:
        self.bar.setRange(0, 1000)
        self._sync_cancel()
        if ev.status == "stopped":
            kept = "its last finished epoch is in the model list" if ev.best else "nothing was kept"
            self.bar.setFormat(f"cancelled; {kept}")
            return
        self.bar.setValue(1000)
        self.bar.setFormat("done")
        self.use_btn.setEnabled(self.ctl.new_model is not None)

    def _on_failed(self, message: str, tail: str) -> None:
        self.bar.setRange(0, 1000)
        self._sync_cancel()
        self.bar.setValue(0)
        self.bar.setFormat("failed")
        self.reason.setText(message)
        self.reason.setVisible(True)
        self.log.appendPlainText(f"\n{message}")

    def _use_new(self) -> None:
        if self.ctl.new_model is not None:
            self.ctl.switch_to(self.ctl.new_model)
