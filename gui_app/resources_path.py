"""Locate the bundled resources (icons, sample images, desktop file).

Works from a source checkout (``resources/`` at the top level), an installed
package (``gui_app/resources``) and a PyInstaller bundle (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    candidates = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / "resources")
    here = Path(__file__).resolve().parent
    candidates += [here / "resources", here.parent / "resources"]
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[-1]


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def sample_folder() -> Path:
    """The bundled sample photos shown when the app starts with no arguments."""
    return resource("samples")
