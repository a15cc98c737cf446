"""BatchRunner.warm_up (pool started ahead of the first batch) and the
listener's optional ``file_started`` event."""

from __future__ import annotations

import os
import threading
import time

from gui_app.core import executors
from gui_app.core.runner import BatchListener
from gui_app.core.specs import Code, Status, TaskResult

from tests.core import test_runner_fakes as fakes
from tests.core.test_runner import _spawned_children, fake_runner, make_specs

GATE_ENV = "IMAGEBATCH_TEST_WARMUP_GATE"


def gated_init(limits=None):
    """Worker initializer that waits until the gate file exists (at most 60 s),
    so a test can hold the pool "still starting" as long as it likes."""
    gate = os.environ.get(GATE_ENV, "")
    end = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < end:
        time.sleep(0.01)


def test_warm_up_returns_while_the_workers_start_and_run_reuses_them(tmp_path, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_ENV, str(gate))  # inherited by the spawned workers
    runner = fake_runner(initializer=gated_init)
    before = set(_spawned_children())
    try:
        runner.warm_up()  # must not wait for the gated initializer
        assert runner._warm_up_thread is not None and runner._warm_up_thread.is_alive()
        assert runner.worker_pids == [], "the pool cannot be ready while its initializer waits"
        gate.write_text("open")
        runner._warm_up_thread.join(30)
        warm_pids = set(runner.worker_pids)
        assert len(warm_pids) == 2
        summary = runner.run(make_specs(tmp_path / "out", 8), total=8)
        assert summary.ok == 8 and summary.mode == "processes"
        assert set(runner.worker_pids) == warm_pids, "run() started a new pool instead of the warm one"
        assert set(_spawned_children()) - before == warm_pids, "exactly the warm workers, none extra"
    finally:
        gate.write_text("open")
        runner.close()
    assert not any(fakes.process_alive(p) for p in warm_pids)


def test_run_right_after_warm_up_waits_for_it_instead_of_a_second_pool(tmp_path, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_ENV, str(gate))
    runner = fake_runner(initializer=gated_init)
    before = set(_spawned_children())
    try:
        runner.warm_up()
        runner.start(make_specs(tmp_path / "out", 6), total=6)  # while the warm-up is still starting
        gate.write_text("open")
        summary = runner.wait(60)
        assert summary is not None and summary.ok == 6
        assert len(set(_spawned_children()) - before) == 2, "a second pool was started beside the warm one"
    finally:
        gate.write_text("open")
        runner.close()


def test_auto_mode_uses_a_warm_pool_even_for_a_handful_of_files(tmp_path):
    runner = fake_runner("auto", workers=None)
    before = set(_spawned_children())
    try:
        runner.warm_up()
        runner._warm_up_thread.join(30)
        warm_pids = set(runner.worker_pids)
        assert len(warm_pids) == executors.cpu_count()  # auto warms one process per core
        summary = runner.run(make_specs(tmp_path / "out", 5), total=5)  # cold: threads would win
        assert summary.ok == 5 and summary.mode == "processes" and summary.workers == len(warm_pids)
        assert set(runner.worker_pids) == warm_pids, "auto replaced the warm pool"
        assert set(_spawned_children()) - before == warm_pids
    finally:
        runner.close()


def test_close_during_warm_up_leaves_no_workers(tmp_path, monkeypatch):
    gate = tmp_path / "gate"
    monkeypatch.setenv(GATE_ENV, str(gate))
    runner = fake_runner(initializer=gated_init)
    before = set(_spawned_children())
    runner.warm_up()
    threading.Timer(0.2, gate.write_text, args=("open",)).start()
    runner.close()  # waits for the warm-up, then shuts its pool down
    assert runner._pool is None
    leftover = set(_spawned_children()) - before
    deadline = time.monotonic() + 10
    while any(fakes.process_alive(p) for p in leftover) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(fakes.process_alive(p) for p in leftover)


def test_warm_up_of_a_pool_that_cannot_start_is_reported_by_the_batch(tmp_path):
    runner = fake_runner(initializer=fakes.failing_init)
    try:
        runner.warm_up()
        summary = runner.run(make_specs(tmp_path, 3), total=3)
        assert summary.batch_error and "codec library missing" in summary.batch_error
        assert summary.cancelled == 3
    finally:
        runner.close()


class StartRecorder(BatchListener):
    def __init__(self):
        self.events: list[tuple[str, str]] = []
        self.running = threading.Event()

    def file_started(self, input_path):
        self.events.append(("started", input_path))
        self.running.set()

    def file_finished(self, result):
        self.events.append(("finished", result.input_path))


def test_file_started_comes_while_the_file_runs(tmp_path):
    """The task itself waits for the listener's file_started: it can only
    succeed if the runner announces it while it is running, not afterwards."""
    rec = StartRecorder()

    def waits_for_announcement(specs):
        seen = rec.running.wait(30)
        return [TaskResult(task_id=s.task_id, input_path=s.input_path, output_path=s.output_path)
                if seen else TaskResult.failure(s, Code.INTERNAL_ERROR, "never announced") for s in specs]

    runner = fake_runner("threads", rec, workers=1, task_fn=waits_for_announcement)
    summary = runner.run(make_specs(tmp_path, 1), total=1)
    assert summary.ok == 1
    assert rec.events == [("started", "/in/img000.jpg"), ("finished", "/in/img000.jpg")]


def test_file_started_before_file_finished_and_not_for_files_that_never_ran(tmp_path):
    rec = StartRecorder()
    specs = make_specs(tmp_path, 20)
    skipped = TaskResult.failure(specs[0], Code.SKIPPED_EXISTING, "skipped by the plan")
    tasks = [skipped] + specs[1:]
    summary = fake_runner("processes", rec).run(tasks, total=len(tasks))
    assert summary.ok == 19 and summary.skipped == 1
    started = [p for kind, p in rec.events if kind == "started"]
    assert sorted(started) == sorted(s.input_path for s in specs[1:]), "once per file that ran"
    for spec in specs[1:]:
        path = spec.input_path
        assert rec.events.index(("started", path)) < rec.events.index(("finished", path))
    assert ("started", specs[0].input_path) not in rec.events


def test_cancelled_files_that_never_started_get_no_file_started(tmp_path):
    runner = fake_runner("sequential")
    specs = make_specs(tmp_path, 5)

    class CancelAfterFirst(StartRecorder):
        def file_finished(self, result):
            super().file_finished(result)
            if result.status == Status.OK.value:
                self.ran.append(result.input_path)
            runner.cancel()

    rec = CancelAfterFirst()
    rec.ran = []
    runner.listener = rec
    summary = runner.run(specs, total=5)
    assert summary.cancelled >= 1 and summary.ok == len(rec.ran)
    assert [p for kind, p in rec.events if kind == "started"] == rec.ran
