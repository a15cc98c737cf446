"""BatchRunner: sends task specs to a worker pool and reports every result.

One code path for every worker mode (see :mod:`executors`). The dispatch
thread (the one calling :meth:`BatchRunner.run`) does all the bookkeeping:

- It consumes the task iterable lazily (a streaming plan works) and keeps a
  bounded window of in-flight futures, ``dict[Future, _Chunk]``, refilled as
  results come back, so memory does not grow with the number of files.
- Small files are grouped into chunks (one pickled call for several files);
  large files go one per call.
- The done-callback of every future is the results queue's ``put``: it only
  hands the finished future to the dispatch thread (a callback may run on the
  pool's management thread, or at once in the caller's when the future is
  already done); the future itself is the key to its chunk in the window, so
  no context needs binding (and no lambda late-binding can go wrong). The
  listener is called from the dispatch thread only.
- Crash recovery (processes): a worker killed by a signal breaks the whole
  ``ProcessPoolExecutor``. The pool is rebuilt and every task that was in
  flight is a *suspect*: suspects are re-run alone, one at a time, so the
  guilty file is found exactly (WORKER_CRASH) and the innocent ones succeed.
  Files a lost attempt already wrote (their output did not exist when the
  chunk was first sent) are redone in place and reported OK.
- Deadlines (processes): a chunk running longer than ``limits.timeout_s`` gets
  the workers killed; its files are re-run alone with an exact per-file
  deadline (TIMEOUT); other in-flight chunks are simply re-queued. In threads
  and sequential modes a late file is reported TIMEOUT and its thread
  abandoned (threads cannot be stopped; ``worker.abandon`` makes sure it
  writes nothing if it gets that far).
- Cancel: stop submitting, cancel pending futures, give running ones a short
  grace, then kill the workers; every task that did not run is reported as
  CANCELLED (a streaming source is drained only for a short time budget; the
  rest is counted), and temp files of killed writes are swept.
- Batch-level errors (workers cannot start, disk full, report not writable)
  end the batch once, in ``Summary.batch_error``, never as a flood of
  per-file failures.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import functools
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from . import executors, worker
from .executors import WorkerInitError, WorkerPool
from .journal import sweep_temp_files_for
from .specs import Code, Limits, OverwritePolicy, Status, TaskResult, TaskSpec

#: Inputs up to this many bytes are grouped into chunks in processes mode.
SMALL_FILE_BYTES = 512 * 1024
#: Most files in one chunk, and most input bytes in one chunk.
MAX_CHUNK_FILES = 64
MAX_CHUNK_BYTES = 4 * 1024 * 1024
#: After a cancel, how long to keep pulling not-run tasks from the source to report them.
DRAIN_BUDGET_S = 0.5


@dataclass(frozen=True)
class Progress:
    """Where a batch is. ``total`` and ``bytes_total`` are None while unknown
    (a streaming plan); ``done`` counts every outcome (ok, failed, skipped,
    cancelled); ``images_per_s`` counts files that actually ran; ``current``
    is the last input that finished."""

    done: int
    total: int | None
    bytes_done: int
    bytes_total: int | None
    images_per_s: float
    eta_s: float | None
    current: str


@dataclass(frozen=True)
class Summary:
    """The end of a batch: ``total == ok + failed + skipped + cancelled``;
    ``bytes_in``/``bytes_out`` are those of the files written; ``batch_error``
    is set when the whole batch stopped (workers could not start, disk full,
    report not writable); ``report_path`` when a report was written."""

    total: int
    ok: int
    failed: int
    skipped: int
    cancelled: int
    bytes_in: int
    bytes_out: int
    seconds: float
    mode: str
    workers: int
    batch_error: str | None = None
    report_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class BatchListener:
    """Receives a batch's events. Called from the runner's dispatch thread
    (never the UI thread); override what you need. ``finished`` is always the
    last call, exactly once per run, even after an error or a cancel."""

    def started(self, total: int | None, mode: str, workers: int, reason: str) -> None:
        pass

    def file_started(self, input_path: str) -> None:
        """A file is known to be running (optional; for "working…" displays).

        Called when the dispatch thread first sees the file's chunk *running*
        in the pool (``Future.running()``, polled every ``poll_s``), not when it
        is submitted; for a chunk of small files, once for each of its files
        (they run one after another in one worker). A process pool marks a call
        running when it hands it to a worker's queue (at most one call per
        worker waits there), so the file may still wait a moment. A chunk that
        finished before it was seen running is announced just before its
        results: every file that ran gets ``file_started`` before its
        ``file_finished``. Files that never ran (cancelled before they started,
        skipped by the plan or by resume) get no ``file_started``; a file re-run
        after a worker crash or a deadline is announced again.
        """

    def file_finished(self, result: TaskResult) -> None:
        pass

    def progress(self, p: Progress) -> None:
        pass

    def finished(self, summary: Summary) -> None:
        pass


def _default_task_fn() -> Callable[[tuple[TaskSpec, ...]], list[TaskResult]]:
    from . import worker

    return worker.run_chunk


class _Chunk:
    """Tasks sent in one call, with timing for the deadline monitor.

    ``fresh``: ids of the tasks whose output did not exist when the chunk was
    first sent (processes mode). If such a task must be re-run after a crash or
    a deadline kill and its output exists now, the lost attempt wrote it: the
    re-run may replace it (same settings, same bytes) and is reported OK rather
    than "skipped: the output already exists".
    """

    __slots__ = ("specs", "started", "fresh", "announced")

    def __init__(self, specs: tuple[TaskSpec, ...], fresh: frozenset[int] | None = None):
        self.specs = specs
        self.started: float | None = None  # first seen running (deadline clock)
        self.fresh = fresh
        self.announced = False  # listener.file_started called for its files

    def singles(self) -> list["_Chunk"]:
        """One chunk per task, for re-running suspects alone."""
        return [_Chunk((spec,), fresh=None if self.fresh is None else self.fresh & {spec.task_id})
                for spec in self.specs]


class _Counts:
    """Running totals of one batch (a handful of integers: no per-file state)."""

    def __init__(self) -> None:
        self.ok = self.failed = self.skipped = self.cancelled = 0
        self.bytes_in = self.bytes_out = 0
        self.processed = 0  # files that actually ran (for images/s)

    @property
    def done(self) -> int:
        return self.ok + self.failed + self.skipped + self.cancelled

    def add(self, result: TaskResult) -> None:
        status = result.status
        if status == Status.OK:
            self.ok += 1
        elif status == Status.SKIPPED:
            self.skipped += 1
        elif status == Status.CANCELLED:
            self.cancelled += 1
        else:
            self.failed += 1
        if status in (Status.OK, Status.FAILED):
            self.processed += 1
        if status == Status.OK:  # bytes read and written by finished files
            self.bytes_in += result.bytes_in or 0
            self.bytes_out += result.bytes_out or 0


class _StopBatch(Exception):
    """Internal: a batch-level error ends dispatch (message is the batch error)."""


class BatchRunner:
    """Runs batches of :class:`TaskSpec` on a warm worker pool.

    ``mode``: auto | sequential | threads | processes | dask. ``workers``:
    default = cores (capped by memory in auto). ``window``: most chunks in
    flight (default 2 × workers). The pool stays warm between :meth:`run`
    calls until :meth:`close`.

    For tests (and benchmarks) the work itself is injectable: ``task_fn(chunk)
    -> list[TaskResult]`` (default ``worker.run_chunk``; must be a top-level
    function for processes) and ``initializer(limits)`` (default
    ``worker.init_worker`` in processes, ``imageio.configure_pillow`` otherwise).
    """

    def __init__(self, mode: str = "auto", workers: int | None = None, limits: Limits = Limits(),
                 listener: BatchListener | None = None, window: int | None = None,
                 dask_scheduler: str | None = None, transfer: str = "shared", *,
                 task_fn: Callable[[tuple[TaskSpec, ...]], list[TaskResult]] | None = None,
                 initializer: Callable[..., Any] | None = None,
                 chunk_files: int | None = None, grace_s: float = 2.0, poll_s: float = 0.05,
                 progress_interval_s: float = 0.05):
        if mode not in executors.MODES:
            raise ValueError(f"unknown worker mode {mode!r}")
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        self.mode = mode
        self.workers = workers
        self.limits = limits
        self.listener = listener or BatchListener()
        self.window = window
        self.dask_scheduler = dask_scheduler
        self.transfer = transfer
        self.task_fn = task_fn
        self.initializer = initializer
        self.chunk_files = chunk_files
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.progress_interval_s = progress_interval_s
        self._pool: WorkerPool | None = None
        self._warm_up_thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._running = False
        self._thread: threading.Thread | None = None
        self._done_event = threading.Event()
        self._done_event.set()
        self.last_summary: Summary | None = None
        #: Worker pids of the current pool (for tests and diagnostics).
        self.worker_pids: list[int] = []

    # ------------------------------------------------------------------ API

    @property
    def is_running(self) -> bool:
        return self._running

    def cancel(self) -> None:
        """Ask the running batch to stop (thread-safe, returns at once)."""
        self._cancel.set()

    def start(self, tasks: Iterable[TaskSpec | TaskResult], total: int | None = None,
              journal: Any = None, report: Any = None) -> None:
        """Like :meth:`run` in a background thread; returns immediately."""
        self._claim()
        self._thread = threading.Thread(
            target=self._run_claimed, args=(tasks, total, journal, report),
            name="imagebatch-dispatch", daemon=True)
        self._thread.start()

    def _claim(self) -> None:
        """Mark a batch as running, or refuse a second one."""
        with self._lock:
            if self._running:
                raise RuntimeError("a batch is already running")
            self._running = True
            self._done_event.clear()
            self._cancel.clear()  # here, not in the thread: a cancel() right after start() counts

    def wait(self, timeout: float | None = None) -> Summary | None:
        """Wait for a :meth:`start`-ed batch; returns its summary, or None on timeout."""
        if not self._done_event.wait(timeout):
            return None
        return self.last_summary

    def run(self, tasks: Iterable[TaskSpec | TaskResult], total: int | None = None,
            journal: Any = None, report: Any = None) -> Summary:
        """Run a batch and block until it is finished; returns the summary.

        ``tasks`` may also contain ready :class:`TaskResult` objects (files the
        plan skipped): they are reported and counted like any other result.
        ``journal``: a :class:`journal.Journal` (records finished files; with
        ``resume`` it also skips files done in an earlier run). ``report``: a
        path ending in ``.json`` or ``.csv``, or a :class:`report.ReportWriter`.
        """
        self._claim()
        return self._run_claimed(tasks, total, journal, report)

    def warm_up(self, mode: str | None = None, workers: int | None = None) -> None:
        """Start the worker pool in the background, ahead of the first batch.

        Returns at once: the pool is built (for processes: the workers are
        spawned and their initializer checked) on a helper thread, so a GUI
        can call this right after its window shows and the first :meth:`run`
        does not pay the start-up cost. ``mode``/``workers`` default to the
        runner's; ``auto`` warms what a big batch gets (processes, one worker
        per core). A run that resolves to another mode or worker count
        replaces the pool as usual; :meth:`run` waits for a warm-up still in
        progress rather than starting a second pool. A pool that cannot start
        is ignored here (the batch reports it). No-op while a batch runs or
        another warm-up is going on.
        """
        mode = mode or self.mode
        if mode not in executors.MODES:
            raise ValueError(f"unknown worker mode {mode!r}")
        if mode == "auto":
            mode = "processes"
        workers = 1 if mode == "sequential" else workers or self.workers or executors.cpu_count()
        with self._lock:
            if self._running or (self._warm_up_thread is not None and self._warm_up_thread.is_alive()):
                return
            thread = threading.Thread(target=self._warm_up, args=(mode, workers),
                                      name="imagebatch-warm-up", daemon=True)
            self._warm_up_thread = thread
        thread.start()

    def _warm_up(self, mode: str, workers: int) -> None:
        try:
            pool = self._get_pool(mode, workers, wait_for_warm_up=False)
            pool.start()
            self.worker_pids = pool.worker_pids()
        except Exception:  # noqa: BLE001 - the next run reports a pool that cannot start
            pass

    def _wait_for_warm_up(self) -> None:
        thread = self._warm_up_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def close(self) -> None:
        """Shut the warm pool down (kills its workers). The runner can be reused."""
        self.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.grace_s + 10)
        self._wait_for_warm_up()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.worker_pids = []

    def __enter__(self) -> "BatchRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ the batch

    def _run_claimed(self, tasks, total, journal, report) -> Summary:
        batch = _Batch(self, total, journal, report)
        try:
            summary = batch.run(tasks)
        finally:
            self.last_summary = batch.summary
            with self._lock:
                self._running = False
            self._done_event.set()
        return summary

    def _resolve_mode(self, tasks: Iterable[Any], total: int | None) -> tuple[str, int, str, Iterable[Any]]:
        self._wait_for_warm_up()  # its pool decides whether a warm pool's size is kept
        cores = executors.cpu_count()
        if self.mode != "auto":
            if self.mode == "sequential":
                workers = 1
            else:
                workers = self.workers or cores
                if total is not None and self.mode != "dask":
                    # never start more workers than there are tasks … but keep a warm pool's size
                    if not (self._pool is not None and self._pool.mode == self.mode):
                        workers = max(1, min(workers, total))
            reason = f"{self.mode} chosen in the settings"
            if self.mode in ("threads", "processes") and self.workers is None:
                # The default worker count must fit in memory for the biggest images.
                sample, _complete, tasks = executors.sample_tasks(tasks, 16)
                pixels = [executors.estimated_pixels(t) for t in sample if isinstance(t, TaskSpec)]
                if pixels:
                    capped = executors.memory_capped_workers(workers, max(pixels), executors.available_memory())
                    if capped < workers:
                        reason += (f"; {capped} of {workers} workers, to fit images of "
                                   f"~{max(pixels) / 1e6:.0f} MP in memory")
                        workers = capped
            return self.mode, workers, reason, tasks
        sample, complete, rest = executors.sample_tasks(tasks)
        specs = [t for t in sample if isinstance(t, TaskSpec)]
        known_total = total
        if known_total is None and complete:
            known_total = len(specs)
        pool = self._pool
        warm = pool.workers if pool is not None and pool.mode == "processes" and not pool.broken else 0
        mode, workers, reason = executors.choose_mode(
            specs, cores, None, complete=complete, total=known_total, workers=self.workers,
            warm_processes=warm)
        if self.workers and mode != "sequential":
            workers = self.workers
        elif mode == "processes":
            workers = self._keep_warm_size(workers, specs)
        return mode, workers, reason, rest

    def _keep_warm_size(self, workers: int, specs: list[TaskSpec]) -> int:
        """Auto chose fewer worker processes than the warm pool has (a batch
        with fewer files than cores): keep the warm pool rather than spawn a
        smaller one, unless memory is what capped the count."""
        pool = self._pool
        if pool is None or pool.mode != "processes" or pool.broken or workers >= pool.workers:
            return workers
        pixels = [executors.estimated_pixels(t) for t in specs]
        biggest = max(pixels) if pixels else 0
        if executors.memory_capped_workers(pool.workers, biggest, executors.available_memory()) < pool.workers:
            return workers
        return pool.workers

    def _get_pool(self, mode: str, workers: int, wait_for_warm_up: bool = True) -> WorkerPool:
        if wait_for_warm_up:
            self._wait_for_warm_up()  # never two pools; the warm one is reused if it fits
        pool = self._pool
        if pool is not None and (pool.mode != mode or pool.workers != workers or pool.broken):
            pool.shutdown()
            pool = self._pool = None
        if pool is None:
            pool = executors.make_executor(mode, workers, self.limits, scheduler=self.dask_scheduler,
                                           initializer=self.initializer, transfer=self.transfer)
            self._pool = pool
        return pool


class _Batch:
    """State of one run (lives only while the batch runs)."""

    def __init__(self, runner: BatchRunner, total: int | None, journal: Any, report: Any):
        self.runner = runner
        self.listener = runner.listener
        self.total = total
        self.journal = journal
        self.report = report
        self.report_writer = None
        self.own_journal = False
        self.counts = _Counts()
        self.results: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()
        self.inflight: dict[cf.Future, _Chunk] = {}
        self.retry: deque[_Chunk] = deque()
        self.mode = runner.mode
        self.workers = 1
        self.pool: WorkerPool | None = None
        self.task_fn = runner.task_fn or _default_task_fn()
        self.chunk_limit = 1
        self.window = 1
        self.started_at = time.monotonic()
        self.last_progress = 0.0
        self.current = ""
        self.bytes_done = 0
        self.bytes_total: int | None = None
        self.materialized = False
        self.batch_error: str | None = None
        self.stop_reason: str | None = None  # stop submitting (disk full)
        self.summary: Summary | None = None
        self.source: Iterator[Any] | None = None
        self.pending_small: list[TaskSpec] = []
        self.exhausted = False

    # ---------------------------------------------------------------- main

    def run(self, tasks: Iterable[Any]) -> Summary:
        finished_called = False
        try:
            self._open_outputs()
            self.materialized = isinstance(tasks, (list, tuple))
            if self.materialized:  # known up front: progress by count and bytes
                if self.total is None:
                    self.total = len(tasks)
                self.bytes_total = sum(t.input_size for t in tasks if isinstance(t, TaskSpec))
            mode, workers, reason, rest = self.runner._resolve_mode(tasks, self.total)
            self.mode, self.workers = mode, workers
            self.source = iter(rest)
            self.window = self.runner.window or max(2, 2 * workers)
            self.chunk_limit = self._chunk_limit(mode, workers)
            self.listener.started(self.total, mode, workers, reason)
            try:
                if self.batch_error is None:
                    self.pool = self.runner._get_pool(mode, workers)
                    self._start_pool()
                    self._dispatch()
            except _StopBatch as stop:
                self.batch_error = str(stop)
            except WorkerInitError as exc:
                self.batch_error = f"Could not start the workers: {exc}"
            self._cancel_everything_left()
            self.summary = self._make_summary()
            self._emit_progress(final=True)
            self._close_outputs()
            finished_called = True
            self.listener.finished(self.summary)
            return self.summary
        except BaseException as exc:
            # Something unexpected in the runner itself: still end the batch cleanly.
            if self.batch_error is None:
                self.batch_error = f"Internal error in the runner: {type(exc).__name__}: {exc}"
            self._abandon_inflight()
            if self.summary is None:
                self.summary = self._make_summary()
            if not finished_called:
                try:
                    self._close_outputs()
                finally:
                    self.listener.finished(self.summary)
            raise

    def _start_pool(self) -> None:
        assert self.pool is not None
        self.pool.start()
        self.runner.worker_pids = self.pool.worker_pids()

    def _chunk_limit(self, mode: str, workers: int) -> int:
        if self.runner.chunk_files is not None:
            return max(1, self.runner.chunk_files)
        if mode not in ("processes", "dask"):
            return 1
        if self.total is not None:
            # keep every worker busy: at least ~4 chunks per worker
            return max(1, min(MAX_CHUNK_FILES, self.total // (workers * 4)))
        return MAX_CHUNK_FILES

    # ------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        cancel = self.runner._cancel
        while True:
            if cancel.is_set():
                self._cancel_inflight()
                return
            if self.stop_reason is None:
                self._fill_window()
            if not self.inflight:
                if self.stop_reason is not None or (self.exhausted and not self.retry and not self.pending_small):
                    return
                continue
            try:
                future = self.results.get(timeout=self.runner.poll_s)
            except queue.Empty:
                future = None
            while future is not None:
                self._handle_done(future)
                try:
                    future = self.results.get_nowait()
                except queue.Empty:
                    future = None
            self._announce_running()
            self._check_deadlines()
            self._emit_progress()

    def _next_chunk(self) -> _Chunk | None:
        """The next chunk to submit: re-queued work first, then the source.

        Ready TaskResults from the source are reported on the way. Small
        files are gathered into a chunk; a big file is sent alone at once.
        """
        if self.retry:
            return self.retry.popleft()
        limit = self.chunk_limit
        while not self.exhausted:
            item = next(self.source, None) if self.source is not None else None
            if item is None:
                self.exhausted = True
                break
            if isinstance(item, TaskResult):
                self._record(item)
                continue
            if not isinstance(item, TaskSpec):
                raise TypeError(f"tasks must be TaskSpec or TaskResult, not {type(item).__name__}")
            skip = self._resume_skip(item)
            if skip is not None:
                self._record(skip, item)
                continue
            if limit <= 1 or item.input_size > SMALL_FILE_BYTES:
                return _Chunk((item,))
            self.pending_small.append(item)
            if (len(self.pending_small) >= limit
                    or sum(s.input_size for s in self.pending_small) >= MAX_CHUNK_BYTES):
                specs, self.pending_small = tuple(self.pending_small), []
                return _Chunk(specs)
        if self.pending_small:
            specs, self.pending_small = tuple(self.pending_small), []
            return _Chunk(specs)
        return None

    def _fill_window(self) -> None:
        cancel = self.runner._cancel
        while len(self.inflight) < self.window and not cancel.is_set() and self.stop_reason is None:
            chunk = self._next_chunk()
            if chunk is None:
                return
            try:
                self._submit(chunk)
            except cf.process.BrokenProcessPool:
                # The pool broke before this chunk reached it: the chunk is innocent.
                self.retry.appendleft(chunk)
                self._recover_from_broken_pool(None)
                return

    def _submit(self, chunk: _Chunk) -> cf.Future:
        assert self.pool is not None
        specs = chunk.specs
        if self.pool.can_kill:
            if chunk.fresh is None:
                chunk.fresh = frozenset(s.task_id for s in specs if s.overwrite != OverwritePolicy.OVERWRITE
                                        and not os.path.lexists(s.output_path))
            elif chunk.fresh:
                specs = tuple(dataclasses.replace(s, overwrite=OverwritePolicy.OVERWRITE.value)
                              if s.task_id in chunk.fresh and os.path.lexists(s.output_path) else s
                              for s in specs)
        if self.pool.mode == "processes":
            future = self.pool.submit(functools.partial(executors.call_in_worker, self.task_fn), specs)
        else:
            future = self.pool.submit(self.task_fn, specs)
        self.inflight[future] = chunk
        future.add_done_callback(self.results.put)
        return future

    # ------------------------------------------------------------- results

    def _announce_running(self) -> None:
        """Tell the listener about chunks now seen running (see BatchListener.file_started)."""
        for future, chunk in self.inflight.items():
            if not chunk.announced and future.running():
                self._announce(chunk)

    def _announce(self, chunk: _Chunk) -> None:
        chunk.announced = True
        for spec in chunk.specs:
            self.listener.file_started(spec.input_path)

    def _handle_done(self, future: cf.Future) -> None:
        chunk = self.inflight.pop(future, None)
        if chunk is None:
            return  # already handled (e.g. collected during recovery)
        exc = self._settle(chunk, future)
        if exc is None:
            return
        if isinstance(exc, cf.process.BrokenProcessPool) or self.pool is not None and self.pool.broken:
            self._recover_from_broken_pool(chunk)
            return
        # An exception came back instead of results (e.g. a result that could not be
        # pickled): the pool is fine, so the chunk's files simply go again one by one
        # (through the normal window, with their deadlines) to pin it on one file.
        if len(chunk.specs) > 1:
            self.retry.extendleft(reversed(chunk.singles()))
        else:
            self._record_all(chunk.specs, Code.INTERNAL_ERROR, _describe(exc))

    def _settle(self, chunk: _Chunk, future: cf.Future) -> BaseException | None:
        """Record a finished future's results, or its cancellation; return the
        exception it ended with (None when nothing is left to handle). A pool
        whose workers could not start stops the batch."""
        if future.cancelled():
            self._record_all(chunk.specs, Code.CANCELLED, "cancelled before it started")
            return None
        exc = future.exception()
        if exc is None:
            self._record_chunk_results(chunk, future.result())
            return None
        if isinstance(exc, WorkerInitError):
            raise _StopBatch(f"Could not start the workers: {exc}")
        return exc

    def _record_chunk_results(self, chunk: _Chunk, results: Any) -> None:
        if not chunk.announced:  # finished before it was seen running
            self._announce(chunk)
        by_id = {s.task_id: s for s in chunk.specs}
        seen = set()
        if isinstance(results, TaskResult):
            results = [results]
        for result in results or ():
            if not isinstance(result, TaskResult) or result.task_id not in by_id:
                continue
            seen.add(result.task_id)
            self._record(result, by_id[result.task_id])
        missing = [s for s in chunk.specs if s.task_id not in seen]
        if missing:
            self._record_all(missing, Code.INTERNAL_ERROR, "the worker returned no result for this file")

    def _record_all(self, specs: Iterable[TaskSpec], code: Code, message: str) -> None:
        for spec in specs:
            self._record(TaskResult.failure(spec, code, message, bytes_in=spec.input_size or None), spec)

    def _record(self, result: TaskResult, spec: TaskSpec | None = None) -> None:
        self.counts.add(result)
        # bytes of the inputs dealt with (whatever the outcome), to match bytes_total
        self.bytes_done += spec.input_size if spec is not None else 0
        self.current = result.input_path
        if result.code == Code.DISK_FULL and self.stop_reason is None:
            self.stop_reason = (
                f"The disk is full (while writing {result.output_path}). The batch stopped early; "
                "free some space and run it again with resume to finish the rest.")
            self.batch_error = self.stop_reason
        if self.journal is not None and spec is not None and result.status == Status.OK:
            self.journal.record(spec, result)
        if self.report_writer is not None:
            self.report_writer.add(result)
        self.listener.file_finished(result)
        self._emit_progress()

    def _resume_skip(self, spec: TaskSpec) -> TaskResult | None:
        journal = self.journal
        if journal is None or not getattr(journal, "resume", False):
            return None
        entry = journal.done_entry(spec)
        if entry is None:
            return None
        return TaskResult(
            task_id=spec.task_id, input_path=spec.input_path, output_path=spec.output_path,
            status=Status.SKIPPED.value, code=Code.SKIPPED_EXISTING.value,
            message="already done in an earlier run (resume)",
            bytes_in=None, bytes_out=None)

    # ------------------------------------------------------- crash recovery

    def _collect_inflight(self, timeout: float = 10.0) -> list[_Chunk]:
        """After the pool broke: wait for every in-flight future, record the
        ones that still finished well, and return the chunks that failed."""
        failed: list[_Chunk] = []
        if self.inflight:
            cf.wait(list(self.inflight), timeout=timeout)
        for future, chunk in list(self.inflight.items()):
            del self.inflight[future]
            if future.done() and not future.cancelled() and future.exception() is None:
                self._record_chunk_results(chunk, future.result())
            else:
                failed.append(chunk)
        return failed

    def _rebuild_pool(self) -> None:
        assert self.pool is not None
        self.pool.shutdown()
        if self.runner._cancel.is_set():
            return  # rebuilt lazily by the next run
        self._start_pool()

    def _recover_from_broken_pool(self, first: _Chunk | None) -> None:
        failed = ([first] if first is not None else []) + self._collect_inflight()
        specs = [s for chunk in failed for s in chunk.specs]
        sweep_temp_files_for(specs)
        if self.runner._cancel.is_set():
            self.pool.shutdown()
            self._record_all(specs, Code.CANCELLED, "cancelled while running")
            return
        self._rebuild_pool()
        self._isolate([single for chunk in failed for single in chunk.singles()])

    def _late_chunks(self) -> list[cf.Future]:
        """In-flight futures past their deadline (timed from when they started)."""
        now = time.monotonic()
        timeout = self.runner.limits.timeout_s
        late = []
        for future, chunk in self.inflight.items():
            if chunk.started is None and future.running():
                chunk.started = now
            # A chunk of n small files gets a little more than one file's deadline:
            # a false alarm only costs a re-run (its files are retried alone).
            allowed = timeout * (1 + 0.1 * (len(chunk.specs) - 1))
            if chunk.started is not None and now - chunk.started > allowed:
                late.append(future)
        return late

    def _check_deadlines(self) -> None:
        pool = self.pool
        if pool is None or not self.inflight or not (pool.can_kill or pool.mode in ("threads", "sequential")):
            return
        late_futures = self._late_chunks()
        if not late_futures:
            return
        if not pool.can_kill:
            self._abandon_late_threads(late_futures)
            return
        late = [self.inflight[f] for f in late_futures]
        # Kill the workers (the stdlib cannot stop one task); re-run the late
        # chunks' files alone to find the stuck one, re-queue the others.
        pool.kill_workers()
        failed = self._collect_inflight()
        suspects = [single for chunk in failed if chunk in late for single in chunk.singles()]
        innocents = [chunk for chunk in failed if chunk not in late]
        sweep_temp_files_for([s for chunk in failed for s in chunk.specs])
        if self.runner._cancel.is_set():
            pool.shutdown()
            self._record_all([s for c in failed for s in c.specs], Code.CANCELLED, "cancelled while running")
            return
        for chunk in innocents:
            chunk.started = None
            self.retry.append(chunk)
        self._rebuild_pool()
        self._isolate(suspects)

    def _abandon_late_threads(self, late: list[cf.Future]) -> None:
        """Threads and sequential modes: a thread cannot be stopped. A file past
        its deadline is reported TIMEOUT and its thread abandoned (its late
        result is ignored, its output never written); the pool gets fresh
        threads so the rest of the batch goes on."""
        timeout = self.runner.limits.timeout_s
        assert self.pool is not None
        mode = self.pool.mode
        for future in late:
            chunk = self.inflight.pop(future)
            worker.abandon(chunk.specs)  # if its thread ever gets to writing, it writes nothing
            self._record_all(chunk.specs, Code.TIMEOUT,
                             f"took longer than the {_seconds(timeout)} per-file limit; in {mode} mode "
                             "the work could not be stopped, and its output will not be written")
        # Pending chunks move to a fresh executor; running ones finish where they are.
        for future, chunk in list(self.inflight.items()):
            if future.cancel():
                del self.inflight[future]
                self.retry.appendleft(chunk)
        self.pool.replace_executor()

    def _isolate(self, suspects: list[_Chunk]) -> None:
        """Run each suspect alone, one at a time, with an exact deadline:
        a crash now points at exactly this file."""
        for index, single in enumerate(suspects):
            if self.runner._cancel.is_set() or self.stop_reason is not None:
                reason = "cancelled before it started" if self.runner._cancel.is_set() else f"not run: {self.stop_reason}"
                self._record_all([c.specs[0] for c in suspects[index:]], Code.CANCELLED, reason)
                return
            self._run_alone(single)

    def _run_alone(self, single: _Chunk) -> None:
        if self.pool is None or self.pool.executor is None or self.pool.broken:
            self._rebuild_pool()
        assert self.pool is not None
        spec = single.specs[0]
        future = self._submit(single)
        del self.inflight[future]  # waited on right here, not by the dispatch loop
        cancel = self.runner._cancel
        timeout = self.runner.limits.timeout_s
        started = time.monotonic()
        cancel_seen: float | None = None
        while not future.done():
            if not single.announced and future.running():
                self._announce(single)
            cf.wait([future], timeout=self.runner.poll_s)
            if future.done():
                break
            self._emit_progress()
            now = time.monotonic()
            if cancel.is_set():
                cancel_seen = cancel_seen or now
                if self.pool.can_kill and now - cancel_seen > self.runner.grace_s:
                    self._kill_and_record(spec, future, Code.CANCELLED, "cancelled while running")
                    self.pool.shutdown()
                    return
            elif self.pool.can_kill and now - started > timeout:
                self._kill_and_record(
                    spec, future, Code.TIMEOUT,
                    f"took longer than the {_seconds(timeout)} per-file limit; the worker was stopped")
                self._rebuild_pool()
                return
        self._finish_isolated(single, future)

    def _kill_and_record(self, spec: TaskSpec, future: cf.Future, code: Code, message: str) -> None:
        assert self.pool is not None
        self.pool.kill_workers()
        cf.wait([future], timeout=10)
        sweep_temp_files_for([spec])
        self._record(TaskResult.failure(spec, code, message), spec)

    def _finish_isolated(self, single: _Chunk, future: cf.Future) -> None:
        spec = single.specs[0]
        exc = self._settle(single, future)
        if exc is None:
            return
        if isinstance(exc, cf.process.BrokenProcessPool):
            sweep_temp_files_for([spec])
            if self.runner._cancel.is_set():
                self._record_all([spec], Code.CANCELLED, "cancelled while running")
                self.pool.shutdown()
                return
            how = getattr(self.pool, "death_reason", lambda: "")() or "killed by a signal or crashed"
            self._record(TaskResult.failure(
                spec, Code.WORKER_CRASH,
                f"the worker process died while processing this file ({how}); "
                "the other files were not affected"), spec)
            self._rebuild_pool()
            return
        self._record(TaskResult.failure(spec, Code.INTERNAL_ERROR, _describe(exc)), spec)

    # --------------------------------------------------------------- cancel

    def _cancel_inflight(self) -> None:
        """Cancel pending futures; give running ones a grace period, then kill."""
        for future in list(self.inflight):
            future.cancel()
        deadline = time.monotonic() + self.runner.grace_s
        while self.inflight and time.monotonic() < deadline:
            try:
                future = self.results.get(timeout=min(self.runner.poll_s, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                continue
            self._handle_cancelled_or_done(future)
        if not self.inflight:
            return
        if self.pool is not None and self.pool.can_kill:
            self.pool.kill_workers()
            cf.wait(list(self.inflight), timeout=10)
            sweep_temp_files_for([s for chunk in self.inflight.values() for s in chunk.specs])
            self.pool.shutdown()
        for future, chunk in list(self.inflight.items()):
            del self.inflight[future]
            # A thread still running (threads mode) must not write after this
            # report; abandoned first, so a write that wins the race shows in its result.
            worker.abandon(chunk.specs)
            if future.done() and not future.cancelled() and future.exception() is None:
                self._record_chunk_results(chunk, future.result())
            else:
                self._record_all(chunk.specs, Code.CANCELLED, "cancelled while running")

    def _handle_cancelled_or_done(self, future: cf.Future) -> None:
        chunk = self.inflight.pop(future, None)
        if chunk is None:
            return
        if future.cancelled():
            self._record_all(chunk.specs, Code.CANCELLED, "cancelled before it started")
        elif future.exception() is None:
            self._record_chunk_results(chunk, future.result())
        else:
            sweep_temp_files_for(chunk.specs)
            self._record_all(chunk.specs, Code.CANCELLED, "cancelled while running")

    def _cancel_everything_left(self) -> None:
        """Every task that never ran is reported CANCELLED so the totals add up."""
        reason = ("cancelled" if self.runner._cancel.is_set()
                  else f"not run: {self.batch_error}" if self.batch_error else "not run")
        if self.inflight:
            self._cancel_inflight()
        while self.retry:
            self._record_all(self.retry.popleft().specs, Code.CANCELLED, reason)
        if self.pending_small:
            specs, self.pending_small = self.pending_small, []
            self._record_all(specs, Code.CANCELLED, reason)
        # Report the tasks still in the source. A list is cheap to go through; a
        # streaming plan may still have to scan and plan a huge folder, so that
        # only for a short time budget: the rest are counted (when the total is
        # known) without per-file events.
        budget_end = time.monotonic() + DRAIN_BUDGET_S
        while not self.exhausted and self.source is not None:
            if not self.materialized and time.monotonic() > budget_end:
                if self.total is not None:
                    self.counts.cancelled += max(0, self.total - self.counts.done)
                break
            item = next(self.source, None)
            if item is None:
                self.exhausted = True
            elif isinstance(item, TaskResult):
                self._record(item)
            elif isinstance(item, TaskSpec):
                self._record(TaskResult.failure(item, Code.CANCELLED, reason), item)

    def _abandon_inflight(self) -> None:
        if self.pool is not None and self.inflight:
            self.pool.kill_workers()
        for future in list(self.inflight):
            future.cancel()
        self.inflight.clear()

    # ---------------------------------------------------- progress, outputs

    def _emit_progress(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last_progress < self.runner.progress_interval_s:
            return
        self.last_progress = now
        elapsed = max(1e-6, now - self.started_at)
        done = self.counts.done
        rate = self.counts.processed / elapsed
        eta = None
        if self.total is not None and rate > 0:
            eta = max(0.0, (self.total - done) / rate)
        self.listener.progress(Progress(
            done=done, total=self.total, bytes_done=self.bytes_done, bytes_total=self.bytes_total,
            images_per_s=rate, eta_s=eta, current=self.current))

    def _open_outputs(self) -> None:
        """Open the journal (a path is accepted too) and the report; a report
        that cannot be written is a batch error before any work."""
        if isinstance(self.journal, (str, os.PathLike)):
            from .journal import Journal, journal_path

            path = os.fspath(self.journal)
            self.journal = Journal(journal_path(path) if os.path.isdir(path) else path)
            self.own_journal = True
        if self.report is None:
            return
        from .report import ReportWriter

        if isinstance(self.report, ReportWriter):
            self.report_writer = self.report
            return
        try:
            self.report_writer = ReportWriter(os.fspath(self.report))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.batch_error = f"Cannot write the report {os.fspath(self.report)}: {reason}"

    def _close_outputs(self) -> None:
        if self.journal is not None:
            try:
                self.journal.close() if self.own_journal else self.journal.flush()
            except Exception:  # noqa: BLE001 - the results are reported anyway
                pass
        if self.report_writer is not None and self.summary is not None:
            writer, self.report_writer = self.report_writer, None
            path = writer.close(self.summary)
            self.summary = dataclasses.replace(self.summary, report_path=path)

    def _make_summary(self) -> Summary:
        c = self.counts
        return Summary(
            total=c.done, ok=c.ok, failed=c.failed, skipped=c.skipped, cancelled=c.cancelled,
            bytes_in=c.bytes_in, bytes_out=c.bytes_out, seconds=time.monotonic() - self.started_at,
            mode=self.mode, workers=self.workers, batch_error=self.batch_error,
            report_path=None)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _seconds(value: float) -> str:
    return f"{value:g} s"
