"""Issue 4, items 6-7: real batches through the BatchController, cancel,
closing during a batch, and the signal-order contract."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys

import pytest
from PIL import Image
from PySide6.QtCore import QObject, Signal

from gui_app.core.specs import OpSpec, OutputSpec, Pipeline
from gui_app.qt.widgets.input_list import CANCELLED, DONE, FAILED
from tests.core.test_runner_fakes import process_alive

WEBP_512 = Pipeline(steps=(OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=512),
                           OpSpec.make("encode", format="webp", quality=75)))


class SignalLog:
    """Records the controller's signals in arrival order."""

    def __init__(self, controller):
        self.events: list[tuple[str, object]] = []
        controller.started.connect(lambda *a: self.events.append(("started", a)))
        controller.file_finished.connect(lambda results: self.events.append(("file_finished", list(results))))
        controller.progress.connect(lambda done, total: self.events.append(("progress", (done, total))))
        controller.finished.connect(lambda summary: self.events.append(("finished", summary)))

    def names(self):
        return [name for name, _ in self.events]

    def results(self):
        return [r for name, batch in self.events if name == "file_finished" for r in batch]


def _temp_files(folder):
    return [p for p in folder.rglob("*") if ".imagebatch-tmp-" in p.name]


def _setup(window, src, out, mode="processes", workers=2, pipeline=WEBP_512):
    window.pipeline_editor.set_pipeline(pipeline)
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(out)))
    window.run_settings.set_values(mode, workers, None)


def test_real_batch_in_processes_mode_writes_correct_outputs(window, qtbot, tmp_path, corpus, load):
    src = tmp_path / "in"
    shutil.copytree(corpus / "camera", src)
    shutil.copy(corpus / "hostile" / "truncated_jpeg.jpg", src / "truncated_jpeg.jpg")
    out = tmp_path / "out"
    _setup(window, src, out)
    load(window, [src])
    log = SignalLog(window.controller)
    with qtbot.waitSignal(window.batch_done, timeout=90_000) as blocker:
        assert window.start_batch()
    summary = blocker.args[0]

    names = log.names()
    assert names[0] == "started" and names[-1] == "finished" and names.count("finished") == 1
    dones = [done for name, (done, total) in ((n, a) for n, a in log.events if n == "progress")]
    assert dones == sorted(dones), "progress never goes backwards"
    good = sorted(p.name for p in (corpus / "camera").iterdir())
    assert summary.ok == len(good) and summary.failed == 1 and summary.batch_error is None
    assert len(log.results()) == len(good) + 1
    for name in good:
        target = out / (os.path.splitext(name)[0] + ".webp")
        with Image.open(target) as im:
            assert im.format == "WEBP" and max(im.size) <= 512
    assert not _temp_files(out)

    # Per-input status, the log sentence for the damaged file, report, summary.
    status = {r.name: r.status for r in window.model.rows}
    assert status["truncated_jpeg.jpg"] == FAILED
    assert all(s == DONE for n, s in status.items() if n != "truncated_jpeg.jpg")
    failure = [line for line in window.log.lines() if "truncated_jpeg.jpg:" in line]
    assert failure and "Traceback" not in "\n".join(window.log.lines())
    assert summary.report_path and os.path.isfile(summary.report_path)
    assert window.summary_box is not None and "done" in window.summary_box.text()
    report_name = os.path.basename(summary.report_path)
    assert f"Report: {report_name} in the output folder." in window.summary_box.informativeText()
    assert any(summary.report_path in line for line in window.log.lines()), "the log keeps the full path"
    assert window.retry_action.isEnabled() and window.open_output_action.isEnabled()
    assert window.run_bar.bar.value() == summary.total

    # "Show failed only" and "Retry failed" act on the failed row.
    window.failed_only.setChecked(True)
    assert window.filter_model.rowCount() == 1
    with qtbot.waitSignal(window.batch_done, timeout=60_000) as retry:
        window.retry_failed()
    assert retry.args[0].total == 1 and retry.args[0].failed == 1


def test_cancel_mid_batch_keeps_finished_files_and_leaves_no_partials(window, qtbot, tmp_path, corpus, load):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        shutil.copy(corpus / "bench" / "2569067123_aca715a2ee_o.jpg", src / f"photo_{i:02d}.jpg")
    out = tmp_path / "out"
    _setup(window, src, out, mode="processes", workers=1,
           pipeline=Pipeline(steps=(OpSpec.make("sharpen"), OpSpec.make("encode", format="png"))))
    load(window, [src])
    log = SignalLog(window.controller)
    with qtbot.waitSignal(window.controller.file_finished, timeout=60_000):
        window.start_batch()
    with qtbot.waitSignal(window.batch_done, timeout=60_000) as blocker:
        window.cancel_action.trigger()
    summary = blocker.args[0]
    assert summary.cancelled > 0 and summary.ok >= 1
    assert summary.ok + summary.cancelled + summary.failed == 40
    assert log.names()[-1] == "finished"
    assert not _temp_files(out)
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == summary.ok
    counts = window.model.count_by_status()
    assert counts.get(CANCELLED, 0) == summary.cancelled and counts.get(DONE, 0) == summary.ok
    assert not window.controller.is_running and window.start_action.isEnabled()


