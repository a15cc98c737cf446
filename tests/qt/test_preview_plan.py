"""Issue 4, items 3-5: output settings with a live example name, the
preview with the real pipeline, and the plan before anything is written."""

from __future__ import annotations

import shutil

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from gui_app.core.specs import OpSpec, OutputSpec, Pipeline


def _select_first(window):
    window.input_view.setCurrentIndex(window.filter_model.index(0, 0))


def test_preview_renders_the_real_pipeline_off_the_ui_thread(window, qtbot, copy_corpus, tmp_path, load):
    folder = copy_corpus("camera/jolla.jpg")
    window.pipeline_editor.set_pipeline(Pipeline(steps=(
        OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=400),
        OpSpec.make("encode", format="webp", quality=70))))
    with qtbot.waitSignal(window.preview.rendered, timeout=20_000):
        load(window, [folder])
        _select_first(window)
    data = window.preview.data
    assert data is not None, window.preview.error
    assert max(data.out_width, data.out_height) == 400
    assert data.out_format == "WebP"
    assert 0 < data.out_bytes < data.in_bytes
    assert data.after.width() == data.out_width
    with Image.open(folder / "jolla.jpg") as im:
        assert max(data.in_width, data.in_height) == max(im.size)
    assert "400" in window.preview.info.text() and "WebP" in window.preview.info.text()

    # Changing a setting re-renders (debounced), and the view modes work.
    with qtbot.waitSignal(window.preview.rendered, timeout=20_000):
        window.pipeline_editor.steps.setCurrentRow(1)
        window.pipeline_editor.current_form().editor("long_edge").setValue(200)
    assert max(window.preview.data.out_width, window.preview.data.out_height) == 200
    window.preview.side_button.click()
    assert window.preview.view.side_by_side
    window.preview.actual_button.click()
    assert window.preview.view.actual_size
    window.preview.view.grab()  # paints both modes without error


def test_preview_of_a_damaged_file_is_a_sentence(window, qtbot, copy_corpus, load):
    folder = copy_corpus("hostile/truncated_jpeg.jpg")
    with qtbot.waitSignal(window.preview.rendered, timeout=20_000):
        load(window, [folder])
        _select_first(window)
    assert window.preview.data is None
    assert window.preview.error.startswith("truncated_jpeg.jpg: ")
    assert "Traceback" not in window.preview.error


def test_output_settings_live_example_and_token_menu(window, qtbot, copy_corpus, tmp_path, load):
    folder = copy_corpus("formats/hopper.jpg")
    load(window, [folder])
    settings = window.output_settings
    settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out"), template="{stem}"))
    window.pipeline_editor.set_pipeline(Pipeline(steps=(OpSpec.make("resize", mode="long_edge", long_edge=64),
                                                        OpSpec.make("encode", format="webp"))))
    width_token = next(a for a in settings.token_menu.actions() if a.data() == "{width}")
    settings.template.setText("{stem}_")
    settings.template.end(False)
    width_token.trigger()
    assert settings.template.text() == "{stem}_{width}"
    qtbot.waitUntil(lambda: settings.example.text() == "Example: hopper.jpg → hopper_64.webp", timeout=10_000)
    settings.template.setText("{nonsense}")
    qtbot.waitUntil(lambda: "Name template" in settings.example.text(), timeout=10_000)
    # Destination rows follow the choice.
    settings.destination.setCurrentIndex(settings.destination.findData("subfolder"))
    assert settings.output_spec().destination == "subfolder"
    assert settings.subfolder.isVisibleTo(settings) and not settings.folder.isVisibleTo(settings)


