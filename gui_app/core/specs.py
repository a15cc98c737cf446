"""Picklable descriptions of the work: what to do, to which file, and what happened.

Everything here is a frozen dataclass of primitives (str, int, float, bool,
None and tuples of those), so a spec pickles cheaply to a worker process or a
Dask worker, and round-trips through JSON for presets, journals and reports.
Nothing here imports Pillow or Qt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Mapping

Primitive = str | int | float | bool | None


class Status(StrEnum):
    """Outcome of one task, as shown in reports and the GUI list."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Code(StrEnum):
    """Error codes of the per-file log (see RELIABILITY.md)."""

    OK = "OK"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    TOO_LARGE = "TOO_LARGE"
    TRUNCATED = "TRUNCATED"
    CORRUPT = "CORRUPT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    TIMEOUT = "TIMEOUT"
    WORKER_CRASH = "WORKER_CRASH"
    READ_FAILED = "READ_FAILED"
    WRITE_FAILED = "WRITE_FAILED"
    DISK_FULL = "DISK_FULL"
    UNSAFE_PATH = "UNSAFE_PATH"
    NAME_CONFLICT = "NAME_CONFLICT"
    SKIPPED_EXISTING = "SKIPPED_EXISTING"
    SKIPPED_NOT_REGULAR = "SKIPPED_NOT_REGULAR"
    CANCELLED = "CANCELLED"
    INVALID_SETTINGS = "INVALID_SETTINGS"
    INTERNAL_ERROR = "INTERNAL_ERROR"


#: Codes that mean "skipped by policy", not a failure (exit code 0 on the CLI).
SKIP_CODES = frozenset({Code.SKIPPED_EXISTING, Code.SKIPPED_NOT_REGULAR})


