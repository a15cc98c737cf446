"""Worker pools for every worker mode behind one small interface, and the ``auto`` choice.

The runner talks to a :class:`WorkerPool`: ``submit(fn, arg) -> Future`` plus the
few things a plain ``concurrent.futures.Executor`` cannot do on its own: start
and check its workers (:meth:`WorkerPool.start` raises :class:`WorkerInitError`
once, instead of a flood of per-file failures), kill them (deadlines, cancel),
and rebuild after a crash. Each pool wraps a real ``Executor``:

- ``sequential``: a ``ThreadPoolExecutor`` with one thread: one file at a time,
  off the runner's own thread, so a file past its deadline can be given up on
  and a cancel is answered while a long file runs.
- ``threads``: ``ThreadPoolExecutor``; Pillow's limits are set once in this process.
- ``processes``: ``ProcessPoolExecutor`` with the ``spawn`` start method (never
  ``fork``: the GUI process has threads; ``spawn`` workers also get a clean
  environment read at start, which the fault-injection tests rely on). The
  initializer (``worker.init_worker(limits)``) runs in every worker through
  :func:`_init_process`, which also makes workers ignore SIGINT: a Ctrl+C in a
  terminal reaches the whole process group, and cancelling is the parent's job.
- ``dask``: :class:`dask_backend.DaskPool` on a Dask cluster (optional dependency).

Nothing here imports Pillow or Qt at module level.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .specs import Limits, TaskSpec

MODES = ("auto", "sequential", "threads", "processes", "dask")

#: How long a fresh process pool may take to start its workers (spawn + imports).
POOL_START_TIMEOUT_S = 60.0


class WorkerInitError(RuntimeError):
    """The workers could not be started (e.g. the pool initializer failed).

    A batch-level error: the runner stops and reports it once."""


# --------------------------------------------------------------------------
# Functions that run inside worker processes (top level: pickled by reference)
# --------------------------------------------------------------------------

_INIT_ERROR: str | None = None


def _init_process(initializer: Callable[..., Any] | None, initargs: tuple, parent_pid: int | None = None) -> None:
    """Pool initializer wrapper: never raises, remembers a failure instead.

    If the real initializer raised, the stdlib would log a traceback, let the
    worker exit and break the pool for every task; the runner could not tell
    that from a crash. Here the error is kept and reported by :func:`probe_worker`
    and :func:`call_in_worker` as one clear :class:`WorkerInitError`.

    The real initializer arms the Linux parent-death signal; a parent killed
    while this worker was still starting (before that) would go unnoticed, so
    the parent pid is checked once more afterwards and an orphan exits at once.
    """
    global _INIT_ERROR
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread of a process
        pass
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException as exc:  # noqa: BLE001 - reported as a batch error
            _INIT_ERROR = f"{type(exc).__name__}: {exc}"
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(0)  # the app died while this worker started: nobody needs it


def probe_worker() -> tuple[int, str | None]:
    """Answer the pool's start-up check: this worker's pid and its init error."""
    return os.getpid(), _INIT_ERROR


def call_in_worker(fn: Callable[[Any], Any], arg: Any) -> Any:
    """Run one task function in a worker, refusing to run in a worker whose
    initializer failed (its Pillow limits would not be set)."""
    if _INIT_ERROR is not None:
        raise WorkerInitError(_INIT_ERROR)
    return fn(arg)


# --------------------------------------------------------------------------
# Executors and pools
# --------------------------------------------------------------------------


class WorkerPool:
    """Base pool: wraps an Executor; subclasses add killing and rebuilding."""

    mode = "sequential"
    #: Whether stuck tasks can be stopped (by killing their worker process).
    can_kill = False

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self.executor: cf.Executor | None = None

    def start(self) -> None:
        if self.executor is None:
            self.executor = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="imagebatch")

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future:
        if self.executor is None:
            self.start()
        assert self.executor is not None
        return self.executor.submit(fn, arg)

    @property
    def broken(self) -> bool:
        return False

    def kill_workers(self) -> list[int]:
        """Kill every worker process now (returns their pids). No-op without processes."""
        return []

    def replace_executor(self) -> None:
        """Continue on a fresh executor, leaving the old one's running calls
        to finish on their own (threads cannot be stopped)."""
        old, self.executor = self.executor, None
        if old is not None:
            old.shutdown(wait=False)
        self.start()

    def worker_pids(self) -> list[int]:
        return []

    def rebuild(self) -> None:
        self.shutdown()
        self.start()

    def shutdown(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None


class InProcessPool(WorkerPool):
    """``sequential`` and ``threads``: Pillow's limits are configured once in
    this process (an initializer per thread would set process-wide globals
    anyway, and the worker's Linux parent-death signal must not be armed in
    the app's own process)."""

    def __init__(self, mode: str, workers: int, initializer: Callable[..., Any] | None, initargs: tuple):
        super().__init__(1 if mode == "sequential" else workers)
        self.mode = mode
        self._initializer = initializer
        self._initargs = initargs
        self._initialized = False

    def start(self) -> None:
        if not self._initialized and self._initializer is not None:
            try:
                self._initializer(*self._initargs)
            except Exception as exc:  # noqa: BLE001
                raise WorkerInitError(f"{type(exc).__name__}: {exc}") from exc
        self._initialized = True
        super().start()


class ProcessPool(WorkerPool):
    """A ``ProcessPoolExecutor`` that can be probed, killed and rebuilt.

    Killing uses the executor's worker table (``_processes``, a private but
    long-stable attribute): the stdlib has no public way to stop a running
    task. Killing any worker breaks the pool (every unfinished future fails
    with ``BrokenProcessPool``); the runner then rebuilds it.
    """

    mode = "processes"
    can_kill = True

    def __init__(self, workers: int, initializer: Callable[..., Any] | None, initargs: tuple,
                 start_method: str = "spawn"):
        super().__init__(workers)
        if start_method == "fork":
            raise ValueError("the fork start method is unsafe in a threaded app; use spawn or forkserver")
        self._initializer = initializer
        self._initargs = initargs
        self._context = multiprocessing.get_context(start_method)
        self.generation = 0  # how many times the pool was (re)built

    def start(self) -> None:
        if self.executor is not None:
            return
        self.executor = cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_process,
            initargs=(self._initializer, self._initargs, os.getpid()),
        )
        self.generation += 1
        self._probe()

    def _probe(self) -> None:
        """Start every worker and check its initializer; raise WorkerInitError once."""
        assert self.executor is not None
        futures = [self.executor.submit(probe_worker) for _ in range(self.workers)]
        done, not_done = cf.wait(futures, timeout=POOL_START_TIMEOUT_S)
        if not_done:
            self.shutdown()
            raise WorkerInitError(f"the worker processes did not start within {POOL_START_TIMEOUT_S:.0f} s")
        for future in done:
            exc = future.exception()
            if exc is not None:
                self.shutdown()
                raise WorkerInitError(f"the worker processes could not start: {type(exc).__name__}: {exc}")
            _pid, error = future.result()
            if error is not None:
                self.shutdown()
                raise WorkerInitError(f"the worker processes could not start: {error}")

    @property
    def broken(self) -> bool:
        return bool(self.executor is not None and getattr(self.executor, "_broken", False))

    def _processes(self) -> list[multiprocessing.process.BaseProcess]:
        table = getattr(self.executor, "_processes", None) or {}
        return list(table.values())

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._processes() if p.pid is not None]

    def kill_workers(self) -> list[int]:
        return [proc.pid for proc in self._processes() if _kill(proc)]

    def death_reason(self, wait_s: float = 2.0) -> str:
        """How a worker of a broken pool died, e.g. "killed by SIGSEGV" ("" if unknown).

        The stdlib terminates the surviving workers with SIGTERM after one dies,
        so the first other reason is the culprit's. Looked at again for up to
        ``wait_s`` while some exit code is still unknown: the stdlib's own
        thread reaps the workers at the same time, and a ``join`` that loses
        that race returns before the exit code is stored."""
        deadline = time.monotonic() + wait_s
        while True:
            reason, unknown = self._exit_reason()
            if reason or not unknown or time.monotonic() > deadline:
                return reason
            time.sleep(0.05)

    def _exit_reason(self) -> tuple[str, bool]:
        """(the first telling exit reason, whether some exit code is unknown yet)."""
        unknown = False
        for proc in self._processes():
            try:
                proc.join(timeout=1.0)
                code = proc.exitcode
            except (OSError, ValueError, AssertionError):
                continue
            if code is None:
                unknown = True
                continue
            if code == 0 or code == -signal.SIGTERM:
                continue
            if code < 0:
                try:
                    return f"killed by {signal.Signals(-code).name}", unknown
                except ValueError:
                    return f"killed by signal {-code}", unknown
            return f"exited with code {code}", unknown
        return "", unknown

    def shutdown(self) -> None:
        """Stop the pool without ever blocking for long (3.11: kill, then join briefly)."""
        executor = self.executor
        if executor is None:
            return
        self.executor = None
        processes = list((getattr(executor, "_processes", None) or {}).values())
        manager = getattr(executor, "_executor_manager_thread", None)
        for proc in processes:
            _kill(proc)
        try:
            executor.shutdown(wait=False, cancel_futures=True)
        except Exception:  # noqa: BLE001 - a broken pool may complain; it is gone anyway
            pass
        if manager is not None:
            manager.join(timeout=5.0)
        deadline = time.monotonic() + 5.0
        for proc in processes:
            try:
                proc.join(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001
                pass


def _kill(proc: multiprocessing.process.BaseProcess) -> bool:
    """SIGKILL on POSIX, TerminateProcess on Windows; never a recycled pid
    (the process object knows when its child was already reaped)."""
    if proc.pid is None:
        return False
    try:
        proc.kill()
        return True
    except (OSError, ValueError, AttributeError):
        return False


def default_initializer(mode: str) -> Callable[..., Any]:
    """The real per-worker set-up: ``worker.init_worker`` in processes,
    ``imageio.configure_pillow`` once in this process otherwise."""
    if mode == "processes":
        from . import worker

        return worker.init_worker
    from . import imageio

    return imageio.configure_pillow


def make_executor(mode: str, workers: int, limits: Limits, *, scheduler: str | None = None,
                  initializer: Callable[..., Any] | None = None, start_method: str = "spawn",
                  transfer: str = "shared") -> WorkerPool:
    """A not-yet-started :class:`WorkerPool` for a fixed mode (not ``auto``).

    ``initializer`` (called with ``limits``) defaults to :func:`default_initializer`;
    tests inject their own. ``scheduler`` and ``transfer`` (shared | bytes) are
    for the ``dask`` mode, implemented in :mod:`dask_backend`.
    """
    if mode not in MODES or mode == "auto":
        raise ValueError(f"unknown worker mode {mode!r} (one of {', '.join(m for m in MODES if m != 'auto')})")
    if mode == "dask":
        from .dask_backend import DaskPool

        return DaskPool(workers, scheduler, limits, transfer)
    init = initializer if initializer is not None else default_initializer(mode)
    if mode == "processes":
        return ProcessPool(workers, init, (limits,), start_method=start_method)
    return InProcessPool(mode, workers, init, (limits,))


# --------------------------------------------------------------------------
# The "auto" choice
# --------------------------------------------------------------------------


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def available_memory() -> int:
    """Bytes of memory available for new work (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def header_pixels(path: str) -> int | None:
    """Width × height from the file header (JPEG, PNG, GIF, BMP, WebP), or None.

    A tiny parser of the first 64 KiB: no decoding, no Pillow, safe on hostile
    files (it only reads numbers). Used to size the workload for ``auto``.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return int.from_bytes(head[16:20], "big") * int.from_bytes(head[20:24], "big")
        if head[:6] in (b"GIF87a", b"GIF89a"):
            return int.from_bytes(head[6:8], "little") * int.from_bytes(head[8:10], "little")
        if head[:2] == b"BM" and len(head) >= 26:
            return abs(int.from_bytes(head[18:22], "little", signed=True)
                       * int.from_bytes(head[22:26], "little", signed=True))
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            kind = head[12:16]
            if kind == b"VP8X":
                w = int.from_bytes(head[24:27], "little") + 1
                h = int.from_bytes(head[27:30], "little") + 1
                return w * h
            if kind == b"VP8 ":
                return (int.from_bytes(head[26:28], "little") & 0x3FFF) * (int.from_bytes(head[28:30], "little") & 0x3FFF)
            if kind == b"VP8L":
                bits = int.from_bytes(head[21:25], "little")
                return ((bits & 0x3FFF) + 1) * (((bits >> 14) & 0x3FFF) + 1)
        if head[:2] == b"\xff\xd8":
            return _jpeg_pixels(head)
    except (IndexError, ValueError):
        return None
    return None


def _jpeg_pixels(head: bytes) -> int | None:
    i = 2
    while i + 9 < len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(head[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h = int.from_bytes(head[i + 5:i + 7], "big")
            w = int.from_bytes(head[i + 7:i + 9], "big")
            return w * h
        i += 2 + length
    return None


def estimated_pixels(spec: TaskSpec) -> int:
    """Pixels of an input: from its header, else guessed from its size."""
    pixels = header_pixels(spec.input_path)
    if pixels:
        return pixels
    # Compressed photos hold roughly 3-10 pixels per byte; guess on the high side.
    return max(1, spec.input_size) * 8


@dataclass(frozen=True)
class Workload:
    count: int  # tasks in the sample (or in the whole batch when complete)
    complete: bool  # the sample is the whole batch
    total: int | None  # total tasks if known
    median_pixels: int
    max_pixels: int
    total_pixels: int


#: Rough cost of the whole pipeline per pixel (decode + resize + encode), seconds.
SECONDS_PER_PIXEL = 30e-9
#: Fixed cost of one file besides its pixels (open and content check, metadata,
#: temp file + rename, the result object), seconds. It dominates small files:
#: 2,000 files of 64×64 px are ~1 s of this against 0.25 s of pixel work, and
#: threads cannot run it in parallel (it is Python holding the GIL).
SECONDS_PER_FILE = 0.5e-3
#: Rough cost of starting one spawn worker (interpreter + Pillow import), seconds.
WORKER_START_S = 0.4
#: Files below this many pixels are "small": grouped into chunks in processes mode.
SMALL_PIXELS = 1_500_000
#: Memory one worker needs per pixel of its largest image (RGBA copies during work).
BYTES_PER_PIXEL_IN_FLIGHT = 4 * 3
WORKER_BASE_BYTES = 60 << 20


def describe_workload(sample: Sequence[TaskSpec], complete: bool, total: int | None) -> Workload:
    pixels = sorted(estimated_pixels(s) for s in sample) or [0]
    return Workload(
        count=len(sample),
        complete=complete,
        total=total if total is not None else (len(sample) if complete else None),
        median_pixels=pixels[len(pixels) // 2],
        max_pixels=pixels[-1],
        total_pixels=sum(pixels),
    )


def memory_capped_workers(wanted: int, max_pixels: int, memory: int) -> int:
    """Workers that fit in ~70 % of the available memory for images of ``max_pixels``."""
    per_worker = WORKER_BASE_BYTES + max_pixels * BYTES_PER_PIXEL_IN_FLIGHT
    return max(1, min(wanted, int(memory * 0.7) // per_worker))


def choose_mode(sample: Sequence[TaskSpec], cores: int | None = None, memory: int | None = None, *,
                complete: bool = True, total: int | None = None,
                workers: int | None = None, warm_processes: int = 0) -> tuple[str, int, str]:
    """Pick a worker mode for a workload: ``(mode, workers, reason)``.

    ``sample`` is the first tasks of the batch (all of them when ``complete``).
    Tiny jobs run in-process (starting worker processes would cost more than the
    work); everything else goes to processes (crash- and timeout-safe, no GIL),
    with the worker count capped by memory for big images. The estimate is
    pixels × :data:`SECONDS_PER_PIXEL` plus files × :data:`SECONDS_PER_FILE`,
    so many small files go to processes (in chunks) rather than threads.

    ``warm_processes``: worker processes already running (a warm pool). They
    cost nothing to start, so any batch worth more than one file goes to them
    (instead of threads, which would also shut the warm pool down).
    """
    cores = cores or cpu_count()
    memory = memory if memory is not None else available_memory()
    load = describe_workload(sample, complete, total)
    n = load.total if load.total is not None else None
    mem_text = f"{memory / (1 << 30):.1f} GiB free"
    if n == 0:
        return "sequential", 1, "no files to process"
    files = n or load.count
    est_seconds = (load.total_pixels / max(1, load.count)) * files * SECONDS_PER_PIXEL + files * SECONDS_PER_FILE
    wanted = workers or cores
    capped = memory_capped_workers(wanted, load.max_pixels, memory)
    size_text = f"~{load.median_pixels / 1e6:.1f} MP median"
    if warm_processes:
        procs = max(1, min(capped, warm_processes))
        return "processes", procs, (
            f"{n if n is not None else 'a streaming batch of'} files, {size_text}: "
            f"the {warm_processes} worker processes are already running")
    if n is not None and (n <= 1 or cores <= 1 or (n <= 3 and est_seconds < 0.5)):
        return "sequential", 1, f"{n} file(s), {size_text}: too few to be worth extra workers"
    if n is not None and est_seconds < WORKER_START_S * 2:
        threads = max(1, min(wanted, n, capped))
        return "threads", threads, (
            f"{n} files, {size_text}, about {est_seconds:.1f} s of work: "
            f"threads avoid the cost of starting processes")
    procs = max(1, min(capped, n if n is not None else capped))
    why_cap = f" (capped from {wanted} by memory)" if capped < wanted else ""
    how = ("many small files: grouped into chunks" if load.median_pixels < SMALL_PIXELS
           else "large photos: one per task")
    count_text = f"{n} files" if n is not None else "a streaming batch"
    return "processes", procs, (
        f"{count_text}, {size_text}; {how}; {procs} worker processes{why_cap} on {cores} cores, {mem_text}")


def sample_tasks(tasks: Iterable[Any], size: int = 64) -> tuple[list[Any], bool, Iterable[Any]]:
    """Peek at up to ``size`` items of a (possibly streaming) iterable.

    Returns ``(sample, complete, rest)`` where ``rest`` yields every item,
    the sampled ones first, so nothing is consumed twice or lost.
    """
    import itertools

    iterator = iter(tasks)
    sample = list(itertools.islice(iterator, size))
    complete = len(sample) < size
    return sample, complete, itertools.chain(sample, iterator)
