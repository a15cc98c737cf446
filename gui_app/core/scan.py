"""Find the input files: a streaming, symlink-safe folder walk.

``scan(paths)`` yields one :class:`ScanEntry` per input file as soon as it is
found (processing can start while a huge folder is still being read), in a
stable order: each folder's files in natural name order ("img2" before
"img10"), then its sub-folders in the same order.

Safety rules (RELIABILITY.md, sections A and C):

- Only regular files are inputs. FIFOs, sockets and devices come out as
  entries with ``skip_code=SKIPPED_NOT_REGULAR`` and are never opened: we only
  ``lstat``/``scandir``, never ``open()``, so a FIFO cannot hang the scan.
- Symbolic links met inside a folder are not followed unless
  ``follow_symlinks=True``; then a link may only lead to somewhere inside the
  input root it was found under, and every folder is entered once (tracked by
  ``(st_dev, st_ino)``) so link loops terminate. A link that is not followed
  is reported as a skipped entry (when its name passes the filters), so the
  user can see why a file was left out.
- Each real file is yielded once, even when reachable twice (overlapping
  inputs, links, hard links): tracked by ``(st_dev, st_ino)``.
- Folders in ``exclude_dirs`` (the output folder) and folders named in
  ``exclude_dir_names`` (the per-folder output sub-folder) are never entered,
  so an output folder inside the input folder is never re-scanned. (A folder
  given explicitly as an input is still walked, even if it is excluded.)
- Hidden files and folders (leading dot, or the Windows hidden attribute),
  our temp files and our journal are ignored.
- A folder that cannot be read gives an entry with ``skip_code=READ_FAILED``;
  nothing is raised.

Paths given explicitly (files on the command line, files dropped on the
window) are taken as the user named them: a named symlink is followed, and the
extension and glob filters do not apply (the worker checks content anyway).
"""

from __future__ import annotations

import fnmatch
import heapq
import os
import re
import stat
from dataclasses import dataclass
from typing import Iterable, Iterator

from .formats import IMAGE_EXTENSIONS
from .specs import Code

#: Marker in the name of the worker's temp files (must equal worker.TEMP_MARKER).
TEMP_MARKER = ".imagebatch-tmp-"
#: Names we write ourselves next to outputs and must never take as inputs.
_OWN_FILE_PREFIXES = (".imagebatch", "imagebatch-journal")

_FILE_ATTRIBUTE_HIDDEN = 0x2  # stat.FILE_ATTRIBUTE_HIDDEN, Windows only


