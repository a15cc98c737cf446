"""Small shims over PySide6 version differences and shared text helpers."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent


def _position(pos):
    return QPoint(int(pos.x()), int(pos.y()))


def make_drag_enter(pos, mime: QMimeData, actions=Qt.DropAction.CopyAction) -> QDragEnterEvent:
    """A QDragEnterEvent on both 6.11 (QPoint only) and 6.12+ (QPointF;
    the QPoint overload is deprecated there)."""
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:
        return QDragEnterEvent(QPointF(pos), actions, mime, buttons, mods)
    except TypeError:
        return QDragEnterEvent(_position(pos), actions, mime, buttons, mods)


def make_drag_move(pos, mime: QMimeData, actions=Qt.DropAction.CopyAction) -> QDragMoveEvent:
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:
        return QDragMoveEvent(QPointF(pos), actions, mime, buttons, mods)
    except TypeError:
        return QDragMoveEvent(_position(pos), actions, mime, buttons, mods)


def make_drop(pos, mime: QMimeData, actions=Qt.DropAction.CopyAction) -> QDropEvent:
    """QDropEvent takes a QPointF on every supported version."""
    return QDropEvent(QPointF(pos), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)


def human_size(n: int | float | None) -> str:
    if n is None:
        return ""
    n = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            if unit == "bytes":
                return f"{int(n)} bytes" if abs(n) != 1 else "1 byte"
            return f"{n:.1f} {unit}" if abs(n) < 100 else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def human_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}:{seconds:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
