"""Presets: strict validation naming the field, never executing anything (RELIABILITY F)."""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import pytest

from gui_app.core.presets import (
    Preset,
    builtin_presets,
    delete_user_preset,
    find_preset,
    list_presets,
    load_preset,
    preset_file_name,
    rename_user_preset,
    save_preset,
    save_user_preset,
    user_presets,
    user_presets_dir,
)
from gui_app.core.specs import OutputSpec, SpecError


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("IMAGEBATCH_CONFIG_DIR", str(folder))
    return folder


def good(**changes) -> dict:
    data = {
        "name": "mine", "description": "test", "version": 1,
        "steps": [{"op": "resize", "mode": "long_edge", "long_edge": 1024},
                  {"op": "encode", "format": "webp", "quality": 75}],
        "output": {"template": "{stem}_small", "overwrite": "skip", "keep_structure": True, "keep_dates": False},
    }
    data.update(changes)
    return data


def error_for(source) -> SpecError:
    text = source if isinstance(source, (str, bytes, Path)) else json.dumps(source)
    with pytest.raises(SpecError) as err:
        load_preset(text)
    return err.value


# ---------------------------------------------------------------- built-ins


def test_builtin_presets_exist_and_match_the_issue():
    presets = builtin_presets()
    assert set(presets) == {"web", "email", "thumbnails", "instagram", "archive", "bench-sharp", "responsive-web"}
    assert all(p.builtin for p in presets.values())

    def step(preset, op):
        return [s for s in presets[preset].pipeline.steps if s.name == op][-1].kwargs()

    assert step("web", "resize")["long_edge"] == 2048 and step("web", "resize")["upscale"] is False
    assert (step("web", "encode")["format"], step("web", "encode")["quality"]) == ("webp", 80)
    assert step("web", "metadata")["mode"] == "strip_gps"
    assert (step("email", "resize")["long_edge"], step("email", "encode")["quality"]) == (1280, 82)
    assert step("email", "metadata")["mode"] == "strip_all"
    assert (step("thumbnails", "resize")["mode"], step("thumbnails", "resize")["width"]) == ("fill", 320)
    assert (step("instagram", "resize")["width"], step("instagram", "resize")["height"]) == (1080, 1350)
    assert step("instagram", "encode")["format"] == "jpeg"
    assert (step("archive", "encode")["format"], step("archive", "encode")["quality"]) == ("avif", 60)
    assert step("archive", "metadata")["mode"] == "keep"
    bench = step("bench-sharp", "resize")
    assert (bench["mode"], bench["width"], bench["height"], bench["filter"]) == ("fit", 720, 588, "lanczos")
    assert step("bench-sharp", "encode")["quality"] == 80


def test_responsive_web_fans_out():
    preset = builtin_presets()["responsive-web"]
    suffixes = [s for s, _ in preset.variants]
    assert suffixes == ["_480w", "_960w", "_1920w", "_fallback"]
    for (suffix, pipeline), width in zip(preset.variants[:3], (480, 960, 1920)):
        assert pipeline.steps[0].name == "auto_orient"  # the preset's own steps come first
        assert pipeline.steps[-2].get("width") == width and pipeline.steps[-1].get("format") == "webp"
    assert preset.variants[3][1].steps[-1].get("format") == "jpeg"


def test_builtins_round_trip_through_files(tmp_path):
    for name, preset in builtin_presets().items():
        path = save_preset(preset, tmp_path / f"{name}.json")
        loaded = load_preset(path)
        assert loaded.pipeline == preset.pipeline and loaded.output == preset.output
        assert loaded.variants == preset.variants and loaded.name == name
        assert loaded.path == str(path) and not loaded.builtin


# ---------------------------------------------------------------- loading good presets


def test_load_fills_defaults_and_applies_output(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(good()), encoding="utf-8")
    preset = load_preset(str(path))
    resize = preset.pipeline.steps[0].kwargs()
    assert resize["long_edge"] == 1024 and resize["filter"] == "lanczos"  # default filled in
    out = preset.apply_output(OutputSpec(out_dir="/x"))
    assert (out.out_dir, out.template, out.keep_structure) == ("/x", "{stem}_small", True)
    assert load_preset(json.dumps(good())).pipeline == preset.pipeline  # JSON text works too


