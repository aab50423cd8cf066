"""The window's Export and Save corrections: where to, what to ask first, then the job.

The files themselves are built and written in :mod:`.services.export`; the images still to
predict are predicted through the :class:`~digitgui.prediction_control.PredictionController`,
which waits for a model still loading.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from trainer.errors import describe_names

from . import dialogs, label_formats, settings
from .dataset import snapshot
from .services.export import (
    ExportJob,
    ExportSummary,
    corrections_target,
    export_conflicts,
    models_used,
    save_corrections,
)
from .services.inference import tag_parts
from .state import Status
from .window_api import WindowHost

ASK_ABOVE = 500  # images still to predict above which Export asks before predicting them


class ExportFlow(QObject):
    """Export (Ctrl+E, Export to…) and Save corrections for ``win`` (the main window: dialogs'
    parent, messages, ``export_finished``)."""

    corrections_finished = Signal(str)  # what was said: the corrections were saved, or why not
    _corrections_written = Signal(object, object, str)  # Corrections or None, error or None, chosen path

    def __init__(self, win: WindowHost, doc, store, predictions, models) -> None:
        super().__init__(win)
        self.win, self.doc, self.store, self.predictions, self.models = win, doc, store, predictions, models
        self.job: ExportJob | None = None
        self._corrections: threading.Thread | None = None  # writing corrections (thread "corrections")
        self._corrections_written.connect(self._on_corrections_written)

    def export(self, choose: bool = False) -> None:
        """Write pred.json, pred.csv and annotations.json to the remembered folder.

        Never replaces a file an export did not write, asks before replacing an earlier export and
        before mixing the results of several models.
        """
        win, doc = self.win, self.doc
        if not len(doc):
            win.message("warning", "Open a folder first.")
            return
        if self.job is not None:
            win.message("info", "An export is already running.")
            return
        out = self._folder(choose)
        if out is None:
            return
        fmt = label_formats.export_format(win)
        foreign, earlier = export_conflicts(out, fmt)
        if foreign:
            return self._refused(
                f"Not exported: {describe_names(foreign)} in {out} {'was' if len(foreign) == 1 else 'were'} not "
                "written by Digit Studio's export, and export never replaces such a file (it may be "
                "ground truth). Choose another folder with File ▸ Export to…",
                "warning",
            )
        repredict = self._ask_about_models()
        predict = None if repredict is None else self._ask_to_predict(repredict)
        if predict is None:
            return self._refused("Export cancelled.")
        if earlier and not dialogs.confirm(
            win,
            "Replace the earlier export?",
            f"{out} holds an earlier export ({describe_names(earlier)}). Replace it with this one?",
        ):
            return self._refused(f"Export cancelled: the earlier export in {out} is kept.")
        self.store.flush()
        job = ExportJob(
            doc,
            self.predictions,
            out,
            self,
            repredict=repredict,
            replace_earlier=True,
            fmt=fmt,
            predict=predict,
        )
        job.finished.connect(self._done)
        job.failed.connect(self._failed)
        self.job = job
        win.statusBar().showMessage(f"Exporting to {out}…")
        job.start()

    def _folder(self, choose: bool) -> Path | None:
        """The export folder of the open image folder (asked for the first time, or with ``choose``)."""
        out = settings.export_folder(self.doc.folder)
        if choose or not out:
            start = out or settings.last_export_folder() or str(self.doc.folder.parent)
            out = dialogs.choose_output_folder(self.win, "Export to folder", start)
            if not out:
                return None
            settings.set_export_folder(self.doc.folder, Path(out))
        return Path(out)

    def _ask_about_models(self) -> list[int] | None:
        """When the results come from several models, ask. Returns the rows to re-predict first
        (empty: export as is), or None when the user cancels."""
        used = models_used(self.doc.entries)
        cur = self.models.current_id
        if self.doc.unlabelled_rows() and self.predictions.ready:
            used[cur] += len(self.doc.unlabelled_rows())  # predicted by the current model first
        if len(used) < 2:
            return []
        others = [
            r
            for r, e in enumerate(self.doc.entries)
            if e.pred is not None and e.layer.status != Status.REVIEWED and e.pred.model != cur
        ]
        counts = "/".join(str(n) for _m, n in used.most_common())
        model = self.predictions.model_desc or "current"
        fingerprint, digits = tag_parts(cur)
        if {tag_parts(m)[0] for m in used} == {fingerprint}:  # one model, read under other counts
            now = digits.label if digits else "no digit count"
            title, current = "Results of several digit counts", "the current model and digit count"
            text = (
                f"The results to export were read under {len(used)} digit counts ({counts} images): "
                f"{len(others)} images were read under another digit count than the one in use "
                f"({now}, {model})."
            )
        else:
            title, current = "Results of several models", "the current model"
            text = (
                f"The results to export come from {len(used)} models ({counts} images): {len(others)} "
                f"images were predicted by another model than the one in use ({model})."
            )
        options = ["Export as is", "Cancel"]
        if self.predictions.ready:
            text += f"\n\nRe-predict those {len(others)} images with {current} before exporting?"
            options.insert(0, "Re-predict and export")
        answer = dialogs.ask(self.win, title, text, options)
        if answer is None or answer == "Cancel":
            return None
        return others if answer.startswith("Re-predict") else []

    def _ask_to_predict(self, repredict: list[int]) -> bool | None:
        """Many images not predicted yet (a big folder just opened): predict them first (True),
        export them as -1 (False), or cancel (None)."""
        missing = len(set(self.doc.unlabelled_rows()) | set(repredict))
        if missing <= ASK_ABOVE or self.predictions.error is not None:
            return True
        n = len(self.doc)
        text = (
            f"{missing} of the {n} images are not predicted yet. Predicting them first can take a "
            "long time (the progress bar shows how long; Cancel stops it and writes nothing). "
            f"Or export now, with those {missing} images written as -1."
        )
        options = ["Predict them, then export", f"Export without them (-1 for {missing} images)", "Cancel"]
        answer = dialogs.ask(self.win, "Predict the rest first?", text, options)
        if answer is None or answer == "Cancel":
            return None
        return answer.startswith("Predict")

    def _refused(self, text: str, level: str = "info") -> None:
        self.win.message(level, text)
        self.win.export_finished.emit(text)

    def _done(self, summary: ExportSummary) -> None:
        self.job = None
        self.win.message("info", summary.text(), popup=True)
        self.win.export_finished.emit(summary)

    def _failed(self, text: str) -> None:
        self.job = None
        self.win.message(
            "info" if text.startswith("Export cancelled") else "error", text
        )  # cancelled: no fault
        self.win.export_finished.emit(text)

    def close(self) -> None:
        """The window closes: a running job writes nothing more (files being written are finished)."""
        if self.job is not None:
            self.job.close()
        if self._corrections is not None:  # a file being written is finished first
            self._corrections.join()

    def save_corrections(self) -> None:
        """Write the checked boxes of every labelled/edited/reviewed image as a new COCO file."""
        win, doc = self.win, self.doc
        if not len(doc):
            return
        if self._corrections is not None:
            win.message("info", "Corrections are being saved already.")
            return
        gt = doc.gt_source
        default = gt.with_name(gt.stem + ".corrected.json") if gt else doc.folder / "corrections.json"
        path = dialogs.choose_save_file(win, "Save corrections as COCO", str(default), "COCO JSON (*.json)")
        if not path:
            return
        target = corrections_target(Path(path), gt)
        if target != Path(path) and target.exists():  # the file dialog asked about another name
            if not dialogs.confirm(
                win,
                "Replace the corrections file?",
                f"The ground truth {gt.name} is never overwritten: corrections go to {target.name}, "
                "which already exists. Replace it?",
            ):
                win.statusBar().showMessage(f"Not saved: {target} is kept.", 10000)
                return
        entries, chosen = snapshot(doc.entries), Path(path)

        def work() -> None:
            try:
                self._corrections_written.emit(save_corrections(entries, chosen, gt), None, str(chosen))
            except OSError as exc:
                self._corrections_written.emit(None, f"Cannot write {chosen}: {exc}", str(chosen))

        self._corrections = threading.Thread(target=work, name="corrections")
        self._corrections.start()

    def _on_corrections_written(self, saved, error: str | None, path: str) -> None:
        """Written (or not) off the UI thread: say so."""
        if self._corrections is not None:
            self._corrections.join()
            self._corrections = None
        win = self.win
        if error:
            win.message("error", error)
            self.corrections_finished.emit(error)
            return
        note = " (the ground truth file itself is never overwritten)" if saved.path != Path(path) else ""
        text = f"Saved {saved.images} images, {saved.boxes} boxes to {saved.path}{note}."
        if saved.unreadable:
            text += f"\n{saved.unreadable} unreadable images were left out."
        if saved.unlabelled_boxes:
            text += f"\n{saved.unlabelled_boxes} boxes without a digit were left out."
        win.message("info", text, popup=True)
        self.corrections_finished.emit(text)
