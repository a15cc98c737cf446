"""BatchRunner dispatch, listener contract, faults, cancel (with cheap fake task functions).

The fakes (tests/core/test_runner_fakes.py) die, hang or raise on purpose in
real spawn worker processes, so these tests exercise the runner's recovery
code without depending on image decoding; tests/core/test_runner_worker.py
repeats the key faults through the real worker's fault hook.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from gui_app.core import executors
from gui_app.core import runner as runner_module
from gui_app.core.runner import BatchListener, BatchRunner, Progress, Summary
from gui_app.core.specs import Code, Limits, Pipeline, Status, TaskResult, TaskSpec

from tests.core import test_runner_fakes as fakes
from tests.core.test_runner_fakes import child_pids, process_alive


class Recorder(BatchListener):
    def __init__(self):
        self.events: list[tuple[str, object]] = []
        self.results: dict[int, TaskResult] = {}
        self.threads: set[str] = set()

    def started(self, total, mode, workers, reason):
        self.events.append(("started", (total, mode, workers, reason)))
        self.threads.add(threading.current_thread().name)

    def file_finished(self, result):
        assert result.task_id not in self.results, "a file was reported twice"
        self.results[result.task_id] = result
        self.events.append(("file", result.task_id))

    def progress(self, p):
        assert isinstance(p, Progress)
        self.events.append(("progress", p))

    def finished(self, summary):
        self.events.append(("finished", summary))

    @property
    def summary(self) -> Summary:
        assert self.events[-1][0] == "finished"
        assert sum(1 for e in self.events if e[0] == "finished") == 1
        return self.events[-1][1]

    def codes(self) -> dict[int, str]:
        return {i: r.code for i, r in self.results.items()}


def make_specs(out_dir, n, faults=None, size=1000):
    faults = faults or {}
    return [TaskSpec(task_id=i, input_path=f"/in/img{i:03d}.jpg", output_path=os.path.join(out_dir, f"img{i:03d}.out"),
                     pipeline=Pipeline(), input_size=size, test_fault=faults.get(i)) for i in range(n)]


def fake_runner(mode="processes", listener=None, timeout=2.0, **kw):
    return BatchRunner(mode=mode, workers=kw.pop("workers", 2), limits=Limits(timeout_s=timeout),
                       listener=listener, task_fn=kw.pop("task_fn", fakes.fake_chunk),
                       initializer=kw.pop("initializer", fakes.noop_init), **kw)


def temp_files(folder):
    return [n for n in os.listdir(folder) if ".imagebatch-tmp-" in n]


@pytest.fixture(scope="module")
def warm_runner():
    """One processes runner reused by several tests (the pool stays warm between runs)."""
    runner = fake_runner()
    yield runner
    runner.close()


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize("mode", ["sequential", "threads"])
def test_in_process_modes_run_every_task(tmp_path, mode):
    rec = Recorder()
    summary = fake_runner(mode, rec).run(make_specs(tmp_path, 12), total=12)
    assert summary.ok == 12 and summary.total == 12 and summary.mode == mode
    assert rec.summary == summary
    assert rec.events[0][0] == "started"
    assert sorted(rec.results) == list(range(12))
    assert len(os.listdir(tmp_path)) == 12


def test_processes_mode_runs_every_task_and_pool_stays_warm(tmp_path, warm_runner):
    rec = Recorder()
    warm_runner.listener = rec
    before = set(_spawned_children())
    first = warm_runner.run(make_specs(tmp_path / "a", 10), total=10)
    pids = set(warm_runner.worker_pids)
    warm_runner.listener = Recorder()
    second = warm_runner.run(make_specs(tmp_path / "b", 10), total=10)
    assert first.ok == second.ok == 10
    assert first.mode == "processes" and first.workers == 2
    assert set(warm_runner.worker_pids) == pids and len(pids) == 2, "the pool was not reused"
    # exactly N worker processes, no respawning
    assert set(_spawned_children()) - before == pids


def _spawned_children() -> list[int]:
    return [p for p in child_pids(os.getpid()) if "multiprocessing.spawn" in _cmdline(p)]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_listener_contract_started_files_progress_finished(tmp_path):
    rec = Recorder()
    fake_runner("threads", rec).run(make_specs(tmp_path, 30), total=30)
    kinds = [e[0] for e in rec.events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert kinds.count("file") == 30
    progresses = [e[1] for e in rec.events if e[0] == "progress"]
    assert progresses and progresses[-1].done == 30 and progresses[-1].total == 30
    assert kinds[-2] == "progress", "a final progress comes right before finished"
    assert rec.threads == {threading.current_thread().name}, "listener runs on the dispatch (caller) thread"


def test_progress_is_throttled(tmp_path):
    rec = Recorder()
    runner = fake_runner("sequential", rec, task_fn=fakes.cheap_chunk, progress_interval_s=10.0)
    runner.run(make_specs(tmp_path, 500), total=500)
    progresses = [e[1] for e in rec.events if e[0] == "progress"]
    # one at the start of the interval, plus the final one
    assert 1 <= len(progresses) <= 3
    assert progresses[-1].done == 500


def test_ready_results_in_the_stream_are_reported_and_counted(tmp_path):
    rec = Recorder()
    specs = make_specs(tmp_path, 3)
    skipped = TaskResult(task_id=99, input_path="/in/x.jpg", output_path=None, status=Status.SKIPPED.value,
                         code=Code.SKIPPED_EXISTING.value, message="exists")
    summary = fake_runner("sequential", rec).run([specs[0], skipped, *specs[1:]])
    assert (summary.ok, summary.skipped, summary.total) == (3, 1, 4)
    assert rec.results[99].code == Code.SKIPPED_EXISTING


def test_tasks_are_consumed_lazily_with_a_bounded_window(tmp_path):
    """The runner pulls from a generator only as the window frees up."""
    consumed = []
    in_flight_max = 0

    class Watch(Recorder):
        def file_finished(self, result):
            super().file_finished(result)

    def gen():
        for spec in make_specs(tmp_path, 200):
            consumed.append(spec.task_id)
            done = len(rec.results)
            nonlocal in_flight_max
            in_flight_max = max(in_flight_max, len(consumed) - done)
            yield spec

    rec = Watch()
    runner = fake_runner("threads", rec, task_fn=fakes.cheap_chunk, workers=2, window=4)
    summary = runner.run(gen())  # total unknown: a streaming plan
    assert summary.ok == 200
    assert in_flight_max <= 4 + 1, f"{in_flight_max} tasks were pulled ahead of the results"


def test_small_files_are_chunked_large_ones_alone(tmp_path):
    from gui_app.core.runner import _Batch

    small = make_specs(tmp_path, 32, size=10_000)
    big = [TaskSpec(task_id=100 + i, input_path=f"/in/big{i}.jpg", output_path=str(tmp_path / f"b{i}"),
                    pipeline=Pipeline(), input_size=20_000_000) for i in range(4)]
    mixed = small[:10] + big[:2] + small[10:] + big[2:]
    batch = _Batch(fake_runner("processes"), None, None, None)
    batch.source = iter(mixed)
    batch.chunk_limit = 8
    chunks = []
    while (chunk := batch._next_chunk()) is not None:
        chunks.append(chunk.specs)
    assert sorted(s.task_id for c in chunks for s in c) == sorted(s.task_id for s in mixed)
    assert [len(c) for c in chunks if c[0].input_size > 1_000_000] == [1, 1, 1, 1]
    assert max(len(c) for c in chunks) == 8
    assert sum(1 for c in chunks if len(c) > 1) >= 3


# --------------------------------------------------------------------------- worker faults (section B)


def test_crash_isolation_marks_only_the_guilty_file(tmp_path):
    """A SIGKILLed worker and a segfault break the pool; only those files are WORKER_CRASH."""
    rec = Recorder()
    runner = fake_runner("processes", rec, chunk_files=3)
    try:
        summary = runner.run(make_specs(tmp_path, 16, {4: "sigkill", 11: "segfault"}), total=16)
    finally:
        runner.close()
    codes = rec.codes()
    assert codes[4] == Code.WORKER_CRASH and codes[11] == Code.WORKER_CRASH
    assert "SIGKILL" in rec.results[4].message and "SIGSEGV" in rec.results[11].message
    assert [i for i, c in codes.items() if c != Code.OK] == [4, 11]
    assert (summary.ok, summary.failed, summary.total) == (14, 2, 16)
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".out")]) == 14


def test_hang_is_timed_out_and_the_batch_goes_on(tmp_path):
    rec = Recorder()
    runner = fake_runner("processes", rec, timeout=1.5)
    try:
        summary = runner.run(make_specs(tmp_path, 6, {2: "hang"}), total=6)
        pids_after = runner.worker_pids
    finally:
        runner.close()
    assert rec.codes()[2] == Code.TIMEOUT
    assert "1.5 s" in rec.results[2].message
    assert summary.ok == 5 and summary.failed == 1
    for pid in pids_after:  # close() left no worker behind
        assert not process_alive(pid)


def test_unpicklable_exception_and_systemexit_are_per_file_errors(tmp_path):
    rec = Recorder()
    runner = fake_runner("processes", rec, chunk_files=4)
    try:
        summary = runner.run(make_specs(tmp_path, 8, {1: "raise_unpicklable", 6: "systemexit"}), total=8)
        assert not runner._pool.broken
    finally:
        runner.close()
    codes = rec.codes()
    assert codes[1] == Code.INTERNAL_ERROR and "pickle" in rec.results[1].message.lower()
    assert codes[6] == Code.INTERNAL_ERROR and "SystemExit" in rec.results[6].message
    assert summary.ok == 6


def test_unpicklable_result_is_a_per_file_error(tmp_path):
    rec = Recorder()
    runner = fake_runner("processes", rec, task_fn=fakes.unpicklable_result_chunk, workers=1)
    try:
        summary = runner.run(make_specs(tmp_path, 2), total=2)
    finally:
        runner.close()
    assert summary.failed == 2 and summary.batch_error is None
    assert all(r.code == Code.INTERNAL_ERROR for r in rec.results.values())


@pytest.mark.parametrize("mode", ["processes", "threads"])
def test_initializer_failure_is_one_batch_error(tmp_path, mode):
    rec = Recorder()
    runner = fake_runner(mode, rec, initializer=fakes.failing_init)
    try:
        summary = runner.run(make_specs(tmp_path, 10), total=10)
    finally:
        runner.close()
    assert summary.batch_error and "codec library missing" in summary.batch_error
    assert summary.failed == 0, "no per-file flood of failures"
    assert summary.cancelled == 10 and summary.total == 10
    assert os.listdir(tmp_path) == []


def test_worker_killed_from_outside_mid_batch(tmp_path):
    """The OOM-killer case: a worker pid is SIGKILLed by someone else."""
    rec = Recorder()

    class KillOnce(Recorder):
        killed = False

        def file_finished(self, result):
            super().file_finished(result)
            if not self.killed and len(self.results) == 5:
                self.killed = True
                os.kill(runner.worker_pids[0], signal.SIGKILL)

    rec = KillOnce()
    runner = fake_runner("processes", rec, chunk_files=1)
    try:
        specs = make_specs(tmp_path, 20, {i: "slow:0.1" for i in range(20)})
        summary = runner.run(specs, total=20)
    finally:
        runner.close()
    assert rec.killed
    assert summary.total == 20
    # the killed worker was idle or busy with one file: at most that file is lost
    assert summary.ok >= 19
    assert all(r.code in (Code.OK, Code.WORKER_CRASH) for r in rec.results.values())
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".out")]) == summary.ok


def test_disk_full_stops_the_batch_early(tmp_path):
    rec = Recorder()
    runner = fake_runner("sequential", rec)
    summary = runner.run(make_specs(tmp_path, 10, {3: "disk_full"}), total=10)
    assert summary.batch_error and "disk is full" in summary.batch_error.lower()
    assert rec.codes()[3] == Code.DISK_FULL
    assert summary.cancelled >= 5 and summary.total == 10
    assert summary.ok + summary.failed + summary.cancelled == 10


# --------------------------------------------------------------------------- cancel (section E)


def test_cancel_mid_batch_counts_add_up_and_leaves_no_partial_files(tmp_path):
    rec = Recorder()
    runner = fake_runner("processes", rec, chunk_files=1, grace_s=0.5)
    specs = make_specs(tmp_path, 40, {i: "slow_write:0.3" for i in range(40)})
    # a task that would never finish in time: killed after the grace period
    specs[5] = TaskSpec(**{**specs[5].__dict__, "test_fault": "slow_write:30"})
    try:
        runner.start(specs, total=40)
        deadline = time.monotonic() + 30
        while len(rec.results) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        t0 = time.monotonic()
        runner.cancel()
        summary = runner.wait(20)
        cancel_took = time.monotonic() - t0
    finally:
        runner.close()
    assert summary is not None and rec.summary == summary
    assert summary.total == 40 and summary.ok + summary.failed + summary.cancelled == 40
    assert summary.cancelled > 0 and summary.ok >= 5
    assert rec.codes()[5] == Code.CANCELLED
    assert temp_files(tmp_path) == [], "a killed write left its temp file"
    outputs = [n for n in os.listdir(tmp_path) if n.endswith(".out")]
    assert len(outputs) == summary.ok
    assert cancel_took < 15  # generous: grace 0.5 s + kill; not a speed test


def test_cancel_before_start_reports_everything_cancelled(tmp_path):
    rec = Recorder()

    class CancelAtStart(Recorder):
        def started(self, *a):
            super().started(*a)
            runner.cancel()

    rec = CancelAtStart()
    runner = fake_runner("threads", rec)
    summary = runner.run(make_specs(tmp_path, 25), total=25)
    assert summary.cancelled == 25 and summary.total == 25
    assert all(r.status == Status.CANCELLED for r in rec.results.values())


def test_close_never_blocks_on_a_stuck_worker(tmp_path):
    runner = fake_runner("processes", Recorder(), timeout=60)
    runner.start(make_specs(tmp_path, 2, {0: "hang", 1: "hang"}), total=2)
    deadline = time.monotonic() + 60
    while len(runner.worker_pids) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # both hang in their workers now
    pids = list(runner.worker_pids)
    t0 = time.monotonic()
    runner.close()
    assert time.monotonic() - t0 < 20
    assert pids and not any(process_alive(p) for p in pids)
    assert runner.last_summary.cancelled == 2


def test_run_twice_at_once_is_refused(tmp_path):
    runner = fake_runner("threads", Recorder())
    runner.start(make_specs(tmp_path, 3, {0: "slow:0.5"}))
    with pytest.raises(RuntimeError):
        runner.run([])
    assert runner.wait(10).ok == 3


# --------------------------------------------------------------------------- auto mode


def test_choose_mode_by_workload(tmp_path):
    tiny = make_specs(tmp_path, 2, size=5_000)
    mode, workers, reason = executors.choose_mode(tiny, cores=4, memory=8 << 30)
    assert mode == "sequential" and workers == 1 and reason
    few_small = make_specs(tmp_path, 12, size=20_000)
    assert executors.choose_mode(few_small, cores=4, memory=8 << 30)[0] == "threads"
    many = make_specs(tmp_path, 64, size=3_000_000)
    mode, workers, reason = executors.choose_mode(many, cores=4, memory=8 << 30, complete=False)
    assert mode == "processes" and workers == 4 and "one per task" in reason
    many_small = make_specs(tmp_path, 64, size=60_000)
    mode, _, reason = executors.choose_mode(many_small, cores=4, memory=8 << 30, total=5000, complete=False)
    assert mode == "processes" and "chunks" in reason


def _tiny_png_specs(folder, n, total):
    """``n`` specs of real 64×64 PNG files (headers are read), for a batch of ``total``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for i in range(n):
        path = folder / f"tiny{i:04d}.png"
        Image.new("RGB", (64, 64), (i % 256, 80, 160)).save(path)
        specs.append(TaskSpec(task_id=i, input_path=str(path), output_path=str(folder / f"tiny{i:04d}.jpg"),
                              pipeline=Pipeline(), input_size=path.stat().st_size))
    return specs


