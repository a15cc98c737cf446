"""The plan: names, templates, collisions, existing outputs, unsafe paths (RELIABILITY C, F)."""

from __future__ import annotations

import os
import shutil
import time
import unicodedata
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from gui_app.core import formats
from gui_app.core.paths import utf8_len
from gui_app.core.plan import (
    COLLISION_CONFLICT,
    MAX_OUTPUT_NAME_BYTES,
    Plan,
    check_output_dir,
    example_output_name,
    iter_plan,
    make_plan,
    parse_template,
    predict_size,
    render_template,
    scan_options_for,
)
from gui_app.core.scan import ScanEntry, scan
from gui_app.core.specs import (
    Code,
    Destination,
    Limits,
    OpSpec,
    OutputSpec,
    Pipeline,
    SpecError,
    Status,
)

WEBP = Pipeline((OpSpec.make("encode", format="webp", quality=80),))
KEEP = Pipeline()


def plan_folder(src: Path, out: Path | None = None, pipeline: Pipeline = WEBP, **output_kw) -> Plan:
    output = OutputSpec(out_dir=str(out) if out else None, **output_kw)
    return make_plan(scan([str(src)], **scan_options_for(output)), pipeline, output, Limits())


def outputs(plan: Plan, root: Path) -> list[str]:
    return [os.path.relpath(i.output_path, root) if i.output_path else None for i in plan.items]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def jpeg_with_exif(path: Path, model: str | None = None, taken: str | None = None) -> Path:
    """A tiny real JPEG carrying the given EXIF Model and DateTimeOriginal."""
    exif = Image.Exif()
    if model is not None:
        exif[ExifTags.Base.Model] = model
    if taken is not None:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), "red").save(path, exif=exif)
    return path


@pytest.fixture
def src(copy_corpus) -> Path:
    root = copy_corpus("formats/hopper.jpg", "camera/Canon_40D.jpg")
    copy_corpus("formats/hopper.png", dest=root / "sub")
    return root


# ---------------------------------------------------------------- basics


