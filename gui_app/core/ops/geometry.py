"""Geometry operations: orientation, resize, crop, pad, rotate, flip.

Every operation is a pure function ``image -> image`` and has a size function
``(width, height, **params) -> (width, height)`` so the plan and the preview
can predict output sizes without touching pixels. The pixel function and the
size function share one computation (``_resize_geometry`` etc.), so they can
never disagree.
"""

from __future__ import annotations

import math

from PIL import Image

from ..registry import OpInfo, Param, register
from ..specs import SpecError
from ._common import anchor_fractions, anchor_param, anchored_offset, fill_value, mode_for_fill, parse_color, same_size

FAMILY = "Geometry"

#: Pillow's resampling filters by setting value.
FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}

#: ``reducing_gap`` for large reductions: Pillow first shrinks by an integer
#: factor with a box filter while the remaining ratio stays above this gap,
#: then applies the real filter. At 3.0 the result is indistinguishable from
#: a full Lanczos pass (Pillow's docs; our PSNR test checks it) and much
#: faster for big downscales.
REDUCING_GAP = 3.0

# --------------------------------------------------------------------------- orientation

#: EXIF Orientation value → the transposition that makes the picture upright.
ORIENTATION_TRANSPOSE: dict[int, tuple[Image.Transpose, ...]] = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}

ORIENTATION_TAG = 0x0112

AXIS_SWAPPING = frozenset({Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270,
                           Image.Transpose.TRANSPOSE, Image.Transpose.TRANSVERSE})


def transpose_box(box: tuple[float, float, float, float], size: tuple[int, int],
                  method: Image.Transpose) -> tuple[float, float, float, float]:
    """Where a box of a ``size`` picture lands after ``image.transpose(method)``."""
    x0, y0, x1, y1 = box
    w, h = size
    T = Image.Transpose
    return {
        T.FLIP_LEFT_RIGHT: (w - x1, y0, w - x0, y1),
        T.FLIP_TOP_BOTTOM: (x0, h - y1, x1, h - y0),
        T.ROTATE_180: (w - x1, h - y1, w - x0, h - y0),
        T.ROTATE_90: (y0, w - x1, y1, w - x0),
        T.ROTATE_270: (h - y1, x0, h - y0, x1),
        T.TRANSPOSE: (y0, x0, y1, x1),
        T.TRANSVERSE: (h - y1, w - x1, h - y0, w - x0),
    }[method]


def orientation_swaps_axes(orientation: int | None) -> bool:
    return orientation in (5, 6, 7, 8)


def apply_orientation(image: Image.Image, orientation: int | None) -> Image.Image:
    """Turn the stored pixels upright for an EXIF Orientation value (1–8).
    Unknown or missing values leave the picture as it is."""
    for method in ORIENTATION_TRANSPOSE.get(orientation or 1, ()):
        image = image.transpose(method)
    return image


def read_orientation(image: Image.Image) -> int:
    """Orientation from the image's EXIF, 1 when absent or unreadable."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
        return value if value in ORIENTATION_TRANSPOSE else 1
    except Exception:  # broken EXIF must never stop the picture
        return 1


def auto_orient(image: Image.Image) -> Image.Image:
    """Standalone form: apply the image's own EXIF orientation. The engine
    uses :func:`apply_orientation` with the orientation it parsed safely and
    then writes Orientation = 1 into the output's EXIF."""
    return apply_orientation(image, read_orientation(image))


def auto_orient_size(width: int, height: int, orientation: int = 1) -> tuple[int, int]:
    return (height, width) if orientation_swaps_axes(orientation) else (width, height)


register(
    OpInfo(
        name="auto_orient",
        label="Auto-orient",
        family=FAMILY,
        kind="pixel",
        params=(),
        func=auto_orient,
        size_func=auto_orient_size,
        description="Turn the picture upright using the camera's EXIF orientation, then reset the tag.",
    )
)

# --------------------------------------------------------------------------- resize

RESIZE_MODES = (
    ("fit", "Fit inside width × height"),
    ("fill", "Fill width × height (crop the rest)"),
    ("exact", "Exactly width × height (stretch)"),
    ("percent", "Percent"),
    ("long_edge", "Long edge"),
    ("short_edge", "Short edge"),
    ("megapixels", "Megapixels"),
)


