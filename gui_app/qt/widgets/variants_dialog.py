"""Several outputs per image (a fan-out, like the "responsive-web" preset).

Each output has a name suffix and steps of its own that run after the main
steps: ``photo_480w.webp``, ``photo_960w.webp``, ``photo_fallback.jpg`` from
one ``photo.jpg``. The dialog edits that list; the rules (plain suffixes,
none used twice, at most 16 outputs, valid steps) are the preset files' own,
checked by :func:`gui_app.core.presets.parse_variants`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui_app.core.presets import MAX_VARIANTS, parse_variants
from gui_app.core.specs import Pipeline, SpecError

from ..icons import bind
from .pipeline_editor import PipelineEditor

Variants = tuple[tuple[str, Pipeline], ...]


def describe_variants(variants: Variants) -> str:
    """One line for the Steps tab: what the outputs are called."""
    suffixes = ", ".join(s or "(no suffix)" for s, _ in variants)
    return f"Each image is written {len(variants)} times, with these name suffixes: {suffixes}. " \
           f"The steps below run first, then each output's own steps."


class VariantsDialog(QDialog):
    """Edit the outputs written per image. :meth:`variants` after accept()."""

    def __init__(self, variants: Variants, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Outputs per image")
        self.setObjectName("variantsDialog")
        self._rows: list[list] = [[suffix, pipeline] for suffix, pipeline in variants]
        self._shown = -1
        self._result: Variants = tuple(variants)

        intro = QLabel("Write each image several times, for example in several sizes or formats. "
                       "Each output runs the main steps first, then its own steps below, and adds "
                       "its suffix to the file name. With no outputs here, each image is written once.")
        intro.setWordWrap(True)
        intro.setProperty("role", "hint")

        self.list = QListWidget()
        self.list.setAccessibleName("Outputs per image")
        self.list.currentRowChanged.connect(self._show)
        self.add_button = QPushButton("Add output")
        bind(self.add_button, "add")
        self.add_button.setToolTip("Add an output (a copy of the selected one's steps)")
        self.add_button.clicked.connect(self.add_output)
        self.remove_button = QPushButton("Remove")
        bind(self.remove_button, "remove")
        self.remove_button.setToolTip("Remove the selected output")
        self.remove_button.clicked.connect(self.remove_output)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        left_layout.addLayout(row)

        self.suffix = QLineEdit()
        self.suffix.setAccessibleName("Name suffix")
        self.suffix.setPlaceholderText("_480w")
        self.suffix.setToolTip("Added to the file name: photo_480w.webp")
        self.suffix.textEdited.connect(self._suffix_edited)
        self.editor = PipelineEditor()
        self.editor.pipeline_changed.connect(self._validate)
        right = QWidget()
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Name suffix:", self.suffix)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(form)
        right_layout.addWidget(self.editor, 1)
        self.right = right

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 420])

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setProperty("role", "error")
        self.error_label.setAccessibleName("Outputs problem")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(split, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(720, 560)

        for suffix, _ in self._rows:
            self.list.addItem(self._label(suffix))
        if self._rows:
            self.list.setCurrentRow(0)
        self._show(self.list.currentRow())

    # ------------------------------------------------------------ editing
    @staticmethod
    def _label(suffix: str) -> str:
        return suffix or "(no suffix)"

    def _keep_shown(self) -> None:
        """Store what the editor shows back into its row."""
        if 0 <= self._shown < len(self._rows):
            self._rows[self._shown] = [self.suffix.text(), self.editor.pipeline()]

    def _show(self, row: int) -> None:
        self._keep_shown()
        self._shown = row
        has_row = 0 <= row < len(self._rows)
        self.right.setEnabled(has_row)
        self.remove_button.setEnabled(has_row)
        self.add_button.setEnabled(len(self._rows) < MAX_VARIANTS)
        if has_row:
            suffix, pipeline = self._rows[row]
            self.suffix.setText(suffix)
            self.editor.set_pipeline(pipeline)
        else:
            self.suffix.clear()
            self.editor.set_pipeline(Pipeline())
        self._validate()

    def _suffix_edited(self, text: str) -> None:
        item = self.list.item(self._shown)
        if item is not None:
            item.setText(self._label(text))
        self._validate()

    def add_output(self) -> None:
        self._keep_shown()
        taken = {s.casefold() for s, _ in self._rows}
        n = len(self._rows) + 1
        while f"_{n}".casefold() in taken:
            n += 1
        steps = self._rows[self._shown][1] if 0 <= self._shown < len(self._rows) else Pipeline()
        self._rows.append([f"_{n}", steps])
        self.list.addItem(self._label(f"_{n}"))
        self.list.setCurrentRow(len(self._rows) - 1)

    def remove_output(self) -> None:
        row = self._shown
        if not 0 <= row < len(self._rows):
            return
        self._shown = -1  # do not store the editor into the removed row
        del self._rows[row]
        self.list.takeItem(row)  # moves the current row: _show() follows
        if not self._rows:
            self._show(-1)

    # --------------------------------------------------------- validation
    def _check(self) -> tuple[Variants | None, str | None]:
        """(the validated outputs, None) or (None, a sentence about the first problem)."""
        self._keep_shown()
        data = [{"suffix": suffix, "steps": pipeline.to_list()} for suffix, pipeline in self._rows]
        try:
            return parse_variants(data), None
        except SpecError as exc:
            return None, self._describe(exc)

    def _describe(self, exc: SpecError) -> str:
        field = exc.field
        if field.startswith("variants[") and "]" in field:
            index = int(field[len("variants["):field.index("]")])
            suffix = self._rows[index][0] if index < len(self._rows) else ""
            what = field[field.index("]") + 2:]
            name = f"Output {self._label(suffix)}"
            if what.startswith("steps[") and "]" in what:
                step = int(what[len("steps["):what.index("]")]) + 1
                setting = what[what.index("]") + 2:].replace("_", " ")
                return f"{name}, step {step}: {setting + ' ' if setting else ''}{exc.reason}."
            return f"{name}: the {what.replace('suffix', 'name suffix') or 'output'} {exc.reason}."
        return f"Outputs: {exc.reason}."

    def _validate(self) -> None:
        _variants, problem = self._check()
        self.error_label.setText(problem or "")
        self.error_label.setVisible(bool(problem))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)

    def accept(self) -> None:
        variants, problem = self._check()
        if problem is not None:
            self._validate()
            return
        self._result = variants
        super().accept()

    def variants(self) -> Variants:
        """The outputs as accepted (the initial ones until then)."""
        return self._result
