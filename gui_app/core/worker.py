"""What runs in a worker: one TaskSpec in, one TaskResult out. Never raises.

All functions are top level, so executors pickle them by reference. Every
exception, including ``SystemExit``, ``KeyboardInterrupt`` and ``MemoryError``,
becomes a result with an error code and a plain sentence; the result holds
only primitives, so it always pickles back to the parent.

Writing is atomic: the output is written to a temp file
(``.<name>.imagebatch-tmp-<random>``) in the target folder, flushed to disk
only when ``Limits.durable_writes`` asks for it, then moved into place: ``os.replace`` when overwriting is allowed, a hard link
(which fails if the name exists) otherwise, so an existing file is never
clobbered. The temp file is removed on every failure; the runner sweeps
leftovers of killed workers by :data:`TEMP_MARKER`.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import os
import secrets
import select
import shutil
import signal
import tempfile
import threading
import time
import weakref
from typing import Any, Iterable, Iterator

from . import engine, pil_warnings
from .formats import FormatInfo
from .imageio import classify_exception, configure_pillow, open_image
from .specs import Code, Limits, OverwritePolicy, TaskResult, TaskSpec

TEMP_MARKER = ".imagebatch-tmp-"
FAULTS_ENV = "IMAGEBATCH_TEST_FAULTS"

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def init_worker(limits: Limits | None = None) -> None:
    """Pool initializer: Pillow limits in this process, and make sure this
    worker never outlives the app (no orphan workers after a crash or kill).

    Not PR_SET_PDEATHSIG: Linux sends that signal when the *thread* that
    started the worker ends, and pools are started from short-lived threads
    (``BatchRunner.start``, GUI helpers) and kept warm between batches, so the
    pool would break as soon as that thread returned. Instead a daemon thread
    waits on a pidfd of the parent process (Linux ≥ 5.3), or polls the parent
    pid elsewhere, and ends this worker when the parent process is gone.
    """
    global _capture_c_messages
    configure_pillow(limits or Limits())
    keep_image_memory()
    _watch_parent()
    _capture_c_messages = True


#: Set in worker processes (one task at a time): C libraries' messages on
#: file descriptor 2 are captured per task (see :func:`_c_library_messages`).
_capture_c_messages = False
#: Inputs whose decoder (libtiff) prints to file descriptor 2 by itself.
_NOISY_C_DECODERS = (".tif", ".tiff")


@contextlib.contextmanager
def _c_library_messages(notes: list[str], input_path: str) -> Iterator[None]:
    """libtiff prints its warnings and errors about a damaged file straight to
    file descriptor 2 ("TIFFFillStrip: Read error on strip 0…"), past
    Python, onto the terminal of the CLI. In a worker process, which runs one
    task at a time, descriptor 2 is pointed at a temporary file while a TIFF
    is processed, and what lands there becomes that file's notes (the
    report, the log). Elsewhere (threads: other threads share the
    descriptor) nothing is redirected."""
    if not (_capture_c_messages and input_path.lower().endswith(_NOISY_C_DECODERS)):
        yield
        return
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read(8192).decode("utf-8", "replace")
    finally:
        os.close(saved)
    for line in text.splitlines()[:5]:
        if line.strip() and line.strip() not in notes:
            notes.append(line.strip())


#: Freed image memory blocks Pillow keeps for the next image (16 MiB each).
KEPT_IMAGE_BLOCKS = 4


def keep_image_memory() -> None:
    """Let Pillow keep up to :data:`KEPT_IMAGE_BLOCKS` freed image blocks in
    this worker instead of returning every block to the kernel (its default,
    ``blocks_max`` 0): the next image of a batch reuses them rather than
    faulting in fresh zeroed pages (sharp's PNG task: −6 % CPU, half the page
    faults; no change for JPEG). Costs at most 64 MiB of kept memory per
    worker, which stays flat across a batch. Only in worker processes: the
    GUI/CLI process keeps Pillow's default."""
    from PIL import Image

    set_blocks_max = getattr(Image.core, "set_blocks_max", None)
    if set_blocks_max is not None and Image.core.get_blocks_max() < KEPT_IMAGE_BLOCKS:
        set_blocks_max(KEPT_IMAGE_BLOCKS)


_parent_watch_started = False


