"""The ``dask`` worker mode: run the same batch on a Dask cluster.

Dask is an optional dependency (``pip install 'imagebatch[cluster]'``); this
module imports ``distributed`` only when the mode is started, so the app works
without it and says how to get it (:data:`MISSING_MESSAGE`).

The runner sees a :class:`DaskPool` (the :class:`~.executors.WorkerPool`
interface) wrapping a :class:`DaskExecutor`, a real
``concurrent.futures.Executor``: ``submit(task_fn, specs) -> Future`` that
resolves to ``list[TaskResult]``, exactly like the process pool, so progress,
cancel, report and resume all go through the runner's one code path.

Where the work runs:

- no scheduler address: a :func:`start_local_cluster` on this machine, bound to
  127.0.0.1, worker *processes* (spawned by Dask's nannies), one thread each,
  no dashboard. Also what the tests use.
- ``tcp://HOST:PORT``: an existing cluster (``dask scheduler`` + ``dask worker``).
  Every worker, and the scheduler (it unpickles task graphs), needs ImageBatch
  installed; :meth:`DaskPool.start` checks that once and gives one clear error
  instead of a failure per file.

Two transfer modes:

- ``shared``: workers read inputs and write outputs themselves (a shared file
  system, same paths everywhere): :func:`run_shared_chunk` on the worker.
- ``bytes``: this process reads each input and ships its bytes; the worker runs
  ``worker.run_task_bytes`` (no file-system access at all) and returns the
  encoded output; this process writes it atomically (``worker.write_file``),
  honouring the overwrite policy, keep-dates and the replace-originals backup.
  Reads and writes happen on a small controller thread pool, never on Dask's
  IO thread or the runner's dispatch thread.

Dask details that matter here:

- Every task is submitted with ``pure=False``: Dask would otherwise give two
  chunks with identical arguments (the same file listed twice, or a re-run
  after a cancel) the same key and compute them once.
- Several files travel in one Dask task (the runner's chunking) so Dask's
  per-task overhead of a few milliseconds is paid once per chunk.
- At most one chunk per worker thread of the cluster is handed to Dask at a
  time; the runner's other in-flight chunks wait in :class:`DaskExecutor`.
  A chunk merely queued on a worker that dies counts as a suspect to Dask,
  and could end as KilledWorker although innocent; waiting here it cannot.
- Done-callbacks: a ``distributed.Future`` runs them on Dask's callback thread;
  ours only hand the future to the controller thread pool, which fetches the
  result and resolves the runner's future. Like the process pool, the callback
  never does the work itself.
- Worker loss: when a worker dies, the scheduler re-runs its tasks elsewhere
  (up to ``distributed.scheduler.allowed-failures`` deaths per task, then
  ``KilledWorker``; our local cluster allows :data:`LOCAL_ALLOWED_FAILURES`).
  A re-run chunk in ``shared`` mode may find outputs that the lost attempt
  already wrote: when such an output is byte-identical to what this task
  produces it is reported OK (once), not SKIPPED_EXISTING, so the report stays
  exact. A single file that keeps killing workers ends as WORKER_CRASH; a
  chunk that did is failed back to the runner, which re-runs its files alone.
- Cancel: a running Dask task cannot be interrupted, and cancelling its future
  would only throw its results away while it goes on writing files. So the
  runner's ``future.cancel()`` sets a named ``distributed.Event`` instead; each
  chunk checks it before every file (at most every
  :data:`STOP_CHECK_INTERVAL_S`) and reports the files it did not start as
  CANCELLED. The runner thus gets exact results within its grace period.
- Our own LocalCluster is watched: a worker slot that stays empty (Dask's
  nanny does not restart a worker that dies while starting) is replaced, and
  on any cluster, chunks waiting while no worker at all exists for
  :data:`NO_WORKERS_S` fail the batch with one clear error instead of hanging.
- There is no per-file deadline in this mode: a Dask worker cannot be stopped
  from here without killing it for everyone (documented limitation).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Sequence

from .executors import WorkerInitError, WorkerPool
from .specs import Code, Limits, OverwritePolicy, TaskResult, TaskSpec

INSTALL_HINT = "pip install 'imagebatch[cluster]'"
MISSING_MESSAGE = (
    "the Dask worker mode needs the optional cluster dependencies (dask and distributed), "
    f"which are not installed; install them with: {INSTALL_HINT}")

TRANSFERS = ("shared", "bytes")
#: Seconds to wait for a scheduler to answer a connection.
CONNECT_TIMEOUT_S = 10.0
#: Seconds to wait for at least one worker to join the scheduler.
WORKER_WAIT_S = 30.0
#: A chunk's input bytes above this are scattered to the workers first instead
#: of travelling inside the task (Dask warns about large task graphs).
SCATTER_BYTES = 1 << 20
#: How often a running chunk asks the scheduler whether the batch was cancelled.
STOP_CHECK_INTERVAL_S = 0.25
#: Worker deaths a task survives on our own LocalCluster before KilledWorker:
#: one death (e.g. the OOM killer hitting a neighbour) is retried; a file that
#: kills two workers is a suspect and is isolated by the runner.
LOCAL_ALLOWED_FAILURES = 1

#: How often the pool looks at the cluster's workers while it is open.
WATCH_INTERVAL_S = 1.0
#: Our own LocalCluster: a worker slot missing this long is replaced. (Dask's
#: nanny does not restart a worker process that dies while it is starting,
#: e.g. killed by a file at once again; the slot would stay empty.)
REPAIR_AFTER_S = 10.0
#: Chunks waiting while the cluster has had no worker at all for this long
#: fail the batch with one clear error instead of waiting forever.
NO_WORKERS_S = 60.0

LOST_ATTEMPT_NOTE = "written by an earlier attempt of this task on a Dask worker that was lost"


def dask_available() -> bool:
    """Whether ``distributed`` can be imported (without raising)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def import_distributed() -> Any:
    """``import distributed`` or a :class:`WorkerInitError` saying how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise WorkerInitError(MISSING_MESSAGE) from exc
    return distributed


def start_local_cluster(workers: int, *, env: dict[str, str] | None = None,
                        allowed_failures: int = LOCAL_ALLOWED_FAILURES) -> Any:
    """A ``LocalCluster`` for ImageBatch: loopback only, no dashboard, worker
    processes with one thread each (Pillow work is CPU-bound; one image per
    process keeps memory predictable). ``env`` is set in the worker processes."""
    distributed = import_distributed()
    import dask

    options: dict[str, Any] = {}
    if env:
        options["env"] = dict(env)
    # worker-saturation 1.0: the scheduler hands each worker thread one task at
    # a time. With the default (1.1, i.e. two tasks for a one-thread worker) a
    # task merely waiting on a worker that a bad file kills is counted as a
    # suspect too, and an innocent file could end as WORKER_CRASH.
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures,
                          "distributed.scheduler.worker-saturation": 1.0}):
        return distributed.LocalCluster(
            n_workers=max(1, int(workers)), threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
            # No dashboard; the scheduler's small HTTP server (health, metrics)
            # always starts: keep it on loopback and on a free port, not 8787.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, **options)


def restore_local_workers(cluster: Any, client: Any, workers: int) -> None:
    """Replace worker slots of a LocalCluster whose process is gone for good:
    drop the specs of workers the scheduler does not know, then scale back up
    (on the cluster's event loop, where the cluster's state lives)."""
    alive = {info.get("name") for info in client.scheduler_info()["workers"].values()}

    async def rescale() -> None:
        for name in [n for n in cluster.worker_spec if n not in alive]:
            del cluster.worker_spec[name]
            nanny = cluster.workers.pop(name, None)  # else a new spec of that name counts as running
            if nanny is not None:
                with contextlib.suppress(Exception):
                    await nanny.close(timeout=5)
        cluster.scale(workers)

    cluster.loop.add_callback(rescale)


# --------------------------------------------------------------------------
# Functions that run on the Dask workers (top level: pickled by reference, so
# every worker needs ImageBatch installed)
# --------------------------------------------------------------------------


def probe_worker() -> int:
    """Start-up check on every worker: ImageBatch's worker code imports."""
    from . import worker  # noqa: F401 - the import is the check (Pillow, plugins)

    return os.getpid()


