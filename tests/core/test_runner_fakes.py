"""Cheap stand-ins for the worker, used by the runner tests (no Pillow involved).

They live in an importable module (``tests.core.test_runner_fakes``) so that
``spawn`` worker processes can unpickle them by reference. Behaviour is chosen
per task through ``TaskSpec.test_fault`` (like the real worker's fault hook):
None writes ``b"out:<input name>"`` atomically to the output path.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

from gui_app.core.specs import Code, Status, TaskResult, TaskSpec

TEMP_MARKER = ".imagebatch-tmp-"


class Unpicklable(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.handle = lambda: None  # lambdas do not pickle


def fake_task(spec: TaskSpec) -> TaskResult:
    fault = spec.test_fault or ""
    started = time.perf_counter()
    if fault == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "segfault":
        ctypes.string_at(0)
    elif fault == "hang":
        while True:
            time.sleep(1)
    elif fault == "systemexit":
        raise SystemExit(3)
    elif fault == "raise_unpicklable":
        raise Unpicklable("cannot cross the pipe")
    elif fault == "disk_full":
        return TaskResult.failure(spec, Code.DISK_FULL, "No space left on device")
    elif fault == "fail":
        return TaskResult.failure(spec, Code.CORRUPT, "broken on purpose")
    elif fault.startswith("slow:"):
        time.sleep(float(fault.split(":", 1)[1]))
    elif fault.startswith("slow_write:"):
        # leave a temp file behind while sleeping, as a real atomic write would
        folder, name = os.path.split(spec.output_path)
        tmp = os.path.join(folder, "." + name + TEMP_MARKER + "x")
        with open(tmp, "wb") as fh:
            fh.write(b"partial")
        time.sleep(float(fault.split(":", 1)[1]))
        os.replace(tmp, spec.output_path)
        return TaskResult(task_id=spec.task_id, input_path=spec.input_path, output_path=spec.output_path,
                          bytes_in=spec.input_size, bytes_out=7)
    data = b"out:" + os.path.basename(spec.input_path).encode()
    if spec.overwrite != "overwrite" and os.path.exists(spec.output_path):
        return TaskResult.failure(spec, Code.SKIPPED_EXISTING, "the output already exists")
    if spec.output_path:
        os.makedirs(os.path.dirname(spec.output_path) or ".", exist_ok=True)
        tmp = spec.output_path + ".tmpw"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, spec.output_path)
    return TaskResult(task_id=spec.task_id, input_path=spec.input_path, output_path=spec.output_path,
                      status=Status.OK.value, code=Code.OK.value, bytes_in=spec.input_size,
                      bytes_out=len(data), seconds=time.perf_counter() - started)


def fake_chunk(specs):
    """Like worker.run_chunk, but the faults above are NOT caught (raise / die)."""
    results = []
    for spec in specs:
        try:
            results.append(fake_task(spec))
        except Unpicklable:
            raise
        except Exception as exc:  # noqa: BLE001
            results.append(TaskResult.failure(spec, Code.INTERNAL_ERROR, str(exc)))
    return results


def cheap_chunk(specs):
    """No file system at all: for dispatch-overhead and memory tests."""
    return [TaskResult(task_id=s.task_id, input_path=s.input_path, output_path=s.output_path,
                       bytes_in=s.input_size, bytes_out=1) for s in specs]


def unpicklable_result_chunk(specs):
    return [lambda: None for _ in specs]


def noop_init(limits=None):
    pass


def failing_init(limits=None):
    raise RuntimeError("codec library missing (test)")


def pid_chunk(specs):
    """Report the worker pid as the message (lets a test find and kill a worker)."""
    time.sleep(0.05)
    return [TaskResult(task_id=s.task_id, input_path=s.input_path, output_path=s.output_path,
                       message=str(os.getpid())) for s in specs]


# --------------------------------------------------------------------------- process helpers (Linux /proc)


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def survivors(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The processes of ``pids`` still running after waiting up to ``timeout``
    for all of them to end (an orphan check: expect ``[]``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(process_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if process_alive(p)]


def child_pids(pid: int) -> list[int]:
    """Live child processes of ``pid`` (no psutil: a scan of /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


def init_worker_with_full_disk(limits=None):
    """The real worker set-up, then writes past 4 KiB fail with EFBIG (a stand-in
    for a full disk that needs no special file system: RLIMIT_FSIZE)."""
    import resource

    from gui_app.core import worker

    worker.init_worker(limits)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
