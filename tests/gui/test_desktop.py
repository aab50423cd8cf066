"""Desktop basics through the real window: Help menu, remembered layout, one instance per folder."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDockWidget

from digitgui import desktop, help
from digitgui.canvas_keys import _OWN_KEYS, KEY_HELP
from digitgui.folder_lock import LOCK_NAME

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_f1_lists_every_key_of_the_window_and_of_the_image_view(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F1)
    sw = window.help.shortcuts_window
    qtbot.waitUntil(lambda: sw is not None and sw.isVisible(), timeout=2000)
    rows = sw.rows()
    shown = {(keys, what) for keys, what, _where in rows}

    # every action of the window with a shortcut, under its own key names
    def keys_of(act):
        seqs = [s for s in act.shortcuts() if not s.isEmpty()]  # Quit has none on some systems
        return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in seqs)

    with_keys = [a for a in window.findChildren(QAction) if keys_of(a) and a.text()]
    assert len(with_keys) >= 15
    for act in with_keys:
        keys = keys_of(act)
        assert any(k == keys and act.text().replace("&", "").startswith(w.rstrip("…")) for k, w in shown), (
            act.text(),
            keys,
        )
    # every key the image view handles itself has a line, and each of those lines is listed
    covered = {k for keys, _label, _what in KEY_HELP for k in keys}
    assert set(_OWN_KEYS) <= covered
    for _keys, label, what in KEY_HELP:
        assert (label, what, help.IMAGE_VIEW) in rows
    assert ("F1", "Keyboard shortcuts", "Help") in rows
    # built from the actions as they are now: a key added later shows up on the next F1
    extra = QAction("Frobnicate the boxes", window)
    extra.setShortcut(QKeySequence("Ctrl+Shift+F"))
    window.addAction(extra)
    sw.close()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert ("Ctrl+Shift+F", "Frobnicate the boxes", "Window") in sw.rows()


def test_about_box_shows_version_model_card_and_licences(qtbot, make_window):
    win = make_window(model="default")
    win.actions_by_name["about"].trigger()
    box = win.help.about_box
    assert box.isVisible()
    text = box.text.text()
    card = __import__("json").loads((ROOT / "trainer/resources/models/default.json").read_text())
    assert f"Digit Studio {_pyproject_version()}</h2>" in text
    assert "Bundled default model" in text and f"{card['score_thresh']:.2f}" in text
    assert f"mAP {card['eval']['mAP']:.3f}" in text
    assert "SVHN" in text and "non-commercial" in text and "MIT licence" in text and "DejaVu" in text
    assert str(desktop.log_dir()) in text


class _UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_log_folder_opens_the_folder_of_the_log_file(qtbot, window):
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        window.actions_by_name["log_folder"].trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in catcher.urls] == [desktop.log_dir()]
    assert desktop.log_dir().is_dir()


def test_window_size_and_dock_layout_are_remembered(qtbot, make_window, plain_folder):
    win = make_window()
    win.open_folder(plain_folder)
    images = win.findChild(QDockWidget, "dock-images")
    assert win.dockWidgetArea(images) == Qt.DockWidgetArea.LeftDockWidgetArea
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, images)
    win.actions_by_name["training"].trigger()  # made on first use, at the bottom
    assert win.dockWidgetArea(win.training_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, win.training_dock)
    win.close_folder()
    # the height only: restoring fits a window to its screen, and the offscreen one is 800 px wide
    win.resize(win.width(), 610)
    qtbot.waitUntil(lambda: win.height() == 610)
    win.close()
    win2 = make_window()
    assert win2.height() == 610
    images2 = win2.findChild(QDockWidget, "dock-images")
    assert win2.dockWidgetArea(images2) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not images2.isVisible()  # the start page has no docks; they come with a folder
    win2.open_folder(plain_folder)
    assert images2.isVisible() and win2.dockWidgetArea(images2) == Qt.DockWidgetArea.RightDockWidgetArea
    win2.actions_by_name["training"].trigger()
    assert win2.training_dock.isVisible()
    assert win2.dockWidgetArea(win2.training_dock) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_a_second_window_on_the_same_folder_is_refused(qtbot, make_window, plain_folder, isolated_user_dirs):
    first = make_window()
    assert first.open_folder(plain_folder)
    assert (plain_folder / LOCK_NAME).is_file()
    second = make_window()
    assert not second.open_folder(plain_folder)
    assert second.doc.folder is None and second.stack.currentIndex() == 0
    level, text = isolated_user_dirs[-1]
    assert level == "warning" and "open in another Digit Studio window" in text and str(plain_folder) in text
    # reopening in the window that holds it is fine; closing the folder frees it
    assert first.open_folder(plain_folder)
    first.close_folder()
    assert not (plain_folder / LOCK_NAME).exists()
    assert second.open_folder(plain_folder)
    second.close()
    assert not (plain_folder / LOCK_NAME).exists()


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QCoreApplication, QLockFile
    app = QCoreApplication([])
    lock = QLockFile(sys.argv[1])
    print("locked" if lock.tryLock(0) else "failed", flush=True)
    time.sleep(120)
    """
)


