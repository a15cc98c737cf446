"""SVG icons from ``resources/icons``, tinted to follow the system palette.

The icons are drawn with ``stroke="currentColor"``; Qt's SVG renderer has no
notion of a current colour, so the text colour of the palette is substituted
before rendering. Icons are re-created when the palette changes (light/dark).
"""

from __future__ import annotations

import weakref
from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from gui_app.resources_path import resource

_SIZES = (16, 20, 24, 32, 48, 64)


def _palette_colours() -> tuple[str, str]:
    app = QApplication.instance()
    palette = app.palette() if app is not None else QPalette()
    normal = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    return normal.name(), disabled.name()


def _render(svg: str, size: int) -> QPixmap:
    ratio = 2.0  # crisp on HiDPI screens; Qt picks the closest pixmap
    pixmap = QPixmap(int(size * ratio), int(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


@lru_cache(maxsize=None)
def _svg_text(name: str) -> str:
    path = resource("icons", f"{name}.svg")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@lru_cache(maxsize=256)
def _icon(name: str, normal: str, disabled: str) -> QIcon:
    text = _svg_text(name)
    icon = QIcon()
    if not text:
        return icon
    for size in _SIZES:
        icon.addPixmap(_render(text.replace("currentColor", normal), size), QIcon.Mode.Normal)
        icon.addPixmap(_render(text.replace("currentColor", disabled), size), QIcon.Mode.Disabled)
    return icon


def icon(name: str, colour: str | None = None) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` in the palette's text colour
    (or ``colour``, e.g. white on an accent button)."""
    normal, disabled = _palette_colours()
    return _icon(name, colour or normal, disabled)


_bound: list[tuple[weakref.ref, str, str | None]] = []


def bind(target, name: str, colour: str | None = None):
    """Set ``target``'s icon (a widget or action) and re-tint it whenever
    the palette changes (see :func:`retint_all`). Returns the target."""
    target.setIcon(icon(name, colour))
    try:
        _bound.append((weakref.ref(target), name, colour))
    except TypeError:
        pass
    return target


def retint_all() -> None:
    """Palette changed (light/dark switch): redraw every bound icon."""
    alive = []
    for ref, name, colour in _bound:
        target = ref()
        if target is None:
            continue
        try:
            target.setIcon(icon(name, colour))
        except RuntimeError:  # the C++ object is gone
            continue
        alive.append((ref, name, colour))
    _bound[:] = alive


def pixmap(name: str, size: int, colour: str | None = None) -> QPixmap:
    return icon(name, colour).pixmap(QSize(size, size))


def app_icon() -> QIcon:
    """The application icon: the packaging's ``imagebatch.svg`` if present,
    else our ``icons/app.svg``."""
    for path in (resource("imagebatch.svg"), resource("icons", "app.svg")):
        if path.is_file():
            return QIcon(str(path))
    return QIcon()


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """Blend two colours (t = 0 gives a, 1 gives b): palette-derived tints."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )
