"""Load rows of RELIABILITY.md section D for the runner (slow: run with ``-m slow``).

- 100,000 tasks: bounded window; the controller's memory does not grow with
  the number of files (tracemalloc peak of 1,000 vs 100,000 tasks, streamed
  from a generator, with a cheap fake task function in real worker processes).
- 100k small files in 100 sub-folders: exact counts; cancel answers within 1 s.
- 1 % hostile files mixed into good ones: exactly the expected failures.
- A 300-megapixel JPEG: TOO_LARGE by default; processed when the ceiling is raised.
- A 1 GB folder: worker memory flat from file 100 to file 1000.
"""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc

import pytest

from gui_app.core.plan import make_plan
from gui_app.core.runner import BatchListener, BatchRunner
from gui_app.core.scan import scan
from gui_app.core.specs import Code, Limits, OpSpec, OutputSpec, Pipeline, Status, TaskSpec

from tests.core import test_runner_fakes as fakes

# Load tests: minutes of work on 2 cores, so they get their own harness deadline.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SMALL = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32), OpSpec.make("encode", format="png")))


class Count(BatchListener):
    def __init__(self):
        self.by_code: dict[str, int] = {}
        self.failed_inputs: list[str] = []
        self.summary = None

    def file_finished(self, result):
        self.by_code[result.code] = self.by_code.get(result.code, 0) + 1
        if result.status == Status.FAILED:
            self.failed_inputs.append(result.input_path)

    def finished(self, summary):
        self.summary = summary


def _lazy_specs(n: int):
    pipeline = Pipeline((OpSpec.make("resize", long_edge=100),))
    for i in range(n):
        yield TaskSpec(task_id=i, input_path=f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg",
                       output_path=f"/out/{i // 1000:03d}/IMG_{i:06d}.webp", pipeline=pipeline,
                       input_size=50_000, input_mtime_ns=i)


def _peak_bytes(runner: BatchRunner, n: int) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        summary = runner.run(_lazy_specs(n))  # total unknown: a streaming plan
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.ok == n and summary.total == n
    return peak


def test_controller_memory_is_flat_from_1k_to_100k_tasks():
    runner = BatchRunner(mode="processes", workers=2, listener=Count(), task_fn=fakes.cheap_chunk,
                         initializer=fakes.noop_init, chunk_files=16)
    try:
        runner.run(_lazy_specs(100))  # warm the pool up first
        small = _peak_bytes(runner, 1_000)
        large = _peak_bytes(runner, 100_000)
    finally:
        runner.close()
    print(f"\ncontroller peak: 1k tasks {small / 1024:.0f} KiB, 100k tasks {large / 1024:.0f} KiB")
    assert large < small * 1.5 + 256 * 1024, (small, large)


def _make_tree(root, corpus, folders: int, per_folder: int, hostile_every: int = 0) -> tuple[int, int]:
    good = bad = 0
    sources = [corpus / "camera" / "Canon_40D.jpg", corpus / "formats" / "hopper.png"]
    hostile = [corpus / "hostile" / "empty.jpg", corpus / "hostile" / "text_named.jpg",
               corpus / "hostile" / "truncated_jpeg.jpg"]
    n = 0
    for f in range(folders):
        d = root / f"d{f:03d}"
        d.mkdir(parents=True)
        for i in range(per_folder):
            n += 1
            if hostile_every and n % hostile_every == 0:
                src = hostile[n % len(hostile)]
                bad += 1
            else:
                src = sources[n % len(sources)]
                good += 1
            shutil.copyfile(src, d / f"f{i:05d}{src.suffix}")
    return good, bad


def test_one_percent_hostile_in_10k_good_files(tmp_path, corpus):
    good, bad = _make_tree(tmp_path / "in", corpus, 10, 1010, hostile_every=101)
    out = tmp_path / "out"
    plan = make_plan(scan([str(tmp_path / "in")]), SMALL, OutputSpec(out_dir=str(out)))
    rec = Count()
    with BatchRunner(mode="processes", workers=2, listener=rec) as runner:
        summary = runner.run(plan.tasks(), total=len(plan.tasks()))
    assert summary.ok == good and summary.failed == bad, rec.by_code
    assert all("f" in os.path.basename(p) for p in rec.failed_inputs)
    written = sum(len(files) for _, _, files in os.walk(out))
    assert written == good