def test_folder_destination_keeps_structure_and_builds_tasks(src, tmp_path):
    out = tmp_path / "out"
    plan = plan_folder(src, out, keep_dates=True)
    assert outputs(plan, out) == ["Canon_40D.webp", "hopper.webp", os.path.join("sub", "hopper.webp")]
    assert [i.action for i in plan.items] == ["process"] * 3
    task = plan.tasks()[1]
    st = os.stat(src / "hopper.jpg")
    assert task.input_path == str(src / "hopper.jpg")
    assert (task.input_size, task.input_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert task.pipeline == WEBP and task.keep_dates and task.overwrite == "skip"
    assert task.backup_path is None
    assert len({t.task_id for t in plan.tasks()}) == 3
    assert plan.summary()["tasks"] == 3 and plan.summary()["process"] == 3


def test_pace_is_called_before_each_entry_is_planned(src, tmp_path):
    """The GUI's hook for letting its UI thread in: called once per entry,
    before that entry's items exist."""
    output = OutputSpec(out_dir=str(tmp_path / "out"))
    entries = list(scan([str(src)]))
    planned_when_paced = []
    items = []

    def pace():
        planned_when_paced.append(len(items))

    for item in iter_plan(entries, WEBP, output, pace=pace):
        items.append(item)
    assert planned_when_paced == [0, 1, 2]
    calls = []
    assert len(make_plan(entries, WEBP, output, pace=lambda: calls.append(1)).items) == 3
    assert len(calls) == 3


def test_flatten_and_extension_kept_as_spelled(src, tmp_path):
    shutil.move(src / "Canon_40D.jpg", src / "Canon.JPG")
    out = tmp_path / "out"
    plan = plan_folder(src, out, KEEP, keep_structure=False)
    assert outputs(plan, out) == ["Canon.JPG", "hopper.jpg", "hopper.png"]
    assert formats.output_extension(KEEP, "x.JPG") == ".JPG"


def test_beside_and_subfolder_destinations(src):
    beside = plan_folder(src, None, WEBP, destination=Destination.BESIDE.value)
    assert [i.output_path for i in beside.items][-1] == str(src / "sub" / "hopper.webp")
    sub = plan_folder(src, None, WEBP, destination=Destination.SUBFOLDER.value, subfolder_name="small")
    assert [i.output_path for i in sub.items] == [
        str(src / "small" / "Canon_40D.webp"), str(src / "small" / "hopper.webp"),
        str(src / "sub" / "small" / "hopper.webp")]


def test_folder_destination_needs_a_folder(src):
    with pytest.raises(SpecError) as err:
        plan_folder(src, None)
    assert err.value.field == "output.out_dir"


# ---------------------------------------------------------------- dry run


def test_make_plan_is_a_dry_run_that_writes_nothing(src, tmp_path):
    out = tmp_path / "not" / "yet" / "out"
    before = listing(tmp_path)
    plan = plan_folder(src, out, template="{parent}/{stem}_{width}x{height}_{counter:03d}")
    assert plan.summary()["tasks"] == 3
    assert not (tmp_path / "not").exists()
    assert listing(tmp_path) == before


# ---------------------------------------------------------------- collisions inside the batch (C)


def test_png_and_jpg_to_webp_collide_and_get_numbered(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "formats/hopper.gif")
    out = tmp_path / "out"
    plan = plan_folder(src, out)
    assert outputs(plan, out) == ["hopper.webp", "hopper (1).webp", "hopper (2).webp"]
    assert [i.action for i in plan.items] == ["process", "rename", "rename"]
    assert "same output name" in plan.items[1].note
    assert plan_folder(src, out).items == plan.items  # deterministic


def test_collisions_marked_conflict_by_policy(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    out = tmp_path / "out"
    output = OutputSpec(out_dir=str(out))
    plan = make_plan(scan([str(src)]), WEBP, output, collisions=COLLISION_CONFLICT)
    assert [(i.action, i.code) for i in plan.items] == [("process", "OK"), ("conflict", "NAME_CONFLICT")]
    assert plan.items[1].task is None
    (result,) = plan.skipped_results()
    assert result.status == Status.FAILED and result.code == Code.NAME_CONFLICT


def test_flattened_subfolders_collide(copy_corpus, tmp_path):
    src = tmp_path / "in"
    copy_corpus("formats/hopper.jpg", dest=src / "x")
    copy_corpus("formats/hopper.jpg", dest=src / "y")
    out = tmp_path / "out"
    assert outputs(plan_folder(src, out, KEEP, keep_structure=False), out) == ["hopper.jpg", "hopper (1).jpg"]
    assert outputs(plan_folder(src, out, KEEP), out) == [os.path.join("x", "hopper.jpg"), os.path.join("y", "hopper.jpg")]


def test_case_only_and_unicode_normalisation_differences_collide(corpus, tmp_path):
    src = tmp_path / "in"
    for folder, name in [("x", "Photo.JPG"), ("y", "photo.jpg"),
                         ("x", unicodedata.normalize("NFC", "café.png")),
                         ("y", unicodedata.normalize("NFD", "café.png"))]:
        (src / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(corpus / "formats" / "hopper.jpg", src / folder / name)
    out = tmp_path / "out"
    plan = plan_folder(src, out, KEEP, keep_structure=False)
    names = [os.path.basename(p) for p in outputs(plan, out)]
    assert names == [unicodedata.normalize("NFC", "café.png"), "Photo.JPG",
                     unicodedata.normalize("NFD", "café (1).png"), "photo (1).jpg"]
    lowered = [unicodedata.normalize("NFC", n).casefold() for n in names]
    assert len(set(lowered)) == 4  # distinct on Windows and macOS too


# ---------------------------------------------------------------- outputs that exist (C)


def test_existing_output_is_skipped_by_default(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hopper.webp").write_bytes(b"old output")
    plan = plan_folder(src, out)
    item = plan.items[1]
    assert (item.action, item.code, item.task) == ("skip", "SKIPPED_EXISTING", None)
    result = [r for r in plan.skipped_results() if r.input_path.endswith("hopper.jpg")][0]
    assert result.status == Status.SKIPPED
    assert (out / "hopper.webp").read_bytes() == b"old output"


def test_existing_output_renamed_to_the_next_free_name(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hopper.webp").write_bytes(b"old")
    (out / "hopper (1).webp").write_bytes(b"old")
    plan = plan_folder(src, out, overwrite="rename")
    assert outputs(plan, out)[1] == "hopper (2).webp" and plan.items[1].action == "rename"
    assert plan.items[1].task.overwrite == "rename"


def test_existing_output_overwritten_only_when_chosen(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hopper.webp").write_bytes(b"old")
    plan = plan_folder(src, out, overwrite="overwrite")
    assert plan.items[1].action == "overwrite" and plan.items[1].task.overwrite == "overwrite"
    assert (out / "hopper.webp").read_bytes() == b"old"  # planning never writes


def test_existing_folder_with_the_output_name_is_never_overwritten(src, tmp_path):
    out = tmp_path / "out"
    (out / "hopper.webp").mkdir(parents=True)
    plan = plan_folder(src, out, overwrite="overwrite")
    assert plan.items[1].action == "conflict"


def test_output_folder_inside_input_run_twice(src):
    out = src / "out"
    first = plan_folder(src, out, template="{stem}_web")
    assert first.summary()["tasks"] == 3
    for task in first.tasks():  # what a run leaves behind
        Path(task.output_path).parent.mkdir(parents=True, exist_ok=True)
        Path(task.output_path).write_bytes(b"output")
    second = plan_folder(src, out, template="{stem}_web")
    assert [i.input_path for i in second.items] == [i.input_path for i in first.items]
    assert [i.action for i in second.items] == ["skip"] * 3
    assert not any("_web_web" in (i.output_path or "") for i in second.items)


# ---------------------------------------------------------------- output == input (C)


def test_output_that_is_the_input_is_refused(src):
    plan = plan_folder(src, None, KEEP, destination=Destination.BESIDE.value)
    assert {(i.action, i.code) for i in plan.items} == {("unsafe", "UNSAFE_PATH")}
    assert "replace the original" in plan.items[0].note
    assert plan.tasks() == []


def test_output_that_is_a_hard_link_or_symlink_to_the_input_is_refused(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.link(src / "hopper.jpg", out / "hopper.jpg")
    os.symlink(src / "Canon_40D.jpg", out / "Canon_40D.jpg")
    plan = plan_folder(src, out, KEEP, keep_structure=False, overwrite="overwrite")
    assert [i.action for i in plan.items] == ["unsafe", "unsafe", "process"]


def test_replace_originals_needs_a_backup_folder_and_sets_backup_path(src, tmp_path):
    plan = plan_folder(src, None, KEEP, destination=Destination.BESIDE.value, replace_originals=True)
    assert {i.action for i in plan.items} == {"unsafe"} and "backup" in plan.items[0].note
    backups = tmp_path / "backups"
    plan = plan_folder(src, None, KEEP, destination=Destination.BESIDE.value, replace_originals=True,
                       backup_dir=str(backups))
    assert [i.action for i in plan.items] == ["overwrite"] * 3
    task = plan.items[2].task
    assert task.output_path == str(src / "sub" / "hopper.png") and task.overwrite == "overwrite"
    assert task.backup_path == str(backups / "sub" / "hopper.png")
    assert not backups.exists()  # a plan creates nothing


def test_overwriting_another_input_is_refused(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    jpeg = Pipeline((OpSpec.make("encode", format="jpeg"),))
    output = OutputSpec(destination=Destination.BESIDE.value, overwrite="overwrite")
    plan = make_plan(scan([str(src)]), jpeg, output)
    # hopper.jpg -> itself (refused); hopper.png -> hopper.jpg, another input (refused)
    assert [i.action for i in plan.items] == ["unsafe", "unsafe"]
    streamed = list(iter_plan(scan([str(src)]), jpeg, output))
    assert [i.action for i in streamed] == ["unsafe", "unsafe"]


# ---------------------------------------------------------------- hostile templates and EXIF (F)


@pytest.mark.parametrize("template", [
    "{stem}/../../x", "../{stem}", "..\\{stem}", "{stem}/..", "/etc/{stem}", "\\\\server\\share\\{stem}",
    "C:\\Windows\\{stem}", "c:{stem}", "~/{stem}", "{nope}", "{stem", "{counter:999999d}", "{stem:>99}", "",
])
def test_hostile_or_invalid_templates_make_every_item_unsafe(src, tmp_path, template):
    out = tmp_path / "out"
    plan = plan_folder(src, out, template=template)
    assert {(i.action, i.code) for i in plan.items} == {("unsafe", "UNSAFE_PATH")}
    assert all(i.task is None for i in plan.items)
    with pytest.raises(SpecError):
        parse_template(template)


def test_slashes_in_the_template_make_sanitised_sub_folders(src, tmp_path):
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="web: x/CON/{parent}/./{stem}.", keep_structure=False)
    assert outputs(plan, out)[1] == os.path.join("web_ x", "_CON", "in", "hopper.webp")


def test_hostile_exif_values_stay_one_component_inside_the_root(tmp_path):
    src = tmp_path / "in"
    jpeg_with_exif(src / "a.jpg", model="../../evil", taken="2021:03:04 05:06:07")
    jpeg_with_exif(src / "b.jpg", model="CON")
    jpeg_with_exif(src / "c.jpg", model="/etc/passwd\x00x")
    jpeg_with_exif(src / "d.jpg")
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="{exif:Model}/{stem}_{exif:DateTimeOriginal}")
    assert outputs(plan, out) == [
        os.path.join("_._.._evil", "a_2021-03-04_05-06-07.webp"),
        os.path.join("_CON", "b_unknown.webp"),
        os.path.join("_etc_passwdx", "c_unknown.webp"),  # EXIF text ends at NUL
        os.path.join("unknown", "d_unknown.webp"),
    ]
    for item in plan.items:
        assert item.action == "process"
        assert os.path.realpath(item.output_path).startswith(str(out.resolve()) + os.sep)


def test_output_sub_folder_that_is_a_symlink_leading_out_is_refused(src, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path / "elsewhere", out / "sub")
    plan = plan_folder(src, out)
    assert [i.action for i in plan.items] == ["process", "process", "unsafe"]
    assert "leave the output folder" in plan.items[2].note


def test_windows_reserved_and_odd_input_names(corpus, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    names = ["CON.jpg", "aux.png", "-rf.jpg", "📷 beach.jpg", "trailing .jpg", "x" * 251 + ".jpg"]
    for name in names:
        shutil.copy(corpus / "formats" / "hopper.jpg", src / name)
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="{stem}_web")
    got = {os.path.basename(i.input_path): os.path.basename(i.output_path) for i in plan.items}
    assert got["CON.jpg"] == "_CON_web.webp"  # each token value is sanitised on its own
    assert got["-rf.jpg"] == "-rf_web.webp" and got["📷 beach.jpg"] == "📷 beach_web.webp"
    assert got["trailing .jpg"] == "trailing_web.webp"
    long_out = got["x" * 251 + ".jpg"]
    assert utf8_len(long_out) <= MAX_OUTPUT_NAME_BYTES and long_out.endswith(".webp") and "~" in long_out
    plan2 = plan_folder(src, out, template="{stem}")
    got2 = {os.path.basename(i.input_path): os.path.basename(i.output_path) for i in plan2.items}
    assert got2["CON.jpg"] == "_CON.webp" and got2["aux.png"] == "_aux.webp"
    assert utf8_len(got2["x" * 251 + ".jpg"]) == MAX_OUTPUT_NAME_BYTES  # room for the worker's temp name
    assert plan_folder(src, out, template="{stem}").items == plan2.items  # deterministic


# ---------------------------------------------------------------- tokens


def test_size_tokens_use_the_predicted_output_size(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg", "orientation/Landscape_6.jpg")
    pipeline = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=64),
                         OpSpec.make("encode", format="webp")))
    out = tmp_path / "out"
    plan = plan_folder(src, out, pipeline, template="{stem}_{in_width}x{in_height}_{width}x{height}")
    # Landscape_6 is stored 1200x1800 with orientation 6: upright it is 1800x1200
    assert outputs(plan, out) == ["hopper_128x128_64x64.webp", "Landscape_6_1200x1800_64x43.webp"]
    assert predict_size(pipeline, 1200, 1800, orientation=6) == (64, 43)
    assert predict_size(pipeline, 1200, 1800) == (43, 64)


def test_counter_date_and_simple_tokens(src, tmp_path):
    stamp = time.mktime((2023, 5, 17, 12, 30, 45, 0, 0, -1))
    for path in src.rglob("*.*"):
        os.utime(path, (stamp, stamp))
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="{counter:03d}_{date}_{time}_{parent}_{Stem}_{ext}_{format}{{x}}",
                       keep_structure=False)
    assert outputs(plan, out) == [
        "001_2023-05-17_12-30-45_in_Canon_40D_jpg_webp{x}.webp",
        "002_2023-05-17_12-30-45_in_hopper_jpg_webp{x}.webp",
        "003_2023-05-17_12-30-45_sub_hopper_png_webp{x}.webp",
    ]


def test_unreadable_header_gives_a_placeholder_and_a_note(copy_corpus, tmp_path):
    src = copy_corpus("hostile/text_named.jpg", "hostile/empty.jpg", "formats/hopper.jpg")
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="{stem}_{width}")
    assert outputs(plan, out) == ["empty_unknown.webp", "hopper_128.webp", "text_named_unknown.webp"]
    assert "cannot read the image header" in plan.items[0].note
    assert plan.items[0].task is not None  # the worker reports the real error


def test_header_is_read_only_when_the_template_needs_it(src, tmp_path, monkeypatch):
    import gui_app.core.plan as plan_module

    calls = []
    monkeypatch.setattr(plan_module, "read_header", lambda *a, **k: calls.append(a) or plan_module.Header())
    plan_folder(src, tmp_path / "out", template="{stem}_{counter}_{date}")
    assert calls == []
    plan_folder(src, tmp_path / "out", template="{stem}_{exif:Model}")
    assert len(calls) == 3


@pytest.mark.timeout(20)
def test_fifo_swapped_in_after_the_scan_does_not_hang_the_plan(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg")
    entries = list(scan([str(src)]))
    os.unlink(src / "hopper.jpg")
    os.mkfifo(src / "hopper.jpg")
    plan = make_plan(entries, WEBP, OutputSpec(out_dir=str(tmp_path / "out"), template="{stem}_{width}"))
    assert "not a regular file" in plan.items[0].note


def test_hostile_corpus_files_plan_without_errors(corpus, tmp_path):
    out = tmp_path / "out"
    plan = plan_folder(corpus / "hostile", out, template="{stem}_{width}x{height}_{exif:Model}")
    assert plan.summary()["tasks"] == len(plan.items) > 10


# ---------------------------------------------------------------- not regular files


def test_scan_skips_become_report_rows(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg")
    os.mkfifo(src / "pipe.jpg")
    entries = list(scan([str(src)])) + [ScanEntry("/nowhere", "/", "nowhere", skip_code="READ_FAILED",
                                                  skip_reason="cannot read")]
    plan = make_plan(entries, WEBP, OutputSpec(out_dir=str(tmp_path / "out")))
    assert [i.action for i in plan.items] == ["process", "not_regular", "skip"]
    rows = plan.skipped_results()
    assert [(r.status, r.code) for r in rows] == [("skipped", "SKIPPED_NOT_REGULAR"), ("failed", "READ_FAILED")]
    assert len({i.item_id for i in plan.items}) == 3
    assert plan.summary()["not_regular"] == 1 and "1 not regular" in plan.describe()


# ---------------------------------------------------------------- variants (fan-out presets)


def test_variants_make_one_task_each_with_a_suffix(copy_corpus, tmp_path):
    from gui_app.core.presets import builtin_presets

    preset = builtin_presets()["responsive-web"]
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    out = tmp_path / "out"
    output = preset.apply_output(OutputSpec(out_dir=str(out)))
    plan = make_plan(scan([str(src)]), preset.pipeline, output, variants=preset.variants)
    assert outputs(plan, out) == [
        "hopper_480w.webp", "hopper_960w.webp", "hopper_1920w.webp", "hopper_fallback.jpg",
        "hopper_480w (1).webp", "hopper_960w (1).webp", "hopper_1920w (1).webp", "hopper_fallback (1).jpg",
    ]
    assert [i.variant for i in plan.items[:4]] == ["_480w", "_960w", "_1920w", "_fallback"]
    first = plan.tasks()[0].pipeline
    assert first.steps[0].name == "auto_orient" and first.steps[-1].get("format") == "webp"
    assert plan.tasks()[3].pipeline.steps[-1].get("format") == "jpeg"


def test_variant_token_and_size_per_variant(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg")
    small = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32),))
    big = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=100),))
    out = tmp_path / "out"
    output = OutputSpec(out_dir=str(out), template="{variant}/{stem}_{width}")
    plan = make_plan(scan([str(src)]), KEEP, output, variants=[("s", small), ("b", big)])
    assert outputs(plan, out) == [os.path.join("s", "hopper_32s.jpg"), os.path.join("b", "hopper_100b.jpg")]