def _scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize_geometry(
    width: int, height: int, *, mode: str = "long_edge", width_px: int = 1920, height_px: int = 1080,
    percent: float = 50.0, long_edge: int = 2048, short_edge: int = 1080, megapixels: float = 2.0,
    upscale: bool = False, anchor: str = "center",
) -> tuple[tuple[int, int], tuple[float, float, float, float] | None]:
    """Output size and, for ``fill``, the source box to scale (else None)."""
    grow = (lambda s: s) if upscale else (lambda s: min(s, 1.0))
    if mode == "fit":
        scale = min(width_px / width, height_px / height)
        if scale >= 1.0 and not upscale:
            return (width, height), None
        # The limiting side gets the requested size exactly (no rounding drift).
        if width_px / width <= height_px / height:
            return (width_px, max(1, round(height * width_px / width))), None
        return (max(1, round(width * height_px / height)), height_px), None
    if mode == "fill":
        scale = max(width_px / width, height_px / height)
        out_w, out_h = width_px, height_px
        if scale > 1.0 and not upscale:
            # Never enlarge: keep the requested aspect ratio at the picture's own scale.
            out_w, out_h = max(1, min(width, round(width_px / scale))), max(1, min(height, round(height_px / scale)))
            scale = 1.0
        box_w, box_h = out_w / scale, out_h / scale
        fx, fy = anchor_fractions(anchor)
        x0, y0 = (width - box_w) * fx, (height - box_h) * fy
        if scale == 1.0:  # a pure crop: keep it on whole pixels
            x0, y0 = round(x0), round(y0)
        return (out_w, out_h), (x0, y0, x0 + box_w, y0 + box_h)
    if mode == "exact":
        if not upscale:
            shrink = min(1.0, width / width_px, height / height_px)
            return _scaled(width_px, height_px, shrink), None
        return (width_px, height_px), None
    if mode == "percent":
        scale = grow(percent / 100.0)
    elif mode == "long_edge":
        scale = grow(long_edge / max(width, height))
    elif mode == "short_edge":
        scale = grow(short_edge / min(width, height))
    elif mode == "megapixels":
        scale = grow(math.sqrt(megapixels * 1_000_000 / (width * height)))
    else:
        raise SpecError("mode", f"unknown resize mode {mode!r}")
    if scale == 1.0:
        return (width, height), None
    return _scaled(width, height, scale), None


def _resize_args(params: dict) -> dict:
    return dict(
        mode=params.get("mode", "long_edge"),
        width_px=params.get("width", 1920),
        height_px=params.get("height", 1080),
        percent=params.get("percent", 50.0),
        long_edge=params.get("long_edge", 2048),
        short_edge=params.get("short_edge", 1080),
        megapixels=params.get("megapixels", 2.0),
        upscale=params.get("upscale", False),
        anchor=params.get("anchor", "center"),
    )


def resize_plan(width: int, height: int, params: dict) -> tuple[tuple[int, int], tuple[float, float, float, float] | None]:
    """Output size and the source box to scale (None: the whole picture)."""
    return _resize_geometry(width, height, **_resize_args(params))


def resize_size(width: int, height: int, /, **params) -> tuple[int, int]:
    return resize_plan(width, height, params)[0]


def resample(image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None,
             filter: str = "lanczos") -> Image.Image:
    """Scale ``box`` of the picture (None: all of it) to ``size``, converting
    only when needed. The engine calls this directly after a JPEG draft, with
    the box scaled to the drafted picture."""
    if box is not None and (box[2] - box[0], box[3] - box[1]) == size and all(float(v).is_integer() for v in box):
        box, image = None, image.crop(tuple(int(v) for v in box))  # fill without scaling: a pure crop
    if box is None and size == image.size:
        return image
    resample_filter = FILTERS[filter]
    gap = REDUCING_GAP if resample_filter != Image.Resampling.NEAREST else None
    if image.mode == "P":  # palette indices cannot be interpolated
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    return image.resize(size, resample_filter, box=box, reducing_gap=gap)


def resize(image: Image.Image, **params) -> Image.Image:
    """Resize by one of the modes; ``fill`` scales and crops in one pass."""
    size, box = resize_plan(image.width, image.height, params)
    return resample(image, size, box, params.get("filter", "lanczos"))


_SIZE_MODES = ("fit", "fill", "exact")

register(
    OpInfo(
        name="resize",
        label="Resize",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("mode", "choice", "long_edge", "Mode", choices=RESIZE_MODES,
                  help="How the new size is chosen."),
            Param("width", "int", 1920, "Width", minimum=1, maximum=65535, unit="px",
                  visible_when=("mode", _SIZE_MODES)),
            Param("height", "int", 1080, "Height", minimum=1, maximum=65535, unit="px",
                  visible_when=("mode", _SIZE_MODES)),
            Param("percent", "float", 50.0, "Percent", minimum=0.1, maximum=1000.0, unit="%",
                  visible_when=("mode", ("percent",))),
            Param("long_edge", "int", 2048, "Long edge", minimum=1, maximum=65535, unit="px",
                  help="The longer side gets this length; the other follows the aspect ratio.",
                  visible_when=("mode", ("long_edge",))),
            Param("short_edge", "int", 1080, "Short edge", minimum=1, maximum=65535, unit="px",
                  help="The shorter side gets this length; the other follows the aspect ratio.",
                  visible_when=("mode", ("short_edge",))),
            Param("megapixels", "float", 2.0, "Megapixels", minimum=0.001, maximum=1000.0, unit="MP",
                  help="Total pixel count of the result, aspect ratio kept.",
                  visible_when=("mode", ("megapixels",))),
            Param("upscale", "bool", False, "Allow enlarging",
                  help="Off: a picture is never enlarged. Smaller pictures keep their size; "
                       "fill and exact then keep the requested shape at the picture's own scale."),
            Param("filter", "choice", "lanczos", "Filter",
                  choices=(("lanczos", "Lanczos (sharpest)"), ("bicubic", "Bicubic"),
                           ("bilinear", "Bilinear"), ("nearest", "Nearest (pixel art)"))),
            anchor_param(help="Which part is kept when filling crops the picture.",
                         visible_when=("mode", ("fill",))),
        ),
        func=resize,
        size_func=resize_size,
        description="Scale the picture: fit, fill, exact, percent, long/short edge or megapixels.",
    )
)

