"""Numbers CSV: read as text, compared as task 2 does, bad rows named by line."""

from __future__ import annotations

import pytest

from trainer.errors import AnnotationError
from trainer.truth import read_numbers_csv, same_number


def _folder(tmp_path, text, files=("a.jpg", "b.jpg")):
    for f in files:
        (tmp_path / f).write_bytes(b"x")
    p = tmp_path / "truth.csv"
    p.write_text(text)
    return p


def test_numbers_keep_leading_zeros_and_compare_as_integers(tmp_path):
    p = _folder(tmp_path, "image_id,file_name,number\n1,a.jpg,0374\n2,b.jpg,12\n")
    rows = read_numbers_csv(p)
    assert [(r.image_id, r.path.name, r.number) for r in rows] == [(1, "a.jpg", "0374"), (2, "b.jpg", "12")]
    assert same_number("0374", "374") and same_number("0374", 374)
    assert not same_number("0374", "3740")
    assert same_number("", -1) and not same_number("1", "")


def test_files_found_in_images_subfolder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(b"x")
    p = tmp_path / "truth.csv"
    p.write_text("image_id,file_name,number\n1,a.jpg,5\n")
    assert read_numbers_csv(p)[0].path == tmp_path / "images" / "a.jpg"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("image_id,number\n1,5\n", "line 1: missing column(s) file_name"),
        ("image_id,file_name,number\n1,a.jpg,5\n1,b.jpg,6\n", "line 3: image_id 1 repeats line 2"),
        ("image_id,file_name,number\n1,a.jpg,S0374\n", "line 2: number 'S0374' is not"),
        ("image_id,file_name,number\n1,a.jpg,-5\n", "line 2: number '-5'"),
        ("image_id,file_name,number\nx,a.jpg,5\n", "line 2: image_id 'x' is not an integer"),
        ("image_id,file_name,number\n1,missing.jpg,5\n", "line 2: no image file 'missing.jpg'"),
        ("image_id,file_name,number\n", "no rows"),
        ("", "empty"),
    ],
)
def test_bad_rows_are_clear_errors_naming_the_line(tmp_path, text, needle):
    p = _folder(tmp_path, text)
    with pytest.raises(AnnotationError) as e:
        read_numbers_csv(p)
    assert needle in str(e.value)
