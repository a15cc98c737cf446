"""Pillow's warnings about damaged files, recorded per file instead of printed.

Reading a hostile TIFF or a broken EXIF block makes Pillow call
``warnings.warn`` ("Tag data larger than file", "Corrupt EXIF data"), which
prints to the terminal the app was started from. ``warnings.catch_warnings``
cannot help: it swaps process-wide state and is not thread-safe, and the
thumbnails are read on helper threads. So, once per process, warnings from
``PIL`` modules get their own filter (always shown, so every file reports its
own) and a ``showwarning`` hook that hands them to the collector of the
calling thread (see :func:`collect`), or drops them when the thread has none.
Every other warning goes on to the previous hook unchanged. libtiff's own
C-level messages go straight to file descriptor 2 and are left alone.

The worker collects them around each task (they end up in the result's
``warnings``, so in the report and the log); the GUI around each thumbnail.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator

#: Modules whose UserWarnings are recorded (a regex for warnings.filterwarnings).
PIL_MODULES = r"PIL\."
_PIL_FOLDER = os.sep + "PIL" + os.sep

_local = threading.local()
_lock = threading.Lock()


def _from_pillow(filename: str) -> bool:
    return _PIL_FOLDER in (filename or "")


def _hook(previous):
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if _from_pillow(filename):
            notes = getattr(_local, "notes", None)
            if notes is not None:
                text = str(message).strip()
                if text not in notes:
                    notes.append(text)
            return
        previous(message, category, filename, lineno, file, line)

    showwarning.imagebatch_hook = True
    return showwarning


def _filter_installed() -> bool:
    return any(action == "always" and category is UserWarning and module is not None
               and module.pattern == PIL_MODULES for action, _msg, category, module, _line in warnings.filters)


def install() -> None:
    """Route Pillow's UserWarnings to :func:`collect` (idempotent, cheap; called
    before every read because test harnesses reset the warnings state)."""
    if getattr(warnings.showwarning, "imagebatch_hook", False) and _filter_installed():
        return
    with _lock:
        if not getattr(warnings.showwarning, "imagebatch_hook", False):
            warnings.showwarning = _hook(warnings.showwarning)
        if not _filter_installed():
            warnings.filterwarnings("always", category=UserWarning, module=PIL_MODULES)


@contextmanager
def collect() -> Iterator[list[str]]:
    """Collect Pillow's warnings raised on this thread inside the block
    (each distinct message once) into the yielded list."""
    install()
    notes: list[str] = []
    outer = getattr(_local, "notes", None)
    _local.notes = notes
    try:
        yield notes
    finally:
        _local.notes = outer
