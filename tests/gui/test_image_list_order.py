"""The image list sorted by confidence: nothing read first, the current row kept in view."""

from __future__ import annotations

import shutil

from guihelpers import wait_model

from digitgui.widgets.image_list import CONFIDENCE_ROLE


def test_images_where_nothing_was_read_come_first_when_sorting_by_confidence(qtbot, window, plain_folder):
    win = window
    win.inference.request = lambda items: None  # the results below are the only predictions
    assert win.open_folder(plain_folder)
    names = [e.name for e in win.doc.entries]
    inject = win.predictions.inject
    inject(names[0], [[2, 2, 10, 20]], [0.95], [4], size=(64, 48))
    inject(names[1], [], [], [], size=(64, 48))  # nothing found
    inject(names[2], [[2, 2, 10, 20], [14, 2, 10, 20]], [0.9, 0.6], [1, 2], size=(64, 48))
    inject(names[3], [[2, 2, 10, 20]], [0.2], [7], size=(64, 48))  # under the threshold: nothing read
    win.doc.set_threshold(0.5)
    win.image_list.sort.setCurrentIndex(1)
    order = win.image_list.rows_in_view_order()
    assert order[:4] == [1, 3, 2, 0]


def test_current_row_stays_in_view_while_predict_all_reorders_the_list(qtbot, window, tmp_path, synth_master):
    folder = tmp_path / "many"
    folder.mkdir()
    src = sorted((synth_master / "images").glob("*.png"))
    for i in range(40):
        shutil.copy(src[i % len(src)], folder / f"img_{i}.png")
    win = window
    assert win.open_folder(folder)
    wait_model(qtbot, win)
    il = win.image_list
    il.setFixedHeight(160)  # a few rows visible
    il.sort.setCurrentIndex(1)
    win.doc.set_current(3)
    view = il.view
    out_of_view = []

    def check(_results):
        qtbot.wait(1)
        if not view.viewport().rect().intersects(view.visualRect(view.currentIndex())):
            out_of_view.append(il.rows_in_view_order().index(win.doc.current))
        assert il.proxy.mapToSource(view.currentIndex()).row() == win.doc.current

    win.inference.results.connect(check)
    with qtbot.waitSignal(win.inference.job_finished, timeout=120000):
        win.predict_all()

    def keys():
        return [il.model.index(r).data(CONFIDENCE_ROLE) for r in il.rows_in_view_order()]

    # the list ends sorted by the new confidences, lowest first, the current row still in view
    qtbot.waitUntil(lambda: keys() == sorted(keys()), timeout=5000)
    check(None)
    assert out_of_view == []
