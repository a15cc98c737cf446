"""The runner with the real worker in spawn processes: fault hook, limits, orphans.

RELIABILITY.md section B through ``worker.run_chunk`` and its test-only fault
hook (``IMAGEBATCH_TEST_FAULTS=1`` must be in the environment before the pool
spawns its workers: each test builds a fresh runner after setting it).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gui_app.core.plan import make_plan
from gui_app.core.report import load_report
from gui_app.core.runner import BatchListener, BatchRunner
from gui_app.core.scan import scan
from PIL import Image

from gui_app.core import worker
from gui_app.core.specs import Code, Limits, OpSpec, OutputSpec, Pipeline, Status, TaskSpec

from tests.core.test_runner_fakes import process_alive, survivors

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=64),
                     OpSpec.make("encode", format="png")))


class Collect(BatchListener):
    def __init__(self):
        self.results = {}
        self.summary = None

    def file_finished(self, result):
        self.results[os.path.basename(result.input_path)] = result

    def finished(self, summary):
        self.summary = summary


def _inputs(tmp_path, corpus, n, source="formats/hopper.jpg"):
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        shutil.copy(corpus / source, folder / f"img{i:02d}.jpg")
    return folder


def _tasks(folder, out, limits=Limits(), faults=None, pipeline=PIPELINE):
    plan = make_plan(scan([str(folder)]), pipeline, OutputSpec(out_dir=str(out)), limits)
    faults = faults or {}
    tasks = []
    for t in plan.tasks():
        fault = faults.get(os.path.basename(t.input_path))
        tasks.append(t if fault is None else type(t)(**{**t.__dict__, "test_fault": fault}))
    return tasks


@pytest.fixture
def faults_on(monkeypatch):
    monkeypatch.setenv("IMAGEBATCH_TEST_FAULTS", "1")


def _runner(listener, timeout=120.0, **kw):
    return BatchRunner(mode="processes", workers=2, limits=Limits(timeout_s=timeout), listener=listener, **kw)


def test_real_worker_faults_only_hit_their_file(tmp_path, corpus, faults_on):
    folder = _inputs(tmp_path, corpus, 12)
    faults = {"img01.jpg": "sigkill", "img04.jpg": "segfault", "img06.jpg": "raise_unpicklable",
              "img08.jpg": "systemexit", "img10.jpg": "keyboardinterrupt"}
    rec = Collect()
    with _runner(rec, chunk_files=3) as runner:  # chunks: innocent files share a chunk with a crash
        summary = runner.run(_tasks(folder, tmp_path / "out", faults=faults), total=12)
        pool_ok = not runner._pool.broken
    assert rec.results["img01.jpg"].code == Code.WORKER_CRASH
    assert rec.results["img04.jpg"].code == Code.WORKER_CRASH
    for name in ("img06.jpg", "img08.jpg", "img10.jpg"):
        assert rec.results[name].status == Status.FAILED, name  # a per-file error; the batch went on
    assert summary.ok == 7 and summary.failed == 5 and summary.batch_error is None
    assert pool_ok
    outputs = sorted(os.listdir(tmp_path / "out"))
    assert len(outputs) == 7 and not [n for n in outputs if "imagebatch-tmp" in n]


def test_real_worker_hang_times_out(tmp_path, corpus, faults_on):
    folder = _inputs(tmp_path, corpus, 4)
    rec = Collect()
    with _runner(rec, timeout=2.0) as runner:
        summary = runner.run(_tasks(folder, tmp_path / "out", faults={"img02.jpg": "hang"}), total=4)
    assert rec.results["img02.jpg"].code == Code.TIMEOUT
    assert summary.ok == 3


def test_fault_hook_is_off_without_the_variable(tmp_path, corpus, monkeypatch):
    monkeypatch.delenv("IMAGEBATCH_TEST_FAULTS", raising=False)
    folder = _inputs(tmp_path, corpus, 2)
    rec = Collect()
    with _runner(rec) as runner:
        summary = runner.run(_tasks(folder, tmp_path / "out", faults={"img00.jpg": "sigkill"}), total=2)
    assert summary.ok == 2


def test_external_sigkill_of_a_worker_20_files_with_report(tmp_path, corpus, faults_on):
    """The issue's acceptance case: 20 files, one worker killed from outside."""
    folder = _inputs(tmp_path, corpus, 20)
    faults = {f"img{i:02d}.jpg": "slow:0.15" for i in range(20)}

    class KillOnce(Collect):
        killed = None

        def file_finished(self, result):
            super().file_finished(result)
            if self.killed is None and len(self.results) == 6:
                self.killed = runner.worker_pids[-1]
                os.kill(self.killed, signal.SIGKILL)

    rec = KillOnce()
    report = tmp_path / "report.json"
    with _runner(rec, chunk_files=1) as runner:
        summary = runner.run(_tasks(folder, tmp_path / "out", faults=faults), total=20, report=str(report))
    assert rec.killed
    outputs = [n for n in os.listdir(tmp_path / "out") if n.endswith(".png")]
    assert len(outputs) >= 19 and summary.ok == len(outputs) and summary.total == 20
    data = load_report(str(report))
    assert len(data["files"]) == 20
    by_status = {f["input"]: f["status"] for f in data["files"]}
    assert sum(1 for s in by_status.values() if s == "ok") == len(outputs)
    assert all(f["code"] in ("OK", "WORKER_CRASH") for f in data["files"])
    assert data["summary"]["ok"] == len(outputs)


