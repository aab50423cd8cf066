"""Decode images off the UI thread, with a small cache and read-ahead of the next images.

Images up to :data:`MAX_DISPLAY_PIXELS` are decoded by Qt at full size. Bigger ones (Qt refuses
any image over 256 MB) are decoded reduced with the engine's decoder: the picture on screen then
has fewer pixels than the file, and :class:`Decoded` carries the original size so the canvas maps
display pixels onto original pixels exactly. A display failure is only about the display: the
engine reads images on its own, and only its verdict marks an image unreadable.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QImageReader

from trainer.imageio import READ_ERRORS, load_rgb_reduced

log = logging.getLogger(__name__)

MAX_DISPLAY_PIXELS = 16_000_000  # 64 MB as 32-bit pixels; a 12-megapixel photo shows 1:1


@dataclass(frozen=True)
class Decoded:
    """A picture to show and the size of the full image it stands for (original pixels)."""

    image: QImage
    size: tuple[int, int]

    @property
    def reduced(self) -> bool:
        return (self.image.width(), self.image.height()) != self.size


def read_qimage(path: Path, max_pixels: int = MAX_DISPLAY_PIXELS) -> tuple[Decoded | None, str | None]:
    """Decode ``path`` as shown by viewers (EXIF orientation applied). Returns (decoded, error)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    header = reader.size()
    if header.isValid() and header.width() * header.height() <= max_pixels:
        img = reader.read()
        if not img.isNull():
            if img.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32):
                img = img.convertToFormat(QImage.Format.Format_RGB32)
            return Decoded(img, (img.width(), img.height())), None
    qt_error = reader.errorString()
    try:  # too big for Qt, or a file Qt cannot decode: the engine's decoder, reduced
        small, size = load_rgb_reduced(path, max_pixels)
    except Image.DecompressionBombError:
        return None, _too_big(path, header.width(), header.height())
    except (*READ_ERRORS, MemoryError) as exc:
        if header.isValid():
            return None, f"Cannot show {path.name}: {exc}"
        return None, f"Cannot read {path.name}: {qt_error} ({exc})"
    data = small.tobytes()
    img = QImage(data, small.width, small.height, 3 * small.width, QImage.Format.Format_RGB888)
    return Decoded(img.convertToFormat(QImage.Format.Format_RGB32), size), None


def _too_big(path: Path, w: int, h: int) -> str:
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    size = f"{w}x{h} ({w * h / 1e6:.0f} million pixels)" if w > 0 and h > 0 else "too big"
    return (
        f"Cannot show {path.name}: it is {size}, more than the {limit / 1e6:.0f} million pixels "
        "images are decoded to (a guard against decompression bombs)"
    )


class ImageLoader(QObject):
    """Loads images in a background thread; ``loaded`` arrives on the UI thread."""

    loaded = Signal(str, object, object)  # path, Decoded or None, error or None

    def __init__(self, parent: QObject | None = None, cache_size: int = 12) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-loader")
        self._cache: OrderedDict[str, tuple[Decoded | None, str | None]] = OrderedDict()
        self._inflight: set[str] = set()
        self._cache_size = cache_size
        self._done.connect(self._store)

    _done = Signal(str, object, object)

    def cached(self, path: Path) -> tuple[Decoded | None, str | None] | None:
        key = str(path)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    def request(self, path: Path) -> None:
        """Load ``path`` (``loaded`` is emitted, at once if it is cached)."""
        hit = self.cached(path)
        if hit is not None:
            self.loaded.emit(str(path), hit[0], hit[1])
            return
        self._submit(path)

    def prefetch(self, paths: list[Path]) -> None:
        for p in paths:
            if str(p) not in self._cache:
                self._submit(p)

    def _submit(self, path: Path) -> None:
        key = str(path)
        if key in self._inflight:
            return
        self._inflight.add(key)
        self._pool.submit(self._work, key)

    def _work(self, key: str) -> None:
        try:
            img, err = read_qimage(Path(key))
        except Exception as exc:  # noqa: BLE001 - never lose the worker to a bad file
            img, err = None, f"Cannot read {Path(key).name}: {exc}"
        try:
            self._done.emit(key, img, err)
        except RuntimeError:  # the loader was deleted while this image was decoding
            pass

    def _store(self, key: str, img, err) -> None:
        self._inflight.discard(key)
        self._cache[key] = (img, err)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        self.loaded.emit(key, img, err)

    def clear(self) -> None:
        self._cache.clear()

    def shutdown(self) -> None:
        """Drop queued decodes; one in progress (a read-ahead, say) is not waited for."""
        self._pool.shutdown(wait=False, cancel_futures=True)
