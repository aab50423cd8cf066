"""Decode images off the UI thread, with a small cache and read-ahead of the next images."""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QImageReader

log = logging.getLogger(__name__)


def read_qimage(path: Path) -> tuple[QImage | None, str | None]:
    """Decode ``path`` as shown by viewers (EXIF orientation applied). Returns (image, error)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    img = reader.read()
    if img.isNull():
        return None, f"Cannot read {path.name}: {reader.errorString()}"
    if img.format() not in (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32):
        img = img.convertToFormat(QImage.Format.Format_RGB32)
    return img, None


class ImageLoader(QObject):
    """Loads images in a background thread; ``loaded`` arrives on the UI thread."""

    loaded = Signal(str, object, object)  # path, QImage or None, error or None

    def __init__(self, parent: QObject | None = None, cache_size: int = 12) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-loader")
        self._cache: OrderedDict[str, tuple[QImage | None, str | None]] = OrderedDict()
        self._inflight: set[str] = set()
        self._cache_size = cache_size
        self._done.connect(self._store)

    _done = Signal(str, object, object)

    def cached(self, path: Path) -> tuple[QImage | None, str | None] | None:
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
        self._done.emit(key, img, err)

    def _store(self, key: str, img, err) -> None:
        self._inflight.discard(key)
        self._cache[key] = (img, err)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        self.loaded.emit(key, img, err)

    def clear(self) -> None:
        self._cache.clear()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
