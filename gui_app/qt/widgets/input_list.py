"""The input list: one row per input file, details filled in lazily.

Rows come from the scanner (ScanEntry). A thumbnail, the pixel dimensions and
the format are read in helper threads only when a row is first painted, so a
folder of 10,000 photos appears at once and the window never waits for a
decode. During a batch each row shows its status; results arrive in batches
from the controller and update the model with one dataChanged per batch.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Iterator

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
)

from gui_app.core import pil_warnings
from gui_app.core.formats import FORMATS
from gui_app.core.scan import natural_key
from gui_app.core.specs import Limits, Status, TaskResult

from .. import pacing, tasks
from ..compat import human_size
from ..icons import icon
from .cells import draw_cell_without_text
from .flat_table import FlatTable

THUMB_SIDE = 44
#: Thumbnails kept in memory (about 30 KB each); the least recently read are
#: dropped and read again if their row is painted again.
MAX_THUMBNAILS = 3000

COLUMNS = ("Name", "Dimensions", "Format", "Size", "Status")
COL_NAME, COL_DIMS, COL_FORMAT, COL_SIZE, COL_STATUS = range(len(COLUMNS))
#: Role for the second line of the name cell (the folder, drawn dimmer).
FOLDER_ROLE = Qt.ItemDataRole.UserRole + 2

#: Row status values (strings so they read well in tests and tooltips).
PENDING, QUEUED, RUNNING, DONE, FAILED, SKIPPED, CANCELLED = (
    "", "queued", "running", "done", "failed", "skipped", "cancelled"
)
_STATUS_TEXT = {PENDING: "", QUEUED: "Waiting", RUNNING: "Working…", DONE: "Done", FAILED: "Failed",
                SKIPPED: "Skipped", CANCELLED: "Cancelled"}
_STATUS_ICON = {DONE: "status-done", FAILED: "status-failed", SKIPPED: "status-skipped",
                CANCELLED: "status-cancelled", QUEUED: "status-pending", RUNNING: "status-running"}
#: Status text of a file the plan will skip (the tooltip says why).
WILL_SKIP = "Will skip"


def short_format(label: str) -> str:
    """The Format column's text: "HEIF/HEIC" shows as "HEIC" (what the
    files are called); the tooltip has the full name."""
    return label.rsplit("/", 1)[-1]


#: Side of the status marks (drawn as pixmaps, so the thumbnail size does not apply).
STATUS_ICON_SIDE = 16
#: Widest texts each fixed column must show in full (the name column stretches).
COLUMN_SAMPLES: dict[int, tuple[str, ...]] = {
    COL_DIMS: ("8888 × 8888",),
    COL_FORMAT: tuple(short_format(f.label) for f in FORMATS.values()),
    COL_SIZE: ("888.8 MB", "888 bytes"),
    COL_STATUS: tuple(_STATUS_TEXT.values()) + (WILL_SKIP,),
}
#: Work per event-loop turn when the rows are reset at batch start (s), and
#: the first slice's size in rows (later slices adapt to the time taken).
RESET_SLICE_S = 0.004
RESET_FIRST_SLICE = 256
#: When several outputs come from one input (variants), the worst one shows.
_SEVERITY = {PENDING: 0, QUEUED: 1, RUNNING: 2, DONE: 3, SKIPPED: 4, CANCELLED: 5, FAILED: 6}
_FROM_RESULT = {Status.OK.value: DONE, Status.FAILED.value: FAILED, Status.SKIPPED.value: SKIPPED,
                Status.CANCELLED.value: CANCELLED}


@dataclass
class InputRow:
    path: str
    root: str
    relpath: str
    size: int
    mtime_ns: int = 0
    skip_code: str | None = None
    skip_reason: str = ""
    entry: object = None  # the ScanEntry, handed back to the plan
    width: int | None = None
    height: int | None = None
    format: str = ""
    thumb: QImage | None = None
    thumb_icon: QIcon | None = None  # made on the UI thread from ``thumb``
    details: int = 0  # 0 not asked, 1 being read, 2 read, 3 unreadable
    details_error: str = ""
    notes: list = field(default_factory=list)  # Pillow's warnings about the file
    status: str = PENDING
    message: str = ""
    outputs: list = field(default_factory=list)
    seq: int = 0  # the order it was added in (the list's order when not sorted by a column)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def folder(self) -> str:
        parent = os.path.dirname(self.relpath)
        return parent if parent else os.path.basename(self.root.rstrip(os.sep)) or self.root


def displayable(image):
    """RGBA for the screen. 16/32-bit grey images are stretched to 8 bits by
    their brightest pixel first (a plain convert clips them to white)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = image.convert("F") if image.mode == "F" else image.convert("I")
        high = image.getextrema()[1] or 1
        scale = 255 / high if high > 255 else 1
        image = image.point(lambda v: v * scale).convert("L")
    return image.convert("RGBA")


