"""Issue 4, item 2: building a pipeline whose forms come from the registry."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QSlider, QSpinBox

from gui_app.core import registry
from gui_app.core.specs import OpSpec, Pipeline
from gui_app.qt.widgets.param_form import ColorButton
from gui_app.qt.widgets.pipeline_editor import PipelineEditor


def _menu_action(editor: PipelineEditor, op_name: str):
    for action in editor.add_menu.actions():
        if action.data() == op_name:
            return action
    raise AssertionError(f"{op_name} not in the Add step menu")


def test_add_menu_is_grouped_by_family_and_lists_every_op(qtbot, qloop):
    editor = PipelineEditor()
    qtbot.addWidget(editor)
    sections = [a.text() for a in editor.add_menu.actions() if a.isSeparator() and a.text()]
    families = [f for f in registry.FAMILIES if any(o.family == f for o in registry.all_ops())]
    assert sections == families
    listed = {a.data() for a in editor.add_menu.actions() if a.data()}
    assert listed == {o.name for o in registry.all_ops()}


def test_build_edit_reorder_disable_and_remove_steps(qtbot, qloop):
    editor = PipelineEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_pipeline(Pipeline())
    with qtbot.waitSignal(editor.pipeline_changed):
        _menu_action(editor, "encode").trigger()
    _menu_action(editor, "resize").trigger()  # pixel step goes before encode
    _menu_action(editor, "auto_orient").trigger()
    assert [s.name for s in editor.pipeline().steps] == ["resize", "auto_orient", "encode"]

    # The form of the selected step is generated from its parameter schema.
    editor.steps.setCurrentRow(0)
    form = editor.current_form()
    info = registry.get("resize")
    assert form.info is info
    mode = form.editor("mode")
    assert isinstance(mode, QComboBox)
    assert [mode.itemData(i) for i in range(mode.count())] == [c for c, _ in info.param("mode").choices]
    long_edge = form.editor("long_edge")
    assert isinstance(long_edge, QSpinBox) and long_edge.suffix() == " px"
    assert long_edge.toolTip() == (info.param("long_edge").help or info.param("long_edge").label)
    assert long_edge.accessibleName() == info.param("long_edge").label
    assert isinstance(form.editor("upscale"), QCheckBox)
    # visible_when: width/height only matter for fit/fill/exact.
    mode.setCurrentIndex(mode.findData("long_edge"))
    assert form.is_shown("long_edge") and not form.is_shown("width")
    mode.setCurrentIndex(mode.findData("fit"))
    assert form.is_shown("width") and not form.is_shown("long_edge")
    form.editor("width").setValue(640)
    step = editor.pipeline().steps[0]
    assert step.get("mode") == "fit" and step.get("width") == 640
    assert "640" in editor.steps.item(0).data(Qt.ItemDataRole.AccessibleTextRole)  # the row summarises the settings

    # Quality is a slider + spin box kept in step.
    editor.steps.setCurrentRow(2)
    encode_form = editor.current_form()
    encode_form.editor("format").setCurrentIndex(encode_form.editor("format").findData("webp"))
    slider = encode_form.editor("quality").findChild(QSlider)
    assert slider is not None
    slider.setValue(61)
    assert editor.pipeline().steps[2].get("quality") == 61
    assert encode_form.editor("quality").findChild(QSpinBox).value() == 61

    # Reorder, disable, remove.
    editor.steps.setCurrentRow(1)
    editor.move_current(-1)
    assert [s.name for s in editor.pipeline().steps] == ["auto_orient", "resize", "encode"]
    editor.steps.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert editor.pipeline().steps[0].enabled is False
    editor.steps.setCurrentRow(0)
    editor.remove_current()
    assert [s.name for s in editor.pipeline().steps] == ["resize", "encode"]
    assert editor.error() is None
    assert registry.validate_pipeline(editor.pipeline()) == editor.valid_pipeline()


def test_drag_reorder_is_reported(qtbot, qloop):
    editor = PipelineEditor()
    qtbot.addWidget(editor)
    editor.set_pipeline(Pipeline(steps=(OpSpec.make("grayscale"), OpSpec.make("blur", radius=2.0))))
    model = editor.steps.model()
    with qtbot.waitSignal(editor.pipeline_changed):
        model.moveRows(model.index(0, 0).parent(), 1, 1, model.index(0, 0).parent(), 0)
    assert [s.name for s in editor.pipeline().steps] == ["blur", "grayscale"]


def test_colour_float_and_chained_visibility(qtbot, qloop):
    editor = PipelineEditor()
    qtbot.addWidget(editor)
    editor.show()
    editor.set_pipeline(Pipeline(steps=(OpSpec.make("pad", width=800, height=800, color="#112233"),
                                        OpSpec.make("crop"), OpSpec.make("rotate"))))
    editor.steps.setCurrentRow(0)
    colour = editor.current_form().editor("color")
    assert isinstance(colour, ColorButton) and colour.value() == "#112233"
    editor.steps.setCurrentRow(2)
    assert isinstance(editor.current_form().editor("angle"), QDoubleSpinBox)
    editor.steps.setCurrentRow(1)
    form = editor.current_form()
    form.editor("mode").setCurrentIndex(form.editor("mode").findData("box"))
    form.editor("aspect").setCurrentIndex(form.editor("aspect").findData("custom"))
    # aspect is hidden in box mode, so its dependants are hidden too
    assert not form.is_shown("aspect") and not form.is_shown("aspect_w")
    form.editor("mode").setCurrentIndex(form.editor("mode").findData("aspect"))
    assert form.is_shown("aspect") and form.is_shown("aspect_w")


def test_invalid_settings_show_a_sentence_and_block_start(window):
    window.pipeline_editor.set_pipeline(Pipeline(steps=(OpSpec.make("encode", format="jpeg", quality=500),)))
    error = window.pipeline_editor.error()
    assert error is not None and "Quality" in error and "100" in error
    assert window.pipeline_editor.error_label.text() == error
    assert not window.pipeline_editor.error_label.isHidden()
    assert not window.start_action.isEnabled()
    assert window.current_pipeline() is None
