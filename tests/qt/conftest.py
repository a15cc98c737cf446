"""Fixtures for the GUI tests: a qasync loop that pytest-qt pumps, a temp
settings/preset folder, and a main window that is torn down cleanly."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_API", "pyside6")


@pytest.fixture(scope="session")
def qloop(qapp):
    """qasync loop marked as already running, so ``qtbot.wait*`` (which spins
    Qt's loop) also runs asyncio callbacks and ``run_in_executor`` results."""
    import sys

    import qasync

    switch_interval = sys.getswitchinterval()  # the app lowers it; later tests get it back
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    from gui_app.qt import tasks

    tasks.shutdown()
    sys.setswitchinterval(switch_interval)


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch) -> Path:
    """Settings and user presets go to a fresh folder for every test."""
    folder = tmp_path / "config"
    monkeypatch.setenv("IMAGEBATCH_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, qloop):
    """Build main windows; each is cancelled, shut down and closed at the end."""
    from gui_app.qt.app import create_application
    from gui_app.qt.views.main_window import MainWindow

    create_application()
    windows = []

    def make(**kwargs) -> MainWindow:
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.controller.is_running:
            window.controller.cancel()
            qtbot.waitUntil(lambda w=window: not w.controller.is_running, timeout=30_000)
        window.controller.shutdown()
        if window.summary_box is not None:
            window.summary_box.close()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def load(qtbot):
    """``load(window, paths)``: add inputs and wait until they are listed and
    the plan for them is shown."""

    def _load(window, paths, timeout=20_000):
        with qtbot.waitSignal(window.scan_finished, timeout=timeout):
            window.add_paths([str(p) for p in paths])
        with qtbot.waitSignal(window.plan_ready, timeout=timeout):
            window.refresh_plan()
        return window

    return _load


@pytest.fixture
def python_calls():
    """``with python_calls() as calls:`` counts the Python functions called
    inside the block by name (e.g. how often Qt asked the model something)."""
    import sys
    from collections import Counter
    from contextlib import contextmanager

    @contextmanager
    def counting():
        calls = Counter()

        def count(frame, event, _arg):
            if event == "call":
                calls[frame.f_code.co_name] += 1

        sys.setprofile(count)
        try:
            yield calls
        finally:
            sys.setprofile(None)

    return counting