def test_many_tiny_files_go_to_processes_a_handful_stay_in_process(tmp_path):
    sample = _tiny_png_specs(tmp_path / "in", 64, 2000)
    mode, workers, reason = executors.choose_mode(sample, cores=2, memory=8 << 30, total=2000, complete=False)
    assert (mode, workers) == ("processes", 2) and "chunks" in reason  # the per-file cost adds up
    # the estimate: 2,000 × (4,096 px of pixel work + the fixed cost of one file)
    assert 2000 * executors.SECONDS_PER_FILE > executors.WORKER_START_S * 2
    assert executors.choose_mode(sample[:5], cores=2, memory=8 << 30)[0] == "threads"
    assert executors.choose_mode(sample[:3], cores=2, memory=8 << 30)[0] == "sequential"
    assert executors.choose_mode(sample[:200], cores=2, memory=8 << 30)[0] == "threads"
    # a warm pool costs nothing to start: even a handful of files use it
    mode, workers, reason = executors.choose_mode(sample[:5], cores=2, memory=8 << 30, warm_processes=2)
    assert (mode, workers) == ("processes", 2) and "already running" in reason


def test_chunks_of_many_small_files_hold_up_to_64_bounded_by_total_and_bytes(tmp_path):
    assert runner_module.MAX_CHUNK_FILES == 64
    runner = fake_runner("processes", workers=2)
    assert runner_module._Batch(runner, 2000, None, None)._chunk_limit("processes", 2) == 64
    assert runner_module._Batch(runner, 200, None, None)._chunk_limit("processes", 2) == 25  # 200 // (2 × 4)
    assert runner_module._Batch(runner, None, None, None)._chunk_limit("processes", 2) == 64  # streaming
    assert runner_module._Batch(runner, 2000, None, None)._chunk_limit("threads", 2) == 1
    batch = runner_module._Batch(runner, 2000, None, None)
    batch.chunk_limit = 64
    big_small = make_specs(tmp_path, 100, size=400_000)  # small files, but 64 of them exceed MAX_CHUNK_BYTES
    batch.source = iter(big_small)
    sizes = []
    while (chunk := batch._next_chunk()) is not None:
        sizes.append(sum(s.input_size for s in chunk.specs))
    assert max(sizes) <= runner_module.MAX_CHUNK_BYTES + 400_000 and len(sizes) > 100 // 64 + 1


