"""A --model file that is not a checkpoint: the app says so in its own words, not PyTorch's."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("content", [bytes(range(3, 256)) * 40, b"just some text\n"])
def test_the_app_names_a_file_that_is_not_a_model(qtbot, make_window, tmp_path, content):
    bad = tmp_path / "model.pt"
    bad.write_bytes(content)
    win = make_window(model=str(bad))
    qtbot.waitUntil(lambda: any("model" in t for _lvl, t in win.messages), timeout=60000)
    level, text = next((lvl, t) for lvl, t in win.messages if "model" in t)
    assert level == "warning" and text.startswith(f"not a Digit Studio model: {bad} (")
    assert "weights_only" not in text and "issue" not in text and "\n" not in text
