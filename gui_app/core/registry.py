"""The operation registry: name -> function, parameter schema, label, family.

The one source of truth for the GUI's settings forms, the CLI and presets.
Each operation module in ``gui_app.core.ops`` registers its operations with
:func:`register` at import time; :func:`all_ops` imports them all.

Kinds of operation:

- ``pixel``: ``func(image, **params) -> image``, a pure function.
- ``metadata``: sets the metadata policy for the output (no pixel change).
- ``encode``: chooses the output format and its encoder options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .specs import OpSpec, Pipeline, Primitive, SpecError

#: Parameter types understood by the GUI form builder and the validator.
PARAM_TYPES = ("int", "float", "bool", "choice", "color", "str")


@dataclass(frozen=True)
class Param:
    """Schema of one parameter.

    ``type`` is one of :data:`PARAM_TYPES`. ``color`` values are ``"#rrggbb"``
    or ``"#rrggbbaa"`` strings. ``choices`` is a tuple of (value, label) pairs
    for ``choice``. ``visible_when`` optionally names another parameter and the
    values for which this one matters (e.g. ``("mode", ("fit", "fill"))``), so
    the GUI can hide irrelevant fields.
    """

    name: str
    type: str
    default: Primitive
    label: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    unit: str = ""
    help: str = ""
    visible_when: tuple[str, tuple[Primitive, ...]] | None = None
    #: Suggest a slider in the GUI (quality, opacity…).
    slider: bool = False
    #: ``None`` is an accepted value (e.g. "no limit").
    optional: bool = False

    def validate(self, value: Any, where: str) -> Primitive:
        """Return the value coerced to the schema type, or raise SpecError."""
        if value is None:
            if self.optional:
                return None
            raise SpecError(where, "a value is required")
        t = self.type
        if t == "bool":
            if not isinstance(value, bool):
                raise SpecError(where, f"must be true or false, not {value!r}")
            return value
        if t in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecError(where, f"must be a number, not {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise SpecError(where, "must be a finite number")
            if t == "int":
                if isinstance(value, float):
                    if not value.is_integer():
                        raise SpecError(where, f"must be a whole number, not {value!r}")
                    value = int(value)
            else:
                value = float(value)
            if self.minimum is not None and value < self.minimum:
                raise SpecError(where, f"must be at least {_fmt(self.minimum)}{self.unit_suffix()}, not {value}")
            if self.maximum is not None and value > self.maximum:
                raise SpecError(where, f"must be at most {_fmt(self.maximum)}{self.unit_suffix()}, not {value}")
            return value
        if t == "choice":
            allowed = [c for c, _ in self.choices]
            if value not in allowed:
                raise SpecError(where, f"must be one of {', '.join(allowed)}, not {value!r}")
            return value
        if t == "color":
            if not isinstance(value, str) or not _is_color(value):
                raise SpecError(where, f"must be a colour like #ffffff, not {value!r}")
            return value.lower()
        if t == "str":
            if not isinstance(value, str):
                raise SpecError(where, f"must be text, not {value!r}")
            if len(value) > 4096:
                raise SpecError(where, "is too long (4096 characters at most)")
            return value
        raise SpecError(where, f"unknown parameter type {t}")

    def unit_suffix(self) -> str:
        return f" {self.unit}" if self.unit else ""


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _is_color(value: str) -> bool:
    if not value.startswith("#") or len(value) not in (7, 9):
        return False
    try:
        int(value[1:], 16)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OpInfo:
    name: str
    label: str
    family: str  # "Geometry", "Colour", "Effects", "Watermark", "Metadata", "Output"
    kind: str  # "pixel", "metadata" or "encode"
    params: tuple[Param, ...]
    func: Callable[..., Any] | None = None
    description: str = ""
    #: Optional ``size_func(width, height, **params) -> (width, height)`` that
    #: predicts the output size without touching pixels (plan, preview).
    size_func: Callable[..., tuple[int, int]] | None = None
    #: Optional whole-spec check for rules between parameters; raises SpecError.
    check: Callable[[dict[str, Primitive]], None] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Primitive]:
        return {p.name: p.default for p in self.params}


_REGISTRY: dict[str, OpInfo] = {}
_LOADED = False

#: Families in the order the GUI's "Add step" menu shows them.
FAMILIES = ("Geometry", "Colour", "Effects", "Watermark", "Metadata", "Output")


def register(info: OpInfo) -> OpInfo:
    if info.name in _REGISTRY:
        raise ValueError(f"operation {info.name!r} registered twice")
    if info.kind not in ("pixel", "metadata", "encode"):
        raise ValueError(f"bad kind {info.kind!r} for {info.name}")
    _REGISTRY[info.name] = info
    return info


def _load() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import ops  # noqa: F401  (registers every operation)


def get(name: str) -> OpInfo:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SpecError("op", f"unknown operation {name!r}") from None


def all_ops() -> list[OpInfo]:
    _load()
    order = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda o: (order.get(o.family, 99), o.label))


def validate_step(step: OpSpec, where: str = "step") -> OpSpec:
    """Fill in defaults and validate every parameter; raise SpecError naming the field."""
    try:
        info = get(step.name)
    except SpecError as exc:
        raise SpecError(f"{where}.op", exc.reason) from None
    given = step.kwargs()
    unknown = sorted(set(given) - {p.name for p in info.params})
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", f"unknown parameter for {info.name}")
    values: dict[str, Primitive] = {}
    for p in info.params:
        raw = given.get(p.name, p.default)
        values[p.name] = p.validate(raw, f"{where}.{p.name}")
    if info.check is not None:
        try:
            info.check(values)
        except SpecError as exc:
            raise SpecError(f"{where}.{exc.field}", exc.reason) from None
    return OpSpec(name=step.name, params=tuple(values.items()), enabled=step.enabled)


def validate_pipeline(pipeline: Pipeline) -> Pipeline:
    return Pipeline(
        steps=tuple(validate_step(s, f"steps[{i}]") for i, s in enumerate(pipeline.steps))
    )