# --------------------------------------------------------------------------- crop

ASPECTS = {"1:1": (1, 1), "3:2": (3, 2), "2:3": (2, 3), "4:3": (4, 3), "3:4": (3, 4),
           "16:9": (16, 9), "9:16": (9, 16)}


def _crop_box(width: int, height: int, *, mode: str = "aspect", left: int = 0, top: int = 0,
              box_width: int = 1000, box_height: int = 1000, aspect: str = "1:1",
              aspect_w: float = 1.0, aspect_h: float = 1.0, anchor: str = "center") -> tuple[int, int, int, int]:
    if mode == "box":
        x0, y0 = min(left, width - 1), min(top, height - 1)
        return x0, y0, min(width, x0 + box_width), min(height, y0 + box_height)
    aw, ah = (aspect_w, aspect_h) if aspect == "custom" else ASPECTS[aspect]
    if width * ah > height * aw:  # too wide: keep the full height
        cw, ch = max(1, round(height * aw / ah)), height
    else:
        cw, ch = width, max(1, round(width * ah / aw))
    cw, ch = min(cw, width), min(ch, height)
    x0, y0 = anchored_offset((width, height), (cw, ch), anchor)
    return x0, y0, x0 + cw, y0 + ch


def _crop_args(params: dict) -> dict:
    return dict(mode=params.get("mode", "aspect"), left=params.get("left", 0), top=params.get("top", 0),
                box_width=params.get("width", 1000), box_height=params.get("height", 1000),
                aspect=params.get("aspect", "1:1"), aspect_w=params.get("aspect_w", 1.0),
                aspect_h=params.get("aspect_h", 1.0), anchor=params.get("anchor", "center"))


def crop_box(width: int, height: int, params: dict) -> tuple[int, int, int, int]:
    """The box a crop step cuts from a width × height picture."""
    return _crop_box(width, height, **_crop_args(params))


def crop_size(width: int, height: int, /, **params) -> tuple[int, int]:
    x0, y0, x1, y1 = crop_box(width, height, params)
    return x1 - x0, y1 - y0


def crop(image: Image.Image, **params) -> Image.Image:
    """Crop a box (clamped to the picture) or the largest area of an aspect ratio."""
    box = _crop_box(image.width, image.height, **_crop_args(params))
    if box == (0, 0, image.width, image.height):
        return image
    return image.crop(box)


register(
    OpInfo(
        name="crop",
        label="Crop",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("mode", "choice", "aspect", "Mode",
                  choices=(("aspect", "Aspect ratio"), ("box", "Box (pixels)"))),
            Param("left", "int", 0, "Left", minimum=0, maximum=65535, unit="px", visible_when=("mode", ("box",))),
            Param("top", "int", 0, "Top", minimum=0, maximum=65535, unit="px", visible_when=("mode", ("box",))),
            Param("width", "int", 1000, "Width", minimum=1, maximum=65535, unit="px",
                  help="Clamped to the picture.", visible_when=("mode", ("box",))),
            Param("height", "int", 1000, "Height", minimum=1, maximum=65535, unit="px",
                  help="Clamped to the picture.", visible_when=("mode", ("box",))),
            Param("aspect", "choice", "1:1", "Aspect ratio",
                  choices=tuple((k, k) for k in ASPECTS) + (("custom", "Custom"),),
                  visible_when=("mode", ("aspect",))),
            Param("aspect_w", "float", 1.0, "Ratio width", minimum=0.01, maximum=1000.0,
                  visible_when=("aspect", ("custom",))),
            Param("aspect_h", "float", 1.0, "Ratio height", minimum=0.01, maximum=1000.0,
                  visible_when=("aspect", ("custom",))),
            anchor_param(visible_when=("mode", ("aspect",))),
        ),
        func=crop,
        size_func=crop_size,
        description="Cut out a box, or the largest area with a given aspect ratio.",
    )
)

