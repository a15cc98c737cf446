"""Turn scanned inputs into output paths and tasks: the plan, shown before anything runs.

``make_plan(entries, pipeline, output, limits)`` decides, for every input
(and every variant of a fan-out preset), the output path and what will
happen to it. It writes nothing and creates no folder, so it *is* the dry run.
``iter_plan`` is the same, streaming, for very large batches.

Rules, in the order they are applied to each item:

1. Scan entries that are not regular files / unreadable come out as
   ``not_regular`` / ``skip`` items without a task.
2. The name comes from the template (see :data:`TOKENS`). Each token renders
   into part of ONE sanitised path component (``paths.sanitize_component``);
   a literal ``/`` in the template makes sub-folders, each sanitised too. A
   template with ``..`` parts or an absolute/drive start is refused: every
   item is ``unsafe`` (UNSAFE_PATH). The extension comes from
   ``formats.output_extension``. The final path must resolve inside the output
   root (symlinked sub-folders included), else ``unsafe``.
3. Collisions inside the batch (``a.png`` + ``a.jpg`` -> ``a.webp``, flattened
   sub-folders, case-only or NFC/NFD differences, compared as on Windows and
   macOS) are resolved deterministically: the first item in scan order keeps
   the name, later ones get `` (1)``, `` (2)``… before the extension (the
   same suffix as the "rename" overwrite policy). With
   ``collisions="conflict"`` later ones are marked NAME_CONFLICT instead.
   Never a silent overwrite.
4. An output that already exists on disk follows ``OutputSpec.overwrite``:
   ``skip`` (default, SKIPPED_EXISTING), ``rename`` (next free `` (n)`` name)
   or ``overwrite``. Overwriting another input of the batch is refused.
5. An output that is the input itself (same path, hard link, symlink) is
   refused (UNSAFE_PATH) unless ``OutputSpec.replace_originals``; then the
   task carries ``backup_path`` inside ``OutputSpec.backup_dir`` (required).

Header reads (Pillow, lazy, header only, ``formats=`` allowlist) happen only
when the template needs image sizes or EXIF; a failure gives the placeholder
``unknown`` and a note on the item (the worker reports the real error).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import hashlib
import os
import re
import stat
import tempfile
import warnings
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import formats, registry
from .paths import MAX_COMPONENT_BYTES, compare_key, is_inside, sanitize_component, shorten_component
from .scan import TEMP_MARKER, ScanEntry
from .specs import (
    SKIP_CODES,
    Code,
    Destination,
    Limits,
    OutputSpec,
    OverwritePolicy,
    Pipeline,
    SpecError,
    Status,
    TaskResult,
    TaskSpec,
)


class Action(StrEnum):
    PROCESS = "process"
    OVERWRITE = "overwrite"
    RENAME = "rename"
    SKIP = "skip"
    CONFLICT = "conflict"
    UNSAFE = "unsafe"
    NOT_REGULAR = "not_regular"


#: How collisions inside the batch are handled (``make_plan(collisions=…)``).
COLLISION_RENAME = "rename"
COLLISION_CONFLICT = "conflict"

#: Text used for a token whose value is not known (no EXIF, unreadable header).
PLACEHOLDER = "unknown"

#: Template tokens and what they mean (the GUI shows this as help).
TOKENS: dict[str, str] = {
    "stem": "input file name without extension",
    "name": "input file name with extension",
    "ext": "input extension without the dot (as spelled)",
    "parent": "name of the input's folder",
    "width": "output width in pixels (predicted)",
    "height": "output height in pixels (predicted)",
    "in_width": "input width in pixels",
    "in_height": "input height in pixels",
    "counter": "1, 2, 3… in scan order; {counter:03d} pads to 001",
    "date": "file modification date, YYYY-MM-DD",
    "time": "file modification time, HH-MM-SS",
    "format": "output format (jpeg, webp…)",
    "variant": "variant suffix of a fan-out preset (empty otherwise)",
    "exif:Tag": "an EXIF tag, e.g. {exif:Model}, {exif:DateTimeOriginal}",
}
_NUMBER_TOKENS = frozenset({"width", "height", "in_width", "in_height", "counter"})
_HEADER_TOKENS = frozenset({"width", "height", "in_width", "in_height"})
_SIMPLE_TOKENS = frozenset(TOKENS) - {"exif:Tag"}
_NUMBER_SPEC = re.compile(r"^0?[1-9]?\dd?$")
_TEMPLATE_PIECE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
MAX_TEMPLATE_LENGTH = 1024
#: Longest output file name, in bytes of UTF-8. Shorter than the file-system
#: limit on purpose: the worker writes ``.<name>.imagebatch-tmp-<hex>`` first,
#: and that temp name must fit in 255 bytes too.
MAX_OUTPUT_NAME_BYTES = MAX_COMPONENT_BYTES - len(TEMP_MARKER) - 16
_EXIF_TEXT_MAX = 120


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class _Token:
    name: str  # "stem", "counter", "exif"
    arg: str = ""  # format spec, or the EXIF tag name


def _parse_part(part: str) -> list[str | _Token]:
    """One template part (no separators) -> literal strings and tokens."""
    pieces: list[str | _Token] = []
    pos = 0
    for m in _TEMPLATE_PIECE.finditer(part):
        if m.start() > pos:
            pieces.append(part[pos:m.start()])
        text = m.group(0)
        if text in ("{{", "}}"):
            pieces.append(text[0])
        elif text in ("{", "}"):
            raise SpecError("template", f"unmatched {text!r} (write {text * 2} for a literal brace)")
        else:
            pieces.append(_parse_token(m.group(1)))
        pos = m.end()
    if pos < len(part):
        pieces.append(part[pos:])
    return pieces


def _parse_token(body: str) -> _Token:
    name, _, arg = body.strip().partition(":")
    name = name.strip().lower()  # {Stem} and {EXIF:Model} work too
    if name == "exif":
        tag = _exif_tag_name(arg)
        if tag is None:
            raise SpecError("template", f"unknown EXIF tag {{exif:{arg}}} (e.g. {{exif:Model}})")
        return _Token("exif", tag)
    if name not in _SIMPLE_TOKENS:
        known = ", ".join("{" + t + "}" for t in TOKENS)
        raise SpecError("template", f"unknown token {{{body}}}; known tokens: {known}")
    if arg:
        if name not in _NUMBER_TOKENS or not _NUMBER_SPEC.match(arg):
            raise SpecError("template", f"bad format {{{body}}}: only numbers take a width like {{counter:03d}}")
    return _Token(name, arg)


def _exif_tag_name(name: str) -> str | None:
    from PIL import ExifTags

    by_lower = {t.name.lower(): t.name for t in ExifTags.Base}
    return by_lower.get(name.strip().lower())


@dataclass(frozen=True)
class Template:
    """A parsed, validated name template: folder parts and the file-stem part."""

    text: str
    parts: tuple[tuple[str | _Token, ...], ...]

    @property
    def tokens(self) -> set[str]:
        return {p.name for part in self.parts for p in part if isinstance(p, _Token)}

    @property
    def exif_tags(self) -> list[str]:
        return sorted({p.arg for part in self.parts for p in part if isinstance(p, _Token) and p.name == "exif"})

    def needs_header(self) -> bool:
        return bool(self.tokens & (_HEADER_TOKENS | {"exif"}))


def parse_template(template: str) -> Template:
    """Validate a template; raise SpecError("template", …) when it is unusable or unsafe."""
    if not isinstance(template, str):
        raise SpecError("template", "must be text")
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise SpecError("template", f"is too long ({MAX_TEMPLATE_LENGTH} characters at most)")
    if not template.strip():
        raise SpecError("template", "must not be empty")
    if template[0] in "/\\" or re.match(r"^[A-Za-z]:", template) or template.startswith("~"):
        raise SpecError("template", "must be a relative name, not an absolute path or a drive")
    parts = []
    for raw in re.split(r"[/\\]", template):
        if raw.strip() in ("", "."):
            continue
        if raw.strip(" .") == "" and ".." in raw:
            raise SpecError("template", "must not contain '..' (it would leave the output folder)")
        parts.append(tuple(_parse_part(raw)))
    if not parts:
        raise SpecError("template", "must name a file")
    return Template(template, tuple(parts))


def _format_value(token: _Token, value: Any) -> str:
    if value is None or value == "":
        return "" if token.name == "variant" else PLACEHOLDER
    if token.arg and isinstance(value, int) and not isinstance(value, bool):
        return format(value, token.arg if token.arg.endswith("d") else token.arg + "d")
    return str(value)


def _lookup(context: Mapping[str, Any], token: _Token) -> Any:
    if token.name == "exif":
        exif = context.get("exif") or {}
        return context.get(f"exif:{token.arg}", exif.get(token.arg))
    return context.get(token.name)


def _render_parts(tpl: Template, context: Mapping[str, Any]) -> list[str]:
    out = []
    for part in tpl.parts:
        text = "".join(
            p if isinstance(p, str) else sanitize_component(_format_value(p, _lookup(context, p)), placeholder="")
            for p in part
        )
        out.append(text)
    return out


def _folder_parts(parts: list[str]) -> list[str]:
    """Sanitised folder names from all but the last rendered part; a part that
    rendered to nothing (``{variant}/…`` without variants) makes no folder."""
    return [sanitize_component(p) for p in parts[:-1] if p]


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Render a template into a relative path with ``/`` separators and no extension.

    ``context`` maps token names to values (``{"stem": "IMG_1", "width": 800,
    "exif:Model": "…"}`` or ``{"exif": {"Model": …}}``); a missing value
    becomes ``unknown``. Every part is one sanitised path component.
    """
    parts = _render_parts(parse_template(template), context)
    return "/".join(_folder_parts(parts) + [sanitize_component(parts[-1])])


