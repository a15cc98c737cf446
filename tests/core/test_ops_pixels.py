"""Pixel operations on real pictures: orientation, resize, crop, pad, rotate,
flip, colour, effects and watermarks."""

import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from gui_app.core import engine, registry
from gui_app.core.formats import FORMATS
from gui_app.core.imageio import open_image
from gui_app.core.ops import color, geometry, watermark
from gui_app.core.specs import OpSpec, Pipeline


def run(image, name, **params):
    values = registry.validate_step(OpSpec.make(name, **params)).kwargs()
    return registry.get(name).func(image, **values)


def mean_abs_diff(a, b):
    a, b = np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16)
    assert a.shape == b.shape
    return float(np.abs(a - b).mean())


def processed(path, *steps):
    with open_image(str(path)) as image:
        return engine.process(image, Pipeline(steps))


@pytest.fixture(scope="module")
def hopper(corpus):
    with Image.open(corpus / "formats" / "hopper.png") as im:
        return im.convert("RGB")


# ----------------------------------------------------------------- orientation


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
def test_every_orientation_comes_out_upright(corpus, kind):
    """Written to JPEG and read back: upright pixels, Orientation 1 or absent."""
    folder = corpus / "orientation"
    pipe = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("encode", format="jpeg", quality=90)))
    reference = processed(folder / f"{kind}_1.jpg", OpSpec.make("auto_orient")).image
    for n in range(9):
        with open_image(str(folder / f"{kind}_{n}.jpg")) as image:
            data = engine.encode(engine.process(image, pipe), pipe, FORMATS["jpeg"])
        out = Image.open(io.BytesIO(data))
        assert out.size == reference.size, n
        assert mean_abs_diff(out, reference) < 8, n
        assert out.getexif().get(0x0112, 1) == 1, n


@pytest.mark.parametrize("kind", ["Landscape", "Portrait"])
def test_orientation_with_shrink_on_load_stays_upright_and_aligned(corpus, kind):
    """The drafted JPEG's partial last row/column must follow the rotation."""
    folder = corpus / "orientation"
    steps = (OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=300))
    reference = processed(folder / f"{kind}_1.jpg", *steps)
    assert reference.draft_scale == 4
    for n in range(2, 9):
        result = processed(folder / f"{kind}_{n}.jpg", *steps)
        assert result.draft_scale == 4
        assert result.image.size == reference.image.size
        assert mean_abs_diff(result.image, reference.image) < 6, n


def test_auto_orient_standalone_reads_the_images_own_exif(corpus):
    with Image.open(corpus / "orientation" / "Landscape_6.jpg") as im:
        assert im.size == (1200, 1800)
        assert geometry.auto_orient(im).size == (1800, 1200)


# ----------------------------------------------------------------- resize


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"mode": "fit", "width": 64, "height": 64}, (64, 64)),
        ({"mode": "fit", "width": 100, "height": 50}, (50, 50)),
        ({"mode": "fill", "width": 100, "height": 50}, (100, 50)),
        ({"mode": "exact", "width": 100, "height": 30}, (100, 30)),
        ({"mode": "percent", "percent": 25.0}, (32, 32)),
        ({"mode": "long_edge", "long_edge": 96}, (96, 96)),
        ({"mode": "short_edge", "short_edge": 40}, (40, 40)),
        ({"mode": "megapixels", "megapixels": 0.0016}, (40, 40)),
    ],
)
def test_resize_modes(hopper, params, expected):
    assert run(hopper, "resize", **params).size == expected


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "fit", "width": 500, "height": 400},
        {"mode": "percent", "percent": 300.0},
        {"mode": "long_edge", "long_edge": 1000},
        {"mode": "short_edge", "short_edge": 1000},
        {"mode": "megapixels", "megapixels": 5.0},
    ],
)
def test_never_upscale_keeps_small_pictures_untouched(hopper, params):
    assert run(hopper, "resize", **params) is hopper
    assert run(hopper, "resize", upscale=True, **params).width > 128


def test_never_upscale_fill_and_exact_keep_the_aspect_without_enlarging(hopper):
    filled = run(hopper, "resize", mode="fill", width=400, height=200)
    assert filled.size == (128, 64)  # 2:1 crop at the picture's own scale
    exact = run(hopper, "resize", mode="exact", width=400, height=200)
    assert exact.size == (128, 64)
    assert run(hopper, "resize", mode="fill", width=400, height=200, upscale=True).size == (400, 200)


