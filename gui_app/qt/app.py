"""Boot the desktop app: QApplication, the qasync event loop, the main window.

``imagebatch`` with no arguments opens the window with the bundled sample
photos loaded (so there is something to try at once); ``imagebatch PATH...``
opens it with those files and folders (a file manager's "Open with").
"""

from __future__ import annotations

import asyncio
import os
import sys

os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding from this

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui_app import APP_NAME, __version__  # noqa: E402
from gui_app.resources_path import resource, sample_folder  # noqa: E402


#: GIL switch interval for the GUI process (see create_application).
UI_SWITCH_INTERVAL_S = 0.001


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (reused if one exists, as under pytest-qt)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "imagebatch"] + list(argv or []))
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("imagebatch")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("imagebatch")
    from .icons import app_icon

    app.setWindowIcon(app_icon())
    apply_style(app)
    if app.property("imagebatch_palette_watcher") is None:
        watcher = _PaletteWatcher(app)
        app.installEventFilter(watcher)
        app.setProperty("imagebatch_palette_watcher", True)
    # The batch's dispatch thread and the helper threads are busy Python
    # threads; with the default 5 ms switch interval every GIL hand-back to
    # the UI thread can wait 5 ms, and a repaint makes many such calls
    # (measured: 30-40 ms per progress update, 155 ms stalls). 1 ms keeps
    # the UI thread's waits short at a negligible cost in throughput.
    sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
    return app


class _PaletteWatcher(QObject):
    """Follows a light/dark switch while the app runs: re-polishes the
    stylesheet (widgets polished under the old palette keep its colours
    otherwise) and re-tints the SVG icons."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self._busy = False

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ApplicationPaletteChange and obj is QApplication.instance() and not self._busy:
            self._busy = True
            try:
                from .icons import retint_all

                app = QApplication.instance()
                app.setStyleSheet(app.styleSheet())
                retint_all()
            finally:
                self._busy = False
        return False


def apply_style(app: QApplication) -> None:
    """A small stylesheet on top of the platform style. It only uses
    ``palette(...)`` colours, so light and dark system themes both work."""
    path = resource("app.qss")
    if path.is_file():
        app.setStyleSheet(path.read_text(encoding="utf-8"))


def create_window(paths: list[str] | None = None):
    """The main window; ``paths`` (or the samples) are added once the loop runs."""
    from gui_app.core.imageio import configure_pillow

    from .views.main_window import MainWindow

    window = MainWindow()
    configure_pillow(window.limits)
    missing = [p for p in (paths or []) if not os.path.exists(p)]
    existing = [p for p in (paths or []) if os.path.exists(p)]
    if paths is None or (not existing and not missing):
        existing = [str(sample_folder())] if sample_folder().is_dir() else []
        remember = False
    else:
        remember = True

    def load() -> None:
        if existing:
            window.add_paths(existing, remember=remember)
        for p in missing:
            window.log.add(f"{p} does not exist, so it was not added.")
            window.show_message(f"{p} does not exist.")

    QTimer.singleShot(0, load)
    return window


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    import qasync

    from . import tasks

    app = create_application()
    paths = [a for a in argv if not a.startswith("-")] or None
    window = create_window(paths)
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_forever()
    finally:
        tasks.shutdown()
        window.controller.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
