"""BatchController: the Qt face of the core BatchRunner.

The runner calls its listener from a worker thread. Touching widgets from
there is forbidden, and one queued signal per finished file floods the UI
(measured: 230-276 ms stalls over 500 files once each adds a list row). So
the listener only *records* into a lock-protected buffer, and a 50 ms QTimer
on the UI thread drains it: finished files arrive in batches, progress at
most 20 times a second. ``finished`` is delivered through a queued signal and
only after the buffer has been drained, so it is always the last signal of a
batch.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Iterable, Iterator, Sized

from PySide6.QtCore import QObject, QTimer, Qt, Signal, Slot

# Imported up front, not at the first Start: importing it then would hold the
# GIL while the batch is starting and stall the UI (measured ~50 ms).
from gui_app.core import runner
from gui_app.core.specs import Limits, TaskResult, TaskSpec

from . import pacing
from .worker_priority import init_background_worker

#: How often buffered results are handed to the UI (ms). 50 ms = at most 20 repaints/s.
DRAIN_INTERVAL_MS = 50

MODES = ("auto", "processes", "threads", "sequential", "dask")


def plan_tasks(plan) -> Iterator[TaskSpec | TaskResult]:
    """What the runner gets for a plan, one item at a time: the item's task,
    or the ready result of an item that gets none (skipped or refused).
    A generator, not a list: the runner consumes it on its own thread and
    stays flat in memory (the plan is in memory anyway, for the Plan tab)."""
    for item in plan.items:
        yield item.task if item.task is not None else item.result()


class _Recorder(runner.BatchListener):
    """The runner's listener. Runs on the runner's thread: it only records
    (under a lock); the controller's timer drains it on the UI thread."""

    def __init__(self, controller: "BatchController", batch_id: int):
        self._controller = controller
        self.batch_id = batch_id
        self._lock = threading.Lock()
        self._results: deque[TaskResult] = deque()
        self._running: list[str] = []
        self._progress = None
        self._started: tuple | None = None

    def started(self, total, mode, workers, reason):
        with self._lock:
            self._started = (total, mode, workers, reason)

    def file_started(self, input_path):
        with self._lock:
            self._running.append(input_path)

    def file_finished(self, result):
        with self._lock:
            self._results.append(result)

    def progress(self, p):
        with self._lock:
            self._progress = p

    def finished(self, summary):
        # Emitted from a foreign thread to a UI-thread QObject: queued, so
        # _on_finished runs on the UI thread.
        self._controller._finished_from_thread.emit(self.batch_id, summary)

    def drain(self):
        with self._lock:
            results = list(self._results)
            self._results.clear()
            running, self._running = self._running, []
            progress, self._progress = self._progress, None
            started, self._started = self._started, None
        return started, running, results, progress


