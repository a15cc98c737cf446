"""Specs are frozen primitives: they pickle (to workers) and round-trip through JSON."""

import json
import pickle

import pytest

from gui_app.core import formats
from gui_app.core.specs import (
    Code,
    Limits,
    OpSpec,
    Pipeline,
    SpecError,
    Status,
    TaskResult,
    TaskSpec,
    spec_to_json,
)


def _pipeline():
    return Pipeline(
        (
            OpSpec.make("auto_orient"),
            OpSpec.make("resize", mode="long_edge", long_edge=2048, upscale=False),
            OpSpec.make("metadata", mode="strip_gps"),
            OpSpec.make("encode", format="webp", quality=80),
        )
    )


def test_task_spec_pickles_and_stays_equal():
    spec = TaskSpec(7, "/in/a.jpg", "/out/a.webp", _pipeline(), Limits(max_pixels=1000), input_size=12)
    clone = pickle.loads(pickle.dumps(spec))
    assert clone == spec
    assert hash(clone.pipeline) == hash(spec.pipeline)


def test_pipeline_json_round_trip_is_exact():
    pipeline = _pipeline()
    text = json.dumps(pipeline.to_list())
    assert Pipeline.from_list(json.loads(text)) == pipeline
    assert pipeline.fingerprint() == Pipeline.from_list(json.loads(text)).fingerprint()


def test_params_order_does_not_change_identity():
    a = OpSpec.make("resize", width=10, height=20)
    b = OpSpec("resize", (("height", 20), ("width", 10)))
    assert a == b and a.kwargs() == {"width": 10, "height": 20}


def test_fingerprint_changes_with_settings():
    changed = Pipeline(_pipeline().steps[:-1] + (OpSpec.make("encode", format="webp", quality=81),))
    assert changed.fingerprint() != _pipeline().fingerprint()


def test_non_primitive_params_are_refused():
    with pytest.raises(SpecError) as info:
        OpSpec.make("resize", width=object())
    assert info.value.field == "width"


def test_pipeline_from_list_names_the_bad_step():
    with pytest.raises(SpecError) as info:
        Pipeline.from_list([{"op": "auto_orient"}, {"mode": "fit"}])
    assert info.value.field == "steps[1].op"


def test_result_round_trip_and_failure_status():
    spec = TaskSpec(1, "/in/a.jpg", "/out/a.jpg", _pipeline())
    failed = TaskResult.failure(spec, Code.TRUNCATED, "this file is damaged (truncated)")
    skipped = TaskResult.failure(spec, Code.SKIPPED_EXISTING, "exists")
    cancelled = TaskResult.failure(spec, Code.CANCELLED, "cancelled")
    assert (failed.status, skipped.status, cancelled.status) == (Status.FAILED, Status.SKIPPED, Status.CANCELLED)
    for result in (failed, skipped, TaskResult(2, "a", "b", warnings=["w"], width_in=3)):
        assert TaskResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
        assert pickle.loads(pickle.dumps(result)) == result


def test_spec_to_json_is_plain_json():
    spec = TaskSpec(1, "/in/a.jpg", "/out/a.jpg", _pipeline())
    data = json.loads(json.dumps(spec_to_json(spec)))
    assert data["pipeline"]["steps"][1]["params"] == [["long_edge", 2048], ["mode", "long_edge"], ["upscale", False]]


@pytest.mark.parametrize(
    ("steps", "path", "expected"),
    [
        ([], "x/Photo.JPG", ".JPG"),
        ([OpSpec.make("encode", format="webp")], "x/a.png", ".webp"),
        ([OpSpec.make("encode", format="keep")], "x/a.heic", ".jpg"),
        ([OpSpec.make("encode", format="avif"), OpSpec.make("encode", format="png", enabled=False)], "a.jpg", ".avif"),
        ([], "x/noext", ".png"),
    ],
)
def test_output_extension_rules(steps, path, expected):
    assert formats.output_extension(Pipeline(tuple(steps)), path) == expected
