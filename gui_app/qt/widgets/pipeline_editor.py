"""The pipeline editor: an ordered list of steps plus the selected step's form.

Steps are added from a menu grouped by family (the registry's FAMILIES
order), removed, reordered by drag or with the arrow buttons, and switched on
or off with their check box. The form of the selected step is generated from
the registry (see ParamForm); each edit is validated by the registry and a
problem is shown as a sentence under the form.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QFont, QFontMetrics, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui_app.core import registry
from gui_app.core.specs import OpSpec, Pipeline, SpecError

from ..icons import bind
from .cells import draw_cell_without_text
from .param_form import ParamForm

_STEP = Qt.ItemDataRole.UserRole + 1


def step_summary(info: registry.OpInfo, values: dict[str, Any]) -> str:
    """A short description of a step's settings for its list row."""
    parts = []
    shown = set()
    for p in info.params:
        if p.visible_when is None or values.get(p.visible_when[0]) in tuple(p.visible_when[1]):
            shown.add(p.name)
    for p in info.params:
        if p.visible_when is not None:
            other, allowed = p.visible_when
            if values.get(other) not in tuple(allowed):
                continue
        value = values.get(p.name, p.default)
        if value is None or p.type in ("color",) or (p.type == "bool" and not value):
            continue
        if p.type == "bool":
            text = p.label.lower()
        elif p.type == "choice":
            if value in shown:  # "mode: long edge" then "long edge 2048 px": say it once
                continue
            text = dict(p.choices).get(value, str(value))
        else:
            number = f"{value:g}" if isinstance(value, float) else str(value)
            text = f"{p.label.lower()} {number}{p.unit_suffix()}"
            if p.type == "str":
                if not value:
                    continue
                text = f"“{value}”" if len(str(value)) < 24 else f"“{str(value)[:22]}…”"
        parts.append(text)
        if len(parts) == 3:
            break
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


_SUMMARY = Qt.ItemDataRole.UserRole + 2


class StepDelegate(QStyledItemDelegate):
    """A step row: check box, the step's name, and its settings in a
    smaller, dimmer second line."""

    def sizeHint(self, option, index):
        base = super().sizeHint(option, index)
        lines = 2 if index.data(_SUMMARY) else 1
        return QSize(base.width(), option.fontMetrics.height() * lines + 12)

    def paint(self, painter, option, index) -> None:
        opt, title, rect, selected = draw_cell_without_text(self, painter, option, index)
        rect = rect.adjusted(4, 0, -4, 0)
        summary = index.data(_SUMMARY) or ""
        enabled = bool(opt.state & QStyle.StateFlag.State_Enabled) and index.data(Qt.ItemDataRole.CheckStateRole) != Qt.CheckState.Unchecked.value
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        main = opt.palette.color(QPalette.ColorGroup.Active if enabled else QPalette.ColorGroup.Disabled, role)
        dim = QColor(main)
        dim.setAlphaF(0.7)
        metrics = opt.fontMetrics
        line = metrics.height()
        top = rect.top() + (rect.height() - line * (2 if summary else 1)) // 2
        painter.save()
        font = QFont(opt.font)
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(main)
        align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        painter.drawText(rect.left(), top, rect.width(), line, align,
                         QFontMetrics(font).elidedText(title, Qt.TextElideMode.ElideRight, rect.width()))
        if summary:
            painter.setFont(opt.font)
            painter.setPen(dim)
            painter.drawText(rect.left(), top + line, rect.width(), line, align,
                             metrics.elidedText(summary, Qt.TextElideMode.ElideRight, rect.width()))
        painter.restore()


class StepList(QListWidget):
    """The step rows; drag to reorder. ``order_changed`` after a drop."""

    order_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(False)
        self.setIconSize(QSize(18, 18))
        self.setSpacing(1)
        self.setItemDelegate(StepDelegate(self))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.model().rowsMoved.connect(lambda *_: self.order_changed.emit())