@dataclass(frozen=True)
class ScanEntry:
    """One input found by the scan.

    ``root`` is the folder the user gave (or the folder of a file given
    directly); ``relpath`` is ``path`` relative to it (used to keep the
    sub-folder structure). ``skip_code`` is set for entries that must not be
    processed (not a regular file, unreadable folder), with a human reason.
    """

    path: str
    root: str
    relpath: str
    size: int = 0
    mtime_ns: int = 0
    skip_code: str | None = None
    skip_reason: str = ""

    @property
    def ok(self) -> bool:
        return self.skip_code is None


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key: case-insensitive, numbers by value ("img2" < "img10"), ties
    broken by the exact name so the order is total and stable."""
    parts = _DIGITS.split(name.casefold())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts), name


#: Items sorted in one go by :func:`sorted_in_pieces`.
SORT_PIECE = 2048


def sorted_in_pieces(items: Iterable, key) -> list:
    """``sorted(items, key=key)``, without holding the GIL for long.

    One C-level sort never lets another thread run: sorting the 50,000
    names of one folder by :func:`natural_key` held the GIL for ~190 ms and
    froze the window that was listing them. Here pieces of ``SORT_PIECE``
    items are sorted (a few ms each) and merged in Python, where other
    threads get their turn. Same order as ``sorted`` (stable, keys computed
    once)."""
    decorated = [(key(item), i, item) for i, item in enumerate(items)]
    if len(decorated) <= SORT_PIECE:
        decorated.sort()
        return [item for _key, _i, item in decorated]
    pieces = [sorted(decorated[i:i + SORT_PIECE]) for i in range(0, len(decorated), SORT_PIECE)]
    return [item for _key, _i, item in heapq.merge(*pieces)]


def _describe_mode(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _is_hidden(name: str, st: os.stat_result | None) -> bool:
    if name.startswith("."):
        return True
    attrs = getattr(st, "st_file_attributes", 0) if st is not None else 0
    return bool(attrs & _FILE_ATTRIBUTE_HIDDEN)


def is_own_file(name: str) -> bool:
    """Our temp files and journal (never inputs)."""
    return TEMP_MARKER in name or name.startswith(_OWN_FILE_PREFIXES)


def _inside(real_path: str, real_root: str) -> bool:
    try:
        return os.path.commonpath([real_path, real_root]) == real_root
    except ValueError:
        return False


class _Filters:
    """Name filters: extension allowlist and include/exclude globs.

    Globs are matched case-insensitively (``*.jpg`` matches ``IMG.JPG``),
    against the name when the pattern has no ``/``, else against the path
    relative to the root (with ``/`` separators).
    """

    def __init__(self, include: Iterable[str], exclude: Iterable[str], all_files: bool):
        self.include = tuple(p.casefold().replace("\\", "/") for p in include if p)
        self.exclude = tuple(p.casefold().replace("\\", "/") for p in exclude if p)
        self.all_files = all_files

    @staticmethod
    def _match(patterns: tuple[str, ...], name: str, relpath: str) -> bool:
        name = name.casefold()
        relpath = relpath.replace(os.sep, "/").casefold()
        for pattern in patterns:
            target = relpath if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern):
                return True
        return False

    def file_wanted(self, name: str, relpath: str) -> bool:
        if not self.all_files and os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
            return False
        if self.include and not self._match(self.include, name, relpath):
            return False
        return not self._match(self.exclude, name, relpath)

    def dir_wanted(self, name: str, relpath: str) -> bool:
        return not self._match(self.exclude, name, relpath)


class _Excluded:
    """Folders never entered: by path (string and identity) and by name."""

    def __init__(self, dirs: Iterable[str], names: Iterable[str]):
        self.paths: set[str] = set()
        self.ids: set[tuple[int, int]] = set()
        for d in dirs:
            if not d:
                continue
            self.paths.add(os.path.normcase(os.path.realpath(os.path.abspath(d))))
            try:
                st = os.stat(d)
            except OSError:
                continue  # not created yet: the path check is enough
            self.ids.add((st.st_dev, st.st_ino))
        self.names = {n.casefold() for n in names if n}

    def __contains__(self, item: tuple[str, str, tuple[int, int] | None]) -> bool:
        name, path, ident = item
        if name.casefold() in self.names:
            return True
        if ident is not None and ident in self.ids:
            return True
        return os.path.normcase(os.path.realpath(path)) in self.paths


def scan(
    paths: Iterable[str],
    *,
    recursive: bool = True,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    exclude_dirs: Iterable[str] = (),
    exclude_dir_names: Iterable[str] = (),
    all_files: bool = False,
    include_hidden: bool = False,
) -> Iterator[ScanEntry]:
    """Yield the input files under ``paths`` (folders and/or files), streaming.

    See the module docstring for the rules. ``include``/``exclude`` are glob
    patterns; ``exclude`` also prunes folders whose name (or relative path)
    matches. ``all_files`` takes every regular file instead of only the image
    extensions of :data:`formats.IMAGE_EXTENSIONS`.
    """
    filters = _Filters(include, exclude, all_files)
    excluded = _Excluded(exclude_dirs, exclude_dir_names)
    seen_files: set[tuple[int, int]] = set()
    seen_dirs: set[tuple[int, int]] = set()

    for given in paths:
        given = os.path.abspath(given)
        try:
            st = os.stat(given)  # follows a link the user named explicitly
        except OSError as exc:
            yield ScanEntry(given, os.path.dirname(given), os.path.basename(given),
                            skip_code=Code.READ_FAILED.value,
                            skip_reason=f"cannot read: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue  # already walked as part of an earlier input
            yield from _walk(given, st, recursive, follow_symlinks, filters, excluded,
                             seen_files, seen_dirs, include_hidden)
            continue
        entry = _file_entry(given, os.path.dirname(given), os.path.basename(given), st, seen_files)
        if entry is not None:
            yield entry


def _file_entry(path: str, root: str, relpath: str, st: os.stat_result,
                seen_files: set[tuple[int, int]], link_note: str = "") -> ScanEntry | None:
    """The entry for a file, or None when this real file was already yielded."""
    if stat.S_ISREG(st.st_mode):
        ident = (st.st_dev, st.st_ino)
        if ident in seen_files:
            return None
        seen_files.add(ident)
        return ScanEntry(path, root, relpath, st.st_size, st.st_mtime_ns)
    what = _describe_mode(st.st_mode)
    return ScanEntry(path, root, relpath, skip_code=Code.SKIPPED_NOT_REGULAR.value,
                     skip_reason=f"{link_note}{what}, not a regular file")


def _walk(
    root: str,
    root_st: os.stat_result,
    recursive: bool,
    follow_symlinks: bool,
    filters: _Filters,
    excluded: _Excluded,
    seen_files: set[tuple[int, int]],
    seen_dirs: set[tuple[int, int]],
    include_hidden: bool,
) -> Iterator[ScanEntry]:
    # A folder the user names explicitly is walked even when it is the output
    # folder itself (they chose "outputs beside the inputs"); only excluded
    # folders *below* a root are skipped.
    real_root = os.path.realpath(root)
    # Depth-first with an explicit stack (no recursion limit on deep trees).
    # Followed links are handled last, so a file or folder reachable both
    # directly and through a link is reported under its real path.
    stack: list[tuple[str, str]] = [(root, "")]
    deferred_links: list[tuple[str, str, os.stat_result]] = []
    seen_dirs.add((root_st.st_dev, root_st.st_ino))
    while stack or deferred_links:
        if not stack:
            path, rel, st = deferred_links.pop(0)
            ident = (st.st_dev, st.st_ino)
            if stat.S_ISDIR(st.st_mode):
                if ident not in seen_dirs:
                    seen_dirs.add(ident)
                    stack.append((path, rel))
                continue
            entry = _file_entry(path, root, rel, st, seen_files, "a symbolic link to ")
            if entry is not None:
                yield entry
            continue
        folder, rel_folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                children = sorted_in_pieces(it, key=lambda e: natural_key(e.name))
        except OSError as exc:
            yield ScanEntry(folder, root, rel_folder or ".", skip_code=Code.READ_FAILED.value,
                            skip_reason=f"cannot read this folder: {exc.strerror or exc}")
            continue
        subdirs: list[tuple[str, str]] = []
        for child in children:
            name = child.name
            rel = os.path.join(rel_folder, name) if rel_folder else name
            if is_own_file(name):
                continue
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as exc:
                if filters.file_wanted(name, rel):
                    yield ScanEntry(child.path, root, rel, skip_code=Code.READ_FAILED.value,
                                    skip_reason=f"cannot read: {exc.strerror or exc}")
                continue
            if not include_hidden and _is_hidden(name, st):
                continue
            if stat.S_ISLNK(st.st_mode):
                problem, target_st = _check_link(child.path, real_root, follow_symlinks)
                if target_st is None:
                    if filters.file_wanted(name, rel):
                        yield ScanEntry(child.path, root, rel, skip_code=Code.SKIPPED_NOT_REGULAR.value,
                                        skip_reason=problem)
                    continue
                if stat.S_ISDIR(target_st.st_mode):
                    if not recursive or not filters.dir_wanted(name, rel):
                        continue
                    if (name, child.path, (target_st.st_dev, target_st.st_ino)) in excluded:
                        continue
                elif not filters.file_wanted(name, rel):
                    continue
                deferred_links.append((child.path, rel, target_st))
                continue
            if stat.S_ISDIR(st.st_mode):
                if not recursive or not filters.dir_wanted(name, rel):
                    continue
                ident = (st.st_dev, st.st_ino)
                if (name, child.path, ident) in excluded or ident in seen_dirs:
                    continue  # the output folder, or a folder already walked
                seen_dirs.add(ident)
                subdirs.append((child.path, rel))
                continue
            if not filters.file_wanted(name, rel):
                continue
            entry = _file_entry(child.path, root, rel, st, seen_files)
            if entry is not None:
                yield entry
        stack.extend(reversed(subdirs))


def _check_link(path: str, real_root: str, follow: bool) -> tuple[str, os.stat_result | None]:
    """(reason, None) when the link at ``path`` must not be followed, else
    ("", the target's stat)."""
    if not follow:
        return "a symbolic link (links are not followed unless asked)", None
    try:
        target_st = os.stat(path)
    except OSError:
        return "a broken symbolic link (or a link loop)", None
    if not _inside(os.path.realpath(path), real_root):
        return "a symbolic link that points outside the input folder", None
    return "", target_st
