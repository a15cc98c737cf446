"""The pipeline engine: decode (with JPEG shrink-on-load), apply the steps in
the user's order, encode under the metadata policy.

Conversions the engine makes by itself, so every operation sees a picture
in one of four working modes (L, LA, RGB, RGBA):

- palette (P/PA) → RGB, or RGBA when it has transparency;
- CMYK → sRGB through the embedded ICC profile (Pillow's formula without one);
- 16-bit (I;16*, I) → 8-bit grey by scaling the full 0–65535 range to 0–255
  (a faithful rendering; a dark 12-bit scan stays dark rather than clipping
  to white, which is what a plain ``convert("L")`` would do);
- 1-bit → L; float (F) → L, clipped; YCbCr/LAB/HSV → RGB.

Orientation: ``auto_orient`` applies the EXIF orientation where the user put
it in the pipeline and the output's Orientation tag becomes 1. Without an
``auto_orient`` step the pixels stay as stored and the tag is kept, so
viewers still show the picture upright, except under ``strip_all``, where
the tag would be lost: there the orientation is applied first, implicitly.

Shrink on load: when the input is a JPEG and the first step that changes
the scale is a ``resize`` that shrinks (only orientation, flips, crops and
point-wise colour steps before it), the JPEG is decoded at 1/2, 1/4 or 1/8
scale with ``Image.draft`` (the largest DCT scale whose result is still at
least the target size, with the orientation's width/height swap accounted
for), then resized with Lanczos and a reducing gap. The output size is
computed from the full-size geometry, so it is identical with or without
the draft. With libjpeg-turbo the decode can also be at 3/8 (see
:func:`_draft`), which Pillow's ``draft`` does not offer by itself.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageSequence, PngImagePlugin

from . import registry
from .formats import FORMATS, FormatInfo, by_extension, by_pillow_name, encode_format_key
from .imageio import ImageError, open_image, short_reason
from .ops import color as color_ops
from .ops import encode as encode_ops
from .ops import geometry, metadata
from .specs import Code, Limits, OpSpec, Pipeline

#: Steps that commute with a uniform downscale closely enough to run after a
#: JPEG draft (point-wise colour changes and mirror images).
_DRAFT_TRANSPARENT = frozenset({"flip", "grayscale", "color_profile", "adjust"})

WORKING_MODES = ("L", "LA", "RGB", "RGBA")

#: A JPEG APP1 segment holds at most 65535 bytes, "Exif\0\0" and the length included.
JPEG_MAX_EXIF = 65527


@dataclass
class Processed:
    """A processed picture on its way to the encoder, with its metadata."""

    image: Image.Image
    frames: list[Image.Image] | None = None  # all frames, when an animation is kept
    durations: list[int] | None = None
    loop: int | None = None
    exif: Image.Exif | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    oriented: bool = False
    format_in: str | None = None
    size_in: tuple[int, int] = (0, 0)
    #: The decoded picture is the original divided by this (a JPEG draft:
    #: 1, 2, 8/3, 4 or 8).
    draft_scale: float = 1
    #: After a draft: the area of the decoded picture that holds the whole
    #: picture at exactly 1/draft_scale (the last row/column of a drafted
    #: JPEG is partly padding), followed through flips and rotations.
    content_box: tuple[float, float, float, float] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size


@dataclass(frozen=True)
class PreviewResult:
    """The decoded output for the GUI preview.

    ``image``, ``data`` and ``size_bytes`` are the encoded result (of a reduced
    copy when ``scaled`` is True, i.e. ``max_side`` was smaller than the
    output); ``width``/``height`` are always the real output's size.
    """

    image: Image.Image
    data: bytes
    format: str
    width: int
    height: int
    size_bytes: int
    scaled: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Plan:
    pixel_steps: tuple[OpSpec, ...]
    metadata_mode: str
    encode_params: dict[str, Any]


@functools.lru_cache(maxsize=64)
def _plan(pipeline: Pipeline) -> _Plan:
    """Validated steps (defaults filled in), cached per pipeline."""
    valid = registry.validate_pipeline(pipeline)
    pixel, mode, enc = [], "keep", registry.get("encode").defaults()
    for step in valid.enabled_steps():
        kind = registry.get(step.name).kind
        if kind == "pixel":
            pixel.append(step)
        elif kind == "metadata":
            mode = str(step.get("mode", "keep"))
        else:
            enc = step.kwargs()
    return _Plan(tuple(pixel), mode, enc)


def _implicit_orient(plan: _Plan) -> bool:
    """Apply the orientation before everything when the tag would be lost."""
    return plan.metadata_mode == "strip_all" and not any(s.name == "auto_orient" for s in plan.pixel_steps)


# --------------------------------------------------------------------------- sizes


def predict_size(pipeline: Pipeline, width: int, height: int, orientation: int = 1) -> tuple[int, int]:
    """Output size from the registry's size functions, without pixels.
    ``orientation`` is the input's EXIF orientation (1 when unknown)."""
    plan = _plan(pipeline)
    if _implicit_orient(plan):
        width, height = geometry.auto_orient_size(width, height, orientation)
    for step in plan.pixel_steps:
        info = registry.get(step.name)
        if step.name == "auto_orient":
            width, height = geometry.auto_orient_size(width, height, orientation)
        elif info.size_func is not None:
            width, height = info.size_func(width, height, **step.kwargs())
    return width, height


