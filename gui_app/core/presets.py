"""Presets: a pipeline plus output settings, stored as strictly validated JSON.

A preset file looks like this (``version``, ``output`` and ``variants`` are
optional)::

    {"name": "web", "description": "…", "version": 1,
     "steps": [{"op": "resize", "mode": "long_edge", "long_edge": 2048}, …],
     "output": {"template": "{stem}", "overwrite": "skip",
                "keep_structure": true, "keep_dates": false},
     "variants": [{"suffix": "_480w", "steps": [...]}, …]}

Loading is strict and safe: the file must be UTF-8 JSON (never pickle, eval
or YAML); unknown keys, wrong types, out-of-range or huge numbers, NaN and
duplicate keys are refused with ONE :class:`SpecError` naming the field, e.g.
``steps[1].quality: must be at most 100, not 400``. Each step is validated by
the op registry, which also fills in defaults.

Variants (fan-out): each variant's steps run after the preset's own steps;
the plan makes one task per variant per input and adds the suffix to the name
(``{stem}_480w.webp``). :attr:`Preset.variants` gives the full pipelines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import registry
from .paths import sanitize_component
from .specs import Destination, OpSpec, OutputSpec, OverwritePolicy, Pipeline, Primitive, SpecError

PRESET_VERSION = 1
MAX_PRESET_BYTES = 1_000_000
MAX_STEPS = 64
MAX_VARIANTS = 16
MAX_NAME_LENGTH = 80
MAX_DESCRIPTION_LENGTH = 2000
_MAX_DIGITS = 30

_TOP_KEYS = ("name", "description", "version", "steps", "output", "variants")
_VARIANT_KEYS = ("suffix", "steps")
#: Output settings a preset may carry. Folders (out_dir, backup_dir) and
#: "replace originals" are deliberately not among them: a shared preset must
#: never decide where files go on someone's disk or replace their originals.
_OUTPUT_KEYS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "template": ("str", None),
    "overwrite": ("choice", tuple(p.value for p in OverwritePolicy)),
    "keep_structure": ("bool", None),
    "keep_dates": ("bool", None),
    "destination": ("choice", tuple(d.value for d in Destination)),
    "subfolder_name": ("str", None),
}


@dataclass(frozen=True)
class Preset:
    """A validated preset. ``output`` holds only the output settings it
    overrides; apply them with :meth:`apply_output`."""

    name: str
    description: str = ""
    pipeline: Pipeline = field(default_factory=Pipeline)
    output: Mapping[str, Primitive] = field(default_factory=dict)
    builtin: bool = False
    #: (suffix, the variant's own steps) pairs; see :attr:`variants`.
    variant_steps: tuple[tuple[str, Pipeline], ...] = ()
    #: File it was loaded from (None for built-ins and JSON text).
    path: str | None = None

    @property
    def variants(self) -> tuple[tuple[str, Pipeline], ...]:
        """(suffix, full pipeline) per output of a fan-out preset; empty for
        an ordinary preset. Pass to ``plan.make_plan(variants=…)``."""
        return tuple((suffix, Pipeline(self.pipeline.steps + extra.steps)) for suffix, extra in self.variant_steps)

    def apply_output(self, base: OutputSpec) -> OutputSpec:
        return dataclasses.replace(base, **dict(self.output))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "description": self.description, "version": PRESET_VERSION,
                                "steps": self.pipeline.to_list()}
        if self.output:
            data["output"] = dict(self.output)
        if self.variant_steps:
            data["variants"] = [{"suffix": s, "steps": p.to_list()} for s, p in self.variant_steps]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- parsing


def _reject_constant(name: str) -> float:
    return float("nan")  # NaN/Infinity: refused, with the field name, by validation


def _parse_int(text: str) -> int | float:
    # Huge integers: Python would build them (or raise without a field name);
    # turn them into infinity so validation names the field.
    return float("inf") if len(text.lstrip("-")) > _MAX_DIGITS else int(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise SpecError(key, "appears twice")
        data[key] = value
    return data


def _parse_json_text(text: str | bytes, where: str) -> Any:
    if isinstance(text, bytes):
        if text[:1] == b"\x80" or text[:2] in (b"(d", b"(l", b"}q", b"]q"):
            raise SpecError(where, "is a Python pickle, not a JSON preset (pickles are never loaded)")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SpecError(where, "is not a text file (a preset is UTF-8 JSON)") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant,
                          parse_int=_parse_int)
    except SpecError:
        raise
    except json.JSONDecodeError as exc:
        hint = " (YAML and other formats are not accepted)" if text.lstrip()[:1] not in ("{", "[") else ""
        raise SpecError(where, f"is not valid JSON{hint}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (RecursionError, ValueError) as exc:
        raise SpecError(where, f"is not a usable JSON preset: {exc}") from None


def _expect(value: Any, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise SpecError(where, f"must be {what}, not {value!r}")
    if not isinstance(value, kind):
        shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
        raise SpecError(where, f"must be {what}, not {shown}")
    return value


def _check_unknown(data: Mapping[str, Any], allowed, where: str) -> None:
    for key in data:
        if key not in allowed:
            hint = ""
            if where == "output" and key in ("out_dir", "backup_dir", "replace_originals"):
                hint = " (folders and 'replace originals' are never stored in a preset)"
            prefix = f"{where}." if where else ""
            raise SpecError(f"{prefix}{key}", f"unknown key{hint}; allowed: {', '.join(allowed)}")


def _text(value: Any, where: str, max_len: int, required: bool = False) -> str:
    _expect(value, str, where, "text")
    if required and not value.strip():
        raise SpecError(where, "must not be empty")
    if len(value) > max_len:
        raise SpecError(where, f"is too long ({max_len} characters at most)")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise SpecError(where, "must not contain control characters")
    return value


def _steps(value: Any, where: str) -> Pipeline:
    _expect(value, list, where, "a list of steps")
    if len(value) > MAX_STEPS:
        raise SpecError(where, f"has too many steps ({MAX_STEPS} at most)")
    steps = []
    for i, raw in enumerate(value):
        here = f"{where}[{i}]"
        _expect(raw, dict, here, "an object like {\"op\": \"resize\", …}")
        try:
            step = OpSpec.from_dict(raw)
        except SpecError as exc:
            raise SpecError(f"{here}.{exc.field}", exc.reason) from None
        steps.append(registry.validate_step(step, here))
    return Pipeline(tuple(steps))


def _output(value: Any) -> dict[str, Primitive]:
    _expect(value, dict, "output", "an object")
    _check_unknown(value, tuple(_OUTPUT_KEYS), "output")
    out: dict[str, Primitive] = {}
    for key, raw in value.items():
        where = f"output.{key}"
        kind, choices = _OUTPUT_KEYS[key]
        if kind == "bool":
            out[key] = _expect(raw, bool, where, "true or false")
        elif kind == "choice":
            if raw not in (choices or ()):
                raise SpecError(where, f"must be one of {', '.join(choices or ())}, not {raw!r}")
            out[key] = raw
        else:
            out[key] = _text(raw, where, 1024, required=True)
    if "template" in out:
        from .plan import parse_template  # plan imports nothing from here

        try:
            parse_template(str(out["template"]))
        except SpecError as exc:
            raise SpecError("output.template", exc.reason) from None
    if "subfolder_name" in out and sanitize_component(str(out["subfolder_name"])) != out["subfolder_name"]:
        raise SpecError("output.subfolder_name", "must be a plain folder name (no /, \\, .., or special characters)")
    return out


def parse_variants(value: Any) -> tuple[tuple[str, Pipeline], ...]:
    """Validate a preset's ``variants`` list (parsed JSON) into (suffix,
    steps) pairs; raise SpecError naming the field (``variants[1].suffix``).
    The GUI's outputs editor checks its list with this too."""
    _expect(value, list, "variants", "a list")
    if len(value) > MAX_VARIANTS:
        raise SpecError("variants", f"has too many entries ({MAX_VARIANTS} at most)")
    seen: set[str] = set()
    out = []
    for i, raw in enumerate(value):
        here = f"variants[{i}]"
        _expect(raw, dict, here, "an object like {\"suffix\": \"_480w\", \"steps\": […]}")
        _check_unknown(raw, _VARIANT_KEYS, here)
        if "suffix" not in raw:
            raise SpecError(f"{here}.suffix", "is required")
        suffix = _text(raw["suffix"], f"{here}.suffix", 64)
        if sanitize_component(suffix, placeholder="") != suffix:
            raise SpecError(f"{here}.suffix", "must be a plain file-name part (no /, \\, .., or special characters)")
        if suffix.casefold() in seen:
            raise SpecError(f"{here}.suffix", f"{suffix!r} is used twice")
        seen.add(suffix.casefold())
        out.append((suffix, _steps(raw.get("steps", []), f"{here}.steps")))
    return tuple(out)