def test_settings_reach_spawn_workers_bomb_is_too_large(tmp_path, corpus):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(corpus / "hostile" / "decompression_bomb.gif", folder / "bomb.gif")
    shutil.copy(corpus / "formats" / "hopper.jpg", folder / "hopper.jpg")
    rec = Collect()
    with _runner(rec) as runner:
        runner.run(_tasks(folder, tmp_path / "out"), total=2)
    assert rec.results["bomb.gif"].code == Code.TOO_LARGE
    assert rec.results["hopper.jpg"].status == Status.OK


def test_lowered_pixel_limit_applies_in_workers(tmp_path, corpus):
    folder = _inputs(tmp_path, corpus, 1, source="camera/gps_DSCN0010.jpg")  # 640×480
    limits = Limits(max_pixels=100_000, timeout_s=60)
    rec = Collect()
    with BatchRunner(mode="processes", workers=1, limits=limits, listener=rec) as runner:
        runner.run(_tasks(folder, tmp_path / "out", limits=limits), total=1)
    assert rec.results["img00.jpg"].code == Code.TOO_LARGE


def test_real_worker_in_threads_and_sequential_modes(tmp_path, corpus):
    folder = _inputs(tmp_path, corpus, 3)
    for mode in ("threads", "sequential"):
        rec = Collect()
        out = tmp_path / f"out-{mode}"
        with BatchRunner(mode=mode, workers=2, listener=rec) as runner:
            summary = runner.run(_tasks(folder, out), total=3)
        assert summary.ok == 3 and len(os.listdir(out)) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_workers_die_when_the_parent_is_sigkilled(tmp_path, corpus):
    folder = _inputs(tmp_path, corpus, 4)
    script = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from gui_app.core.runner import BatchRunner, BatchListener
        from gui_app.core.specs import Limits
        from tests.core.test_runner_worker import _tasks
        from pathlib import Path
        class L(BatchListener):
            def started(self, *a):
                pass
        if __name__ == "__main__":
            r = BatchRunner(mode="processes", workers=2, limits=Limits(timeout_s=600), listener=L())
            tasks = _tasks(Path({str(folder)!r}), Path({str(tmp_path / 'out')!r}),
                           faults={{n: "hang" for n in ("img00.jpg", "img01.jpg", "img02.jpg", "img03.jpg")}})
            r.start(tasks)
            deadline = time.monotonic() + 60
            while len(r.worker_pids) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # the hang tasks reach the workers
            print(" ".join(map(str, r.worker_pids)), flush=True)
            time.sleep(600)
    """)
    env = dict(os.environ, IMAGEBATCH_TEST_FAULTS="1")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, line
        assert all(process_alive(p) for p in pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert survivors(pids) == [], "orphan workers survived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE stand-in for a full disk")
def test_disk_full_stops_early_leaves_no_partial_files_and_resumes(tmp_path, corpus):
    from gui_app.core.journal import Journal
    from tests.core import test_runner_fakes as fakes

    folder = _inputs(tmp_path, corpus, 12)
    out = tmp_path / "out"
    big_png = Pipeline((OpSpec.make("encode", format="png"),))  # 128×128 PNG: well over 4 KiB
    tasks = _tasks(folder, out, pipeline=big_png)
    rec = Collect()
    with BatchRunner(mode="processes", workers=2, listener=rec, chunk_files=1,
                     initializer=fakes.init_worker_with_full_disk) as runner:
        summary = runner.run(tasks, total=12, journal=str(out))
    assert summary.batch_error and "disk is full" in summary.batch_error.lower()
    assert any(r.code == Code.DISK_FULL for r in rec.results.values())
    assert summary.cancelled > 0, "the batch did not stop early"
    assert summary.total == 12 and summary.ok + summary.failed + summary.cancelled == 12
    assert [p.name for p in out.iterdir() if not p.name.startswith(".imagebatch-journal")] == []
    # space freed: a resumed run finishes the batch
    rec = Collect()
    with BatchRunner(mode="processes", workers=2, listener=rec) as runner:
        summary = runner.run(_tasks(folder, out, pipeline=big_png), total=12,
                             journal=Journal(str(out / ".imagebatch-journal.jsonl"), resume=True))
    assert summary.ok == 12 and summary.batch_error is None


def test_threads_mode_a_file_given_up_on_is_never_written_later(tmp_path, monkeypatch):
    """Threads mode cannot stop a late file's thread. It is reported TIMEOUT
    and, when its thread gets to writing after that, nothing is written: no
    output appears after the report said it was not written."""
    monkeypatch.setenv(worker.FAULTS_ENV, "1")
    src = tmp_path / "in"
    src.mkdir()
    out = tmp_path / "out"
    specs = []
    for i in range(3):
        Image.new("RGB", (16, 16), (i * 60, 0, 0)).save(src / f"p{i}.png")
        specs.append(TaskSpec(i + 1, str(src / f"p{i}.png"), str(out / f"p{i}.webp"),
                              Pipeline((OpSpec.make("encode", format="webp"),)),
                              test_fault="slow:1.5" if i == 1 else None))
    runner = BatchRunner(mode="threads", workers=1, limits=Limits(timeout_s=0.3))
    try:
        summary = runner.run(specs, total=3)
    finally:
        runner.close()
    assert (summary.ok, summary.failed) == (2, 1)
    time.sleep(2.5)  # the abandoned thread wakes up and reaches its write meanwhile
    assert sorted(p.name for p in out.iterdir()) == ["p0.webp", "p2.webp"]


def test_libtiffs_own_messages_become_the_files_notes_not_terminal_output(corpus, tmp_path, capfd):
    """libtiff prints to file descriptor 2 by itself; in a worker process that
    goes into the TIFF's result (report, log) instead of the CLI's terminal."""
    name = "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif"
    spec = TaskSpec(1, str(corpus / "hostile" / name), str(tmp_path / "x.png"),
                    Pipeline((OpSpec.make("encode", format="png"),)))
    results = []

    class Keep(BatchListener):
        def file_finished(self, result):
            results.append(result)

    runner = BatchRunner(mode="processes", workers=1, listener=Keep())
    try:
        runner.run([spec], total=1)
    finally:
        runner.close()
    (result,) = results
    assert result.status == Status.FAILED.value
    assert any("TIFFFillStrip" in w for w in result.warnings), result.warnings
    assert "TIFFFillStrip" not in capfd.readouterr().err
