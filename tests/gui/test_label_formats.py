"""Other tools' formats through the real window: VOC/YOLO/labelme ground truth found on open, File ▸
Open annotations, the export format choice, and another model's predictions."""

from __future__ import annotations

import json
import shutil

from guihelpers import wait_model, wait_shown
from PIL import Image
from PySide6.QtCore import Qt

from digitgui import dialogs, settings
from digitgui.state import Status
from trainer.export import written_by_export
from trainer.formats import label_texts, load_annotations


def _coco(synth_master):
    return json.loads((synth_master / "annotations.json").read_text())


def _truth(synth_master) -> dict[str, list]:
    """file name -> sorted [(digit, x, y, w, h)] of the synthetic set."""
    coco = _coco(synth_master)
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    out: dict[str, list] = {n: [] for n in names.values()}
    for a in coco["annotations"]:
        out[names[a["image_id"]]].append((a["category_id"] - 1, *a["bbox"]))
    return {k: sorted(v) for k, v in out.items()}


def _shown(win) -> dict[str, list]:
    return {
        e.name: sorted((b.digit, b.x, b.y, b.w, b.h) for b in e.layer.boxes)
        for e in win.doc.entries
        if e.has_gt
    }


def _close(a, b) -> bool:
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k])
        and all(
            p[0] == q[0] and max(abs(u - v) for u, v in zip(p[1:], q[1:])) <= 0.01 for p, q in zip(a[k], b[k])
        )
        for k in a
    )


def _write(texts, folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text)


def test_voc_beside_the_images_opens_as_ground_truth_and_bad_files_are_named(
    qtbot, window, plain_folder, synth_master, isolated_user_dirs
):
    _write(label_texts("voc", _coco(synth_master), plain_folder, plain_folder), plain_folder)
    xml2 = plain_folder / "2.xml"
    xml2.write_text(xml2.read_text().replace("</bndbox>", "</bndbx>", 1))  # malformed
    xml3 = plain_folder / "3.xml"
    text = xml3.read_text()
    xml3.write_text(text.replace("<name>", "<name>house", 1))  # a label that is not a digit
    win = window
    assert win.open_folder(plain_folder)
    truth = _truth(synth_master)
    got = _shown(win)
    assert "2.png" not in got and len(got) == len(truth) - 1
    lost = [b for b in truth["3.png"] if b not in got["3.png"]]
    assert len(lost) == 1 and len(got["3.png"]) == len(truth["3.png"]) - 1
    del truth["2.png"], truth["3.png"], got["3.png"]
    assert _close(got, truth)
    assert win.doc.status(0) == Status.LABELLED and win.doc.gt_source == plain_folder
    said = "\n".join(t for _lvl, t in win.messages)
    line = next(i for i, ln in enumerate(xml2.read_text().splitlines(), 1) if "</bndbx>" in ln)
    assert f"{xml2}:{line}: not well-formed XML" in said
    assert "1 boxes whose label is not a digit (0-9) were kept out: 'house" in said


def test_yolo_in_a_labels_sibling_and_open_annotations_for_labelme(
    qtbot, window, tmp_path, synth_master, monkeypatch
):
    ds = tmp_path / "ds"
    shutil.copytree(synth_master / "images", ds / "images")
    _write(label_texts("yolo", _coco(synth_master), ds / "images", ds / "labels"), ds / "labels")
    win = window
    assert win.open_folder(ds / "images")
    assert win.doc.gt_source == ds / "labels"
    assert _close(_shown(win), _truth(synth_master))
    # a labelme folder somewhere else, opened by hand (any one of its files will do)
    lm = tmp_path / "lm"
    _write(label_texts("labelme", _coco(synth_master), ds / "images", lm), lm)
    data = json.loads((lm / "1.json").read_text())
    data["shapes"] = data["shapes"][:1]
    (lm / "1.json").write_text(json.dumps(data, indent=2))
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a, **k: str(lm / "5.json"))
    with qtbot.waitSignal(win.folder_opened, timeout=5000):
        win.actions_by_name["coco"].trigger()
    want = _truth(synth_master)
    got = _shown(win)
    (x1, y1), (x2, y2) = data["shapes"][0]["points"]
    assert win.doc.gt_source == lm / "5.json"
    assert _close({"1": got["1.png"]}, {"1": [(int(data["shapes"][0]["label"]), x1, y1, x2 - x1, y2 - y1)]})
    del want["1.png"], got["1.png"]
    assert _close(got, want)