def read_details(path: str, limits: Limits) -> tuple[QImage | None, int | None, int | None, str, str, list[str]]:
    """Thumbnail, size and format of one image (runs in a helper thread).

    Opens through the engine's ``open_image`` (content-checked format
    allowlist, pixel limits): the GUI never decodes anything the batch would
    refuse. Returns (thumbnail, width, height, format label, error sentence,
    Pillow's warnings about the file): the warnings are recorded for this
    file, never printed to the terminal.
    """
    pacing.make_way()
    with pil_warnings.collect() as notes:
        return _read_details(path, limits) + (notes,)


def _read_details(path: str, limits: Limits) -> tuple[QImage | None, int | None, int | None, str, str]:
    from PIL import ImageOps

    from gui_app.core import imageio
    from gui_app.core.formats import by_pillow_name

    try:
        image = imageio.open_image(path, limits)
    except Exception as exc:  # ImageError carries a human message
        return None, None, None, "", getattr(exc, "message", None) or str(exc) or "cannot be read"
    try:
        width, height = image.size
        fmt = by_pillow_name(image.format)
        label = fmt.label if fmt else (image.format or "")
        try:
            image.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))
        except Exception:
            pass
        thumb = ImageOps.exif_transpose(image.copy() if image.mode == "P" else image)
        thumb.thumbnail((THUMB_SIDE * 2, THUMB_SIDE * 2))
        thumb = displayable(thumb)
        data = thumb.tobytes("raw", "RGBA")
        qimage = QImage(data, thumb.width, thumb.height, thumb.width * 4, QImage.Format.Format_RGBA8888).copy()
        orientation = image.getexif().get(0x0112, 1) if hasattr(image, "getexif") else 1
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        return qimage, width, height, label, ""
    except Exception as exc:
        return None, None, None, "", imageio.classify_exception(exc)[1]
    finally:
        image.close()


#: How each column sorts (unknown dimensions and formats come first); -1:
#: the order the files were added in.
_SORT_KEYS = {
    -1: lambda r: r.seq,
    COL_NAME: lambda r: (natural_key(r.name), r.folder),
    COL_DIMS: lambda r: (r.width or 0) * (r.height or 0),
    COL_FORMAT: lambda r: short_format(r.format).casefold(),
    COL_SIZE: lambda r: r.size,
    COL_STATUS: lambda r: (_SEVERITY.get(r.status, 0), bool(r.skip_code)),
}


