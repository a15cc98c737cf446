"""The real app process: SIGTERM / SIGINT quit it cleanly (settings saved,
workers gone, exit code 0); the worker pool is warmed up after the window
shows; macOS "Open with" (QFileOpenEvent) adds files like a drop."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from tests.core.test_runner_fakes import child_pids, survivors

REPO = Path(__file__).resolve().parents[2]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_quits_the_app_cleanly(tmp_path, corpus, signum):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(corpus / "camera" / "Canon_40D.jpg", inputs)
    config = tmp_path / "config"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", IMAGEBATCH_CONFIG_DIR=str(config))
    proc = subprocess.Popen([sys.executable, "-m", "gui_app", str(inputs)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The window is up and its event loop runs once the warm-up has spawned the workers.
        assert _wait_for(lambda: len(child_pids(proc.pid)) >= 1 or proc.poll() is not None, 60), \
            "no worker pool was warmed up after the window showed"
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
        workers = child_pids(proc.pid)
        # Loading the folder saves the settings (debounced); let that happen, then
        # remove the file: it must be written again on the way out.
        _wait_for(lambda: "geometry" in _read(config / "gui.ini"), 5)
        time.sleep(0.5)
        (config / "gui.ini").unlink(missing_ok=True)
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode(errors="replace")
    settings = (config / "gui.ini").read_text()
    assert "geometry" in settings and "pipeline" in settings
    assert survivors(workers, 10) == [], "orphan worker processes"


def test_quit_without_asking_cancels_a_running_batch_and_closes(make_window, qtbot, tmp_path, corpus, load):
    from gui_app.core.specs import OutputSpec

    window = make_window()
    window.confirm_close = lambda: pytest.fail("a signal must not ask")
    src = tmp_path / "in"
    shutil.copytree(corpus / "camera", src)
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    window.run_settings.set_values("processes", 1, None)
    load(window, [src])
    with qtbot.waitSignal(window.controller.started, timeout=60_000):
        assert window.start_batch()
    with qtbot.waitSignal(window.batch_done, timeout=60_000):
        window.quit_without_asking("Quitting (SIGTERM received).")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert not window.controller.is_running
    assert window.settings.get_json("pipeline/steps")


def test_warm_up_starts_the_workers_the_first_batch_uses(window, qtbot, tmp_path, corpus, load):
    from gui_app.core.specs import OutputSpec

    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    window.run_settings.set_values("processes", 2, None)
    window.warm_up_workers()
    runner = window.controller._runner
    assert runner is not None
    runner._warm_up_thread.join(60)
    warm = list(runner.worker_pids)
    assert len(warm) == 2
    src = tmp_path / "in"
    shutil.copytree(corpus / "camera", src)
    load(window, [src])
    with qtbot.waitSignal(window.batch_done, timeout=90_000) as blocker:
        assert window.start_batch()
    assert blocker.args[0].ok > 0
    assert window.controller._runner is runner and runner.worker_pids == warm


def test_files_are_shown_working_only_when_the_runner_says_so(window, qtbot, tmp_path, corpus, load):
    from gui_app.core.specs import OutputSpec
    from gui_app.qt.widgets.input_list import QUEUED, RUNNING

    src = tmp_path / "in"
    shutil.copytree(corpus / "camera", src)
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    window.run_settings.set_values("sequential", None, None)
    load(window, [src])
    model = window.model
    model.reset_status({r.path for r in model.rows})
    assert model.count_by_status() == {QUEUED: len(model.rows)}, "nothing is guessed to be running"
    first, second = model.rows[0].path, model.rows[1].path
    window.controller.files_started.emit([first])
    assert model.rows[0].status == RUNNING and model.rows[1].status == QUEUED
    seen = []
    window.controller.files_started.connect(seen.extend)
    with qtbot.waitSignal(window.batch_done, timeout=90_000):
        assert window.start_batch()
    assert set(seen) == {r.path for r in model.rows}
    assert second in seen


def test_file_open_event_adds_the_file_like_a_drop(window, qtbot, corpus):
    from gui_app.qt.app import file_open_filter

    app = QApplication.instance()
    opener = file_open_filter(app)
    opener.set_window(window)
    try:
        path = str(corpus / "camera" / "Nikon_D70.jpg")
        with qtbot.waitSignal(window.scan_finished, timeout=20_000):
            QApplication.postEvent(app, QFileOpenEvent(QUrl.fromLocalFile(path)))
        assert [r.path for r in window.model.rows] == [path]
    finally:
        opener.window = None
        app.removeEventFilter(opener)  # an app-wide filter slows every later test's events
        opener.deleteLater()


def test_file_open_event_before_the_window_exists_is_kept(window, qtbot, corpus):
    from gui_app.qt.app import FileOpenFilter

    opener = FileOpenFilter(QApplication.instance())
    path = str(corpus / "camera" / "Nikon_D70.jpg")
    event = QFileOpenEvent(QUrl.fromLocalFile(path))
    assert event.type() == QEvent.Type.FileOpen
    assert opener.eventFilter(QApplication.instance(), event) is True
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        opener.set_window(window)
    assert [r.path for r in window.model.rows] == [path]
    opener.deleteLater()


def test_changed_worker_settings_warm_the_new_pool_up(window, qtbot):
    window.run_settings.set_values("threads", 2, None)
    assert window.controller._runner is None, "no warm-up before the app asks for the first one"
    window.warm_up_workers()
    first = window.controller._runner
    assert first is not None and first.mode == "threads"
    window.run_settings.set_values("processes", 1, None)
    qtbot.waitUntil(lambda: window.controller._runner is not first, timeout=10_000)
    runner = window.controller._runner
    assert runner.mode == "processes" and runner.workers == 1
    runner._warm_up_thread.join(60)
    assert len(runner.worker_pids) == 1
