"""The image view: shows the current image and its boxes, and turns mouse/keys into edits.

Box items are rebuilt from the document whenever it changes; while the mouse drags, only the
dragged item's preview rectangle moves, and the edit is committed to the document on release.

Keys (when the canvas has focus): W then drag draws a box (then type its digit), R then drag
asks the model to read inside a rectangle (``region_requested``), 0-9 relabel
the selected box, Delete removes it, Tab/Shift+Tab cycle boxes, arrows nudge (Shift: 10 px),
Space marks the image reviewed (Space-drag pans), Esc cancels, Enter asks to type the number.
Wheel zooms, middle-drag pans. A right-click asks for the box menu (``box_menu_requested``), a
double-click on a box asks to edit its digit (:mod:`digitgui.box_menu`); H hides the boxes. The photo is shown through the display adjustment (brightness,
contrast, gamma, invert: :mod:`digitgui.display_adjust`), applied once per picture.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QMouseEvent, QPainter, QPen, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
)

from .box_item import BoxItem, resized
from .canvas_keys import CanvasKeys
from .display_adjust import DisplayAdjust, apply_lut
from .document import Document
from .label_layout import place_labels
from .services.images import ImageLoader
from .state import UNKNOWN_DIGIT, Shown

log = logging.getLogger(__name__)

MIN_DRAW = 2.0  # a drawn box must be at least this many image pixels on each side
LEGACY_DISPLAY_ERROR = "Cannot read "  # how older versions marked images the canvas could not show


class Canvas(CanvasKeys, QGraphicsView):
    """QGraphicsView of the document's current image."""

    image_shown = Signal(str)  # file name now on screen (after it was decoded)
    selection_changed = Signal(int)  # key of the selected box, 0 for none
    review_requested = Signal()  # Space pressed and released without panning
    zoom_changed = Signal(float)
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
        self.draw_armed = False
        self.region_armed = False  # R: the next drag marks a rectangle for the model to read
        self._region = QGraphicsRectItem()  # the rectangle being dragged, then being read
        self._region.setPen(_region_pen())
        self._region.setZValue(10)
        self._region.hide()
        self.scene().addItem(self._region)
        self.pending_label = 0  # key of a box just drawn, waiting for its digit
        self.boxes_visible = True  # H hides the boxes and their labels, to see the photo
        self._drag: tuple | None = None  # (mode, key|None, start scene pos, start rect, handle)
        self._pan_last: QPoint | None = None
        self._space_down = False
        self._space_panned = False
        self._auto_fit = True
        self._source = None  # the decoded QImage on screen, before the display adjustment
        self.display_adjust = DisplayAdjust()
        self.prompt = QLabel("Digit? Type 0–9", self.viewport())
        self.prompt.setStyleSheet(
            "background:#e74c3c;color:white;padding:3px 6px;border-radius:3px;font-weight:bold"
        )
        self.prompt.hide()
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
            self.image_shown.emit(e.name)
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
        self.image_shown.emit(e.name)

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
        self.zoom_changed.emit(self.zoom)

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

    # ------------------------------------------------------------------ coordinates (also for tests)

    def view_pos(self, x: float, y: float) -> QPoint:
        """Viewport position of image pixel (x, y)."""
        return self.mapFromScene(QPointF(x, y))

    def _image_point(self, pos: QPointF) -> QPointF:
        p = self.mapToScene(pos.toPoint())
        if self.image_size is None:
            return QPointF(p)
        w, h = self.image_size
        return QPointF(min(max(p.x(), 0.0), w), min(max(p.y(), 0.0), h))

    def _hit(self, pos: QPointF) -> tuple[int, str | None]:
        """(key, handle) under a viewport position: handles of the selected box first."""
        scene = self.mapToScene(pos.toPoint())
        scene = QPointF(scene)
        sel = self.items_by_key.get(self.selected)
        if sel is not None:
            for name, hr in sel.handle_rects(self.zoom).items():
                if hr.adjusted(-2 / self.zoom, -2 / self.zoom, 2 / self.zoom, 2 / self.zoom).contains(scene):
                    return sel.key, name
            if sel.rect().contains(scene):
                return sel.key, None
        under = [it for it in self.items_by_key.values() if it.rect().contains(scene)]
        if not under:
            return 0, None
        best = min(under, key=lambda it: (not it.shown.checked, it.rect().width() * it.rect().height()))
        return best.key, None

    # ------------------------------------------------------------------ mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        btn = event.button()
        if btn == Qt.MouseButton.MiddleButton or (btn == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_last = pos.toPoint()
            self._space_panned = self._space_down
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if btn != Qt.MouseButton.LeftButton or self.shown_path is None or self.image_size is None:
            return super().mousePressEvent(event)
        self.setFocus()
        start = self._image_point(pos)
        if self.region_armed:
            self.show_region((start.x(), start.y(), 0.0, 0.0))
            self._drag = ("region", None, start, None, None)
            return
        if self.draw_armed:
            item = BoxItem(_draft(start))
            self.scene().addItem(item)
            self.scene().addItem(item.label)
            self._drag = ("draw", item, start, None, None)
            return
        key, handle = self._hit(pos)
        self.set_selected(key)
        if key:
            item = self.items_by_key[key]
            self._drag = ("resize" if handle else "move", key, start, QRectF(item.rect()), handle)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton and not (self.draw_armed or self.region_armed):
            key, _handle = self._hit(event.position())
            if key:
                self._drag = None
                self.set_selected(key)
                self.box_edit_requested.emit(key)
                return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        if self.shown_path is None or self.image_size is None or self._drag is not None:
            return
        key, _handle = self._hit(QPointF(event.pos()))
        self.set_selected(key)
        self.box_menu_requested.emit(key, event.globalPos())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._pan_last is not None:
            d = pos.toPoint() - self._pan_last
            self._pan_last = pos.toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            return
        if self._drag is None:
            return super().mouseMoveEvent(event)
        mode, key, start, rect0, handle = self._drag
        p = self._image_point(pos)
        if mode == "draw":
            key.set_preview(QRectF(start, p).normalized())
            return
        if mode == "region":
            r = QRectF(start, p).normalized()
            self.show_region((r.x(), r.y(), r.width(), r.height()))
            return
        item = self.items_by_key.get(key)
        if item is None:
            return
        if mode == "move":
            r = rect0.translated(p - start)
            item.set_preview(
                QRectF(*self.doc.shift_inside(self.doc.current, (r.x(), r.y(), r.width(), r.height())))
            )
        else:
            item.set_preview(resized(rect0, handle, p))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_last is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_last = None
            self.viewport().unsetCursor()
            return
        if self._drag is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mouseReleaseEvent(event)
        self.mouseMoveEvent(event)
        mode, key, _start, rect0, _handle = self._drag
        self._drag = None
        if mode == "region":
            r = self._region.rect()
            self.disarm()
            if r.width() >= MIN_DRAW and r.height() >= MIN_DRAW:
                self.region_requested.emit((r.x(), r.y(), r.width(), r.height()))
            else:
                self.show_region(None)
            return
        if mode == "draw":
            r = key.rect()
            self.scene().removeItem(key.label)
            self.scene().removeItem(key)
            self.draw_armed = False
            self.viewport().unsetCursor()
            if r.width() >= MIN_DRAW and r.height() >= MIN_DRAW:
                new = self.doc.add_box((r.x(), r.y(), r.width(), r.height()))
                self.pending_label = new
                self.set_selected(new)
                self._show_prompt(new)
            return
        item = self.items_by_key.get(key)
        if item is None or item.preview is None:
            return
        r = item.preview
        if r == rect0 or r.width() < 1 or r.height() < 1:
            item.set_preview(None)
            return
        new = self.doc.change_box(key, rect=(r.x(), r.y(), r.width(), r.height()), move=mode == "move")
        self.set_selected(new)

    def _show_prompt(self, key: int) -> None:
        item = self.items_by_key.get(key)
        if item is None:
            return
        p = self.mapFromScene(item.rect().bottomLeft())
        self.prompt.adjustSize()
        self.prompt.move(max(0, p.x()), min(p.y() + 6, self.viewport().height() - self.prompt.height()))
        self.prompt.show()

    def arm_draw(self) -> None:
        """Next left-drag draws a new box (the W key)."""
        if self.shown_path is not None and self.image_size is not None:
            self.set_boxes_visible(True)  # a box drawn among hidden ones would vanish at once
            self.region_armed = False
            self.draw_armed = True
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    def arm_region(self) -> None:
        """Next left-drag marks a rectangle for the model to read (the R key)."""
        if self.shown_path is not None and self.image_size is not None:
            self.draw_armed = False
            self.region_armed = True
            self.viewport().setCursor(_region_cursor())

    def disarm(self) -> None:
        """Leave the draw and read modes (Esc, or a drag that ended)."""
        self.draw_armed = self.region_armed = False
        self.viewport().unsetCursor()

    def show_region(self, rect: tuple[float, float, float, float] | None) -> None:
        """Show the dashed rectangle being marked or read (image pixels); None hides it."""
        if rect is None:
            self._region.hide()
            return
        self._region.setRect(QRectF(*rect))
        self._region.show()

    @property
    def region_shown(self) -> tuple[float, float, float, float] | None:
        """The dashed rectangle on screen (image pixels), or None."""
        if not self._region.isVisible():
            return None
        r = self._region.rect()
        return (r.x(), r.y(), r.width(), r.height())


def _region_pen() -> QPen:
    pen = QPen(QColor(255, 200, 40), 2, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)  # 2 screen pixels at any zoom
    return pen


def _region_cursor() -> QCursor:
    """A cross with a small dashed rectangle: marking a region to read, not drawing a box."""
    pm = QPixmap(32, 32)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    for color, width in ((QColor(0, 0, 0), 3), (QColor(255, 200, 40), 1)):
        p.setPen(QPen(color, width))
        p.drawLine(8, 0, 8, 16)
        p.drawLine(0, 8, 16, 8)
        p.setPen(QPen(color, width, Qt.PenStyle.DashLine))
        p.drawRect(13, 13, 16, 12)
    p.end()
    return QCursor(pm, 8, 8)


def _draft(start: QPointF) -> Shown:
    return Shown(0, start.x(), start.y(), 0.0, 0.0, UNKNOWN_DIGIT, 1.0, True)
