"""The app's own model paths on one device, without a screen (Qt Core only).

1. The inference worker (the thread the app predicts in) reads N photos through "Predict all".
2. The training dock's child command (``python -m trainer train --json-progress ...``, started
   through the dock's TrainingService) fine-tunes the model for one epoch on a few training
   photos and compares it with the starting model on held-out ones.

    .venv/bin/python scripts/app_device_check.py --device cuda --images DIR --ann FILE \
        --train-images DIR --train-ann FILE --out runs/app_check

Prints one line per step and exits non-zero if a step fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402


def wait_for(signals, timeout_s: float) -> bool:
    """Run the event loop until one of ``signals`` fires or the timeout passes."""
    loop = QEventLoop()
    fired = []
    for sig in signals:
        sig.connect(lambda *_a: (fired.append(True), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    return bool(fired)


def truth_numbers(ann: Path) -> dict[str, int]:
    from trainer.numbers import read_all

    coco = json.loads(ann.read_text())
    boxes: dict[int, list] = {}
    for a in coco["annotations"]:
        boxes.setdefault(a["image_id"], []).append(a)
    out = {}
    for im in coco["images"]:
        anns = boxes.get(im["id"], [])
        out[im["file_name"]] = read_all(
            [a["bbox"] for a in anns], [a["category_id"] - 1 for a in anns]
        ).number
    return out


def check_inference(a) -> bool:
    from digitgui.services.inference import InferenceService
    from trainer.imageio import list_images
    from trainer.numbers import read_number

    paths = list_images(a.images)[: a.count]
    truth = truth_numbers(a.ann) if a.ann else {}
    svc = InferenceService(a.model, a.device)
    thresh = [0.5]
    svc.ready.connect(lambda _dev, _desc, t: thresh.__setitem__(0, t))
    t0 = time.perf_counter()
    svc.start()
    if not wait_for([svc.ready, svc.failed], 300) or not svc.available:
        print(f"inference worker: FAILED to load the model: {svc.error}")
        return False
    loaded = time.perf_counter() - t0
    got: dict[str, object] = {}
    svc.results.connect(lambda rs: got.update({r.key: r for r in rs}))
    t1 = time.perf_counter()
    svc.predict_all([(p.name, p) for p in paths])
    wait_for([svc.job_finished], 300)
    seconds = time.perf_counter() - t1
    svc.close()
    right = errors = 0
    for p in paths:
        r = got.get(p.name)
        if r is None or r.error:
            errors += 1
            continue
        number = read_number(r.boxes, r.scores, r.digits, thresh[0]).number
        right += truth.get(p.name) == number
    ok = len(got) == len(paths) and errors == 0
    print(
        f"inference worker: {'ok' if ok else 'FAILED'} on {svc.device_name}: model loaded in {loaded:.1f} s, "
        f"{len(got)}/{len(paths)} photos in {seconds:.2f} s ({len(got) / max(seconds, 1e-9):.0f} images/s), "
        f"{errors} errors" + (f", {right}/{len(paths)} numbers read right" if truth else "")
    )
    return ok


def check_training(a) -> bool:
    from digitgui.services.training import TrainingData, TrainingPlan, TrainingService
    from trainer.model import resolve_model_path

    coco = json.loads(a.train_ann.read_text())
    images = sorted(coco["images"], key=lambda im: im["id"])[: a.train_count]
    held = {im["id"] for im in images[:: max(2, len(images) // 12)]}

    def subset(keep: set[int]) -> dict:
        return {
            "images": [im for im in images if im["id"] in keep],
            "annotations": [x for x in coco["annotations"] if x["image_id"] in keep],
            "categories": coco["categories"],
        }

    all_ids = {im["id"] for im in images}
    val = set(sorted(all_ids - held)[:: max(2, len(images) // 12)])  # apart from the compared ones
    data = TrainingData(
        subset(all_ids - held - val),
        subset(held),
        val=subset(val),
        counts={"train": len(all_ids - held - val), "val": len(val), "held_out": len(held)},
    )
    plan = TrainingPlan(epochs=1, batch_size=8, device=a.device, init=resolve_model_path(a.model))
    svc = TrainingService()
    events: list[str] = []
    svc.progress.connect(lambda ev: events.append("progress"))
    svc.epoch_done.connect(lambda ev: events.append("epoch"))
    end: dict = {}
    svc.compared.connect(lambda ev: end.update(compare=ev.to_dict()))
    svc.finished.connect(lambda ev: end.update(status=ev.status))
    svc.failed.connect(lambda msg, tail: end.update({"status": "failed", "message": msg, "tail": tail}))
    t0 = time.perf_counter()
    svc.start(a.train_images, a.out / "dock_run", data, plan)
    wait_for([svc.finished, svc.failed], 420)
    seconds = time.perf_counter() - t0
    if svc.running:
        svc.shutdown()
        print(f"training dock child: FAILED, still running after {seconds:.0f} s")
        return False
    if end.get("status") != "done":
        print(f"training dock child: FAILED ({end.get('message', end)})\n{end.get('tail', '')}")
        return False
    cmp = end.get("compare") or {}
    old, new = cmp.get("old", {}), cmp.get("new", {})
    print(
        f"training dock child: ok, 1 epoch on {data.counts['train']} photos with --device {a.device} in "
        f"{seconds:.1f} s ({events.count('progress')} progress events); held-out ({cmp.get('images')} photos) "
        f"mAP {old.get('mAP', float('nan')):.3f} -> {new.get('mAP', float('nan')):.3f}"
    )
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default="default")
    ap.add_argument("--images", type=Path, required=True, help="photos for the inference worker")
    ap.add_argument("--ann", type=Path, help="their COCO file, to count numbers read right")
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--train-images", type=Path, required=True)
    ap.add_argument("--train-ann", type=Path, required=True)
    ap.add_argument("--train-count", type=int, default=64)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "app_check")
    ap.add_argument("--skip-training", action="store_true")
    a = ap.parse_args()
    _app = QCoreApplication.instance() or QCoreApplication([])
    ok = check_inference(a)
    if not a.skip_training:
        ok = check_training(a) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