def preset_from_dict(data: Any, *, builtin: bool = False, path: str | None = None) -> Preset:
    """Validate parsed JSON into a :class:`Preset`; raise SpecError naming the field."""
    _expect(data, dict, "preset", "a JSON object")
    _check_unknown(data, _TOP_KEYS, "")
    if "name" not in data:
        raise SpecError("name", "is required")
    name = _text(data["name"], "name", MAX_NAME_LENGTH, required=True).strip()
    description = _text(data.get("description", ""), "description", MAX_DESCRIPTION_LENGTH)
    version = data.get("version", PRESET_VERSION)
    if isinstance(version, bool) or version != PRESET_VERSION:
        raise SpecError("version", f"must be {PRESET_VERSION}, not {version!r}")
    pipeline = _steps(data.get("steps", []), "steps")
    output = _output(data["output"]) if "output" in data else {}
    variants = parse_variants(data["variants"]) if "variants" in data else ()
    return Preset(name, description, pipeline, output, builtin, variants, path)


def load_preset(path_or_json: str | os.PathLike | bytes) -> Preset:
    """Load a preset from a file path or from JSON text; strict (see module doc)."""
    if isinstance(path_or_json, bytes):
        return preset_from_dict(_parse_json_text(path_or_json, "preset"))
    text = os.fspath(path_or_json)
    if text.lstrip()[:1] in ("{", "["):
        return preset_from_dict(_parse_json_text(text, "preset"))
    where = "preset file"
    try:
        # Non-blocking, and checked before reading: a FIFO must not hang us.
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise SpecError(where, f"{text} is not a regular file")
            data = fh.read(MAX_PRESET_BYTES + 1)
    except OSError as exc:
        raise SpecError(where, f"cannot read {text}: {exc.strerror or exc}") from None
    if len(data) > MAX_PRESET_BYTES:
        raise SpecError(where, f"is too large ({MAX_PRESET_BYTES // 1000} kB at most)")
    return preset_from_dict(_parse_json_text(data, where), path=os.path.abspath(text))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_preset(preset: Preset, path: str | os.PathLike) -> Path:
    """Write ``preset`` as JSON (atomically). The result loads back equal."""
    target = Path(path)
    _write_atomic(target, preset.to_json())
    return target


