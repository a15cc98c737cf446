"""Opening images safely, and turning Pillow's many exceptions into error codes.

- Files are opened by content, never by extension, with a ``formats=``
  allowlist: EPS, PSD, PDF and every other risky decoder are never tried,
  so a spoofed ``.jpg`` that is really PostScript cannot start Ghostscript.
- The pixel ceiling is checked from the header, before any pixel is
  decoded (Pillow only reads the header in ``Image.open``).
- Pillow's process-wide settings (pixel ceiling, truncated-image policy,
  the bomb warning as an error, the HEIF plugin) are applied by
  :func:`configure_pillow`, which every worker calls in its initializer and
  :func:`open_image` re-applies when the limits change (``spawn`` workers
  do not inherit the parent's Pillow globals).
"""

from __future__ import annotations

import errno
import io
import re
import struct
import threading
import warnings
import zlib

from PIL import Image, ImageFile, UnidentifiedImageError

from .specs import Code, Limits, SpecError


class ImageError(Exception):
    """A failure with an error code and a sentence for the per-file log."""

    def __init__(self, code: Code | str, message: str):
        super().__init__(message)
        self.code = Code(code)
        self.message = str(message)

    def __reduce__(self):  # picklable across processes whatever the cause chain
        return (ImageError, (self.code.value, self.message))


_lock = threading.Lock()
_configured: Limits | None = None
_heif_available: bool | None = None


def _register_heif() -> bool:
    global _heif_available
    if _heif_available is None:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
            _heif_available = True
        except Exception:  # pillow-heif missing or broken: HEIC becomes unsupported
            _heif_available = False
    return _heif_available


def configure_pillow(limits: Limits | None = None) -> None:
    """Apply the safety limits to Pillow's globals (idempotent, cheap to repeat)."""
    global _configured
    limits = limits or Limits()
    with _lock:
        if _configured == limits:
            return
        Image.MAX_IMAGE_PIXELS = limits.max_pixels
        ImageFile.LOAD_TRUNCATED_IMAGES = limits.load_truncated
        # The last filter added wins; open_image also checks the ceiling itself.
        action = "error" if limits.bomb_warning_is_error else "ignore"
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        if "HEIF" in limits.allowed_formats:
            _register_heif()
        _configured = limits


def allowed_pillow_formats(limits: Limits) -> list[str]:
    formats = [f.upper() for f in limits.allowed_formats]
    if "HEIF" in formats and not _register_heif():
        formats.remove("HEIF")
    return formats


def pixel_ceiling(limits: Limits) -> int:
    """The largest pixel count accepted: the limit itself when the bomb warning
    is an error, else Pillow's hard error threshold (twice the limit)."""
    return limits.max_pixels if limits.bomb_warning_is_error else 2 * limits.max_pixels


def check_pixels(width: int, height: int, limits: Limits) -> None:
    ceiling = pixel_ceiling(limits)
    if width * height > ceiling:
        raise ImageError(
            Code.TOO_LARGE,
            f"the image is too large: {width}×{height} is {width * height / 1e6:,.1f} megapixels, "
            f"the limit is {ceiling / 1e6:,.1f} megapixels",
        )


def open_image(source: str | bytes, limits: Limits | None = None) -> Image.Image:
    """Open an image by its content (lazily: pixels are decoded later).

    ``source`` is a path or the file's bytes. Raises :class:`ImageError` with
    UNSUPPORTED_FORMAT, TOO_LARGE, READ_FAILED, CORRUPT… on any problem.
    """
    limits = limits or Limits()
    configure_pillow(limits)
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        image = Image.open(fp, formats=allowed_pillow_formats(limits))
    except ImageError:
        raise
    except BaseException as exc:  # noqa: BLE001 - every Pillow failure becomes a code
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        code, message = classify_exception(exc)
        if code == Code.UNSUPPORTED_FORMAT:
            claimed = sniff_format(source)
            if claimed in allowed_pillow_formats(limits):
                code, message = Code.CORRUPT, f"this file is damaged (it starts like a {claimed} file but cannot be read)"
        raise ImageError(code, message) from None
    try:
        check_pixels(image.width, image.height, limits)
    except ImageError:
        image.close()
        raise
    return image


