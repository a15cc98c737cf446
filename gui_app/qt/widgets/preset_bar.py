"""Preset chooser: built-in and user presets, and managing the user's own.

Presets are the JSON files the CLI reads (``gui_app.core.presets``): save as,
rename, delete, import and export work on those files in the user presets
folder, so a preset made here runs headless with ``imagebatch run --preset``.
"""

from __future__ import annotations

import os
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QToolButton,
    QWidget,
)

from ..icons import bind, icon

CUSTOM = ""  # the combo entry for "whatever is in the editor"


def _presets():
    from gui_app.core import presets

    return presets


class PresetBar(QWidget):
    """``preset_chosen(Preset)`` when the user picks one; ``message(str)`` for
    the status bar. ``current`` returns a Preset made from the editor."""

    preset_chosen = Signal(object)
    custom_chosen = Signal()
    message = Signal(str)

    def __init__(self, current: Callable[[str, str], object], parent: QWidget | None = None):
        super().__init__(parent)
        self._current = current
        self._presets: dict[str, object] = {}
        self._user_paths: dict[str, str] = {}
        self._loading = False
        self.combo = QComboBox()
        self.combo.setAccessibleName("Preset")
        self.combo.setToolTip("Start from a ready-made preset or one of your own")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(14)
        self.combo.activated.connect(self._activated)
        self.menu_button = QToolButton()
        bind(self.menu_button, "preset")
        self.menu_button.setText("Manage")
        self.menu_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setObjectName("iconMenuButton")
        self.menu_button.setToolTip("Save, rename, delete, import or export presets")
        self.menu_button.setAccessibleName("Manage presets")
        menu = QMenu(self)
        self.save_action = bind(menu.addAction("Save as new preset…", self.save_as), "save")
        self.rename_action = bind(menu.addAction("Rename…", self.rename), "rename")
        self.delete_action = bind(menu.addAction("Delete", self.delete), "remove")
        menu.addSeparator()
        self.import_action = bind(menu.addAction("Import from file…", self.import_file), "import")
        self.export_action = bind(menu.addAction("Export to file…", self.export_file), "export")
        menu.aboutToShow.connect(self._update_actions)
        self.menu_button.setMenu(menu)
        self.menu = menu
        label = QLabel("Preset:")
        label.setBuddy(self.combo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.menu_button)
        self.reload()

    # ------------------------------------------------------------- listing
    def reload(self, select: str | None = None) -> None:
        presets = _presets()
        selected = select if select is not None else self.current_name()
        self._presets.clear()
        self._user_paths.clear()
        self._loading = True
        try:
            self.combo.clear()
            self.combo.addItem("Custom settings", CUSTOM)
            builtins = presets.builtin_presets()
            for name, preset in builtins.items():
                self._presets[name] = preset
                self.combo.addItem(name, name)
                self.combo.setItemData(self.combo.count() - 1, getattr(preset, "description", ""), Qt.ItemDataRole.ToolTipRole)
            user = self._user_presets()
            if user:
                self.combo.insertSeparator(self.combo.count())
            for name, (preset, path) in user.items():
                key = f"user:{name}"
                self._presets[key] = preset
                self._user_paths[key] = path
                self.combo.addItem(icon("preset"), name, key)
                self.combo.setItemData(self.combo.count() - 1, getattr(preset, "description", "") or path, Qt.ItemDataRole.ToolTipRole)
            self.select(selected)
        finally:
            self._loading = False

    def _user_presets(self) -> dict[str, tuple[object, str]]:
        errors: list[tuple[str, str]] = []
        found = {p.name: (p, p.path or "") for p in _presets().user_presets(errors)}
        for path, message in errors:
            self.message.emit(f"Preset file {os.path.basename(path)} was not loaded: {message}")
        return found

    def current_name(self) -> str:
        return self.combo.currentData() or CUSTOM

    def current_preset(self):
        return self._presets.get(self.current_name())

    def select(self, key: str | None) -> None:
        index = self.combo.findData(key or CUSTOM)
        self.combo.setCurrentIndex(max(0, index))

    def mark_custom(self) -> None:
        """The editor no longer matches the chosen preset."""
        if self.current_name() != CUSTOM:
            self._loading = True
            self.combo.setCurrentIndex(0)
            self._loading = False

    def keys(self) -> list[str]:
        return [self.combo.itemData(i) for i in range(self.combo.count()) if self.combo.itemData(i)]

    def _activated(self, index: int) -> None:
        if self._loading:
            return
        preset = self._presets.get(self.combo.itemData(index))
        if self.combo.itemData(index) == CUSTOM:
            self.custom_chosen.emit()
        elif preset is not None:
            self.preset_chosen.emit(preset)

    def _update_actions(self) -> None:
        is_user = self.current_name() in self._user_paths
        self.rename_action.setEnabled(is_user)
        self.delete_action.setEnabled(is_user)

    # ------------------------------------------------------------- actions
    def _ask_name(self, title: str, label: str, text: str) -> str | None:
        name, ok = QInputDialog.getText(self, title, label, text=text)
        name = name.strip()
        return name if ok and name else None

    def save_as(self, name: str | None = None) -> str | None:
        """Save the editor's settings as a user preset; returns its key."""
        name = name or self._ask_name("Save preset", "Name of the new preset:", "My preset")
        if not name:
            return None
        presets = _presets()
        try:
            preset = self._current(name, "")
            presets.save_user_preset(preset, replace=f"user:{name}" in self._user_paths)
        except Exception as exc:
            self._error("The preset was not saved", exc)
            return None
        self.reload(select=f"user:{preset.name}")
        self.message.emit(f"Saved preset “{name}”.")
        return f"user:{preset.name}"

    def rename(self, new_name: str | None = None) -> None:
        key = self.current_name()
        if key not in self._user_paths:
            return
        preset = self._presets[key]
        new_name = new_name or self._ask_name("Rename preset", "New name:", preset.name)
        if not new_name or new_name == preset.name:
            return
        try:
            renamed = _presets().rename_user_preset(preset.name, new_name)
        except Exception as exc:
            self._error("The preset was not renamed", exc)
            return
        self.reload(select=f"user:{renamed.name}")
        self.message.emit(f"Renamed preset to “{renamed.name}”.")

    def delete(self, confirm: bool = True) -> None:
        key = self.current_name()
        if key not in self._user_paths:
            return
        name = self._presets[key].name
        if confirm and QMessageBox.question(self, "Delete preset", f"Delete the preset “{name}”?") != QMessageBox.StandardButton.Yes:
            return
        try:
            _presets().delete_user_preset(name)
        except Exception as exc:
            self._error("The preset was not deleted", exc)
            return
        self.reload(select=CUSTOM)
        self.message.emit(f"Deleted preset “{name}”.")

    def import_file(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import preset", "", "Presets (*.json)")
        if not path:
            return
        presets = _presets()
        try:
            preset = presets.load_preset(path)
            presets.save_user_preset(preset)
        except Exception as exc:
            self._error(f"{os.path.basename(path)} could not be imported", exc)
            return
        self.reload(select=f"user:{preset.name}")
        self.message.emit(f"Imported preset “{preset.name}”.")
        self.preset_chosen.emit(preset)

    def export_file(self, path: str | None = None) -> None:
        preset = self.current_preset()
        if preset is None:
            preset = self._current("My preset", "")
        if path is None:
            suggested = _presets().preset_file_name(preset.name)
            path, _ = QFileDialog.getSaveFileName(self, "Export preset", suggested, "Presets (*.json)")
        if not path:
            return
        try:
            _presets().save_preset(preset, path)
        except Exception as exc:
            self._error("The preset was not exported", exc)
            return
        self.message.emit(f"Exported preset “{preset.name}” to {path}.")

    def _error(self, what: str, exc: Exception) -> None:
        text = f"{what}: {exc}"
        self.message.emit(text)
        box = QMessageBox(QMessageBox.Icon.Warning, "Presets", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