class SpecError(ValueError):
    """A setting is invalid. ``field`` names it (e.g. ``steps[2].quality``)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.reason = message


def _freeze_params(params: Mapping[str, Primitive] | tuple) -> tuple[tuple[str, Primitive], ...]:
    items = params.items() if isinstance(params, Mapping) else params
    frozen = []
    for key, value in items:
        if not isinstance(key, str):
            raise SpecError(str(key), "parameter names must be strings")
        if isinstance(value, list):
            value = tuple(value)
        if isinstance(value, tuple):
            if not all(v is None or isinstance(v, (str, int, float, bool)) for v in value):
                raise SpecError(key, "only primitive values are allowed")
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            raise SpecError(key, f"only primitive values are allowed, not {type(value).__name__}")
        frozen.append((key, value))
    return tuple(sorted(frozen))


@dataclass(frozen=True)
class OpSpec:
    """One pipeline step: an operation name from the registry and its parameters.

    ``params`` is stored as a sorted tuple of (name, value) pairs so the spec
    is hashable and its JSON form is stable; use :meth:`kwargs` to read it.
    Build one with ``OpSpec.make("resize", mode="long_edge", long_edge=2048)``.
    """

    name: str
    params: tuple[tuple[str, Primitive], ...] = ()
    enabled: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _freeze_params(self.params))

    @classmethod
    def make(cls, name: str, enabled: bool = True, **params: Primitive) -> "OpSpec":
        return cls(name=name, params=tuple(params.items()), enabled=enabled)

    def kwargs(self) -> dict[str, Primitive]:
        return dict(self.params)

    def get(self, key: str, default: Primitive = None) -> Primitive:
        return dict(self.params).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.name}
        data.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.params})
        if not self.enabled:
            data["enabled"] = False
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "OpSpec":
        data = dict(data)
        name = data.pop("op", None)
        if not isinstance(name, str):
            raise SpecError("op", "each step needs an 'op' name")
        enabled = data.pop("enabled", True)
        if not isinstance(enabled, bool):
            raise SpecError("enabled", "must be true or false")
        return cls(name=name, params=tuple(data.items()), enabled=enabled)


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of steps. Pixel steps run in order; the last enabled
    ``encode`` step decides the output format (none means "keep the input
    format") and the last enabled ``metadata`` step the metadata policy."""

    steps: tuple[OpSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))

    def enabled_steps(self) -> tuple[OpSpec, ...]:
        return tuple(s for s in self.steps if s.enabled)

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    @classmethod
    def from_list(cls, steps: list[Mapping[str, Any]]) -> "Pipeline":
        out = []
        for i, step in enumerate(steps):
            if not isinstance(step, Mapping):
                raise SpecError(f"steps[{i}]", "each step must be an object")
            try:
                out.append(OpSpec.from_dict(step))
            except SpecError as exc:
                raise SpecError(f"steps[{i}].{exc.field}", exc.reason) from None
        return cls(steps=tuple(out))

    def fingerprint(self) -> str:
        """A stable hash of the settings, used by the resume journal."""
        blob = json.dumps(self.to_list(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: Formats the engine opens (Pillow format names, checked by content).
DEFAULT_ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "AVIF", "TIFF", "GIF", "BMP", "HEIF")

#: Pillow's own default pixel ceiling (about 89.5 megapixels).
DEFAULT_MAX_PIXELS = 89_478_485


@dataclass(frozen=True)
class Limits:
    """Safety limits applied in every worker (set again in each worker process,
    because ``spawn`` does not inherit the parent's Pillow globals)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    #: Treat Pillow's DecompressionBombWarning (1–2× max_pixels) as an error.
    bomb_warning_is_error: bool = True
    #: Write truncated images anyway (flagged with a warning) instead of failing.
    load_truncated: bool = False
    #: Per-file deadline in seconds; the runner kills a worker that passes it.
    timeout_s: float = 120.0
    allowed_formats: tuple[str, ...] = DEFAULT_ALLOWED_FORMATS
    #: fsync each output before moving it into place, so a finished file
    #: survives a power cut (costs a disk flush per file: ~4 ms here, several
    #: times the work of a small image; 2.3× the throughput of tiny files
    #: without it). Off by default: writes stay atomic either way (temp file +
    #: ``os.replace``/``os.link``), so a crashed worker or Ctrl+C never leaves
    #: a partial output; only a power cut can, and resume redoes any output
    #: whose size does not match the journal. No batch-level flush either:
    #: ``os.sync()`` flushes every file system of every user, and fsync of
    #: the output folders would not flush the files' data.
    durable_writes: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_formats", tuple(self.allowed_formats))


class OverwritePolicy(StrEnum):
    SKIP = "skip"  # default: never touch an existing file
    RENAME = "rename"  # write "name (1).ext"
    OVERWRITE = "overwrite"


class Destination(StrEnum):
    FOLDER = "folder"  # everything under out_dir
    BESIDE = "beside"  # next to each original
    SUBFOLDER = "subfolder"  # a sub-folder (subfolder_name) next to each original


@dataclass(frozen=True)
class OutputSpec:
    """Where outputs go and what they are called (the plan's settings)."""

    out_dir: str | None = None
    destination: str = Destination.FOLDER.value
    subfolder_name: str = "processed"
    keep_structure: bool = True
    template: str = "{stem}"
    overwrite: str = OverwritePolicy.SKIP.value
    keep_dates: bool = False
    #: Explicit "replace originals" flow: the output may replace its input;
    #: the original is first copied to ``backup_dir`` (required).
    replace_originals: bool = False
    backup_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TaskSpec:
    """One unit of work: one input file to one output file.

    Created by the plan; executed by ``worker.run_task`` in any process.
    ``input_size`` and ``input_mtime_ns`` are what the plan saw (the journal
    keys on them). ``overwrite`` is re-checked at write time, because a file
    may appear between planning and writing.
    """

    task_id: int
    input_path: str
    output_path: str
    pipeline: Pipeline
    limits: Limits = field(default_factory=Limits)
    overwrite: str = OverwritePolicy.SKIP.value
    keep_dates: bool = False
    input_size: int = 0
    input_mtime_ns: int = 0
    #: Where to copy the original first ("replace originals" flow), else None.
    backup_path: str | None = None
    #: Fault injection for tests only (see worker docs); always None in real use.
    test_fault: str | None = None

    def settings_fingerprint(self) -> str:
        blob = json.dumps(
            {"pipeline": self.pipeline.to_list(), "output": self.output_path},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TaskResult:
    """What happened to one task. Errors are data: ``run_task`` never raises."""

    task_id: int
    input_path: str
    output_path: str | None
    status: str = Status.OK.value
    code: str = Code.OK.value
    message: str = ""
    width_in: int | None = None
    height_in: int | None = None
    width_out: int | None = None
    height_out: int | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    format_in: str | None = None
    format_out: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "status", str(self.status))
        object.__setattr__(self, "code", str(self.code))

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["warnings"] = list(self.warnings)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TaskResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: (tuple(v) if k == "warnings" else v) for k, v in data.items() if k in names})

    @classmethod
    def failure(cls, spec: TaskSpec, code: Code | str, message: str, **extra: Any) -> "TaskResult":
        status = Status.SKIPPED if code in SKIP_CODES else (
            Status.CANCELLED if code == Code.CANCELLED else Status.FAILED
        )
        return cls(
            task_id=spec.task_id,
            input_path=spec.input_path,
            output_path=spec.output_path,
            status=status.value,
            code=str(code),
            message=message,
            **extra,
        )


def spec_to_json(obj: Any) -> Any:
    """JSON-ready form of any spec dataclass (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: spec_to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [spec_to_json(v) for v in obj]
    return obj