# --------------------------------------------------------------------------- image headers


@dataclass(frozen=True)
class Header:
    width: int | None = None
    height: int | None = None
    orientation: int = 1
    exif: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        _heif_registered = True
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except Exception:  # noqa: BLE001 - HEIC names then just lack sizes
            pass


def _exif_text(tag: str, value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, tuple):
        value = " ".join(str(v) for v in value)
    text = str(value).replace("\x00", "").strip()
    if tag.startswith("DateTime"):
        m = re.match(r"^(\d{4}):(\d\d):(\d\d)[ T](\d\d):(\d\d):(\d\d)", text)
        if m:
            text = "{}-{}-{}_{}-{}-{}".format(*m.groups())
    return text[:_EXIF_TEXT_MAX]


def read_header(path: str, limits: Limits | None = None, exif_tags: Iterable[str] = ()) -> Header:
    """Size, EXIF orientation and the wanted EXIF tags, from the header only.

    Opened by content with the ``formats=`` allowlist of ``limits``; the file
    is opened non-blocking and must be a regular file (a FIFO swapped in after
    the scan cannot hang the plan). Never raises: errors go to ``error``.
    """
    from PIL import ExifTags, Image

    limits = limits or Limits()
    if "HEIF" in limits.allowed_formats:
        _register_heif()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return Header(error=f"cannot read: {exc.strerror or exc}")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return Header(error="not a regular file")
        with os.fdopen(fd, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fh, formats=list(limits.allowed_formats)) as im:
                width, height = im.size
                exif = im.getexif()
                orientation = exif.get(ExifTags.Base.Orientation, 1)
                values: dict[str, str] = {}
                sub = None
                for tag in exif_tags:
                    number = ExifTags.Base[tag].value
                    value = exif.get(number)
                    if value is None:
                        if sub is None:
                            sub = exif.get_ifd(ExifTags.IFD.Exif)
                        value = sub.get(number)
                    if value is not None:
                        text = _exif_text(tag, value)
                        if text:
                            values[tag] = text
        if not isinstance(orientation, int) or not 1 <= orientation <= 8:
            orientation = 1
        return Header(width, height, orientation, values)
    except Exception as exc:  # noqa: BLE001 - any decoder error: the worker reports it properly
        return Header(error=_header_problem(exc))


