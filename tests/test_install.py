"""The wheel, installed outside the repository, is a working tool with the bundled model.

Builds the wheel from a copy of the source (``pip wheel --no-deps``), installs it into a folder of
its own (``pip install --target``), and from another folder, with the repository nowhere on the
path, runs the installed ``digit-trainer predict`` with ``--model default`` on 20 photos and starts
the installed ``digit-studio`` offscreen until it has loaded the model.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SVHN = ROOT.parent / "shared" / "data" / "svhn"
N_PHOTOS = 20


def _copy_source(dest: Path) -> None:
    """The files a clone has (tracked and new, not ignored ones: no .venv, no build output)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n and (ROOT / n).is_file()]
    except (OSError, subprocess.CalledProcessError):
        names = None
    if names is None:  # not a git checkout
        ignore = shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "runs", "cache"
        )
        shutil.copytree(ROOT, dest, ignore=ignore, dirs_exist_ok=True)
        return
    for n in names:
        (dest / n).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / n, dest / n)


def _photos(dest: Path) -> dict[str, str]:
    """20 photos with their true numbers: SVHN valid photos if present, else synthetic ones."""
    dest.mkdir()
    if (SVHN / "valid.json").is_file():
        coco = json.loads((SVHN / "valid.json").read_text())
        images = sorted(coco["images"], key=lambda im: im["id"])[:N_PHOTOS]
        src = SVHN / "valid"
    else:
        from trainer.synth import make_dataset

        make_dataset(dest.parent / "synth", N_PHOTOS, seed=5)
        coco = json.loads((dest.parent / "synth" / "annotations.json").read_text())
        images = coco["images"]
        src = dest.parent / "synth" / "images"
    truth = {}
    for im in images:
        shutil.copy(src / im["file_name"], dest / im["file_name"])
        anns = sorted(
            (a for a in coco["annotations"] if a["image_id"] == im["id"]), key=lambda a: a["bbox"][0]
        )
        truth[str(im["id"])] = "".join(str(a["category_id"] - 1) for a in anns)
    return truth


def test_the_wheel_installed_elsewhere_predicts_with_its_model_and_starts_the_app(tmp_path):
    src, wheels, site, work = tmp_path / "src", tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    src.mkdir()
    work.mkdir()
    _copy_source(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    subprocess.run(
        [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        check=True,
        cwd=tmp_path,
        timeout=300,
    )
    (wheel,) = wheels.glob("digit_studio-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
        desktop_entry = z.read(
            next(n for n in names if n.endswith("share/applications/digit-studio.desktop"))
        )
    # the desktop entry starts the GUI script and names the icon the wheel installs
    keys = dict(line.split("=", 1) for line in desktop_entry.decode().splitlines() if "=" in line)
    assert keys["Exec"].split()[0] + " = digitgui.app:main" in entry_points.split("[gui_scripts]")[1]
    assert any(n.endswith(f"share/icons/hicolor/scalable/apps/{keys['Icon']}.svg") for n in names)
    assert any(n.endswith("licenses/LICENSE") for n in names)
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, timeout=300)
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        PYTHONSAFEPATH="1",  # neither the current folder nor a script's folder on sys.path
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )

    # the packages, the model and the version come from the installed copy, not the repository
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, trainer, digitgui, trainer.paths as p; print(json.dumps([trainer.__file__, "
            "digitgui.__file__, str(p.DEFAULT_MODEL), str(p.FONTS_DIR), digitgui.__version__, sys.path]))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    trainer_file, gui_file, model, fonts, version, path = json.loads(probe.stdout)
    for p in (trainer_file, gui_file, model, fonts):
        assert Path(p).is_relative_to(site), p
    assert Path(model).is_file() and len(list(Path(fonts).glob("*.ttf"))) >= 1
    # nothing of the repository is importable, apart from the interpreter's own environment
    # (a virtual environment may live inside the checkout, as `make` makes it)
    prefix = Path(sys.prefix).resolve()
    inside = [
        p
        for p in path
        if p
        and Path(p).is_absolute()
        and Path(p).resolve().is_relative_to(ROOT)
        and not Path(p).resolve().is_relative_to(prefix)
    ]
    assert not inside, path
    assert version == re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]

    # the console script: --help names the model's licence, predict reads the photos
    trainer_cmd = site / "bin" / "digit-trainer"
    help_text = subprocess.run(
        [str(trainer_cmd), "predict", "--help"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "SVHN" in help_text and "non-commercial" in help_text
    truth = _photos(work / "photos")
    out = subprocess.run(
        [str(trainer_cmd), "predict", "photos", "--out", "out", "--model", "default", "--device", "cpu"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with (work / "out" / "pred.csv").open() as f:
        read = {r["image_id"]: r["pred_label"] for r in csv.DictReader(f)}
    assert sorted(read) == sorted(truth)
    correct = sum(read[k] == v for k, v in truth.items())
    assert correct >= N_PHOTOS // 2, (correct, read, truth)  # the card says 0.74 on SVHN valid
    assert json.loads((work / "out" / "pred.json").read_text())

    # the GUI script starts offscreen and loads the bundled model from the installed copy
    app = subprocess.Popen(
        [str(site / "bin" / "digit-studio"), "photos", "--device", "cpu"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log_file = tmp_path / "data" / "DigitStudio" / "digit-studio" / "logs" / "digit-studio.log"
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and app.poll() is None:
            if log_file.is_file() and "loaded on" in log_file.read_text():
                break
            time.sleep(0.2)
        assert app.poll() is None, app.stderr.read().decode()[-3000:]
        assert f"model {model} loaded on CPU" in log_file.read_text()
        assert (work / "photos" / ".digitstudio.lock").is_file()  # the folder is open
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
