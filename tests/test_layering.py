"""The layering, checked on the source: who may import what (see DESIGN.md, Conventions)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, absolute (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _offenders(files, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for f in files:
        for mod in sorted(_imports(f)):
            if any(mod == b or mod.startswith(b + ".") for b in banned):
                bad.append(f"{f.relative_to(ROOT)} imports {mod}")
    return bad


def test_the_engine_never_imports_qt_or_the_app():
    files = sorted((ROOT / "trainer").rglob("*.py"))
    assert len(files) > 10
    assert _offenders(files, ("PySide6", "PyQt5", "PyQt6", "shiboken6", "digitgui")) == []


def test_the_documents_plain_data_never_imports_qt():
    files = [ROOT / "digitgui" / name for name in ("state.py", "edits.py")]
    assert _offenders(files, ("PySide6", "shiboken6")) == []


def test_widgets_never_load_or_run_a_model():
    files = sorted((ROOT / "digitgui" / "widgets").rglob("*.py"))
    assert files
    banned = ("torch", "torchvision", "trainer.model", "trainer.predict", "trainer.engine")
    assert _offenders(files, banned) == []


def test_views_never_import_the_engine():
    """Widgets render from the document and the controllers; numbers, cards and models are read
    by those, never by a view."""
    files = sorted((ROOT / "digitgui" / "widgets").rglob("*.py"))
    # known exception: the training dock is being reworked elsewhere; it still reads the recipe's
    # defaults and the model cards' scores from the engine itself (to move to the model controller)
    files = [f for f in files if f.name != "training_dock.py"]
    assert _offenders(files, ("trainer",)) == []


def test_the_check_sees_a_banned_import(monkeypatch):
    """The checker itself: a relative import of Qt inside trainer/ is caught."""
    fake = ROOT / "trainer" / "_layering_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, **k: "from PySide6 import QtCore\n")
    found = _offenders([fake], ("PySide6",))
    assert "trainer/_layering_probe.py imports PySide6.QtCore" in found


def _calls(path: Path, methods: set[str], on: str | None = None) -> list[str]:
    """Calls ``<x>.<method>(...)`` in a file (only ``<x>.<on>.<method>`` when ``on`` is given)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if node.func.attr in methods and (
            on is None
            or (isinstance(owner, ast.Attribute) and owner.attr == on)
            or (isinstance(owner, ast.Name) and owner.id == on)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}")
    return found


APP = sorted((ROOT / "digitgui").rglob("*.py"))


def test_only_the_prediction_controller_asks_the_model():
    """What the model is asked next has one owner (digitgui/prediction_control.py)."""
    asks = {"request", "predict_all", "read_region"}
    found = [c for f in APP if f.name != "prediction_control.py" for c in _calls(f, asks, on="inference")]
    # known exception: the model controller asks for the image on screen right after a switch (the
    # prediction controller asks again once the new model is ready) and keeps its own re-predict,
    # which the menu no longer uses; both go when model_control.py is next reworked
    found = [c for c in found if not c.startswith("digitgui/model_control.py")]
    assert found == []


def test_only_the_prediction_controller_turns_results_into_document_data():
    writes = {"set_predictions", "add_region_read"}
    found = [
        c for f in APP if f.name not in ("prediction_control.py", "document.py") for c in _calls(f, writes)
    ]
    assert found == []


def test_window_extensions_use_no_private_of_the_window():
    """``win._something`` (or ``self.win._something``) outside the window is a private poked."""
    found = []
    for f in APP:
        if f.name == "main_window.py":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and (
                    (isinstance(node.value, ast.Name) and node.value.id == "win")
                    or (isinstance(node.value, ast.Attribute) and node.value.attr == "win")
                )
            ):
                found.append(f"{f.relative_to(ROOT)}:{node.lineno} win.{node.attr}")
    assert found == []


def test_the_document_as_a_data_set_never_imports_qt():
    assert _offenders([ROOT / "digitgui" / "dataset.py"], ("PySide6", "shiboken6")) == []


EXTENSIONS = (
    "label_formats",
    "region_read",
    "export_flow",
    "goto",
    "habits",
    "box_menu",
    "shortcuts",
    "theme",
    "help",
)


def test_window_extensions_use_only_the_windows_typed_interface():
    """Every ``win.x`` / ``self.win.x`` in a window extension is a name of ``WindowHost``."""
    from digitgui.window_api import host_names

    offered = host_names()
    found = []
    for name in EXTENSIONS:
        f = ROOT / "digitgui" / f"{name}.py"
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and (
                (isinstance(node.value, ast.Name) and node.value.id == "win")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "win")
            ):
                if node.attr not in offered:
                    found.append(f"{f.relative_to(ROOT)}:{node.lineno} win.{node.attr}")
    assert found == []
    assert {"doc", "canvas", "predictions", "message", "statusBar"} <= offered  # the check sees names


def test_no_script_is_named_like_a_standard_module():
    # a script's folder comes first on sys.path: a bench/typing.py would shadow `typing` for every
    # script beside it (and for everything those import), and they die on start
    import sys

    folders = [ROOT, ROOT / "bench", ROOT / "scripts"]
    shadows = [
        str(p.relative_to(ROOT)) for d in folders for p in d.glob("*.py") if p.stem in sys.stdlib_module_names
    ]
    assert not shadows, f"named like a standard module: {shadows}"
    # the check itself sees such a name
    assert "typing" in sys.stdlib_module_names
