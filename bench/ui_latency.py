"""UI latency of the desktop app on a big folder.

    python bench/ui_latency.py [--images 13000] [--limit 400] [--seconds 60] [--model PATH]
                               [--presses 20] [--interval 0.5] [--orders file,confidence]
                               [--skip-stall] [--whole-photos 4]

Makes a temp folder of ``--images`` tiny PNGs (copies of a few synthetic photos), opens it in the
real main window (offscreen), and reports:

* time to first image: from ``open_folder`` to the first image decoded and on screen;
* longest UI stall, measured by a 10 ms QTimer heartbeat: idle (baseline), then while
  "predict all" runs over ``--limit`` images and the user flips through images every 150 ms;
* the ratio busy/idle stall, which is comparable across machines;
* next-image latency while *Predict all* runs over the whole folder, in each sort order of the
  image list (file order, lowest confidence first): every ``--interval`` seconds a helper thread
  "presses D" (the request is queued to the UI thread, as a key press queues behind whatever the
  UI thread is doing), ``--presses`` times, and each press is timed until an image after it is on
  screen; median and max;
* with ``--whole-photos N``: a folder of N whole 12 MP photos (a small number somewhere in each)
  is opened with the model ready, and the time until the boxes of the image on screen are in is
  compared with that photo's own prediction time (the same model, alone, 1 thread as the app's
  worker): the difference is what the app adds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class Heartbeat:
    """Records the longest gap between ticks of a fast QTimer (a frozen UI stops the ticks)."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000.0
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.reset()

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.reset()
        self.timer.start()


def make_folder(root: Path, count: int) -> Path:
    from trainer.synth import make_dataset

    make_dataset(root / "src", 8, seed=1)
    blobs = [p.read_bytes() for p in sorted((root / "src" / "images").glob("*.png"))]
    folder = root / "photos"
    folder.mkdir()
    for i in range(count):
        (folder / f"{i + 1}.png").write_bytes(blobs[i % len(blobs)])
    return folder


ORDERS = {"file": 0, "confidence": 1}  # --orders names -> index of the image list's sort menu


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=13000)
    p.add_argument("--limit", type=int, default=400, help="images to predict during the busy phase")
    p.add_argument("--seconds", type=float, default=60.0, help="upper bound on the busy phase")
    p.add_argument(
        "--model", default=None, help="checkpoint (default: $DIGIT_STUDIO_MODEL, bundled, else random)"
    )
    p.add_argument("--presses", type=int, default=20, help="next-image presses per sort order")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between next-image presses")
    p.add_argument("--orders", default="file,confidence", help="sort orders to time next-image in")
    p.add_argument("--skip-stall", action="store_true", help="skip the stall phase (predict --limit)")
    p.add_argument(
        "--whole-photos", type=int, default=0, help="time the screen image's boxes in N big photos"
    )
    return p.parse_args()


def make_whole_photos(root: Path, count: int) -> Path:
    """``count`` 4000x3000 JPEGs, each a synthetic number pasted small into a textured scene."""
    import random

    import numpy as np
    from PIL import Image

    from trainer.synth import render_sample

    folder = root / "whole"
    folder.mkdir()
    rng = random.Random(5)
    for i in range(count):
        noise = np.random.default_rng(i).integers(60, 200, (300, 400, 3), dtype=np.uint8)
        photo = Image.fromarray(noise).resize((4000, 3000), Image.BILINEAR)
        sample, _ = render_sample(rng)
        sample = sample.resize((sample.width * 2, sample.height * 2))
        photo.paste(sample, (rng.randrange(0, 4000 - sample.width), rng.randrange(0, 3000 - sample.height)))
        photo.save(folder / f"{i + 1}.jpg", quality=90)
    return folder


def main() -> int:
    args = _args()
    tmp = Path(tempfile.mkdtemp(prefix="digitstudio-bench-"))
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(tmp / var.lower())
    try:
        t = time.perf_counter()
        folder = make_folder(tmp, args.images)
        print(f"made {args.images} images in {time.perf_counter() - t:.1f} s")
        model = args.model or os.environ.get("DIGIT_STUDIO_MODEL")
        if model is None:
            from trainer.model import DEFAULT_MODEL

            model = str(DEFAULT_MODEL) if DEFAULT_MODEL.is_file() else _random_model(tmp)

        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        app = QApplication([])
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        from digitgui.main_window import MainWindow

        win = MainWindow(model=model)
        win.resize(1280, 800)
        win.show()
        bench = Bench(app, win)
        bench.pump(60, lambda: win.inference.available or win.inference.error is not None)
        if not win.inference.available:
            print("model not available:", win.inference.error)
            return 1
        print(f"model: {win.model_label.text()}")
        bench.first_image_and_stalls(folder, args)
        for name in [o.strip() for o in args.orders.split(",") if o.strip()]:
            bench.next_image_while_predicting(name, args.presses, args.interval)
        if args.whole_photos:
            bench.screen_boxes(make_whole_photos(tmp, args.whole_photos), model)
        win.inference.cancel_all()
        win.close()
        for line in bench.report:
            print(line)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Presser(QObject):
    """Lives on the UI thread; ``press`` emitted from a helper thread is queued to it, as a key
    press is queued behind whatever the UI thread is doing."""

    press = Signal(float)  # when it was pressed

    def __init__(self, win) -> None:
        super().__init__()
        self.win = win
        self.waiting: list[float] = []  # presses handled whose next image is not on screen yet
        self.press.connect(self.on_press, Qt.ConnectionType.QueuedConnection)

    @Slot(float)
    def on_press(self, t0: float) -> None:
        self.win.go(1)
        self.waiting.append(t0)