def test_bad_variant_suffix_is_refused(src, tmp_path):
    with pytest.raises(SpecError):
        make_plan(scan([str(src)]), KEEP, OutputSpec(out_dir=str(tmp_path)), variants=[("/../x", KEEP)])


# ---------------------------------------------------------------- streaming


def test_iter_plan_streams_and_matches_make_plan(src, tmp_path):
    output = OutputSpec(out_dir=str(tmp_path / "out"), keep_structure=False)
    pulled = []

    def entries():
        for entry in scan([str(src)]):
            pulled.append(entry)
            yield entry

    stream = iter_plan(entries(), WEBP, output)
    first = next(stream)
    assert len(pulled) == 1 and first.output_path.endswith("Canon_40D.webp")
    assert [first, *stream] == make_plan(scan([str(src)]), WEBP, output).items


def test_iter_plan_finds_collisions_in_a_large_batch_with_compact_state(tmp_path):
    count = 5000
    entries = (ScanEntry(str(tmp_path / "in" / f"d{i % 2}" / f"img{i // 2}.jpg"), str(tmp_path / "in"),
                         f"d{i % 2}/img{i // 2}.jpg", 10, 0) for i in range(count))
    output = OutputSpec(out_dir=str(tmp_path / "out"), keep_structure=False)
    names = [os.path.basename(i.output_path) for i in iter_plan(entries, KEEP, output)]
    assert len(names) == count and len(set(names)) == count
    assert names[:4] == ["img0.jpg", "img0 (1).jpg", "img1.jpg", "img1 (1).jpg"]


