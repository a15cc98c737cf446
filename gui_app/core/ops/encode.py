"""The output step: format and encoder options, and the pixel-mode rules per format.

Conversions made on purpose (documented for users in the option help):
- Transparency onto a format without alpha (JPEG, BMP): flattened onto
  ``background`` (white by default).
- Grey with alpha to GIF: converted to RGBA first so the transparency survives.
- WebP holds RGB/RGBA only: grey becomes RGB(A) (Pillow's encoder does so).
- Animated input: ``frames="first"`` writes the first frame; ``"all"`` keeps
  every frame when the output can animate (GIF, WebP, AVIF, PNG/APNG) and
  writes the first frame otherwise (with a warning).
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

from ..formats import OUTPUT_FORMAT_CHOICES, FORMATS, FormatInfo
from ..registry import OpInfo, Param, register
from ._common import has_alpha, parse_color

FAMILY = "Output"

#: Formats whose size can be traded against a quality setting (target_kb).
LOSSY = frozenset({"jpeg", "webp", "avif"})

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
TIFF_COMPRESSION = {"none": None, "lzw": "tiff_lzw", "deflate": "tiff_adobe_deflate", "packbits": "packbits"}
#: Formats that can carry EXIF / XMP / an ICC profile through Pillow. TIFF
#: gets no EXIF: Pillow would merge the EXIF tags into the TIFF's own
#: directory, and libtiff refuses the sub-directory pointers when compressing.
EXIF_FORMATS = frozenset({"jpeg", "png", "webp", "avif"})
XMP_FORMATS = frozenset({"jpeg", "png", "webp", "avif", "tiff"})
ICC_FORMATS = frozenset({"jpeg", "png", "webp", "avif", "tiff"})


def _fmt_label(key: str) -> str:
    return "Same as the input" if key == "keep" else FORMATS[key].label


def _for(*keys: str) -> tuple[str, tuple[str, ...]]:
    return ("format", ("keep",) + keys)


register(
    OpInfo(
        name="encode",
        label="Output format",
        family=FAMILY,
        kind="encode",
        params=(
            Param("format", "choice", "keep", "Format", choices=tuple((k, _fmt_label(k)) for k in OUTPUT_FORMAT_CHOICES),
                  help="HEIC inputs are written as JPEG when the format is kept."),
            Param("quality", "int", 85, "Quality", minimum=1, maximum=100, slider=True,
                  help="Higher is better and larger. 75–85 suits the web.",
                  visible_when=_for("jpeg", "webp", "avif")),
            Param("progressive", "bool", False, "Progressive JPEG",
                  help="Loads blurry-to-sharp on slow connections; often a little smaller.",
                  visible_when=_for("jpeg")),
            Param("optimize", "bool", False, "Optimise",
                  help="Extra pass for smaller files (slower).", visible_when=_for("jpeg", "png", "gif")),
            Param("subsampling", "choice", "auto", "Chroma subsampling",
                  choices=(("auto", "Automatic"), ("4:4:4", "4:4:4 (best colour)"), ("4:2:2", "4:2:2"),
                           ("4:2:0", "4:2:0 (smallest)")),
                  visible_when=_for("jpeg")),
            Param("png_compression", "int", 6, "PNG compression", minimum=0, maximum=9,
                  help="0 fastest/largest, 9 slowest/smallest; the pixels are identical.", visible_when=_for("png")),
            Param("png_filter", "choice", "adaptive", "PNG row filter",
                  choices=(("adaptive", "Adaptive (smaller files)"), ("none", "None (faster)")),
                  help="Adaptive picks a filter per row: usually smaller photos. None skips that work: "
                       "faster, often larger; the pixels are identical.", visible_when=_for("png")),
            Param("lossless", "bool", False, "Lossless WebP", visible_when=_for("webp")),
            Param("webp_method", "int", 4, "WebP effort", minimum=0, maximum=6,
                  help="0 fastest, 6 smallest.", visible_when=_for("webp")),
            Param("avif_speed", "int", 6, "AVIF speed", minimum=0, maximum=10,
                  help="0 slowest/smallest, 10 fastest.", visible_when=_for("avif")),
            Param("tiff_compression", "choice", "lzw", "TIFF compression",
                  choices=(("none", "None"), ("lzw", "LZW"), ("deflate", "Deflate (ZIP)"), ("packbits", "PackBits")),
                  visible_when=_for("tiff")),
            Param("background", "color", "#ffffff", "Background",
                  help="Transparent areas are flattened onto this colour for formats without transparency (JPEG, BMP)."),
            Param("frames", "choice", "first", "Animated input",
                  choices=(("first", "First frame only"), ("all", "All frames (GIF, WebP, AVIF, PNG)"))),
            Param("target_kb", "int", None, "Target size", minimum=1, maximum=1_000_000, unit="KB", optional=True,
                  help="Find the highest quality (up to the quality above) whose file fits under this size. "
                       "JPEG, WebP and AVIF only.",
                  visible_when=_for("jpeg", "webp", "avif")),
        ),
        description="Choose the output format and its encoder settings.",
    )
)


def flatten(image: Image.Image, background: str) -> Image.Image:
    """Composite transparency onto a solid colour (grey stays grey)."""
    r, g, b, _ = parse_color(background)
    if image.mode == "LA" and r == g == b:
        base = Image.new("L", image.size, r)
        base.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return base
    rgba = image.convert("RGBA") if image.mode != "RGBA" else image
    base = Image.new("RGB", image.size, (r, g, b))
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base


def prepare(image: Image.Image, fmt: FormatInfo, background: str = "#ffffff") -> Image.Image:
    """Bring a working image (L, LA, RGB, RGBA) into a mode the format stores,
    converting only when needed."""
    if not fmt.alpha and has_alpha(image):
        image = flatten(image, background)
    key = fmt.key
    if key == "jpeg" and image.mode not in ("L", "RGB"):
        return image.convert("RGB")
    if key == "gif" and image.mode == "LA":
        return image.convert("RGBA")
    if key == "bmp" and image.mode not in ("1", "L", "P", "RGB"):
        return image.convert("RGB")
    if key in ("webp", "avif") and image.mode not in ("L", "RGB", "RGBA"):
        return image.convert("RGBA" if has_alpha(image) else "RGB")
    return image


def save_options(fmt: FormatInfo, params: dict[str, Any], quality: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Image.save`` from the encode step's parameters."""
    key = fmt.key
    q = int(quality if quality is not None else params.get("quality", 85))
    if key == "jpeg":
        opts: dict[str, Any] = {"quality": q, "optimize": bool(params.get("optimize")),
                                "progressive": bool(params.get("progressive"))}
        sub = params.get("subsampling", "auto")
        if sub in SUBSAMPLING:
            opts["subsampling"] = SUBSAMPLING[sub]
        return opts
    if key == "png":
        opts = {"compress_level": int(params.get("png_compression", 6)), "optimize": bool(params.get("optimize"))}
        if params.get("png_filter", "adaptive") == "none":
            opts[PNG_UNFILTERED] = True  # for the engine: not a Pillow option
        return opts
    if key == "webp":
        return {"quality": q, "lossless": bool(params.get("lossless")), "method": int(params.get("webp_method", 4))}
    if key == "avif":
        return {"quality": q, "speed": int(params.get("avif_speed", 6))}
    if key == "tiff":
        compression = TIFF_COMPRESSION.get(str(params.get("tiff_compression", "lzw")))
        return {"compression": compression} if compression else {}
    if key == "gif":
        return {"optimize": bool(params.get("optimize"))}
    return {}


