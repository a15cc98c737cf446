"""Before/after preview of the selected input with the real pipeline applied.

The engine's ``render_preview`` runs in a helper thread; edits restart a
250 ms debounce timer, and a generation counter drops results that arrive
after the settings changed again, so the picture always matches the current
settings and the UI thread never decodes anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui_app.core.specs import Limits, Pipeline

from .. import tasks
from ..compat import human_size
from ..icons import bind, mix

DEBOUNCE_MS = 250
#: Longest side the preview renders at: big enough for a sharp 100 % crop on
#: most screens, small enough to stay interactive on 24 MP photos.
PREVIEW_MAX_SIDE = 2048


@dataclass
class PreviewData:
    before: QImage
    after: QImage
    in_width: int
    in_height: int
    in_format: str
    in_bytes: int
    out_width: int
    out_height: int
    out_format: str
    out_bytes: int


def _to_qimage(image) -> QImage:
    from .input_list import displayable

    image = displayable(image) if image.mode != "RGBA" else image
    data = image.tobytes("raw", "RGBA")
    return QImage(data, image.width, image.height, image.width * 4, QImage.Format.Format_RGBA8888).copy()


def compute_preview(path: str, pipeline: Pipeline, limits: Limits, max_side: int | None = PREVIEW_MAX_SIDE) -> PreviewData:
    """Runs in a helper thread: decode the original, apply the pipeline.
    ``max_side=None`` renders the real output size (the 100 % view)."""
    from PIL import ImageOps

    from gui_app.core import engine, imageio
    from gui_app.core.formats import FORMATS, by_pillow_name

    result = engine.render_preview(path, pipeline, limits, max_side=max_side)
    original = imageio.open_image(path, limits)
    try:
        fmt = by_pillow_name(original.format)
        in_format = fmt.label if fmt else (original.format or "")
        in_w, in_h = original.size
        if max_side:
            try:
                original.draft("RGB", (max_side, max_side))
            except Exception:
                pass
        before = ImageOps.exif_transpose(original)
        if before.width < before.height and in_w > in_h or before.width > before.height and in_w < in_h:
            in_w, in_h = in_h, in_w
        if max_side:
            before.thumbnail((max_side, max_side))
        before_q = _to_qimage(before)
    finally:
        original.close()
    out_fmt = FORMATS.get(str(result.format)) or by_pillow_name(str(result.format).upper())
    out_bytes = int(result.size_bytes)
    if getattr(result, "scaled", False) and result.image.width and result.image.height:
        # The preview encoded a reduced copy: scale its size by the pixel
        # ratio for an estimate of the real output (labelled "about").
        ratio = (result.width * result.height) / (result.image.width * result.image.height)
        out_bytes = int(out_bytes * ratio)
    return PreviewData(
        before=before_q,
        after=_to_qimage(result.image),
        in_width=in_w,
        in_height=in_h,
        in_format=in_format,
        in_bytes=os.path.getsize(path),
        out_width=int(result.width),
        out_height=int(result.height),
        out_format=out_fmt.label if out_fmt else str(result.format),
        out_bytes=out_bytes,
    )


class CompareView(QWidget):
    """Paints before and after: a split with a draggable divider, or side by
    side; zoom to fit or 100 % (drag to pan)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.side_by_side = False
        self.actual_size = False
        self.split = 0.5
        self.message = "Select an image to preview it"
        self._pan = QPointF(0, 0)
        self._drag: str | None = None
        self._last = QPointF()
        self.setMinimumSize(QSize(240, 180))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setAccessibleName("Before and after preview")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def set_images(self, before: QImage | None, after: QImage | None) -> None:
        self.before, self.after = before, after
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.update()

    def set_side_by_side(self, on: bool) -> None:
        self.side_by_side = on
        self.update()

    def set_actual_size(self, on: bool) -> None:
        self.actual_size = on
        self._pan = QPointF(0, 0)
        self.update()

    # ---------------------------------------------------------- geometry
    def _target(self, image: QImage, area: QRectF) -> QRectF:
        w, h = image.width(), image.height()
        if not w or not h:
            return QRectF()
        if self.actual_size:
            ratio = self.devicePixelRatioF() or 1.0
            scale = 1.0 / ratio
        else:
            scale = min(area.width() / w, area.height() / h, 4.0)
        size_w, size_h = w * scale, h * scale
        x = area.center().x() - size_w / 2 + self._pan.x()
        y = area.center().y() - size_h / 2 + self._pan.y()
        return QRectF(x, y, size_w, size_h)

    def _divider_x(self, target: QRectF) -> float:
        return target.left() + target.width() * self.split

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        painter.fillRect(self.rect(), mix(base, text, 0.06))
        if self.after is None or self.before is None:
            painter.setPen(palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect().adjusted(16, 16, -16, -16), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        area = QRectF(self.rect()).adjusted(10, 10, -10, -10)
        if self.side_by_side:
            half = (area.width() - 10) / 2
            left = QRectF(area.left(), area.top(), half, area.height())
            right = QRectF(area.left() + half + 10, area.top(), half, area.height())
            for image, box, label in ((self.before, left, "Before"), (self.after, right, "After")):
                painter.save()
                painter.setClipRect(box)
                target = self._target(image, box)
                self._checker(painter, target)
                painter.drawImage(target, image)
                painter.restore()
                self._badge(painter, box.topLeft() + QPointF(8, 8), label)
            return
        target = self._target(self.after, area)
        self._checker(painter, target)
        divider = self._divider_x(target)
        painter.save()
        painter.setClipRect(QRectF(target.left(), target.top(), divider - target.left(), target.height()))
        painter.drawImage(target, self.before)
        painter.restore()
        painter.save()
        painter.setClipRect(QRectF(divider, target.top(), target.right() - divider, target.height()))
        painter.drawImage(target, self.after)
        painter.restore()
        accent = palette.color(QPalette.ColorRole.Highlight)
        painter.setPen(QPen(QColor("white"), 3))
        painter.drawLine(QPointF(divider, target.top()), QPointF(divider, target.bottom()))
        painter.setPen(QPen(accent, 1.5))
        painter.drawLine(QPointF(divider, target.top()), QPointF(divider, target.bottom()))
        knob = QPointF(divider, target.center().y())
        painter.setBrush(accent)
        painter.setPen(QPen(QColor("white"), 2))
        painter.drawEllipse(knob, 9, 9)
        visible = target.intersected(area)
        self._badge(painter, QPointF(max(visible.left(), area.left()) + 8, visible.top() + 8), "Before")
        self._badge(painter, QPointF(min(visible.right(), area.right()) - 8, visible.top() + 8), "After", right=True)

    def _checker(self, painter: QPainter, target: QRectF) -> None:
        """A light checkerboard behind images with transparency."""
        if self.after is not None and self.after.hasAlphaChannel():
            size = 8
            painter.save()
            painter.setClipRect(target)
            light, dark = QColor("#ffffff"), QColor("#d8d8d8")
            y = target.top()
            row = 0
            while y < target.bottom():
                x = target.left() + (size if row % 2 else 0)
                painter.fillRect(QRectF(target.left(), y, target.width(), size), light)
                while x < target.right():
                    painter.fillRect(QRectF(x, y, size, size), dark)
                    x += size * 2
                y += size
                row += 1
            painter.restore()

    def _badge(self, painter: QPainter, at: QPointF, text: str, right: bool = False) -> None:
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 14, metrics.height() + 6
        box = QRectF(at.x() - (w if right else 0), at.y(), w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 5, 5)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    # ------------------------------------------------------------- mouse
    def mousePressEvent(self, event) -> None:
        if self.after is None:
            return
        pos = event.position()
        target = self._target(self.after, QRectF(self.rect()).adjusted(10, 10, -10, -10))
        if not self.side_by_side and abs(pos.x() - self._divider_x(target)) < 14:
            self._drag = "split"
        elif self.actual_size:
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        else:
            self._drag = "split" if not self.side_by_side else None
            self._move_split(pos.x(), target)
        self._last = pos

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self.after is None:
            return
        target = self._target(self.after, QRectF(self.rect()).adjusted(10, 10, -10, -10))
        if self._drag == "split":
            self._move_split(pos.x(), target)
        elif self._drag == "pan":
            self._pan += pos - self._last
            self._last = pos
            self.update()
        elif not self.side_by_side and abs(pos.x() - self._divider_x(target)) < 14:
            self.setCursor(Qt.CursorShape.SplitHCursor)
        else:
            self.setCursor(Qt.CursorShape.OpenHandCursor if self.actual_size else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event) -> None:
        self._drag = None
        self.unsetCursor()

    def _move_split(self, x: float, target: QRectF) -> None:
        if target.width() > 0:
            self.split = min(1.0, max(0.0, (x - target.left()) / target.width()))
            self.update()

    def keyPressEvent(self, event) -> None:
        step = {Qt.Key.Key_Left: -0.05, Qt.Key.Key_Right: 0.05}.get(event.key())
        if step is not None and not self.side_by_side:
            self.split = min(1.0, max(0.0, self.split + step))
            self.update()
            return
        super().keyPressEvent(event)


class PreviewPanel(QWidget):
    """The preview tab: view mode and zoom buttons, the picture, and a line
    with the output's dimensions and predicted size."""

    rendered = Signal()  # a preview for the current settings is on screen

    def __init__(self, parent: QWidget | None = None, limits: Limits | None = None):
        super().__init__(parent)
        self.limits = limits or Limits()
        self._path: str | None = None
        self._pipeline: Pipeline | None = None
        self._generation = 0
        self.data: PreviewData | None = None
        self.error: str | None = None
        self.busy = False

        self.view = CompareView()
        self.split_button = self._toggle("split", "Split", "Before and after in one picture; drag the divider")
        self.side_button = self._toggle("side-by-side", "Side by side", "Before and after next to each other")
        self.fit_button = self._toggle("zoom-fit", "Fit", "Zoom to fit the window")
        self.actual_button = self._toggle("zoom-100", "100 %", "Show actual pixels (drag to pan)")
        self.split_button.setChecked(True)
        self.fit_button.setChecked(True)
        mode = QButtonGroup(self)
        mode.addButton(self.split_button)
        mode.addButton(self.side_button)
        zoom = QButtonGroup(self)
        zoom.addButton(self.fit_button)
        zoom.addButton(self.actual_button)
        self.side_button.toggled.connect(self.view.set_side_by_side)
        self.actual_button.toggled.connect(self.view.set_actual_size)
        # 100 % shows the real output pixels: render again at full size.
        self.actual_button.toggled.connect(lambda _on: self.request(self._path, self._pipeline))

        self.info = QLabel("")
        self.info.setAccessibleName("Preview details")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Wraps rather than forcing the preview column to the width of its
        # longest line (which squeezed the image list on a 1366-px screen).
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignCenter)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        for b in (self.split_button, self.side_button):
            bar.addWidget(b)
        bar.addSpacing(12)
        for b in (self.fit_button, self.actual_button):
            bar.addWidget(b)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.info)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._render_now)

    def _toggle(self, icon_name: str, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        bind(button, icon_name)
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.setCheckable(True)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return button

    def request(self, path: str | None, pipeline: Pipeline | None) -> None:
        """Show ``path`` with ``pipeline`` (debounced)."""
        self._path, self._pipeline = path, pipeline
        self._generation += 1
        if path is None:
            self._timer.stop()
            self.data = None
            self.view.set_images(None, None)
            self.view.set_message("Select an image to preview it")
            self.info.setText("")
            return
        if pipeline is None:
            self.view.set_message("Fix the highlighted step settings to see a preview")
            self.info.setText("")
            self.view.set_images(None, None)
            return
        self.busy = True
        self.info.setText("Rendering preview…")
        if self.view.after is None:  # nothing shown yet; a shown picture stays until the new one is ready
            self.view.set_message("Rendering the preview…")
        self._timer.start()

    def _render_now(self) -> None:
        generation = self._generation
        path, pipeline = self._path, self._pipeline
        if path is None or pipeline is None:
            return
        tasks.spawn(self._render(generation, path, pipeline), on_error=self._failed(generation, path), owner=self)

    def _failed(self, generation: int, path: str):
        def show(exc: BaseException) -> None:
            if generation == self._generation:
                self._show_error(path, exc)
        return show

    async def _render(self, generation: int, path: str, pipeline: Pipeline) -> None:
        try:
            max_side = None if self.actual_button.isChecked() else PREVIEW_MAX_SIDE
            data = await tasks.run_blocking(compute_preview, path, pipeline, self.limits, max_side)
        except Exception as exc:
            if generation == self._generation:
                self._show_error(path, exc)
            return
        if generation != self._generation:
            return  # settings changed meanwhile; a newer render is coming
        self.busy = False
        self.error = None
        self.data = data
        self.view.set_images(data.before, data.after)
        self.info.setText(self._describe(data))
        self.rendered.emit()

    def _show_error(self, path: str, exc: BaseException) -> None:
        self.busy = False
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        self.error = f"{os.path.basename(path)}: {message}"
        self.data = None
        self.view.set_images(None, None)
        self.view.set_message(f"No preview: {self.error}")
        self.info.setText("")
        self.rendered.emit()

    @staticmethod
    def _describe(d: PreviewData) -> str:
        change = ""
        if d.in_bytes:
            ratio = (d.out_bytes - d.in_bytes) / d.in_bytes * 100
            change = f" ({ratio:+.0f} %)"
        return (
            f"{d.in_width} × {d.in_height} {d.in_format}, {human_size(d.in_bytes)}"
            f"  →  <b>{d.out_width} × {d.out_height} {d.out_format}</b>, "
            f"about <b>{human_size(d.out_bytes)}</b>{change}"
        )
