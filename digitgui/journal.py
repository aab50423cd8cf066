"""The edit journal: every hand edit is on disk before it shows on screen.

The project file is rewritten (debounced, atomically) within a second of an edit; a kill -9
inside that second would lose the edit. So every change of an image's checked layer (an edit,
an undo, a redo) is also appended as one JSON line to ``.digitstudio.journal`` beside the project
file and fsync'ed, on the UI thread, before the widgets repaint.

Each line holds a sequence number and the image's whole layer after the change, so replaying is
idempotent. The project file records the last sequence number it includes (``journal_seq``):
on open only newer lines are replayed, so a line never counts twice, and once a project file
that includes every line is on disk the journal is emptied. A torn last line (the process died
mid-append) is ignored, and cut off before the next append. A journal with garbage elsewhere is
kept aside as ``.corrupt-<time>``, like a project file that cannot be read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .project_file import keep_aside  # the one home of the ".corrupt-<time>" rule

log = logging.getLogger(__name__)

JOURNAL_NAME = ".digitstudio.journal"


class Journal:
    """Appends records (dicts) to one journal file, fsync'ed; opened on first use."""

    def __init__(self, path: Path, seq: int = 0) -> None:
        self.path = Path(path)
        self.seq = int(seq)  # number of the last record written (or replayed)
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _cut_torn_tail(fd)
                if created:  # make the new file's name durable too
                    _fsync_dir(self.path.parent)
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
        return self._fd

    def append(self, record: dict) -> int:
        """Write ``record`` with the next sequence number, fsync, return the number. Raises OSError."""
        fd = self._open()
        seq = self.seq + 1
        data = (json.dumps({"seq": seq, **record}, separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        self.seq = seq
        return seq

    def clear(self) -> None:
        """Empty the journal (every record is in a project file on disk)."""
        if self._fd is None and not self.path.is_file():
            return
        fd = self._open()
        os.ftruncate(fd, 0)
        os.fsync(fd)

    def close(self) -> None:
        """Close the file; an empty journal is removed."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            if self.path.is_file() and self.path.stat().st_size == 0:
                self.path.unlink()
        except OSError:
            pass


def read_journal(path: Path, after: int = 0, messages: list[str] | None = None) -> tuple[list[dict], int]:
    """Records numbered above ``after``, in order, and the highest number in the file.

    A torn last line (the process died mid-append) is skipped. Garbage elsewhere means the file
    was damaged: what can be read is still returned, and the file is renamed aside
    (``.corrupt-<timestamp>``, as the project file is) so that emptying the journal later never
    destroys it; ``messages`` gets a line for the user.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return [], 0
    except OSError as exc:
        log.warning("cannot read the edit journal %s: %s", path, exc)
        return [], 0
    records, last, bad = [], 0, 0
    lines = raw.split(b"\n")
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            seq = int(rec["seq"])
        except (ValueError, TypeError, KeyError):
            torn = n == len(lines) - 1  # no newline after it: the write was cut short
            log.log(logging.INFO if torn else logging.WARNING, "skipping journal line %d of %s", n + 1, path)
            bad += not torn
            continue
        last = max(last, seq)
        if seq > after:
            records.append(rec)
    records.sort(key=lambda r: int(r["seq"]))
    if bad:
        _keep_damaged(Path(path), bad, len(records), messages)
    return records, last


def _keep_damaged(path: Path, bad: int, readable: int, messages: list[str] | None) -> None:
    lines = f"{bad} unreadable line{'s' if bad != 1 else ''}"
    try:
        kept = keep_aside(path)
    except OSError as exc:
        text = f"The edit journal {path} has {lines} and could not be kept aside ({exc})."
    else:
        text = f"The edit journal {path} had {lines}; it was kept as {kept.name}."
    if readable:
        text += f" The {readable} readable edits newer than the project file were restored."
    log.warning("%s", text)
    if messages is not None:
        messages.append(text)


def _cut_torn_tail(fd: int) -> None:
    """Drop a last line without its newline, so the next record starts on a line of its own."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    data = os.pread(fd, size, 0)
    os.ftruncate(fd, data.rfind(b"\n") + 1)
    os.fsync(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
