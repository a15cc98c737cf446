"""Scenario (f) of issue 5: memory.

1. Controller memory: ``tracemalloc`` peak of the BatchRunner's dispatch for
   100,000 tasks vs 1,000 (target ≤ 1.2×). The work is a cheap fake task
   function injected through ``BatchRunner(task_fn=...)`` (top level, so spawn
   workers can import it) and the tasks come from a generator, as a streaming
   plan would feed them. Also shown: the same with the tasks handed over as a
   list (what the CLI and the GUI do today), where the list itself grows with N.
2. Worker RSS across a long run of the real JPEG task (1,000 tasks, 300 with
   --quick): VmRSS of every worker sampled from the progress callback;
   "flat" = the peak in the last fifth is within 10 % of the peak in the first fifth.

    python tests/bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402


def fake_chunk(specs):
    """A task function that does no image work (controller cost only)."""
    from gui_app.core.specs import TaskResult

    return [TaskResult(task_id=s.task_id, input_path=s.input_path, output_path=s.output_path,
                       bytes_in=s.input_size, bytes_out=100, width_out=64, height_out=64) for s in specs]


def fake_init(limits=None):
    """No Pillow set-up needed for the fake work."""


def spec_stream(count: int):
    from gui_app.core.specs import Pipeline, OpSpec, TaskSpec

    pipeline = Pipeline(steps=(OpSpec.make("encode", format="jpeg"),))
    for i in range(count):
        yield TaskSpec(task_id=i, input_path=f"/nonexistent/in/img_{i:07d}.png",
                       output_path=f"/nonexistent/out/img_{i:07d}.jpg", pipeline=pipeline,
                       input_size=1000, input_mtime_ns=i)


def controller_peak(mode: str, count: int, as_list: bool) -> tuple[int, float]:
    """(tracemalloc peak bytes during run(), seconds) for ``count`` fake tasks."""
    from gui_app.core.runner import BatchRunner

    runner = BatchRunner(mode=mode, workers=2 if mode != "sequential" else None, task_fn=fake_chunk,
                         initializer=fake_init)
    try:
        runner.run(iter(list(spec_stream(8))), total=8)  # start (and warm) the pool first
        gc.collect()
        tracemalloc.start()
        tasks = list(spec_stream(count)) if as_list else spec_stream(count)
        tracemalloc.reset_peak()  # a list built above stays traced: it is part of what the caller holds
        t = time.perf_counter()
        summary = runner.run(tasks, total=count)
        elapsed = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        if summary.ok != count:
            raise RuntimeError(f"{summary.ok}/{count} ok: {summary.batch_error}")
        return peak, elapsed
    finally:
        runner.close()


def list_peak(count: int) -> int:
    """tracemalloc size of just holding ``count`` TaskSpecs in a list."""
    gc.collect()
    tracemalloc.start()
    tasks = list(spec_stream(count))
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del tasks
    return size


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def worker_rss_run(count: int, work: Path) -> dict:
    from bench_jpeg import jpeg_pipeline
    from gui_app.core.runner import BatchListener, BatchRunner
    from gui_app.core.specs import TaskSpec

    inputs = bl.build_copies(bl.SHARP_JPEG, 120, work / "jpeg" / "inputs")
    out = bl.fresh_dir(work / "memory-rss")
    pipeline = jpeg_pipeline()
    size = inputs[0].stat().st_size
    tasks = (TaskSpec(task_id=i, input_path=str(inputs[i % len(inputs)]), output_path=str(out / f"o_{i:05d}.jpg"),
                      pipeline=pipeline, overwrite="overwrite", input_size=size) for i in range(count))
    samples: list[tuple[int, int]] = []  # (done, total RSS KiB of the workers)
    holder: dict = {}

    class Sampler(BatchListener):
        def progress(self, p):
            pids = holder["runner"].worker_pids
            values = [rss_kib(pid) for pid in pids]
            if values and all(v is not None for v in values):
                samples.append((p.done, max(values)))

    runner = BatchRunner(mode="processes", workers=2, listener=Sampler())
    holder["runner"] = runner
    try:
        summary = runner.run(tasks, total=count)
    finally:
        runner.close()
    if summary.ok != count:
        raise RuntimeError(f"{summary.ok}/{count} ok")
    fifth = max(1, count // 5)
    early = [rss for done, rss in samples if done <= fifth]
    late = [rss for done, rss in samples if done >= count - fifth]
    return {"samples": len(samples), "early_peak_kib": max(early) if early else None,
            "late_peak_kib": max(late) if late else None, "seconds": summary.seconds,
            "first": samples[0] if samples else None, "last": samples[-1] if samples else None}


def main(argv=None) -> dict:
    args = bl.common_args(__doc__.splitlines()[0]).parse_args(argv)
    print(bl.machine_line())
    small, big = 1_000, (20_000 if args.quick else 100_000)
    results = {}
    print(f"\n## (f) controller memory (tracemalloc peak during run(); fake task function)")
    for mode in ("sequential", "processes"):
        for as_list in (False, True):
            a, ta = controller_peak(mode, small, as_list)
            b, tb = controller_peak(mode, big, as_list)
            how = "list" if as_list else "generator"
            results[f"{mode}/{how}"] = {"small": a, "big": b, "ratio": b / a}
            print(f"  {mode:<10} tasks as a {how:<9}: {small:>7,} tasks {a / 1024:9.1f} KiB ({ta:5.1f} s) | "
                  f"{big:>7,} tasks {b / 1024:9.1f} KiB ({tb:5.1f} s) | ratio {b / a:6.2f}x")
    print(f"  (for scale: a list of {big:,} TaskSpecs alone holds {list_peak(big) / 2**20:.1f} MiB)")
    count = 300 if args.quick else 1000
    print(f"\n## (f) worker RSS across a {count}-image run (JPEG task, processes × 2)")
    rss = worker_rss_run(count, args.workdir)
    growth = (rss["late_peak_kib"] / rss["early_peak_kib"]) if rss["early_peak_kib"] else None
    print(f"  worker peak RSS, first fifth: {rss['early_peak_kib'] / 1024:.1f} MiB; last fifth: "
          f"{rss['late_peak_kib'] / 1024:.1f} MiB; growth {growth:.3f}x ({rss['samples']} samples, "
          f"{rss['seconds']:.1f} s)")
    checks = {
        f"controller {big:,} vs {small:,} tasks, processes, streaming (≤ 1.2×)": results["processes/generator"]["ratio"],
        f"controller {big:,} vs {small:,} tasks, sequential, streaming (≤ 1.2×)": results["sequential/generator"]["ratio"],
        f"controller {big:,} vs {small:,} tasks handed over as a list": results["processes/list"]["ratio"],
        "worker RSS growth last/first fifth (≤ 1.10)": growth,
    }
    print()
    for name, value in checks.items():
        print(f"  {name}: {'n/a' if value is None else f'{value:.2f}'}")
    payload = {"machine": bl.machine_line(), "controller": results, "worker_rss": rss, "checks": checks}
    bl.save_json("bench_memory", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
