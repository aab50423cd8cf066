"""The image view: shows the current image and its boxes; its keys and its mouse make the edits.

Box items are rebuilt from the document whenever it changes. The photo is shown through the
display adjustment (brightness, contrast, gamma, invert: :mod:`digitgui.display_adjust`),
applied once per picture; the wheel zooms. H hides the boxes.

Input is handled by two mixins: :class:`~digitgui.canvas_keys.CanvasKeys` (W draws, R reads
inside a rectangle, 0-9 relabel, Delete, Tab, arrows, Space reviews, Enter types the number) and
:class:`~digitgui.canvas_mouse.CanvasMouse` (drags that move, resize and draw boxes, panning,
the box menu on a right-click, the digit editor on a double-click).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from .box_item import BoxItem
from .canvas_keys import CanvasKeys
from .canvas_mouse import CanvasMouse
from .display_adjust import DisplayAdjust, apply_lut
from .document import Document
from .label_layout import place_labels
from .services.images import ImageLoader

log = logging.getLogger(__name__)

LEGACY_DISPLAY_ERROR = "Cannot read "  # how older versions marked images the canvas could not show


class Canvas(CanvasKeys, CanvasMouse, QGraphicsView):
    """QGraphicsView of the document's current image."""

    selection_changed = Signal(int)  # key of the selected box, 0 for none
    review_requested = Signal()  # Space pressed and released without panning
    number_requested = Signal()  # Enter: open the editor of the number
    display_adjusted = Signal(object)  # the DisplayAdjust now used for the photo
    region_requested = Signal(object)  # (x, y, w, h) in image pixels: read inside this rectangle
    box_menu_requested = Signal(int, QPoint)  # right-click: key of the box under it (0: none), global pos
    box_edit_requested = Signal(int)  # double-click on a box: edit its digit
    boxes_shown = Signal(bool)  # the boxes were hidden or shown again (H)

    def __init__(self, doc: Document, loader: ImageLoader, parent=None) -> None:
        super().__init__(parent)
        self.doc, self.loader = doc, loader
        self.setScene(QGraphicsScene(self))
        # Box items size their labels and handles by the zoom: no BSP index to go stale.
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(QColor(38, 40, 44))
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self._pixmap)
        self._note = QGraphicsSimpleTextItem()
        self._note.setBrush(QColor(230, 230, 230))
        self.scene().addItem(self._note)
        self.items_by_key: dict[int, BoxItem] = {}
        self.selected = 0
        self.shown_path: str | None = None
        self.image_size: tuple[int, int] | None = None  # original pixels of the picture on screen
        self.boxes_visible = True  # H hides the boxes and their labels, to see the photo
        self._auto_fit = True
        self._source = None  # the decoded QImage on screen, before the display adjustment
        self.display_adjust = DisplayAdjust()
        self._init_mouse()
        doc.reset.connect(self.show_current)
        doc.current_changed.connect(lambda _row: self.show_current())
        doc.image_changed.connect(self._on_image_changed)
        doc.threshold_changed.connect(lambda _t: self.rebuild())
        loader.loaded.connect(self._on_loaded)

    # ------------------------------------------------------------------ showing

    def show_current(self) -> None:
        """Show the document's current image (decoded in the background)."""
        e = self.doc.current_entry
        self._drag = None
        self.disarm()
        self.show_region(None)
        self.set_selected(0)
        self.pending_label = 0
        self.prompt.hide()
        if e is None:
            self.shown_path = None
            self.image_size = None
            self._pixmap.setPixmap(QPixmap())
            self._set_note("Open a folder of images (Ctrl+O)")
            self.rebuild()
            return
        if self.shown_path != str(e.path):
            self.shown_path = None
            hit = self.loader.cached(e.path)
            if hit is not None:
                self._on_loaded(str(e.path), *hit)
            else:
                self.image_size = None
                self._pixmap.setPixmap(QPixmap())
                self._set_note("Loading…")
                self.loader.request(e.path)
        self.rebuild()
        nxt = [
            self.doc.entry(r).path for r in (self.doc.current + 1, self.doc.current + 2) if r < len(self.doc)
        ]
        self.loader.prefetch(nxt)

    def _set_note(self, text: str) -> None:
        self._note.setText(text)
        self._note.setVisible(bool(text))
        if text:
            self.resetTransform()
            self._note.setPos(0, 0)
            self.setSceneRect(self._note.boundingRect().adjusted(-20, -20, 20, 20))

    def _on_loaded(self, path: str, decoded, err) -> None:
        e = self.doc.current_entry
        if e is None or str(e.path) != path:
            return
        self.shown_path = path
        row = self.doc.current
        if decoded is None:
            # only the display failed: whether the image is readable is the engine's verdict
            self.image_size = None
            self._pixmap.setPixmap(QPixmap())
            self._set_note(f"⚠ {err}\nGo on with the next image (D).")
            self.rebuild()
            return
        self._set_note("")
        self._source = decoded.image
        pm = self._display_pixmap()
        w, h = decoded.size
        self.image_size = (w, h)
        self._pixmap.setPixmap(pm)
        # scene units are original pixels, whatever size the picture was decoded at
        self._pixmap.setTransform(QTransform.fromScale(w / max(pm.width(), 1), h / max(pm.height(), 1)))
        self._pixmap.setTransformationMode(
            Qt.TransformationMode.SmoothTransformation
            if decoded.reduced
            else Qt.TransformationMode.FastTransformation
        )
        if e.size is None or e.size != (w, h):
            self.doc.set_size(row, (w, h))
        if e.error and e.error.startswith(LEGACY_DISPLAY_ERROR):
            self.doc.set_error(row, None)  # written by older versions when only the display failed
        self.setSceneRect(QRectF(0, 0, w, h).adjusted(-w, -h, w, h))
        if self._auto_fit:
            self.fit()
        self.rebuild()

    def _display_pixmap(self) -> QPixmap:
        img = self._source
        if not self.display_adjust.identity:
            img = apply_lut(img, self.display_adjust.lut())
        return QPixmap.fromImage(img)

    def set_display_adjust(self, adjust: DisplayAdjust) -> None:
        """Show the photo brighter, darker, more contrasted or inverted (the data never changes)."""
        if adjust == self.display_adjust:
            return
        self.display_adjust = adjust
        if self._source is not None and self.image_size is not None:
            self._pixmap.setPixmap(self._display_pixmap())

    def adjust_display(self, op: str) -> None:
        """One step of the display keys: brighter, darker, contrast_up/down, gamma_up/down,
        invert, reset."""
        a = self.display_adjust
        new = {
            "brighter": lambda: a.brighter(1),
            "darker": lambda: a.brighter(-1),
            "contrast_up": lambda: a.more_contrast(1),
            "contrast_down": lambda: a.more_contrast(-1),
            "gamma_up": lambda: a.more_gamma(1),
            "gamma_down": lambda: a.more_gamma(-1),
            "invert": a.inverted,
            "reset": DisplayAdjust,
        }[op]()
        if new != a:
            self.set_display_adjust(new)
            self.display_adjusted.emit(new)

    def _on_image_changed(self, row: int) -> None:
        if row == self.doc.current:
            self.rebuild()

    def rebuild(self) -> None:
        """Recreate the box items from the document (a few dozen at most)."""
        for item in self.items_by_key.values():
            self.scene().removeItem(item.label)
            self.scene().removeItem(item)
        self.items_by_key.clear()
        if self.shown_path is None or self.image_size is None:
            return
        if not self.boxes_visible:
            self.set_selected(0)
            return
        for s in self.doc.shown():
            item = BoxItem(s)
            self.scene().addItem(item)
            self.scene().addItem(item.label)
            self.items_by_key[s.key] = item
        if self.selected not in self.items_by_key:
            self.set_selected(0)
        else:
            self.items_by_key[self.selected].set_selected(True)
        self.layout_labels()

    def layout_labels(self) -> None:
        """Place the labels off each other, off other boxes and off the selected box's handles."""
        sel = self.items_by_key.get(self.selected)
        place_labels(list(self.items_by_key.values()), self.viewportTransform(), sel, self.zoom)

    def set_boxes_visible(self, on: bool) -> None:
        """Hide the boxes and labels to look at the photo (the data never changes), or show them."""
        if on != self.boxes_visible:
            self.boxes_visible = on
            self.rebuild()
            self.boxes_shown.emit(on)

    # ------------------------------------------------------------------ selection

    def set_selected(self, key: int) -> None:
        if self.selected in self.items_by_key:
            self.items_by_key[self.selected].set_selected(False)
        key = key if key in self.items_by_key else 0
        changed = key != self.selected
        self.selected = key
        if key:
            self.items_by_key[key].set_selected(True)
        if key != self.pending_label:
            self.prompt.hide()
        if changed:
            self.layout_labels()
            self.selection_changed.emit(key)

    def cycle(self, step: int) -> None:
        keys = sorted(self.items_by_key, key=lambda k: self.items_by_key[k].shown.x)
        if not keys:
            return
        i = keys.index(self.selected) + step if self.selected in keys else (0 if step > 0 else -1)
        self.set_selected(keys[i % len(keys)])

    # ------------------------------------------------------------------ zoom

    def fit(self) -> None:
        if self.image_size is None:
            return
        self._auto_fit = True
        w, h = self.image_size
        m = max(w, h) * 0.04
        self.fitInView(QRectF(0, 0, w, h).adjusted(-m, -m - 12, m, m), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoomed()

    def actual_size(self) -> None:
        self._auto_fit = False
        self.resetTransform()
        self.centerOn(self._pixmap.sceneBoundingRect().center())
        self._zoomed()

    def zoom_by(self, factor: float) -> None:
        new = self.zoom * factor
        if not 0.02 <= new <= 64:
            return
        self._auto_fit = False
        self.scale(factor, factor)
        self._zoomed()

    def _zoomed(self) -> None:
        for item in self.items_by_key.values():
            item.prepareGeometryChange()
        self.layout_labels()

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.15**steps)