class BatchController(QObject):
    """Runs batches on the core BatchRunner and reports on the UI thread.

    Signals (all delivered on the UI thread, in this order for one batch):

    - ``started(total: int, mode: str, workers: int, reason: str)``: the
      runner chose its mode (``reason`` says why, for "auto").
    - ``files_started(paths: list[str])``: *batched*: inputs the runner
      reports as now being worked on (its ``file_started``); a file's
      ``files_started`` always comes before its ``file_finished``.
    - ``file_finished(results: list[TaskResult])``: *batched*: every result
      that arrived since the last 50 ms tick, in completion order.
    - ``progress(done: int, total: int)`` and ``progress_info(p: Progress)``
      (the runner's Progress: bytes, images/s, ETA, current file); at most
      20 per second.
    - ``finished(summary: Summary)``: exactly once per batch, always last,
      even after cancel or a batch-level error (``summary.batch_error``).
    - ``running_changed(running: bool)``: True when a batch starts, False
      right after ``finished``.
    """

    started = Signal(int, str, int, str)
    files_started = Signal(list)
    file_finished = Signal(list)
    progress = Signal(int, int)
    progress_info = Signal(object)
    finished = Signal(object)
    running_changed = Signal(bool)

    # Internal: carries (batch id, Summary) from the runner thread.
    _finished_from_thread = Signal(int, object)

    def __init__(self, parent: QObject | None = None, limits: Limits | None = None):
        super().__init__(parent)
        self.limits = limits or Limits()
        self._runner = None
        self._runner_key: tuple | None = None
        self._recorder: _Recorder | None = None
        self._batch_id = 0
        self._total = 0
        self._done = 0
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._finished_from_thread.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ API
    @property
    def is_running(self) -> bool:
        return self._recorder is not None

    def start(
        self,
        tasks: Iterable[TaskSpec | TaskResult],
        *,
        total: int | None = None,
        mode: str = "auto",
        workers: int | None = None,
        scheduler: str | None = None,
        transfer: str = "shared",
        report: str | None = None,
    ) -> None:
        """Start a batch in the background; returns at once.

        ``tasks`` may mix TaskSpecs and ready TaskResults (files the plan
        skips): the runner reports and counts those like any other result.
        It may be an iterator (e.g. a generator over the plan): it is handed
        to the runner as it is, never copied into a list, and consumed on
        the runner's thread; give ``total`` then (a sized collection's
        length is used when ``total`` is None).
        ``report`` is a .json or .csv path for the run report.
        ``transfer`` is the Dask transfer mode ("shared" or "bytes").
        """
        if self.is_running:
            raise RuntimeError("a batch is already running")
        self._batch_id += 1
        # The plan and the Qt wrappers alive now: out of the cyclic GC's
        # reach (20-40 ms UI stalls measured otherwise; see pacing.settle).
        pacing.settle()
        recorder = _Recorder(self, self._batch_id)
        self._recorder = recorder
        if total is None and isinstance(tasks, Sized):
            total = len(tasks)
        self._total = total or 0
        self._done = 0
        # The runner's thread pulls the tasks; between them it makes way
        # for the UI thread when that is busy (see pacing).
        tasks = pacing.paced(tasks)
        pacing.heartbeat().hold()
        self._timer.start()
        self.running_changed.emit(True)
        try:
            batch_runner = self._get_runner(mode, workers, scheduler, transfer)
            batch_runner.listener = recorder
            kwargs = {"total": total}
            if report:
                kwargs["report"] = report
            batch_runner.start(tasks, **kwargs)
        except Exception as exc:  # a batch-level error: report it as a summary
            self._finished_from_thread.emit(recorder.batch_id, self._error_summary(mode, workers, exc))

    def cancel(self) -> None:
        """Ask the runner to stop; ``finished`` follows when it has."""
        if self._runner is not None and self.is_running:
            self._runner.cancel()

    def warm_up(self, mode: str = "auto", workers: int | None = None, scheduler: str | None = None) -> None:
        """Start the worker processes in the background now, so the first
        Start does not wait for them (returns at once; see BatchRunner.warm_up).
        Not for a Dask cluster (connecting is left to the first batch)."""
        if self.is_running or mode == "dask":
            return
        self._get_runner(mode, workers, scheduler).warm_up()

    def shutdown(self) -> None:
        """Cancel any batch and close the warm worker pool (app exit)."""
        batch_runner, self._runner = self._runner, None
        self._runner_key = None
        if batch_runner is None:
            return
        try:
            if batch_runner.is_running:
                batch_runner.cancel()
                batch_runner.wait(10)
        finally:
            batch_runner.close()

    # ------------------------------------------------------------ internals
    def _get_runner(self, mode: str, workers: int | None, scheduler: str | None, transfer: str = "shared"):
        dask = mode == "dask"
        key = (mode, workers, scheduler if dask else None, transfer if dask else None)
        if self._runner is not None and self._runner_key == key:
            return self._runner
        if self._runner is not None:
            self._runner.close()
        kwargs = {"mode": mode, "workers": workers, "limits": self.limits}
        if dask:
            kwargs["dask_scheduler"] = scheduler or None
            kwargs["transfer"] = transfer
        else:
            kwargs["initializer"] = init_background_worker
        self._runner = runner.BatchRunner(**kwargs)
        self._runner_key = key
        return self._runner

    def _error_summary(self, mode, workers, exc):
        return runner.Summary(
            total=self._total, ok=0, failed=0, skipped=0, cancelled=self._total,
            bytes_in=0, bytes_out=0, seconds=0.0, mode=mode, workers=workers or 0,
            batch_error=str(exc) or type(exc).__name__, report_path=None,
        )

    @Slot()
    def _drain(self) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        started, running, results, progress = recorder.drain()
        if started is not None:
            total, mode, workers, reason = started
            self.started.emit(int(total if total is not None else self._total), str(mode), int(workers or 0), str(reason or ""))
        if running:
            self.files_started.emit(running)
        if results:
            self.file_finished.emit(results)
        if progress is not None:
            self._done = progress.done
            total = progress.total if progress.total is not None else self._total
            self.progress.emit(int(progress.done), int(total))
            self.progress_info.emit(progress)

    @Slot(int, object)
    def _on_finished(self, batch_id: int, summary) -> None:
        if self._recorder is None or batch_id != self._recorder.batch_id:
            return
        self._drain()  # everything recorded before finished goes out first
        self._timer.stop()
        self._recorder = None
        pacing.heartbeat().release()
        self.finished.emit(summary)
        self.running_changed.emit(False)
