"""Watermarks: a line of text or a logo picture, placed at an anchor.

Sizes are relative to the picture (percent of its shorter side for text,
percent of its width for a logo), so one setting suits a whole batch of
mixed sizes. The text font is the one bundled with Pillow
(``ImageFont.load_default(size=…)``), so no system font is needed.
"""

from __future__ import annotations

import functools
import os

from PIL import Image, ImageDraw, ImageFont

from ..imageio import ImageError, open_image
from ..registry import OpInfo, Param, register
from ..specs import Code, Limits
from ._common import ANCHOR_CHOICES, anchored_offset, has_alpha, parse_color, same_size

FAMILY = "Watermark"


def _position_param() -> Param:
    return Param("position", "choice", "bottom_right", "Position", choices=ANCHOR_CHOICES)


def _opacity_param() -> Param:
    return Param("opacity", "int", 60, "Opacity", minimum=0, maximum=100, unit="%", slider=True)


def _margin_param() -> Param:
    return Param("margin", "int", 20, "Margin", minimum=0, maximum=10000, unit="px",
                 help="Distance from the picture's edge.")


def _place(image: Image.Image, mark: Image.Image, position: str, margin: int) -> Image.Image:
    """Alpha-composite ``mark`` (RGBA) onto the picture, keeping the picture's
    mode family (an opaque picture stays opaque)."""
    alpha = has_alpha(image)
    base = image.convert("RGBA") if image.mode != "RGBA" else image.copy()
    x, y = anchored_offset((base.width - 2 * margin, base.height - 2 * margin), mark.size, position)
    x, y = max(0, x + margin), max(0, y + margin)
    mark = mark.crop((0, 0, min(mark.width, base.width - x), min(mark.height, base.height - y)))
    if mark.width > 0 and mark.height > 0:
        base.alpha_composite(mark, (x, y))
    return base if alpha else base.convert("RGB")


def _with_opacity(mark: Image.Image, opacity: int) -> Image.Image:
    if opacity >= 100:
        return mark
    alpha = mark.getchannel("A").point(lambda a: a * opacity // 100)
    mark = mark.copy()
    mark.putalpha(alpha)
    return mark


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def watermark_text(image: Image.Image, text: str = "©", size: float = 4.0, color: str = "#ffffff",
                   opacity: int = 60, position: str = "bottom_right", margin: int = 20) -> Image.Image:
    if not text.strip() or opacity == 0:
        return image
    px = max(6, round(min(image.size) * size / 100.0))
    font = _font(px)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))  # per call: safe across worker threads
    left, top, right, bottom = measure.multiline_textbbox((0, 0), text, font=font)  # several lines allowed
    mark = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (0, 0, 0, 0))
    r, g, b, a = parse_color(color)
    ImageDraw.Draw(mark).multiline_text((-left, -top), text, font=font, fill=(r, g, b, a * opacity // 100))
    return _place(image, mark, position, margin)


register(
    OpInfo(
        name="watermark_text",
        label="Text watermark",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("text", "str", "©", "Text", help="For example © 2025 Your Name."),
            Param("size", "float", 4.0, "Text height", minimum=0.5, maximum=50.0, unit="%",
                  help="Percent of the picture's shorter side, so it suits every picture size."),
            Param("color", "color", "#ffffff", "Colour"),
            _opacity_param(),
            _position_param(),
            _margin_param(),
        ),
        func=watermark_text,
        size_func=same_size,
        description="Draw a line of text on the picture.",
    )
)


@functools.lru_cache(maxsize=4)
def _load_logo(path: str, mtime_ns: int) -> Image.Image:
    with open_image(path, Limits()) as logo:
        return logo.convert("RGBA")


def watermark_image(image: Image.Image, path: str = "", scale: float = 20.0, opacity: int = 60,
                    position: str = "bottom_right", margin: int = 20) -> Image.Image:
    if opacity == 0:
        return image
    if not path.strip():
        raise ImageError(Code.INVALID_SETTINGS, "choose the picture for the logo watermark")
    try:
        logo = _load_logo(path, os.stat(path).st_mtime_ns)
    except OSError as exc:
        raise ImageError(Code.READ_FAILED, f"the watermark picture cannot be read: {path} ({exc.strerror or exc})") from None
    width = max(1, round(image.width * scale / 100.0))
    height = max(1, round(logo.height * width / logo.width))
    mark = logo.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _place(image, _with_opacity(mark, opacity), position, margin)


register(
    OpInfo(
        name="watermark_image",
        label="Logo watermark",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("path", "str", "", "Picture", help="A PNG with transparency works best."),
            Param("scale", "float", 20.0, "Width", minimum=0.5, maximum=100.0, unit="%",
                  help="Percent of the picture's width."),
            _opacity_param(),
            _position_param(),
            _margin_param(),
        ),
        func=watermark_image,
        size_func=same_size,
        description="Place a logo picture on the picture.",
    )
)