# --------------------------------------------------------------------------- pad


def pad_size(width: int, height: int, /, **params) -> tuple[int, int]:
    return max(width, params.get("width", 1000)), max(height, params.get("height", 1000))


def pad(image: Image.Image, **params) -> Image.Image:
    """Place the picture on a canvas of at least width × height, filled with ``color``.
    A picture larger than the canvas is never cut."""
    size = pad_size(image.width, image.height, **params)
    if size == image.size:
        return image
    rgba = parse_color(params.get("color", "#ffffff"))
    mode = mode_for_fill(image, rgba)
    canvas = Image.new(mode, size, fill_value(mode, rgba))
    source = image if image.mode == mode else image.convert(mode)
    canvas.paste(source, anchored_offset(size, image.size, params.get("anchor", "center")))
    return canvas


register(
    OpInfo(
        name="pad",
        label="Pad / canvas",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("width", "int", 1000, "Canvas width", minimum=1, maximum=65535, unit="px"),
            Param("height", "int", 1000, "Canvas height", minimum=1, maximum=65535, unit="px"),
            Param("color", "color", "#ffffff", "Colour",
                  help="Fill colour; #rrggbb00 makes the border transparent (formats with alpha)."),
            anchor_param(help="Where the picture sits on the canvas."),
        ),
        func=pad,
        size_func=pad_size,
        description="Extend the canvas to a size, filling the border with a colour.",
    )
)

# --------------------------------------------------------------------------- rotate

_RIGHT_ANGLES = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_270}


def _normal_angle(angle: float) -> float:
    return angle % 360.0


def rotate_size(width: int, height: int, /, **params) -> tuple[int, int]:
    angle = _normal_angle(params.get("angle", 90.0))
    if angle == 0:
        return width, height
    if angle in _RIGHT_ANGLES:
        return (height, width) if angle in (90, 270) else (width, height)
    if not params.get("expand", True):
        return width, height
    # The same arithmetic as Image.rotate(expand=True), translation included,
    # so floating-point rounding lands on the same side of floor/ceil.
    theta = -math.radians(angle)
    a, b = round(math.cos(theta), 15), round(math.sin(theta), 15)
    d, e = round(-math.sin(theta), 15), round(math.cos(theta), 15)
    cx, cy = width / 2, height / 2
    c = a * -cx + b * -cy + cx
    f = d * -cx + e * -cy + cy
    corners = ((0, 0), (width, 0), (width, height), (0, height))
    xs = [a * x + b * y + c for x, y in corners]
    ys = [d * x + e * y + f for x, y in corners]
    return math.ceil(max(xs)) - math.floor(min(xs)), math.ceil(max(ys)) - math.floor(min(ys))


def rotate(image: Image.Image, **params) -> Image.Image:
    """Rotate counter-clockwise by ``angle`` degrees. Right angles are exact
    (lossless transposition); other angles use bicubic resampling and fill
    the corners with ``background``."""
    angle = _normal_angle(params.get("angle", 90.0))
    if angle == 0:
        return image
    if angle in _RIGHT_ANGLES:
        return image.transpose(_RIGHT_ANGLES[int(angle)])
    rgba = parse_color(params.get("background", "#ffffff"))
    mode = mode_for_fill(image, rgba)
    source = image if image.mode == mode else image.convert(mode)
    return source.rotate(angle, Image.Resampling.BICUBIC, expand=params.get("expand", True),
                         fillcolor=fill_value(mode, rgba))


register(
    OpInfo(
        name="rotate",
        label="Rotate",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("angle", "float", 90.0, "Angle", minimum=-360.0, maximum=360.0, unit="°",
                  help="Counter-clockwise. 90, 180 and 270 are lossless."),
            Param("expand", "bool", True, "Enlarge to fit",
                  help="Grow the canvas so no corner is cut (other angles than right angles)."),
            Param("background", "color", "#ffffff", "Corner colour",
                  help="Fills the corners uncovered by an arbitrary rotation."),
        ),
        func=rotate,
        size_func=rotate_size,
        description="Rotate by any angle.",
    )
)

# --------------------------------------------------------------------------- flip


FLIP_METHODS = {"horizontal": Image.Transpose.FLIP_LEFT_RIGHT, "vertical": Image.Transpose.FLIP_TOP_BOTTOM}


def flip(image: Image.Image, direction: str = "horizontal") -> Image.Image:
    return image.transpose(FLIP_METHODS[direction])


register(
    OpInfo(
        name="flip",
        label="Flip / mirror",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("direction", "choice", "horizontal", "Direction",
                  choices=(("horizontal", "Horizontal (mirror)"), ("vertical", "Vertical (upside down)"))),
        ),
        func=flip,
        size_func=same_size,
        description="Mirror the picture left-right or top-bottom.",
    )
)