class Bench:
    """The phases, on one window; ``report`` collects the result lines."""

    def __init__(self, app, win) -> None:
        self.app, self.win = app, win
        self.hb = Heartbeat(10)
        self.report: list[str] = []

    def pump(self, seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            self.app.processEvents()
            time.sleep(0.001)

    def screen_boxes(self, folder: Path, model: str) -> None:
        """Open whole photos with the model ready: seconds until the screen image's boxes are in,
        against the prediction of that photo alone."""
        import torch

        from trainer.imageio import list_images
        from trainer.predict import Predictor

        win = self.win
        win.inference.cancel_all()
        t0 = time.perf_counter()
        win.open_folder(folder)
        self.pump(300, lambda: win.doc.current_entry is not None and win.doc.current_entry.pred is not None)
        shown = time.perf_counter() - t0
        first = win.doc.current_entry.path
        win.inference.cancel_all()
        self.pump(1.0)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            predictor = Predictor(model, device="cpu", num_workers=0)
            t1 = time.perf_counter()
            list(predictor.predict_paths([first]))
            alone = time.perf_counter() - t1
        finally:
            torch.set_num_threads(threads)
        n = len(list_images(folder))
        self.report.append(
            f"boxes of the image on screen ({n} whole 12 MP photos): {shown:.2f} s after opening; "
            f"the photo alone: {alone:.2f} s; the app adds {shown - alone:+.2f} s"
        )

    def first_image_and_stalls(self, folder: Path, args) -> None:
        from PySide6.QtCore import QTimer

        win, hb = self.win, self.hb
        hb.start()
        self.pump(2.0)
        idle = hb.worst
        t0 = time.perf_counter()
        win.open_folder(folder)
        self.pump(30, lambda: win.canvas.shown_path is not None)
        first_image = time.perf_counter() - t0
        self.pump(0.5)
        self.report += [
            f"time to first image ({args.images} files): {first_image * 1000:.0f} ms",
            f"longest stall idle (baseline): {idle * 1000:.1f} ms",
        ]
        if args.skip_stall:
            return
        rows = win.doc.unlabelled_rows()[: args.limit]
        done: list[bool] = []
        win.inference.job_finished.connect(lambda _j, ok: done.append(ok))
        flip = QTimer()
        flip.setInterval(150)
        flip.timeout.connect(lambda: win.go(1))
        hb.start()
        t1 = time.perf_counter()
        win.inference.predict_all([(win.doc.entry(r).name, win.doc.entry(r).path) for r in rows])
        flip.start()
        self.pump(args.seconds, lambda: bool(done))
        busy_time = time.perf_counter() - t1
        flip.stop()
        busy = hb.worst
        predicted = sum(e.pred is not None for e in win.doc.entries)
        win.inference.cancel_all()
        self.report += [
            f"longest stall during predict-all + navigation: {busy * 1000:.1f} ms",
            f"stall ratio busy/idle: {busy / max(idle, 1e-3):.2f}",
            f"predicted {predicted} images in {busy_time:.1f} s ({predicted / busy_time:.1f} img/s)",
        ]

    def next_image_while_predicting(self, order: str, presses: int, interval: float) -> None:
        """Predict all on the whole folder, sorted by ``order``; a helper thread presses "next image"
        every ``interval`` seconds, ``presses`` times; each press is timed until an image after it
        is on screen."""
        win = self.win
        win.image_list.sort.setCurrentIndex(ORDERS[order])
        win.doc.set_current(win.image_list.rows_in_view_order()[0])
        self.pump(0.5)
        before = sum(e.pred is not None for e in win.doc.entries)
        win.predict_all()
        self.pump(3.0)  # results are flowing (and, sorted by confidence, moving rows)
        presser = Presser(win)
        latencies: list[float] = []

        def shown() -> bool:
            if presser.waiting and win.canvas.shown_path == str(win.doc.current_entry.path):
                now = time.perf_counter()
                latencies.extend(now - t0 for t0 in presser.waiting)
                presser.waiting.clear()
            return len(latencies) >= presses

        def press() -> None:
            for _ in range(presses):
                time.sleep(interval)
                presser.press.emit(time.perf_counter())

        t_start = time.perf_counter()
        helper = threading.Thread(target=press)
        helper.start()
        self.pump(presses * interval + 120, shown)
        helper.join()
        elapsed = time.perf_counter() - t_start
        win.cancel_predict()
        self.pump(0.5)
        done = sum(e.pred is not None for e in win.doc.entries) - before
        med, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
        self.report.append(
            f"next image while Predict all runs ({len(win.doc)} images, {order} order): median "
            f"{med:.0f} ms, max {worst:.0f} ms over {len(latencies)} presses {interval:.1f} s apart; "
            f"{done} images predicted meanwhile ({done / max(elapsed + 3.0, 1e-3):.1f} img/s)"
        )


def _random_model(tmp: Path) -> str:
    from trainer.model import build_detector, save_checkpoint
    from trainer.presets import get_preset

    cfg = get_preset("default")
    path = tmp / "random.pt"
    save_checkpoint(path, build_detector(cfg), cfg, score_thresh=0.5)
    print("no model given and none bundled: using a random-init one (timing only)")
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