# ---------------------------------------------------------------- templates for the GUI


def test_render_template_and_example_name():
    assert render_template("{stem}_{width}w", {"stem": "IMG/../1", "width": 800}) == "IMG_.._1_800w"
    assert render_template("{exif:model}/{stem}", {"stem": "a", "exif": {"Model": "X100"}}) == "X100/a"
    assert render_template("{stem}_{exif:Make}", {"stem": "a"}) == "a_unknown"
    example = example_output_name(OutputSpec(template="{exif:Model}/{stem}_{width}w"),
                                  Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=2048),
                                            OpSpec.make("encode", format="webp"))))
    assert example == "Camera/IMG_0001_2048w.webp"
    with pytest.raises(SpecError):
        example_output_name(OutputSpec(template="../{stem}"), KEEP)


def test_example_name_from_a_real_sample(tmp_path):
    sample = jpeg_with_exif(tmp_path / "s.jpg", model="Pixel 8")
    assert example_output_name(OutputSpec(template="{exif:Model}_{in_width}"), WEBP, str(sample)) == "Pixel 8_40.webp"


# ---------------------------------------------------------------- output folder checks (C)


def test_check_output_dir(tmp_path, monkeypatch):
    assert check_output_dir(str(tmp_path)) is None
    assert check_output_dir(str(tmp_path / "new" / "deeper")) is None
    assert not (tmp_path / "new").exists()
    (tmp_path / "file").write_text("x")
    assert "is a file" in check_output_dir(str(tmp_path / "file"))
    assert "not a folder" in check_output_dir(str(tmp_path / "file" / "out"))
    assert check_output_dir("") == "No output folder is chosen."
    assert listing(tmp_path) == ["file"]  # the write probe leaves nothing