def _header_problem(exc: Exception) -> str:
    from PIL import Image, UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "cannot read the image header: not a recognised image"
    if isinstance(exc, Image.DecompressionBombError):
        return "cannot read the image header: the image is too large to open safely"
    return f"cannot read the image header ({type(exc).__name__})"


def predict_size(pipeline: Pipeline, width: int, height: int, orientation: int = 1) -> tuple[int, int]:
    """Output size from the registry's ``size_func`` of each enabled pixel step.

    A step without a ``size_func`` (or not registered, or failing) is taken
    to keep the size. ``auto_orient`` swaps the sides for EXIF orientations 5–8.
    """
    w, h = width, height
    for step in pipeline.enabled_steps():
        if step.name == "auto_orient":
            if orientation in (5, 6, 7, 8):
                w, h = h, w
            continue
        try:
            info = registry.get(step.name)
        except SpecError:
            continue
        if info.kind != "pixel" or info.size_func is None:
            continue
        try:
            w, h = info.size_func(w, h, **{**info.defaults(), **step.kwargs()})
            w, h = int(w), int(h)
        except Exception:  # noqa: BLE001 - a prediction only; the worker is authoritative
            continue
    return w, h


# --------------------------------------------------------------------------- plan items


@dataclass(frozen=True)
class PlanItem:
    """What will happen to one input (or one variant of it)."""

    input_path: str
    output_path: str | None
    action: str
    code: str
    note: str
    task: TaskSpec | None
    item_id: int = 0
    variant: str = ""
    size: int = 0

    @property
    def will_write(self) -> bool:
        return self.task is not None

    def result(self) -> TaskResult:
        """The report row of an item that gets no task (skipped or refused)."""
        status = Status.SKIPPED if self.code in SKIP_CODES else Status.FAILED
        return TaskResult(
            task_id=self.item_id,
            input_path=self.input_path,
            output_path=self.output_path,
            status=status.value,
            code=self.code,
            message=self.note,
            bytes_in=self.size or None,
        )


