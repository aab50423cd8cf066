"""UI latency of the desktop app on a big folder.

    python bench/ui_latency.py [--images 13000] [--limit 400] [--seconds 60] [--model PATH]

Makes a temp folder of ``--images`` tiny PNGs (copies of a few synthetic photos), opens it in the
real main window (offscreen), and reports:

* time to first image: from ``open_folder`` to the first image decoded and on screen;
* longest UI stall, measured by a 10 ms QTimer heartbeat: idle (baseline), then while
  "predict all" runs over ``--limit`` images and the user flips through images every 150 ms;
* the ratio busy/idle stall, which is comparable across machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=13000)
    p.add_argument("--limit", type=int, default=400, help="images to predict during the busy phase")
    p.add_argument("--seconds", type=float, default=60.0, help="upper bound on the busy phase")
    p.add_argument(
        "--model", default=None, help="checkpoint (default: $DIGIT_STUDIO_MODEL, bundled, else random)"
    )
    args = p.parse_args()

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

        from PySide6.QtCore import QSettings, QTimer
        from PySide6.QtWidgets import QApplication

        app = QApplication([])
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        from digitgui.main_window import MainWindow

        win = MainWindow(model=model)
        win.resize(1280, 800)
        win.show()
        hb = Heartbeat(10)

        def pump(seconds: float, until=None) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end and not (until and until()):
                app.processEvents()
                time.sleep(0.001)

        pump(60, lambda: win.inference.available or win.inference.error is not None)
        if not win.inference.available:
            print("model not available:", win.inference.error)
            return 1
        print(f"model: {win.model_label.text()}")

        hb.start()
        pump(2.0)
        idle = hb.worst

        t0 = time.perf_counter()
        win.open_folder(folder)
        pump(30, lambda: win.canvas.shown_path is not None)
        first_image = time.perf_counter() - t0
        pump(0.5)

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
        pump(args.seconds, lambda: bool(done))
        busy_time = time.perf_counter() - t1
        flip.stop()
        busy = hb.worst
        predicted = sum(e.pred is not None for e in win.doc.entries)
        win.inference.cancel_all()
        win.close()

        print(f"time to first image ({args.images} files): {first_image * 1000:.0f} ms")
        print(f"longest stall idle (baseline): {idle * 1000:.1f} ms")
        print(f"longest stall during predict-all + navigation: {busy * 1000:.1f} ms")
        print(f"stall ratio busy/idle: {busy / max(idle, 1e-3):.2f}")
        print(f"predicted {predicted} images in {busy_time:.1f} s ({predicted / busy_time:.1f} img/s)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