#: File signatures of the formats we open, to tell "damaged JPEG" from "not an image".
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WEBP"),
    (8, b"avif", "AVIF"),
    (8, b"heic", "HEIF"),
    (8, b"heix", "HEIF"),
    (8, b"mif1", "HEIF"),
)


def sniff_format(source: str | bytes) -> str | None:
    """The format a file's first bytes claim to be (None: none of ours)."""
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            head = bytes(source[:16])
        else:
            with open(source, "rb") as fh:
                head = fh.read(16)
    except OSError:
        return None
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


_TRUNCATED_HINTS = ("truncated", "premature end", "unexpected end", "end of file", "not enough data")
_UNSUPPORTED_HINTS = ("not supported", "unsupported", "decoder", "encoder", "unknown compression", "not available")

#: Exception types Pillow raises for malformed data besides OSError.
_CORRUPT_TYPES: tuple[type[BaseException], ...] = (
    SyntaxError, ValueError, struct.error, EOFError, OverflowError, IndexError, KeyError,
    TypeError, ZeroDivisionError, AssertionError, AttributeError, zlib.error, Warning,
)


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message (at most 120 characters), for log sentences."""
    try:
        text = str(exc).strip()
    except Exception:  # a hostile __str__
        text = ""
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "…"


def classify_exception(exc: BaseException) -> tuple[Code, str]:
    """Map any exception from opening/decoding/encoding to (code, human sentence)."""
    if isinstance(exc, ImageError):
        return exc.code, exc.message
    if isinstance(exc, SpecError):
        return Code.INVALID_SETTINGS, f"invalid settings: {exc}"
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        numbers = re.findall(r"\d+", str(exc))
        if numbers and Image.MAX_IMAGE_PIXELS:
            return Code.TOO_LARGE, (f"the image is too large: {int(numbers[0]) / 1e6:,.1f} megapixels, the limit is "
                                    f"{Image.MAX_IMAGE_PIXELS / 1e6:,.1f} megapixels (possible decompression bomb)")
        return Code.TOO_LARGE, "the image is too large: it has more pixels than the safety limit allows (possible decompression bomb)"
    if isinstance(exc, UnidentifiedImageError):
        return Code.UNSUPPORTED_FORMAT, "not a supported image: the content is not JPEG, PNG, WebP, AVIF, TIFF, GIF, BMP or HEIC"
    if isinstance(exc, MemoryError):
        return Code.OUT_OF_MEMORY, "not enough memory to process this image"
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return Code.DISK_FULL, "the disk is full"
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)) or exc.errno:
            return Code.READ_FAILED, f"the file cannot be read: {exc.strerror or short_reason(exc)}"
        text = str(exc).lower()
        if any(h in text for h in _TRUNCATED_HINTS):
            return Code.TRUNCATED, "this file is damaged (truncated)"
        if any(h in text for h in _UNSUPPORTED_HINTS):
            return Code.UNSUPPORTED_FORMAT, f"this kind of image is not supported ({short_reason(exc)})"
        return Code.CORRUPT, f"this file is damaged ({short_reason(exc)})"
    if isinstance(exc, ValueError) and "too large" in str(exc).lower():
        return Code.TOO_LARGE, f"the file holds a block too large to read safely ({short_reason(exc)})"
    if isinstance(exc, NotImplementedError):
        return Code.UNSUPPORTED_FORMAT, f"this kind of image is not supported ({short_reason(exc)})"
    if isinstance(exc, _CORRUPT_TYPES):
        return Code.CORRUPT, f"this file is damaged ({short_reason(exc)})"
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return Code.INTERNAL_ERROR, f"the task was interrupted ({type(exc).__name__})"
    return Code.INTERNAL_ERROR, f"unexpected error: {type(exc).__name__}: {short_reason(exc)}"