# --------------------------------------------------------------------------- built-ins


def _step(op: str, **params: Primitive) -> dict[str, Any]:
    return {"op": op, **params}


_BUILTIN_DATA: tuple[dict[str, Any], ...] = (
    {"name": "web", "description": "For websites: long edge 2048 px, WebP quality 80, GPS removed.",
     "steps": [_step("auto_orient"), _step("resize", mode="long_edge", long_edge=2048, upscale=False),
               _step("metadata", mode="strip_gps"), _step("encode", format="webp", quality=80)]},
    {"name": "email", "description": "Small enough to mail: long edge 1280 px, JPEG quality 82, all metadata removed.",
     "steps": [_step("auto_orient"), _step("resize", mode="long_edge", long_edge=1280, upscale=False),
               _step("metadata", mode="strip_all"), _step("encode", format="jpeg", quality=82, progressive=True)]},
    {"name": "thumbnails", "description": "Square thumbnails: filled and cropped to 320×320 px.",
     "steps": [_step("auto_orient"), _step("resize", mode="fill", width=320, height=320, upscale=True),
               _step("metadata", mode="strip_all"), _step("encode", format="keep", quality=85)],
     "output": {"template": "{stem}_thumb"}},
    {"name": "instagram", "description": "Instagram portrait: filled to 1080×1350 px, JPEG quality 90, GPS removed.",
     "steps": [_step("auto_orient"), _step("resize", mode="fill", width=1080, height=1350, upscale=True),
               _step("metadata", mode="strip_gps"), _step("encode", format="jpeg", quality=90)]},
    {"name": "archive", "description": "Compact archive copies: AVIF quality 60, all metadata kept.",
     "steps": [_step("auto_orient"), _step("metadata", mode="keep"), _step("encode", format="avif", quality=60)],
     "output": {"keep_dates": True}},
    {"name": "bench-sharp", "description": "sharp's benchmark task: fit in 720×588 (Lanczos), JPEG quality 80.",
     "steps": [_step("resize", mode="fit", width=720, height=588, filter="lanczos"),
               _step("encode", format="jpeg", quality=80)]},
    {"name": "responsive-web",
     "description": "Responsive images: WebP 480, 960 and 1920 px wide plus a 1920 px JPEG fallback, GPS removed.",
     "steps": [_step("auto_orient"), _step("metadata", mode="strip_gps")],
     "variants": [
         {"suffix": f"_{w}w", "steps": [_step("resize", mode="fit", width=w, height=65535, upscale=False),
                                        _step("encode", format="webp", quality=80)]}
         for w in (480, 960, 1920)
     ] + [
         {"suffix": "_fallback", "steps": [_step("resize", mode="fit", width=1920, height=65535, upscale=False),
                                           _step("encode", format="jpeg", quality=82, progressive=True)]}
     ]},
)