def is_lossy(fmt: FormatInfo, params: dict[str, Any]) -> bool:
    return fmt.key in LOSSY and not (fmt.key == "webp" and params.get("lossless"))


# --------------------------------------------------------------------------- PNG without row filters

#: Key in :func:`save_options` asking for :func:`png_unfiltered` (never passed to Pillow).
PNG_UNFILTERED = "imagebatch_png_unfiltered"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPES = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], len(_PNG_SIGNATURE)
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_unfiltered(image: Image.Image, options: dict[str, Any]) -> bytes | None:
    """A PNG whose rows all use filter type 0 (none), compressed by zlib at
    ``compress_level`` (9 with ``optimize``): Pillow's PNG writer has no
    filter setting and always runs its per-row adaptive heuristic, which
    costs about a tenth of sharp's PNG task.

    Every other chunk is Pillow's own: Pillow saves a 1×1 crop of the picture
    (same mode, same ``info``, same options: iCCP, eXIf, tEXt/iTXt, pHYs,
    tRNS, …) and only its IHDR size and its IDAT are replaced, so the
    metadata is exactly what the adaptive path writes. 8-bit L, LA, RGB and
    RGBA only; None for anything else (the caller then lets Pillow write it).
    """
    colour_type = _PNG_COLOUR_TYPES.get(image.mode)
    if colour_type is None or image.width < 1 or image.height < 1:
        return None
    pillow_options = {k: v for k, v in options.items() if k != PNG_UNFILTERED}
    probe = io.BytesIO()
    image.crop((0, 0, 1, 1)).save(probe, "PNG", **pillow_options)
    chunks = _png_chunks(probe.getvalue())
    header = chunks[0][1] if chunks and chunks[0][0] == b"IHDR" else b""
    if len(header) != 13 or header[8:13] != bytes((8, colour_type, 0, 0, 0)):
        return None  # not the plain 8-bit, non-interlaced layout written below
    raw = image.tobytes()
    stride = len(raw) // image.height
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(image.height))
    level = 9 if options.get("optimize") else int(options.get("compress_level", 6))
    pixels = zlib.compress(rows, level)
    out = [_PNG_SIGNATURE]
    for kind, body in chunks:
        if kind == b"IHDR":
            body = struct.pack(">II", image.width, image.height) + header[8:]
        elif kind == b"IDAT":
            if pixels is None:
                continue  # the probe's other IDAT chunks, if any
            body, pixels = pixels, None
        out.append(_png_chunk(kind, body))
    return b"".join(out)
