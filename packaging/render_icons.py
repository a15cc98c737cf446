"""Render resources/imagebatch.svg to the hicolor PNG sizes, offline, with Qt's own SVG renderer.

The PNGs are build output (the SVG is the only committed source): the PyInstaller spec
uses the 256 px one as the Windows/macOS executable icon, and build.py installs every size
into the .deb's ``usr/share/icons/hicolor/<N>x<N>/apps/imagebatch.png``.

Usage: python packaging/render_icons.py OUT_DIR [SIZE...]  (writes OUT_DIR/<N>x<N>/imagebatch.png)
       python packaging/render_icons.py --ico FILE.ico       (Windows icon for the Inno Setup wizard)

It runs in its own process with QT_QPA_PLATFORM=offscreen, so it works on a machine with
no display and does not leave a QGuiApplication behind in the caller (PyInstaller's spec).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "imagebatch.svg"

#: The sizes desktop environments look up in the hicolor theme.
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def icon_path(out_dir: Path, size: int) -> Path:
    return Path(out_dir) / f"{size}x{size}" / "imagebatch.png"


def render_icons(out_dir: Path, sizes=HICOLOR_SIZES) -> list[Path]:
    """Render in a child process (offscreen Qt); return the PNG paths, smallest first."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, str(Path(__file__).resolve()), str(out_dir), *map(str, sizes)]
    subprocess.run(cmd, check=True, env=env)
    return [icon_path(out_dir, size) for size in sizes]


def write_ico(target: Path) -> Path:
    """A multi-resolution .ico (16–256 px, each size rendered from the SVG, not scaled)."""
    import tempfile

    from PIL import Image

    sizes = (16, 24, 32, 48, 64, 128, 256)
    with tempfile.TemporaryDirectory() as tmp:
        pngs = render_icons(Path(tmp), sizes)
        images = [Image.open(p) for p in pngs]
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        images[-1].save(target, format="ICO", sizes=[im.size for im in images], append_images=images[:-1])
        for image in images:
            image.close()
    return target


def _render_here(out_dir: Path, sizes) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(["render_icons"])  # noqa: F841
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"render_icons: Qt cannot parse {SVG}")
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        target = icon_path(out_dir, size)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target), "PNG"):
            raise SystemExit(f"render_icons: could not write {target}")


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    if sys.argv[1] == "--ico":
        print(write_ico(Path(sys.argv[2])))
        raise SystemExit(0)
    chosen = tuple(int(s) for s in sys.argv[2:]) or HICOLOR_SIZES
    _render_here(Path(sys.argv[1]), chosen)
