"""Teaching a model a new kind of number from a person's corrections: one recipe, one home.

``finetune`` takes photos with their truth, either digit boxes (COCO, or VOC/YOLO/labelme
folders) or just the numbers (a CSV of ``image_id,file_name,number``), and trains the starting
model on them for a few CPU minutes. Numbers alone are turned into boxes by the starting model
itself (:mod:`trainer.placement`): its detections are matched to the typed digits, with a
read inside the number's region where the whole photo's pass was unsure; photos it cannot place
every digit of with confidence are left out and counted. The command line and the app's Train
button run this same recipe (:data:`RECIPE`), chosen by measurement (``bench/adapt.py``).
"""

from __future__ import annotations

import csv
import logging
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .data import HOLDOUT, held_out, split_holdout
from .errors import AnnotationError, DigitError, TrainingError
from .events import DoneEvent, EpochEvent, Event, ProgressEvent, StageEvent, StartEvent, StoppedEvent
from .export import coco_ground_truth
from .fileio import atomic_write_json

log = logging.getLogger(__name__)

MIN_PHOTOS = 5  # fewer usable photos than this teach nothing worth a model
# Fewer validation photos than this cannot choose an epoch, an input size or a threshold: one
# photo more or less read right moves the choice. Then every photo trains, the last epoch of the
# annealed schedule is kept, and the starting model's input size and threshold stay.
MIN_VAL = 20
MODEL_NAME = "model.pt"

# The fine-tuning recipe (bench/adapt.py measures it; README "Teaching it your numbers").
RECIPE: dict = {
    # AdamW; the model is already trained, a preset's from-scratch rate undoes it. 2e-4 learnt
    # as much as 4e-4 and forgot half as much SVHN (bench/adapt.py --tune).
    "lr": 2e-4,
    "epochs": 1000,  # an upper bound only: the time budget ends the run (cosine over it)
    # 5 minutes keep SVHN (valid 0.76-0.77 after a bibs round) within 10 CPU minutes a round;
    # 8 read more bibs (0.98 against 0.88 after 100) but forgot more (0.749) in 13 CPU minutes.
    "max_minutes": 5.0,
    "batch_size": 8,
    "val_share": 0.15,  # of the user's photos: picks the epoch, the input size and the threshold
    "printed": 0.3,  # printed numbers drawn on the user's own photos, digits painted over
    "synthetic": 0,
    "mix_share": 0.25,  # of each epoch, photos of --mix sets (the original training data), if given
    # The user's photos come this many times per epoch, so that at the same share the mixed
    # photos are this many times as many different ones (what is rehearsed is more varied).
    "user_repeat": 3,
    "optimizer": "adamw",
    "schedule": "cosine",
    # BatchNorm keeps the starting model's statistics: batches of the user's kind of photo
    # would pull them away from what the model read before (less forgetting, no less learnt).
    "freeze_bn": True,
    # Numbers alone: photos the starting model cannot place are placed again by the model of a
    # first round that trains on this share of the time; a second round trains on them all.
    "second_pass": 0.5,
    # A starting model without the text class gets one (its row starts as the background's): the
    # printed samples then teach that the letters beside a number are text, not digits.
    "text_class": False,
    # "best": start from the given model or a bundled one, whichever reads the most of the
    # user's numbers right (a folder of race bibs starts from the printed-numbers model, one of
    # house numbers from the default); "init": from the given model, always.
    "start": "best",
}
START_CHOICES = ("best", "init")
CHOOSE_PHOTOS = 200  # the user's photos (evenly spread) the candidate starting models read