def test_close_during_a_batch_asks_then_cancels_without_orphans(window, qtbot, tmp_path, corpus, load, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(30):
        shutil.copy(corpus / "bench" / "2569067123_aca715a2ee_o.jpg", src / f"photo_{i:02d}.jpg")
    out = tmp_path / "out"
    _setup(window, src, out, mode="processes", workers=2,
           pipeline=Pipeline(steps=(OpSpec.make("sharpen"), OpSpec.make("encode", format="png"))))
    load(window, [src])
    with qtbot.waitSignal(window.controller.file_finished, timeout=60_000):
        window.start_batch()
    pids = list(window.controller._runner.worker_pids)
    assert pids and all(process_alive(p) for p in pids)

    asked = []
    monkeypatch.setattr(window, "confirm_close", lambda: asked.append(True) or False)
    window.close()  # "No": the batch goes on
    assert asked and window.isVisible() and window.controller.is_running

    monkeypatch.setattr(window, "confirm_close", lambda: asked.append(True) or True)
    with qtbot.waitSignal(window.batch_done, timeout=60_000):
        window.close()
        assert window.isVisible()  # it waits for the cancel to finish
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert len(asked) == 2
    assert window.controller._runner is None  # pool shut down on close
    qtbot.waitUntil(lambda: not any(process_alive(p) for p in pids), timeout=10_000)
    assert not [c for c in multiprocessing.active_children() if c.pid in pids]
    assert not _temp_files(out)


class _Emitter(QObject):
    flag = Signal(bool)


def test_many_signal_emits_do_not_leak_true(qtbot, qloop):
    """PySide6 6.12.0 leaked a reference to True per emit on Python 3.11 and
    crashed in bool_dealloc; 6.11.x is fine. Guard against a regression."""
    emitter = _Emitter()
    seen = []

    def count(value: bool) -> None:
        seen.append(None)  # never keep the value itself: that would hold True

    emitter.flag.connect(count)
    for _ in range(100):
        emitter.flag.emit(True)
    before = sys.getrefcount(True)
    for _ in range(5000):
        emitter.flag.emit(True)
    after = sys.getrefcount(True)
    assert len(seen) == 5100
    assert abs(after - before) < 50, f"refcount of True grew by {after - before}"


def test_the_dask_transfer_mode_is_shown_for_dask_and_reaches_the_runner(make_window, qtbot):
    window = make_window()
    run = window.run_settings
    run.set_values("processes", 2, None)
    assert not run._form.isRowVisible(run._transfer_row)
    run.set_values("dask", 2, "tcp://127.0.0.1:1")
    assert run._form.isRowVisible(run._transfer_row) and run.transfer() == "shared"
    run.set_transfer("bytes")
    runner = window.controller._get_runner(*run.values(), run.transfer())
    assert (runner.mode, runner.dask_scheduler, runner.transfer) == ("dask", "tcp://127.0.0.1:1", "bytes")
    run.set_transfer("shared")
    assert window.controller._get_runner(*run.values(), run.transfer()) is not runner, "a new runner for a new mode"
    run.set_transfer("bytes")
    window.save_settings()
    again = make_window()
    assert again.run_settings.values() == ("dask", 2, "tcp://127.0.0.1:1") and again.run_settings.transfer() == "bytes"


@pytest.mark.slow  # starts a local Dask cluster (several seconds)
@pytest.mark.parametrize("transfer", ["shared", "bytes"])
def test_dask_mode_runs_a_batch_on_a_local_cluster(window, qtbot, tmp_path, corpus, load, transfer):
    out = tmp_path / "out"
    _setup(window, corpus / "camera", out, mode="dask", workers=2)
    window.run_settings.set_transfer(transfer)
    load(window, [corpus / "camera"])
    with qtbot.waitSignal(window.batch_done, timeout=180_000) as blocker:
        window.start_batch()
    summary = blocker.args[0]
    assert summary.mode == "dask" and summary.ok == 9 and summary.batch_error is None
    assert len(list(out.glob("*.webp"))) == 9