def builtin_presets() -> dict[str, Preset]:
    """The built-in presets by name (validated like any file)."""
    return {d["name"]: preset_from_dict(d, builtin=True) for d in _BUILTIN_DATA}


# --------------------------------------------------------------------------- user presets


def user_config_dir() -> Path:
    """ImageBatch's configuration folder: ``$IMAGEBATCH_CONFIG_DIR`` if set,
    else the platform's (XDG on Linux, AppData on Windows, Application
    Support on macOS)."""
    override = os.environ.get("IMAGEBATCH_CONFIG_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "ImageBatch"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ImageBatch"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "imagebatch"


def user_presets_dir() -> Path:
    """Where user presets live (not created until a preset is saved)."""
    return user_config_dir() / "presets"


def preset_file_name(name: str) -> str:
    """The file name a user preset called ``name`` is saved under."""
    return sanitize_component(name.strip(), placeholder="preset") + ".json"


def user_presets(errors: list[tuple[str, str]] | None = None) -> list[Preset]:
    """Valid presets of the user folder, by name. Broken files are left
    out; their (path, message) go to ``errors`` when given."""
    folder = user_presets_dir()
    found = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = folder / name
        try:
            found.append(load_preset(path))
        except SpecError as exc:
            if errors is not None:
                errors.append((str(path), str(exc)))
    return sorted(found, key=lambda p: p.name.casefold())


def list_presets(errors: list[tuple[str, str]] | None = None) -> list[Preset]:
    """Built-in presets first, then the user's (a user preset never hides a built-in)."""
    builtins = builtin_presets()
    taken = {n.casefold() for n in builtins}
    return list(builtins.values()) + [p for p in user_presets(errors) if p.name.casefold() not in taken]


def find_preset(name_or_path: str) -> Preset:
    """A preset by file path, built-in name or user preset name (case-insensitive)."""
    looks_like_path = os.sep in name_or_path or "/" in name_or_path or name_or_path.endswith(".json")
    if looks_like_path and os.path.exists(name_or_path):
        return load_preset(name_or_path)
    wanted = name_or_path.strip().casefold()
    presets = list_presets()
    for preset in presets:
        if preset.name.casefold() == wanted:
            return preset
    if looks_like_path:
        raise SpecError("preset", f"no preset file {name_or_path}")
    names = ", ".join(p.name for p in presets)
    raise SpecError("preset", f"no preset named {name_or_path!r}; available: {names}")


def _check_user_name(name: str) -> str:
    name = _text(name, "name", MAX_NAME_LENGTH, required=True).strip()
    if name.casefold() in {n.casefold() for n in builtin_presets()}:
        raise SpecError("name", f"{name!r} is a built-in preset; choose another name")
    return name


def save_user_preset(preset: Preset, *, replace: bool = True) -> Path:
    """Save into the user folder under :func:`preset_file_name`. With
    ``replace=False`` an existing preset of that name is an error."""
    name = _check_user_name(preset.name)
    path = user_presets_dir() / preset_file_name(name)
    if not replace and path.exists():
        raise SpecError("name", f"a preset named {name!r} already exists")
    return save_preset(dataclasses.replace(preset, name=name, builtin=False, path=None), path)


def _user_preset_path(name: str) -> Path:
    for preset in user_presets():
        if preset.name.casefold() == name.strip().casefold() and preset.path:
            return Path(preset.path)
    raise SpecError("preset", f"no user preset named {name!r}")


def rename_user_preset(old_name: str, new_name: str) -> Preset:
    """Rename a user preset (its file too). Refuses built-in and taken names."""
    old_path = _user_preset_path(old_name)
    new_name = _check_user_name(new_name)
    new_path = user_presets_dir() / preset_file_name(new_name)
    same_file = new_path.exists() and new_path.samefile(old_path)
    if new_path.exists() and not same_file:
        raise SpecError("name", f"a preset named {new_name!r} already exists")
    preset = dataclasses.replace(load_preset(old_path), name=new_name)
    save_preset(preset, new_path)
    if not same_file:
        old_path.unlink()
    return dataclasses.replace(preset, path=str(new_path))


def delete_user_preset(name: str) -> None:
    """Delete a user preset; built-ins cannot be deleted."""
    if name.strip().casefold() in {n.casefold() for n in builtin_presets()}:
        raise SpecError("name", f"{name!r} is a built-in preset and cannot be deleted")
    _user_preset_path(name).unlink()
