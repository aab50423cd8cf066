"""Batched inference with boxes mapped exactly back to original pixels."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.functional import pil_to_tensor

from .errors import DeviceError, DigitError
from .imageio import READ_ERRORS, load_rgb, load_rgb_reduced, to_rgb
from .model import batch_key, load_detector, resolve_model_path
from .multiscale import ScaleSearch, search_image
from .numbers import DigitCount, fit_count, pick_number
from .region import REGION_DECODE_PIXELS, clip_rect, mostly_inside, padded_crop
from .transforms import boxes_to_original, resize

log = logging.getLogger(__name__)


@dataclass
class ImageResult:
    """Raw detections of one image: COCO boxes in original pixels, scores, digits 0..9."""

    path: Path | None
    width: int
    height: int
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    digits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    error: str | None = None


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: CUDA was asked for but no CUDA device is available")
    if name == "mps" and not getattr(getattr(torch.backends, "mps", None), "is_available", lambda: False)():
        raise DeviceError("--device mps: Apple MPS was asked for but is not available")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def prepare(img: Image.Image, spec: dict) -> tuple[torch.Tensor, tuple[float, float]]:
    """PIL RGB image -> float tensor resized under ``spec`` and the (sx, sy) it was scaled by."""
    small, _, scale = resize(img, None, spec)
    return pil_to_tensor(small).float().div_(255.0), scale


SCALES = ("single", "auto")


class _PathDataset(Dataset):
    """Decodes and prepares one image; ``keep_image`` also returns the decoded image.

    With ``max_pixels`` a big image is decoded reduced (JPEG draft), and sizes stay original.
    """

    def __init__(self, paths: Sequence[Path], spec: dict, max_pixels: int | None = None) -> None:
        self.paths, self.spec, self.max_pixels = list(paths), spec, max_pixels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            if self.max_pixels:
                img, size = load_rgb_reduced(self.paths[i], self.max_pixels)
            else:
                img = load_rgb(self.paths[i])
                size = img.size
            t, scale = prepare(img, self.spec)
        except (*READ_ERRORS, MemoryError) as exc:
            return i, None, None, None, f"cannot read {self.paths[i].name}: {exc}", None
        return i, t, scale, size, None, img if self.max_pixels else None


def _collate(batch):
    return batch


class Predictor:
    """Owns a detector on a device and turns images into :class:`ImageResult` s."""

    def __init__(
        self,
        model: str | os.PathLike | None = "default",
        device: str = "auto",
        batch_size: int = 8,
        num_workers: int | None = None,
        amp: bool = True,
        scales: str = "auto",
        digits: DigitCount | None = None,
    ) -> None:
        """``scales="auto"`` finds numbers at any size in the photo (see :mod:`trainer.multiscale`);
        ``"single"`` is one pass over the whole image resized to the model's input size.
        ``digits``: how many digits the numbers have, where the user knows it (see
        :func:`~trainer.numbers.fit_count`); None reads numbers of any length."""
        if scales not in SCALES:
            raise DigitError(f"unknown scales {scales!r}; choose one of {', '.join(SCALES)}")
        self.model_path = resolve_model_path(model)
        self.model, self.cfg, blob = load_detector(self.model_path)
        self.device = pick_device(device)
        self.model.to(self.device)
        self.batch_size = max(1, int(batch_size))
        self.num_workers = num_workers
        self.amp = amp  # fp16 autocast on CUDA
        self.score_thresh = float(blob.get("score_thresh", self.cfg.get("score_thresh", 0.5)))
        self.card = blob.get("card", {})
        self.search = ScaleSearch()
        self.scales = scales
        self.digits = digits

    @classmethod
    def from_model(cls, model, cfg: dict, device: torch.device, score_thresh: float, batch_size: int = 16):
        """Wrap an in-memory model (e.g. during training) without reading a file."""
        self = cls.__new__(cls)
        self.model_path, self.model, self.cfg, self.device = None, model, cfg, device
        self.batch_size, self.num_workers, self.score_thresh, self.card = batch_size, 0, score_thresh, {}
        self.amp = True
        self.search, self.scales = ScaleSearch(), "single"  # training validates on crops
        self.digits = None
        return self

    @property
    def multiscale(self) -> bool:
        """Whether the scale search runs (only models that keep the aspect ratio support it)."""
        return self.scales == "auto" and self.cfg["resize"].get("mode") == "keep"

    @property
    def device_name(self) -> str:
        return device_label(self.device)

    @property
    def preset(self) -> str:
        return str(self.cfg.get("preset"))

    def _run(self, tensors: list[torch.Tensor]) -> list[dict]:
        """Outputs for ``tensors`` in order; each image reads as it would alone, whatever the
        batch (images are run in groups that pad to the same shape, see :func:`batch_key`)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, t in enumerate(tensors):
            groups.setdefault(batch_key(self.model, t), []).append(i)
        outs: list[dict] = [{}] * len(tensors)
        for idx in groups.values():
            for i, o in zip(idx, self._forward([tensors[i] for i in idx])):
                outs[i] = o
        return outs

    @torch.inference_mode()
    def _forward(self, tensors: list[torch.Tensor]) -> list[dict]:
        tensors = [t.to(self.device, non_blocking=True) for t in tensors]
        if self.device.type == "cuda" and self.amp:
            with torch.autocast("cuda", dtype=torch.float16):
                out = self.model(tensors)
        else:
            out = self.model(tensors)
        return [
            {k: v.float().cpu().numpy() if k != "labels" else v.cpu().numpy() for k, v in o.items()}
            for o in out
        ]

    def _to_result(self, out: dict, scale, size, path) -> ImageResult:
        """Detections in original pixels, with the image's number chosen (:func:`pick_number`):
        confident digits outside it drop under the threshold, so what is drawn is what is read.
        With :attr:`digits`, the number is then fitted to that count (:func:`fit_count`)."""
        xyxy = boxes_to_original(out["boxes"].astype(np.float32), scale, size)
        wh = xyxy[:, 2:] - xyxy[:, :2]
        ok = (wh > 0).all(axis=1)
        xywh = np.concatenate([xyxy[:, :2], wh], axis=1)[ok]
        raw = out["scores"][ok].astype(np.float32)
        scores = pick_number(xyxy[ok], raw, self.score_thresh)
        if self.digits is not None:
            scores = fit_count(xywh, scores, raw, self.score_thresh, self.digits)
        return ImageResult(path, size[0], size[1], xywh, scores, (out["labels"][ok] - 1).astype(np.int64))

    def _finish(self, out: dict, img: Image.Image | None, scale, size, path) -> ImageResult:
        """Result of the whole-image pass ``out``, after the scale search when it runs."""
        if img is None:
            return self._to_result(out, scale, size, path)
        found = search_image(
            img, out, scale, self._run, self.cfg["resize"], self.search, self.batch_size, self.score_thresh
        )
        decoded = (img.width / size[0], img.height / size[1])
        return self._to_result(found, decoded, size, path)

    def _decoded(self, img: Image.Image) -> tuple[Image.Image, tuple[int, int]]:
        """An in-memory image reduced like a decoded file would be (bounded search cost)."""
        size = img.size
        limit = self.search.decode_pixels
        if self.multiscale and size[0] * size[1] > limit:
            k = (limit / (size[0] * size[1])) ** 0.5
            img = img.resize((max(1, int(size[0] * k)), max(1, int(size[1] * k))), Image.BILINEAR)
        return img, size

    def predict_images(self, images: Iterable[Image.Image]) -> list[ImageResult]:
        """Predict already decoded RGB images (batched)."""
        results: list[ImageResult] = []
        batch: list[tuple] = []
        spec = self.cfg["resize"]

        def flush():
            outs = self._run([b[0] for b in batch])
            results.extend(self._finish(o, b[3], b[1], b[2], None) for o, b in zip(outs, batch))
            batch.clear()

        for img in images:
            img, size = self._decoded(img)
            t, scale = prepare(img, spec)
            batch.append((t, scale, size, img if self.multiscale else None))
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        return results

    def predict_region(self, image: str | os.PathLike | Image.Image, rect) -> ImageResult:
        """Read only the xywh ``rect`` (original pixels) of an image, a path or a decoded image.

        The region is padded like a training crop and read as a photo of its own, at the model's
        input size (with the scale search where the model supports it), so a number too small for
        the whole image's pass is read. A file is decoded at full size up to
        :data:`~trainer.region.REGION_DECODE_PIXELS`. Boxes come back in original pixels; only
        boxes mostly inside ``rect`` are kept. An unreadable file gives a result with ``error``;
        a ``rect`` outside the image raises :class:`~trainer.errors.DigitError`.
        """
        path = None
        if isinstance(image, Image.Image):
            img = to_rgb(image)
            size = img.size
        else:
            path = Path(image)
            try:
                img, size = load_rgb_reduced(path, REGION_DECODE_PIXELS)
            except (*READ_ERRORS, MemoryError) as exc:
                log.warning("cannot read %s: %s", path.name, exc)
                return ImageResult(path, 0, 0, error=f"cannot read {path.name}: {exc}")
        region = clip_rect(rect, *size)
        f = np.array([img.width / size[0], img.height / size[1]] * 2, np.float32)  # decoded / original
        x0, y0, x1, y1 = padded_crop(
            tuple(np.asarray(region, np.float32) * f), *img.size, self.search.pad_x, self.search.pad_y
        )
        crop = img.crop((x0, y0, x1, y1))
        t, scale = prepare(crop, self.cfg["resize"])
        out = self._run([t])[0]
        if self.multiscale:
            spec = self.cfg["resize"]
            out = search_image(
                crop, out, scale, self._run, spec, self.search, self.batch_size, self.score_thresh
            )
            scale = (1.0, 1.0)
        res = self._to_result(out, scale, crop.size, path)
        boxes = (res.boxes + np.array([x0, y0, 0, 0], np.float32)) / f
        keep = mostly_inside(boxes, region)
        return ImageResult(path, size[0], size[1], boxes[keep], res.scores[keep], res.digits[keep])

    def predict_paths(
        self,
        paths: Sequence[str | os.PathLike],
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Iterator[ImageResult]:
        """Yield one result per path, in order. Unreadable files yield a result with ``error``."""
        paths = [Path(p) for p in paths]
        workers = self.num_workers
        if workers is None:
            workers = min(4, os.cpu_count() or 1) if len(paths) >= 64 else 0
        reduce_to = self.search.decode_pixels if self.multiscale else None
        loader = DataLoader(
            _PathDataset(paths, self.cfg["resize"], reduce_to),
            batch_size=self.batch_size,
            num_workers=workers,
            collate_fn=_collate,
        )
        done = 0
        for batch in loader:
            if cancelled is not None and cancelled():
                return
            good = [b for b in batch if b[4] is None]
            outs = self._run([b[1] for b in good]) if good else []
            by_index = {}
            for o, (i, _t, scale, size, _err, img) in zip(outs, good):
                if cancelled is not None and cancelled():
                    return
                if img is None:
                    by_index[i] = self._to_result(o, scale, size, paths[i])
                else:
                    by_index[i] = self._finish(o, img, scale, size, paths[i])
            # counted before the batch is handed out: a caller that stops taking results after
            # the last one (zip with a list of the same length) still sees the count complete
            done += len(batch)
            if progress is not None:
                progress(done, len(paths))
            for i, _t, _s, _size, err, _img in batch:
                if err is not None:
                    log.warning(err)
                    yield ImageResult(paths[i], 0, 0, error=err)
                else:
                    yield by_index[i]
