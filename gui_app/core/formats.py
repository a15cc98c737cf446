"""Image formats the engine reads and writes, and how output names get their extension.

Pure data and small helpers, shared by the plan (output names), the worker
(encoder choice) and the GUI (format menus). No Pillow import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .specs import Pipeline


@dataclass(frozen=True)
class FormatInfo:
    key: str  # the value used in settings: "jpeg", "png", …
    pillow: str  # Pillow's format name for Image.save(format=…)
    label: str
    extension: str  # default extension, with the dot
    extensions: tuple[str, ...]  # every extension recognised for it
    alpha: bool  # can store transparency
    animation: bool  # can store several frames
    writable: bool = True
    max_dimension: int | None = None  # encoder's hard limit per side


FORMATS: dict[str, FormatInfo] = {
    f.key: f
    for f in (
        FormatInfo("jpeg", "JPEG", "JPEG", ".jpg", (".jpg", ".jpeg", ".jpe", ".jfif"), False, False, max_dimension=65535),
        FormatInfo("png", "PNG", "PNG", ".png", (".png", ".apng"), True, True),
        FormatInfo("webp", "WEBP", "WebP", ".webp", (".webp",), True, True, max_dimension=16383),
        FormatInfo("avif", "AVIF", "AVIF", ".avif", (".avif",), True, True, max_dimension=65535),
        FormatInfo("tiff", "TIFF", "TIFF", ".tif", (".tif", ".tiff"), True, True),
        FormatInfo("gif", "GIF", "GIF", ".gif", (".gif",), True, True, max_dimension=65535),
        FormatInfo("bmp", "BMP", "BMP", ".bmp", (".bmp", ".dib"), False, False),
        FormatInfo("heif", "HEIF", "HEIF/HEIC", ".heic", (".heic", ".heif", ".hif"), True, False, writable=False),
    )
}

#: Values accepted by the encode step's ``format`` parameter.
OUTPUT_FORMAT_CHOICES: tuple[str, ...] = ("keep",) + tuple(k for k, f in FORMATS.items() if f.writable)

#: Every extension the scanner treats as a likely image (content is still checked).
IMAGE_EXTENSIONS: frozenset[str] = frozenset(e for f in FORMATS.values() for e in f.extensions)

_BY_EXTENSION = {e: f for f in FORMATS.values() for e in f.extensions}
_BY_PILLOW = {f.pillow: f for f in FORMATS.values()}


def by_extension(path_or_ext: str) -> FormatInfo | None:
    ext = path_or_ext if path_or_ext.startswith(".") and os.sep not in path_or_ext else os.path.splitext(path_or_ext)[1]
    return _BY_EXTENSION.get(ext.lower())


def by_pillow_name(name: str | None) -> FormatInfo | None:
    if name in ("MPO",):  # multi-picture JPEG from cameras: a JPEG for our purposes
        name = "JPEG"
    return _BY_PILLOW.get(name or "")


def encode_format_key(pipeline: Pipeline) -> str:
    """The ``format`` of the last enabled ``encode`` step, or "keep"."""
    key = "keep"
    for step in pipeline.enabled_steps():
        if step.name == "encode":
            key = str(step.get("format", "keep"))
    return key


def output_format(pipeline: Pipeline, input_path: str) -> FormatInfo:
    """The format an input will be written in.

    "keep" keeps the input's format (judged by its extension here; the worker
    checks the content). A format we cannot write (HEIC) becomes JPEG, and an
    unknown extension becomes PNG (lossless, so nothing is lost by guessing).
    """
    key = encode_format_key(pipeline)
    if key != "keep":
        return FORMATS[key]
    found = by_extension(input_path)
    if found is None:
        return FORMATS["png"]
    if not found.writable:
        return FORMATS["jpeg"]
    return found


def output_extension(pipeline: Pipeline, input_path: str) -> str:
    """The extension for the output name: the input's own spelling when the
    format is kept (``.JPG`` stays ``.JPG``), else the format's default."""
    fmt = output_format(pipeline, input_path)
    ext = os.path.splitext(input_path)[1]
    if encode_format_key(pipeline) == "keep" and ext.lower() in fmt.extensions:
        return ext
    return fmt.extension
