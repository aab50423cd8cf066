"""The image list: a model/view list that scales to tens of thousands of rows.

Rows are computed on demand (only visible rows are asked for their text); the number read and
the confidence are cached per row and dropped when the row or the threshold changes.

Sorted by confidence, the list is kept sorted incrementally: a batch of predictions moves just
its rows, each to its place by binary search (the proxy's dynamic sort), so a batch costs the UI
thread a few dozen comparisons, not a sort of every row. The filter is not dynamic: an image
stays in the list while it is worked on, until the filter or the search changes.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListView, QVBoxLayout, QWidget

from .. import settings
from ..document import Document
from ..state import Status, confidence, status_of

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
CONFIDENCE_ROLE = Qt.ItemDataRole.UserRole + 2
ERROR_ROLE = Qt.ItemDataRole.UserRole + 3
ROW_ROLE = Qt.ItemDataRole.UserRole + 4

STATUS_COLORS = {
    Status.NOT_SEEN: QColor(120, 120, 120),
    Status.PREDICTED: QColor(255, 176, 32),
    Status.LABELLED: QColor(52, 152, 219),
    Status.EDITED: QColor(155, 89, 182),
    Status.REVIEWED: QColor(46, 204, 113),
}
ERROR_COLOR = QColor(231, 76, 60)

FILTERS = [
    ("All images", None),
    ("Not reviewed", "unreviewed"),
    ("Not seen", Status.NOT_SEEN),
    ("Predicted", Status.PREDICTED),
    ("Labelled (ground truth)", Status.LABELLED),
    ("Edited", Status.EDITED),
    ("Reviewed", Status.REVIEWED),
    ("Unreadable", "error"),
]
SORTS = ["File order", "Lowest confidence first"]

NOTHING_READ = -1.0  # sorts before every score: the model found no number at all


def sort_confidence(entry, text: str, threshold: float) -> float:
    """Sort key of "lowest confidence first": a predicted image where nothing was read comes first
    (the least confident answer of all), then the lowest shown score; 1.5/2.0 where nothing is
    left to check."""
    if not text and status_of(entry) == Status.PREDICTED and not entry.error:
        return NOTHING_READ
    return confidence(entry, threshold)


def _dot(color: QColor) -> QIcon:
    pm = QPixmap(12, 12)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(color)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, 10, 10)
    p.end()
    return QIcon(pm)


class ImageListModel(QAbstractListModel):
    """One row per document image: name, number read, status icon."""

    all_changing = Signal()  # every row is about to change (the threshold moved)

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._cache: dict[int, tuple[str, float]] = {}
        self._icons: dict = {}
        doc.reset.connect(self._reset)
        doc.image_changed.connect(self._row_changed)
        doc.rows_changed.connect(self._rows_changed)
        doc.threshold_changed.connect(self._all_changed)

    def _icon(self, key) -> QIcon:
        if key not in self._icons:
            self._icons[key] = _dot(ERROR_COLOR if key == "error" else STATUS_COLORS[key])
        return self._icons[key]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.doc)

    def sort_key(self, row: int) -> float:
        """The "lowest confidence first" key of ``row`` (cached)."""
        return self._computed(row)[1]

    def _computed(self, row: int) -> tuple[str, float]:
        hit = self._cache.get(row)
        if hit is None:
            e = self.doc.entry(row)
            known = e.pred is not None or e.layer.boxes or e.layer.reads
            text = self.doc.reading(row).text if known else ""
            hit = (text, sort_confidence(e, text, self.doc.threshold))
            self._cache[row] = hit
        return hit

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = index.row()
        e = self.doc.entry(row)
        if role == Qt.ItemDataRole.DisplayRole:
            if e.error:
                return f"{e.name}    ⚠ unreadable"
            text = self._computed(row)[0]
            return f"{e.name}    {text}" if text else e.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon("error" if e.error else status_of(e))
        if role == Qt.ItemDataRole.ToolTipRole:
            status = "unreadable: " + e.error if e.error else status_of(e).label
            return f"{e.name} (id {e.image_id})\n{status}"
        if role == STATUS_ROLE:
            return int(status_of(e))
        if role == CONFIDENCE_ROLE:
            return self._computed(row)[1]
        if role == ERROR_ROLE:
            return bool(e.error)
        if role == ROW_ROLE:
            return row
        return None

    def _reset(self) -> None:
        self.beginResetModel()
        self._cache.clear()
        self.endResetModel()

    def _row_changed(self, row: int) -> None:
        self._rows_changed(row, row)

    def _rows_changed(self, first: int, last: int) -> None:
        for r in range(first, last + 1):
            self._cache.pop(r, None)
        self.dataChanged.emit(self.index(first), self.index(last))

    def _all_changed(self) -> None:
        self.all_changing.emit()
        self._cache.clear()
        if len(self.doc):
            self.dataChanged.emit(self.index(0), self.index(len(self.doc) - 1))


class ImageFilterProxy(QSortFilterProxyModel):
    """Filters by status and sorts by file order or lowest confidence first.

    Sorting is dynamic (changed rows move to their place); filtering is not: what a row was
    decided at the last filter change holds until the next (:attr:`_accepted`)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.status_filter = None
        self.name_filter = ""  # lower case; rows whose file name contains it
        self.by_confidence = False
        self._accepted: dict[int, bool] = {}  # row -> shown, decided at the last filter change
        self.setDynamicSortFilter(True)

    def setSourceModel(self, model) -> None:  # noqa: N802 - Qt's name
        super().setSourceModel(model)
        model.modelAboutToBeReset.connect(self._accepted.clear)

    def set_status_filter(self, value) -> None:
        self._change_filter(status_filter=value)

    def set_name_filter(self, text: str) -> None:
        self._change_filter(name_filter=text.strip().lower())

    def _change_filter(self, **values) -> None:
        self._accepted.clear()
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            self.__dict__.update(values)
            self.endFilterChange()
        else:
            self.__dict__.update(values)
            self.invalidateFilter()

    def set_sort_by_confidence(self, on: bool) -> None:
        self.by_confidence = on
        self.sort(0 if on else -1)
        if not on:
            self.invalidate()  # back to file order

    def filterAcceptsRow(self, row: int, parent) -> bool:  # noqa: N802
        hit = self._accepted.get(row)
        if hit is None:
            hit = self._accepted[row] = self._accepts(row, parent)
        return hit

    def _accepts(self, row: int, parent) -> bool:
        src = self.sourceModel()
        if self.name_filter and self.name_filter not in src.doc.entry(row).name.lower():
            return False
        f = self.status_filter
        if f is None:
            return True
        idx = src.index(row, 0, parent)
        if f == "error":
            return bool(src.data(idx, ERROR_ROLE))
        status = src.data(idx, STATUS_ROLE)
        if f == "unreviewed":
            return status != Status.REVIEWED
        return status == int(f)

    def lessThan(self, left, right) -> bool:  # noqa: N802
        a, b = left.row(), right.row()
        if self.by_confidence:
            key = self.sourceModel().sort_key
            ka, kb = key(a), key(b)
            if ka != kb:
                return ka < kb
        return a < b


