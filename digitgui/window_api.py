"""What the main window offers the modules that extend it: one typed interface.

Menus, dialogs and readers that hook into the window (export formats, reading inside a box, Go
to, the box menu, shortcuts, themes, Help, the export flow) receive it as a :class:`WindowHost`
and use only what this names; ``tests/test_layering.py`` checks that they do, and
``tests/gui/test_window_api.py`` that the window has all of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu, QMenuBar, QStackedWidget, QStatusBar, QToolBar

    from .canvas import Canvas
    from .document import Document
    from .model_control import ModelController
    from .prediction_control import PredictionController
    from .widgets.image_list import ImageList


class WindowHost(Protocol):
    """The main window as its extensions see it."""

    doc: Document
    canvas: Canvas
    predictions: PredictionController
    models: ModelController
    image_list: ImageList
    stack: QStackedWidget
    toolbar: QToolBar
    image_menu: QMenu
    edit_menu: QMenu
    view_menu: QMenu
    actions_by_name: dict[str, QAction]
    export_finished: Any  # Signal(object): an export ended (its summary, or a message)
    # the extensions installed on it, which other extensions use
    box_menu: Any
    goto_dialog: Any
    shortcuts: Any
    theme: Any
    region_reader: Any
    help: Any

    def message(self, level: str, text: str, popup: bool = False) -> None:
        """Tell the person something ("info", "warning", "error"): the status bar, and a box for
        warnings, errors and ``popup``."""

    def current_model_key(self) -> str:
        """The registry key of the model in use."""

    # QMainWindow's own
    def statusBar(self) -> QStatusBar: ...  # noqa: N802, D102

    def menuBar(self) -> QMenuBar: ...  # noqa: N802, D102

    def addAction(self, action: QAction) -> None: ...  # noqa: N802, D102

    def actions(self) -> list[QAction]: ...  # noqa: D102


def host_names() -> set[str]:
    """Every name the interface offers."""
    names = set(WindowHost.__annotations__)
    names |= {n for n in vars(WindowHost) if not n.startswith("_") and callable(getattr(WindowHost, n))}
    return names
