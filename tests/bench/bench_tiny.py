"""Scenario (d) of issue 5: 2,000 tiny 64×64 PNG → JPEG.

Target: ``auto`` mode ≥ 1.7× a plain sequential Pillow loop (open, convert,
save). Per-task overhead is what matters here: chunking, a warm pool, and the
cost of the atomic write (temp file, fsync, rename) per output.

Rows: the plain loop (baseline), the runner API per mode on a warm pool,
``auto`` on a cold runner (pool start-up included: the GUI's first batch),
and the real CLI (``--mode auto``).

    python tests/bench/bench_tiny.py [--quick] [--repeats N] [--count N]
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

BASELINE = "plain Pillow loop (baseline)"
SIDE = 64


def build_tiny(folder: Path, count: int) -> list[Path]:
    """``count`` different 64×64 RGB PNGs cut from the bench PNG (made once)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"tiny_{i:05d}.png" for i in range(count)]
    if all(p.exists() for p in paths):
        return paths
    with Image.open(bl.SHARP_PNG) as im:
        big = im.convert("RGB")
    cols = (big.width - SIDE) // 7
    for i, path in enumerate(paths):
        x, y = (i % cols) * 7, (i // cols * 11) % (big.height - SIDE)
        big.crop((x, y, x + SIDE, y + SIDE)).save(path, "PNG")
    return paths


def tiny_pipeline():
    from gui_app.core.specs import OpSpec, Pipeline

    return Pipeline(steps=(OpSpec.make("encode", format="jpeg", quality=85),))


def cold_auto(tasks, out: Path) -> float:
    """A new runner each time: pool start-up is part of the measurement."""
    from gui_app.core.runner import BatchRunner

    runner = BatchRunner(mode="auto")
    try:
        return bl.run_runner(runner, tasks, out)
    finally:
        runner.close()


def main(argv=None) -> dict:
    parser = bl.common_args(__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=None, help="number of tiny files (default 2000, 500 with --quick)")
    args = parser.parse_args(argv)
    repeats = bl.repeats_for(args)
    count = args.count or (500 if args.quick else 2000)
    work = args.workdir / "tiny"
    inputs_dir = work / "inputs"
    inputs = build_tiny(inputs_dir, count)
    bl.warm_cache(inputs)
    print(bl.machine_line())
    print(f"Tiny task: {count} × 64×64 PNG → JPEG q85; best of {repeats}, rows interleaved")

    from gui_app.core.runner import BatchRunner

    naive_out = work / "naive"
    jobs = [(str(p), str(naive_out / (p.stem + ".jpg"))) for p in inputs]
    tasks = bl.make_tasks(inputs, work / "unused", tiny_pipeline(), "jpg")
    contenders = [bl.Contender(bl.Row(BASELINE, count, note="open, convert RGB, save JPEG; 1 process"),
                               lambda: bl.naive_loop(bl.naive_tiny_to_jpeg, jobs),
                               setup=partial(bl.fresh_dir, naive_out))]
    runners = []
    try:
        for label, mode, workers in (("runner API: sequential", "sequential", None),
                                     ("runner API: threads (2)", "threads", 2),
                                     ("runner API: processes (2)", "processes", 2),
                                     ("runner API: auto (warm pool)", "auto", None)):
            seen = bl.ModeListener()
            runner = BatchRunner(mode=mode, workers=workers, listener=seen.listener)
            runners.append(runner)
            out = work / f"runner-{mode}"
            mine = bl.retarget(tasks, out)
            bl.run_runner(runner, mine, out)  # warm-up with the whole batch: same mode as timed

            def after(row, seen=seen):
                row.note = f"chose {seen.mode} × {seen.workers}: {seen.reason}"

            contenders.append(bl.Contender(bl.Row(label, count), partial(bl.run_runner, runner, mine, out),
                                           after=after, worker_pids=lambda runner=runner: list(runner.worker_pids)))
        contenders.append(bl.Contender(bl.Row("runner API: auto (cold: new runner)", count,
                                              note="pool start-up included (the GUI's first batch)"),
                                       partial(cold_auto, bl.retarget(tasks, work / "cold"), work / "cold")))
        cli_out = work / "cli"
        contenders.append(bl.Contender(bl.Row("imagebatch run --mode auto", count,
                                              note="real CLI in a subprocess, start-up included"),
                                       lambda: bl.run_cli(inputs_dir, cli_out, ["--format", "jpeg", "--quality", "85"],
                                                          count)))
        rows = bl.measure_interleaved(contenders, repeats)
    finally:
        for runner in runners:
            runner.close()
    bl.print_table("(d) 2,000 tiny PNG → JPEG", rows, BASELINE)
    checks = {
        "auto (warm) vs plain loop ≥ 1.7×": bl.ratio(rows, "runner API: auto (warm pool)", BASELINE),
        "auto (cold) vs plain loop": bl.ratio(rows, "runner API: auto (cold: new runner)", BASELINE),
        "CLI auto vs plain loop": bl.ratio(rows, "imagebatch run --mode auto", BASELINE),
    }
    print()
    for name, value in checks.items():
        print(f"  {name}: {'n/a' if value is None else f'{value:.2f}'}")
    payload = {"machine": bl.machine_line(), "rows": [r.to_dict() for r in rows], "checks": checks}
    bl.save_json("bench_tiny", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
