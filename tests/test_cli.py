"""``imagebatch`` CLI: commands, flags over presets, exit codes, dry run, corpus run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gui_app import cli
from gui_app.core.report import load_report

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def outputs(folder: Path) -> list[Path]:
    """Files written in a folder (not our hidden journal)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_version_is_light():
    """--version never imports Pillow or Qt (it must be fast)."""
    code = ("import sys\nfrom gui_app.__main__ import main\nrc = main(['--version'])\n"
            "heavy = [m for m in ('PIL', 'PySide6', 'gui_app.core.runner', 'concurrent.futures.process')"
            " if m in sys.modules]\nprint('HEAVY', heavy)\nsys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("imagebatch ")
    assert "HEAVY []" in proc.stdout


def test_version_via_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "gui_app", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip().startswith("imagebatch 0.")


def test_presets_and_ops_lists():
    code, out, _ = run_cli("presets")
    assert code == 0 and "web" in out and "responsive-web" in out
    code, out, _ = run_cli("ops")
    assert code == 0
    for name in ("resize", "encode", "metadata", "auto_orient"):
        assert f"\n{name} " in "\n" + out
    assert "long_edge" in out


def test_help_and_usage_errors():
    code, out, _ = run_cli("help")
    assert code == 0 and "run" in out
    assert run_cli("run")[0] == 2  # missing inputs and -o
    assert run_cli("run", "x", "-o", "y", "--quality", "abc")[0] == 2
    assert run_cli("run", "x", "-o", "y", "--long-edge", "10", "--fit", "5x5")[0] == 2


def test_missing_input_and_bad_preset_are_exit_2(tmp_path):
    code, _, err = run_cli("run", str(tmp_path / "nope"), "-o", str(tmp_path / "out"))
    assert code == 2 and "not found" in err
    (tmp_path / "in").mkdir()
    code, _, err = run_cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", "no-such-preset")
    assert code == 2 and "no-such-preset" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "steps": [{"op": "resize", "long_edge": "huge"}]}))
    code, _, err = run_cli("run", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--preset", str(bad))
    assert code == 2 and "long_edge" in err
    assert err.count("error") == 1


def test_output_folder_not_creatable_is_one_clear_error(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("run", str(src), "-o", str(blocker / "sub"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "not a folder" in err
    assert out == ""


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "camera/Canon_40D.jpg")
    out_dir = tmp_path / "out"
    code, out, _ = run_cli("run", str(src), "-o", str(out_dir), "--format", "webp", "--dry-run")
    assert code == 0
    assert "Canon_40D.webp" in out and "hopper.webp" in out
    assert "rename" in out  # hopper.jpg + hopper.png -> the same name: a collision, shown
    assert not out_dir.exists()


def test_flags_override_the_preset(tmp_path, copy_corpus):
    src = copy_corpus("camera/gps_DSCN0010.jpg")  # 640x480 with GPS
    out_dir = tmp_path / "out"
    # "email" is JPEG with all metadata removed; override the size and the format
    code, out, err = run_cli("run", str(src), "-o", str(out_dir), "--preset", "email",
                             "--long-edge", "200", "--format", "png", "-q")
    assert code == 0, err
    assert out == ""  # --quiet
    (result,) = outputs(out_dir)
    assert result.suffix == ".png"
    with Image.open(result) as im:
        assert max(im.size) == 200


def test_template_overwrite_keep_dates_and_strip(tmp_path, copy_corpus):
    src = copy_corpus("camera/gps_DSCN0010.jpg")
    out_dir = tmp_path / "out"
    args = ("run", str(src), "-o", str(out_dir), "--template", "{stem}_small", "--scale", "50",
            "--strip", "gps", "--keep-dates", "--format", "jpeg", "-q")
    assert run_cli(*args)[0] == 0
    target = out_dir / "gps_DSCN0010_small.jpg"
    assert target.stat().st_mtime_ns == (src / "gps_DSCN0010.jpg").stat().st_mtime_ns
    with Image.open(target) as im:
        assert im.size == (320, 240)
        assert not im.getexif().get_ifd(0x8825)  # no GPS
    # second run: the default policy skips the existing output (exit 0, untouched)
    before = target.stat().st_mtime_ns
    code, out, _ = run_cli(*args[:-1])
    assert code == 0 and "skipped" in out
    assert target.stat().st_mtime_ns == before
    code, _, _ = run_cli(*args, "--overwrite", "rename")
    assert code == 0
    assert [p.name for p in outputs(out_dir)] == [
        "gps_DSCN0010_small (1).jpg", "gps_DSCN0010_small.jpg"]


def test_sequential_threads_processes_give_identical_outputs(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "camera/Canon_40D.jpg", "formats/transparent.png")
    digests = []
    for mode in ("sequential", "threads", "processes"):
        out_dir = tmp_path / mode
        code, _, err = run_cli("run", str(src), "-o", str(out_dir), "--mode", mode, "--workers", "2",
                               "--long-edge", "50", "--format", "webp", "-q")
        assert code == 0, err
        digests.append({p.name: p.read_bytes() for p in outputs(out_dir)})
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) == 3


def test_corpus_run_reports_every_file_and_exits_1(tmp_path, corpus):
    """The issue's acceptance case: every good file processed, every hostile one reported with its code."""
    out_dir = tmp_path / "OUT"
    report = tmp_path / "r.json"
    code, out, err = run_cli("run", str(corpus), "-o", str(out_dir), "--report", str(report),
                             "--long-edge", "128", "--workers", "2")
    assert code == 1, err
    data = load_report(str(report))
    files = {os.path.relpath(f["input"], corpus): f for f in data["files"]}
    good = [p for p in files if not p.startswith("hostile")]
    assert good and all(files[p]["status"] == "ok" for p in good), [
        (p, files[p]["code"]) for p in good if files[p]["status"] != "ok"]
    expected = {
        "hostile/decompression_bomb.gif": "TOO_LARGE",
        "hostile/empty.jpg": "UNSUPPORTED_FORMAT",
        "hostile/text_named.jpg": "UNSUPPORTED_FORMAT",
        "hostile/spoofed_eps.jpg": "UNSUPPORTED_FORMAT",
        "hostile/spoofed_psd.png": "UNSUPPORTED_FORMAT",
        "hostile/truncated_jpeg.jpg": "TRUNCATED",
    }
    for path, code_name in expected.items():
        assert files[path]["code"] == code_name, (path, files[path])
    failed = [p for p, f in files.items() if f["status"] == "failed"]
    assert failed and all(p.startswith("hostile/") for p in failed)
    assert all(files[p]["message"] for p in failed)
    # the failures are listed with their reasons
    for p in failed:
        assert os.path.basename(p) in err
    assert data["summary"]["failed"] == len(failed)
    assert data["summary"]["total"] == len(files)
    written = outputs(out_dir)
    assert len(written) == data["summary"]["ok"]
    assert not [p for p in out_dir.rglob("*imagebatch-tmp*")]


def test_csv_report(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "hostile/empty.jpg")
    report = tmp_path / "r.csv"
    code, _, _ = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--report", str(report), "-q")
    assert code == 1
    rows = {os.path.basename(r["input"]): r for r in load_report(str(report))["files"]}
    assert rows["hopper.jpg"]["status"] == "ok" and rows["empty.jpg"]["code"] == "UNSUPPORTED_FORMAT"


def test_bad_report_extension_is_exit_2(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg")
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--report", str(tmp_path / "r.txt"))
    assert code == 2 and ".json or .csv" in err
    assert not (tmp_path / "out").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--report", str(blocker / "r.json"))
    assert code == 2 and "cannot write the report" in err
    assert not (tmp_path / "out").exists()


def test_dask_mode_without_dask_is_a_clear_batch_error(tmp_path, copy_corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    src = copy_corpus("formats/hopper.jpg")
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--mode", "dask", "-q")
    assert code == 2 and "imagebatch[cluster]" in err
    assert outputs(tmp_path / "out") == []


def test_scheduler_needs_dask_mode(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg")
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--scheduler", "tcp://x:1")
    assert code == 2 and "--mode dask" in err


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "camera/Canon_40D.jpg")
    tty = FakeTerminal()
    code = cli.main(["run", str(src), "-o", str(tmp_path / "a"), "--mode", "sequential", "--format", "webp"],
                    stdout=io.StringIO(), stderr=tty)
    assert code == 0
    text = tty.getvalue()
    assert "\r[" in text and "img/s" in text and "ETA" in text and "3/3" in text
    assert "mode: sequential" in text
    plain = io.StringIO()
    code = cli.main(["run", str(src), "-o", str(tmp_path / "b"), "--mode", "sequential", "--format", "webp"],
                    stdout=io.StringIO(), stderr=plain)
    assert code == 0 and plain.getvalue() == ""


def test_temp_files_of_a_killed_run_are_swept_on_start(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg")
    out_dir = tmp_path / "out"
    (out_dir / "sub").mkdir(parents=True)
    stale = [out_dir / ".hopper.jpg.imagebatch-tmp-1a2b3c4d", out_dir / "sub" / ".x.webp.imagebatch-tmp-99"]
    for p in stale:
        p.write_bytes(b"partial write of a killed run")
    (out_dir / "keep.txt").write_text("not ours")
    assert run_cli("run", str(src), "-o", str(out_dir), "-q")[0] == 0
    assert not any(p.exists() for p in stale)
    assert (out_dir / "keep.txt").exists() and (out_dir / "hopper.jpg").exists()


def test_presets_lists_user_presets_and_warns_about_broken_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEBATCH_CONFIG_DIR", str(tmp_path))
    from gui_app.core import presets

    folder = presets.user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.json").write_text(json.dumps({"name": "mine", "description": "my own",
                                                  "steps": [{"op": "grayscale"}]}))
    (folder / "broken.json").write_text("{not json")
    code, out, err = run_cli("presets")
    assert code == 0
    assert "mine" in out and "user" in out and "my own" in out
    assert "broken.json" in err and "ignored" in err


def test_fan_out_preset_writes_every_variant_and_refuses_one_size(tmp_path, copy_corpus):
    src = copy_corpus("camera/Reconyx_HC500_Hyperfire.jpg")
    out_dir = tmp_path / "out"
    code, _, err = run_cli("run", str(src), "-o", str(out_dir), "--preset", "responsive-web", "--long-edge", "100")
    assert code == 2 and "several sizes" in err
    code, _, err = run_cli("run", str(src), "-o", str(out_dir), "--preset", "responsive-web", "-q")
    assert code == 0, err
    names = [p.name for p in outputs(out_dir)]
    assert len(names) >= 3 and len({Image.open(p).size for p in outputs(out_dir)}) >= 3, names


def _run_recording(monkeypatch, *args):
    """Run the CLI; returns (exit code, what BatchRunner.run was given: (list?, total))."""
    from gui_app.core.runner import BatchRunner

    handed = []
    real_run = BatchRunner.run

    def recording_run(self, tasks, total=None, **kwargs):
        handed.append((isinstance(tasks, list), total))
        return real_run(self, tasks, total=total, **kwargs)

    monkeypatch.setattr(BatchRunner, "run", recording_run)
    code, _, err = run_cli(*args)
    monkeypatch.undo()
    return code, handed, err


def _report_rows(path):
    return sorted((os.path.basename(f["input"]), f["status"], f["code"], os.path.basename(f["output"] or ""))
                  for f in load_report(str(path))["files"])


def test_a_big_batch_is_streamed_into_the_runner_with_the_same_plan_and_report(tmp_path, copy_corpus, monkeypatch):
    """Above KEEP_SCAN_ENTRIES files the plan is not held in a list; the
    collisions, the skips by policy and the report are exactly the same."""
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "camera/Canon_40D.jpg", "hostile/empty.jpg",
                      "orientation/Landscape_6.jpg")
    results = {}
    for how, keep in (("list", 5_000), ("streamed", 2)):
        out_dir = tmp_path / how
        out_dir.mkdir()
        (out_dir / "Canon_40D.webp").write_bytes(b"someone else's file")  # policy skip
        monkeypatch.setattr(cli, "KEEP_SCAN_ENTRIES", keep)
        code, handed, err = _run_recording(monkeypatch, "run", str(src), "-o", str(out_dir), "--format", "webp",
                                           "--long-edge", "64", "--mode", "sequential",
                                           "--report", str(tmp_path / f"{how}.json"), "-q")
        assert code == 1, err  # empty.jpg fails
        results[how] = (handed, _report_rows(tmp_path / f"{how}.json"), [p.name for p in outputs(out_dir)])
    assert results["list"][0] == [(True, 5)] and results["streamed"][0] == [(False, 5)]
    assert results["list"][1:] == results["streamed"][1:]
    rows = results["streamed"][1]
    assert ("Canon_40D.jpg", "skipped", "SKIPPED_EXISTING", "Canon_40D.webp") in rows
    assert sorted(r[3] for r in rows if r[0].startswith("hopper")) == ["hopper (1).webp", "hopper.webp"]


def test_a_streamed_batch_starts_processing_before_it_is_fully_planned(tmp_path, copy_corpus, monkeypatch):
    from gui_app.core import plan as planning
    from gui_app.core import worker

    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "formats/hopper.gif", "formats/hopper.bmp")
    events = []
    real_plan_entry, real_run_task = planning._Planner.plan_entry, worker.run_task

    def plan_entry(self, entry):
        events.append("plan")
        yield from real_plan_entry(self, entry)

    def run_task(spec):
        events.append("run")
        return real_run_task(spec)

    monkeypatch.setattr(planning._Planner, "plan_entry", plan_entry)
    monkeypatch.setattr(worker, "run_task", run_task)
    monkeypatch.setattr(cli, "KEEP_SCAN_ENTRIES", 1)
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--format", "png", "--mode", "sequential", "-q")
    assert code == 0, err
    assert events.count("plan") == 4 and events.count("run") == 4
    assert events.index("run") < len(events) - 1 - events[::-1].index("plan")  # a file ran before the last was planned


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names the flushed files through /proc")
def test_outputs_are_flushed_one_by_one_only_with_durable(tmp_path, copy_corpus, monkeypatch):
    from gui_app.core import worker

    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png", "camera/Canon_40D.jpg")
    flushed = []  # outputs flushed (the journal's own flush at the end of a batch is not counted)
    real_fsync = os.fsync

    def fsync(fd):
        if worker.TEMP_MARKER in os.readlink(f"/proc/self/fd/{fd}"):
            flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(worker.os, "fsync", fsync)
    assert run_cli("run", str(src), "-o", str(tmp_path / "fast"), "--format", "png", "--mode", "sequential", "-q")[0] == 0
    assert flushed == [] and len(outputs(tmp_path / "fast")) == 3
    assert run_cli("run", str(src), "-o", str(tmp_path / "safe"), "--format", "png", "--mode", "sequential",
                   "--durable", "-q")[0] == 0
    assert len(flushed) == 3 and len(outputs(tmp_path / "safe")) == 3


def test_png_filter_none_flag(tmp_path, copy_corpus):
    import zlib

    from gui_app.core.ops import encode as encode_ops

    src = copy_corpus("formats/transparent.png")
    code, _, err = run_cli("run", str(src), "-o", str(tmp_path / "out"), "--format", "png", "--png-filter", "none",
                           "--mode", "sequential", "-q")
    assert code == 0, err
    data = (tmp_path / "out" / "transparent.png").read_bytes()
    rows = zlib.decompress(b"".join(body for kind, body in encode_ops._png_chunks(data) if kind == b"IDAT"))
    stride = 1 + 200 * 4
    assert {rows[y * stride] for y in range(150)} == {0}
    with Image.open(src / "transparent.png") as original, Image.open(tmp_path / "out" / "transparent.png") as written:
        assert written.tobytes() == original.convert("RGBA").tobytes()