class _StopFlag:
    """Worker side of cancel: asks the scheduler whether the named event is
    set, at most every STOP_CHECK_INTERVAL_S. The first file of a chunk runs
    unasked: a chunk starts as soon as it is handed to Dask (chunks cancelled
    before that never leave the controller), so asking then would only add a
    round trip to every chunk."""

    def __init__(self, name: str | None):
        self.name = name
        self.stopped = False
        self._checked = time.monotonic()

    def is_set(self) -> bool:
        if self.stopped or not self.name:
            return self.stopped
        now = time.monotonic()
        if now - self._checked < STOP_CHECK_INTERVAL_S:
            return False
        self._checked = now
        try:
            from distributed import Event

            self.stopped = bool(Event(self.name).is_set())
        except Exception:  # noqa: BLE001 - no scheduler answer: keep working
            return False
        return self.stopped


def _cancelled(spec: TaskSpec) -> TaskResult:
    return TaskResult.failure(spec, Code.CANCELLED, "cancelled before it started")


def _output_from_lost_attempt(spec: TaskSpec, source: str | None = None) -> TaskResult | None:
    """After a worker loss Dask re-runs the whole chunk: an output that the lost
    attempt already wrote is ours if it is byte-identical to what this task
    produces from ``source`` (default: its input; encoding is deterministic).
    Returns an OK result, else None."""
    from . import worker

    try:
        with open(source or spec.input_path, "rb") as fh:
            data = fh.read()
        existing_size = os.path.getsize(spec.output_path)
    except OSError:
        return None
    result, out = worker.run_task_bytes(spec, data)
    if out is None or len(out) != existing_size:
        return None
    try:
        with open(spec.output_path, "rb") as fh:
            if fh.read() != out:
                return None
    except OSError:
        return None
    return dataclasses.replace(result, message=LOST_ATTEMPT_NOTE)


