"""Resume journal: keys, validity checks, torn lines, temp sweeping."""

from __future__ import annotations

import os

from gui_app.core.journal import (JOURNAL_NAME, Journal, read_entries, sweep_temp_files,
                                  sweep_temp_files_for)
from gui_app.core.specs import OpSpec, Pipeline, TaskResult, TaskSpec


def _spec(tmp_path, name="a", quality=80):
    src = tmp_path / "in" / f"{name}.jpg"
    src.parent.mkdir(exist_ok=True)
    if not src.exists():
        src.write_bytes(b"x" * 100)
    st = src.stat()
    out = tmp_path / "out" / f"{name}.webp"
    return TaskSpec(task_id=1, input_path=str(src), output_path=str(out),
                    pipeline=Pipeline((OpSpec.make("encode", format="webp", quality=quality),)),
                    input_size=st.st_size, input_mtime_ns=st.st_mtime_ns)


def _finish(spec, data=b"output"):
    os.makedirs(os.path.dirname(spec.output_path), exist_ok=True)
    with open(spec.output_path, "wb") as fh:
        fh.write(data)
    return TaskResult(task_id=spec.task_id, input_path=spec.input_path, output_path=spec.output_path,
                      bytes_out=len(data))


def _journal_with(tmp_path, *specs):
    path = str(tmp_path / "out" / JOURNAL_NAME)
    with Journal(path) as journal:
        for spec in specs:
            journal.record(spec, _finish(spec))
    return path


def test_done_task_is_recognised_on_resume(tmp_path):
    spec = _spec(tmp_path)
    path = _journal_with(tmp_path, spec)
    assert Journal(path, resume=True).done_entry(spec) is not None


def test_settings_change_input_change_or_deleted_output_means_redo(tmp_path):
    spec = _spec(tmp_path)
    path = _journal_with(tmp_path, spec)
    journal = Journal(path, resume=True)
    assert journal.done_entry(_spec(tmp_path, quality=50)) is None  # settings changed
    os.utime(spec.input_path, ns=(1, 1))
    assert journal.done_entry(_spec(tmp_path)) is None  # input changed (mtime)
    os.utime(spec.input_path, ns=(spec.input_mtime_ns, spec.input_mtime_ns))
    assert journal.done_entry(_spec(tmp_path)) is not None
    with open(spec.output_path, "wb") as fh:
        fh.write(b"someone else's file")
    assert journal.done_entry(spec) is None  # output replaced (size differs)
    os.unlink(spec.output_path)
    assert journal.done_entry(spec) is None  # output deleted


def test_torn_last_line_and_garbage_are_ignored(tmp_path):
    a, b = _spec(tmp_path, "a"), _spec(tmp_path, "b")
    path = _journal_with(tmp_path, a, b)
    with open(path, "ab") as fh:
        fh.write(b'not json\n{"v":1,"input":"/x","size":1,"mtime_ns"')  # garbage + a torn record
    entries = list(read_entries(path))
    assert [os.path.basename(e.output) for e in entries] == ["a.webp", "b.webp"]
    journal = Journal(path, resume=True)
    assert journal.done_entry(a) and journal.done_entry(b)
    # appending after a torn line still gives readable records
    c = _spec(tmp_path, "c")
    with Journal(path) as j2:
        j2.record(c, _finish(c))
    outputs = [os.path.basename(e.output) for e in read_entries(path)]
    assert outputs == ["a.webp", "b.webp", "c.webp"]
    assert Journal(path, resume=True).done_entry(c) is not None


def test_journal_is_not_read_without_resume(tmp_path):
    spec = _spec(tmp_path)
    path = _journal_with(tmp_path, spec)
    assert Journal(path).done_entry(spec) is None
    assert Journal(path, resume=True).owns_output(spec.output_path)


def test_sweep_temp_files(tmp_path):
    out = tmp_path / "out" / "sub"
    out.mkdir(parents=True)
    (out / ".a.webp.imagebatch-tmp-1234").write_bytes(b"partial")
    (out / ".b.webp.imagebatch-tmp-99").write_bytes(b"partial")
    (out / "keep.webp").write_bytes(b"real")
    assert sweep_temp_files(str(tmp_path / "out")) == 2
    assert os.listdir(out) == ["keep.webp"]


def test_sweep_for_specs_touches_only_their_temps(tmp_path):
    spec = _spec(tmp_path, "a")
    out = os.path.dirname(spec.output_path)
    os.makedirs(out)
    mine = os.path.join(out, ".a.webp.imagebatch-tmp-1")
    other = os.path.join(out, ".z.webp.imagebatch-tmp-1")
    for p in (mine, other):
        open(p, "wb").close()
    assert sweep_temp_files_for([spec]) == 1
    assert not os.path.exists(mine) and os.path.exists(other)
