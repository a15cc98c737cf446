"""Issue 4: preset round trip (the CLI's JSON files) and remembered settings."""

from __future__ import annotations

import configparser
import json

from gui_app.core import presets, registry
from gui_app.core.specs import OpSpec, OutputSpec, Pipeline
from gui_app.qt.views.main_window import MainWindow


def _pipeline(long_edge=777, quality=66):
    return Pipeline(steps=(OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=long_edge),
                           OpSpec.make("encode", format="jpeg", quality=quality)))


def test_builtin_presets_are_listed_and_apply(window):
    bar = window.preset_bar
    for name in presets.builtin_presets():
        assert name in bar.keys()
    bar.select("web")
    bar._activated(bar.combo.currentIndex())
    assert window.pipeline_editor.valid_pipeline() == presets.builtin_presets()["web"].pipeline
    assert bar.current_name() == "web"
    # Editing afterwards means the settings are no longer "web".
    window.pipeline_editor.steps.setCurrentRow(0)
    window.pipeline_editor.remove_current()
    assert bar.current_name() == ""


def test_fan_out_preset_plans_one_output_per_variant(window, qtbot, copy_corpus, tmp_path, load):
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    bar = window.preset_bar
    bar.select("responsive-web")
    bar._activated(bar.combo.currentIndex())
    variants = presets.builtin_presets()["responsive-web"].variants
    assert len(variants) > 1 and not window.variant_note.isHidden()
    load(window, [copy_corpus("formats/hopper.jpg")])
    assert len(window.plan_panel.model.items) == len(variants)


def test_preset_round_trip_save_rename_export_delete_import(window, config_dir, tmp_path):
    bar = window.preset_bar
    window.pipeline_editor.set_pipeline(_pipeline())
    window.output_settings.template.setText("{stem}_small")
    key = bar.save_as("Holiday")
    assert key == "user:Holiday" and bar.current_name() == key
    saved = presets.find_preset("Holiday")
    assert saved.pipeline == window.pipeline_editor.valid_pipeline()
    assert saved.output.get("template") == "{stem}_small"
    assert saved.path and saved.path.startswith(str(config_dir))

    # Something else in the editor, then choose the preset again.
    window.pipeline_editor.set_pipeline(_pipeline(long_edge=100, quality=10))
    bar.select(key)
    bar._activated(bar.combo.currentIndex())
    assert window.pipeline_editor.valid_pipeline() == saved.pipeline

    bar.rename("Holiday 2024")
    assert bar.current_name() == "user:Holiday 2024"
    exported = tmp_path / "shared.json"
    bar.export_file(str(exported))
    data = json.loads(exported.read_text())
    assert data["name"] == "Holiday 2024"
    assert presets.load_preset(str(exported)).pipeline == saved.pipeline  # the CLI reads the same file

    bar.delete(confirm=False)
    assert "user:Holiday 2024" not in bar.keys() and presets.user_presets() == []
    window.pipeline_editor.set_pipeline(Pipeline())
    bar.import_file(str(exported))
    assert "user:Holiday 2024" in bar.keys()
    assert window.pipeline_editor.valid_pipeline() == saved.pipeline


def test_importing_a_bad_preset_says_why(window, tmp_path, qtbot):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "steps": [{"op": "resize", "long_edge": "big"}]}))
    messages = []
    window.preset_bar.message.connect(messages.append)
    window.preset_bar.import_file(str(bad))
    assert messages and "could not be imported" in messages[0] and "long_edge" in messages[0]
    assert "Traceback" not in messages[0]


def test_settings_are_remembered_as_primitive_values(make_window, config_dir, tmp_path):
    first = make_window()
    first.pipeline_editor.set_pipeline(_pipeline(long_edge=1234))
    first.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "exports"), template="{stem}_{width}",
                                                     overwrite="rename", keep_dates=True, keep_structure=False))
    first.run_settings.set_values("threads", 3, None)
    first.recursive.setChecked(False)
    first.resize(761, 705)
    first._remember_folder(str(tmp_path))
    first.close()

    ini = config_dir / "gui.ini"
    assert ini.is_file()
    parser = configparser.RawConfigParser()
    parser.read(ini)
    for section in parser.sections():
        for _key, value in parser.items(section):
            assert "@Variant" not in value and "@ByteArray" not in value, "only primitive values are stored"

    second = make_window()
    assert second.pipeline_editor.valid_pipeline() == first.pipeline_editor.valid_pipeline()
    out = second.output_settings.output_spec()
    assert out.out_dir == str(tmp_path / "exports") and out.template == "{stem}_{width}"
    assert out.overwrite == "rename" and out.keep_dates and not out.keep_structure
    assert second.run_settings.values() == ("threads", 3, None)
    assert not second.recursive.isChecked()
    assert (second.width(), second.height()) == (761, 705)
    assert [a.data() for a in second.recent_menu.actions()] == [str(tmp_path)]


def test_bad_remembered_values_fall_back_to_defaults(make_window, config_dir):
    from gui_app.qt.settings import Settings
    from gui_app.qt.views.main_window import DEFAULT_PIPELINE

    stored = Settings()
    stored.set_json("pipeline/steps", [{"op": "resize", "long_edge": -5}])
    stored.set_json("output/spec", {"out_dir": 5, "template": "{stem}_x", "keep_dates": "yes"})
    stored.sync()
    window = make_window()
    assert isinstance(window, MainWindow)
    assert window.pipeline_editor.valid_pipeline() == registry.validate_pipeline(DEFAULT_PIPELINE)
    out = window.output_settings.output_spec()
    assert out.out_dir and out.out_dir != "5"  # the default folder
    assert out.template == "{stem}_x" and out.keep_dates is False
