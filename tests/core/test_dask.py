"""The ``dask`` worker mode on a real LocalCluster (2 worker processes, loopback).

One cluster serves the whole module (started by :func:`dask_backend.start_local_cluster`
with the test fault hook switched on in its workers); each runner connects to
it by address, which is also the ``--scheduler tcp://…`` path. One test starts
the runner's own LocalCluster (no address) and checks it is closed again.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from gui_app.core import dask_backend  # noqa: E402
from gui_app.core.executors import WorkerInitError  # noqa: E402
from gui_app.core.journal import Journal  # noqa: E402
from gui_app.core.plan import make_plan  # noqa: E402
from gui_app.core.report import load_report  # noqa: E402
from gui_app.core.runner import BatchListener, BatchRunner  # noqa: E402
from gui_app.core.scan import scan  # noqa: E402
from gui_app.core.specs import Code, Limits, OpSpec, OutputSpec, Pipeline, Status  # noqa: E402
from tests.core.test_runner_fakes import process_alive, survivors  # noqa: E402

PIPELINE = Pipeline((OpSpec.make("auto_orient"), OpSpec.make("resize", mode="long_edge", long_edge=160),
                     OpSpec.make("encode", format="jpeg", quality=80)))
#: Good and hostile corpus files: every code the worker can give, plus two identical inputs.
MIXED = ["camera/Canon_40D.jpg", "camera/jolla.jpg", "camera/gps_DSCN0010.jpg", "formats/hopper.png",
         "formats/transparent.png", "formats/hopper.webp", "formats/iss634.gif", "formats/IMG_5195.HEIC",
         "formats/16bit.cropped.tif", "orientation/Portrait_6.jpg", "hostile/pil_sample_cmyk.jpg"]


class Collect(BatchListener):
    def __init__(self):
        self.results = {}
        self.events = []
        self.summary = None
        self.last_progress = None
        self.lock = threading.Lock()

    def file_finished(self, result):
        with self.lock:
            self.events.append(result)
            self.results[os.path.basename(result.input_path)] = result

    def progress(self, p):
        self.last_progress = p

    def finished(self, summary):
        self.summary = summary


@pytest.fixture(scope="module")
def cluster():
    cluster = dask_backend.start_local_cluster(2, env={"IMAGEBATCH_TEST_FAULTS": "1"})
    client = distributed.Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=60)
        yield cluster, client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory, corpus):
    folder = tmp_path_factory.mktemp("mixed") / "in"
    folder.mkdir()
    for rel in MIXED:
        shutil.copy(corpus / rel, folder / Path(rel).name)
    for path in (corpus / "hostile").iterdir():
        shutil.copy(path, folder / f"hostile_{path.name}")
    shutil.copy(corpus / "formats/hopper.jpg", folder / "same_a.jpg")  # identical inputs: both must run
    shutil.copy(corpus / "formats/hopper.jpg", folder / "same_b.jpg")
    return folder


def _tasks(folder, out, faults=None, **output):
    plan = make_plan(scan([str(folder)]), PIPELINE, OutputSpec(out_dir=str(out), **output), Limits())
    tasks = plan.tasks()
    if faults:
        tasks = [dataclasses.replace(t, test_fault=faults.get(os.path.basename(t.input_path))) for t in tasks]
    return tasks


def _outputs(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(folder).iterdir()
            if p.is_file() and not p.name.startswith(".")} if Path(folder).is_dir() else {}


def _temps(folder) -> list[str]:
    return [n for n in os.listdir(folder) if "imagebatch-tmp" in n] if os.path.isdir(folder) else []


def _dask_runner(cluster, listener, transfer="shared", **kw):
    return BatchRunner(mode="dask", workers=2, listener=listener, dask_scheduler=cluster[0].scheduler_address,
                       transfer=transfer, **kw)


@pytest.fixture(scope="module")
def reference(mixed_inputs, tmp_path_factory):
    """The same batch in processes mode: outputs and per-file codes."""
    out = tmp_path_factory.mktemp("ref") / "out"
    rec = Collect()
    with BatchRunner(mode="processes", workers=2, listener=rec) as runner:
        runner.run(_tasks(mixed_inputs, out))
    return _outputs(out), {name: r.code for name, r in rec.results.items()}


@pytest.mark.parametrize("transfer", ["shared", "bytes"])
def test_outputs_and_codes_equal_processes_mode(cluster, mixed_inputs, reference, tmp_path, transfer, monkeypatch):
    # bytes: chunks over 64 KiB travel by scatter, smaller ones inside the task: both paths run
    monkeypatch.setattr(dask_backend, "SCATTER_BYTES", 64 * 1024)
    ref_outputs, ref_codes = reference
    out = tmp_path / "out"
    rec = Collect()
    report = tmp_path / "report.json"
    with _dask_runner(cluster, rec, transfer) as runner:
        summary = runner.run(_tasks(mixed_inputs, out), report=str(report))
    assert summary.mode == "dask" and summary.batch_error is None
    assert {name: r.code for name, r in rec.results.items()} == ref_codes
    assert len(rec.events) == len(ref_codes)  # every file exactly once
    outputs = _outputs(out)
    assert sorted(outputs) == sorted(ref_outputs)
    for name, data in ref_outputs.items():
        assert outputs[name] == data, f"{name} differs from processes mode ({transfer})"
    assert rec.results["same_a.jpg"].ok and rec.results["same_b.jpg"].ok  # not de-duplicated
    assert ref_codes["hostile_decompression_bomb.gif"] == Code.TOO_LARGE  # the hostile codes are real ones
    assert ref_codes["hostile_truncated_jpeg.jpg"] in (Code.TRUNCATED, Code.CORRUPT)
    data = load_report(str(report))
    assert sorted(f["input"] for f in data["files"]) == sorted(r.input_path for r in rec.events)
    assert data["summary"]["ok"] == len(ref_outputs) and not _temps(out)
    assert rec.last_progress.done == len(ref_codes) == summary.total  # the final progress event


def test_identical_chunks_get_distinct_dask_tasks(cluster, mixed_inputs, tmp_path):
    """pure=False: the very same chunk submitted twice is two Dask tasks, run twice
    (Client.submit and client.get_executor() default to pure=True, which would
    give both the same key and compute it once)."""
    specs = tuple(t for t in _tasks(mixed_inputs, tmp_path / "out", overwrite="overwrite")
                  if os.path.basename(t.input_path) == "same_a.jpg")
    pool = dask_backend.DaskPool(1, cluster[0].scheduler_address)
    keys = []
    try:
        pool.start()
        real_submit = pool.client.submit

        def recording_submit(*args, **kwargs):
            future = real_submit(*args, **kwargs)
            keys.append(future.key)
            return future

        pool.client.submit = recording_submit
        first, second = pool.submit(None, specs), pool.submit(None, specs)
        results = first.result(60) + second.result(60)
    finally:
        pool.shutdown()
    assert len(keys) == 2 and keys[0] != keys[1]
    assert [r.code for r in results] == [Code.OK, Code.OK]


def _workers_back(cluster):
    """Both workers of the module's cluster running again after a test killed
    some. Dask's nanny restarts a killed worker, except one killed while it was
    starting (a race after repeated kills): then its slot is replaced, as the
    pool does for its own cluster."""
    cluster_obj, client = cluster
    try:
        client.wait_for_workers(2, timeout=15)
    except Exception:  # noqa: BLE001
        dask_backend.restore_local_workers(cluster_obj, client, 2)
        client.wait_for_workers(2, timeout=60)


def _slow_inputs(tmp_path, corpus, n, seconds=0.3):
    folder = tmp_path / "in"
    folder.mkdir(parents=True)
    for i in range(n):
        shutil.copy(corpus / "formats/hopper.jpg", folder / f"img{i:02d}.jpg")
    return folder, {f"img{i:02d}.jpg": f"slow:{seconds}" for i in range(n)}


@pytest.mark.parametrize("transfer", ["shared", "bytes"])
def test_worker_killed_mid_batch_loses_nothing(cluster, corpus, tmp_path, transfer):
    client = cluster[1]
    folder, faults = _slow_inputs(tmp_path, corpus, 16)

    class KillOnce(Collect):
        killed = None

        def file_finished(self, result):
            super().file_finished(result)
            if self.killed is None and len(self.events) == 3:
                pid = sorted(client.run(os.getpid).values())[0]
                os.kill(pid, signal.SIGKILL)
                self.killed = pid

    rec = KillOnce()
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    try:
        with _dask_runner(cluster, rec, transfer, chunk_files=2) as runner:
            summary = runner.run(_tasks(folder, out, faults), total=16, report=str(report))
    finally:
        _workers_back(cluster)  # the nanny restarts the killed worker
    assert rec.killed
    assert summary.ok == 16 and summary.total == 16 and summary.failed == 0, [
        (r.input_path, r.code, r.message) for r in rec.events if not r.ok]
    assert sorted(os.path.basename(r.input_path) for r in rec.events) == sorted(faults)  # once each
    data = load_report(str(report))
    assert len(data["files"]) == 16 and {f["status"] for f in data["files"]} == {"ok"}
    outputs = _outputs(out)
    assert len(outputs) == 16 and len(set(outputs.values())) == 1  # all equal to each other
    assert not _temps(out)


def test_cancel_is_exact_and_the_warm_pool_runs_again(cluster, corpus, tmp_path):
    folder, faults = _slow_inputs(tmp_path, corpus, 24)
    out = tmp_path / "out"

    class CancelAfter(Collect):
        def file_finished(self, result):
            super().file_finished(result)
            if len(self.events) == 4:
                runner.cancel()

    rec = CancelAfter()
    runner = _dask_runner(cluster, rec, chunk_files=2, grace_s=20)
    try:
        summary = runner.run(_tasks(folder, out, faults), total=24)
        assert summary.cancelled > 0 and summary.failed == 0
        assert summary.ok + summary.cancelled == 24 and len(rec.events) == 24
        time.sleep(1.0)  # a chunk that went on running would write now
        ok_outputs = {os.path.basename(r.output_path) for r in rec.events if r.ok}
        assert set(_outputs(out)) == ok_outputs and not _temps(out)
        # Same runner, same pool: the cancelled files run now (a fresh stop event).
        rest = [t for t in _tasks(folder, out, faults) if rec.results[os.path.basename(t.input_path)].status
                == Status.CANCELLED]
        again = Collect()
        runner.listener = again
        summary2 = runner.run(rest, total=len(rest))
    finally:
        runner.close()
    assert summary2.ok == len(rest) and len(_outputs(out)) == 24


def test_bytes_transfer_never_touches_files_on_the_workers(cluster, corpus, tmp_path):
    """An audit hook in each worker records every file event under tmp_path."""
    client = cluster[1]
    watched = str(tmp_path)

    def install():
        if not hasattr(sys, "_imagebatch_audit"):
            sys._imagebatch_audit = {"prefix": None, "seen": []}

            def hook(event, args, state=sys._imagebatch_audit):
                prefix = state["prefix"]
                if prefix and any(isinstance(a, str) and a.startswith(prefix) for a in args):
                    state["seen"].append(event)

            sys.addaudithook(hook)
        sys._imagebatch_audit.update(prefix=watched, seen=[])

    def seen():
        events = list(sys._imagebatch_audit["seen"])
        sys._imagebatch_audit.update(prefix=None, seen=[])
        return events

    folder, _ = _slow_inputs(tmp_path, corpus, 6)
    events = {}
    for transfer in ("bytes", "shared"):
        client.run(install)
        with _dask_runner(cluster, Collect(), transfer) as runner:
            summary = runner.run(_tasks(folder, tmp_path / f"out-{transfer}"), total=6)
        assert summary.ok == 6
        events[transfer] = [e for per_worker in client.run(seen).values() for e in per_worker]
    assert events["bytes"] == []
    assert "open" in events["shared"]  # the hook does see the shared mode's reads and writes


def test_without_an_address_a_loopback_cluster_is_started_and_closed(corpus, tmp_path):
    folder, _ = _slow_inputs(tmp_path, corpus, 3)
    rec = Collect()
    runner = BatchRunner(mode="dask", workers=2, listener=rec)
    try:
        summary = runner.run(_tasks(folder, tmp_path / "out"), total=3)
        pool = runner._pool
        cluster, client = pool.cluster, pool.client
        assert cluster is not None and cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in workers)
        assert all(w["nthreads"] == 1 for w in workers.values())
        http = cluster.scheduler.http_server  # health/metrics only, on loopback, no dashboard page
        assert http.address == "127.0.0.1" and http.port != 8787
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(f"http://127.0.0.1:{http.port}/status", timeout=10)
        assert page.value.code == 404
        pids = pool.worker_pids()
        assert pool.cluster_threads() == 2
        assert len(pids) == 2 and os.getpid() not in pids  # worker processes, not threads
    finally:
        runner.close()
    assert summary.ok == 3 and summary.workers == 2
    assert client.status == "closed" and cluster.status.name == "closed"
    assert survivors(pids) == []


def test_unreachable_scheduler_is_one_batch_error(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT_S", 1.0)
    folder, _ = _slow_inputs(tmp_path, corpus, 2)
    rec = Collect()
    with BatchRunner(mode="dask", workers=2, listener=rec, dask_scheduler="tcp://127.0.0.1:9") as runner:
        summary = runner.run(_tasks(folder, tmp_path / "out"), total=2)
    assert summary.batch_error and "tcp://127.0.0.1:9" in summary.batch_error
    assert summary.cancelled == 2 and not (tmp_path / "out").exists()


def test_a_rerun_chunk_reports_the_lost_attempts_output_once_as_ok(corpus, tmp_path):
    """What a chunk re-run after a worker loss finds (in-process, deterministic):
    its own earlier output is OK, anybody else's file is still SKIPPED_EXISTING."""
    folder, _ = _slow_inputs(tmp_path, corpus, 2)
    out = tmp_path / "out"
    tasks = _tasks(folder, out)
    first = dask_backend.run_shared_chunk(tasks[:1], None)  # the "lost" attempt wrote img00
    (out / "img01.jpg").write_bytes(b"somebody else's file")
    before = _outputs(out)
    again = dask_backend.run_shared_chunk(tasks, None)
    assert first[0].ok and again[0].ok and again[0].message == dask_backend.LOST_ATTEMPT_NOTE
    assert again[0].bytes_out == first[0].bytes_out
    assert again[1].code == Code.SKIPPED_EXISTING
    assert _outputs(out) == before  # nothing rewritten


