"""How one box is drawn on the canvas. Items hold a copy of a :class:`~digitgui.state.Shown`
(taken from the document on every change) and, while the mouse drags, a preview rectangle."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from .state import UNKNOWN_DIGIT, Shown

CHECKED_COLOR = QColor(46, 204, 113)
PREDICTED_COLOR = QColor(255, 176, 32)
UNKNOWN_COLOR = QColor(231, 76, 60)
HANDLE_PX = 7.0  # handle size on screen, whatever the zoom
LABEL_PX = 13.0
LABEL_GAP = HANDLE_PX / 2 + 3  # screen pixels between a label and its box: clear of the top handles

# Handle positions as fractions of the box: (fx, fy); the box edge(s) each one moves.
HANDLES = {
    "tl": (0.0, 0.0),
    "t": (0.5, 0.0),
    "tr": (1.0, 0.0),
    "r": (1.0, 0.5),
    "br": (1.0, 1.0),
    "b": (0.5, 1.0),
    "bl": (0.0, 1.0),
    "l": (0.0, 0.5),
}


def box_color(shown: Shown) -> QColor:
    if shown.digit == UNKNOWN_DIGIT:
        return UNKNOWN_COLOR
    return CHECKED_COLOR if shown.checked else PREDICTED_COLOR


def resized(rect: QRectF, handle: str, pos: QPointF) -> QRectF:
    """``rect`` with the edges of ``handle`` moved to ``pos`` (normalised)."""
    x1, y1, x2, y2 = rect.left(), rect.top(), rect.right(), rect.bottom()
    fx, fy = HANDLES[handle]
    if fx == 0.0:
        x1 = pos.x()
    elif fx == 1.0:
        x2 = pos.x()
    if fy == 0.0:
        y1 = pos.y()
    elif fy == 1.0:
        y2 = pos.y()
    return QRectF(QPointF(x1, y1), QPointF(x2, y2)).normalized()


class LabelItem(QGraphicsItem):
    """The digit (and score) by a box: constant size on screen, drawn above every box and handle.

    It sits just above its box unless the canvas places it elsewhere (:meth:`place`, see
    :mod:`digitgui.label_layout`): lifted by whole rows, or below the box, where it would
    otherwise cover another box, another label or the selected box's handles.
    """

    def __init__(self, box: BoxItem) -> None:
        super().__init__()
        self.box = box
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(30)
        font = QFont()
        font.setPixelSize(int(LABEL_PX))
        font.setBold(True)
        self.font = font
        fm = QFontMetricsF(font)
        self.text = box.label_text()
        self.size = (fm.horizontalAdvance(self.text) + 6, fm.height() + 2)
        self.rect = self.rect_at(0)  # screen pixels, relative to the box's top-left corner
        self.stem: tuple[QPointF, QPointF] | None = None  # a line to the box when not beside it
        self.setPos(box.rect().topLeft())

    def rect_at(self, row: int) -> QRectF:
        """Above the box, lifted by ``row`` label heights (screen pixels, from the box's corner)."""
        tw, th = self.size
        return QRectF(-1, -LABEL_GAP - th - row * (th + 1), tw, th)

    def place(self, rect: QRectF, stem: tuple[QPointF, QPointF] | None = None) -> None:
        if rect != self.rect or stem != self.stem:
            self.prepareGeometryChange()
            self.rect, self.stem = QRectF(rect), stem
            # nearer its box, higher: a lifted label's stem passes behind the labels it crosses
            self.setZValue(30 - 0.001 * abs(rect.center().y()))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        if self.stem is None:
            return self.rect
        a, b = self.stem
        return self.rect.united(QRectF(a, b).normalized().adjusted(-1, -1, 1, 1))

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        color = box_color(self.box.shown)
        bg = self.rect
        if self.stem is not None:  # a thin stem to its box, so a moved label still points at it
            pen = QPen(color, 1.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(*self.stem)
        painter.fillRect(bg, QBrush(color.lighter(115) if self.box.selected else color))
        painter.setFont(self.font)
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(bg, Qt.AlignmentFlag.AlignCenter, self.text)


class BoxItem(QGraphicsItem):
    """A digit box: dashed when predicted, solid when checked; its label is :attr:`label`."""

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown
        self.preview: QRectF | None = None
        self.selected = False
        self.setZValue(10 if shown.checked else 5)
        self.label = LabelItem(self)

    @property
    def key(self) -> int:
        return self.shown.key

    def rect(self) -> QRectF:
        if self.preview is not None:
            return self.preview
        s = self.shown
        return QRectF(s.x, s.y, s.w, s.h)

    def set_preview(self, rect: QRectF | None) -> None:
        self.prepareGeometryChange()
        self.preview = rect
        self.label.setPos(self.rect().topLeft())
        self.update()

    def set_selected(self, on: bool) -> None:
        self.selected = on
        self.setZValue(20 if on else (10 if self.shown.checked else 5))
        self.update()
        self.label.update()

    def _scale(self) -> float:
        views = self.scene().views() if self.scene() else []
        return views[0].transform().m11() if views else 1.0

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        k = 1.0 / max(self._scale(), 1e-6)
        pad = (HANDLE_PX + 2) * k
        return self.rect().adjusted(-pad, -pad, pad, pad)

    def handle_rects(self, scale: float) -> dict[str, QRectF]:
        r, k = self.rect(), HANDLE_PX / max(scale, 1e-6)
        return {
            name: QRectF(r.left() + fx * r.width() - k / 2, r.top() + fy * r.height() - k / 2, k, k)
            for name, (fx, fy) in HANDLES.items()
        }

    def label_text(self) -> str:
        s = self.shown
        digit = "?" if s.digit == UNKNOWN_DIGIT else str(s.digit)
        return digit if s.checked else f"{digit} {s.score:.2f}"

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        scale = max(painter.worldTransform().m11(), 1e-6)
        color = box_color(self.shown)
        pen = QPen(color.lighter(130) if self.selected else color, 3.0 if self.selected else 2.0)
        pen.setCosmetic(True)
        if not self.shown.checked:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        r = self.rect()
        painter.drawRect(r)
        if self.selected:
            hp = QPen(QColor(20, 20, 20), 1.0)
            hp.setCosmetic(True)
            painter.setPen(hp)
            painter.setBrush(QColor(255, 255, 255))
            for hr in self.handle_rects(scale).values():
                painter.drawRect(hr)
