"""One app instance per image folder: a ``QLockFile`` beside the project file.

Two instances on the same folder would each autosave their own copy of the work over the other's,
and each replay and empty the other's edit journal. The second one is refused, with who holds the
folder, rather than opened read-only: a read-only view that cannot save is easy to mistake for the
real one and lose an hour of edits in, and the first window is where the work is anyway.

A lock left by a crashed or killed instance is taken over at once when it was made on this
machine (QLockFile sees that its process is gone); one from another machine (a shared network
folder) is taken over once it has not been refreshed for :data:`STALE_MS`. A running instance
refreshes its lock every :data:`REFRESH_MS`, so it never looks stale. A lock naming this very
process at a path it does not hold came with a copied folder, and is taken over too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QTimer

log = logging.getLogger(__name__)

LOCK_NAME = ".digitstudio.lock"
STALE_MS = 10 * 60 * 1000
REFRESH_MS = 60 * 1000

_held: set[Path] = set()  # the lock files this process holds


class FolderLocked(Exception):
    """Another running instance has this folder open."""


class FolderLock(QObject):
    """The lock of one project folder, held until :meth:`release`."""

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self._lock = QLockFile(str(self.path))
        self._lock.setStaleLockTime(STALE_MS)
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self._refresh)

    @classmethod
    def acquire(
        cls, folder: Path, images: Path | None = None, parent: QObject | None = None
    ) -> FolderLock | None:
        """Lock ``folder``, the folder of the project file of the image folder ``images``.

        Returns None where no lock file can be made there (the folder is not locked then; the
        cause is logged). Raises :class:`FolderLocked` when another live instance holds it.
        """
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create %s for its lock file: %s", folder, exc)
            return None
        lock = cls(Path(folder) / LOCK_NAME, parent)
        if lock._lock.tryLock(0) or (lock._copied_here() and lock._lock.tryLock(0)):
            lock._timer.start()
            _held.add(lock.path.resolve())
            return lock
        error = lock._lock.error()
        if error == QLockFile.LockError.LockFailedError:
            info = lock._lock.getLockInfo()  # PySide6: (pid, host, app), or False when unreadable
            who = f"process {info[0]} on {info[1]}" if isinstance(info, tuple) else "another process"
            raise FolderLocked(
                f"{images or folder} is open in another Digit Studio window ({who}). Edits from two windows "
                "would overwrite each other, so it is not opened here: switch to that window, or "
                f"close it and open the folder again. (A crashed instance's lock, {lock.path.name}, "
                "is taken over by itself.)"
            )
        log.warning("cannot create the lock file %s (error %s); folder not locked", lock.path, error)
        return None

    def _copied_here(self) -> bool:
        """The lock names this process, which does not hold it: it was copied with the folder
        (removed, so the next try takes it)."""
        info = self._lock.getLockInfo()
        if not isinstance(info, tuple) or info[0] != os.getpid() or self.path.resolve() in _held:
            return False
        log.info("lock %s came with a copied folder; taking it over", self.path)
        return self._lock.removeStaleLockFile()

    def _refresh(self) -> None:
        try:
            os.utime(self.path)
        except OSError as exc:
            log.warning("cannot refresh the lock %s: %s", self.path, exc)

    def release(self) -> None:
        self._timer.stop()
        self._lock.unlock()
        _held.discard(self.path.resolve())


def switch(
    current: FolderLock | None, folder: Path | None, images: Path | None, parent: QObject
) -> FolderLock | None:
    """The lock to hold after opening ``images`` (project in ``folder``; None: nothing open).

    Keeps ``current`` when it is the same folder; otherwise locks the new folder first and only
    then releases the old one, so a refused folder leaves the open one locked. Raises
    :class:`FolderLocked`.
    """
    if current is not None and folder is not None and current.path == Path(folder) / LOCK_NAME:
        return current
    new = FolderLock.acquire(folder, images, parent) if folder is not None else None
    if current is not None:
        current.release()
    return new
