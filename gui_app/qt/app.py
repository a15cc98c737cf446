"""Boot the desktop app: QApplication, the qasync event loop, the main window.

``imagebatch`` with no arguments opens the window with the bundled sample
photos loaded (so there is something to try at once); ``imagebatch PATH...``
opens it with those files and folders (a file manager's "Open with").
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding from this

from PySide6.QtCore import QEvent, QObject, QSocketNotifier, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui_app import APP_NAME, __version__  # noqa: E402
from gui_app.resources_path import resource, sample_folder  # noqa: E402


#: GIL switch interval for the GUI process (see create_application).
UI_SWITCH_INTERVAL_S = 0.001
#: Start the worker pool this long after the window shows (its first paint goes first).
WARM_UP_DELAY_MS = 300
#: Signals that quit the app like Quit (Ctrl+Q) does: kill's default, and Ctrl+C in a terminal.
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
    from gui_app.core import pil_warnings

    pil_warnings.install()  # Pillow's complaints about damaged files stay off the terminal
    if app.property("imagebatch_palette_watcher") is None:
        # A signal, not an application-wide event filter: such a filter is a
        # Python call (and a GIL hand-over) for every event of every widget,
        # which made each repaint during a batch wait on the busy threads
        # (the 110 ms stalls of the UI probe). The new palette is applied
        # after this signal; the repolish waits for the event loop.
        app.styleHints().colorSchemeChanged.connect(schedule_repolish)
        app.setProperty("imagebatch_palette_watcher", True)
    # The batch's dispatch thread and the helper threads are busy Python
    # threads; with the default 5 ms switch interval every GIL hand-back to
    # the UI thread can wait 5 ms, and a repaint makes many such calls
    # (measured: 30-40 ms per progress update, 155 ms stalls). 1 ms keeps
    # the UI thread's waits short at a negligible cost in throughput.
    sys.setswitchinterval(UI_SWITCH_INTERVAL_S)
    return app


_repolish_pending = False


def schedule_repolish(*_scheme) -> None:
    """Follow a light/dark switch: re-polish the stylesheet (widgets polished
    under the old palette keep its colours otherwise) and re-tint the SVG
    icons, once the event loop is free (several calls in a row make one
    repolish). Connected to the system's colour-scheme signal; code that
    sets the app's palette itself calls it too:
    with an app stylesheet, Qt hands a new app palette only to top-level
    windows, and their children keep the old colours until a repolish."""
    global _repolish_pending
    if not _repolish_pending:
        _repolish_pending = True
        QTimer.singleShot(0, _repolish)


def _repolish() -> None:
    global _repolish_pending
    from .icons import retint_all

    app = QApplication.instance()
    if app is not None:
        app.setStyleSheet(app.styleSheet())
        retint_all()
    _repolish_pending = False


class FileOpenFilter(QObject):
    """macOS "Open with" and drops on the Dock icon arrive as
    ``QFileOpenEvent`` on the application, not in argv: add them like a drop.
    Events that come before a window exists are kept until one is set."""

    def __init__(self, app: QApplication):
        super().__init__(app)
        self.window = None
        self._early: list[str] = []

    def set_window(self, window) -> None:
        self.window = window
        early, self._early = self._early, []
        if early:
            window.add_paths(early)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.FileOpen and obj is QApplication.instance():
            path = event.file() or event.url().toLocalFile()
            if path:
                if self.window is None:
                    self._early.append(path)
                else:
                    self.window.add_paths([path])
                    self.window.raise_()
                    self.window.activateWindow()
            return True
        return False


def file_open_filter(app: QApplication) -> FileOpenFilter:
    """The app's one FileOpenFilter (installed on first use)."""
    existing = app.findChild(FileOpenFilter)
    if existing is not None:
        return existing
    watcher = FileOpenFilter(app)
    app.installEventFilter(watcher)
    return watcher


class QuitOnSignal(QObject):
    """SIGTERM and SIGINT quit the app cleanly, like Quit: the batch is
    cancelled, the workers stopped, the settings saved.

    A Python signal handler only runs when the interpreter next gets control,
    which may be never while Qt sleeps in its C++ event loop. So the C-level
    handler writes the signal number to a socket (``signal.set_wakeup_fd``);
    a QSocketNotifier on the other end wakes the Qt loop, and the slot runs on
    the UI thread where it may touch the window."""

    def __init__(self, window, signals=QUIT_SIGNALS):
        super().__init__(window)
        self.window = window
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous = {sig: signal.signal(sig, lambda *_args: None) for sig in signals}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)
        self.received: list[int] = []

    def _wake(self, *_args) -> None:
        try:
            data = self._reader.recv(64)
        except (BlockingIOError, InterruptedError):
            return
        wanted = {int(s) for s in self._previous}
        hits = [n for n in data if n in wanted]
        if hits:
            self.received.extend(hits)
            self.window.quit_without_asking(f"Quitting ({signal.Signals(hits[0]).name} received).")

    def uninstall(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._reader.close()
        self._writer.close()


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
    # Only macOS delivers "Open with" as QFileOpenEvent; elsewhere the paths
    # come in argv, and an application-wide event filter would cost a Python
    # call for every Qt event.
    opener = file_open_filter(app) if sys.platform == "darwin" else None
    paths = [a for a in argv if not a.startswith("-")] or None
    window = create_window(paths)
    window.show()
    if opener is not None:
        opener.set_window(window)
    quitter = QuitOnSignal(window)
    QTimer.singleShot(WARM_UP_DELAY_MS, window, window.warm_up_workers)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            loop.run_forever()
    finally:
        quitter.uninstall()
        tasks.shutdown()
        window.controller.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
