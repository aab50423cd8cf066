"""Digits per number (Model menu): a folder of bibs read as four-digit numbers, through the real
window, the same as the command line reads them (skipped when ../shared/data/bibs is absent)."""

from __future__ import annotations

import csv

import pytest
from guihelpers import SVHN, wait_model

from digitgui import dialogs
from trainer.__main__ import main
from trainer.numbers import DigitCount

BIBS = SVHN.parent / "bibs"

pytestmark = pytest.mark.skipif(not (BIBS / "truth.csv").is_file(), reason="needs ../shared/data/bibs")


def _predict_all(qtbot, win) -> None:
    with qtbot.waitSignal(win.inference.job_finished, timeout=60000):
        win.predict_all()


def _readings(win) -> dict[str, str]:
    return {e.name: str(win.doc.reading(r).number) for r, e in enumerate(win.doc.entries)}


def test_a_digit_count_reads_the_folder_again_and_is_remembered(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "bibs"
    folder.mkdir()
    for p in sorted((BIBS / "images").iterdir())[:24]:
        (folder / p.name).write_bytes(p.read_bytes())
    win = make_window("default")
    assert win.open_folder(folder)
    wait_model(qtbot, win)
    _predict_all(qtbot, win)
    before = _readings(win)
    longer = [n for n, v in before.items() if len(v) > 4]
    assert longer  # the bundled model reads some bibs' letter as a digit

    monkeypatch.setattr(dialogs, "ask_text", lambda *_a: "5-3")
    win.actions_by_name["digits"].trigger()
    assert win.inference.digits is None and "digit count '5-3'" in win.messages[-1][1]

    monkeypatch.setattr(dialogs, "ask_text", lambda *_a: " 4 ")
    win.actions_by_name["digits"].trigger()
    assert win.inference.digits == DigitCount(4, 4)
    assert "4 digits per number" in win.model_label.text()
    qtbot.waitUntil(lambda: not win.models.stale and not win.inference.busy, timeout=60000)
    after = _readings(win)
    assert all(after[n].zfill(4) in before[n] for n in longer)  # four of its digits, in order
    assert all(after[n] == v for n, v in before.items() if len(v) == 4)

    # the same numbers as the command line told the same
    out = tmp_path / "cli"
    assert main(["predict", str(folder), "--out", str(out), "--device", "cpu", "--digits", "4"]) == 0
    ids = {r["image_id"]: r["file_name"] for r in csv.DictReader((out / "image_ids.csv").open())}
    cli = {ids[r["image_id"]]: r["pred_label"] for r in csv.DictReader((out / "pred.csv").open())}
    assert cli == after

    # remembered for the folder: opened again in a new window, it reads four digits at once
    win.close()
    again = make_window("default")
    assert again.open_folder(folder)
    wait_model(qtbot, again)
    assert again.inference.digits == DigitCount(4, 4) and "4 digits per number" in again.model_label.text()
    assert not again.models.stale  # what was read under the count is still current

    monkeypatch.setattr(dialogs, "ask_text", lambda *_a: "")
    again.actions_by_name["digits"].trigger()
    assert again.inference.digits is None and "digits per number" not in again.model_label.text()
    qtbot.waitUntil(lambda: not again.models.stale and not again.inference.busy, timeout=60000)
    assert _readings(again) == before
