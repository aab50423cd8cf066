"""Training data for ``fit``: the augmented dataset, the records of a run and its loader."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .data import Record, read_image_or_raise
from .formats import load_annotations
from .scenes import SceneSpec, compose_scene, erase_digits
from .transforms import Augment, compose_strips, digit_strips, resize

SYNTHETIC_FIRST_ID = 10_000_000  # synthetic photos of a run get ids from here on


class TrainDataset(Dataset):
    def __init__(self, records: list[Record], cfg: dict, augment: bool, seed: int) -> None:
        self.records, self.cfg, self.augment, self.seed = records, cfg, augment, seed
        self.epoch = 0
        self.scene_spec = SceneSpec.from_config(cfg)

    def __len__(self) -> int:
        return len(self.records)

    def _read(self, rec: Record):
        img = read_image_or_raise(rec.path)
        boxes = rec.boxes.copy()
        w, h = img.size
        if len(boxes):
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        return img, boxes, rec.labels.copy()

    def _recomposed(self, rng: random.Random):
        """A new number joined from one-digit slices of random training photos (None if none found)."""
        want = rng.choices((1, 2, 3, 4, 5), weights=(15, 40, 30, 12, 3))[0]
        strips = []
        for _ in range(4 * want):
            if len(strips) == want:
                break
            rec = self.records[rng.randrange(len(self.records))]
            if len(rec.labels) == 0:
                continue
            found = digit_strips(*self._read(rec), rng)
            if found:
                strips.append(rng.choice(found))
        return compose_strips(strips, rng) if strips else None

    def _scene_photos(self, rng: random.Random, own: tuple | None):
        """A source of training photos with their digits painted over, read as a scene needs
        them; the number's own photo comes first 40% of the time."""
        first = [own] if own is not None and rng.random() < 0.4 else []

        def photo() -> Image.Image:
            if first:
                img, boxes, _ = first.pop()
                return erase_digits(img, boxes)
            for _ in range(3):  # photos a few pixels wide make no background
                img, boxes, _ = self._read(self.records[rng.randrange(len(self.records))])
                if min(img.size) >= 8:
                    break
            return erase_digits(img, boxes)

        return photo

    def _printed(self, rng: random.Random):
        """A printed number (bib, plate, label, meter) on a digit-free training photo."""
        from .printed import render_printed

        text = bool(self.cfg.get("text_class"))
        img, found = render_printed(rng, self._scene_photos(rng, None), text=text)
        boxes = np.array([[x, y, x + w, y + h] for (x, y, w, h), _ in found], np.float32).reshape(-1, 4)
        labels = np.array([d + 1 for _, d in found], np.int64)
        return img, boxes, labels

    def __getitem__(self, i: int):
        rng = random.Random(hash((self.seed, self.epoch, i)))
        composed = None
        printed = float(self.cfg.get("printed", 0.0))
        if self.augment and printed > 0 and rng.random() < printed:
            composed = self._printed(rng)
        elif self.augment and rng.random() < float(self.cfg.get("recompose", 0.0)):
            composed = self._recomposed(rng)
        own = None if composed else self._read(self.records[i])
        img, boxes, labels = composed or own
        in_scene = self.augment and rng.random() < float(self.cfg.get("scene", 0.0))
        min_size = None
        if self.augment:
            stretch = self.cfg.get("stretch")
            img, boxes = Augment(rng, stretch=tuple(stretch) if stretch else None)(img, boxes)
            if self.cfg.get("min_size_jitter"):
                min_size = rng.choice(self.cfg["min_size_jitter"])
        scene = None
        if in_scene:  # a scene is built at model-input scale: no resize after it
            scene = compose_scene(img, boxes, labels, self._scene_photos(rng, own), rng, self.scene_spec)
        if scene is not None:
            img, boxes, labels = scene
        else:
            img, boxes, _ = resize(img, boxes, self.cfg["resize"], min_size)
        keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
        t = torch.from_numpy(np.asarray(img, np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
        target = {
            "boxes": torch.from_numpy(boxes[keep].astype(np.float32)).reshape(-1, 4),
            "labels": torch.from_numpy(labels[keep].astype(np.int64)),
        }
        return t, target


def collate(batch):
    return tuple(zip(*batch))


def load_training_records(
    pairs: list[tuple[str, str]],
    synthetic: int,
    seed: int,
    run_dir: Path,
    rank: int,
    repeat: list[int] | None = None,
) -> tuple[list[Record], list[str]]:
    """Records of every (images, COCO) pair, plus ``synthetic`` generated photos in the run folder.

    ``repeat`` (one count per pair) lists each record of a pair that many times: the same
    :class:`Record` object, so a held-out photo is recognised as one.
    """
    times = list(repeat or []) + [1] * (len(pairs) + 1)
    records: list[Record] = []
    warnings: list[str] = []
    pairs = list(pairs)
    if synthetic > 0:
        from .synth import make_dataset

        syn = run_dir / "synthetic"
        ann = syn / "annotations.json"
        if rank == 0 and not ann.is_file():
            make_dataset(syn, synthetic, seed=seed + 7919, start_id=SYNTHETIC_FIRST_ID)
        if dist.is_initialized():
            dist.barrier()
        pairs.append((str(syn / "images"), str(ann)))
    for (images, ann), n in zip(pairs, times):
        coco = load_annotations(ann, images)  # COCO json, or a folder of VOC/YOLO/labelme files
        records += coco.records * n
        warnings += coco.all_warnings()
    return records, warnings


def records_of(pair: tuple[str, str] | None) -> list[Record]:
    return load_annotations(pair[1], pair[0]).records if pair else []


def make_loader(
    ds: TrainDataset, batch_size: int, workers: int | None, seed: int, rank: int, world: int
) -> tuple[DataLoader, DistributedSampler | None]:
    sampler = DistributedSampler(ds, world, rank, shuffle=True, seed=seed) if world > 1 else None
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    loader = DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=len(ds) > batch_size,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=False,
        worker_init_fn=_quiet_worker,
    )
    return loader, sampler


def _quiet_worker(_worker_id: int) -> None:
    """Ctrl+C reaches the whole process group: let the main process alone handle it and save."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
