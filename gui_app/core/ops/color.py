"""Colour operations: ICC profile handling, CMYK conversion, grayscale and
brightness/contrast/saturation.

ICC policy (see the engine for where it is applied):
- ``color_profile(mode="keep")`` leaves pixels and profile alone;
  ``mode="srgb"`` converts through the embedded profile to sRGB and embeds
  sRGB instead. Pictures already in sRGB (or without a profile, which means
  sRGB by convention) are not transformed at all: no wasted work.
- CMYK pictures are always converted to RGB (through their profile when
  they carry one), because web formats cannot hold CMYK and every later
  operation expects RGB.
- Transforms are cached per profile, so a batch of photos from one camera
  builds its transform once per worker.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageCms, ImageEnhance

from ..registry import OpInfo, Param, register
from ._common import same_size

FAMILY = "Colour"


@functools.lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=1)
def srgb_profile_bytes() -> bytes:
    return srgb_profile().tobytes()


def profile_color_space(icc: bytes | None) -> str | None:
    """The data colour space from the ICC header: "RGB", "GRAY", "CMYK"…"""
    if not icc or len(icc) < 20:
        return None
    return icc[16:20].decode("latin-1").strip() or None


@functools.lru_cache(maxsize=32)
def _profile(icc: bytes) -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(io.BytesIO(icc))


@functools.lru_cache(maxsize=32)
def is_srgb(icc: bytes | None) -> bool:
    """True when the profile is absent (sRGB by convention) or describes sRGB."""
    if not icc:
        return True
    if icc == srgb_profile_bytes():
        return True
    try:
        description = ImageCms.getProfileDescription(_profile(icc)) or ""
    except Exception:
        return False
    return "srgb" in description.lower().replace(" ", "")


@functools.lru_cache(maxsize=32)
def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    # NOCACHE: LittleCMS's one-pixel cache is not safe when worker threads
    # share a cached transform.
    return ImageCms.buildTransform(
        _profile(icc), srgb_profile(), in_mode, out_mode, ImageCms.Intent.PERCEPTUAL, flags=ImageCms.Flags.NOCACHE
    )


def cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None, str | None]:
    """CMYK → sRGB through the embedded profile, or Pillow's plain formula when
    there is none (or it is broken). Returns (image, new profile, warning)."""
    if icc and profile_color_space(icc) == "CMYK":
        try:
            return _transform(icc, "CMYK", "RGB").apply(image), srgb_profile_bytes(), None
        except Exception:
            return image.convert("RGB"), None, "the CMYK colour profile is damaged; colours converted without it"
    return image.convert("RGB"), None, None


def to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None, str | None]:
    """Convert RGB/RGBA pixels described by ``icc`` to sRGB.

    Returns (image, profile to embed, warning). Already-sRGB pictures come
    back untouched. Grey pictures keep their grey profile (a grey profile
    only changes the tone curve and sRGB has no grey form)."""
    if image.mode == "CMYK":
        return cmyk_to_rgb(image, icc)
    if is_srgb(icc) or image.mode not in ("RGB", "RGBA") or profile_color_space(icc) != "RGB":
        return image, icc, None
    try:
        transform = _transform(icc, "RGB", "RGB")
        if image.mode == "RGBA":
            alpha = image.getchannel("A")
            converted = transform.apply(image.convert("RGB"))
            converted.putalpha(alpha)
        else:
            converted = transform.apply(image)
    except Exception:
        return image, icc, "the colour profile is damaged; colours were not converted to sRGB"
    return converted, srgb_profile_bytes(), None


def color_profile(image: Image.Image, mode: str = "keep") -> Image.Image:
    """Standalone form, working on ``image.info["icc_profile"]``."""
    if mode != "srgb":
        return image
    icc = image.info.get("icc_profile")
    converted, new_icc, _ = to_srgb(image, icc)
    if converted is not image:
        converted.info["icc_profile"] = new_icc
    return converted


register(
    OpInfo(
        name="color_profile",
        label="Colour profile",
        family=FAMILY,
        kind="pixel",
        params=(
            Param("mode", "choice", "keep", "Profile",
                  choices=(("keep", "Keep the embedded profile"), ("srgb", "Convert to sRGB (web)")),
                  help="sRGB is what browsers and most screens assume. Pictures already in sRGB are not touched."),
        ),
        func=color_profile,
        size_func=same_size,
        description="Keep the ICC colour profile, or convert the colours to sRGB.",
    )
)


def grayscale(image: Image.Image) -> Image.Image:
    """Luminance only (ITU-R 601); an alpha channel is kept."""
    if image.mode in ("L", "LA"):
        return image
    if image.mode in ("RGBA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA").convert("LA")
    return image.convert("L")


register(
    OpInfo(
        name="grayscale",
        label="Grayscale",
        family=FAMILY,
        kind="pixel",
        params=(),
        func=grayscale,
        size_func=same_size,
        description="Remove the colour.",
    )
)


def adjust(image: Image.Image, brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0) -> Image.Image:
    """Brightness, contrast and saturation factors (1.0 = unchanged, 0 = black /
    flat grey / no colour). Factors of exactly 1.0 cost nothing."""
    for factor, enhancer in ((brightness, ImageEnhance.Brightness), (contrast, ImageEnhance.Contrast),
                             (saturation, ImageEnhance.Color)):
        if factor != 1.0:
            image = enhancer(image).enhance(factor)
    return image


def _factor(name: str, label: str, help: str) -> Param:
    return Param(name, "float", 1.0, label, minimum=0.0, maximum=5.0, help=help, slider=True)


register(
    OpInfo(
        name="adjust",
        label="Brightness / contrast / saturation",
        family=FAMILY,
        kind="pixel",
        params=(
            _factor("brightness", "Brightness", "1.0 unchanged, 0 black, 2 twice as bright."),
            _factor("contrast", "Contrast", "1.0 unchanged, 0 flat grey."),
            _factor("saturation", "Saturation", "1.0 unchanged, 0 grey, above 1 more vivid."),
        ),
        func=adjust,
        size_func=same_size,
        description="Change brightness, contrast and colour saturation.",
    )
)
