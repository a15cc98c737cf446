"""Safe opening: content allowlist, pixel ceiling before decoding, and the
mapping of Pillow's many exception types to error codes and sentences."""

import errno
import io
import struct
import zlib

import pytest
from PIL import EpsImagePlugin, Image, PsdImagePlugin, UnidentifiedImageError

from gui_app.core import imageio
from gui_app.core.imageio import ImageError, classify_exception, open_image
from gui_app.core.specs import Code, Limits


@pytest.mark.parametrize(
    "exc,code,words",
    [
        (OSError("image file is truncated (3 bytes not processed)"), Code.TRUNCATED, "damaged (truncated)"),
        (OSError("broken data stream when reading image file"), Code.CORRUPT, "damaged"),
        (Image.DecompressionBombError("big"), Code.TOO_LARGE, "too large"),
        (Image.DecompressionBombWarning("big"), Code.TOO_LARGE, "too large"),
        (UnidentifiedImageError("cannot identify image file"), Code.UNSUPPORTED_FORMAT, "not a supported image"),
        (MemoryError(), Code.OUT_OF_MEMORY, "memory"),
        (SyntaxError("not a TIFF file"), Code.CORRUPT, "damaged"),
        (ValueError("tile cannot extend outside image"), Code.CORRUPT, "damaged"),
        (struct.error("unpack requires a buffer of 4 bytes"), Code.CORRUPT, "damaged"),
        (EOFError(), Code.CORRUPT, "damaged (EOFError)"),
        (OverflowError("x"), Code.CORRUPT, "damaged"),
        (zlib.error("bad"), Code.CORRUPT, "damaged"),
        (IndexError("x"), Code.CORRUPT, "damaged"),
        (NotImplementedError("x"), Code.UNSUPPORTED_FORMAT, "not supported"),
        (OSError("decoder tiff_ccitt not available"), Code.UNSUPPORTED_FORMAT, "not supported"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory"), Code.READ_FAILED, "cannot be read"),
        (PermissionError(errno.EACCES, "Permission denied"), Code.READ_FAILED, "Permission denied"),
        (OSError(errno.ENOSPC, "No space left on device"), Code.DISK_FULL, "disk is full"),
        (ImageError(Code.TOO_LARGE, "custom"), Code.TOO_LARGE, "custom"),
        (KeyboardInterrupt(), Code.INTERNAL_ERROR, "interrupted"),
        (RuntimeError("boom"), Code.INTERNAL_ERROR, "boom"),
    ],
)
def test_classify_exception(exc, code, words):
    got_code, message = classify_exception(exc)
    assert got_code == code
    assert words in message
    assert "Traceback" not in message and len(message) < 200


def test_image_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(ImageError(Code.CORRUPT, "x")))
    assert err.code == Code.CORRUPT and err.message == "x"


def test_open_is_lazy_and_checks_the_ceiling_from_the_header(corpus):
    image = open_image(str(corpus / "bench" / "2569067123_aca715a2ee_o.jpg"))
    with image:
        assert image.size == (2725, 2225) and image.tile  # pixels not decoded yet
    with pytest.raises(ImageError) as err:
        open_image(str(corpus / "bench" / "2569067123_aca715a2ee_o.jpg"), Limits(max_pixels=1_000_000))
    assert err.value.code == Code.TOO_LARGE and "megapixels" in err.value.message


def test_bomb_warning_zone_is_an_error_unless_allowed(corpus):
    path = str(corpus / "formats" / "hopper.png")  # 16384 pixels
    with pytest.raises(ImageError) as err:
        open_image(path, Limits(max_pixels=10_000))
    assert err.value.code == Code.TOO_LARGE
    with open_image(path, Limits(max_pixels=10_000, bomb_warning_is_error=False)) as im:
        assert im.size == (128, 128)
    imageio.configure_pillow(Limits())


def test_decompression_bomb_is_refused(corpus):
    with pytest.raises(ImageError) as err:
        open_image(str(corpus / "hostile" / "decompression_bomb.gif"))
    assert err.value.code == Code.TOO_LARGE


@pytest.mark.parametrize("name", ["spoofed_eps.jpg", "spoofed_psd.png", "timeout-1ee28a249896e05b83840ae8140622de8e648ba9.psd"])
def test_spoofed_files_never_reach_risky_decoders(corpus, monkeypatch, name):
    called = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: called.append("eps"))
    monkeypatch.setattr(PsdImagePlugin.PsdImageFile, "_open", lambda self: called.append("psd"))
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: called.append("gs"))
    with pytest.raises(ImageError) as err:
        open_image(str(corpus / "hostile" / name))
    assert err.value.code == Code.UNSUPPORTED_FORMAT
    assert called == []


def test_damaged_file_of_an_allowed_format_is_corrupt_not_unsupported(corpus):
    with pytest.raises(ImageError) as err:
        open_image(str(corpus / "hostile" / "broken.png"))
    assert err.value.code == Code.CORRUPT and "PNG" in err.value.message


@pytest.mark.parametrize("data", [b"", b"hello world, not an image", bytes(range(256)) * 4])
def test_not_images_are_unsupported(data):
    with pytest.raises(ImageError) as err:
        open_image(data)
    assert err.value.code == Code.UNSUPPORTED_FORMAT


def test_allowlist_is_configurable(corpus):
    with pytest.raises(ImageError) as err:
        open_image(str(corpus / "formats" / "hopper.bmp"), Limits(allowed_formats=("JPEG", "PNG")))
    assert err.value.code == Code.UNSUPPORTED_FORMAT


def test_heic_opens_through_pillow_heif(corpus):
    with open_image(str(corpus / "formats" / "IMG_5195.HEIC")) as im:
        assert im.format == "HEIF" and im.size == (2566, 3313)


def test_open_from_bytes_and_missing_file(corpus, tmp_path):
    data = (corpus / "formats" / "hopper.webp").read_bytes()
    with open_image(data) as im:
        assert im.format == "WEBP"
    with pytest.raises(ImageError) as err:
        open_image(str(tmp_path / "missing.jpg"))
    assert err.value.code == Code.READ_FAILED


def test_configure_pillow_sets_the_globals():
    from PIL import ImageFile

    try:
        imageio.configure_pillow(Limits(max_pixels=1234, load_truncated=True))
        assert Image.MAX_IMAGE_PIXELS == 1234 and ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        imageio.configure_pillow(Limits())
    assert Image.MAX_IMAGE_PIXELS == Limits().max_pixels and ImageFile.LOAD_TRUNCATED_IMAGES is False
