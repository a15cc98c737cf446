"""A settings form generated from an operation's parameter schema.

Every control comes from ``gui_app.core.registry.Param``: int/float become
spin boxes with their unit and range (plus a slider when ``slider`` is set),
bool a check box, choice a combo box, color a swatch button with a colour
picker, str a line edit (with a Browse button for file paths). ``help``
becomes the tooltip, ``visible_when`` hides fields that do not apply, and an
``optional`` parameter gets an on/off check box (off = None).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from gui_app.core.registry import OpInfo, Param


def settings_form(widget: QWidget) -> QFormLayout:
    """The form layout every settings panel uses: no margins, right-aligned
    labels, fields that take the spare width."""
    form = QFormLayout(widget)
    form.setContentsMargins(0, 0, 0, 0)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return form


def field_with_button(field: QWidget, button: QWidget, focus: QWidget | None = None) -> QWidget:
    """A field that takes the width with a smaller control after it (Browse…,
    tokens, a slider's spin box), as one form row whose focus goes to
    ``focus`` (the field unless given)."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(field, 1)
    row.addWidget(button)
    box.setFocusProxy(focus or field)
    return box

_BIG = 1_000_000


class ColorButton(QToolButton):
    """A swatch showing a ``#rrggbb[aa]`` colour; click to pick another."""

    colour_changed = Signal(str)

    def __init__(self, value: str, with_alpha: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self._with_alpha = with_alpha
        self._value = "#ffffff"
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.clicked.connect(self._pick)
        self.set_value(value)

    def value(self) -> str:
        return self._value

    def set_value(self, value: str) -> None:
        self._value = (value or "#ffffff").lower()
        swatch = QPixmap(18, 18)
        swatch.fill(_qcolor(self._value))
        self.setIcon(QIcon(swatch))
        self.setText(self._value)

    def _pick(self) -> None:
        options = QColorDialog.ColorDialogOption.ShowAlphaChannel if self._with_alpha else QColorDialog.ColorDialogOption(0)
        chosen = QColorDialog.getColor(_qcolor(self._value), self, "Choose a colour", options)
        if chosen.isValid():
            text = chosen.name()
            if self._with_alpha:
                text += f"{chosen.alpha():02x}"
            self.set_value(text)
            self.colour_changed.emit(self._value)


def _qcolor(value: str) -> QColor:
    value = value or "#ffffff"
    colour = QColor(value[:7])
    if len(value) == 9:
        colour.setAlpha(int(value[7:9], 16))
    return colour


class _Field:
    """One parameter's editor: get/set the value as a primitive."""

    def __init__(self, widget: QWidget, get: Callable[[], Any], set_: Callable[[Any], None]):
        self.widget = widget
        self.get = get
        self.set = set_


class ParamForm(QWidget):
    """Editors for one step's parameters. ``changed`` fires on every edit."""

    changed = Signal()

    def __init__(self, info: OpInfo, values: dict[str, Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.info = info
        self._fields: dict[str, _Field] = {}
        self._rows: dict[str, int] = {}
        self._loading = True
        layout = settings_form(self)
        self._layout = layout
        if info.description:
            intro = QLabel(info.description)
            intro.setWordWrap(True)
            intro.setProperty("role", "hint")
            layout.addRow(intro)
        if not info.params:
            note = QLabel("This step has no settings.")
            note.setProperty("role", "hint")
            layout.addRow(note)
        for param in info.params:
            field = self._make_field(param)
            tooltip = param.help or param.label
            field.widget.setToolTip(tooltip)
            field.widget.setAccessibleName(param.label)
            field.widget.setAccessibleDescription(param.help)
            if param.type == "bool":
                layout.addRow("", field.widget)
            else:
                label = QLabel(param.label + ":")
                label.setToolTip(tooltip)
                label.setBuddy(field.widget)
                layout.addRow(label, field.widget)
            self._rows[param.name] = layout.rowCount() - 1
            self._fields[param.name] = field
            field.set(values.get(param.name, param.default))
        self._loading = False
        self._update_visibility()

    # -------------------------------------------------------------- values
    def values(self) -> dict[str, Any]:
        return {name: field.get() for name, field in self._fields.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        self._loading = True
        try:
            for name, field in self._fields.items():
                if name in values:
                    field.set(values[name])
        finally:
            self._loading = False
        self._update_visibility()

    def editor(self, name: str) -> QWidget:
        return self._fields[name].widget

    def is_shown(self, name: str) -> bool:
        return self._layout.isRowVisible(self._rows[name])

    def _emit(self, *_args) -> None:
        if not self._loading:
            self._update_visibility()
            self.changed.emit()

    def _update_visibility(self) -> None:
        current = {name: field.get() for name, field in self._fields.items()}
        by_name = {p.name: p for p in self.info.params}

        def applies(param: Param, depth: int = 0) -> bool:
            # A field shows when its controlling field shows and has one of
            # the listed values (chains like crop mode -> aspect -> aspect_w).
            if param.visible_when is None or depth > 8:
                return True
            other, allowed = param.visible_when
            parent = by_name.get(other)
            return current.get(other) in tuple(allowed) and (parent is None or applies(parent, depth + 1))

        for param in self.info.params:
            if param.visible_when is not None:
                self._layout.setRowVisible(self._rows[param.name], applies(param))

    # ------------------------------------------------------------ builders
    def _make_field(self, p: Param) -> _Field:
        builder = {
            "int": self._number_field,
            "float": self._number_field,
            "bool": self._bool_field,
            "choice": self._choice_field,
            "color": self._color_field,
            "str": self._text_field,
        }.get(p.type, self._text_field)
        field = builder(p)
        if p.optional and p.type in ("int", "float", "str", "color"):
            field = self._optional(p, field)
        return field

    def _number_field(self, p: Param) -> _Field:
        is_int = p.type == "int"
        spin: QSpinBox | QDoubleSpinBox = QSpinBox() if is_int else QDoubleSpinBox()
        low = p.minimum if p.minimum is not None else -_BIG
        high = p.maximum if p.maximum is not None else _BIG
        if is_int:
            spin.setRange(int(low), int(high))
        else:
            spin.setDecimals(2)
            spin.setRange(float(low), float(high))
            spin.setSingleStep(0.1 if high - low <= 20 else 1.0)
        if p.unit:
            spin.setSuffix(" " + p.unit)
        spin.setAccelerated(True)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(self._emit)

        def get():
            return int(spin.value()) if is_int else round(float(spin.value()), 4)

        def set_(value):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                spin.setValue(value)

        if not (p.slider and p.minimum is not None and p.maximum is not None):
            return _Field(spin, get, set_)
        # A slider for quality-like values, kept in step with the spin box.
        scale = 1 if is_int else 100
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(int(p.minimum * scale), int(p.maximum * scale))
        slider.setAccessibleName(p.label + " slider")
        slider.valueChanged.connect(lambda v: spin.setValue(v / scale if not is_int else v))
        spin.valueChanged.connect(lambda v: slider.setValue(int(round(v * scale))))
        return _Field(field_with_button(slider, spin, focus=spin), get, set_)

    def _bool_field(self, p: Param) -> _Field:
        check = QCheckBox(p.label)
        check.toggled.connect(self._emit)
        return _Field(check, check.isChecked, lambda v: check.setChecked(bool(v)))

    def _choice_field(self, p: Param) -> _Field:
        combo = QComboBox()
        for value, label in p.choices:
            combo.addItem(label, value)
        combo.currentIndexChanged.connect(self._emit)

        def set_(value):
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)

        return _Field(combo, combo.currentData, set_)

    def _color_field(self, p: Param) -> _Field:
        with_alpha = isinstance(p.default, str) and len(p.default) == 9
        button = ColorButton(str(p.default or "#ffffff"), with_alpha)
        button.colour_changed.connect(self._emit)
        return _Field(button, button.value, lambda v: button.set_value(str(v)) if v else None)

    def _text_field(self, p: Param) -> _Field:
        edit = QLineEdit()
        edit.setClearButtonEnabled(True)
        edit.textChanged.connect(self._emit)
        field = _Field(edit, edit.text, lambda v: edit.setText("" if v is None else str(v)))
        if "path" not in p.name and "file" not in p.name:
            return field
        browse = QToolButton()
        browse.setText("Browse…")
        browse.setAccessibleName(f"Choose {p.label.lower()}")

        def choose():
            path, _ = QFileDialog.getOpenFileName(
                self, f"Choose {p.label.lower()}", edit.text(), "Images (*.png *.webp *.jpg *.jpeg *.gif *.tif *.tiff *.bmp)"
            )
            if path:
                edit.setText(path)

        browse.clicked.connect(choose)
        return _Field(field_with_button(edit, browse), field.get, field.set)

    def _optional(self, p: Param, inner: _Field) -> _Field:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        switch = QCheckBox()
        switch.setToolTip(f"Use {p.label.lower()} (off = not used)")
        switch.setAccessibleName(f"Use {p.label.lower()}")
        row.addWidget(switch)
        row.addWidget(inner.widget, 1)
        inner.widget.setEnabled(False)
        switch.toggled.connect(inner.widget.setEnabled)
        switch.toggled.connect(self._emit)

        def get():
            return inner.get() if switch.isChecked() else None

        def set_(value):
            switch.setChecked(value is not None)
            if value is not None:
                inner.set(value)

        return _Field(box, get, set_)