def test_fill_anchor_chooses_the_kept_part():
    image = Image.new("RGB", (200, 100), "black")
    image.paste((255, 0, 0), (0, 0, 100, 100))  # left half red
    left = run(image, "resize", mode="fill", width=50, height=50, anchor="left")
    right = run(image, "resize", mode="fill", width=50, height=50, anchor="right")
    assert left.getpixel((25, 25))[0] > 200
    assert right.getpixel((25, 25))[0] < 50


@pytest.mark.parametrize("filter_name", ["lanczos", "bicubic", "bilinear", "nearest"])
def test_every_filter_keeps_the_picture(hopper, filter_name):
    small = run(hopper, "resize", mode="percent", percent=50.0, filter=filter_name)
    reference = hopper.resize((64, 64), Image.Resampling.LANCZOS)
    assert small.size == (64, 64)
    assert mean_abs_diff(small, reference) < 12


# ----------------------------------------------------------------- crop / pad / rotate / flip


def test_crop_box_and_aspect(hopper):
    box = run(hopper, "crop", mode="box", left=10, top=20, width=30, height=40)
    assert box.size == (30, 40)
    assert box.getpixel((0, 0)) == hopper.getpixel((10, 20))
    clamped = run(hopper, "crop", mode="box", left=100, top=100, width=300, height=300)
    assert clamped.size == (28, 28)
    wide = run(hopper, "crop", mode="aspect", aspect="16:9", anchor="top")
    assert wide.size == (128, 72)
    assert wide.getpixel((5, 0)) == hopper.getpixel((5, 0))


def test_pad_places_the_picture_on_a_coloured_canvas(hopper):
    padded = run(hopper, "pad", width=200, height=150, color="#ff0000", anchor="top_left")
    assert padded.size == (200, 150) and padded.mode == "RGB"
    assert padded.getpixel((199, 149)) == (255, 0, 0)
    assert padded.getpixel((0, 0)) == hopper.getpixel((0, 0))
    transparent = run(hopper, "pad", width=200, height=200, color="#00000000")
    assert transparent.mode == "RGBA" and transparent.getpixel((0, 0))[3] == 0
    assert run(hopper, "pad", width=100, height=100) is hopper  # never cuts


def test_rotate_right_angles_are_lossless_and_others_fill_corners(hopper):
    quarter = run(hopper, "rotate", angle=90.0)
    assert np.array_equal(np.asarray(quarter), np.asarray(hopper.transpose(Image.Transpose.ROTATE_90)))
    assert np.array_equal(np.asarray(run(hopper, "rotate", angle=-270.0)), np.asarray(quarter))
    tilted = run(hopper, "rotate", angle=30.0, background="#00ff00")
    assert tilted.size > hopper.size
    assert tilted.getpixel((0, 0)) == (0, 255, 0)
    assert run(hopper, "rotate", angle=30.0, expand=False).size == hopper.size
    assert run(hopper, "rotate", angle=0.0) is hopper


def test_flip(hopper):
    mirrored = run(hopper, "flip", direction="horizontal")
    assert mirrored.getpixel((0, 0)) == hopper.getpixel((127, 0))
    upside = run(hopper, "flip", direction="vertical")
    assert upside.getpixel((0, 0)) == hopper.getpixel((0, 127))


# ----------------------------------------------------------------- colour and effects


def test_grayscale_keeps_alpha(corpus, hopper):
    assert run(hopper, "grayscale").mode == "L"
    with Image.open(corpus / "formats" / "transparent.png") as im:
        grey = run(im.convert("RGBA"), "grayscale")
    assert grey.mode == "LA"


def test_adjust_factors(hopper):
    assert run(hopper, "adjust") is hopper
    darker = run(hopper, "adjust", brightness=0.5)
    assert np.asarray(darker).mean() == pytest.approx(np.asarray(hopper).mean() / 2, rel=0.05)
    flat = run(hopper, "adjust", contrast=0.0)
    assert np.asarray(flat).std() < 2
    grey = np.asarray(run(hopper, "adjust", saturation=0.0), dtype=np.int16)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1


def test_sharpen_and_blur_change_detail_the_right_way(hopper):
    def detail(im):
        return float(np.abs(np.diff(np.asarray(im.convert("L"), dtype=np.int16), axis=1)).mean())

    assert detail(run(hopper, "sharpen")) > detail(hopper) > detail(run(hopper, "blur", radius=2.0))
    assert run(hopper, "blur", radius=0.0) is hopper