class InputModel(QAbstractTableModel):
    """The inputs of the next batch. ``totals_changed`` after adds/removes;
    ``status_visible_changed(bool)`` when the Status column starts or stops
    having anything to show (a batch ran, or the plan will skip a file):
    until then the file names get its width."""

    totals_changed = Signal()
    status_visible_changed = Signal(bool)

    def __init__(self, parent=None, limits: Limits | None = None):
        super().__init__(parent)
        self.rows: list[InputRow] = []
        self._index: dict[str, int] = {}
        self._queue: deque[int] = deque()
        self._loaders = 0
        self._generation = 0
        self.limits = limits or Limits()
        self.max_loaders = 2
        self._thumbs: OrderedDict[int, InputRow] = OrderedDict()
        self._total_size = 0
        self._skips = 0  # rows the plan will skip (their status shows before any batch)
        self._batch_seen = False
        self._status_visible = False
        self._any_failed: bool | None = False  # None: to be counted again
        self._resetting = False  # row states are being reset a slice at a time (no sorting then)
        self._added = 0  # rows ever added (their ``seq``)

    # ------------------------------------------------------------- editing
    def add_entries(self, entries) -> int:
        """Append scan entries not already listed; returns how many were new."""
        new = []
        for e in entries:
            if e.path in self._index:
                continue
            self._index[e.path] = len(self.rows) + len(new)
            self._added += 1
            new.append(InputRow(e.path, e.root, e.relpath, e.size, e.mtime_ns, e.skip_code, e.skip_reason, e,
                                seq=self._added))
        if new:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self.rows.extend(new)
            self._total_size += sum(r.size for r in new)
            self._skips += sum(1 for r in new if r.skip_code)
            self.endInsertRows()
            self.totals_changed.emit()
            self._update_status_visible()
        return len(new)

    def remove_rows(self, rows: list[int]) -> None:
        doomed = set(rows)
        if not doomed:
            return
        self.beginResetModel()
        self.rows = [r for i, r in enumerate(self.rows) if i not in doomed]
        self._any_failed = None
        self._reindex()
        self._skips = sum(1 for r in self.rows if r.skip_code)
        self.endResetModel()
        self.totals_changed.emit()
        self._update_status_visible()

    def clear(self) -> None:
        self.beginResetModel()
        self.rows = []
        self._any_failed = False
        self._reindex()
        self._skips = 0
        self._batch_seen = False
        self.endResetModel()
        self.totals_changed.emit()
        self._update_status_visible()

    def status_visible(self) -> bool:
        return self._batch_seen or self._skips > 0

    def _update_status_visible(self) -> None:
        visible = self.status_visible()
        if visible != self._status_visible:
            self._status_visible = visible
            self.status_visible_changed.emit(visible)

    def _reindex(self) -> None:
        self._index = {r.path: i for i, r in enumerate(self.rows)}
        self._total_size = sum(r.size for r in self.rows)
        alive = {id(r) for r in self.rows}
        for key in [k for k in self._thumbs if k not in alive]:
            del self._thumbs[key]
        self._queue.clear()
        self._generation += 1
        self._cursor = 0
        for r in self.rows:
            if r.details == 1:
                r.details = 0

    def total_size(self) -> int:
        return self._total_size

    def entries(self) -> list:
        return [r.entry for r in self.rows]

    def row_of(self, path: str) -> int | None:
        return self._index.get(path)

    # -------------------------------------------------------------- status
    def reset_status(self, paths_to_run: set[str]) -> None:
        """Before a batch: rows that will run are queued, the rest cleared."""
        for _slice in self.reset_status_in_slices(paths_to_run):
            pass

    def reset_status_in_slices(self, paths_to_run: set[str], budget_s: float = RESET_SLICE_S) -> Iterator[None]:
        """:meth:`reset_status` a slice of rows at a time: a generator that
        yields after each slice, so the caller can let the event loop run in
        between (the window does, at batch start). Each slice is about
        ``budget_s`` of work *including* its dataChanged (the view and the
        status filter react row by row, which is most of the cost): the
        slice size adapts to what the last slice took. Stops early if the
        rows are replaced meanwhile (cleared or removed)."""
        rows = self.rows
        self._batch_seen = True
        self._resetting = True
        try:
            yield from self._reset_slices(rows, paths_to_run, budget_s)
        finally:
            self._resetting = False

    def _reset_slices(self, rows: list, paths_to_run: set[str], budget_s: float) -> Iterator[None]:
        start, size = 0, RESET_FIRST_SLICE
        while start < len(rows):
            began = time.perf_counter()
            end = min(len(rows), start + size)
            for r in rows[start:end]:
                r.status = QUEUED if r.path in paths_to_run else PENDING
                r.message = ""
                r.outputs = []
            self._status_changed(start, end - 1)
            start = end
            spent = max(time.perf_counter() - began, 1e-6)
            size = max(RESET_FIRST_SLICE // 4, min(size * 4, int(size * budget_s / spent)))
            if start < len(rows):
                yield
                if self.rows is not rows:
                    return
        self._update_status_visible()

    def mark_started(self, paths: list[str]) -> None:
        """The runner says these files are being worked on now (its
        ``file_started``); only waiting rows change (a result wins)."""
        low, high = len(self.rows), -1
        for path in paths:
            i = self._index.get(path)
            if i is not None and self.rows[i].status == QUEUED:
                self.rows[i].status = RUNNING
                low, high = min(low, i), max(high, i)
        self._status_changed(low, high)

    def apply_results(self, results: list[TaskResult]) -> None:
        low, high = len(self.rows), -1
        for result in results:
            i = self._index.get(result.input_path)
            if i is None:
                continue
            row = self.rows[i]
            new = _FROM_RESULT.get(result.status, FAILED)
            row.outputs.append(result)
            if row.status in (QUEUED, RUNNING, PENDING) or _SEVERITY[new] > _SEVERITY[row.status]:
                row.status = new
                if result.message:
                    row.message = result.message
            if result.width_in and not row.width:
                row.width, row.height = result.width_in, result.height_in
            low, high = min(low, i), max(high, i)
        if high >= 0:
            self._status_changed(low, high)

    def finish_batch(self) -> None:
        """After a batch: anything still waiting was not run (cancelled)."""
        changed = False
        for r in self.rows:
            if r.status in (QUEUED, RUNNING):
                r.status = CANCELLED
                r.message = "Cancelled before it was processed."
                changed = True
        if changed:
            self._status_changed(0, len(self.rows) - 1)

    def has_failed(self) -> bool:
        """Whether any row failed. Cached until a status changes: the window
        asks after every batch of scanned files, and walking 100,000 rows
        each time made adding a big folder quadratic."""
        if self._any_failed is None:
            self._any_failed = any(r.status == FAILED for r in self.rows)
        return self._any_failed

    def _status_changed(self, low: int, high: int) -> None:
        self._any_failed = None
        if high >= low >= 0:
            self.dataChanged.emit(self.index(low, 0), self.index(high, COL_STATUS))

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Reorder the rows by a column (a click on its header); column -1
        restores the order they were added in. One sort in Python with a key
        per row; the selection and the current row follow their files.
        Nothing moves while the row states are being reset for a batch."""
        key = _SORT_KEYS.get(column)
        if key is None or self._resetting or len(self.rows) < 2:
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = list(self.rows)
        self.rows.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self._reindex()
        persistent = self.persistentIndexList()
        moved = [self.index(self._index[old_rows[i.row()].path], i.column()) for i in persistent]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def count_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts

    # ------------------------------------------------------------- details
    def _request_details(self, i: int) -> None:
        row = self.rows[i]
        if row.details != 0 or row.skip_code:
            return
        row.details = 1
        self._queue.append(i)
        while self._loaders < self.max_loaders and self._queue:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no event loop yet (e.g. painted before boot)
                row.details = 0
                self._queue.clear()
                return
            self._loaders += 1
            tasks.spawn(self._load_details(), owner=self)

    async def _load_details(self) -> None:
        generation = self._generation
        try:
            while self._queue and generation == self._generation:
                i = self._queue.popleft()
                if i >= len(self.rows):
                    continue
                row = self.rows[i]
                thumb, width, height, fmt, error, notes = await tasks.run_blocking(read_details, row.path, self.limits)
                if generation != self._generation or i >= len(self.rows) or self.rows[i] is not row:
                    continue
                row.thumb, row.width, row.height, row.format = thumb, width or row.width, height or row.height, fmt
                row.notes = notes
                row.thumb_icon = None
                if thumb is not None:
                    self._keep_thumbnail(row)
                row.details, row.details_error = (2, "") if not error else (3, error)
                self.dataChanged.emit(self.index(i, COL_NAME), self.index(i, COL_FORMAT))
        finally:
            self._loaders -= 1

    def _keep_thumbnail(self, row: InputRow) -> None:
        self._thumbs[id(row)] = row
        self._thumbs.move_to_end(id(row))
        while len(self._thumbs) > MAX_THUMBNAILS:
            _key, old = self._thumbs.popitem(last=False)
            old.thumb = old.thumb_icon = None
            old.details = 0  # read again when painted again

    def details_pending(self) -> bool:
        return bool(self._queue) or self._loaders > 0

    # ------------------------------------------------------------ Qt model
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole and section == COL_SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        i, col = index.row(), index.column()
        row = self.rows[i]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return row.name
            if col == COL_DIMS:
                self._request_details(i)
                if row.width:
                    return f"{row.width} × {row.height}"
                return "…" if row.details in (0, 1) and not row.skip_code else ""
            if col == COL_FORMAT:
                self._request_details(i)
                return short_format(row.format)
            if col == COL_SIZE:
                return human_size(row.size)
            if col == COL_STATUS:
                if row.skip_code and row.status == PENDING:
                    return WILL_SKIP
                return _STATUS_TEXT.get(row.status, row.status)
        elif role == Qt.ItemDataRole.DecorationRole:
            if col == COL_NAME:
                self._request_details(i)
                if row.thumb is not None:
                    if row.thumb_icon is None:
                        row.thumb_icon = _square_icon(row.thumb)
                    return row.thumb_icon
                return icon("image").pixmap(QSize(THUMB_SIDE, THUMB_SIDE))
            if col == COL_STATUS and row.status in _STATUS_ICON:
                return _status_pixmap(row.status)
        elif role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row)
        elif role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_STATUS and row.status == FAILED:
                return QColor("#d9453b")
            if col in (COL_DIMS, COL_FORMAT, COL_SIZE):
                return QApplication.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText)
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == COL_SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == FOLDER_ROLE:
            return row.folder
        elif role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def _tooltip(self, row: InputRow) -> str:
        lines = [row.path]
        if row.format or row.width:
            size = f"{row.width} × {row.height} px" if row.width else ""
            lines.append(", ".join(t for t in (row.format, size, human_size(row.size)) if t))
        if row.skip_code:
            lines.append(row.skip_reason or "This file will be skipped.")
        if row.details_error:
            lines.append(f"Cannot read it: {row.details_error}")
        for note in row.notes:
            lines.append(f"Note: {note}")
        if row.message:
            lines.append(row.message)
        for out in row.outputs:
            if out.output_path and out.status == Status.OK.value:
                lines.append(f"→ {out.output_path}")
        return "\n".join(lines)


_STATUS_PIXMAPS: dict[tuple[str, str], QPixmap] = {}


def _status_pixmap(status: str) -> QPixmap:
    """A small status mark (a pixmap, so the 44 px thumbnail size does not apply)."""
    key = (status, QApplication.palette().color(QPalette.ColorRole.WindowText).name())
    if key not in _STATUS_PIXMAPS:
        _STATUS_PIXMAPS[key] = icon(_STATUS_ICON[status]).pixmap(QSize(STATUS_ICON_SIDE, STATUS_ICON_SIDE))
    return _STATUS_PIXMAPS[key]


def _square_icon(image: QImage) -> QIcon:
    """The thumbnail centred on a square canvas, so every name lines up."""
    side = THUMB_SIDE * 2
    canvas = QPixmap(side, side)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    painter.drawImage((side - image.width()) // 2, (side - image.height()) // 2, image)
    painter.end()
    return QIcon(canvas)


class StatusFilter(QSortFilterProxyModel):
    """Shows every row, or only failed ones ("Show failed only")."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._failed_only = False
        # Re-filtering on every dataChanged calls filterAcceptsRow (Python)
        # for each changed row: thousands of calls per progress update in a
        # big batch. Only "failed only" needs rows to come and go live.
        self.setDynamicSortFilter(False)

    def set_failed_only(self, on: bool) -> None:
        self.setDynamicSortFilter(on)
        # beginFilterChange/endFilterChange: invalidateFilter() is deprecated in 6.10+.
        if not hasattr(self, "endFilterChange"):  # Qt < 6.9
            self._failed_only = on
            self.invalidateFilter()
            return
        self.beginFilterChange()
        self._failed_only = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts its own rows (one fast sort, and the
        batch then runs in the order shown); this proxy only filters."""
        self.sourceModel().sort(column, order)

    def filterAcceptsRow(self, source_row, source_parent) -> bool:
        if not self._failed_only:
            return True
        model = self.sourceModel()
        return model.rows[source_row].status == FAILED


class NameDelegate(QStyledItemDelegate):
    """Thumbnail, then the file name with its folder on a second, dimmer line."""

    def paint(self, painter, option, index) -> None:
        opt, name, text_rect, selected = draw_cell_without_text(self, painter, option, index)
        folder = index.data(FOLDER_ROLE) or ""
        palette = opt.palette
        main = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        dim = QColor(main)
        dim.setAlphaF(0.65)
        metrics = opt.fontMetrics
        line = metrics.height()
        top = text_rect.top() + (text_rect.height() - 2 * line) // 2
        painter.save()
        painter.setPen(main)
        painter.drawText(text_rect.left() + 2, top, text_rect.width() - 4, line, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, text_rect.width() - 4))
        painter.setPen(dim)
        painter.drawText(text_rect.left() + 2, top + line, text_rect.width() - 4, line, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         metrics.elidedText(folder, Qt.TextElideMode.ElideMiddle, text_rect.width() - 4))
        painter.restore()


class InputView(FlatTable):
    """The table of inputs: a thumbnail, the name over its folder, details.
    A :class:`FlatTable`, so a folder of 100,000 files lists smoothly."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.set_row_lines(2, THUMB_SIDE)  # a thumbnail, or the name over the folder
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setAccessibleName("Input images")
        self.setToolTip("")
        self.setItemDelegateForColumn(COL_NAME, NameDelegate(self))
        self.header().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the order of the folders
        self.header().setSortIndicatorClearable(True)  # a third click: back to the order of adding
        self.setSortingEnabled(True)
        # Only the sorted column shows an arrow: it alone gets the room for one.
        self.header().sortIndicatorChanged.connect(self.size_columns)

    def setModel(self, model) -> None:
        super().setModel(model)
        model.rowsInserted.connect(self._rows_added)
        header = self.header()
        header.setStretchLastSection(False)
        # The name gets all the spare width (and elides in the middle);
        # the others are as wide as their longest possible text.
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col in COLUMN_SAMPLES:
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(36)
        header.setMinimumWidth(0)
        self.size_columns()

    def _rows_added(self, *_args) -> None:
        """New files go to the end, so a sort by a column no longer holds:
        back to the order of adding (once, not for every scanned batch)."""
        if self.header().sortIndicatorSection() >= 0:
            self.header().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def size_columns(self, *_args) -> None:
        """Size the fixed columns from the font: their widest likely text
        (e.g. "HEIC", "Cancelled" with its icon) and their header (with the
        sort arrow, for the column the list is sorted by)."""
        header = self.header()
        if self.model() is None:
            return
        item_metrics, header_metrics = self.fontMetrics(), header.fontMetrics()
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1
        padding = 2 * margin + 10
        header_padding = 2 * self.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header) + 12
        for col, samples in COLUMN_SAMPLES.items():
            text = max(item_metrics.horizontalAdvance(t) for t in samples) + padding
            if col == COL_STATUS:
                text += STATUS_ICON_SIDE + margin + 4
            title = header_metrics.horizontalAdvance(COLUMNS[col]) + header_padding
            if col == header.sortIndicatorSection():
                title = max(title, header.sectionSizeHint(col))  # room for the sort arrow too
            header.resizeSection(col, max(text, title))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.size_columns()