def test_check_output_dir_read_only(tmp_path, monkeypatch):
    import errno
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert "read-only" in check_output_dir(str(tmp_path))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(tmp_path) else real_access(p, m))
    assert "cannot be created" in check_output_dir(str(tmp_path / "out"))


def test_a_token_that_renders_empty_makes_no_folder(src, tmp_path):
    out = tmp_path / "out"
    plan = plan_folder(src, out, template="{variant}/{stem}", keep_structure=False)
    assert outputs(plan, out)[0] == "Canon_40D.webp"


def test_case_only_difference_in_one_folder(corpus, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(corpus / "formats" / "hopper.jpg", src / "Photo.JPG")
    shutil.copy(corpus / "formats" / "hopper.png", src / "photo.jpg")
    out = tmp_path / "out"
    assert outputs(plan_folder(src, out), out) == ["Photo.webp", "photo (1).webp"]
    # outputs beside the originals, format kept: each is its own input -> refused, never crossed
    beside = plan_folder(src, None, KEEP, destination=Destination.BESIDE.value, template="{stem}_copy")
    assert [os.path.basename(i.output_path) for i in beside.items] == ["Photo_copy.JPG", "photo_copy (1).jpg"]


def test_heic_and_camera_headers_feed_the_tokens(copy_corpus, tmp_path):
    src = copy_corpus("formats/IMG_5195.HEIC", "camera/Canon_40D.jpg", "hostile/decompression_bomb.gif")
    out = tmp_path / "out"
    plan = plan_folder(src, out, KEEP, template="{exif:Model}_{exif:DateTimeOriginal}_{in_width}x{in_height}")
    assert outputs(plan, out) == [
        "Canon EOS 40D_2008-05-30_15-56-01_100x68.jpg",
        "unknown_unknown_unknownxunknown.gif",
        "iPhone 11 Pro Max_2021-04-11_15-47-53_2566x3313.jpg",  # HEIC is read, written as JPEG
    ]
    assert "too large to open safely" in plan.items[1].note


def test_input_folder_names_are_sanitised_not_split(corpus, tmp_path):
    src = tmp_path / "in"
    odd = src / "a\\b" / "CON" / "x:y"
    odd.mkdir(parents=True)
    shutil.copy(corpus / "formats" / "hopper.jpg", odd / "p.jpg")
    out = tmp_path / "out"
    assert outputs(plan_folder(src, out), out) == [os.path.join("a_b", "_CON", "x_y", "p.webp")]