def test_resume_skips_what_an_earlier_dask_run_finished(cluster, corpus, tmp_path):
    folder, _ = _slow_inputs(tmp_path, corpus, 6)
    out = tmp_path / "out"
    tasks = _tasks(folder, out)
    with _dask_runner(cluster, Collect(), "bytes") as runner:
        with Journal.for_output_dir(str(out)) as journal:
            first = runner.run(tasks[:4], total=4, journal=journal)
        assert first.ok == 4
        rec = Collect()
        runner.listener = rec
        with Journal.for_output_dir(str(out), resume=True) as journal:
            second = runner.run(tasks, total=6, journal=journal)
    assert second.skipped == 4 and second.ok == 2
    assert {name for name, r in rec.results.items() if r.ok} == {"img04.jpg", "img05.jpg"}
    assert len(_outputs(out)) == 6


def test_a_file_that_kills_every_worker_is_worker_crash_alone(cluster, corpus, tmp_path):
    """RELIABILITY B: the guilty file WORKER_CRASH, the innocent ones of its chunk OK.
    (Our cluster allows one worker death per task; then the runner isolates the chunk.)"""
    folder, _ = _slow_inputs(tmp_path, corpus, 6)
    rec = Collect()
    try:
        with _dask_runner(cluster, rec, chunk_files=3) as runner:
            summary = runner.run(_tasks(folder, tmp_path / "out", {"img01.jpg": "sigkill"}), total=6)
    finally:
        _workers_back(cluster)
    assert rec.results["img01.jpg"].code == Code.WORKER_CRASH
    assert summary.ok == 5 and summary.failed == 1 and len(rec.events) == 6
    assert len(_outputs(tmp_path / "out")) == 5 and not _temps(tmp_path / "out")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_cluster_workers_die_when_the_app_is_sigkilled(corpus, tmp_path):
    """RELIABILITY E: no orphan worker processes after the app is killed."""
    folder, _ = _slow_inputs(tmp_path, corpus, 12, seconds=1.0)
    root = Path(__file__).resolve().parents[2]
    script = textwrap.dedent(f"""
        import dataclasses, sys
        sys.path.insert(0, {str(root)!r})
        from gui_app.core.plan import make_plan
        from gui_app.core.runner import BatchListener, BatchRunner
        from gui_app.core.scan import scan
        from gui_app.core.specs import Limits, OpSpec, OutputSpec, Pipeline

        class Tell(BatchListener):
            def file_finished(self, result):
                print("PIDS", *runner.worker_pids, flush=True)

        if __name__ == "__main__":  # spawned worker processes import this file too
            pipe = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32),))
            tasks = [dataclasses.replace(t, test_fault="slow:1.0") for t in make_plan(
                scan([{str(folder)!r}]), pipe, OutputSpec(out_dir={str(tmp_path / "out")!r}), Limits()).tasks()]
            runner = BatchRunner(mode="dask", workers=2, listener=Tell())
            runner.run(tasks, total=len(tasks))
    """)
    script_path = tmp_path / "app.py"
    script_path.write_text(script)
    env = {**os.environ, "IMAGEBATCH_TEST_FAULTS": "1"}
    proc = subprocess.Popen([sys.executable, str(script_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()[1:]]
        assert line.startswith("PIDS") and len(pids) == 2 and all(process_alive(p) for p in pids)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert survivors(pids, timeout=20) == []


def test_bytes_transfer_replace_originals_keeps_a_backup_and_the_dates(cluster, corpus, tmp_path):
    """The controller-side write honours the same flow as the worker's own."""
    results = {}
    for mode in ("sequential", "dask"):
        folder, _ = _slow_inputs(tmp_path / mode, corpus, 2)
        stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
        output = OutputSpec(destination="beside", replace_originals=True, backup_dir=str(tmp_path / mode / "backup"),
                            overwrite="overwrite", keep_dates=True)
        tasks = make_plan(scan([str(folder)]), PIPELINE, output, Limits()).tasks()
        assert all(t.backup_path for t in tasks)
        runner = (_dask_runner(cluster, Collect(), "bytes") if mode == "dask"
                  else BatchRunner(mode="sequential", listener=Collect()))
        with runner:
            assert runner.run(tasks, total=2).ok == 2
        backup = tmp_path / mode / "backup"
        assert {p.name: p.read_bytes() for p in backup.iterdir()} == {
            n: (corpus / "formats/hopper.jpg").read_bytes() for n in stamps}
        assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps  # keep dates
        results[mode] = _outputs(folder)
    assert results["dask"] == results["sequential"]


def test_a_rerun_replace_originals_task_finds_its_backup_and_reports_ok(corpus, tmp_path):
    """Shared transfer, "replace originals": the lost attempt made the backup and
    replaced the original; the re-run must not process its own output again."""
    folder, _ = _slow_inputs(tmp_path, corpus, 1)
    output = OutputSpec(destination="beside", replace_originals=True, backup_dir=str(tmp_path / "backup"),
                        overwrite="overwrite")
    tasks = make_plan(scan([str(folder)]), PIPELINE, output, Limits()).tasks()
    first = dask_backend.run_shared_chunk(tasks, None)
    replaced = (folder / "img00.jpg").read_bytes()
    again = dask_backend.run_shared_chunk(tasks, None)
    assert first[0].ok and again[0].ok and again[0].message == dask_backend.LOST_ATTEMPT_NOTE
    assert (folder / "img00.jpg").read_bytes() == replaced
    assert (tmp_path / "backup" / "img00.jpg").read_bytes() == (corpus / "formats/hopper.jpg").read_bytes()


def test_closing_the_pool_stops_a_running_chunk_between_files(cluster, corpus, tmp_path):
    folder, faults = _slow_inputs(tmp_path, corpus, 6, seconds=0.5)
    out = tmp_path / "out"
    pool = dask_backend.DaskPool(1, cluster[0].scheduler_address)
    pool.start()
    try:
        future = pool.submit(None, tuple(_tasks(folder, out, faults)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _outputs(out):
            time.sleep(0.05)
        assert _outputs(out) and not future.done()
    finally:
        pool.shutdown()
    with pytest.raises(WorkerInitError):
        future.result(5)  # the runner's future fails: the pool is gone
    time.sleep(1.5)  # the file being processed when the stop came may still finish
    settled = len(_outputs(out))
    time.sleep(1.5)  # a chunk that went on would write three more files meanwhile
    assert settled == len(_outputs(out)) < 6 and not _temps(out)


def _lose_worker_slots(cluster, count):
    """Make ``count`` nannies give up their worker (as Dask's nanny does when a
    worker dies while starting), then kill those workers."""
    from distributed.core import Status

    for nanny in list(cluster.workers.values())[:count]:
        nanny.status = Status.closing_gracefully  # the nanny will not restart it
        os.kill(nanny.pid, signal.SIGKILL)


def test_own_cluster_replaces_lost_workers_and_never_waits_forever(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(dask_backend, "REPAIR_AFTER_S", 0.5)
    pool = dask_backend.DaskPool(2)
    try:
        pool.start()
        _lose_worker_slots(pool.cluster, 1)
        deadline = time.monotonic() + 60
        time.sleep(1.0)
        while time.monotonic() < deadline and len(pool.client.nthreads()) < 2:
            time.sleep(0.2)
        assert len(pool.client.nthreads()) == 2  # the slot was refilled
        # No repairs now, and no workers at all: a waiting chunk fails the batch instead of hanging.
        monkeypatch.setattr(dask_backend, "REPAIR_AFTER_S", 1e9)
        monkeypatch.setattr(dask_backend, "NO_WORKERS_S", 1.0)
        pool.cluster.scale(0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pool.client.nthreads():
            time.sleep(0.1)
        folder, _ = _slow_inputs(tmp_path, corpus, 1)
        future = pool.submit(None, tuple(_tasks(folder, tmp_path / "out")))
        with pytest.raises(WorkerInitError, match="no workers"):
            future.result(60)
    finally:
        pool.shutdown()