@dataclass
class Plan:
    items: list[PlanItem]

    def tasks(self) -> list[TaskSpec]:
        return [i.task for i in self.items if i.task is not None]

    def skipped_results(self) -> list[TaskResult]:
        return [i.result() for i in self.items if i.task is None]

    def summary(self) -> dict[str, int]:
        """Counts per action, plus ``total`` items and ``tasks`` to run."""
        counts = {a.value: 0 for a in Action}
        for item in self.items:
            counts[item.action] += 1
        counts["total"] = len(self.items)
        counts["tasks"] = sum(1 for i in self.items if i.task is not None)
        return counts

    def describe(self) -> str:
        s = self.summary()
        parts = [f"{s['tasks']} to write"]
        for action, label in (("skip", "skipped"), ("conflict", "name conflicts"), ("unsafe", "refused"),
                              ("not_regular", "not regular files"), ("rename", "renamed"),
                              ("overwrite", "overwritten")):
            if s[action]:
                parts.append(f"{s[action]} {label}")
        return ", ".join(parts)


# --------------------------------------------------------------------------- output folders


def exclude_dirs_for(output: OutputSpec) -> tuple[str, ...]:
    """Folders the scan must never enter for these output settings: the
    output folder and the backup folder (pass as ``scan(exclude_dirs=…)``)."""
    dirs = []
    if output.destination == Destination.FOLDER and output.out_dir:
        dirs.append(os.path.abspath(output.out_dir))
    if output.backup_dir:
        dirs.append(os.path.abspath(output.backup_dir))
    return tuple(dirs)


def scan_options_for(output: OutputSpec) -> dict[str, tuple[str, ...]]:
    """Keyword arguments for :func:`scan.scan` that keep outputs out of the
    inputs: ``scan(paths, **scan_options_for(output))``."""
    names = ()
    if output.destination == Destination.SUBFOLDER:
        names = (_subfolder_name(output),)
    return {"exclude_dirs": exclude_dirs_for(output), "exclude_dir_names": names}


def _subfolder_name(output: OutputSpec) -> str:
    return sanitize_component(output.subfolder_name or "processed", placeholder="processed")


