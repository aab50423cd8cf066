"""Mouse handling of the canvas (a mixin of :class:`~digitgui.canvas.Canvas`): the edits a drag
or a click makes.

A left-drag moves the box under it, or resizes the selected box by a handle; after W it draws a
new box (then its digit is typed: the red prompt), after R it marks a rectangle for the model to
read (``region_requested``). While a drag goes on only the dragged item's preview rectangle moves;
the edit reaches the document on release. Middle-drag (or Space-drag) pans, a right-click asks
for the box menu (``box_menu_requested``), a double-click on a box asks to edit its digit
(``box_edit_requested``).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QLabel

from .box_item import BoxItem, resized
from .state import UNKNOWN_DIGIT, Shown

MIN_DRAW = 2.0  # a drawn box must be at least this many image pixels on each side


class CanvasMouse:
    """Mouse events -> document edits. Expects ``doc``, ``items_by_key``, ``selected``,
    ``shown_path``, ``image_size`` and ``set_selected`` on self (the canvas)."""

    def _init_mouse(self) -> None:
        """The state of drawing, reading and dragging (called once by the canvas)."""
        self.draw_armed = False
        self.region_armed = False  # R: the next drag marks a rectangle for the model to read
        self._region = QGraphicsRectItem()  # the rectangle being dragged, then being read
        self._region.setPen(_region_pen())
        self._region.setZValue(10)
        self._region.hide()
        self.scene().addItem(self._region)
        self.pending_label = 0  # key of a box just drawn, waiting for its digit
        self._drag: tuple | None = None  # (mode, key|None, start scene pos, start rect, handle)
        self._pan_last: QPoint | None = None
        self._space_down = False
        self._space_panned = False
        self.prompt = QLabel("Digit? Type 0–9", self.viewport())
        self.prompt.setStyleSheet(
            "background:#e74c3c;color:white;padding:3px 6px;border-radius:3px;font-weight:bold"
        )
        self.prompt.hide()

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