class PipelineEditor(QWidget):
    """Edit a Pipeline. ``pipeline_changed`` fires on any change."""

    pipeline_changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._form: ParamForm | None = None
        self._error: str | None = None
        self._updating = False

        self.steps = StepList()
        self.steps.setAccessibleName("Pipeline steps")
        self.steps.setToolTip("Steps run from top to bottom. Drag to reorder; untick to switch a step off.")
        self.steps.currentRowChanged.connect(self._show_form)
        self.steps.itemChanged.connect(self._item_changed)
        self.steps.order_changed.connect(self._changed)

        self.add_button = QToolButton()
        self.add_button.setText("Add step")
        bind(self.add_button, "add")
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setObjectName("iconMenuButton")
        self.add_button.setAccessibleName("Add step")
        self.add_button.setToolTip("Add a processing step")
        self.add_menu = QMenu(self)
        self.add_button.setMenu(self.add_menu)
        self._fill_add_menu()

        self.remove_button = self._tool("remove", "Remove step", "Remove the selected step (Delete)", self.remove_current)
        self.up_button = self._tool("up", "Move step up", "Move the selected step up", lambda: self.move_current(-1))
        self.down_button = self._tool("down", "Move step down", "Move the selected step down", lambda: self.move_current(1))
        delete = QAction(self.steps)
        delete.setShortcut(QKeySequence.StandardKey.Delete)
        delete.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        delete.triggered.connect(self.remove_current)
        self.steps.addAction(delete)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        self._buttons = buttons
        for b in (self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(b)

        self.form_title = QLabel()
        self.form_title.setProperty("role", "heading")
        self.form_holder = QWidget()
        self.form_layout = QVBoxLayout(self.form_holder)
        self.form_layout.setContentsMargins(0, 0, 0, 0)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setProperty("role", "error")
        self.error_label.setAccessibleName("Step settings problem")
        self.error_label.hide()
        form_box = QWidget()
        form_box_layout = QVBoxLayout(form_box)
        form_box_layout.setContentsMargins(2, 4, 6, 4)
        form_box_layout.addWidget(self.form_title)
        form_box_layout.addWidget(self.form_holder)
        form_box_layout.addWidget(self.error_label)
        form_box_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(form_box)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.steps)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(top)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 2)
        split.setSizes([230, 360])
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.steps.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self._update_buttons()

    def add_tool(self, widget: QWidget) -> None:
        """Put ``widget`` in the button row, after *Add step* (the window's
        *Several outputs…* lives there)."""
        self._buttons.insertWidget(1, widget)

    def _tool(self, icon_name: str, name: str, tip: str, slot) -> QToolButton:
        button = QToolButton()
        bind(button, icon_name)
        button.setAccessibleName(name)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def _fill_add_menu(self) -> None:
        self.add_menu.clear()
        by_family: dict[str, list[registry.OpInfo]] = {}
        for info in registry.all_ops():
            by_family.setdefault(info.family, []).append(info)
        for family in list(registry.FAMILIES) + sorted(set(by_family) - set(registry.FAMILIES)):
            ops = by_family.get(family)
            if not ops:
                continue
            self.add_menu.addSection(family)
            for info in ops:
                action = self.add_menu.addAction(info.label)
                action.setToolTip(info.description or info.label)
                action.setData(info.name)
                action.triggered.connect(self._add_from_menu)

    def _add_from_menu(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.add_step(str(action.data()))

    # --------------------------------------------------------------- model
    def pipeline(self) -> Pipeline:
        """The pipeline as edited (not validated; see :meth:`error`)."""
        steps = []
        for row in range(self.steps.count()):
            item = self.steps.item(row)
            name, params = item.data(_STEP)
            steps.append(OpSpec(name=name, params=tuple(params.items()), enabled=item.checkState() == Qt.CheckState.Checked))
        return Pipeline(steps=tuple(steps))

    def valid_pipeline(self) -> Pipeline:
        """The validated pipeline (defaults filled in); raises SpecError."""
        return registry.validate_pipeline(self.pipeline())

    def error(self) -> str | None:
        """A sentence about the first invalid setting, or None."""
        try:
            self.valid_pipeline()
        except SpecError as exc:
            return self._describe(exc)
        return None

    def set_pipeline(self, pipeline: Pipeline) -> None:
        self._updating = True
        try:
            self.steps.clear()
            for step in pipeline.steps:
                self._append(step.name, step.kwargs(), step.enabled)
        finally:
            self._updating = False
        if self.steps.count():
            self.steps.setCurrentRow(0)
        else:
            self._show_form(-1)
        self._changed()

    def add_step(self, name: str, params: dict[str, Any] | None = None) -> None:
        info = registry.get(name)
        values = info.defaults()
        values.update(params or {})
        row = self._insert_row_for(info)
        self._append(name, values, True, row)
        self.steps.setCurrentRow(row)
        self._changed()

    def _insert_row_for(self, info: registry.OpInfo) -> int:
        """Pixel steps go before metadata/encode steps, which belong at the end."""
        if info.kind != "pixel":
            return self.steps.count()
        for row in range(self.steps.count()):
            name, _ = self.steps.item(row).data(_STEP)
            try:
                if registry.get(name).kind != "pixel":
                    return row
            except SpecError:
                continue
        return self.steps.count()

    def remove_current(self) -> None:
        row = self.steps.currentRow()
        if row < 0:
            return
        self.steps.takeItem(row)
        self._changed()

    def move_current(self, delta: int) -> None:
        row = self.steps.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.steps.count():
            return
        item = self.steps.takeItem(row)
        self.steps.insertItem(target, item)
        self.steps.setCurrentRow(target)
        self._changed()

    def _append(self, name: str, values: dict[str, Any], enabled: bool, row: int | None = None) -> None:
        try:
            info = registry.get(name)
        except SpecError:
            info = None
        item = QListWidgetItem()
        item.setFlags(
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled
        )
        item.setCheckState(Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)
        item.setData(_STEP, (name, dict(values)))
        self._label_item(item, info, values)
        if row is None:
            self.steps.addItem(item)
        else:
            self.steps.insertItem(row, item)

    def _label_item(self, item: QListWidgetItem, info, values) -> None:
        if info is None:
            item.setText(f"{item.data(_STEP)[0]} (unknown step)")
            return
        summary = step_summary(info, values)
        item.setText(info.label)
        item.setData(_SUMMARY, summary)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{info.label}: {summary}" if summary else info.label)
        item.setToolTip(info.description or info.label)

    # ---------------------------------------------------------------- form
    def current_form(self) -> ParamForm | None:
        return self._form

    def _show_form(self, row: int) -> None:
        if self._form is not None:
            self._form.setParent(None)
            self._form.deleteLater()
            self._form = None
        self._update_buttons()
        if row < 0 or row >= self.steps.count():
            self.form_title.setText("No step selected" if self.steps.count() else "Add a step to start")
            return
        name, values = self.steps.item(row).data(_STEP)
        try:
            info = registry.get(name)
        except SpecError:
            self.form_title.setText(f"Unknown step “{name}”")
            return
        self.form_title.setText(info.label)
        self._form = ParamForm(info, values)
        self._form.changed.connect(self._form_edited)
        self.form_layout.addWidget(self._form)
        self._show_error()

    def _form_edited(self) -> None:
        row = self.steps.currentRow()
        if row < 0 or self._form is None:
            return
        item = self.steps.item(row)
        name, _ = item.data(_STEP)
        values = self._form.values()
        self._updating = True
        try:
            item.setData(_STEP, (name, values))
            self._label_item(item, self._form.info, values)
        finally:
            self._updating = False
        self._changed()

    def _item_changed(self, _item) -> None:
        if not self._updating:
            self._changed()

    def _changed(self) -> None:
        if self._updating:
            return
        self._update_buttons()
        self._show_error()
        self.pipeline_changed.emit()

    def _update_buttons(self) -> None:
        row = self.steps.currentRow()
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.steps.count() - 1)

    def _show_error(self) -> None:
        self._error = self.error()
        self.error_label.setText(self._error or "")
        self.error_label.setVisible(bool(self._error))

    def _describe(self, exc: SpecError) -> str:
        """'steps[2].quality: must be at most 100' -> 'Encode, Quality: must be at most 100'."""
        field = exc.field
        if field.startswith("steps["):
            try:
                index = int(field[6:field.index("]")])
                rest = field[field.index("]") + 2:]
                name, _ = self.steps.item(index).data(_STEP)
                info = registry.get(name)
                label = info.param(rest).label if rest in {p.name for p in info.params} else rest
                return f"{info.label}, {label}: {exc.reason}"
            except (ValueError, KeyError, SpecError, AttributeError):
                pass
        return str(exc)
