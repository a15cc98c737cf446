"""Effects: unsharp-mask sharpening and Gaussian blur."""

from __future__ import annotations

from PIL import Image, ImageFilter

from ..registry import OpInfo, Param, register
from ._common import same_size

FAMILY = "Effects"


def _filterable(image: Image.Image) -> Image.Image:
    # Palette indices cannot be filtered meaningfully; the engine normally
    # hands over RGB/RGBA/L/LA already, this keeps the function safe alone.
    if image.mode in ("P", "PA", "1"):
        return image.convert("RGBA" if image.mode != "1" else "L")
    return image


def sharpen(image: Image.Image, radius: float = 2.0, percent: int = 150, threshold: int = 3) -> Image.Image:
    """Unsharp mask: the usual "sharpen after downscaling" step."""
    if radius == 0 or percent == 0:
        return image
    return _filterable(image).filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=threshold))


register(
    OpInfo(
        name="sharpen",
        label="Sharpen",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("radius", "float", 2.0, "Radius", minimum=0.0, maximum=50.0, unit="px",
                  help="Size of the edges to enhance; 0.5–2 after a downscale."),
            Param("percent", "int", 150, "Amount", minimum=0, maximum=500, unit="%", slider=True),
            Param("threshold", "int", 3, "Threshold", minimum=0, maximum=255,
                  help="Minimum brightness change to sharpen; higher keeps smooth areas (skin, sky) clean."),
        ),
        func=sharpen,
        size_func=same_size,
        description="Unsharp mask.",
    )
)


def blur(image: Image.Image, radius: float = 2.0) -> Image.Image:
    if radius == 0:
        return image
    return _filterable(image).filter(ImageFilter.GaussianBlur(radius))


register(
    OpInfo(
        name="blur",
        label="Blur",
        family=FAMILY,
        kind="pixel",
        params=(Param("radius", "float", 2.0, "Radius", minimum=0.0, maximum=250.0, unit="px"),),
        func=blur,
        size_func=same_size,
        description="Gaussian blur.",
    )
)