def test_plan_highlights_collisions_existing_files_and_skips(window, qtbot, tmp_path, corpus, load):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(corpus / "formats" / "hopper.png", src / "hopper.png")
    shutil.copy(corpus / "formats" / "hopper.jpg", src / "hopper.jpg")  # same stem -> same .webp
    shutil.copy(corpus / "camera" / "Canon_40D.jpg", src / "Canon_40D.jpg")
    out = tmp_path / "out"
    out.mkdir()
    (out / "Canon_40D.webp").write_bytes(b"already here")
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(out), overwrite="skip"))
    window.pipeline_editor.set_pipeline(Pipeline(steps=(OpSpec.make("encode", format="webp"),)))
    window.center_tabs.setCurrentWidget(window.plan_panel)
    load(window, [src])
    model = window.plan_panel.model
    actions = {(item.input_path.rsplit("/", 1)[1]): item.action for item in model.items}
    assert actions["Canon_40D.jpg"] == "skip"
    assert sorted(actions[n] for n in ("hopper.jpg", "hopper.png")) == ["process", "rename"]
    flagged = window.plan_panel.flagged_rows()
    assert len(flagged) == 2
    for row in flagged:
        assert model.data(model.index(row, 0), Qt.ItemDataRole.BackgroundRole) is not None
    clean = next(i for i in range(len(model.items)) if i not in flagged)
    assert model.data(model.index(clean, 0), Qt.ItemDataRole.BackgroundRole) is None
    assert "1 skipped" in window.plan_panel.summary.text()
    assert list(out.iterdir()) == [out / "Canon_40D.webp"]  # the plan wrote nothing
    # A long output path is cut on the left: its file name stays readable.
    view = window.plan_panel.view
    option = QStyleOptionViewItem()
    view.itemDelegateForColumn(1).initStyleOption(option, model.index(0, 1))
    assert option.textElideMode == Qt.TextElideMode.ElideLeft
    assert view.textElideMode() == Qt.TextElideMode.ElideMiddle  # the input names


def test_plan_explains_a_missing_output_folder(window, qtbot, copy_corpus, load, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(blocker)))
    load(window, [copy_corpus("formats/hopper.jpg")])
    assert "is a file" in window.plan_panel.summary.text()
    assert not window.start_batch()


def test_example_name_is_worked_out_off_the_ui_thread_and_stale_answers_are_dropped(
        window, qtbot, copy_corpus, tmp_path, load, monkeypatch):
    """A header read that hangs (a slow network drive) must not block typing;
    answers for old settings are never shown, only the newest."""
    import threading

    from gui_app.core import plan

    folder = copy_corpus("formats/hopper.jpg")
    load(window, [folder])
    settings = window.output_settings
    settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out"), template="{stem}"))
    qtbot.waitUntil(lambda: "hopper" in settings.example.text(), timeout=10_000)

    gate = threading.Event()
    calls: list[tuple[str, str]] = []
    real = plan.example_output_name

    def slow_network_drive(output, *args, **kwargs):
        calls.append((output.template, threading.current_thread().name))
        gate.wait(30)  # the header read hangs until the test lets it go
        return real(output, *args, **kwargs)

    monkeypatch.setattr(plan, "example_output_name", slow_network_drive)
    shown: list[str] = []
    original_set = settings.set_example
    monkeypatch.setattr(settings, "set_example", lambda text, problem=False: (shown.append(text),
                                                                               original_set(text, problem)))
    settings.template.setText("{stem}_a")
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10_000)  # that read now hangs
    assert calls[0][1] != threading.current_thread().name, "the header was read on the UI thread"
    for template in ("{stem}_ab", "{stem}_abc"):
        settings.template.setText(template)  # returns at once although the read hangs
    qtbot.wait(50)
    assert shown == [] and len(calls) == 1, "a second read started beside the hanging one"
    with qtbot.waitSignal(window.example_ready, timeout=20_000):
        gate.set()
    assert len(shown) == 1 and shown[0].startswith("Example: hopper.jpg → hopper_abc."), \
        f"an answer for old settings was shown: {shown}"
    assert [t for t, _ in calls] == ["{stem}_a", "{stem}_abc"], "one read at a time, then the newest"


def test_a_plan_of_20000_files_is_shown_without_visiting_every_row(window, qtbot, tmp_path, python_calls):
    """The Plan tab asks its model about the rows on screen only (a tree
    view made two Python calls per row each time a plan arrived)."""
    from PySide6.QtWidgets import QApplication

    from gui_app.core.plan import make_plan
    from gui_app.core.scan import ScanEntry

    entries = [ScanEntry(path=f"/p/p{i:06d}.jpg", root="/p", relpath=f"p{i:06d}.jpg", size=1, mtime_ns=0)
               for i in range(20_000)]
    plan = make_plan(entries, Pipeline(steps=(OpSpec.make("encode", format="webp"),)),
                     OutputSpec(out_dir=str(tmp_path / "out")))
    window.center_tabs.setCurrentWidget(window.plan_panel)
    QApplication.processEvents()
    with python_calls() as calls:
        window.plan_panel.set_plan(plan, str(tmp_path / "out"), "20000 to write")
        QApplication.processEvents()
    assert window.plan_panel.model.rowCount() == 20_000
    assert calls["rowCount"] + calls["columnCount"] < 2_000, calls.most_common(5)