def output_format_for(pipeline: Pipeline, format_in: str | None, output_path: str | None = None) -> FormatInfo:
    """The format to write: the encode step's, else (``keep``) the one the
    output name says, else the input's content format. HEIC (read-only)
    becomes JPEG; anything unknown PNG."""
    key = encode_format_key(pipeline)
    if key != "keep":
        return FORMATS[key]
    found = by_extension(output_path) if output_path else None
    if found is None or not found.writable:
        found = by_pillow_name(format_in)
    if found is None:
        return FORMATS["png"]
    return found if found.writable else FORMATS["jpeg"]


# --------------------------------------------------------------------------- decode


def _draft_request(image: Image.Image, plan: _Plan, orientation: int) -> tuple[int, int] | None:
    """The smallest stored-orientation size the pipeline needs, when a JPEG
    draft can serve it; None when the whole picture must be decoded.

    Steps before the first resize may be orientation, flips, point-wise
    colour changes and crops (a crop only moves the area the resize reads).
    """
    if image.format not in ("JPEG", "MPO") or not getattr(image, "tile", None) or len(image.tile) != 1:
        return None
    swapped = geometry.orientation_swaps_axes(orientation) and _implicit_orient(plan)
    full = (image.height, image.width) if swapped else image.size  # the whole picture, as oriented now
    logical = full  # the part of it the next step sees
    for step in plan.pixel_steps:
        if step.name == "auto_orient":
            if geometry.orientation_swaps_axes(orientation) and not swapped:
                swapped, full, logical = True, full[::-1], logical[::-1]
            continue
        if step.name in _DRAFT_TRANSPARENT:
            continue
        if step.name == "crop":
            logical = geometry.crop_size(*logical, **step.kwargs())
            continue
        if step.name != "resize" or step.get("filter") == "nearest":
            return None
        size, box = geometry.resize_plan(*logical, step.kwargs())
        box_w, box_h = (box[2] - box[0], box[3] - box[1]) if box else logical
        scale = max(size[0] / box_w, size[1] / box_h)
        if scale >= 0.5:  # draft needs at least a 2× reduction to help
            return None
        need = (math.ceil(full[0] * scale), math.ceil(full[1] * scale))
        return (need[1], need[0]) if swapped else need
    return None