def check_output_dir(path: str | None) -> str | None:
    """None if outputs can be written to ``path`` (creating it if needed),
    else one human sentence saying why not. Creates nothing."""
    if not path:
        return "No output folder is chosen."
    path = os.path.abspath(path)
    probe = path
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return f"The output folder {path} cannot be created."
        probe = parent
    if not os.path.isdir(probe):
        if probe == path:
            return f"The output folder {path} is a file, not a folder."
        return f"The output folder {path} cannot be created: {probe} is not a folder."
    if not os.access(probe, os.W_OK | os.X_OK):
        what = "is not writable" if probe == path else f"cannot be created: {probe} is not writable"
        return f"The output folder {path} {what}."
    if probe == path:
        # os.access says yes for root even on read-only files; try for real.
        try:
            fd, tmp = tempfile.mkstemp(prefix="." + TEMP_MARKER.lstrip(".") + "probe-", dir=path)
        except OSError as exc:
            reason = "the disk is read-only" if exc.errno == errno.EROFS else (exc.strerror or str(exc))
            return f"The output folder {path} is not writable ({reason})."
        os.close(fd)
        os.unlink(tmp)
    else:
        try:
            if os.statvfs(probe).f_flag & os.ST_RDONLY:
                return f"The output folder {path} cannot be created: the disk is read-only."
        except (AttributeError, OSError):
            pass
    return None


# --------------------------------------------------------------------------- the planner


def _hash_key(path: str) -> bytes:
    """Compact, case- and normalisation-insensitive identity of a path (12 bytes)."""
    return hashlib.blake2b(compare_key(os.path.normpath(path)).encode("utf-8", "surrogateescape"),
                           digest_size=12).digest()


def _file_name(stem: str, ext: str, n: int = 0) -> str:
    """``stem + ext``, or ``stem (n) + ext``, shortened to :data:`MAX_OUTPUT_NAME_BYTES`."""
    suffix = f" ({n}){ext}" if n else ext
    return shorten_component(stem, MAX_OUTPUT_NAME_BYTES, keep_suffix=suffix)