def _watch_parent() -> None:
    global _parent_watch_started
    if _parent_watch_started or not hasattr(os, "getppid"):
        return
    _parent_watch_started = True
    parent = os.getppid()
    threading.Thread(target=_exit_with_parent, args=(parent,), name="imagebatch-parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    try:
        fd = os.pidfd_open(parent)  # readable once the parent process has exited
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while os.getppid() == parent:
            time.sleep(0.5)
    os._exit(0)


# --------------------------------------------------------------------------- fault injection


class _UnpicklableError(Exception):
    """Test fault: an exception holding something that cannot be pickled."""

    def __init__(self) -> None:
        super().__init__("injected failure carrying an unpicklable attribute")
        self.payload = lambda: None


def _inject(fault: str | None, stage: str) -> None:
    """Honour ``spec.test_fault`` only when IMAGEBATCH_TEST_FAULTS=1 (tests)."""
    if not fault or os.environ.get(FAULTS_ENV) != "1":
        return
    name, _, arg = fault.partition(":")
    if stage == "after_write":
        if name == "sigkill_after_write":
            os.kill(os.getpid(), signal.SIGKILL)
        return
    if stage == "before_write":
        if name == "sigkill_before_replace":
            os.kill(os.getpid(), signal.SIGKILL)
        return
    if name == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif name == "segfault":
        ctypes.string_at(0)
    elif name == "hang":
        while True:
            time.sleep(3600)
    elif name == "systemexit":
        raise SystemExit(3)
    elif name == "keyboardinterrupt":
        raise KeyboardInterrupt
    elif name == "memoryerror":
        raise MemoryError
    elif name == "raise_unpicklable":
        raise _UnpicklableError()
    elif name == "slow":
        time.sleep(float(arg or 1))


# --------------------------------------------------------------------------- writing


def _disk_error(exc: OSError, what: str) -> tuple[Code, str]:
    if exc.errno in _DISK_FULL_ERRNOS:
        return Code.DISK_FULL, f"the disk is full: cannot write {what}"
    return Code.WRITE_FAILED, f"cannot write {what}: {exc.strerror or exc}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _claim_name(temp: str, final_path: str) -> bool:
    """Move ``temp`` to ``final_path`` only if that name is free. False if taken."""
    try:
        os.link(temp, final_path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
    # No hard links here (FAT, some network shares): reserve the name with
    # an exclusive create, then replace our own placeholder.
    try:
        os.close(os.open(final_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    os.replace(temp, final_path)
    return True


def write_file(final_path: str, data: bytes, overwrite: str, mtime_ns: int | None = None,
               atime_ns: int | None = None, durable: bool = True) -> tuple[Code, str]:
    """:func:`write_atomic` with the reason: (code, message). ``durable=False``
    skips the fsync (the write stays atomic for crashed workers, not for a
    power cut)."""
    folder, name = os.path.split(os.path.abspath(final_path))
    if overwrite != OverwritePolicy.OVERWRITE and os.path.lexists(final_path):
        return Code.SKIPPED_EXISTING, "the output already exists"
    temp = os.path.join(folder, f".{name}{TEMP_MARKER}{secrets.token_hex(4)}")
    try:
        os.makedirs(folder, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if mtime_ns is not None:
            os.utime(temp, ns=(atime_ns if atime_ns is not None else mtime_ns, mtime_ns))
        if overwrite == OverwritePolicy.OVERWRITE:
            os.replace(temp, final_path)
        elif not _claim_name(temp, final_path):
            return Code.SKIPPED_EXISTING, "the output already exists"
        return Code.OK, ""
    except OSError as exc:
        return _disk_error(exc, os.path.basename(final_path))
    finally:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        except OSError:
            pass


def write_atomic(final_path: str, data: bytes, overwrite: str, mtime_ns: int | None = None) -> Code:
    """Write ``data`` to ``final_path`` atomically (see the module docs).

    ``overwrite`` is "overwrite" (replace an existing file), or "skip"/"rename"
    (never clobber: SKIPPED_EXISTING if the name is taken). ENOSPC/EDQUOT
    → DISK_FULL, other OS errors → WRITE_FAILED; the temp file never stays.
    """
    return write_file(final_path, data, overwrite, mtime_ns)[0]


def _renamed(path: str, attempt: int) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem} ({attempt}){ext}"


# --------------------------------------------------------------------------- tasks


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


#: How a complete file of these formats ends.
_TRAILERS = {"JPEG": (b"\xff\xd9",), "MPO": (b"\xff\xd9",), "PNG": (b"IEND\xaeB`\x82",), "GIF": (b";",)}


def _looks_truncated(source: str | bytes, fmt: str | None) -> bool:
    """Cheap check of the file's last bytes (only used when the user chose to
    salvage truncated files, to flag them)."""
    trailers = _TRAILERS.get(fmt or "")
    if not trailers:
        return False
    if isinstance(source, (bytes, bytearray)):
        tail = bytes(source[-16:])
    else:
        with open(source, "rb") as fh:
            fh.seek(max(0, os.path.getsize(source) - 16))
            tail = fh.read()
    tail = tail.rstrip(b"\x00\r\n ")
    return not any(tail.endswith(t) for t in trailers)


def _process_bytes(spec: TaskSpec, source: str | bytes, output_name: str | None,
                   result: dict[str, Any]) -> bytes:
    """Open, process and encode; fills ``result`` with what was learnt."""
    with open_image(source, spec.limits) as image:
        salvaged = spec.limits.load_truncated and _looks_truncated(source, image.format)
        result["format_in"] = (image.format or "").lower() or None
        result["width_in"], result["height_in"] = image.size
        fmt: FormatInfo = engine.output_format_for(spec.pipeline, image.format, output_name)
        processed = engine.process(image, spec.pipeline, source_path=spec.input_path, fmt=fmt)
        try:
            data = engine.encode(processed, spec.pipeline, fmt)
        finally:
            if salvaged:
                processed.warnings.append("the file is truncated: written anyway, the missing part is grey")
            result["warnings"] = tuple(str(w) for w in processed.warnings)
    result["width_out"], result["height_out"] = processed.size
    result["format_out"] = fmt.key
    result["bytes_out"] = len(data)
    return data


def _run(spec: TaskSpec, info: dict[str, Any]) -> TaskResult:
    configure_pillow(spec.limits)
    _inject(spec.test_fault, "start")
    input_path, output_path = spec.input_path, spec.output_path
    overwrite = spec.overwrite
    if os.path.lexists(output_path) and _same_file(input_path, output_path):
        if not spec.backup_path:
            return TaskResult.failure(spec, Code.UNSAFE_PATH, "the output would replace the original; "
                                      "use “replace originals” (which keeps a backup)")
        overwrite = OverwritePolicy.OVERWRITE.value  # the explicit replace-originals flow
    if overwrite == OverwritePolicy.SKIP and os.path.lexists(output_path):
        return TaskResult.failure(spec, Code.SKIPPED_EXISTING, "the output already exists")
    try:
        stat = os.stat(input_path)
    except OSError as exc:
        return TaskResult.failure(spec, Code.READ_FAILED, f"the file cannot be read: {exc.strerror or exc}")
    info["bytes_in"] = stat.st_size
    data = _process_bytes(spec, input_path, output_path, info)
    _inject(spec.test_fault, "before_write")
    times = (stat.st_mtime_ns, stat.st_atime_ns) if spec.keep_dates else (None, None)
    code, message, output_path = write_output(spec, data, overwrite, *times)
    if code != Code.OK:
        info.pop("bytes_out", None)
        return TaskResult.failure(spec, code, message, **info)
    _inject(spec.test_fault, "after_write")
    return TaskResult(task_id=spec.task_id, input_path=input_path, output_path=output_path, **info)


#: Tasks the runner gave up on while their thread still runs (threads mode,
#: past the per-file deadline), by id(spec), holding a weak reference to
#: tell a reused id from the same spec.
_abandoned: dict[int, weakref.ref] = {}
_abandoned_lock = threading.Lock()
ABANDONED_MESSAGE = "the batch gave up on this file (time limit or cancel); nothing was written"


def abandon(specs: Iterable[TaskSpec]) -> None:
    """The runner has reported these tasks (TIMEOUT, or CANCELLED after the
    grace period) but cannot stop their threads (threads mode). If such a
    thread gets to writing later, it writes nothing: no file appears after
    the report said it was not written."""
    with _abandoned_lock:
        for key in [k for k, ref in _abandoned.items() if ref() is None]:
            del _abandoned[key]  # specs that are gone: their threads ended
        for spec in specs:
            _abandoned[id(spec)] = weakref.ref(spec)


def _was_abandoned(spec: TaskSpec) -> bool:
    if not _abandoned:  # the usual case, checked for every file: no lock taken
        return False
    with _abandoned_lock:
        ref = _abandoned.pop(id(spec), None)
        return ref is not None and ref() is spec


def write_output(spec: TaskSpec, data: bytes, overwrite: str, mtime_ns: int | None = None,
                 atime_ns: int | None = None) -> tuple[Code, str, str]:
    """Write a task's encoded output: back up the original first when the task
    asks for it, then write atomically. Under the rename policy a name taken
    after planning becomes the next free "name (n).ext". Shared by
    :func:`run_task` and the Dask "bytes" transfer, which writes here what a
    remote worker encoded. Returns (code, message, path written).
    A task the runner has abandoned (:func:`abandon`) writes nothing."""
    if _was_abandoned(spec):
        return Code.CANCELLED, ABANDONED_MESSAGE, spec.output_path
    if spec.backup_path:
        failure = _make_backup(spec.input_path, spec.backup_path)
        if failure:
            return failure[0], failure[1] + "; nothing was replaced", spec.output_path
    durable = spec.limits.durable_writes
    path = spec.output_path
    code, message = write_file(path, data, overwrite, mtime_ns, atime_ns, durable)
    attempt = 1
    while code == Code.SKIPPED_EXISTING and overwrite == OverwritePolicy.RENAME and attempt < 1000:
        attempt += 1  # the name was taken after planning: the next free "name (n).ext"
        path = _renamed(spec.output_path, attempt)
        code, message = write_file(path, data, overwrite, mtime_ns, atime_ns, durable)
    return code, message, path


def _make_backup(input_path: str, backup_path: str) -> tuple[Code, str] | None:
    """Copy the original before it is replaced; never overwrite an older backup.
    Returns (code, message) on failure, after removing a partial copy."""
    if os.path.lexists(backup_path):
        return Code.UNSAFE_PATH, "the backup file already exists"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(backup_path)), exist_ok=True)
        shutil.copy2(input_path, backup_path)
    except OSError as exc:
        try:
            os.unlink(backup_path)
        except OSError:
            pass
        return _disk_error(exc, "the backup copy")
    return None


def _failure(spec: TaskSpec, exc: BaseException, info: dict[str, Any]) -> TaskResult:
    code, message = classify_exception(exc)
    extra = {k: v for k, v in info.items() if k != "bytes_out"}
    return TaskResult.failure(spec, code, str(message), **extra)


def run_task(spec: TaskSpec) -> TaskResult:
    """Process one file. Never raises; the result is always picklable."""
    started = time.perf_counter()
    info: dict[str, Any] = {}
    with pil_warnings.collect() as notes, _c_library_messages(notes, spec.input_path):
        try:
            result = _run(spec, info)
        except BaseException as exc:  # noqa: BLE001 - errors are data (SystemExit included)
            try:
                result = _failure(spec, exc, info)
            except BaseException:  # noqa: BLE001 - even describing the error failed
                result = TaskResult.failure(spec, Code.INTERNAL_ERROR, "unexpected error")
    return _finish(result, started, notes)


def _finish(result: TaskResult, started: float, notes: list[str] = ()) -> TaskResult:
    """The result with its time, and Pillow's warnings about the file
    (collected instead of printed) added to its own."""
    extra = tuple(f"while reading: {note}" for note in notes)
    extra = tuple(n for n in extra if n not in result.warnings)
    return dataclasses.replace(result, seconds=round(time.perf_counter() - started, 6),
                               warnings=result.warnings + extra)


def run_chunk(specs: tuple[TaskSpec, ...]) -> list[TaskResult]:
    """Several small tasks in one submission (less per-task overhead)."""
    return [run_task(spec) for spec in specs]


def run_task_bytes(spec: TaskSpec, data: bytes) -> tuple[TaskResult, bytes | None]:
    """Process a file given as bytes, with no file-system access (Dask "bytes"
    transfer): returns the result and the encoded output for the caller to
    write (None on failure)."""
    started = time.perf_counter()
    info: dict[str, Any] = {"bytes_in": len(data)}
    with pil_warnings.collect() as notes:
        try:
            configure_pillow(spec.limits)
            _inject(spec.test_fault, "start")
            out = _process_bytes(spec, bytes(data), spec.output_path, info)
            result = TaskResult(task_id=spec.task_id, input_path=spec.input_path, output_path=spec.output_path,
                                **info)
        except BaseException as exc:  # noqa: BLE001
            return _finish(_failure(spec, exc, info), started, notes), None
    return _finish(result, started, notes), out
