"""The metadata policy step and the functions that apply it to EXIF, XMP and ICC.

Policies:

- ``keep``: EXIF, XMP and the ICC profile are copied where the output format
  can hold them. When the pixels were turned upright (auto-orient), the
  EXIF Orientation tag is reset to 1 and an XMP ``tiff:Orientation`` too, so
  no viewer rotates the picture a second time.
- ``strip_gps``: as ``keep``, minus the GPS block and what identifies the
  camera or lens: body/lens/camera serial numbers, the image unique ID and
  the maker note (a vendor blob that often holds the serial number and
  sometimes a location). Date, copyright, artist, camera model and exposure
  data stay. XMP is dropped when it carries GPS data (it can hold
  ``exif:GPSLatitude``), else kept.
- ``strip_all``: no EXIF and no XMP. The ICC profile is kept only when the
  colours need it, i.e. when it is not sRGB (sRGB is what every viewer
  assumes without a profile, so dropping it changes nothing); dropping a
  wide-gamut profile would visibly wash out the colours.
"""

from __future__ import annotations

import re
import threading
import warnings

from PIL import Image

from ..registry import OpInfo, Param, register
from .color import is_srgb, profile_color_space
from .geometry import ORIENTATION_TAG

FAMILY = "Metadata"

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
#: Tags that identify the camera, the lens or the owner's device.
IDENTIFYING_EXIF_TAGS = (
    0xA431,  # BodySerialNumber
    0xA435,  # LensSerialNumber
    0xA420,  # ImageUniqueID
    0x927C,  # MakerNote (vendor blob with serial numbers)
)
IDENTIFYING_IFD0_TAGS = (
    0xC62F,  # CameraSerialNumber (DNG)
)

MODES = (
    ("keep", "Keep all"),
    ("strip_gps", "Remove location and serial numbers"),
    ("strip_all", "Remove all"),
)


register(
    OpInfo(
        name="metadata",
        label="Metadata",
        family=FAMILY,
        kind="metadata",
        params=(
            Param("mode", "choice", "keep", "Metadata", choices=MODES,
                  help="What EXIF/XMP data goes into the output. Dates and copyright stay unless everything is "
                       "removed. Removing all also turns the picture upright, as the orientation tag goes too."),
        ),
        description="Keep, clean or remove EXIF/XMP metadata (GPS, serial numbers).",
    )
)


_warnings_lock = threading.Lock()


def read_exif(image: Image.Image) -> tuple[Image.Exif | None, str | None]:
    """The image's EXIF, parsed defensively: (exif or None, warning or None).

    Pillow reports damaged EXIF with warnings or exceptions; either way the
    picture itself is fine, so the caller logs the warning and carries on.
    """
    # Only real EXIF blocks (JPEG APP1, PNG eXIf, WebP/AVIF/HEIF EXIF). A TIFF's
    # own tags describe its strips and tiles; copying them as EXIF would be junk.
    if not image.info.get("exif"):
        return None, None
    damaged = "EXIF data is damaged; orientation not applied and EXIF not copied"
    try:
        # catch_warnings swaps process-wide state: serialise it between worker threads.
        with _warnings_lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exif = image.getexif()
            # Touch the sub-IFDs now, so a broken one fails here and not at save time.
            for ifd in (EXIF_IFD, GPS_IFD):
                if ifd in exif:
                    exif.get_ifd(ifd)
            orientation = exif.get(ORIENTATION_TAG)
            exif.tobytes()
    except Exception:
        return None, damaged
    if any(issubclass(w.category, UserWarning) for w in caught):
        return None, damaged
    if orientation not in (None, 0) and orientation not in range(1, 9):  # 0 means "unspecified"
        return exif, "EXIF orientation is invalid; orientation not applied"
    return exif, None


def exif_orientation(exif: Image.Exif | None) -> int:
    if exif is None:
        return 1
    value = exif.get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def exif_for_output(exif: Image.Exif | None, mode: str, oriented: bool) -> bytes | None:
    """EXIF bytes to write under the policy (None: write none)."""
    if exif is None or mode == "strip_all":
        return None
    if oriented and exif.get(ORIENTATION_TAG, 1) != 1:
        exif[ORIENTATION_TAG] = 1
    if mode == "strip_gps":
        if GPS_IFD in exif:
            del exif[GPS_IFD]
        for tag in IDENTIFYING_IFD0_TAGS:
            exif.pop(tag, None)
        if EXIF_IFD in exif:
            sub = exif.get_ifd(EXIF_IFD)
            for tag in IDENTIFYING_EXIF_TAGS:
                sub.pop(tag, None)
    if not len(exif):
        return None
    return exif.tobytes()


_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation\s*=\s*["\']|<tiff:Orientation>)\s*[2-8]')


def xmp_for_output(xmp: bytes | str | None, mode: str, oriented: bool) -> bytes | None:
    if not xmp or mode == "strip_all":
        return None
    data = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    if mode == "strip_gps" and b"GPS" in data:
        return None
    if oriented:
        data = _XMP_ORIENTATION.sub(lambda m: m.group(1) + b"1", data)
    return data


def _profile_fits(icc: bytes, mode: str) -> bool:
    space = profile_color_space(icc)
    return (space == "RGB" and mode in ("RGB", "RGBA", "P", "PA")) or (space == "GRAY" and mode in ("L", "LA"))


def icc_for_output(icc: bytes | None, mode: str, image_mode: str) -> bytes | None:
    """The profile to embed: only one matching the pixels' colour space, and
    under ``strip_all`` only when it is not sRGB (see the module docs)."""
    if not icc or not _profile_fits(icc, image_mode):
        return None
    if mode == "strip_all" and is_srgb(icc):
        return None
    return icc