class _Planner:
    """State of one plan: names claimed so far, inputs seen, counters."""

    def __init__(self, pipeline: Pipeline, output: OutputSpec, limits: Limits,
                 variants: Sequence[tuple[str, Pipeline]], collisions: str):
        if collisions not in (COLLISION_RENAME, COLLISION_CONFLICT):
            raise SpecError("collisions", f"must be {COLLISION_RENAME} or {COLLISION_CONFLICT}, not {collisions!r}")
        if output.overwrite not in {p.value for p in OverwritePolicy}:
            raise SpecError("output.overwrite", f"must be skip, rename or overwrite, not {output.overwrite!r}")
        if output.destination not in {d.value for d in Destination}:
            raise SpecError("output.destination", f"must be folder, beside or subfolder, not {output.destination!r}")
        if output.destination == Destination.FOLDER and not output.out_dir:
            raise SpecError("output.out_dir", "an output folder is required")
        self.output = output
        self.limits = limits
        self.variants = tuple(variants) or (("", pipeline),)
        for suffix, _ in self.variants:
            if suffix != sanitize_component(suffix, placeholder=""):
                raise SpecError("variants", f"suffix {suffix!r} is not a safe file-name part")
        self.collisions = collisions
        try:
            self.template: Template | None = parse_template(output.template)
            self.template_error = ""
        except SpecError as exc:
            self.template = None
            self.template_error = f"unsafe or invalid name template: {exc.reason}"
        self.claimed: set[bytes] = set()
        self.last_number: dict[bytes, int] = {}
        self._inside_cache: dict[tuple[str, str], bool] = {}
        self.inputs: set[bytes] = set()
        self.counter = 0
        self.next_id = 0
        #: True when later inputs are unknown (iter_plan); see _may_be_input.
        self.streaming = True

    # -- items
    def _item(self, entry: ScanEntry, out: str | None, action: Action, code: Code, note: str,
              variant: str = "", task: TaskSpec | None = None) -> PlanItem:
        item = PlanItem(entry.path, out, action.value, code.value, note, task, self.next_id, variant, entry.size)
        self.next_id += 1
        return item

    def plan_entry(self, entry: ScanEntry) -> Iterator[PlanItem]:
        if not entry.ok:
            action = Action.NOT_REGULAR if entry.skip_code == Code.SKIPPED_NOT_REGULAR else Action.SKIP
            yield self._item(entry, None, action, Code(entry.skip_code), entry.skip_reason)
            return
        self.counter += 1
        if self.template is None:
            for suffix, _ in self.variants:
                yield self._item(entry, None, Action.UNSAFE, Code.UNSAFE_PATH, self.template_error, suffix)
            return
        header = None
        if self.template.needs_header():
            header = read_header(entry.path, self.limits, self.template.exif_tags)
        for suffix, pipeline in self.variants:
            yield self._plan_variant(entry, suffix, pipeline, header)

    def _context(self, entry: ScanEntry, suffix: str, pipeline: Pipeline, header: Header | None) -> dict[str, Any]:
        name = os.path.basename(entry.path)
        stem, ext = os.path.splitext(name)
        context: dict[str, Any] = {
            "stem": stem,
            "name": name,
            "ext": ext[1:],
            "parent": os.path.basename(os.path.dirname(entry.path)),
            "counter": self.counter,
            "format": formats.output_format(pipeline, entry.path).key,
            "variant": suffix,
        }
        if entry.mtime_ns and self.template is not None and self.template.tokens & {"date", "time"}:
            when = _dt.datetime.fromtimestamp(entry.mtime_ns / 1e9)
            context["date"], context["time"] = when.strftime("%Y-%m-%d"), when.strftime("%H-%M-%S")
        if header is not None and header.width is not None:
            context["in_width"], context["in_height"] = header.width, header.height
            context["width"], context["height"] = predict_size(pipeline, header.width, header.height,
                                                               header.orientation)
        if header is not None:
            context["exif"] = header.exif
        return context

    def _output_root(self, entry: ScanEntry) -> tuple[str, list[str]]:
        """(root the output must stay inside, sanitised sub-folders below it)."""
        out = self.output
        folder = os.path.dirname(entry.path)
        if out.destination == Destination.BESIDE:
            return folder, []
        if out.destination == Destination.SUBFOLDER:
            return os.path.join(folder, _subfolder_name(out)), []
        root = os.path.abspath(out.out_dir or ".")
        subdirs: list[str] = []
        if out.keep_structure:
            rel_folder = os.path.dirname(entry.relpath)
            subdirs = [sanitize_component(p, allow_leading_dot=True)
                       for p in _split_native(rel_folder) if p not in ("", ".")]
        return root, subdirs

    def _plan_variant(self, entry: ScanEntry, suffix: str, pipeline: Pipeline, header: Header | None) -> PlanItem:
        assert self.template is not None
        notes = []
        if header is not None and header.error:
            notes.append(f"name uses '{PLACEHOLDER}' for image values: {header.error}")
        parts = _render_parts(self.template, self._context(entry, suffix, pipeline, header))
        root, subdirs = self._output_root(entry)
        folders = subdirs + _folder_parts(parts)
        stem = sanitize_component(parts[-1] + suffix)
        ext = formats.output_extension(pipeline, entry.path)
        folder = os.path.join(root, *folders)
        path = os.path.join(folder, _file_name(stem, ext))
        if not self._folder_inside(folder, root):
            return self._item(entry, path, Action.UNSAFE, Code.UNSAFE_PATH,
                              f"the output path would leave the output folder {root}", suffix)

        action = Action.PROCESS
        key = _hash_key(path)
        if key in self.claimed:
            if self.collisions == COLLISION_CONFLICT:
                return self._item(entry, path, Action.CONFLICT, Code.NAME_CONFLICT,
                                  "another file of this batch has the same output name", suffix)
            path, key = self._next_free(folder, stem, ext, on_disk=False)
            action = Action.RENAME
            notes.append("renamed: another file of this batch has the same output name")

        backup = None
        overwrite = self.output.overwrite
        if os.path.lexists(path):
            if _same_file(path, entry.path):
                if not self.output.replace_originals:
                    return self._item(entry, path, Action.UNSAFE, Code.UNSAFE_PATH,
                                      "the output would replace the original file "
                                      "(choose another folder or name, or 'replace originals')", suffix)
                if not self.output.backup_dir:
                    return self._item(entry, path, Action.UNSAFE, Code.UNSAFE_PATH,
                                      "replacing originals needs a backup folder", suffix)
                backup = self._backup_path(entry)
                action, overwrite = Action.OVERWRITE, OverwritePolicy.OVERWRITE.value
                notes.append(f"replaces the original; backup at {backup}")
            elif self.output.overwrite == OverwritePolicy.SKIP:
                self.claimed.add(key)
                return self._item(entry, path, Action.SKIP, Code.SKIPPED_EXISTING,
                                  "the output already exists (policy: skip)", suffix)
            elif self.output.overwrite == OverwritePolicy.RENAME:
                path, key = self._next_free(folder, stem, ext, on_disk=True)
                action = Action.RENAME
                notes.append("renamed: a file with the output name already exists")
            else:
                if self._may_be_input(key, path):
                    return self._item(entry, path, Action.UNSAFE, Code.UNSAFE_PATH,
                                      "the output would overwrite another input of this batch", suffix)
                if not os.path.isfile(path) or os.path.islink(path):
                    return self._item(entry, path, Action.CONFLICT, Code.NAME_CONFLICT,
                                      "something that is not a regular file already has the output name", suffix)
                action = Action.OVERWRITE
                notes.append("overwrites the existing output")
        elif key in self.inputs:
            # Differs from another input only in case or Unicode normalisation:
            # the same file on Windows and macOS, so never take that name.
            path, key = self._next_free(folder, stem, ext, on_disk=True)
            action = Action.RENAME
            notes.append("renamed: another input of this batch has this name (ignoring case)")
        self.claimed.add(key)
        task = TaskSpec(
            task_id=self.next_id,
            input_path=entry.path,
            output_path=path,
            pipeline=pipeline,
            limits=self.limits,
            overwrite=overwrite,
            keep_dates=self.output.keep_dates,
            input_size=entry.size,
            input_mtime_ns=entry.mtime_ns,
            backup_path=backup,
        )
        return self._item(entry, path, action, Code.OK, "; ".join(notes), suffix, task)

    def _folder_inside(self, folder: str, root: str) -> bool:
        """Is ``folder`` (the output's folder) the root or inside it, with
        symlinks resolved? Cached per folder: outputs share few folders. The
        file name itself is sanitised (no separators, no ``..``) and an
        existing link at that name is replaced, never followed."""
        cache_key = (folder, root)
        found = self._inside_cache.get(cache_key)
        if found is None:
            if len(self._inside_cache) > 10_000:
                self._inside_cache.clear()
            real_root = os.path.realpath(root)
            found = os.path.realpath(folder) == real_root or is_inside(folder, root)
            self._inside_cache[cache_key] = found
        return found

    def _may_be_input(self, key: bytes, path: str) -> bool:
        if key in self.inputs:
            return True
        return (self.streaming and self.output.destination == Destination.BESIDE
                and formats.by_extension(path) is not None)

    def _next_free(self, folder: str, stem: str, ext: str, on_disk: bool) -> tuple[str, bytes]:
        """The first free ``stem (n)ext``. The last number used per base name
        is remembered, so a name shared by thousands of files stays linear."""
        base = _hash_key(os.path.join(folder, stem + ext))
        n = self.last_number.get(base, 0) + 1
        while True:
            path = os.path.join(folder, _file_name(stem, ext, n))
            key = _hash_key(path)
            if key not in self.claimed and not (on_disk and os.path.lexists(path)):
                self.last_number[base] = n
                return path, key
            n += 1

    def _backup_path(self, entry: ScanEntry) -> str:
        backup_root = os.path.abspath(self.output.backup_dir or "")
        parts = [sanitize_component(p, allow_leading_dot=True) for p in _split_native(entry.relpath) if p]
        path = os.path.join(backup_root, *parts)
        key = _hash_key(path)
        if key in self.claimed or os.path.lexists(path):
            stem, ext = os.path.splitext(parts[-1])
            path, key = self._next_free(os.path.dirname(path), stem, ext, on_disk=True)
        self.claimed.add(key)
        return path