@dataclass
class FinetuneConfig:
    images: str
    out: str
    ann: str | None = None  # digit boxes, used as given
    numbers: str | None = None  # or numbers only: boxes placed by the starting model
    init: str = "default"
    max_minutes: float | None = RECIPE["max_minutes"]
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    optimizer: str = RECIPE["optimizer"]
    schedule: str = RECIPE["schedule"]
    mix: list[tuple[str, str]] = field(default_factory=list)  # (images, ann) to rehearse
    mix_share: float = RECIPE["mix_share"]
    val_share: float = RECIPE["val_share"]
    printed: float = RECIPE["printed"]
    compare: tuple[str, str] | None = None  # (images, ann) to score the starting and new model on
    second_pass: float = RECIPE["second_pass"]  # share of the time of the first round; 0: one round
    freeze_bn: bool = RECIPE["freeze_bn"]
    text_class: bool = RECIPE["text_class"]
    start: str = RECIPE["start"]  # see RECIPE["start"]
    device: str = "auto"
    seed: int = 0
    workers: int | None = 0
    log_every: int = 5


@dataclass
class Labelled:
    """The user's photos as a COCO set, and the photos left out with why."""

    images: list[dict]
    boxes: list[dict]
    left_out: list[tuple[str, str]]


def place_numbers(
    rows, predictor, progress: Callable[[int, int], None] | None = None, cancelled=None
) -> Labelled:
    """Digit boxes for photos known only by their number (:class:`~trainer.truth.NumberTruth`).

    The model reads each photo; :func:`~trainer.placement.place_number` lays the typed digits
    on its detections. Where it is unsure, the region around what it found is read again on its
    own (at the model's best scale) and placed once more. Photos still unsure are left out.
    """
    from .placement import place_number, read_again_region

    images, boxes, left = [], [], []
    results = predictor.predict_paths([r.path for r in rows])
    for k, (row, res) in enumerate(zip(rows, results)):
        if cancelled is not None and cancelled():
            break
        if progress is not None:
            progress(k + 1, len(rows))
        if res.error:
            left.append((row.path.name, "unreadable"))
            continue
        found = place_number(res.boxes, res.scores, res.digits, row.number)
        if found is None or not found.confident:
            region = read_again_region(found, res.boxes, res.scores, res.width, res.height, len(row.number))
            if region is not None:
                again = predictor.predict_region(row.path, region)
                if not again.error:
                    second = place_number(again.boxes, again.scores, again.digits, row.number)
                    if second is not None and (found is None or second.weakest > found.weakest):
                        found = second
        if found is None:
            left.append((row.path.name, "fewer digits found than typed"))
            continue
        if not found.confident:
            left.append((row.path.name, f"unsure of a digit (score {found.weakest:.2f})"))
            continue
        images.append(
            {"id": row.image_id, "file_name": row.path.name, "width": res.width, "height": res.height}
        )
        for bb, d in zip(found.boxes.tolist(), found.digits):
            boxes.append({"image_id": row.image_id, "bbox": [round(v, 2) for v in bb], "digit": int(d)})
    return Labelled(images, boxes, left)


def labelled_from_ann(images: str, ann: str) -> Labelled:
    """The user's boxes as given (COCO, or a folder of VOC/YOLO/labelme files)."""
    from .formats import load_annotations
    from .imageio import image_size

    coco = load_annotations(ann, images)
    out_images, out_boxes, left = [], [], []
    for r in coco.records:
        if not len(r.labels):
            left.append((r.path.name, "no digit boxes"))
            continue
        w, h = (r.width, r.height) if r.width and r.height else image_size(r.path)
        out_images.append({"id": r.image_id, "file_name": r.path.name, "width": w, "height": h})
        for (x1, y1, x2, y2), c in zip(r.boxes.tolist(), r.labels.tolist()):
            out_boxes.append(
                {"image_id": r.image_id, "bbox": [x1, y1, x2 - x1, y2 - y1], "digit": int(c) - 1}
            )
    if not out_boxes:
        raise AnnotationError(f"{ann}: no digit boxes to learn from")
    return Labelled(out_images, out_boxes, left)


def split_val(lab: Labelled, share: float) -> tuple[Labelled, Labelled]:
    """(train, validation) of the user's photos, stable by image id; validation never empty
    while there are 3 photos or more."""
    ids = sorted(im["id"] for im in lab.images)
    val = {i for i in ids if held_out(i, share)}
    if not val and len(ids) >= 3 and share > 0:
        val = {ids[-1]}

    def part(keep) -> Labelled:
        return Labelled(
            [im for im in lab.images if keep(im["id"])], [b for b in lab.boxes if keep(b["image_id"])], []
        )

    return part(lambda i: i not in val), part(lambda i: i in val)