def test_worker_count_is_capped_by_memory(tmp_path):
    huge = make_specs(tmp_path, 64, size=40_000_000)  # ~320 MP guessed per file
    mode, workers, reason = executors.choose_mode(huge, cores=16, memory=8 << 30, complete=False)
    assert mode == "processes" and 1 <= workers < 16 and "memory" in reason


def test_header_pixels_reads_real_headers(corpus):
    assert executors.header_pixels(str(corpus / "formats" / "hopper.png")) == 128 * 128
    assert executors.header_pixels(str(corpus / "formats" / "hopper.jpg")) == 128 * 128
    assert executors.header_pixels(str(corpus / "formats" / "hopper.gif")) == 128 * 128
    assert executors.header_pixels(str(corpus / "formats" / "hopper.bmp")) == 128 * 128
    assert executors.header_pixels(str(corpus / "formats" / "hopper.webp")) == 128 * 128
    assert executors.header_pixels(str(corpus / "hostile" / "empty.jpg")) is None
    assert executors.header_pixels(str(corpus / "hostile" / "text_named.jpg")) is None


def test_auto_mode_reports_its_choice(tmp_path):
    rec = Recorder()
    runner = BatchRunner(mode="auto", listener=rec, task_fn=fakes.fake_chunk, initializer=fakes.noop_init)
    summary = runner.run(make_specs(tmp_path, 2), total=2)
    total, mode, workers, reason = rec.events[0][1]
    assert mode == summary.mode == "sequential" and reason