def test_minimal_preset_and_bom():
    assert load_preset('{"name": "n"}').pipeline.steps == ()
    assert load_preset(b'\xef\xbb\xbf{"name": "bom"}').name == "bom"


# ---------------------------------------------------------------- strict validation (F)


@pytest.mark.parametrize("data, field, words", [
    (good(colour="red"), "colour", "unknown key"),
    (good(steps=[{"op": "resize", "long_edge": 10, "bogus": 1}]), "steps[0].bogus", "unknown parameter"),
    (good(steps=[{"op": "resize", "long_edge": "big"}]), "steps[0].long_edge", "must be a number"),
    (good(steps=[{"op": "blur"}, {"op": "encode", "quality": 400}]), "steps[1].quality", "at most 100, not 400"),
    (good(steps=[{"op": "resize", "long_edge": 10**40}]), "steps[0].long_edge", "finite"),
    (good(steps=[{"op": "resize", "long_edge": -5}]), "steps[0].long_edge", "at least 1"),
    (good(steps=[{"op": "resize", "upscale": "yes"}]), "steps[0].upscale", "true or false"),
    (good(steps=[{"op": "resize", "long_edge": {"x": 1}}]), "steps[0].long_edge", "primitive"),
    (good(steps=[{"op": "rm -rf"}]), "steps[0].op", "unknown operation"),
    (good(steps=[{"long_edge": 3}]), "steps[0].op", "needs an 'op'"),
    (good(steps=["resize"]), "steps[0]", "must be an object"),
    (good(steps={"op": "resize"}), "steps", "list"),
    (good(steps=[{"op": "blur"}] * 65), "steps", "too many"),
    (good(output={"out_dir": "/etc"}), "output.out_dir", "never stored in a preset"),
    (good(output={"replace_originals": True}), "output.replace_originals", "unknown key"),
    (good(output={"overwrite": "clobber"}), "output.overwrite", "skip, rename, overwrite"),
    (good(output={"keep_dates": 1}), "output.keep_dates", "true or false"),
    (good(output={"template": "{stem}/../../x"}), "output.template", ".."),
    (good(output={"template": "{bogus}"}), "output.template", "unknown token"),
    (good(output={"subfolder_name": "../up"}), "output.subfolder_name", "plain folder name"),
    (good(output=[]), "output", "object"),
    (good(variants=[{"suffix": "../x", "steps": []}]), "variants[0].suffix", "plain file-name part"),
    (good(variants=[{"suffix": "_a"}, {"suffix": "_A"}]), "variants[1].suffix", "used twice"),
    (good(variants=[{"suffix": "_a", "steps": [{"op": "encode", "quality": 0}]}]), "variants[0].steps[0].quality",
     "at least 1"),
    (good(variants=[{"steps": []}]), "variants[0].suffix", "required"),
    (good(variants=[{"suffix": "_a", "extra": 1}]), "variants[0].extra", "unknown key"),
    (good(version=2), "version", "must be 1"),
    (good(version=True), "version", "must be 1"),
    (good(name=""), "name", "empty"),
    (good(name=42), "name", "text"),
    (good(name="x" * 81), "name", "too long"),
    (good(description=["a"]), "description", "text"),
    ({"steps": []}, "name", "required"),
    ([good()], "preset", "JSON object"),
])
def test_invalid_presets_name_the_field(data, field, words):
    err = error_for(data)
    assert err.field == field, str(err)
    assert words in err.reason, str(err)


def test_the_documented_message():
    err = error_for(good(steps=[{"op": "blur"}, {"op": "encode", "quality": 400}]))
    assert str(err) == "steps[1].quality: must be at most 100, not 400"


@pytest.mark.parametrize("text, field", [
    ('{"name": "x", "steps": [{"op": "encode", "quality": NaN}]}', "steps[0].quality"),
    ('{"name": "x", "steps": [{"op": "encode", "quality": Infinity}]}', "steps[0].quality"),
    ('{"name": "x", "steps": [{"op": "encode", "quality": 1e999}]}', "steps[0].quality"),
    ('{"name": "x", "steps": [{"op": "encode", "quality": 1' + "0" * 5000 + "}]}", "steps[0].quality"),
    ('{"name": "x", "name": "y"}', "name"),
    ('{"name": "x",}', "preset"),
])
def test_json_edge_cases(text, field):
    assert error_for(text).field == field