def _mix_subset(run_dir: Path, mix: list[tuple[str, str]], count: int, seed: int) -> list[tuple[str, str]]:
    """A random ``count`` photos of the mix sets, written as COCO files in the run folder."""
    from .evaluate import coco_from_records
    from .formats import load_annotations

    pairs = []
    rng = random.Random(seed)
    per = max(1, count // max(1, len(mix)))
    for k, (images, ann) in enumerate(mix):
        recs = split_holdout(load_annotations(ann, images).records, HOLDOUT)[0]
        pick = rng.sample(recs, min(per, len(recs)))
        path = run_dir / f"mix{k}.json"
        atomic_write_json(path, coco_from_records(pick).dataset)
        pairs.append((images, str(path)))
    return pairs


@dataclass
class StartChoice:
    """The model a run starts from, and how many of the user's numbers each candidate read."""

    model: str  # a bundled model's name or a file
    given: str  # the model the user gave (--init; the app: the model in use)
    photos: int  # the photos each candidate read
    right: dict[str, int] = field(default_factory=dict)  # candidate -> numbers read right

    def text(self) -> str:
        """For the log: what the run starts from and why."""
        if len(self.right) < 2:
            return f"starting from {_model_name(self.model)}"
        scores = ", ".join(f"{_model_name(m)} {n}" for m, n in self.right.items())
        why = "it reads the most" if self.model != self.given else "no other model reads more"
        return (
            f"starting from {_model_name(self.model)}: {why} of your numbers right "
            f"(of {self.photos} photos: {scores})"
        )


def _model_name(spec: str) -> str:
    from .paths import BUNDLED_MODELS, bundled_label, bundled_name

    name = spec if spec in BUNDLED_MODELS else bundled_name(spec)
    return bundled_label(name) if name else Path(spec).name


def _user_numbers(fc: FinetuneConfig) -> list[tuple[Path, str]]:
    """(photo, its number's digits) of the user's photos: the numbers CSV, or the boxes' digits."""
    if fc.numbers:
        from .truth import read_numbers_csv

        return [(r.path, r.number) for r in read_numbers_csv(fc.numbers, fc.images)]
    from .data import gt_text
    from .formats import load_annotations

    return [(r.path, gt_text(r)) for r in load_annotations(fc.ann, fc.images).records if len(r.boxes)]


def choose_start(fc: FinetuneConfig, cancelled=None, progress=None) -> StartChoice:
    """The model to start from: ``fc.init``, or a bundled model that reads more of the user's
    numbers right (on up to :data:`CHOOSE_PHOTOS` of their photos; a tie keeps ``fc.init``).

    Teaching starts where the most is known already: a model that reads none of a new kind of
    number spends the run learning what another model already knows, and places fewer of the
    photos given by their numbers alone. ``progress(done, total)`` counts the photos read by
    all the candidates together.
    """
    from .model import resolve_model_path
    from .numbers import read_number
    from .paths import BUNDLED_MODELS
    from .predict import Predictor
    from .truth import same_number

    given = resolve_model_path(fc.init).resolve()
    others = [n for n, p in BUNDLED_MODELS.items() if p.is_file() and p.resolve() != given]
    if fc.start == "init" or not others:
        return StartChoice(fc.init, fc.init, 0)
    truth = _user_numbers(fc)
    if not truth:  # nothing to choose on (preparing the photos says what is wrong)
        return StartChoice(fc.init, fc.init, 0)
    step = max(1, -(-len(truth) // CHOOSE_PHOTOS))
    sample = truth[::step]
    right: dict[str, int] = {}
    candidates = [fc.init, *others]
    total = len(candidates) * len(sample)
    for k, spec in enumerate(candidates):
        pred = Predictor(spec, device=fc.device, batch_size=8, num_workers=0)
        n = 0

        def read(done: int, _total: int, before: int = k * len(sample)) -> None:
            if progress is not None:
                progress(before + done, total)

        for (_path, number), res in zip(
            sample, pred.predict_paths([p for p, _ in sample], progress=read, cancelled=cancelled)
        ):
            text = "" if res.error else read_number(res.boxes, res.scores, res.digits, pred.score_thresh).text
            n += same_number(number, text)
        if cancelled is not None and cancelled():
            raise _Stopped
        right[spec] = n
    best = max(right, key=lambda m: (right[m], m == fc.init))
    return StartChoice(best, fc.init, len(sample), right)


class _Stopped(Exception):
    """A stop asked for while the photos were placed: the run ends before training."""


def check_input(fc: FinetuneConfig) -> None:
    """Bad input an error before any work: both or neither of --ann and --numbers, a starting
    model that is not a checkpoint, an unknown start rule."""
    from .model import load_detector

    if bool(fc.ann) == bool(fc.numbers):
        raise DigitError("give either --ann (digit boxes) or --numbers (a CSV of numbers)")
    if fc.start not in START_CHOICES:
        raise DigitError(f"unknown start {fc.start!r}; choose one of {', '.join(START_CHOICES)}")
    load_detector(fc.init)


def prepare(
    fc: FinetuneConfig, progress=None, cancelled=None, start: str | None = None
) -> tuple[Labelled, Labelled, Labelled]:
    """The user's photos as (all, train, validation) COCO sets (:func:`check_input` first). Numbers
    alone are placed by ``start`` (default: ``fc.init``), the model the run starts from."""
    if fc.numbers:
        from .predict import Predictor
        from .truth import read_numbers_csv

        rows = read_numbers_csv(fc.numbers, fc.images)
        predictor = Predictor(start or fc.init, device=fc.device, batch_size=8, num_workers=0)
        lab = place_numbers(rows, predictor, progress, cancelled)
        if cancelled is not None and cancelled():
            raise _Stopped
    else:
        lab = labelled_from_ann(fc.images, fc.ann)
    if len(lab.images) < MIN_PHOTOS:
        why = "; ".join(f"{n}: {r}" for n, r in lab.left_out[:5])
        raise TrainingError(
            f"only {len(lab.images)} usable photos (at least {MIN_PHOTOS} needed)"
            + (f"; left out {len(lab.left_out)}, e.g. {why}" if lab.left_out else "")
        )
    train, val = _split(lab, fc.val_share)
    return lab, train, val


def _split(lab: Labelled, share: float, all_train: bool = False) -> tuple[Labelled, Labelled]:
    """(train, validation); every photo trains when validation would be under :data:`MIN_VAL`."""
    train, val = split_val(lab, share)
    if all_train or len(val.images) < MIN_VAL:
        train, val = Labelled(lab.images, lab.boxes, []), Labelled([], [], [])
    return train, val


def finetune(fc: FinetuneConfig, on_event: Callable[[Event], None] | None = None, stopper=None):
    """Fine-tune ``fc.init`` on the user's photos; writes ``OUT/model.pt`` and returns the final
    event. A run that ends before a model exists leaves no model file behind. The work on the
    photos outside the epochs (choosing the start, placing typed numbers) is reported photo by
    photo as :class:`~trainer.events.StageEvent`.

    With numbers alone and photos the starting model could not place, a first round trains on
    the placed photos for ``fc.second_pass`` of the time; its model places the others, and a
    second round goes on from it with every photo now placed (one chart: epochs count on).
    """
    run_dir = Path(fc.out)
    emit = on_event or (lambda e: None)
    cancelled = (lambda: stopper.reason is not None) if stopper else None

    def stage(name: str):
        return lambda done, total: emit(StageEvent(stage=name, done=done, total=total))

    try:
        check_input(fc)
        choice = choose_start(fc, cancelled, stage("choose"))
        lab, train, val = prepare(fc, stage("place"), cancelled, start=choice.model)
    except _Stopped:
        lab = None
    if lab is None or (stopper is not None and stopper.reason is not None):
        # stopped while the photos were placed: a stop like one before the first epoch ends,
        # with nothing written
        end = StoppedEvent(run_dir=str(run_dir), reason=stopper.reason, epoch=0, checkpoint="")
        emit(end)
        return end
    run_dir.mkdir(parents=True, exist_ok=True)
    unplaced = [name for name, why in lab.left_out if why != "unreadable"]
    begin = choice.model
    if not (fc.numbers and fc.max_minutes and 0 < fc.second_pass < 1 and unplaced):
        told = _told_start(emit, choice)
        end = _round(fc, run_dir, lab, train, val, begin, fc.max_minutes, told, stopper, compare_with=fc.init)
        emit(end)
        return end
    first_dir = run_dir / "first"
    seen: dict = {}
    quiet = replace(fc, compare=None)  # the comparison comes once, after the second round
    first = _round(
        quiet,
        first_dir,
        lab,
        train,
        val,
        begin,
        fc.max_minutes * fc.second_pass,
        _relay(_told_start(emit, choice), seen),
        stopper,
    )
    model = first_dir / MODEL_NAME
    if isinstance(first, StoppedEvent) or not model.is_file():
        end = _moved(first_dir, run_dir, first)
        emit(end)
        return end
    more = _place_again(fc, model, set(unplaced), stage("place_again"))
    lab = Labelled(lab.images + more.images, lab.boxes + more.boxes, more.left_out + _unread(lab))
    train, val = _split(lab, fc.val_share, all_train=not val.images)
    log.info("second round: %d more photos placed by the first round's model", len(more.images))
    end = _round(
        fc,
        run_dir,
        lab,
        train,
        val,
        str(model),
        fc.max_minutes * (1 - fc.second_pass),
        _relay(emit, seen, skip_start=True),
        stopper,
        compare_with=str(fc.init),
    )
    if end.best is None:  # stopped before the second round's first epoch: the first round's model
        end = _moved(first_dir, run_dir, end)
    else:
        end.epoch += first.epoch if isinstance(end, DoneEvent) else 0
        shutil.rmtree(first_dir, ignore_errors=True)
    emit(end)
    return end


def _round(fc, run_dir: Path, lab, train, val, init: str, minutes, emit, stopper, compare_with=None):
    """One training round from ``init`` on ``train``; leaves ``run_dir/model.pt`` (see
    :func:`keep_one_model`). Returns the final event, not yet emitted."""
    from .engine import TrainConfig, fit
    from .model import load_detector

    run_dir.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("val", val)):
        atomic_write_json(run_dir / f"{name}.json", coco_ground_truth(part.images, part.boxes))
    _write_left_out(run_dir / "left_out.csv", lab.left_out)
    pairs = [(fc.images, str(run_dir / "train.json"))]
    repeat = [1]
    if fc.mix and fc.mix_share > 0:
        repeat = [RECIPE["user_repeat"]]
        seen = len(train.images) * repeat[0]
        n_mix = round(seen * fc.mix_share / max(1e-6, 1 - fc.mix_share))
        mixed = _mix_subset(run_dir, fc.mix, max(1, n_mix), fc.seed)
        pairs += mixed
        repeat += [1] * len(mixed)
    _, init_cfg, init_blob = load_detector(init)
    overrides = {k: v for k, v in init_cfg.items() if k not in ("arch", "preset")}
    overrides["printed"] = fc.printed
    if fc.text_class:
        overrides["text_class"] = True
    if init_blob.get("score_thresh") is not None:  # the threshold the starting model reads at
        overrides["score_thresh"] = float(init_blob["score_thresh"])
    compare_with = compare_with or str(init)
    tc = TrainConfig(
        train=pairs,
        repeat=repeat,
        out=str(run_dir),
        preset=str(init_cfg.get("preset", "default")),
        val=(fc.images, str(run_dir / "val.json")) if val.images else None,
        epochs=fc.epochs or RECIPE["epochs"],
        batch_size=fc.batch_size or RECIPE["batch_size"],
        lr=fc.lr or RECIPE["lr"],
        device=fc.device,
        init=str(init),
        synthetic=RECIPE["synthetic"],
        seed=fc.seed,
        workers=fc.workers,
        log_every=fc.log_every,
        max_seconds=minutes * 60 if minutes else None,
        overrides=overrides,
        optimizer=fc.optimizer,
        schedule=fc.schedule,
        freeze_bn=fc.freeze_bn,
        compare_with=compare_with if fc.compare else None,
        compare=fc.compare,
    )

    def relay(ev: Event) -> None:  # the final event names model.pt, once it is the only model
        if not isinstance(ev, DoneEvent | StoppedEvent):
            emit(ev)

    return keep_one_model(run_dir, fit(tc, relay, stopper))


def _told_start(emit, choice: StartChoice):
    """``emit`` with the start event naming the model the run starts from and why."""

    def relay(ev: Event) -> None:
        if isinstance(ev, StartEvent):
            ev.start_model, ev.start_note = str(choice.model), choice.text()
        emit(ev)

    return relay


def _relay(emit, seen: dict, skip_start: bool = False):
    """Events of one round: the second round's epochs count on from the first's, its start and
    its comparison of the first round's model are not told again."""
    offset = seen.get("epoch", 0)

    def relay(ev: Event) -> None:
        if skip_start and isinstance(ev, StartEvent):
            return
        if isinstance(ev, EpochEvent | ProgressEvent):
            ev.epoch += offset
            if isinstance(ev, EpochEvent):
                seen["epoch"] = ev.epoch
        emit(ev)

    return relay


def _place_again(fc: FinetuneConfig, model: Path, names: set[str], progress=None) -> Labelled:
    """The photos named ``names``, placed by ``model``."""
    from .predict import Predictor
    from .truth import read_numbers_csv

    rows = [r for r in read_numbers_csv(fc.numbers, fc.images) if r.path.name in names]
    return place_numbers(rows, Predictor(str(model), device=fc.device, batch_size=8, num_workers=0), progress)


def _unread(lab: Labelled) -> list[tuple[str, str]]:
    return [(n, why) for n, why in lab.left_out if why == "unreadable"]


def _moved(src: Path, dst: Path, end: DoneEvent | StoppedEvent) -> DoneEvent | StoppedEvent:
    """The first round's result as the run's: its model moved up into ``dst``."""
    model = src / MODEL_NAME
    if model.is_file():
        model.replace(dst / MODEL_NAME)
        for name in ("train.json", "val.json", "left_out.csv", "metrics.csv"):
            if (src / name).is_file() and not (dst / name).is_file():
                (src / name).replace(dst / name)
    shutil.rmtree(src, ignore_errors=True)
    end.run_dir = str(dst)
    end.best = str(dst / MODEL_NAME) if (dst / MODEL_NAME).is_file() else None
    if isinstance(end, StoppedEvent):
        end.checkpoint = end.best or ""
    return end


def keep_one_model(run_dir: Path, end: DoneEvent | StoppedEvent) -> DoneEvent | StoppedEvent:
    """Leave one model in a finished run: ``model.pt`` (fp16, the best epoch), no best/last.

    A run stopped before its first epoch ended has no model: its checkpoints go too.
    """
    from .model import load_detector, read_checkpoint, save_checkpoint

    best = run_dir / "best.pt"
    last = run_dir / "last.pt"
    if best.is_file():
        model, cfg, blob = load_detector(best)
        extra = {k: blob[k] for k in ("score_thresh", "metrics", "epoch") if k in blob}
        save_checkpoint(run_dir / MODEL_NAME, model, cfg, half=True, **extra)
        read_checkpoint(run_dir / MODEL_NAME)  # written whole before the others go
    for f in (best, last):
        f.unlink(missing_ok=True)
    synthetic = run_dir / "synthetic"
    if synthetic.is_dir():
        shutil.rmtree(synthetic, ignore_errors=True)
    model = run_dir / MODEL_NAME
    end.best = str(model) if model.is_file() else None
    if isinstance(end, StoppedEvent):
        end.checkpoint = end.best or ""
    return end


def _write_left_out(path: Path, left: list[tuple[str, str]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "reason"])
        w.writerows(left)