def _export(qtbot, win):
    with qtbot.waitSignal(win.export_finished, timeout=60000) as sig:
        qtbot.keyClick(win.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    return sig.args[0]


def test_export_in_the_chosen_format_is_remembered_and_never_mixes_with_foreign_files(
    qtbot, window, dataset, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    settings.set_export_folder(dataset, out)
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    win = window
    win.open_folder(dataset)
    wait_model(qtbot, win)
    wait_shown(qtbot, win)
    acts = win.export_format_actions
    assert acts["coco"].isChecked()
    acts["yolo"].trigger()
    assert settings.export_format(dataset) == "yolo"
    win.canvas.setFocus()
    for _ in range(3):
        qtbot.keyClick(win.canvas, Qt.Key.Key_Space)
    reviewed = [e for e in win.doc.entries if e.layer.status == Status.REVIEWED]
    assert len(reviewed) == 3
    summary = _export(qtbot, win)
    assert not isinstance(summary, str), summary
    files = sorted(p.relative_to(out).as_posix() for p in (out / "yolo").iterdir())
    assert files == sorted(["yolo/classes.txt"] + [f"yolo/{e.path.stem}.txt" for e in reviewed])
    assert not (out / "annotations.json").exists() and (out / "pred.json").exists()
    assert all(written_by_export(out / f) for f in files)
    assert (out / "yolo" / "classes.txt").read_text().split() == [str(d) for d in range(10)]
    back = {r.path.name: r for r in load_annotations(out / "yolo", dataset).records}
    for e in reviewed:
        want = sorted(
            (b.digit + 1, round(b.x, 2), round(b.y, 2), round(b.x + b.w, 2), round(b.y + b.h, 2))
            for b in e.layer.boxes
        )
        got = sorted(
            (int(c), *(round(v, 2) for v in box))
            for box, c in zip(back[e.name].boxes.tolist(), back[e.name].labels)
        )
        assert len(got) == len(want) and all(
            g[0] == w[0] and max(abs(a - b) for a, b in zip(g[1:], w[1:])) <= 0.01 for g, w in zip(got, want)
        )
    assert "yolo/ (4 files)" in summary.text()
    # remembered for this folder; switching to VOC replaces our own YOLO files
    win.close_folder()
    win.open_folder(dataset)
    assert win.export_format_actions["yolo"].isChecked()
    win.export_format_actions["voc"].trigger()
    assert not isinstance(_export(qtbot, win), str)
    assert not (out / "yolo").exists() or not any((out / "yolo").iterdir())
    assert sorted(p.name for p in (out / "voc").iterdir()) == sorted(f"{e.path.stem}.xml" for e in reviewed)
    # a folder of someone's own VOC files inside the export folder is never written into
    (out / "voc" / "theirs.xml").write_text("<annotation/>")
    before = {p.name: p.read_bytes() for p in (out / "voc").iterdir()}
    refused = _export(qtbot, win)
    assert isinstance(refused, str) and "voc/ (1 file)" in refused
    assert {p.name: p.read_bytes() for p in (out / "voc").iterdir()} == before


def test_predictions_of_another_model_are_shown_to_review(qtbot, window, plain_folder, tmp_path, monkeypatch):
    win = window
    win.open_folder(plain_folder)
    wait_model(qtbot, win)
    ids = {e.name: e.image_id for e in win.doc.entries}
    results = [
        {"image_id": ids["2.png"], "bbox": [3.5, 4.25, 10, 12], "score": 0.91, "category_id": 8},
        {"image_id": ids["2.png"], "bbox": [14, 4, 10, 12], "score": 0.42, "category_id": 1},
    ]
    (tmp_path / "other.json").write_text(json.dumps(results))
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a, **k: str(tmp_path / "other.json"))
    win.actions_by_name["open_predictions"].trigger()
    e = win.doc.entry(win.doc.row_of("2.png"))
    assert e.pred.model == "file:other.json"
    assert e.pred.boxes.tolist() == [[3.5, 4.25, 10, 12], [14, 4, 10, 12]] and e.pred.digits.tolist() == [
        7,
        0,
    ]
    win.doc.set_threshold(0.4)
    win.doc.set_current(win.doc.row_of("2.png"))
    shown = win.doc.shown()
    assert [(s.digit, s.checked) for s in sorted(shown, key=lambda s: s.x)] == [(7, False), (0, False)]
    assert win.doc.reading().text == "70"
    # YOLO txt with confidences, for one image; the others keep what they had
    pred = tmp_path / "yolo_pred"
    pred.mkdir()
    w, h = Image.open(plain_folder / "4.png").size
    (pred / "4.txt").write_text("5 0.5 0.5 0.25 0.5 0.77\n3 0.5 0.5 0.25\n")
    monkeypatch.setattr(dialogs, "choose_open_file", lambda *a, **k: str(pred / "4.txt"))
    win.actions_by_name["open_predictions"].trigger()
    e4 = win.doc.entry(win.doc.row_of("4.png"))
    assert e4.pred.model == "file:4.txt" and e4.pred.digits.tolist() == [5]
    assert e4.pred.boxes.tolist()[0] == [w * 0.375, h * 0.25, w * 0.25, h * 0.5]
    assert abs(float(e4.pred.scores[0]) - 0.77) < 1e-6
    assert f"{pred / '4.txt'}:2: 4 numbers" in win.messages[-1][1]
    assert win.doc.entry(win.doc.row_of("2.png")).pred.model == "file:other.json"


def test_verified_voc_and_checked_labelme_open_as_reviewed_and_export_says_so(
    plain_folder, synth_master, tmp_path, isolated_user_dirs
):
    from digitgui import folder_loader
    from digitgui.services.export import write_export

    coco = _coco(synth_master)
    first = min(im["id"] for im in coco["images"])
    _write(label_texts("voc", coco, plain_folder, plain_folder, reviewed={first}), plain_folder)
    opened = folder_loader.open_folder(plain_folder)
    statuses = {e.image_id: e.layer.status for e in opened.entries}
    assert statuses[first] == Status.REVIEWED  # labelImg's verified="yes"
    assert {s for i, s in statuses.items() if i != first} == {Status.LABELLED}
    for fmt, sub, mark in (("voc", "voc", 'verified="yes"'), ("labelme", "labelme", '"checked": true')):
        out = tmp_path / f"out-{fmt}"
        summary = write_export(opened.entries, 0.5, out, fmt=fmt)
        assert summary.reviewed == 1
        (written,) = [p for p in (out / sub).iterdir() if p.suffix in (".xml", ".json")]
        assert mark in written.read_text()
    # labelme files with X-AnyLabeling's "checked": true open as reviewed too
    lm = plain_folder.parent / "lm"
    shutil.copytree(plain_folder, lm, ignore=shutil.ignore_patterns("*.xml", ".digitstudio*"))
    _write(label_texts("labelme", coco, lm, lm, reviewed=True), lm)
    opened = folder_loader.open_folder(lm)
    assert {e.layer.status for e in opened.entries if e.has_gt} == {Status.REVIEWED}


def test_opening_a_folder_lists_it_once(plain_folder, synth_master, tmp_path, monkeypatch):
    """The image list, the search for label files and the label reader share one listing."""
    import os

    from digitgui import folder_loader

    seen: list[str] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path="."):
        seen.append(path if isinstance(path, int) else os.path.realpath(path))
        return real_scandir(path)

    def listdir(path="."):
        seen.append(path if isinstance(path, int) else os.path.realpath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    folder = str(plain_folder.resolve())
    opened = folder_loader.open_folder(plain_folder)  # no labels: the folder and its label places looked at
    assert seen.count(folder) == 1 and not any(e.has_gt for e in opened.entries)
    _write(label_texts("voc", _coco(synth_master), plain_folder, plain_folder), plain_folder)
    seen.clear()
    opened = folder_loader.open_folder(plain_folder)  # VOC files beside the images: found and read
    assert seen.count(folder) == 1 and all(e.has_gt for e in opened.entries)
