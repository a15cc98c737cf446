"""Resume journal: an append-only JSON-lines file in the output folder.

One line per finished output::

    {"v":1,"input":…,"size":…,"mtime_ns":…,"fp":…,"output":…,"out_size":…}

``fp`` is ``TaskSpec.settings_fingerprint()`` (pipeline + output path). A task
counts as done when a record matches its input path, size, mtime, fingerprint
and output path, and the output still exists with the recorded size. Anything
else (settings changed, input edited, output deleted or replaced) is redone.

Crash tolerance: records are appended with one ``write`` each and fsync'ed in
small batches (and on flush/close), so a killed run loses at most the last few
records (those files are simply redone); a torn last line is ignored on load.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

from .specs import TaskResult, TaskSpec

JOURNAL_NAME = ".imagebatch-journal.jsonl"
#: Temp files of the worker's atomic writes contain this marker (worker.TEMP_MARKER).
TEMP_MARKER = ".imagebatch-tmp-"


@dataclass(frozen=True)
class JournalEntry:
    input: str
    size: int
    mtime_ns: int
    fp: str
    output: str
    out_size: int | None


def journal_path(out_dir: str) -> str:
    return os.path.join(out_dir, JOURNAL_NAME)


def read_entries(path: str) -> Iterator[JournalEntry]:
    """Every well-formed record of a journal; torn or foreign lines are skipped."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # torn last line of a killed run
            try:
                rec = json.loads(raw)
                yield JournalEntry(
                    input=str(rec["input"]), size=int(rec["size"]), mtime_ns=int(rec["mtime_ns"]),
                    fp=str(rec["fp"]), output=str(rec["output"]),
                    out_size=None if rec.get("out_size") is None else int(rec["out_size"]))
            except (ValueError, KeyError, TypeError):
                continue


class Journal:
    """Records finished outputs; with ``resume=True`` also answers "is this task done?".

    Thread-safe. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str, resume: bool = False, sync_every: int = 16, sync_interval_s: float = 0.5):
        self.path = path
        self.resume = resume
        self.sync_every = max(1, sync_every)
        self.sync_interval_s = sync_interval_s
        self._done: dict[str, JournalEntry] = {}
        self._by_input: dict[str, list[str]] = {}
        if resume:
            for entry in read_entries(path):
                if entry.output not in self._done:
                    self._by_input.setdefault(entry.input, []).append(entry.output)
                self._done[entry.output] = entry  # the latest record for an output wins
        self._lock = threading.Lock()
        self._fh = None
        self._unsynced = 0
        self._last_sync = time.monotonic()

    @classmethod
    def for_output_dir(cls, out_dir: str, resume: bool = False) -> "Journal":
        return cls(journal_path(out_dir), resume=resume)

    # ------------------------------------------------------------ queries

    def done_entry(self, spec: TaskSpec) -> JournalEntry | None:
        """The record proving this task is already done, or None (redo it)."""
        entry = self._done.get(spec.output_path)
        if entry is None:
            return None
        if (entry.input != spec.input_path or entry.size != spec.input_size
                or entry.mtime_ns != spec.input_mtime_ns or entry.fp != spec.settings_fingerprint()):
            return None
        try:
            out_size = os.stat(spec.output_path).st_size
        except OSError:
            return None  # output deleted
        if entry.out_size is not None and out_size != entry.out_size:
            return None  # output replaced by something else
        return entry

    def owns_output(self, output_path: str) -> bool:
        """Whether an earlier run recorded writing this output (it may be redone in place)."""
        return output_path in self._done

    def outputs_for_input(self, input_path: str) -> list[str]:
        """Outputs an earlier run recorded for this input (resume mode only)."""
        return [o for o in self._by_input.get(input_path, ()) if self._done[o].input == input_path]

    def __len__(self) -> int:
        return len(self._done)

    # ------------------------------------------------------------ writing

    def record(self, spec: TaskSpec, result: TaskResult) -> None:
        out = result.output_path or spec.output_path
        line = json.dumps({
            "v": 1, "input": spec.input_path, "size": spec.input_size, "mtime_ns": spec.input_mtime_ns,
            "fp": spec.settings_fingerprint(), "output": out, "out_size": result.bytes_out,
        }, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            if self._fh is None:
                os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                self._fh = open(self.path, "ab", buffering=0)
                if self._fh.tell() > 0 and not _ends_with_newline(self.path):
                    self._fh.write(b"\n")  # end a torn line of a killed run; it stays ignored
            self._fh.write(line.encode("utf-8"))
            self._unsynced += 1
            now = time.monotonic()
            if self._unsynced >= self.sync_every or now - self._last_sync >= self.sync_interval_s:
                self._sync(now)

    def _sync(self, now: float) -> None:
        if self._fh is not None and self._unsynced:
            os.fsync(self._fh.fileno())
        self._unsynced = 0
        self._last_sync = now

    def flush(self) -> None:
        with self._lock:
            self._sync(time.monotonic())

    def close(self) -> None:
        with self._lock:
            self._sync(time.monotonic())
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _unlink_quietly(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def sweep_temp_files(root: str) -> int:
    """Remove leftover temp files of killed writes (names containing the temp
    marker) anywhere under ``root``. Run it before a batch starts writing."""
    removed = 0
    if not os.path.isdir(root):
        return 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(".") and TEMP_MARKER in name:
                removed += _unlink_quietly(os.path.join(folder, name))
    return removed


def sweep_temp_files_for(specs: Iterable[TaskSpec]) -> int:
    """Remove leftover temp files of these tasks' outputs (``.<name>.imagebatch-tmp-*``).

    Only names belonging to these outputs are touched, so concurrent writers of
    other files in the same folder are never disturbed. Returns how many were removed.
    """
    by_dir: dict[str, set[str]] = {}
    for spec in specs:
        if spec.output_path:
            folder, name = os.path.split(spec.output_path)
            by_dir.setdefault(folder or ".", set()).add(name)
    removed = 0
    for folder, names in by_dir.items():
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        prefixes = tuple("." + name + TEMP_MARKER for name in names)
        removed += sum(_unlink_quietly(os.path.join(folder, e)) for e in entries if e.startswith(prefixes))
    return removed
