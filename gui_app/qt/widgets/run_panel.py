"""Run controls (worker mode, count, Start/Cancel), the progress line and the log.

The progress bar and text are updated from the controller's coalesced
signals (at most 20 times a second); nothing here blocks.
"""

from __future__ import annotations

import os
import time

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..compat import human_duration
from ..icons import bind
from .param_form import settings_form


def unfinished_counts(summary) -> list[str]:
    """The non-zero failed / skipped / cancelled counts of a batch, as words."""
    counts = (("failed", summary.failed), ("skipped", summary.skipped), ("cancelled", summary.cancelled))
    return [f"{n} {word}" for word, n in counts if n]

MODE_LABELS = (
    ("auto", "Auto (choose for me)"),
    ("processes", "Processes (fastest for photos)"),
    ("threads", "Threads"),
    ("sequential", "One at a time"),
    ("dask", "Dask cluster"),
)
TRANSFER_LABELS = (
    ("shared", "Workers open the files (shared drive)"),
    ("bytes", "Send the image data to the workers"),
)


class RunSettings(QWidget):
    """Worker mode, worker count, and for a Dask cluster its scheduler
    address and how the images reach the workers (:meth:`transfer`)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = settings_form(self)
        self._form = form
        self.mode = QComboBox()
        for value, label in MODE_LABELS:
            self.mode.addItem(label, value)
        self.mode.setAccessibleName("Worker mode")
        self.mode.setToolTip("How the work is spread: several processes use every core; Auto decides from the files")
        form.addRow("Workers:", self.mode)
        self.workers = QSpinBox()
        self.workers.setRange(0, 256)
        self.workers.setSpecialValueText("Automatic")
        self.workers.setAccessibleName("Worker count")
        self.workers.setToolTip(f"How many images are processed at once (Automatic = {os.cpu_count() or 1} on this computer)")
        form.addRow("How many:", self.workers)
        self.scheduler = QLineEdit()
        self.scheduler.setPlaceholderText("tcp://scheduler:8786")
        self.scheduler.setAccessibleName("Dask scheduler address")
        self.scheduler.setToolTip("Address of the Dask scheduler (leave empty for a local cluster)")
        form.addRow("Scheduler:", self.scheduler)
        self._scheduler_row = form.rowCount() - 1
        self.transfer_mode = QComboBox()
        for value, label in TRANSFER_LABELS:
            self.transfer_mode.addItem(label, value)
        self.transfer_mode.setAccessibleName("How images reach the Dask workers")
        self.transfer_mode.setToolTip("Shared drive: every worker can open the input and output folders (fastest). "
                                      "Send the data: this computer reads and writes the files and the workers "
                                      "only get the bytes (for workers without access to your folders).")
        form.addRow("Files:", self.transfer_mode)
        self._transfer_row = form.rowCount() - 1
        self.transfer_mode.currentIndexChanged.connect(self._changed)
        self.mode.currentIndexChanged.connect(self._changed)
        self.workers.valueChanged.connect(self._changed)
        self.scheduler.textChanged.connect(self._changed)
        self._update()

    def _changed(self, *_):
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        dask = self.mode.currentData() == "dask"
        self._form.setRowVisible(self._scheduler_row, dask)
        self._form.setRowVisible(self._transfer_row, dask)

    def values(self) -> tuple[str, int | None, str | None]:
        workers = self.workers.value() or None
        return self.mode.currentData(), workers, (self.scheduler.text().strip() or None)

    def transfer(self) -> str:
        """The Dask transfer mode: "shared" (default) or "bytes"."""
        return self.transfer_mode.currentData()

    def set_transfer(self, transfer: str) -> None:
        index = self.transfer_mode.findData(transfer)
        self.transfer_mode.setCurrentIndex(max(0, index))

    def set_values(self, mode: str, workers: int | None, scheduler: str | None) -> None:
        index = self.mode.findData(mode)
        if index >= 0:
            self.mode.setCurrentIndex(index)
        self.workers.setValue(workers or 0)
        self.scheduler.setText(scheduler or "")


class RunBar(QWidget):
    """Start/Cancel buttons and the overall progress: count, images/s, ETA."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.start_button = bind(QPushButton("Start"), "start", "#ffffff")
        self.start_button.setObjectName("startButton")
        self.start_button.setToolTip("Process every input (Ctrl+Return)")
        self.start_button.setAccessibleName("Start the batch")
        self.start_button.setMinimumWidth(110)
        self.start_button.setMinimumHeight(32)
        self.cancel_button = bind(QPushButton("Cancel"), "cancel")
        self.cancel_button.setToolTip("Stop the batch (Esc); finished files are kept")
        self.cancel_button.setAccessibleName("Cancel the batch")
        self.cancel_button.setMinimumHeight(32)
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Batch progress")
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setMinimumHeight(22)
        self.text = QLabel("Ready")
        self.text.setAccessibleName("Batch progress details")
        self.text.setMinimumWidth(260)
        self.repaints = 0  # how many progress updates were drawn (tests check coalescing)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(10)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.text)
        layout.addWidget(self.cancel_button)
        layout.addWidget(self.start_button)
        self._started_at = 0.0

    def batch_started(self, total: int) -> None:
        self._started_at = time.monotonic()
        self.repaints = 0
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.bar.setFormat("%v / %m")
        self.text.setText("Starting…")

    def show_progress(self, p) -> None:
        self.repaints += 1
        total = p.total or self.bar.maximum()
        if self.bar.maximum() != max(1, total):
            self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(p.done, total))
        rate = f"{p.images_per_s:.1f} images/s" if p.images_per_s else "measuring speed…"
        eta = f"{human_duration(p.eta_s)} left" if p.eta_s is not None and p.done else ""
        self.text.setText("  ·  ".join(x for x in (f"{p.done} of {total}", rate, eta) if x))

    def batch_finished(self, summary) -> None:
        self.bar.setRange(0, max(1, summary.total))
        self.bar.setValue(summary.total - summary.cancelled)
        parts = [f"{summary.ok} done", *unfinished_counts(summary)]
        parts.append(f"in {human_duration(summary.seconds)}")
        self.text.setText(", ".join(parts))


class LogPane(QWidget):
    """The log: one human sentence per event, newest at the bottom."""

    MAX_LINES = 5000

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(self.MAX_LINES)
        self.text.setAccessibleName("Log")
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(8.0, QFont().pointSizeF() * 0.95))
        self.text.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.text)

    def add(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.add_lines([f"{stamp}  {message}"])

    def add_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        self.text.appendPlainText("\n".join(lines))
        self.text.moveCursor(QTextCursor.MoveOperation.End)

    def lines(self) -> list[str]:
        return self.text.toPlainText().splitlines()
