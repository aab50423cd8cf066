"""The edit journal: edits are on disk before they show, replayed once on open, torn lines ignored."""

from __future__ import annotations

import json
import shutil

from guihelpers import drag, wait_shown
from PySide6.QtCore import Qt

from digitgui import journal, project_store


def _draw(qtbot, win, rect, key):
    x, y, w, h = rect
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    drag(qtbot, win.canvas, (x, y), (x + w, y + h))
    qtbot.keyClick(win.canvas, key)


def _digits(win, row=0):
    return sorted(b.digit for b in win.doc.entry(row).layer.boxes)


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def test_edits_are_journaled_before_autosave_and_replayed(qtbot, make_window, plain_folder, tmp_path):
    win = make_window()
    win.store._timer.setInterval(60000)  # no autosave during the test: only the journal has the edits
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    _draw(qtbot, win, (10, 10, 30, 40), Qt.Key.Key_3)
    _draw(qtbot, win, (50, 10, 30, 40), Qt.Key.Key_5)
    win.canvas.set_selected(win.doc.entry(0).layer.boxes[1].id)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Delete)
    win.actions_by_name["undo"].trigger()  # an undo shows on screen too: it is journaled as well
    assert _digits(win) == [3, 5]
    jpath = plain_folder / journal.JOURNAL_NAME
    recs = _lines(jpath)
    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1)) and len(recs) >= 4
    assert not (plain_folder / project_store.PROJECT_NAME).exists()
    # the disk as a kill -9 would leave it now, plus a record torn mid-write
    crashed = tmp_path / "crashed"
    shutil.copytree(plain_folder, crashed)
    with open(crashed / journal.JOURNAL_NAME, "a") as f:
        f.write('{"seq":99,"image":"' + win.doc.entry(0).name + '","layer":{"status":"edited","bo')
    win2 = make_window()
    assert win2.open_folder(crashed)
    assert _digits(win2) == [3, 5] and win2.doc.status(0).name == "EDITED"
    assert f"{len(recs)} unsaved edits restored" in win2.statusBar().currentMessage()
    # replayed edits go into the project file at once, and the journal is emptied
    qtbot.waitUntil(lambda: (crashed / project_store.PROJECT_NAME).is_file(), timeout=3000)
    qtbot.waitUntil(lambda: (crashed / journal.JOURNAL_NAME).read_text() == "", timeout=3000)
    # new edits continue the numbering after the torn line was cut off
    wait_shown(qtbot, win2)
    _draw(qtbot, win2, (90, 10, 30, 40), Qt.Key.Key_8)
    new = _lines(crashed / journal.JOURNAL_NAME)  # drawing, then typing the digit
    assert new and all(r["seq"] > recs[-1]["seq"] for r in new)
    assert new[-1]["layer"]["boxes"][-1][4] == 8
    win2.close()
    assert not (crashed / journal.JOURNAL_NAME).exists()  # a clean close leaves no journal
    win3 = make_window()
    assert win3.open_folder(crashed)
    assert _digits(win3) == [3, 5, 8]


def test_a_journal_never_replays_twice(qtbot, make_window, plain_folder):
    """Killed after the project file was written but before the journal was emptied."""
    win = make_window()
    assert win.open_folder(plain_folder)
    wait_shown(qtbot, win)
    _draw(qtbot, win, (10, 10, 30, 40), Qt.Key.Key_1)
    jpath = plain_folder / journal.JOURNAL_NAME
    stale = _lines(jpath)  # the records the next autosave includes
    assert stale
    qtbot.waitUntil(lambda: _lines(jpath) == [], timeout=3000)  # autosaved, journal emptied
    assert (
        json.loads((plain_folder / project_store.PROJECT_NAME).read_text())["journal_seq"] == stale[-1]["seq"]
    )
    # then the person undid the box; the project file has it (undo saved), the old records are back
    win.actions_by_name["undo"].trigger()
    win.store.flush()
    qtbot.waitUntil(lambda: _lines(jpath) == [], timeout=3000)
    win.close()
    jpath.write_text("".join(json.dumps(r) + "\n" for r in stale))
    win2 = make_window()
    assert win2.open_folder(plain_folder)
    assert _digits(win2) == []  # the records the project file already includes are not applied again


def test_a_damaged_journal_is_kept_aside_and_its_readable_edits_restored(plain_folder):
    from digitgui import folder_loader

    name = sorted(p.name for p in plain_folder.glob("*.png"))[0]
    good = {"image": name, "layer": {"status": "edited", "boxes": [[1, 2, 10, 20, 7, 1.0]]}}
    text = (
        json.dumps({"seq": 1, **good})
        + "\n\x00\x17garbage that is not JSON\n"
        + json.dumps({"seq": 2, **good, "current": name})
        + "\n"
    )
    jpath = plain_folder / journal.JOURNAL_NAME
    jpath.write_text(text)
    opened = folder_loader.open_folder(plain_folder)
    entry = next(e for e in opened.entries if e.name == name)
    assert [b.digit for b in entry.layer.boxes] == [7] and opened.replayed == 2 and opened.needs_save
    # the damaged file is kept as it was, never emptied by the next save
    assert not jpath.exists()
    (kept,) = plain_folder.glob(journal.JOURNAL_NAME + ".corrupt-*")
    assert kept.read_text() == text
    assert any(f"had 1 unreadable line; it was kept as {kept.name}" in m for m in opened.messages)
    # a journal whose only bad line is a torn last one (a write cut short) is not damaged
    jpath.write_text(json.dumps({"seq": 3, **good}) + '\n{"seq":4,"ima')
    records, last = journal.read_journal(jpath, 0)
    assert last == 3 and len(records) == 1 and jpath.exists()
