"""Scan → plan → the engine's worker, on real files: the plan's promises hold when files are written."""

from __future__ import annotations

import hashlib
import os
import shutil
import unicodedata
from pathlib import Path

from PIL import Image

from gui_app.core.plan import make_plan, scan_options_for
from gui_app.core.scan import scan
from gui_app.core.specs import Destination, OpSpec, OutputSpec, Pipeline
from gui_app.core.worker import run_task

SMALL_WEBP = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32),
                       OpSpec.make("encode", format="webp", quality=60)))


def run_plan(src: Path, output: OutputSpec, pipeline: Pipeline = SMALL_WEBP):
    plan = make_plan(scan([str(src)], **scan_options_for(output)), pipeline, output)
    return plan, [run_task(task) for task in plan.tasks()]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_output_folder_inside_the_input_run_twice(copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "camera/Canon_40D.jpg")
    output = OutputSpec(out_dir=str(src / "out"), template="{stem}_{width}w")
    plan, results = run_plan(src, output)
    assert [r.code for r in results] == ["OK", "OK", "OK"]
    written = sorted(os.listdir(src / "out"))
    assert written == ["Canon_40D_32w.webp", "hopper_32w (1).webp", "hopper_32w.webp"]
    stamps = {name: os.stat(src / "out" / name).st_mtime_ns for name in written}

    again, results = run_plan(src, output)
    assert [i.action for i in again.items] == ["skip", "skip", "skip"]  # never re-scanned as inputs
    assert results == []
    assert sorted(os.listdir(src / "out")) == written
    assert {n: os.stat(src / "out" / n).st_mtime_ns for n in written} == stamps


def test_collisions_written_as_distinct_files(copy_corpus, tmp_path):
    src = tmp_path / "in"
    copy_corpus("formats/hopper.jpg", dest=src / "x")
    copy_corpus("formats/hopper.png", dest=src / "x")
    copy_corpus("formats/hopper.jpg", dest=src / "y")
    out = tmp_path / "out"
    plan, results = run_plan(src, OutputSpec(out_dir=str(out), keep_structure=False))
    assert all(r.ok for r in results)
    assert sorted(os.listdir(out)) == ["hopper (1).webp", "hopper (2).webp", "hopper.webp"]
    for name in os.listdir(out):
        with Image.open(out / name) as im:
            assert (im.format, max(im.size)) == ("WEBP", 32)


def test_odd_names_are_processed(corpus, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    names = [unicodedata.normalize("NFC", "Café.jpg"), unicodedata.normalize("NFD", "Café.jpg"),
             "-rf.jpg", "📷 🌴.jpg", "CON.jpg", "y" * 251 + ".jpg"]
    for name in names:
        shutil.copy(corpus / "formats" / "hopper.jpg", src / name)
    out = tmp_path / "out"
    plan, results = run_plan(src, OutputSpec(out_dir=str(out)))
    assert [r.code for r in results] == ["OK"] * len(names)
    written = os.listdir(out)
    assert len(written) == len(names)
    assert "_CON.webp" in written and "-rf.webp" in written and "📷 🌴.webp" in written
    assert all(len(n.encode()) <= 255 for n in written)


def test_refused_and_skipped_files_are_left_alone(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    before = {p.name: (digest(p), p.stat().st_mtime_ns) for p in src.iterdir()}
    keep = Pipeline()
    plan, results = run_plan(src, OutputSpec(destination=Destination.BESIDE.value, overwrite="overwrite"), keep)
    assert [i.action for i in plan.items] == ["unsafe", "unsafe"] and results == []
    assert {p.name: (digest(p), p.stat().st_mtime_ns) for p in src.iterdir()} == before


def test_replace_originals_keeps_a_backup(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.jpg")
    original = digest(src / "hopper.jpg")
    backups = tmp_path / "backups"
    output = OutputSpec(destination=Destination.BESIDE.value, replace_originals=True, backup_dir=str(backups))
    shrink = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32),))
    plan, results = run_plan(src, output, shrink)
    assert [r.code for r in results] == ["OK"]
    assert digest(backups / "hopper.jpg") == original
    with Image.open(src / "hopper.jpg") as im:
        assert im.size == (32, 32)


def test_keep_dates_gives_outputs_the_input_mtime(copy_corpus, tmp_path):
    src = copy_corpus("formats/hopper.png")
    os.utime(src / "hopper.png", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    plan, results = run_plan(src, OutputSpec(out_dir=str(tmp_path / "out"), keep_dates=True))
    assert results[0].ok
    assert os.stat(results[0].output_path).st_mtime_ns == 1_600_000_000_123_456_789