def _run_shared_task(spec: TaskSpec) -> TaskResult:
    from . import worker

    earlier = None
    if spec.backup_path:
        # "Replace originals": a lost attempt already made the backup and
        # replaced the original; the backup is the real input now.
        if os.path.lexists(spec.backup_path):
            earlier = _output_from_lost_attempt(spec, source=spec.backup_path)
    elif spec.overwrite != OverwritePolicy.OVERWRITE and os.path.lexists(spec.output_path):
        earlier = _output_from_lost_attempt(spec)
    return earlier if earlier is not None else worker.run_task(spec)


def run_shared_chunk(specs: Sequence[TaskSpec], stop_name: str | None,
                     task_fn: Callable[[tuple[TaskSpec, ...]], list[TaskResult]] | None = None) -> list[TaskResult]:
    """``shared`` transfer, on a worker: process each file in place.

    ``task_fn`` (a chunk function, for tests) replaces the real worker; it is
    called one file at a time so a cancel is seen between files.
    """
    stop = _StopFlag(stop_name)
    results: list[TaskResult] = []
    for spec in specs:
        if stop.is_set():
            results.append(_cancelled(spec))
        elif task_fn is None:
            results.append(_run_shared_task(spec))
        else:
            results.extend(task_fn((spec,)))
    return results


def run_bytes_chunk(specs: Sequence[TaskSpec], payloads: Sequence[bytes],
                    stop_name: str | None) -> list[tuple[TaskResult, bytes | None]]:
    """``bytes`` transfer, on a worker: no file-system access; returns each
    file's result with its encoded output (None when it failed or was cancelled)."""
    from . import worker

    stop = _StopFlag(stop_name)
    out: list[tuple[TaskResult, bytes | None]] = []
    for spec, data in zip(specs, payloads):
        if stop.is_set():
            out.append((_cancelled(spec), None))
        else:
            out.append(worker.run_task_bytes(spec, data))
    return out


# --------------------------------------------------------------------------
# Controller side of the bytes transfer: read inputs, write outputs
# --------------------------------------------------------------------------