def test_a_pickle_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.json"
    path.write_bytes(pickle.dumps(Evil()))
    err = error_for(str(path))
    assert err.field == "preset file" and "pickle" in err.reason
    path.write_bytes(pickle.dumps({"name": "x"}, protocol=0))
    assert "pickle" in error_for(str(path)).reason or "JSON" in error_for(str(path)).reason
    assert not marker.exists()


def test_yaml_with_tags_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"!!python/object/apply:os.system ['touch {marker}']\nname: x\n", encoding="utf-8")
    err = error_for(str(path))
    assert "not valid JSON" in err.reason and "YAML" in err.reason
    assert not marker.exists()


def test_binary_huge_and_deeply_nested_files(tmp_path):
    path = tmp_path / "bin.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "not a text file" in error_for(str(path)).reason
    path.write_bytes(b'{"name": "' + b"x" * 1_100_000 + b'"}')
    assert "too large" in error_for(str(path)).reason
    deep = "[" * 100_000 + "]" * 100_000
    assert error_for('{"name": "x", "steps": ' + deep + "}").field == "preset"
    assert "cannot read" in error_for(str(tmp_path / "missing.json")).reason


# ---------------------------------------------------------------- user presets


def test_user_presets_dir_override_and_xdg(config_dir, monkeypatch, tmp_path):
    assert user_presets_dir() == config_dir / "presets"
    assert not config_dir.exists()  # not created by asking
    monkeypatch.delenv("IMAGEBATCH_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert user_presets_dir() == tmp_path / "xdg" / "imagebatch" / "presets"


def test_save_list_find_rename_delete(config_dir):
    preset = load_preset(json.dumps(good(name="My Web")))
    path = save_user_preset(preset)
    assert path == config_dir / "presets" / "My Web.json"
    names = [p.name for p in list_presets()]
    assert names[:7] == list(builtin_presets()) and names[7:] == ["My Web"]
    assert find_preset("my web").pipeline == preset.pipeline
    assert find_preset(str(path)).name == "My Web"
    assert find_preset("WEB").builtin

    renamed = rename_user_preset("My Web", "Small web")
    assert renamed.name == "Small web" and not path.exists()
    assert [p.name for p in user_presets()] == ["Small web"]
    with pytest.raises(SpecError):
        save_user_preset(load_preset(json.dumps(good(name="Small web"))), replace=False)
    delete_user_preset("small web")
    assert user_presets() == []
    with pytest.raises(SpecError):
        delete_user_preset("small web")


def test_builtin_names_are_protected(config_dir):
    with pytest.raises(SpecError) as err:
        save_user_preset(load_preset(json.dumps(good(name="Web"))))
    assert err.value.field == "name"
    with pytest.raises(SpecError):
        delete_user_preset("email")
    save_user_preset(load_preset(json.dumps(good(name="mine"))))
    with pytest.raises(SpecError):
        rename_user_preset("mine", "thumbnails")


def test_hostile_preset_names_stay_in_the_presets_folder(config_dir):
    for name in ["../../evil", "CON", "a/b\\c", ".hidden"]:
        path = save_user_preset(Preset(name=name))
        assert path.parent == config_dir / "presets" and not path.name.startswith(".")
        assert find_preset(name).name == name
    assert preset_file_name("CON") == "_CON.json"
    assert sorted(os.listdir(config_dir.parent)) == ["config"]


def test_broken_user_preset_is_listed_as_an_error_not_raised(config_dir):
    folder = config_dir / "presets"
    folder.mkdir(parents=True)
    (folder / "bad.json").write_text('{"name": "bad", "steps": [{"op": "encode", "quality": 400}]}')
    save_user_preset(Preset(name="fine"))
    errors: list = []
    assert [p.name for p in user_presets(errors)] == ["fine"]
    assert errors and "steps[0].quality" in errors[0][1]


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(SpecError) as err:
        find_preset("nope")
    assert "web" in err.value.reason and "responsive-web" in err.value.reason


@pytest.mark.timeout(20)
def test_a_fifo_named_as_preset_file_does_not_hang(tmp_path):
    fifo = tmp_path / "preset.json"
    os.mkfifo(fifo)
    assert "not a regular file" in error_for(str(fifo)).reason
