"""The plan: every input and the output it will get, before anything is written.

Rows come straight from ``gui_app.core.plan.make_plan``. Name collisions,
existing files, skips and refused names are tinted and explained, so the
user sees what will happen before pressing Start.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from ..icons import mix
from .flat_table import FlatTable

COLUMNS = ("Input", "Output", "What happens")

#: action -> (label, tint colour or None)
ACTIONS = {
    "process": ("Write", None),
    "overwrite": ("Replace", "#d99a1e"),
    "rename": ("New name", "#3b82c4"),
    "skip": ("Skip", "#8a8f98"),
    "conflict": ("Conflict", "#d9453b"),
    "unsafe": ("Refused", "#d9453b"),
    "not_regular": ("Skip", "#8a8f98"),
}


class PlanModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list = []
        self.output_root: str | None = None

    def set_plan(self, items: list, output_root: str | None) -> None:
        self.beginResetModel()
        self.items = list(items)
        self.output_root = output_root
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def _short(self, path: str | None) -> str:
        if not path:
            return "—"
        if self.output_root:
            try:
                rel = os.path.relpath(path, self.output_root)
                if not rel.startswith(".."):
                    return rel
            except ValueError:
                pass
        return path

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self.items[index.row()]
        col = index.column()
        label, tint = ACTIONS.get(item.action, (item.action, None))
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return os.path.basename(item.input_path)
            if col == 1:
                return self._short(item.output_path)
            return label
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [item.input_path, f"→ {item.output_path or 'nothing is written'}"]
            if item.action != "process":
                lines.append(f"{label}.")
            if item.note:
                lines.append(item.note)
            return "\n".join(lines)
        if role == Qt.ItemDataRole.BackgroundRole and tint:
            base = QApplication.palette().color(QPalette.ColorRole.Base)
            return mix(base, QColor(tint), 0.18)
        if role == Qt.ItemDataRole.ForegroundRole and col == 2 and tint:
            return QColor(tint) if item.action in ("conflict", "unsafe") else None
        if role == Qt.ItemDataRole.UserRole:
            return item
        return None


class TailFirstDelegate(QStyledItemDelegate):
    """Elides on the left: a long output path shows its file name
    ("…/Canon_40D_1600w.webp"), which is what differs from row to row."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft


class PlanPanel(QWidget):
    """The Plan tab: a one-line summary and the table."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = PlanModel(self)
        self.summary = QLabel("The plan appears here once there are inputs and an output folder.")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Plan summary")
        self.view = FlatTable()  # a plan of 100,000 files shows without a stall
        self.view.setModel(self.model)
        self.view.setAccessibleName("Plan: input and output files")
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setItemDelegateForColumn(1, TailFirstDelegate(self.view))
        header = self.view.header()
        # Input and output share the spare width; "What happens" is as wide
        # as its longest label (a fixed 150 px input left the output ~70 px
        # on a 1366-px screen).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        metrics = self.view.fontMetrics()
        labels = [text for text, _tint in ACTIONS.values()] + [COLUMNS[2]]
        header.resizeSection(2, max(metrics.horizontalAdvance(text) for text in labels)
                             + 2 * self.view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 14)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setProperty("role", "hint")
        self.details.setAccessibleName("Selected plan item")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view.selectionModel().currentRowChanged.connect(self._show_details)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.details)

    def _show_details(self, current, _previous=None) -> None:
        if not current.isValid() or current.row() >= len(self.model.items):
            self.details.setText("")
            return
        item = self.model.items[current.row()]
        label = ACTIONS.get(item.action, (item.action, None))[0]
        text = f"{item.input_path} → {item.output_path or 'nothing is written'}"
        if item.action != "process":
            text += f"\n{label}: {item.note}" if item.note else f"\n{label}."
        self.details.setText(text)

    def set_plan(self, plan, output_root: str | None, description: str | None = None) -> None:
        """Show ``plan``. ``description``: its ``describe()`` when already
        made (off the UI thread: it goes through every item)."""
        self.model.set_plan(plan.items, output_root)
        self.details.setText("")
        self.summary.setText(f"{len(plan.items)} planned: {description or plan.describe()}.")

    def set_message(self, text: str) -> None:
        self.model.set_plan([], None)
        self.details.setText("")
        self.summary.setText(text)

    def flagged_rows(self) -> list[int]:
        return [i for i, item in enumerate(self.model.items) if item.action != "process"]
