"""Small helpers shared by the operation modules: colours, anchors, parameter
schemas that several operations repeat, and mode handling."""

from __future__ import annotations

from PIL import Image

from ..registry import Param

#: (value, label) pairs for anchored placement (fill crop, aspect crop, pad, watermark).
ANCHOR_CHOICES: tuple[tuple[str, str], ...] = (
    ("center", "Centre"),
    ("top", "Top"),
    ("bottom", "Bottom"),
    ("left", "Left"),
    ("right", "Right"),
    ("top_left", "Top left"),
    ("top_right", "Top right"),
    ("bottom_left", "Bottom left"),
    ("bottom_right", "Bottom right"),
)

#: Horizontal and vertical fractions (0 = left/top, 1 = right/bottom) per anchor.
_ANCHOR_FRACTIONS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top_left": (0.0, 0.0),
    "top_right": (1.0, 0.0),
    "bottom_left": (0.0, 1.0),
    "bottom_right": (1.0, 1.0),
}


def anchor_param(default: str = "center", help: str = "", visible_when=None) -> Param:
    return Param(
        "anchor",
        "choice",
        default,
        "Anchor",
        choices=ANCHOR_CHOICES,
        help=help or "Which part of the picture is kept (or where it is placed).",
        visible_when=visible_when,
    )


def anchor_fractions(anchor: str) -> tuple[float, float]:
    """Horizontal and vertical position (0 = left/top, 1 = right/bottom) of an anchor."""
    return _ANCHOR_FRACTIONS[anchor]


def anchored_offset(outer: tuple[int, int], inner: tuple[int, int], anchor: str) -> tuple[int, int]:
    """Top-left position of an ``inner`` box placed inside ``outer`` at ``anchor``.

    Works both ways: when ``inner`` is larger the offset is negative (or, read
    the other way round, the crop position inside a larger picture).
    """
    fx, fy = _ANCHOR_FRACTIONS[anchor]
    return round((outer[0] - inner[0]) * fx), round((outer[1] - inner[1]) * fy)


def parse_color(value: str) -> tuple[int, int, int, int]:
    """``"#rrggbb"`` or ``"#rrggbbaa"`` (validated by the registry) → RGBA tuple."""
    text = value.lstrip("#")
    r, g, b = int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    a = int(text[6:8], 16) if len(text) == 8 else 255
    return r, g, b, a


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def mode_for_fill(image: Image.Image, rgba: tuple[int, int, int, int]) -> str:
    """The mode a picture needs so a fill colour (padding, rotation corners)
    is represented faithfully: grey stays grey, a colour needs RGB, a
    translucent colour needs an alpha channel."""
    r, g, b, a = rgba
    grey = r == g == b
    alpha = has_alpha(image) or a < 255
    if image.mode in ("L", "LA") and grey:
        return "LA" if alpha else "L"
    return "RGBA" if alpha else "RGB"


def fill_value(mode: str, rgba: tuple[int, int, int, int]):
    """The colour in the given mode's own terms."""
    r, g, b, a = rgba
    return {"L": r, "LA": (r, a), "RGB": (r, g, b), "RGBA": rgba}[mode]


def ensure_mode(image: Image.Image, mode: str) -> Image.Image:
    """Convert only when needed (no needless copies)."""
    return image if image.mode == mode else image.convert(mode)


def same_size(width: int, height: int, /, **_params) -> tuple[int, int]:
    """Size function of operations that never change the size."""
    return width, height
