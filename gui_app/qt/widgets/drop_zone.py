"""Drag and drop: the empty-state invitation and the highlight shown while
something is dragged over the window.

The window itself accepts drops anywhere (``DropTarget`` mixin logic lives in
the main window); these widgets only draw.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QMimeData, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ..icons import bind, mix, pixmap


def local_paths(mime: QMimeData) -> list[str]:
    """The local files and folders in a drag (remote URLs are ignored)."""
    if not mime.hasUrls():
        return []
    paths = []
    for url in mime.urls():
        if url.isLocalFile():
            path = url.toLocalFile()
            if path and os.path.exists(path):
                paths.append(os.path.normpath(path))
    return paths


class EmptyState(QWidget):
    """What the input panel shows before anything is added: a dashed drop
    target with a short invitation and buttons for people who do not drag."""

    add_folder = Signal()
    add_files = Signal()
    open_samples = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAccessibleName("Drop photos or folders here")
        self._highlight = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 32, 32, 32)
        layout.addStretch(3)
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.picture)
        title = QLabel("Drop photos or folders here")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setWeight(QFont.Weight.DemiBold)
        title.setFont(font)
        layout.addSpacing(8)
        layout.addWidget(title)
        hint = QLabel("JPEG, PNG, WebP, AVIF, HEIC, TIFF, GIF and BMP.\nFolders are searched with their sub-folders.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setProperty("role", "hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addSpacing(14)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.folder_button = bind(QPushButton("Add folder…"), "add-folder")
        self.folder_button.setToolTip("Choose a folder of images (Ctrl+Shift+O)")
        self.folder_button.clicked.connect(self.add_folder)
        self.files_button = bind(QPushButton("Add files…"), "add-files")
        self.files_button.setToolTip("Choose image files (Ctrl+O)")
        self.files_button.clicked.connect(self.add_files)
        for b in (self.folder_button, self.files_button):
            b.setMinimumHeight(30)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.samples_link = QLabel('<a href="#samples">or try the sample photos</a>')
        self.samples_link.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_link.setAccessibleName("Open the sample photos")
        self.samples_link.linkActivated.connect(lambda _href: self.open_samples.emit())
        layout.addSpacing(6)
        layout.addWidget(self.samples_link)
        layout.addStretch(4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._refresh_picture()

    def _refresh_picture(self) -> None:
        accent = self.palette().color(QPalette.ColorRole.Highlight).name()
        self.picture.setPixmap(pixmap("drop", 64, accent))

    def set_highlight(self, on: bool) -> None:
        self._highlight = on
        self.update()

    def changeEvent(self, event) -> None:
        if event.type() == event.Type.PaletteChange:
            self._refresh_picture()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        accent = palette.color(QPalette.ColorRole.Highlight)
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        rect = QRectF(self.rect()).adjusted(14, 14, -14, -14)
        fill = mix(base, accent, 0.12 if self._highlight else 0.03)
        border = accent if self._highlight else mix(base, text, 0.3)
        pen = QPen(border, 2.0 if self._highlight else 1.6)
        pen.setStyle(Qt.PenStyle.DashLine)
        pen.setDashPattern([5, 4])
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 14, 14)


class DropOverlay(QWidget):
    """A translucent "drop to add" highlight over the window while dragging."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        fill = QColor(accent)
        fill.setAlpha(40)
        pen = QPen(accent, 3)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(8, 8, -8, -8), 16, 16)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Drop to add these images")