def test_cmyk_jpeg_converts_to_rgb_with_correct_colours(corpus):
    path = corpus / "hostile" / "pil_sample_cmyk.jpg"
    result = processed(path, OpSpec.make("color_profile", mode="srgb"))
    assert result.image.mode == "RGB"
    with Image.open(path) as im:
        reference = im.convert("RGB")
    mean_ours = np.asarray(result.image, dtype=float).mean(axis=(0, 1))
    mean_ref = np.asarray(reference, dtype=float).mean(axis=(0, 1))
    assert np.abs(mean_ours - mean_ref).max() < 3
    assert mean_abs_diff(result.image, reference) < 3


def test_srgb_conversion_is_skipped_when_already_srgb(hopper):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image, icc, warning = color.to_srgb(hopper, srgb)
    assert image is hopper and icc == srgb and warning is None
    image, icc, _ = color.to_srgb(hopper, None)
    assert image is hopper


def test_display_profile_is_converted_to_srgb_or_kept(corpus):
    """BSG1.tiff (RGBA) carries an Apple "Color LCD" profile: converting
    changes the pixels, keeps the alpha and embeds sRGB; "keep" changes nothing."""
    path = corpus / "formats" / "BSG1.tiff"
    with Image.open(path) as im:
        original_icc = im.info["icc_profile"]
        original = im.convert("RGBA")
    assert not color.is_srgb(original_icc)
    kept = processed(path, OpSpec.make("color_profile", mode="keep"))
    assert kept.icc == original_icc
    assert mean_abs_diff(kept.image, original) == 0
    converted = processed(path, OpSpec.make("color_profile", mode="srgb"))
    assert converted.image.mode == "RGBA"
    assert color.is_srgb(converted.icc)
    assert mean_abs_diff(converted.image.getchannel("A"), original.getchannel("A")) == 0
    assert mean_abs_diff(converted.image.convert("RGB"), original.convert("RGB")) > 0.5


# ----------------------------------------------------------------- watermarks


def test_text_watermark_draws_in_the_chosen_corner(hopper):
    marked = run(hopper, "watermark_text", text="IMAGEBATCH", size=10.0, color="#ff0000", opacity=100,
                 position="bottom_right", margin=4)
    assert marked.size == hopper.size and marked.mode == "RGB"
    diff = np.abs(np.asarray(marked, dtype=np.int16) - np.asarray(hopper, dtype=np.int16)).sum(axis=2)
    ys, xs = np.nonzero(diff)
    assert len(xs) > 50
    assert xs.min() > 40 and ys.min() > 100  # only in the lower right corner
    assert run(hopper, "watermark_text", text="   ") is hopper


def test_text_watermark_opacity_blends(hopper):
    white = Image.new("RGB", (200, 100), "white")
    solid = run(white, "watermark_text", text="X", size=40.0, color="#000000", opacity=100, position="center")
    faint = run(white, "watermark_text", text="X", size=40.0, color="#000000", opacity=30, position="center")
    assert np.asarray(solid).min() < 30
    assert 150 < np.asarray(faint).min() < 200


def test_image_watermark_scales_and_places_the_logo(corpus, hopper):
    logo = str(corpus / "formats" / "transparent.png")
    marked = run(hopper, "watermark_image", path=logo, scale=50.0, opacity=100, position="top_left", margin=0)
    assert marked.size == hopper.size
    diff = np.abs(np.asarray(marked, dtype=np.int16) - np.asarray(hopper, dtype=np.int16)).sum(axis=2)
    ys, xs = np.nonzero(diff)
    assert xs.max() < 64 and ys.max() < 48


def test_image_watermark_missing_file_is_a_clear_error(hopper, tmp_path):
    with pytest.raises(watermark.ImageError, match="cannot be read"):
        run(hopper, "watermark_image", path=str(tmp_path / "missing.png"))


def test_text_watermark_with_two_lines_is_taller(hopper):
    def marked_rows(text):
        out = run(hopper, "watermark_text", text=text, size=8.0, color="#ff00ff", opacity=100, position="center")
        diff = np.abs(np.asarray(out, dtype=np.int16) - np.asarray(hopper, dtype=np.int16)).sum(axis=2)
        rows = np.nonzero(diff.sum(axis=1))[0]
        return rows.max() - rows.min()

    assert marked_rows("ABC\nDEF") > 1.6 * marked_rows("ABC")
