"""The Qt binding itself must survive a long editing session: every edit emits several signals."""

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(int)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12 on")
def test_emitting_signals_keeps_reference_counts(qapp):
    # PySide6 6.12.0 dropped a reference to True on every emit from Python, and the interpreter
    # aborted ("bool_dealloc") after a few hundred edits. Count the references it leaves behind.
    o = _Emitter()
    got = []
    o.changed.connect(got.append)
    o.changed.emit(-1)  # first emit: Qt's one-time setup may keep a reference
    before = sys.getrefcount(True)
    for i in range(500):
        o.changed.emit(i)
    assert got == [-1, *range(500)]
    assert abs(sys.getrefcount(True) - before) < 5  # the broken binding lost 500 here
