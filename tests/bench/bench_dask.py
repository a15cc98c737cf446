"""Dask mode against processes mode on one machine: what the cluster path costs.

Two scenarios, each on a warm pool (started by an untimed warm-up run):

(a) sharp's JPEG task: 60 copies of the 2725×2225 bench JPEG → fit 720×588
    Lanczos, JPEG q80 (one file per task: files over 512 KiB are not chunked).
(b) tiny files: 400 copies of a 128×128 JPEG → 64 px PNG, where Dask's
    per-task overhead matters: chunked (the runner's default, up to 16 files
    per Dask task) against one file per Dask task.

Rows: ``processes`` (the baseline), ``dask`` on a loopback LocalCluster with
the same number of worker processes in the ``shared`` and ``bytes`` transfer
modes. Outputs are checked byte-for-byte against processes mode.

    python tests/bench/bench_dask.py [--quick] [--repeats N] [--workers N] [--scheduler tcp://HOST:PORT]

With ``--scheduler`` the dask rows run on that cluster instead (its workers
must see this machine's paths for the shared rows).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

TINY_SOURCE = bl.REPO.parent / "shared" / "corpus" / "formats" / "hopper.jpg"
BASELINE = "processes ({workers})"


def jpeg_pipeline():
    from gui_app.core import presets

    return presets.builtin_presets()["bench-sharp"].pipeline


def tiny_pipeline():
    from gui_app.core.specs import OpSpec, Pipeline

    return Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=64), OpSpec.make("encode", format="png")))


def scenario(name: str, inputs, pipeline, ext: str, work: Path, args, repeats: int, rows_spec) -> list[bl.Row]:
    """Measure each (label, runner kwargs) of ``rows_spec`` interleaved, then
    check every row's outputs equal the baseline's byte for byte."""
    from gui_app.core.runner import BatchRunner

    runners, contenders, outs = [], [], {}
    try:
        for label, kwargs in rows_spec:
            runner = BatchRunner(workers=args.workers, **kwargs)
            runners.append(runner)
            out = work / f"out-{len(outs)}"
            outs[label] = out
            tasks = bl.make_tasks(inputs, out, pipeline, ext)
            bl.run_runner(runner, tasks[: max(4, len(tasks) // 10)], out)  # warm-up: start the pool
            contenders.append(bl.Contender(bl.Row(label, len(tasks), note=_note(kwargs)),
                                           partial(bl.run_runner, runner, tasks, out)))
        rows = bl.measure_interleaved(contenders, repeats)
    finally:
        for runner in runners:
            runner.close()
    base_label = rows_spec[0][0]
    reference = {p.name: p.read_bytes() for p in outs[base_label].iterdir()}
    for label, out in outs.items():
        got = {p.name: p.read_bytes() for p in out.iterdir()}
        same = got == reference
        row = next(r for r in rows if r.name == label)
        row.extra["same bytes"] = "yes" if same else "NO"
    bl.print_table(name, rows, base_label)
    return rows


def _note(kwargs: dict) -> str:
    if kwargs.get("mode") != "dask":
        return "ProcessPoolExecutor, spawn"
    where = kwargs.get("dask_scheduler") or "LocalCluster 127.0.0.1"
    chunk = kwargs.get("chunk_files")
    return f"{where}, transfer={kwargs.get('transfer')}" + (f", {chunk} file(s) per Dask task" if chunk else "")


def main(argv=None) -> dict:
    parser = bl.common_args(__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=None, help="run the dask rows on this cluster")
    args = parser.parse_args(argv)
    repeats = bl.repeats_for(args)
    work = args.workdir / "dask"
    w = args.workers
    dask = dict(mode="dask", dask_scheduler=args.scheduler)
    print(bl.machine_line())
    print(f"best of {repeats}, rows interleaved round by round; {w} workers everywhere")

    jpeg_count = 20 if args.quick else 60
    jpeg_inputs = bl.build_copies(bl.SHARP_JPEG, jpeg_count, work / "jpeg-inputs")
    bl.warm_cache(jpeg_inputs)
    base = BASELINE.format(workers=w)
    jpeg_rows = scenario(
        f"(a) {jpeg_count} × sharp JPEG → fit 720×588, JPEG q80", jpeg_inputs, jpeg_pipeline(), "jpg",
        work / "jpeg", args, repeats,
        [(base, dict(mode="processes")),
         (f"dask shared ({w})", dict(dask, transfer="shared")),
         (f"dask bytes ({w})", dict(dask, transfer="bytes"))])

    tiny_count = 150 if args.quick else 400
    tiny_inputs = bl.build_copies(TINY_SOURCE, tiny_count, work / "tiny-inputs")
    bl.warm_cache(tiny_inputs)
    tiny_rows = scenario(
        f"(b) {tiny_count} × 128×128 JPEG → 64 px PNG (per-task overhead)", tiny_inputs, tiny_pipeline(), "png",
        work / "tiny", args, repeats,
        [(base, dict(mode="processes")),
         (f"dask shared ({w}), chunked", dict(dask, transfer="shared")),
         (f"dask bytes ({w}), chunked", dict(dask, transfer="bytes")),
         (f"dask shared ({w}), 1 file per task", dict(dask, transfer="shared", chunk_files=1))])

    print("\n## dask / processes (images/s ratio; 1.00 = no overhead)")
    ratios = {}
    for title, rows in (("jpeg", jpeg_rows), ("tiny", tiny_rows)):
        for row in rows[1:]:
            value = bl.ratio(rows, row.name, base)
            ratios[f"{title}: {row.name}"] = value
            print(f"  {title:<5} {row.name:<36} {value:.2f}" if value else f"  {title:<5} {row.name:<36} -")
    payload = {"machine": bl.machine_line(), "jpeg": [r.to_dict() for r in jpeg_rows],
               "tiny": [r.to_dict() for r in tiny_rows], "ratios": ratios}
    print(f"saved {bl.save_json('bench_dask', payload, args.workdir)}")
    return payload


if __name__ == "__main__":
    main()