def test_100k_small_files_exact_counts_and_fast_cancel(tmp_path, corpus):
    root = tmp_path / "in"
    _make_tree(root, corpus, 100, 1000)
    out = tmp_path / "out"
    output = OutputSpec(out_dir=str(out))

    def tasks():
        from gui_app.core.plan import iter_plan

        for item in iter_plan(scan([str(root)]), SMALL, output):
            yield item.task if item.task is not None else item.result()

    # a cancelled run first: cancel must answer within a second
    rec = Count()
    runner = BatchRunner(mode="processes", workers=2, listener=rec)
    try:
        runner.start(tasks(), total=100_000)
        time.sleep(5)
        t0 = time.monotonic()
        runner.cancel()
        summary = runner.wait(30)
        took = time.monotonic() - t0
        assert summary is not None and summary.cancelled > 0
        assert summary.total == 100_000
        assert took < 1.0 + runner.grace_s, took
        # then the whole batch with resume-free re-run: existing outputs are skipped by policy
        rec2 = Count()
        runner.listener = rec2
        summary2 = runner.run(tasks())
    finally:
        runner.close()
    assert summary2.total == 100_000
    assert summary2.ok + summary2.skipped == 100_000 and summary2.failed == 0
    assert summary2.skipped == summary.ok


def test_300_megapixel_jpeg_too_large_by_default_processed_when_raised(tmp_path):
    from PIL import Image

    big = tmp_path / "in" / "huge.jpg"
    big.parent.mkdir()
    Image.new("RGB", (20_000, 15_000), (90, 120, 200)).save(big, quality=50)
    for limits, expected in ((Limits(), Code.TOO_LARGE), (Limits(max_pixels=400_000_000), Code.OK)):
        out = tmp_path / f"out-{expected}"
        pipeline = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=1000),
                             OpSpec.make("encode", format="jpeg")))
        plan = make_plan(scan([str(big.parent)]), pipeline, OutputSpec(out_dir=str(out)), limits)
        rec = Count()
        with BatchRunner(mode="processes", workers=1, limits=limits, listener=rec) as runner:
            runner.run(plan.tasks(), total=1)
            peak_kib = max(_peak_rss_kib(pid) for pid in runner.worker_pids)
        assert rec.by_code == {expected.value: 1}
        # shrink-on-load: far below the 900 MB a full 300 MP RGB decode would take
        print(f"\n300 MP JPEG, {expected.value}: worker peak RSS {peak_kib // 1024} MiB")
        assert peak_kib < 400 * 1024


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS")


def _peak_rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmHWM")


def test_worker_memory_flat_from_file_100_to_1000(tmp_path, corpus):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(1300):  # 1300 × 0.8 MB 8-megapixel photos: a 1 GB folder
        shutil.copyfile(corpus / "camera" / "jolla.jpg", src / f"p{i:04d}.jpg")
    plan = make_plan(scan([str(src)]), SMALL, OutputSpec(out_dir=str(tmp_path / "out")))
    samples: dict[int, int] = {}

    class Watch(Count):
        def file_finished(self, result):
            super().file_finished(result)
            done = sum(self.by_code.values())
            if done in (100, 1000):
                samples[done] = max(_rss_kib(p) for p in runner.worker_pids)

    rec = Watch()
    runner = BatchRunner(mode="processes", workers=2, listener=rec)
    try:
        runner.run(plan.tasks(), total=1300)
    finally:
        runner.close()
    assert rec.summary.ok == 1300
    print(f"\nworker RSS: file 100 {samples[100]} KiB, file 1000 {samples[1000]} KiB")
    assert samples[1000] < samples[100] * 1.3 + 20_000