@dataclasses.dataclass
class _Prepared:
    """A bytes-mode file read by the controller, ready to ship."""

    spec: TaskSpec
    data: bytes
    overwrite: str
    mtime_ns: int
    atime_ns: int


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def prepare_bytes_task(spec: TaskSpec) -> _Prepared | TaskResult:
    """The checks the worker makes before reading (same codes and messages as
    ``worker.run_task``), then read the input. A TaskResult means "done here"."""
    overwrite = spec.overwrite
    if os.path.lexists(spec.output_path) and _same_file(spec.input_path, spec.output_path):
        if not spec.backup_path:
            return TaskResult.failure(spec, Code.UNSAFE_PATH, "the output would replace the original; "
                                      "use “replace originals” (which keeps a backup)")
        overwrite = OverwritePolicy.OVERWRITE.value
    if overwrite == OverwritePolicy.SKIP and os.path.lexists(spec.output_path):
        return TaskResult.failure(spec, Code.SKIPPED_EXISTING, "the output already exists")
    try:
        with open(spec.input_path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            data = fh.read()
    except OSError as exc:
        return TaskResult.failure(spec, Code.READ_FAILED, f"the file cannot be read: {exc.strerror or exc}")
    return _Prepared(spec, data, overwrite, stat.st_mtime_ns, stat.st_atime_ns)


def _result_info(result: TaskResult) -> dict[str, Any]:
    """What a worker learnt about a file, to carry into a failure result."""
    info = result.to_dict()
    for key in ("task_id", "input_path", "output_path", "status", "code", "message", "bytes_out"):
        info.pop(key, None)
    return info


def write_bytes_output(item: _Prepared, result: TaskResult, data: bytes) -> TaskResult:
    """Write a worker's encoded output here, atomically, like ``worker.run_task`` would."""
    from . import worker

    spec = item.spec
    started = time.perf_counter()
    times = (item.mtime_ns, item.atime_ns) if spec.keep_dates else (None, None)
    code, message, path = worker.write_output(spec, data, item.overwrite, *times)
    if code != Code.OK:
        return TaskResult.failure(spec, code, message, **_result_info(result))
    seconds = round(result.seconds + time.perf_counter() - started, 6)
    return dataclasses.replace(result, output_path=path, seconds=seconds)


def sweep_temp_files_in(folders: Sequence[str]) -> int:
    """Remove temp files of killed writes (``.<name>.imagebatch-tmp-*``) directly
    in these folders (not below them). Returns how many were removed."""
    from .journal import TEMP_MARKER

    removed = 0
    for folder in folders:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith(".") and TEMP_MARKER in name:
                try:
                    os.unlink(os.path.join(folder, name))
                    removed += 1
                except OSError:
                    pass
    return removed


# --------------------------------------------------------------------------
# The executor and the pool
# --------------------------------------------------------------------------


def _new_stop_name() -> str:
    return f"imagebatch-stop-{uuid.uuid4().hex}"


def _is_default_task_fn(fn: Any) -> bool:
    from . import worker

    return fn is None or fn is worker.run_chunk


class _ChunkFuture(cf.Future):
    """The runner's future for one chunk. ``cancel()`` asks the chunk to stop
    between files (see the module docs); the chunk then resolves with exact
    results, CANCELLED for the files it did not start."""

    def __init__(self, on_cancel: Callable[[], None]):
        super().__init__()
        self._on_cancel = on_cancel

    def cancel(self) -> bool:
        if not self.done():
            self._on_cancel()
        return super().cancel()


@dataclasses.dataclass
class _InFlight:
    """Controller-side state of one chunk while Dask runs it."""

    specs: tuple[TaskSpec, ...]  # what the runner submitted
    stop_name: str  # the distributed.Event this chunk checks between files
    ready: list[TaskResult]  # bytes mode: files settled here without a worker
    items: list[_Prepared] | None = None  # bytes mode: what was shipped
    dask_future: Any = None  # kept referenced until the result is fetched
    task_fn: Any = None  # shared mode: a test's chunk function, None for the real worker
    started: bool = False  # handed to Dask (it holds one of the executor's slots)


class DaskExecutor(cf.Executor):
    """``submit(task_fn, specs)`` runs a chunk of TaskSpecs on a Dask cluster
    and returns a ``concurrent.futures.Future`` of ``list[TaskResult]``.

    ``task_fn`` is the runner's chunk function: the default
    (``worker.run_chunk``) runs the real worker file by file; another function
    (tests) is called on the worker one file at a time. The ``bytes`` transfer
    always runs ``worker.run_task_bytes``.
    """

    def __init__(self, client: Any, transfer: str = "shared", io_threads: int = 2, slots: int = 1):
        if transfer not in TRANSFERS:
            raise ValueError(f"unknown transfer mode {transfer!r} (one of {', '.join(TRANSFERS)})")
        self._client = client
        # At most ``slots`` chunks (the cluster's worker threads) are handed to
        # Dask at a time; the others wait here. A chunk queued on a worker that
        # a bad file kills counts as a suspect to Dask and could end up as
        # KilledWorker (WORKER_CRASH) although innocent; waiting here it cannot.
        # Cancel also drops waiting chunks at once.
        self._slots = max(1, int(slots))
        self._running = 0
        self._waiting: deque[_ChunkFuture] = deque()
        self.transfer = transfer
        self._io = cf.ThreadPoolExecutor(max(1, io_threads), thread_name_prefix="imagebatch-dask-io")
        self._lock = threading.Lock()
        # Held while checking for idleness and sweeping temp files, and while
        # submitting, so a sweep never races a new chunk's writes.
        self._sweep_lock = threading.Lock()
        self._live: dict[cf.Future, _InFlight] = {}
        self._stop_name = _new_stop_name()
        self._stopped: list[str] = []
        self._folders: set[str] = set()  # shared mode: output folders since the last sweep
        self._closed = False

    # ------------------------------------------------------------- submit

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        if self._closed:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if len(args) != 1 or kwargs:
            raise TypeError("DaskExecutor.submit(task_fn, specs) takes one chunk of TaskSpecs")
        specs = tuple(args[0])
        with self._lock:
            stop_name = self._stop_name
        future = _ChunkFuture(functools.partial(self._request_stop, stop_name))
        future.set_running_or_notify_cancel()  # ours now: cancel() asks it to stop instead
        chunk = _InFlight(specs, stop_name, [], task_fn=None if _is_default_task_fn(fn) else fn)
        with self._lock:
            self._live[future] = chunk
            self._waiting.append(future)
        self._pump()
        return future

    def set_slots(self, slots: int) -> None:
        """How many chunks may run on Dask at once (the cluster's threads)."""
        with self._lock:
            self._slots = max(1, int(slots))
        self._pump()

    def _pump(self) -> None:
        """Hand waiting chunks to Dask while slots are free."""
        while True:
            with self._lock:
                if self._closed or not self._waiting or self._running >= self._slots:
                    return
                future = self._waiting.popleft()
                chunk = self._live.get(future)
                if chunk is None:
                    continue
                chunk.started = True
                self._running += 1
            self._start(future, chunk)

    def _start(self, future: _ChunkFuture, chunk: _InFlight) -> None:
        try:
            if self.transfer == "bytes":
                self._io.submit(self._read_and_send, future, chunk, chunk.stop_name)
            else:
                with self._sweep_lock:
                    with self._lock:
                        self._folders.update(os.path.dirname(s.output_path) for s in chunk.specs)
                    chunk.dask_future = self._client.submit(
                        run_shared_chunk, chunk.specs, chunk.stop_name, chunk.task_fn, pure=False)
                self._watch(future, chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the future like a pool would
            self._resolve(future, exc=self._translate(exc))

    def _read_and_send(self, future: _ChunkFuture, chunk: _InFlight, stop_name: str) -> None:
        """Bytes mode, on a controller IO thread: read the inputs and ship them."""
        try:
            if self._is_stopped(stop_name):
                self._resolve(future, [_cancelled(s) for s in chunk.specs])
                return
            items: list[_Prepared] = []
            for spec in chunk.specs:
                prepared = prepare_bytes_task(spec)
                if isinstance(prepared, TaskResult):
                    chunk.ready.append(prepared)
                else:
                    items.append(prepared)
            if not items:
                self._resolve(future, chunk.ready)
                return
            chunk.items = items
            specs = tuple(item.spec for item in items)
            payloads: Any = [item.data for item in items]
            if sum(len(p) for p in payloads) > SCATTER_BYTES:
                payloads = self._client.scatter(payloads, hash=False)
            chunk.dask_future = self._client.submit(run_bytes_chunk, specs, payloads, stop_name, pure=False)
            for item in items:
                item.data = b""  # the bytes now belong to Dask; keep controller memory flat
            self._watch(future, chunk)
        except BaseException as exc:  # noqa: BLE001
            self._resolve(future, exc=self._translate(exc))

    def _watch(self, future: _ChunkFuture, chunk: _InFlight) -> None:
        chunk.dask_future.add_done_callback(functools.partial(self._on_dask_done, future))

    def _on_dask_done(self, future: _ChunkFuture, _dask_future: Any) -> None:
        """Runs on Dask's callback thread: only hand over (like the process pool)."""
        try:
            self._io.submit(self._collect, future)
        except RuntimeError as exc:  # the executor is shutting down
            self._resolve(future, exc=exc)

    # ------------------------------------------------------------ results

    def _collect(self, future: _ChunkFuture) -> None:
        """On a controller IO thread: fetch the chunk's result, write outputs
        (bytes mode), resolve the runner's future."""
        with self._lock:
            chunk = self._live.get(future)
        if chunk is None or chunk.dask_future is None:
            return
        try:
            value = chunk.dask_future.result()
        except BaseException as exc:  # noqa: BLE001
            self._chunk_failed(future, chunk, exc)
            return
        try:
            if chunk.items is None:
                results = list(value)
            else:
                results = list(chunk.ready)
                for item, (result, data) in zip(chunk.items, value):
                    results.append(result if data is None else write_bytes_output(item, result, data))
        except BaseException as exc:  # noqa: BLE001
            self._resolve(future, exc=exc)
            return
        self._resolve(future, results)

    def _chunk_failed(self, future: _ChunkFuture, chunk: _InFlight, exc: BaseException) -> None:
        from distributed import KilledWorker

        shipped = [item.spec for item in chunk.items] if chunk.items is not None else list(chunk.specs)
        if isinstance(exc, KilledWorker) and len(shipped) == 1:
            crash = TaskResult.failure(
                shipped[0], Code.WORKER_CRASH,
                "the Dask worker process died each time it processed this file (killed by a signal or "
                "crashed); the other files were not affected")
            self._resolve(future, list(chunk.ready) + [crash])
            return
        # Several files: the runner re-runs each alone to find the guilty one.
        self._resolve(future, exc=self._translate(exc))

    def _translate(self, exc: BaseException) -> BaseException:
        """A lost scheduler is a batch-level error, not a failure of each file."""
        status = getattr(self._client, "status", "running")
        if status in ("closing", "closed", "failed") and not self._closed:
            return WorkerInitError(f"lost the connection to the Dask scheduler ({type(exc).__name__}: {exc})")
        return exc

    def _resolve(self, future: cf.Future, results: list[TaskResult] | None = None,
                 exc: BaseException | None = None) -> None:
        with self._sweep_lock:
            with self._lock:
                chunk = self._live.pop(future, None)
                if chunk is not None and chunk.started:
                    self._running -= 1
                # (not when closing: a chunk told to stop may still be writing)
                idle = not self._live and bool(self._folders) and not self._closed
                folders = sorted(self._folders) if idle else []
                if idle:
                    self._folders.clear()
            if folders:
                # Nothing of ours is running: temp files left here were written
                # by a worker that Dask lost (its task ran again elsewhere).
                sweep_temp_files_in(folders)
            try:
                if exc is not None:
                    future.set_exception(exc)
                else:
                    future.set_result(results)
            except cf.InvalidStateError:
                pass
        if chunk is not None and chunk.started:
            self._pump()

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._live)

    def fail_all(self, exc: BaseException) -> None:
        """Resolve every chunk still waiting with ``exc`` (e.g. no workers left)."""
        with self._lock:
            live = list(self._live)
        for future in live:
            self._resolve(future, exc=exc)

    # ------------------------------------------------------------- cancel

    def _is_stopped(self, stop_name: str) -> bool:
        with self._lock:
            return stop_name in self._stopped

    def _request_stop(self, stop_name: str) -> None:
        """Ask every chunk submitted under ``stop_name`` to stop between files;
        chunks submitted later get a fresh name (the next batch). Returns at
        once: the scheduler is told from a short-lived thread, so a slow or
        lost scheduler never blocks the runner's cancel."""
        with self._lock:
            if stop_name in self._stopped:
                return
            self._stopped.append(stop_name)
            if stop_name == self._stop_name:
                self._stop_name = _new_stop_name()
            never_started = [(f, self._live[f].specs) for f in self._waiting
                             if f in self._live and self._live[f].stop_name == stop_name]
            dropped = {f for f, _ in never_started}
            self._waiting = deque(f for f in self._waiting if f not in dropped)
        for future, specs in never_started:
            self._resolve(future, [_cancelled(s) for s in specs])
        threading.Thread(target=self._tell_scheduler, args=("set", [stop_name]),
                         name="imagebatch-dask-stop", daemon=True).start()

    def _tell_scheduler(self, action: str, names: list[str]) -> None:
        try:
            from distributed import Event

            for name in names:
                getattr(Event(name, client=self._client), action)()
        except Exception:  # noqa: BLE001 - no scheduler: nothing runs there either
            pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop: running chunks are asked to stop, queued ones cancelled, and
        every unresolved future fails (the runner has finished with them)."""
        if self._closed:
            return
        with self._lock:
            current = self._stop_name
        self._request_stop(current)
        self._closed = True
        with self._lock:
            live = list(self._live.items())
            in_use = {c.stop_name for _, c in live} | {current}
            done_with = [n for n in self._stopped if n not in in_use]
            self._stopped = [n for n in self._stopped if n in in_use]
        # Fail the runner's futures first: the cancelled Dask futures below
        # then find nothing left to resolve.
        for future, _chunk in live:
            self._resolve(future, exc=WorkerInitError("the Dask pool was shut down"))
        dask_futures = [c.dask_future for _, c in live if c.dask_future is not None]
        try:
            if dask_futures:
                self._client.cancel(dask_futures)
        except Exception:  # noqa: BLE001 - the scheduler may be gone
            pass
        if done_with:  # clearing an event removes it from the scheduler (best effort, briefly)
            clearing = threading.Thread(target=self._tell_scheduler, args=("clear", done_with),
                                        name="imagebatch-dask-stop", daemon=True)
            clearing.start()
            clearing.join(timeout=2.0)
        self._io.shutdown(wait=False, cancel_futures=True)


class DaskPool(WorkerPool):
    """The ``dask`` worker mode for the runner (see the module docs).

    ``scheduler``: ``tcp://HOST:PORT`` of an existing cluster, or None for a
    loopback :func:`start_local_cluster` with ``workers`` processes, closed
    again by :meth:`shutdown`. Workers are never killed from here (Dask
    re-runs the work of lost workers itself), so ``can_kill`` is False.
    """

    mode = "dask"
    can_kill = False

    def __init__(self, workers: int, scheduler: str | None = None, limits: Limits = Limits(),
                 transfer: str = "shared", *, cluster_env: dict[str, str] | None = None):
        super().__init__(workers)
        if transfer not in TRANSFERS:
            raise ValueError(f"unknown transfer mode {transfer!r} (one of {', '.join(TRANSFERS)})")
        self.scheduler = scheduler or None
        self.limits = limits
        self.transfer = transfer
        self.cluster_env = cluster_env
        self.client: Any = None
        self.cluster: Any = None

    def start(self) -> None:
        if self.executor is not None:
            return
        distributed = import_distributed()
        where = self.scheduler or "a local Dask cluster"
        try:
            if self.scheduler:
                self.client = distributed.Client(self.scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            else:
                self.cluster = start_local_cluster(self.workers, env=self.cluster_env)
                self.client = distributed.Client(self.cluster, set_as_default=False)
        except Exception as exc:  # noqa: BLE001
            self._close_client()
            raise WorkerInitError(f"could not connect to {where}: {type(exc).__name__}: {exc}") from exc
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except Exception as exc:  # noqa: BLE001
            self._close_client()
            raise WorkerInitError(
                f"no Dask worker joined the scheduler at {where} within {WORKER_WAIT_S:.0f} s; "
                f"start some with: dask worker {self.scheduler or 'ADDRESS'}") from exc
        try:
            self.client.run(probe_worker)
        except Exception as exc:  # noqa: BLE001
            self._close_client()
            raise WorkerInitError(
                f"the Dask workers cannot run ImageBatch ({type(exc).__name__}: {exc}); install "
                "imagebatch with the same version on every worker") from exc
        try:
            # A real task: the scheduler unpickles task graphs, so it needs ImageBatch too.
            self.client.submit(probe_worker, pure=False).result(timeout=WORKER_WAIT_S)
        except Exception as exc:  # noqa: BLE001
            self._close_client()
            raise WorkerInitError(
                f"the Dask scheduler cannot run ImageBatch's tasks ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); install imagebatch with the same "
                "version on the scheduler's machine as well") from exc
        self.executor = DaskExecutor(self.client, self.transfer, io_threads=max(2, min(8, self.workers)),
                                     slots=self.cluster_threads() or self.workers)
        self._watch_stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_workers, args=(self._watch_stop,),
                                         name="imagebatch-dask-watch", daemon=True)
        self._watcher.start()

    def _watch_workers(self, stop: threading.Event) -> None:
        """Keep our own cluster at full strength, and never let a batch wait
        forever on a cluster with no workers (see REPAIR_AFTER_S, NO_WORKERS_S)."""
        missing_since = empty_since = None
        while not stop.wait(WATCH_INTERVAL_S):
            client, cluster, executor = self.client, self.cluster, self.executor
            if client is None or executor is None:
                return
            try:
                threads = client.nthreads()
            except Exception:  # noqa: BLE001 - the scheduler may be reconnecting
                continue
            count = len(threads)
            if count:
                executor.set_slots(sum(threads.values()))  # workers come and go
            now = time.monotonic()
            if cluster is not None and count < self.workers:
                missing_since = missing_since or now
                if now - missing_since >= REPAIR_AFTER_S:
                    try:
                        restore_local_workers(cluster, client, self.workers)
                    except Exception:  # noqa: BLE001 - try again later
                        pass
                    missing_since = None
            else:
                missing_since = None
            if count == 0 and executor.busy:
                empty_since = empty_since or now
                if now - empty_since >= NO_WORKERS_S:
                    executor.fail_all(WorkerInitError(
                        f"the Dask cluster has had no workers for {NO_WORKERS_S:.0f} s; "
                        f"start some with: dask worker {self.scheduler or 'ADDRESS'}"))
                    empty_since = None
            else:
                empty_since = None

    @property
    def broken(self) -> bool:
        status = getattr(self.client, "status", None)
        return self.client is not None and status in ("closing", "closed", "failed")

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (on their own hosts for a remote cluster)."""
        if self.client is None:
            return []
        try:
            return sorted(self.client.run(os.getpid).values())
        except Exception:  # noqa: BLE001
            return []

    def cluster_threads(self) -> int:
        """Worker threads the cluster has now (0 when not connected): what a
        caller may size its in-flight window by on a remote cluster."""
        if self.client is None:
            return 0
        try:
            return sum(self.client.nthreads().values())
        except Exception:  # noqa: BLE001
            return 0

    def rebuild(self) -> None:
        self.shutdown()
        self.start()

    def shutdown(self) -> None:
        stop = getattr(self, "_watch_stop", None)
        if stop is not None:
            stop.set()
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        self._close_client()

    def _close_client(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        with _quiet_logs():  # our own cluster's shutdown chatter is not the user's business
            for closable in (client, cluster):
                if closable is not None:
                    try:
                        closable.close()
                    except Exception:  # noqa: BLE001 - closing a dead connection may complain
                        pass


def _quiet_logs() -> Any:
    """Dask's INFO lines on stderr while a local cluster closes. (LocalCluster
    silences them while it lives, but a second cluster closing first restores
    the level for both.)"""
    try:
        from distributed.utils import silence_logging_cmgr

        return silence_logging_cmgr(logging.ERROR)
    except Exception:  # noqa: BLE001 - an internal helper; do without it
        return contextlib.nullcontext()