def test_fork_is_refused():
    with pytest.raises(ValueError):
        executors.ProcessPool(2, None, (), start_method="fork")


def test_files_written_before_a_crash_in_their_chunk_are_reported_ok(tmp_path):
    """A chunk's worker dies after some of its files were written: the re-run
    must report them OK (the lost attempt wrote them), not "already exists"."""
    rec = Recorder()
    runner = fake_runner("processes", rec, chunk_files=4)
    try:
        # files 0-2 are written, then 3 kills its worker: the chunk's results are lost
        summary = runner.run(make_specs(tmp_path, 8, {3: "sigkill"}), total=8)
    finally:
        runner.close()
    codes = rec.codes()
    assert codes[3] == Code.WORKER_CRASH
    assert {i: c for i, c in codes.items() if i != 3} == {i: Code.OK for i in range(8) if i != 3}
    assert summary.ok == 7 and summary.skipped == 0


def test_existing_outputs_are_still_skipped_after_a_crash(tmp_path):
    """Only outputs that appeared during this batch may be redone: a file that
    existed before stays untouched and skipped, even when its chunk is re-run."""
    rec = Recorder()
    (tmp_path / "img001.out").write_bytes(b"not ours")
    runner = fake_runner("processes", rec, chunk_files=4)
    try:
        summary = runner.run(make_specs(tmp_path, 4, {2: "sigkill"}), total=4)
    finally:
        runner.close()
    assert rec.codes()[1] == Code.SKIPPED_EXISTING
    assert (tmp_path / "img001.out").read_bytes() == b"not ours"
    assert summary.ok == 2 and summary.failed == 1 and summary.skipped == 1


