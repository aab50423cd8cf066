"""Fixtures for driving the real main window with pytest-qt (offscreen)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    """Settings, user data and cache go to a temp folder; dialogs never block."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    from digitgui import dialogs

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(
        dialogs, "show_message", lambda parent, level, title, text: shown.append((level, text))
    )
    monkeypatch.setattr(dialogs, "choose_folder", _unexpected("choose_folder"))
    monkeypatch.setattr(dialogs, "choose_open_file", _unexpected("choose_open_file"))
    monkeypatch.setattr(dialogs, "choose_save_file", _unexpected("choose_save_file"))
    monkeypatch.setattr(dialogs, "choose_output_folder", _unexpected("choose_output_folder"))
    monkeypatch.setattr(dialogs, "ask", _unexpected("ask"))
    return shown


def _unexpected(name):
    def fail(*_a, **_k):
        raise AssertionError(f"dialog {name} was opened but the test did not expect it")

    return fail


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """A small random-init detector (arbitrary boxes: enough to exercise the flow)."""
    import torch

    torch.set_num_threads(1)
    from trainer.model import build_detector, save_checkpoint
    from trainer.presets import get_preset

    torch.manual_seed(0)
    cfg = get_preset("default")
    path = tmp_path_factory.mktemp("model") / "m.pt"
    save_checkpoint(path, build_detector(cfg), cfg, score_thresh=0.0)
    return path


@pytest.fixture(scope="session")
def synth_master(tmp_path_factory) -> Path:
    """Synthetic images + COCO file, generated once; tests copy it."""
    from trainer.synth import make_dataset

    root = tmp_path_factory.mktemp("synth")
    make_dataset(root, 8, seed=3)
    return root


@pytest.fixture
def dataset(tmp_path, synth_master) -> Path:
    """``dataset/train/<id>.png`` with its sibling ``dataset/train.json`` (the users' layout)."""
    ds = tmp_path / "dataset"
    shutil.copytree(synth_master / "images", ds / "train")
    shutil.copy(synth_master / "annotations.json", ds / "train.json")
    return ds / "train"


@pytest.fixture
def plain_folder(tmp_path, synth_master) -> Path:
    """Images without any ground truth."""
    folder = tmp_path / "photos"
    shutil.copytree(synth_master / "images", folder)
    return folder


@pytest.fixture
def make_window(qtbot, model_path):
    """Factory for main windows on the test model; all are closed (threads joined) at the end."""
    from digitgui.main_window import MainWindow

    made = []

    def make(model: str | None = None, show: bool = True):
        win = MainWindow(model=str(model or model_path), device="cpu")
        qtbot.addWidget(win)
        made.append(win)
        if show:
            win.show()
            qtbot.waitExposed(win)
        return win

    yield make
    for win in made:
        win.close()
        assert win.inference._thread is None


@pytest.fixture
def window(make_window):
    return make_window()