#: libjpeg-turbo decodes at k/8 of the full size for k = 1…8. Pillow's JPEG
#: decoder passes it the scale 1/N, which libjpeg-turbo rounds up to
#: k = ceil(8/N) eighths: N = 8, 4, 3, 2 give 1/8, 2/8, 3/8, 4/8. Pillow's
#: ``draft`` only ever picks N = 1, 2, 4 or 8; N = 3 (3/8) is what this adds.
_DCT_SCALES = ((8, 1), (4, 2), (3, 3), (2, 4))  # (N, k), smallest k first


@functools.cache
def _decodes_eighths() -> bool:
    """Does Pillow's JPEG decoder scale by k/8 (libjpeg-turbo, or libjpeg ≥ 7)?
    Plain libjpeg 6b would round 1/3 to 1/2 and the picture would not fit
    the size Pillow was told to expect."""
    from PIL import features

    try:
        return bool(features.check_feature("libjpeg_turbo"))
    except Exception:  # noqa: BLE001 - unknown build: keep Pillow's own scales
        return False


def _draft(image: Image.Image, request: tuple[int, int]) -> float:
    """Draft ``image`` (a JPEG, opened but not loaded) to the smallest DCT
    scale whose result still covers ``request``; returns the divisor of the
    decoded size (1.0: no draft).

    Pillow's ``draft`` picks 1/2, 1/4 or 1/8 (by whole-number division, so
    sometimes coarser than needed). When a k/8 scale still covers the
    request and decodes fewer pixels than Pillow's pick (e.g. 2725×2225 → 720×588: 3/8 is
    1022×835, where Pillow would decode 1/2, 1363×1113), the draft is refined
    to 3/8 exactly as ``JpegImageFile.draft`` sets it up itself: the decoder
    scale argument (``decoderconfig``), the tile extents and the image size,
    with sizes rounded up like libjpeg-turbo's ``jdiv_round_up``.
    """
    width, height = image.size
    if image.draft("RGB", request) is None:
        return 1.0
    config = getattr(image, "decoderconfig", None)
    chosen = float(config[0]) if config else 1.0
    if not _decodes_eighths() or len(image.tile) != 1:
        return chosen
    for n, k in _DCT_SCALES:
        w, h = -(-width * k // 8), -(-height * k // 8)
        if w >= request[0] and h >= request[1]:
            if 8 / k > chosen:  # fewer pixels to decode than Pillow's pick
                tile = image.tile[0]
                x0, y0 = tile.extents[:2] if tile.extents else (0, 0)
                image.tile = [tile._replace(extents=(x0, y0, x0 + w, y0 + h))]
                image._size = (w, h)
                image.decoderconfig = (n, config[1] if config else 0)
                return 8 / k
            break
    return chosen


def _to_working_mode(image: Image.Image, icc: bytes | None, warnings: list[str]) -> tuple[Image.Image, bytes | None]:
    mode = image.mode
    if mode in WORKING_MODES:
        return image, icc
    if mode == "CMYK":
        image, icc, warning = color_ops.cmyk_to_rgb(image, icc)
        if warning:
            warnings.append(warning)
        return image, icc
    if mode in ("P", "PA"):
        return image.convert("RGBA" if encode_ops.has_alpha(image) else "RGB"), icc
    if mode.startswith("I"):  # I;16, I;16B, I;16L, I;16N, I: 16-bit grey → 8-bit
        wide = image if mode == "I" else image.convert("I")
        return wide.point(lambda v: v * (1 / 257) + 0.5).convert("L"), icc
    if mode == "F":
        return image.convert("L"), icc
    if mode in ("La", "RGBa"):
        return image.convert(mode.upper()), icc
    if mode == "1":
        return image.convert("L"), icc
    return image.convert("RGB"), icc  # YCbCr, LAB, HSV, RGBX…


def _read_frames(image: Image.Image, processed: Processed) -> list[Image.Image]:
    """Every frame as RGBA (Pillow composites GIF/APNG/WebP frames for us)."""
    frames, durations = [], []
    count = getattr(image, "n_frames", 1)
    if Image.MAX_IMAGE_PIXELS and image.width * image.height * count > Image.MAX_IMAGE_PIXELS:
        raise ImageError(Code.TOO_LARGE, f"the animation is too large to keep every frame ({count} frames of "
                                         f"{image.width}×{image.height}); choose the first frame only")
    for frame in ImageSequence.Iterator(image):
        frames.append(frame.convert("RGBA"))
        durations.append(int(frame.info.get("duration", 100) or 0))
    processed.durations = durations
    processed.loop = int(image.info.get("loop", 0) or 0)
    return frames


def _wants_all_frames(image: Image.Image, plan: _Plan, fmt: FormatInfo | None) -> bool:
    if plan.encode_params.get("frames") != "all" or getattr(image, "n_frames", 1) < 2:
        return False
    return fmt is None or fmt.animation


# --------------------------------------------------------------------------- process


def process(image: Image.Image, pipeline: Pipeline, *, source_path: str | None = None,
            fmt: FormatInfo | None = None, extra_steps: tuple[OpSpec, ...] = ()) -> Processed:
    """Decode ``image`` (opened lazily by :func:`imageio.open_image`) and apply
    the pipeline's pixel steps in order. ``fmt`` is the output format when
    known (it decides whether all frames of an animation are kept)."""
    plan = _plan(pipeline)
    if extra_steps:
        plan = _Plan(plan.pixel_steps + tuple(registry.validate_step(s) for s in extra_steps),
                     plan.metadata_mode, plan.encode_params)
    processed = Processed(image=image, format_in=image.format, size_in=image.size)
    exif, warning = metadata.read_exif(image)
    if warning:
        processed.warnings.append(warning)
    processed.exif = exif
    processed.icc = image.info.get("icc_profile") or None
    processed.xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or None
    orientation = metadata.exif_orientation(exif)

    frames: list[Image.Image]
    if _wants_all_frames(image, plan, fmt):
        frames = _read_frames(image, processed)
    else:
        # n_frames last: counting GIF frames reads the whole file.
        if plan.encode_params.get("frames") == "all" and getattr(image, "n_frames", 1) > 1:
            processed.warnings.append(f"{fmt.label if fmt else 'this format'} cannot animate: only the first frame was written")
        request = _draft_request(image, plan, orientation)
        if request is not None:
            processed.draft_scale = _draft(image, request)
            if processed.draft_scale > 1:
                processed.content_box = (0.0, 0.0, processed.size_in[0] / processed.draft_scale,
                                         processed.size_in[1] / processed.draft_scale)
        image.load()
        frames = [image]

    source_icc, working = processed.icc, []
    for frame in frames:
        frame, processed.icc = _to_working_mode(frame, source_icc, processed.warnings)
        working.append(frame)
    frames = working

    steps = plan.pixel_steps
    if _implicit_orient(plan) and orientation != 1:
        steps = (OpSpec("auto_orient"),) + steps
    logical = processed.size_in
    for step in steps:
        frames = [_apply_step(step, f, processed, orientation, logical) for f in frames]
        logical = _next_logical_size(step, logical, orientation)
    processed.image = frames[0]
    processed.frames = frames if len(frames) > 1 else None
    return processed


def _next_logical_size(step: OpSpec, logical: tuple[int, int], orientation: int) -> tuple[int, int]:
    if step.name == "auto_orient":
        return geometry.auto_orient_size(*logical, orientation)
    info = registry.get(step.name)
    return info.size_func(*logical, **step.kwargs()) if info.size_func else logical


def _apply_step(step: OpSpec, image: Image.Image, processed: Processed, orientation: int,
                logical: tuple[int, int]) -> Image.Image:
    """One pixel step. ``logical`` is the picture's size had it been decoded
    at full scale: a drafted resize computes its geometry from it, so the
    output size never depends on the draft."""
    params = step.kwargs()
    if step.name == "auto_orient":
        processed.oriented = True
        _follow_content_box(processed, image.size, geometry.ORIENTATION_TRANSPOSE.get(orientation, ()))
        return geometry.apply_orientation(image, orientation)
    if step.name == "flip" and processed.content_box is not None:
        _follow_content_box(processed, image.size, (geometry.FLIP_METHODS[str(params.get("direction"))],))
    if step.name == "crop" and processed.content_box is not None:
        # Drafted: narrow the area the coming resize reads instead of cutting
        # pixels at the reduced scale (which would round the box).
        x0, y0, x1, y1 = geometry.crop_box(*logical, params)
        cx, cy = processed.content_box[:2]
        k = 1 / processed.draft_scale
        processed.content_box = (cx + x0 * k, cy + y0 * k, cx + x1 * k, cy + y1 * k)
        return image
    if step.name == "color_profile":
        if params.get("mode") != "srgb":
            return image
        image, processed.icc, warning = color_ops.to_srgb(image, processed.icc)
        if warning and warning not in processed.warnings:
            processed.warnings.append(warning)
        return image
    if step.name == "resize" and processed.content_box is not None:
        size, box = geometry.resize_plan(*logical, params)
        box = (0, 0, *logical) if box is None else box
        x0, y0 = processed.content_box[:2]
        k = 1 / processed.draft_scale
        processed.content_box = None  # the picture is at full scale from here on
        drafted_box = (x0 + box[0] * k, y0 + box[1] * k, x0 + box[2] * k, y0 + box[3] * k)
        return geometry.resample(image, size, drafted_box, str(params.get("filter", "lanczos")))
    return registry.get(step.name).func(image, **params)


def _follow_content_box(processed: Processed, size: tuple[int, int], methods) -> None:
    """Move the drafted content box along with flips and rotations."""
    if processed.content_box is None:
        return
    box = processed.content_box
    for method in methods:
        box = geometry.transpose_box(box, size, method)
        if method in geometry.AXIS_SWAPPING:
            size = (size[1], size[0])
    processed.content_box = box


# --------------------------------------------------------------------------- encode


def _metadata_kwargs(processed: Processed, fmt: FormatInfo, mode: str, image_mode: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if fmt.key in encode_ops.EXIF_FORMATS:
        exif = metadata.exif_for_output(processed.exif, mode, processed.oriented)
        if exif and fmt.key == "jpeg" and len(exif) > JPEG_MAX_EXIF:
            processed.warnings.append("the EXIF data is too large for a JPEG file; it was not copied")
        elif exif:
            kwargs["exif"] = exif
    if fmt.key in encode_ops.XMP_FORMATS:
        xmp = metadata.xmp_for_output(processed.xmp, mode, processed.oriented)
        if xmp and fmt.key == "png":  # PNG has no xmp= option: an iTXt chunk, as Pillow reads it
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
            kwargs["pnginfo"] = info
        elif xmp:
            kwargs["xmp"] = xmp
    if fmt.key in encode_ops.ICC_FORMATS:
        icc = metadata.icc_for_output(processed.icc, mode, image_mode)
        if icc:
            kwargs["icc_profile"] = icc
    return kwargs


def _save(frames: list[Image.Image], fmt: FormatInfo, options: dict[str, Any], processed: Processed) -> bytes:
    out = io.BytesIO()
    options = dict(options)
    if len(frames) > 1:
        options = dict(options, save_all=True, append_images=frames[1:], duration=processed.durations,
                       loop=processed.loop or 0)
        if fmt.key == "gif":
            options["disposal"] = 2
    try:
        if options.pop(encode_ops.PNG_UNFILTERED, False) and len(frames) == 1:
            data = encode_ops.png_unfiltered(frames[0], options)
            if data is not None:
                return data
        frames[0].save(out, format=fmt.pillow, **options)
    except (ImageError, MemoryError):
        raise
    except Exception as exc:  # an encoder failure is not a damaged input: say so
        raise ImageError(Code.INTERNAL_ERROR, f"the {fmt.label} encoder failed ({short_reason(exc)})") from None
    return out.getvalue()



def encode(processed: Processed, pipeline: Pipeline, fmt: FormatInfo) -> bytes:
    """Encode under the pipeline's encode options and metadata policy.

    Raises ImageError(TOO_LARGE) before encoding when the format cannot hold
    the size (WebP: 16383 px a side). With ``target_kb``, a bounded binary
    search over quality (at most 8 encodes) finds the highest quality up to
    the chosen one that fits; if none fits, the smallest is written and a
    warning says so.
    """
    plan = _plan(pipeline)
    params = plan.encode_params
    width, height = processed.size
    if fmt.max_dimension and max(width, height) > fmt.max_dimension:
        raise ImageError(
            Code.TOO_LARGE,
            f"{fmt.label} cannot store pictures larger than {fmt.max_dimension} pixels on a side "
            f"(this one would be {width}×{height}); resize it or choose another format",
        )
    background = str(params.get("background", "#ffffff"))
    source_frames = processed.frames or [processed.image]
    if fmt.key not in encode_ops.ICC_FORMATS and not color_ops.is_srgb(processed.icc):
        # GIF and BMP cannot carry the profile: bake it into sRGB pixels instead.
        source_frames = [color_ops.to_srgb(f, processed.icc)[0] for f in source_frames]
    frames = [encode_ops.prepare(f, fmt, background) for f in source_frames]
    meta = _metadata_kwargs(processed, fmt, plan.metadata_mode, frames[0].mode)

    def attempt(quality: int | None = None) -> bytes:
        return _save(frames, fmt, {**encode_ops.save_options(fmt, params, quality), **meta}, processed)

    target_kb = params.get("target_kb")
    if not target_kb:
        return attempt()
    if not encode_ops.is_lossy(fmt, params):
        processed.warnings.append(f"the target size applies to JPEG, WebP and AVIF only; ignored for {fmt.label}")
        return attempt()
    limit = int(target_kb) * 1024
    best_quality = int(params.get("quality", 85))
    data = attempt(best_quality)
    if len(data) <= limit:
        return data
    low, high, best = 1, best_quality - 1, None
    smallest = data
    while low <= high:
        mid = (low + high) // 2
        candidate = attempt(mid)
        if len(candidate) <= limit:
            best, low = candidate, mid + 1
        else:
            smallest = candidate if len(candidate) < len(smallest) else smallest
            high = mid - 1
    if best is not None:
        return best
    processed.warnings.append(
        f"could not get under {target_kb} KB: the smallest {fmt.label} is {math.ceil(len(smallest) / 1024)} KB "
        "even at the lowest quality; resize the picture or raise the target"
    )
    return smallest


# --------------------------------------------------------------------------- preview


def render_preview(path: str, pipeline: Pipeline, limits: Limits | None = None,
                   max_side: int | None = None) -> PreviewResult:
    """Run the pipeline on one file and decode the encoded result (for the
    GUI). With ``max_side`` the result is scaled to fit that many pixels
    (fast: a JPEG is then decoded at a reduced scale when possible)."""
    limits = limits or Limits()
    with open_image(path, limits) as image:
        fmt = output_format_for(pipeline, image.format, path)
        orientation = metadata.exif_orientation(metadata.read_exif(image)[0])
        width, height = predict_size(pipeline, image.width, image.height, orientation)
        extra: tuple[OpSpec, ...] = ()
        scaled = bool(max_side) and max(width, height) > int(max_side)
        if scaled:
            extra = (OpSpec.make("resize", mode="fit", width=int(max_side), height=int(max_side)),)
        processed = process(image, pipeline, source_path=path, fmt=fmt, extra_steps=extra)
        data = encode(processed, pipeline, fmt)
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    return PreviewResult(image=decoded, data=data, format=fmt.key, width=width, height=height,
                         size_bytes=len(data), scaled=scaled, warnings=tuple(processed.warnings))