def test_unwritable_report_is_a_batch_error_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rec = Recorder()
    out = tmp_path / "out"
    summary = fake_runner("sequential", rec).run(make_specs(out, 3), report=str(blocker / "r.json"))
    assert summary.batch_error and "Cannot write the report" in summary.batch_error
    assert summary.cancelled == 3 and not out.exists()


def test_journal_path_records_and_resumes(tmp_path):
    from gui_app.core.journal import JOURNAL_NAME, Journal

    out = tmp_path / "out"
    out.mkdir()
    specs = make_specs(out, 4)
    assert fake_runner("sequential", Recorder()).run(specs, journal=str(out)).ok == 4
    assert (out / JOURNAL_NAME).exists()
    rec = Recorder()
    summary = fake_runner("sequential", rec).run(specs, journal=Journal(str(out / JOURNAL_NAME), resume=True))
    assert summary.skipped == 4 and "earlier run" in rec.results[0].message


def test_default_worker_count_is_capped_by_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "available_memory", lambda: 1 << 30)
    rec = Recorder()
    runner = fake_runner("threads", rec, workers=None)
    specs = make_specs(tmp_path, 4, size=40_000_000)  # ~320 MP guessed per image
    summary = runner.run(specs, total=4)
    _total, mode, workers, reason = rec.events[0][1]
    assert summary.workers == workers == 1 and "memory" in reason
    assert summary.ok == 4
    # an explicit worker count is the user's choice
    rec = Recorder()
    fake_runner("threads", rec, workers=2).run(specs, total=4)
    assert rec.events[0][1][2] == 2


