"""Fast checks of the packaging sources (default test run; the frozen build itself is in
test_bundle.py, marked ``packaging``)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "resources" / "imagebatch.desktop"
sys.path.insert(0, str(ROOT / "packaging"))

from render_icons import HICOLOR_SIZES, icon_path, render_icons  # noqa: E402


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_opens_files_and_folders():
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "imagebatch %F"  # several files and folders in one window
    assert entry["Icon"] == "imagebatch"  # the hicolor name the .deb installs
    mime = set(filter(None, entry["MimeType"].split(";")))
    assert {"inode/directory", "image/jpeg", "image/png", "image/webp", "image/avif",
            "image/tiff", "image/heic"} <= mime


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_passes_desktop_file_validate():
    proc = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_icon_renders_at_every_hicolor_size(tmp_path):
    from PIL import Image

    pngs = render_icons(tmp_path)
    assert pngs == [icon_path(tmp_path, size) for size in HICOLOR_SIZES]
    for size, png in zip(HICOLOR_SIZES, pngs):
        with Image.open(png) as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
            alpha = image.getchannel("A")
            # drawn (not an empty canvas) and transparent around the shapes
            assert alpha.getextrema() == (0, 255)
            opaque = sum(alpha.histogram()[129:]) / (size * size)
            assert 0.3 < opaque < 0.9, f"{size}px icon covers {opaque:.0%}"