def _split_native(relpath: str) -> list[str]:
    """Split a path from the file system at this platform's separators only
    (a Linux folder may be called ``a\\b``; it becomes ``a_b``, not two folders)."""
    if os.altsep:
        relpath = relpath.replace(os.altsep, os.sep)
    return relpath.split(os.sep)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def iter_plan(
    entries: Iterable[ScanEntry],
    pipeline: Pipeline,
    output: OutputSpec,
    limits: Limits | None = None,
    *,
    variants: Sequence[tuple[str, Pipeline]] = (),
    collisions: str = COLLISION_RENAME,
    pace: Callable[[], None] | None = None,
    _known_inputs: set[bytes] | None = None,
) -> Iterator[PlanItem]:
    """Streaming plan: one item per input (per variant) as the entries arrive.

    Memory stays small for huge batches: collision detection keeps only a set
    of 12-byte hashes of the case-folded output paths. Unlike
    :func:`make_plan` it cannot know inputs that come later; so, with the
    "overwrite" policy and outputs beside the originals, it refuses to
    overwrite any existing image file there (it may be a later input).
    ``pace``, if given, is called before each entry (see :func:`make_plan`).
    """
    planner = _Planner(pipeline, output, limits or Limits(), variants, collisions)
    if _known_inputs is not None:
        planner.inputs = _known_inputs
        planner.streaming = False
    for entry in entries:
        if pace is not None:
            pace()
        if entry.ok:
            planner.inputs.add(_hash_key(entry.path))
        yield from planner.plan_entry(entry)