@pytest.mark.parametrize("mode", ["threads", "sequential"])
def test_in_process_modes_report_timeout_and_go_on(tmp_path, mode):
    """A thread cannot be killed: the late file is reported TIMEOUT, its thread
    abandoned, and the other files still run (on fresh threads)."""
    rec = Recorder()
    runner = fake_runner(mode, rec, timeout=0.3, workers=1)
    specs = make_specs(tmp_path, 4, {1: "slow:2"})
    summary = runner.run(specs, total=4)
    assert rec.codes()[1] == Code.TIMEOUT and f"{mode} mode" in rec.results[1].message
    assert summary.ok == 3 and summary.failed == 1
    stuck_output = specs[1].output_path
    assert not os.path.exists(stuck_output), "the batch waited for the stuck file"
    deadline = time.monotonic() + 10  # let the abandoned thread end before the test does
    while not os.path.exists(stuck_output) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_sequential_mode_answers_a_cancel_while_a_long_file_runs(tmp_path):
    """The one file at a time runs off the runner's thread: a cancel ends the
    batch after the grace period, not when the long file is done (30 s)."""
    rec = Recorder()
    runner = fake_runner("sequential", rec, timeout=60, grace_s=0.3)
    specs = make_specs(tmp_path, 3, {0: "slow:30"})
    runner.start(specs, total=3)
    time.sleep(0.3)
    runner.cancel()
    assert runner.wait(10), "the batch ended long before the slow file would have"
    assert list(rec.codes().values()) == [Code.CANCELLED] * 3
    assert not os.path.exists(specs[0].output_path)


def test_warm_pool_with_a_worker_killed_between_batches(tmp_path):
    rec = Recorder()
    runner = fake_runner("processes", rec)
    try:
        assert runner.run(make_specs(tmp_path / "a", 4), total=4).ok == 4
        os.kill(runner.worker_pids[0], signal.SIGKILL)
        runner.listener = rec = Recorder()
        summary = runner.run(make_specs(tmp_path / "b", 6), total=6)
    finally:
        runner.close()
    assert summary.ok == 6 and summary.failed == 0 and summary.batch_error is None
