"""The operation registry: every op validates its defaults, rejects bad values
with a SpecError naming the field, and its size function predicts exactly
what its pixel function does."""

import json
import pickle

import pytest
from PIL import Image

from gui_app.core import engine, registry
from gui_app.core.specs import OpSpec, Pipeline, SpecError, TaskResult, TaskSpec, spec_to_json

CONTRACT_PARAMS = {
    "auto_orient": set(),
    "resize": {"mode", "width", "height", "percent", "long_edge", "short_edge", "megapixels", "upscale", "filter", "anchor"},
    "crop": {"mode", "left", "top", "width", "height", "aspect", "aspect_w", "aspect_h", "anchor"},
    "pad": {"width", "height", "color", "anchor"},
    "rotate": {"angle", "expand", "background"},
    "flip": {"direction"},
    "color_profile": {"mode"},
    "grayscale": set(),
    "adjust": {"brightness", "contrast", "saturation"},
    "sharpen": {"radius", "percent", "threshold"},
    "blur": {"radius"},
    "watermark_text": {"text", "size", "color", "opacity", "position", "margin"},
    "watermark_image": {"path", "scale", "opacity", "position", "margin"},
    "metadata": {"mode"},
    "encode": {"format", "quality", "progressive", "optimize", "subsampling", "png_compression", "lossless",
               "webp_method", "avif_speed", "tiff_compression", "background", "frames", "target_kb"},
}


def test_every_contract_operation_is_registered_with_its_parameters():
    ops = {info.name: info for info in registry.all_ops()}
    assert set(CONTRACT_PARAMS) <= set(ops)
    for name, params in CONTRACT_PARAMS.items():
        assert params <= {p.name for p in ops[name].params}, name
    assert ops["metadata"].kind == "metadata" and ops["encode"].kind == "encode"
    assert all(ops[n].size_func is not None for n in ("auto_orient", "resize", "crop", "pad", "rotate", "flip"))
    assert {info.family for info in ops.values()} <= set(registry.FAMILIES)


@pytest.mark.parametrize("info", registry.all_ops(), ids=lambda i: i.name)
def test_defaults_validate_and_every_param_is_described(info):
    step = registry.validate_step(OpSpec(info.name))
    assert step.kwargs() == info.defaults()
    for p in info.params:
        assert p.label, (info.name, p.name)
        if p.type == "choice":
            assert p.default in [c for c, _ in p.choices]
        if p.visible_when is not None:
            assert p.visible_when[0] in {q.name for q in info.params}


@pytest.mark.parametrize("info", registry.all_ops(), ids=lambda i: i.name)
def test_out_of_range_values_are_rejected_naming_the_field(info):
    for p in info.params:
        bad = []
        if p.maximum is not None:
            bad.append(p.maximum + 1)
        if p.minimum is not None:
            bad.append(p.minimum - 1)
        if p.type == "choice":
            bad.append("no-such-choice")
        if p.type == "bool":
            bad.append("yes")
        for value in bad:
            with pytest.raises(SpecError) as err:
                registry.validate_pipeline(Pipeline((OpSpec.make(info.name, **{p.name: value}),)))
            assert err.value.field == f"steps[0].{p.name}"


def test_unknown_parameter_and_operation_are_named():
    with pytest.raises(SpecError, match=r"steps\[0\].bogus"):
        registry.validate_pipeline(Pipeline((OpSpec.make("resize", bogus=1),)))
    with pytest.raises(SpecError, match=r"steps\[1\].op"):
        registry.validate_pipeline(Pipeline((OpSpec.make("flip"), OpSpec.make("explode"))))


def test_specs_pickle_and_json_round_trip():
    pipeline = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", mode="fit", width=720, height=588),
                         OpSpec.make("watermark_text", text="© me"), OpSpec.make("encode", format="jpeg", target_kb=None)))
    spec = TaskSpec(3, "/in/a.jpg", "/out/a.jpg", pipeline, overwrite="rename", keep_dates=True)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert Pipeline.from_list(json.loads(json.dumps(pipeline.to_list()))) == pipeline
    result = TaskResult(3, "/in/a.jpg", "/out/a.jpg", width_in=10, height_in=5, warnings=("w",))
    assert pickle.loads(pickle.dumps(result)) == result
    assert TaskResult.from_dict(json.loads(json.dumps(spec_to_json(result)))) == result


SIZE_CASES = [
    ("resize", {"mode": m, "width": 300, "height": 200, "upscale": up, "anchor": a})
    for m in ("fit", "fill", "exact") for up in (False, True) for a in ("center", "bottom_right")
] + [
    ("resize", {"mode": "percent", "percent": 33.3}),
    ("resize", {"mode": "percent", "percent": 250.0, "upscale": True}),
    ("resize", {"mode": "long_edge", "long_edge": 97}),
    ("resize", {"mode": "short_edge", "short_edge": 55}),
    ("resize", {"mode": "megapixels", "megapixels": 0.01}),
    ("resize", {"mode": "long_edge", "long_edge": 5000}),
    ("crop", {"mode": "aspect", "aspect": "16:9", "anchor": "top"}),
    ("crop", {"mode": "aspect", "aspect": "custom", "aspect_w": 5.0, "aspect_h": 1.0}),
    ("crop", {"mode": "box", "left": 100, "top": 50, "width": 400, "height": 400}),
    ("pad", {"width": 500, "height": 500}),
    ("pad", {"width": 10, "height": 900, "color": "#00000000"}),
    ("rotate", {"angle": 90.0}),
    ("rotate", {"angle": -90.0}),
    ("rotate", {"angle": 180.0}),
    ("rotate", {"angle": 33.0, "expand": True}),
    ("rotate", {"angle": 33.0, "expand": False}),
    ("flip", {"direction": "vertical"}),
    ("watermark_text", {"text": "x"}),
]


@pytest.mark.parametrize("name,params", SIZE_CASES)
@pytest.mark.parametrize("size", [(400, 250), (123, 321)])
def test_size_function_predicts_the_pixel_result(name, params, size):
    info = registry.get(name)
    values = registry.validate_step(OpSpec.make(name, **params)).kwargs()
    image = Image.new("RGB", size, (10, 120, 200))
    assert info.func(image, **values).size == info.size_func(*size, **values)
    pipeline = Pipeline((OpSpec.make(name, **params),))
    assert engine.predict_size(pipeline, *size) == info.size_func(*size, **values)
