"""Output settings: where files go, what they are called, what happens to
files that already exist. Produces an OutputSpec (the plan's settings)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QWidget,
)

from gui_app.core.specs import Destination, OutputSpec, OverwritePolicy

from ..icons import bind
from .param_form import field_with_button, settings_form

def _tokens() -> list[tuple[str, str]]:
    """Template tokens for the help menu, from the plan (the one source)."""
    from gui_app.core.plan import TOKENS

    shown = []
    for token, meaning in TOKENS.items():
        if token == "exif:Tag":
            token = "exif:Model"
        shown.append(("{" + token + "}", meaning))
    return shown


_DESTINATIONS = (
    (Destination.FOLDER.value, "Into one folder"),
    (Destination.SUBFOLDER.value, "Into a sub-folder beside each original"),
    (Destination.BESIDE.value, "Beside the originals"),
)
_OVERWRITE = (
    (OverwritePolicy.SKIP.value, "Skip the file (keep the existing one)"),
    (OverwritePolicy.RENAME.value, "Keep both (add a number)"),
    (OverwritePolicy.OVERWRITE.value, "Replace the existing file"),
)


class OutputSettings(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._loading = False
        form = settings_form(self)
        self._form = form

        self.destination = QComboBox()
        for value, label in _DESTINATIONS:
            self.destination.addItem(label, value)
        self.destination.setAccessibleName("Where outputs go")
        self.destination.setToolTip("Write every output into one folder, or next to each original")
        form.addRow("Save:", self.destination)

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Choose an output folder")
        self.folder.setAccessibleName("Output folder")
        self.folder.setToolTip("The folder outputs are written into (created if needed)")
        self.folder.setClearButtonEnabled(True)
        browse = QToolButton()
        bind(browse, "open-folder")
        browse.setToolTip("Choose the output folder")
        browse.setAccessibleName("Choose the output folder")
        browse.clicked.connect(self.choose_folder)
        self.browse_button = browse
        form.addRow("Folder:", field_with_button(self.folder, browse))
        self._folder_row = form.rowCount() - 1

        self.subfolder = QLineEdit("processed")
        self.subfolder.setAccessibleName("Sub-folder name")
        self.subfolder.setToolTip("Name of the sub-folder created beside each original")
        form.addRow("Sub-folder:", self.subfolder)
        self._subfolder_row = form.rowCount() - 1

        self.keep_structure = QCheckBox("Keep the sub-folder structure")
        self.keep_structure.setToolTip("Recreate the input's sub-folders inside the output folder")
        self.keep_structure.setChecked(True)
        form.addRow("", self.keep_structure)
        self._structure_row = form.rowCount() - 1

        self.template = QLineEdit("{stem}")
        self.template.setAccessibleName("File name template")
        self.template.setToolTip("Output name without extension. Click the { } button for the tokens you can use.")
        tokens = QToolButton()
        bind(tokens, "token")
        tokens.setToolTip("Insert a token into the name")
        tokens.setAccessibleName("Insert a name token")
        tokens.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        tokens.setObjectName("iconMenuButton")
        menu = QMenu(tokens)
        for token, meaning in _tokens():
            action = menu.addAction(f"{token}   {meaning}")
            action.setData(token)
            action.triggered.connect(self._insert_token)
        tokens.setMenu(menu)
        self.token_button = tokens
        self.token_menu = menu
        form.addRow("Name:", field_with_button(self.template, tokens))

        self.example = QLabel("")
        self.example.setProperty("role", "hint")
        self.example.setWordWrap(True)
        self.example.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.example.setAccessibleName("Example output name")
        form.addRow("", self.example)

        self.overwrite = QComboBox()
        for value, label in _OVERWRITE:
            self.overwrite.addItem(label, value)
        self.overwrite.setAccessibleName("When a file already exists")
        self.overwrite.setToolTip("What to do when an output file already exists")
        form.addRow("If it exists:", self.overwrite)

        self.keep_dates = QCheckBox("Keep the original file dates")
        self.keep_dates.setToolTip("Give each output the modification time of its original")
        form.addRow("", self.keep_dates)

        for signal in (self.destination.currentIndexChanged, self.overwrite.currentIndexChanged):
            signal.connect(self._changed)
        for edit in (self.folder, self.subfolder, self.template):
            edit.textChanged.connect(self._changed)
        for check in (self.keep_structure, self.keep_dates):
            check.toggled.connect(self._changed)
        self._update_rows()

    def _insert_token(self) -> None:
        action = self.sender()
        self.template.insert(str(action.data()))
        self.template.setFocus()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the output folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _changed(self, *_args) -> None:
        self._update_rows()
        if not self._loading:
            self.changed.emit()

    def _update_rows(self) -> None:
        dest = self.destination.currentData()
        self._form.setRowVisible(self._folder_row, dest == Destination.FOLDER.value)
        self._form.setRowVisible(self._structure_row, dest == Destination.FOLDER.value)
        self._form.setRowVisible(self._subfolder_row, dest == Destination.SUBFOLDER.value)

    def set_example(self, text: str, problem: bool = False) -> None:
        self.example.setProperty("role", "error" if problem else "hint")
        self.example.style().unpolish(self.example)
        self.example.style().polish(self.example)
        self.example.setText(text)

    def output_spec(self) -> OutputSpec:
        return OutputSpec(
            out_dir=self.folder.text().strip() or None,
            destination=self.destination.currentData(),
            subfolder_name=self.subfolder.text().strip() or "processed",
            keep_structure=self.keep_structure.isChecked(),
            template=self.template.text().strip() or "{stem}",
            overwrite=self.overwrite.currentData(),
            keep_dates=self.keep_dates.isChecked(),
        )

    def set_output_spec(self, spec: OutputSpec) -> None:
        self._loading = True
        try:
            self.folder.setText(spec.out_dir or "")
            self._select(self.destination, spec.destination)
            self.subfolder.setText(spec.subfolder_name)
            self.keep_structure.setChecked(spec.keep_structure)
            self.template.setText(spec.template)
            self._select(self.overwrite, spec.overwrite)
            self.keep_dates.setChecked(spec.keep_dates)
        finally:
            self._loading = False
        self._update_rows()
        self.changed.emit()

    def apply_overrides(self, overrides: dict) -> None:
        """Apply a preset's output overrides (only the keys it names)."""
        data = self.output_spec().to_dict()
        data.update({k: v for k, v in overrides.items() if k in data and k not in ("out_dir",)})
        self.set_output_spec(OutputSpec(**data))

    @staticmethod
    def _select(combo: QComboBox, value) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)
