"""Remembered settings: QSettings holding primitive values only.

Never a pickled object: the pipeline and output settings are stored as JSON
text, the window geometry as base64 text. The file lives beside the user
presets (``$IMAGEBATCH_CONFIG_DIR/gui.ini`` when that variable is set, which
the tests use, else the platform's config folder, e.g.
``~/.config/imagebatch/gui.ini``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings


def open_settings() -> QSettings:
    folder = os.environ.get("IMAGEBATCH_CONFIG_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "gui.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "imagebatch", "gui")


class Settings:
    """Typed accessors over QSettings (INI values come back as strings)."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or open_settings()

    def get_str(self, key: str, default: str = "") -> str:
        value = self.q.value(key, default)
        return default if value is None else str(value)

    def get_int(self, key: str, default: int = 0) -> int:
        try:
            return int(self.q.value(key, default))
        except (TypeError, ValueError):
            return default

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.q.value(key, default)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def get_json(self, key: str, default: Any = None) -> Any:
        text = self.get_str(key, "")
        if not text:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return default

    def get_list(self, key: str) -> list[str]:
        value = self.get_json(key, [])
        return [str(v) for v in value] if isinstance(value, list) else []

    def get_bytes(self, key: str) -> QByteArray:
        text = self.get_str(key, "")
        return QByteArray.fromBase64(text.encode("ascii")) if text else QByteArray()

    def set(self, key: str, value: str | int | float | bool) -> None:
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"settings hold primitive values only, not {type(value).__name__}")
        self.q.setValue(key, value)

    def set_json(self, key: str, value: Any) -> None:
        self.q.setValue(key, json.dumps(value, sort_keys=True))

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.q.setValue(key, bytes(value.toBase64()).decode("ascii"))

    def sync(self) -> None:
        self.q.sync()
