"""Shipped files (model, card, fonts), the one version and the licence notes, through the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import ImageFont

from trainer import paths, synth
from trainer.model import resolve_model_path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_default_model_and_card_are_package_data():
    assert resolve_model_path("default") == paths.DEFAULT_MODEL
    assert paths.DEFAULT_MODEL.is_relative_to(Path(synth.__file__).parent)  # inside the package
    assert paths.DEFAULT_MODEL.stat().st_size > 1_000_000
    assert paths.bundled_card() == json.loads(paths.DEFAULT_CARD.read_text())
    assert "SVHN" in paths.bundled_card()["licence"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert set(paths.BUNDLED_MODELS) == {"default", "printed"}
    for name, path in paths.BUNDLED_MODELS.items():
        assert resolve_model_path(name) == path and path.stat().st_size > 1_000_000
        assert paths.bundled_name(path) == name and paths.bundled_card(name)["licence"]
        for f in (path, path.with_suffix(".json")):
            assert f"resources/models/{f.name}" in pyproject  # package data, so a wheel carries them
    assert "resources/fonts/*" in pyproject
    assert paths.bundled_name(ROOT / "pyproject.toml") is None


def test_predict_and_eval_help_name_the_model_licence():
    for cmd in ("predict", "eval"):
        out = _cli(cmd, "--help")
        assert out.returncode == 0
        text = " ".join(out.stdout.split())
        assert "non-commercial" in text and "SVHN" in text and "MIT" in text, text


def test_one_version_everywhere():
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
    assert _cli("--version").stdout.split() == ["digit-trainer", version]
    gui = subprocess.run(
        [sys.executable, "-m", "digitgui", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert gui.stdout.split() == ["digit-studio", version]
    import digitgui
    import trainer

    assert trainer.__version__ == digitgui.__version__ == version
    for f in ("trainer/__init__.py", "digitgui/__init__.py"):
        assert version not in (ROOT / f).read_text()  # written in pyproject.toml only


def test_synthetic_photos_use_only_the_shipped_fonts(tmp_path, monkeypatch):
    shipped = sorted(paths.FONTS_DIR.glob("*.ttf"))
    assert [p.name for p in shipped] and (paths.FONTS_DIR / "LICENSE-DejaVu.txt").is_file()
    assert synth.font_files() == tuple(str(p) for p in shipped)
    opened: list[str] = []
    real = ImageFont.truetype

    def recording(font=None, *a, **k):
        if isinstance(font, (str, Path)):  # not Pillow's own default font, read from memory
            opened.append(str(font))
        return real(font, *a, **k)

    monkeypatch.setattr(ImageFont, "truetype", recording)
    synth.make_dataset(tmp_path / "a", 12, seed=4)
    assert opened and {Path(p).parent for p in opened} == {paths.FONTS_DIR}
    # so the same seed draws the same photos wherever it runs
    synth.make_dataset(tmp_path / "b", 12, seed=4)
    for img in sorted((tmp_path / "a" / "images").iterdir()):
        assert img.read_bytes() == (tmp_path / "b" / "images" / img.name).read_bytes()
