"""Issue 4, item 2: several outputs per image (a fan-out) edited in the GUI,
with the preset files' own rules, planned, run, saved in presets and
remembered between runs."""

from __future__ import annotations

from PIL import Image
from PySide6.QtWidgets import QDialogButtonBox

from gui_app.core import presets, registry
from gui_app.core.specs import OpSpec, OutputSpec, Pipeline
from gui_app.qt.widgets.variants_dialog import VariantsDialog

WEB = presets.builtin_presets()["responsive-web"]


def _ok(dialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def _edit_suffix(dialog, text):
    dialog.suffix.setText(text)
    dialog.suffix.textEdited.emit(text)


def test_dialog_lists_the_outputs_and_edits_suffixes_and_steps(qtbot):
    dialog = VariantsDialog(WEB.variant_steps)
    qtbot.addWidget(dialog)
    assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == [s for s, _ in WEB.variant_steps]
    assert dialog.suffix.text() == "_480w"
    assert dialog.editor.valid_pipeline() == WEB.variant_steps[0][1]

    _edit_suffix(dialog, "_small")
    assert dialog.list.item(0).text() == "_small"
    dialog.list.setCurrentRow(3)  # the JPEG fallback: switch its format to PNG
    dialog.editor.set_pipeline(Pipeline((OpSpec.make("encode", format="png"),)))
    dialog.list.setCurrentRow(0)
    assert dialog.suffix.text() == "_small", "what was typed stays with its output"
    dialog.accept()
    result = dialog.variants()
    assert [s for s, _ in result] == ["_small", "_960w", "_1920w", "_fallback"]
    assert result[3][1] == registry.validate_pipeline(Pipeline((OpSpec.make("encode", format="png"),)))
    assert result[1][1] == WEB.variant_steps[1][1]


def test_a_bad_suffix_or_step_is_named_and_blocks_ok(qtbot):
    dialog = VariantsDialog(WEB.variant_steps)
    qtbot.addWidget(dialog)
    _edit_suffix(dialog, "_960W")  # the same as the second one, ignoring case
    assert not dialog.error_label.isHidden() and "used twice" in dialog.error_label.text()
    assert not _ok(dialog).isEnabled()
    dialog.accept()
    assert dialog.result() == 0 and dialog.variants() == WEB.variant_steps, "nothing is taken while invalid"

    _edit_suffix(dialog, "sub/dir")
    assert "plain file-name part" in dialog.error_label.text() and not _ok(dialog).isEnabled()

    _edit_suffix(dialog, "_tiny")
    dialog.editor.set_pipeline(Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=0),)))
    text = dialog.error_label.text()
    assert text.startswith("Output _tiny, step 1: long edge") and not _ok(dialog).isEnabled()

    dialog.editor.set_pipeline(Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=100),)))
    assert dialog.error_label.isHidden() and _ok(dialog).isEnabled()


def test_add_copies_the_selected_steps_and_remove_all_means_one_output(qtbot):
    first = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=300),))
    dialog = VariantsDialog((("_1", first),))
    qtbot.addWidget(dialog)
    dialog.add_output()
    assert dialog.list.count() == 2 and dialog.suffix.text() == "_2"
    assert dialog.editor.valid_pipeline() == registry.validate_pipeline(first), "a copy of the selected steps"
    dialog.remove_output()
    dialog.remove_output()
    assert dialog.list.count() == 0 and not dialog.right.isEnabled()
    dialog.accept()
    assert dialog.variants() == ()


def test_the_window_plans_runs_and_remembers_its_own_outputs(make_window, qtbot, tmp_path, load):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("RGB", (400, 300), "teal").save(src / "photo.png")
    out = tmp_path / "out"
    window = make_window()
    window.pipeline_editor.set_pipeline(Pipeline((OpSpec.make("auto_orient"),)))
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(out)))
    assert window.variant_note.isHidden() and window.variants_button.text() == "Several outputs…"

    window.edit_variants()
    dialog = window.variants_dialog
    dialog.add_output()
    dialog.editor.set_pipeline(Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=100),
                                         OpSpec.make("encode", format="webp"))))
    _edit_suffix(dialog, "_thumb")
    dialog.add_output()
    dialog.editor.set_pipeline(Pipeline((OpSpec.make("encode", format="jpeg"),)))
    _edit_suffix(dialog, "_full")
    _ok(dialog).click()
    assert [s for s, _ in window._variant_steps] == ["_thumb", "_full"]
    assert not window.variant_note.isHidden() and "_thumb, _full" in window.variant_note.text()
    assert window.variants_button.text() == "Edit outputs…"

    load(window, [src])
    assert sorted(i.output_path for i in window.plan_panel.model.items) == [
        str(out / "photo_full.jpg"), str(out / "photo_thumb.webp")]
    window.run_settings.set_values("threads", 1, None)
    with qtbot.waitSignal(window.batch_done, timeout=60_000) as blocker:
        window.start_batch()
    assert blocker.args[0].ok == 2
    with Image.open(out / "photo_thumb.webp") as im:
        assert im.format == "WEBP" and im.size == (100, 75)
    with Image.open(out / "photo_full.jpg") as im:
        assert im.format == "JPEG" and im.size == (400, 300)

    key = window.preset_bar.save_as("Thumb and full")
    assert presets.find_preset("Thumb and full").variant_steps == window._variant_steps
    assert window.preset_bar.current_name() == key
    window.save_settings()
    again = make_window()
    assert again._variant_steps == window._variant_steps and not again.variant_note.isHidden()