class ImageList(QWidget):
    """The list with its filter and sort choices. Emits ``row_activated`` with document rows."""

    row_activated = Signal(int)

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.model = ImageListModel(doc, self)
        self.proxy = ImageFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QListView(self)
        self.view.setModel(self.proxy)
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        # one pass: with uniform sizes 13,000 rows lay out in milliseconds, and every row has its
        # place at once, so the current image can be scrolled to (a batched layout has not got there)
        self.view.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.filter = QComboBox(self)
        for text, _v in FILTERS:
            self.filter.addItem(text)
        self.sort = QComboBox(self)
        self.sort.addItems(SORTS)
        self.search = self._build_search()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter, 1)
        top.addWidget(self.sort, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.search)
        lay.addWidget(self.view)
        self.filter.currentIndexChanged.connect(lambda i: self.set_filter(FILTERS[i][1]))
        self.sort.setCurrentIndex(max(0, min(settings.image_sort(), len(SORTS) - 1)))
        self.proxy.set_sort_by_confidence(self.sort.currentIndex() == 1)
        self.sort.currentIndexChanged.connect(self._on_sort)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        # the list may not be shown or sized yet when the current image is set: try again shortly
        self._scroll_timer = QTimer(self)
        self._scroll_timer.setSingleShot(True)
        self._scroll_timer.setInterval(25)
        self._scroll_timer.timeout.connect(self._scroll_to_current)
        self._scroll_tries = 0
        # predictions arriving move their rows (dynamic sort): the current row is held in place
        self._held: tuple[QPersistentModelIndex, int] | None = None
        self.proxy.layoutAboutToBeChanged.connect(self._hold_current)
        self.proxy.layoutChanged.connect(self._restore_current)
        # every row changed (the threshold moved, maybe many times in a drag): one full sort, later
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(150)
        self._resort_timer.timeout.connect(lambda: self.proxy.setDynamicSortFilter(True))  # sorts
        self.model.all_changing.connect(self._sort_later)
        doc.current_changed.connect(self._follow_current)
        doc.reset.connect(lambda: self._follow_current(doc.current))

    def _build_search(self) -> QLineEdit:
        search = QLineEdit(self)
        search.setObjectName("image-search")
        search.setPlaceholderText("Search file names (Ctrl+F)")
        search.setClearButtonEnabled(True)
        # typing filters after a short pause, so 13,000 names are scanned once per word, not per key
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(120)
        self._search_timer.timeout.connect(self._apply_search)
        search.textChanged.connect(lambda _t: self._search_timer.start())
        search.returnPressed.connect(self._apply_search)
        return search

    def set_filter(self, value) -> None:
        self.proxy.set_status_filter(value)
        self._follow_current(self.doc.current)

    def _on_sort(self, index: int) -> None:
        settings.set_image_sort(index)
        self.proxy.set_sort_by_confidence(index == 1)
        self._follow_current(self.doc.current)

    def _apply_search(self) -> None:
        self._search_timer.stop()
        if self.proxy.name_filter == self.search.text().strip().lower():
            return
        self.proxy.set_name_filter(self.search.text())
        self._follow_current(self.doc.current)

    def is_shown(self, row: int) -> bool:
        """Whether document row ``row`` passes the list's filter and search."""
        return self.proxy.mapFromSource(self.model.index(row)).isValid()

    def clear_filters(self) -> None:
        """Show every image again (no status filter, no search)."""
        self.search.clear()
        self._apply_search()
        self.filter.setCurrentIndex(0)

    def _sort_later(self) -> None:
        if self.proxy.by_confidence:
            self.proxy.setDynamicSortFilter(False)
            self._resort_timer.start()

    def _hold_current(self, *_args) -> None:
        """Rows are about to move: remember where the current row is on screen (if it is)."""
        view = self.view
        idx = view.currentIndex()
        rect = view.visualRect(idx) if idx.isValid() else None
        seen = rect is not None and view.viewport().rect().intersects(rect)
        self._held = (QPersistentModelIndex(idx), rect.top()) if seen else None

    def _restore_current(self, *_args) -> None:
        """Rows moved: keep the current row where it was on screen (or bring it into view)."""
        held, self._held = self._held, None
        if not self.proxy.by_confidence:
            return
        view, idx = self.view, self.view.currentIndex()
        if not idx.isValid():
            return
        if held is not None and held[0] == idx:
            view.doItemsLayout()
            bar = view.verticalScrollBar()
            bar.setValue(bar.value() + view.visualRect(idx).top() - held[1])
        view.scrollTo(idx, QListView.ScrollHint.EnsureVisible)

    def _on_current(self, index: QModelIndex, _prev) -> None:
        if index.isValid():
            row = self.proxy.mapToSource(index).row()
            if row != self.doc.current:
                self.row_activated.emit(row)

    def _follow_current(self, row: int) -> None:
        if row < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(row))
        if idx.isValid() and self.view.currentIndex() != idx:
            self.view.setCurrentIndex(idx)
        if idx.isValid():
            self._scroll_tries = 0
            self._scroll_to_current()

    def _scroll_to_current(self) -> None:
        """Bring the current row into view, once the batched layout has reached it."""
        view, idx = self.view, self.view.currentIndex()
        if not idx.isValid():
            return
        view.scrollTo(idx)
        seen = view.viewport().rect().intersects(view.visualRect(idx))
        if not (seen and view.isVisible()) and self._scroll_tries < 200:  # 5 s at most
            self._scroll_tries += 1
            self._scroll_timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._scroll_tries = 0
        self._scroll_timer.start()

    def rows_in_view_order(self) -> list[int]:
        """Document rows in the order (and filter) the list shows them."""
        return [self.proxy.mapToSource(self.proxy.index(i, 0)).row() for i in range(self.proxy.rowCount())]

    def neighbour(self, row: int, step: int) -> int | None:
        """The row shown before/after ``row`` in the list (file order if ``row`` is filtered out)."""
        idx = self.proxy.mapFromSource(self.model.index(row))
        if idx.isValid():
            j = idx.row() + step
            if 0 <= j < self.proxy.rowCount():
                return self.proxy.mapToSource(self.proxy.index(j, 0)).row()
            return None
        j = row + step
        return j if 0 <= j < len(self.doc) else None