def make_plan(
    entries: Iterable[ScanEntry],
    pipeline: Pipeline,
    output: OutputSpec,
    limits: Limits | None = None,
    *,
    variants: Sequence[tuple[str, Pipeline]] = (),
    collisions: str = COLLISION_RENAME,
    pace: Callable[[], None] | None = None,
) -> Plan:
    """The whole plan (this is the dry run: nothing is written or created).

    ``variants`` (from a fan-out preset) replaces ``pipeline``: one task per
    variant per input, the variant suffix added to the name.
    ``collisions`` is ``"rename"`` (default) or ``"conflict"``. Unlike
    :func:`iter_plan`, every input is known up front, so no output may
    overwrite any input of the batch.
    ``pace`` is called before each entry is planned (the GUI passes one that
    lets its UI thread have the GIL when that is busy).
    """
    entries = list(entries)
    known_inputs = {_hash_key(e.path) for e in entries if e.ok}
    return Plan(list(iter_plan(entries, pipeline, output, limits, variants=variants,
                               collisions=collisions, pace=pace, _known_inputs=known_inputs)))


def example_output_name(
    output: OutputSpec,
    pipeline: Pipeline,
    sample_path: str | None = None,
    *,
    limits: Limits | None = None,
    variant: str = "",
) -> str:
    """The output name a sample input would get, for the GUI's live example
    (``"holiday/IMG_0001_2048w.webp"``, relative to the output folder).

    With a real ``sample_path`` its header and date are used; otherwise a
    made-up 4032×3024 camera photo. Raises SpecError for an invalid template.
    """
    tpl = parse_template(output.template)
    if sample_path and os.path.isfile(sample_path):
        st = os.stat(sample_path)
        entry = ScanEntry(sample_path, os.path.dirname(sample_path), os.path.basename(sample_path),
                          st.st_size, st.st_mtime_ns)
        header = read_header(sample_path, limits, tpl.exif_tags) if tpl.needs_header() else None
    else:
        name = os.path.basename(sample_path) if sample_path else "IMG_0001.jpg"
        entry = ScanEntry(os.path.join("holiday", name), "", name, 0, 1_700_000_000 * 10**9)
        header = Header(4032, 3024, 1, {"Model": "Camera", "Make": "Maker", "DateTimeOriginal": "2024-07-14_10-30-00"})
    planner = _Planner(pipeline, dataclasses.replace(output, out_dir=output.out_dir or "."),
                       limits or Limits(), (), COLLISION_RENAME)
    planner.counter = 1
    parts = _render_parts(tpl, planner._context(entry, variant, pipeline, header))
    stem = sanitize_component(parts[-1] + variant)
    ext = formats.output_extension(pipeline, entry.path)
    return "/".join(_folder_parts(parts) + [_file_name(stem, ext)])