def test_a_live_instance_keeps_the_folder_and_a_killed_ones_lock_is_taken_over(
    qtbot, make_window, plain_folder, isolated_user_dirs
):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(plain_folder / LOCK_NAME)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        win = make_window()
        assert not win.open_folder(plain_folder)
        assert f"process {holder.pid}" in isolated_user_dirs[-1][1]
    finally:
        holder.kill()  # as a crash would: the lock file stays behind
        holder.wait()
    assert (plain_folder / LOCK_NAME).is_file()
    assert win.open_folder(plain_folder) and len(win.doc) == 8
    assert (plain_folder / LOCK_NAME).read_text().split("\n")[0] == str(__import__("os").getpid())


def test_a_folder_copied_with_its_lock_opens(qtbot, make_window, plain_folder, tmp_path):
    import shutil

    win = make_window()
    assert win.open_folder(plain_folder)
    copy = tmp_path / "copy"
    shutil.copytree(plain_folder, copy)  # the lock names this process, which holds the original
    assert (copy / LOCK_NAME).is_file()
    win2 = make_window()
    assert win2.open_folder(copy)
    other = make_window()
    assert not other.open_folder(copy)  # and now it is really held


@pytest.mark.slow
def test_python_m_digitgui_logs_to_a_file_migrates_old_names_and_a_crash_leaves_a_trace(
    tmp_path, plain_folder, model_path
):
    import os
    import signal
    import time

    config, data = tmp_path / "config", tmp_path / "data"
    old_ini = config / "DigitStudio" / "DigitStudio.ini"  # the names up to 0.1.0
    old_ini.parent.mkdir(parents=True)
    old_ini.write_text(f"[General]\nrecent_folders={tmp_path}\n")
    old_card = data / "DigitStudio" / "DigitStudio" / "models" / "run1" / "card.json"
    old_card.parent.mkdir(parents=True)
    old_card.write_text('{"title": "Retrained run1"}')
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(config),
        XDG_DATA_HOME=str(data),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-m", "digitgui", str(plain_folder), "--model", str(model_path), "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    logs = data / "DigitStudio" / "digit-studio" / "logs"
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and proc.poll() is None:
            log_file = logs / "digit-studio.log"
            if log_file.is_file() and "loaded on" in log_file.read_text():
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        text = (logs / "digit-studio.log").read_text()
        assert f"Digit Studio {_pyproject_version()}" in text
        assert f"model {model_path} loaded on CPU" in text
        assert "moved from the old names: settings" in text and "moved from the old names: user data" in text
        os.kill(proc.pid, signal.SIGSEGV)  # what a crash in Qt or torch looks like from outside
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGSEGV
    crash = (logs / "crash.log").read_text()
    assert "Fatal Python error: Segmentation fault" in crash
    assert re.search(r'File ".*digitgui[/\\]app\.py", line \d+ in main', crash), crash[-2000:]
    # settings and user data now live under the new names
    new_ini = config / "DigitStudio" / "digit-studio.ini"
    assert str(tmp_path) in new_ini.read_text() and str(plain_folder) in new_ini.read_text()
    assert (data / "DigitStudio" / "digit-studio" / "models" / "run1" / "card.json").is_file()
    assert not old_card.exists()


def test_start_up_names_and_icon(qtbot, window):
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    before = (app.organizationName(), app.applicationName(), app.applicationDisplayName(), app.windowIcon())
    try:
        desktop.configure_application(app)  # what app.main does first
        assert (app.organizationName(), app.applicationName()) == ("DigitStudio", "digit-studio")
        assert app.applicationDisplayName() == "Digit Studio" and app.desktopFileName() == "digit-studio"
        assert not window.windowIcon().isNull() and not window.windowIcon().pixmap(48, 48).isNull()
        assert desktop.data_dir().parts[-2:] == ("DigitStudio", "digit-studio")
    finally:
        app.setOrganizationName(before[0])
        app.setApplicationName(before[1])
        app.setApplicationDisplayName(before[2])
        app.setWindowIcon(before[3])
