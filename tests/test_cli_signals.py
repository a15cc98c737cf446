"""The CLI under signals (RELIABILITY.md section E): Ctrl+C / SIGTERM, SIGKILL then --resume.

Each test runs ``python -m gui_app run …`` as a real subprocess with real
photos (copies of an 8-megapixel corpus JPEG made into 2000 px WebP files, a
few tenths of a second each), interrupts it, and inspects what is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.test_runner_fakes import child_pids, survivors

ROOT = Path(__file__).resolve().parents[1]
ARGS = ("--long-edge", "2000", "--format", "webp", "--mode", "processes", "--workers", "2")


def _inputs(tmp_path: Path, corpus: Path, n: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(n):
        shutil.copy(corpus / "camera" / "jolla.jpg", folder / f"photo{i:02d}.jpg")
    return folder


def _start(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gui_app", "run", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _outputs(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*imagebatch-tmp*")] if folder.exists() else []


def _wait_for_outputs(folder: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(_outputs(folder)) < n:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_exits_quickly_without_orphans_or_temps(tmp_path, corpus, sig):
    src = _inputs(tmp_path, corpus, 16)
    out = tmp_path / "out"
    report = tmp_path / "r.json"
    proc = _start(str(src), "-o", str(out), "--report", str(report), *ARGS)
    try:
        _wait_for_outputs(out, 1, proc)
        workers = child_pids(proc.pid)
        assert len(workers) >= 2
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert took < 5.0, f"took {took:.1f} s to stop"
    assert survivors(workers, 2.0) == [], "orphan worker processes"
    assert _temps(out) == []
    assert "interrupted" in stderr and "--resume" in stderr
    data = json.loads(report.read_text())
    summary = data["summary"]
    assert summary["total"] == 16 == len(data["files"])
    assert summary["ok"] + summary["failed"] + summary["cancelled"] == 16
    assert summary["cancelled"] > 0
    assert len(_outputs(out)) == summary["ok"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_sigkill_at_half_then_resume_gives_identical_outputs(tmp_path, corpus):
    n = 8
    src = _inputs(tmp_path, corpus, n)
    reference = tmp_path / "reference"
    ref = subprocess.run([sys.executable, "-m", "gui_app", "run", str(src), "-o", str(reference), *ARGS, "-q"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    expected = {p.name: p.read_bytes() for p in _outputs(reference)}
    assert len(expected) == n

    out = tmp_path / "out"
    proc = _start(str(src), "-o", str(out), *ARGS)
    try:
        _wait_for_outputs(out, n // 2, proc)
        workers = child_pids(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert survivors(workers, 5.0) == [], "workers outlived the killed app"
    done_before = {p.name: p.stat().st_mtime_ns for p in _outputs(out)}
    assert n // 2 <= len(done_before) < n, "kill the run in the middle"
    journal = out / ".imagebatch-journal.jsonl"
    journaled = {Path(json.loads(line)["output"]).name for line in journal.read_text().splitlines()
                 if line.endswith("}")}

    report = tmp_path / "resume.json"
    resumed = subprocess.run([sys.executable, "-m", "gui_app", "run", str(src), "-o", str(out), *ARGS,
                              "--resume", "--report", str(report)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert {p.name: p.read_bytes() for p in _outputs(out)} == expected
    assert _temps(out) == []
    for name, mtime in done_before.items():  # finished files were not redone
        assert (out / name).stat().st_mtime_ns == mtime, name
    files = {Path(f["input"]).name: f for f in json.loads(report.read_text())["files"]}
    redone = [name for name, f in files.items() if f["status"] == "ok"]
    assert len(redone) == n - len(done_before)
    for name in journaled:
        stem = name.rsplit(".", 1)[0]
        assert files[stem + ".jpg"]["status"] == "skipped"


def test_resume_redoes_changed_settings_inputs_and_deleted_outputs(tmp_path, corpus):
    from gui_app import cli

    src = tmp_path / "in"
    src.mkdir()
    for name in ("hopper.jpg", "hopper.png", "hopper.gif"):
        shutil.copy(corpus / "formats" / name, src / name.replace("hopper", name.split(".")[1]))
    out = tmp_path / "out"
    base = ["run", str(src), "-o", str(out), "--format", "webp", "--mode", "sequential", "-q"]

    def run(*extra):
        report = tmp_path / "r.json"
        code = cli.main(base + list(extra) + ["--report", str(report)])
        assert code == 0
        return {Path(f["input"]).name: f["status"] for f in json.loads(report.read_text())["files"]}

    assert set(run("--quality", "80").values()) == {"ok"}
    assert set(run("--quality", "80", "--resume").values()) == {"skipped"}
    first = (out / "jpg.webp").read_bytes()
    # settings changed: everything is redone (and may overwrite its own earlier output)
    assert set(run("--quality", "30", "--resume").values()) == {"ok"}
    assert (out / "jpg.webp").read_bytes() != first
    # one output deleted, one input changed: only those two are redone
    (out / "png.webp").unlink()
    os.utime(src / "gif.gif", ns=(10**18, 10**18))
    assert run("--quality", "30", "--resume") == {"jpg.jpg": "skipped", "png.png": "ok", "gif.gif": "ok"}
    # without --resume the default policy never overwrites existing outputs
    assert set(run("--quality", "50").values()) == {"skipped"}


def test_resume_with_rename_policy_reuses_its_own_earlier_names(tmp_path, corpus):
    """hopper.jpg and hopper.png both become hopper*.webp; a resumed run must not add copies."""
    from gui_app import cli

    src = tmp_path / "in"
    src.mkdir()
    for name in ("hopper.jpg", "hopper.png"):
        shutil.copy(corpus / "formats" / name, src / name)
    out = tmp_path / "out"
    (out).mkdir()
    (out / "hopper.webp").write_bytes(b"someone else's file")  # not ours: never touched
    base = ["run", str(src), "-o", str(out), "--format", "webp", "--overwrite", "rename", "--mode", "sequential",
            "-q"]
    assert cli.main(base) == 0
    first = {p.name: p.read_bytes() for p in _outputs(out)}
    assert len(first) == 3 and first["hopper.webp"] == b"someone else's file"
    report = tmp_path / "r.json"
    assert cli.main(base + ["--resume", "--report", str(report)]) == 0
    assert {p.name: p.read_bytes() for p in _outputs(out)} == first
    assert {f["status"] for f in json.loads(report.read_text())["files"]} == {"skipped"}
    # a settings change redoes both in place, still without new names
    assert cli.main(base + ["--resume", "--quality", "20"]) == 0
    second = {p.name: p.read_bytes() for p in _outputs(out)}
    assert second.keys() == first.keys() and second["hopper.webp"] == b"someone else's file"
    assert all(second[n] != first[n] for n in first if n != "hopper.webp")
