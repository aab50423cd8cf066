"""The main window has everything its typed interface for extensions promises."""

from digitgui.window_api import host_names


def test_the_window_offers_every_name_of_its_interface(window):
    missing = sorted(n for n in host_names() if not hasattr(window, n))
    assert missing == []
    assert callable(window.message) and window.actions_by_name
