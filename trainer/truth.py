"""Numbers as truth: a CSV of ``image_id,file_name,number``, one whole number per photo.

The form people keep readings in (a spreadsheet of meter readings, a list of bib numbers): no
digit boxes, just the number as text, leading zeros kept ("0374"). Numbers compare as task 2
does, as integers: "0374" reads right as 374.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .errors import AnnotationError

COLUMNS = ("image_id", "file_name", "number")


@dataclass(frozen=True)
class NumberTruth:
    image_id: int
    path: Path
    number: str  # digits only, as written (leading zeros kept)

    @property
    def value(self) -> int:
        return int(self.number)


def same_number(truth: str | int, read: str | int) -> bool:
    """Task 2's comparison: both as integers, -1 (or "") for no number."""

    def as_int(v) -> int:
        if isinstance(v, int):
            return v
        return int(v) if str(v).strip() else -1

    return as_int(truth) == as_int(read)


def read_numbers_csv(path: str | Path, images: str | Path | None = None) -> list[NumberTruth]:
    """The rows of a numbers CSV; ``file_name`` is relative to ``images`` (default: the CSV's
    folder, then its ``images/`` subfolder).

    Raises :class:`AnnotationError` naming the line for a missing column, an id that is not an
    integer or is repeated, a number that is not digits, or a file that does not exist.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise AnnotationError(f"{path}: cannot read the numbers file ({e})") from e
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise AnnotationError(f"{path}: empty; expected a header {','.join(COLUMNS)}")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise AnnotationError(
            f"{path}, line 1: missing column(s) {', '.join(missing)}; expected a header {','.join(COLUMNS)}"
        )
    col = {c: header.index(c) for c in COLUMNS}
    root = Path(images) if images else _image_root(path, rows, col)
    out: list[NumberTruth] = []
    seen: dict[int, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise AnnotationError(
                f"{path}, line {line}: {len(row)} values where the header has {len(header)}"
            )
        raw_id, name, number = (row[col[c]].strip() for c in COLUMNS)
        try:
            image_id = int(raw_id)
        except ValueError:
            raise AnnotationError(f"{path}, line {line}: image_id {raw_id!r} is not an integer") from None
        if image_id in seen:
            raise AnnotationError(f"{path}, line {line}: image_id {image_id} repeats line {seen[image_id]}")
        seen[image_id] = line
        if not number.isascii() or not number.isdigit():
            raise AnnotationError(f"{path}, line {line}: number {number!r} is not a whole number of digits")
        file = root / name
        if not name or not file.is_file():
            raise AnnotationError(f"{path}, line {line}: no image file {name!r} in {root}")
        out.append(NumberTruth(image_id, file, number))
    if not out:
        raise AnnotationError(f"{path}: no rows under the header")
    return out


def _image_root(path: Path, rows: list[list[str]], col: dict[str, int]) -> Path:
    """The CSV's folder, or its ``images/`` subfolder when the first file name lies there."""
    first = next((r for r in rows[1:] if len(r) > col["file_name"] and r[col["file_name"]].strip()), None)
    sub = path.parent / "images"
    if first is not None and not (path.parent / first[col["file_name"]].strip()).is_file() and sub.is_dir():
        return sub
    return path.parent
