"""Scenario (a) and (c) of issue 5: sharp's JPEG task, and parallel efficiency.

sharp's benchmark: decompress a 2725×2225 JPEG, resize to 720×588 with
Lanczos3, compress to JPEG quality 80; 120 copies (30 with --quick).

Rows: the naive sequential Pillow loop (baseline), the same loop in a
2-process pool, the real ``imagebatch run`` CLI in a subprocess (start-up
included), the runner API per worker mode on a warm pool, 1 vs 2 worker
processes, and sharp / ImageMagick / vipsthumbnail when installed. PSNR
against a lossless reference (full decode + Lanczos, not re-encoded).

    python tests/bench/bench_jpeg.py [--quick] [--repeats N]
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SIZE = (720, 588)
TARGETS = {
    "imagebatch run vs sharp": 1.2,
    "PSNR gap to naive (dB, at most)": 0.5,
    "2 workers vs 1": 1.9,
}


def bench_pipeline():
    from gui_app.core import presets

    return presets.builtin_presets()["bench-sharp"].pipeline


def runner_rows(tasks, work: Path, repeats: int, workers: int, modes) -> list[bl.Row]:
    """The runner API per worker mode; each pool is warmed by one untimed run."""
    from gui_app.core.runner import BatchRunner

    rows = []
    for label, mode, count in modes:
        seen = bl.ModeListener()
        runner = BatchRunner(mode=mode, workers=count, listener=seen.listener)
        out = work / f"runner-{mode}-{count}"
        try:
            bl.run_runner(runner, tasks[: max(4, len(tasks) // 10)], out)  # warm-up: start the pool
            times = bl.best_of(repeats, lambda: bl.run_runner(runner, tasks, out))
        finally:
            runner.close()
        rows.append(bl.Row(label, len(tasks), times, f"chose {seen.mode} × {seen.workers}"
                           + (f": {seen.reason}" if mode == "auto" else "")))
    return rows


def main(argv=None) -> dict:
    args = bl.common_args(__doc__.splitlines()[0]).parse_args(argv)
    repeats = bl.repeats_for(args)
    count = 30 if args.quick else 120
    workers = args.workers
    work = args.workdir / "jpeg"
    inputs_dir = work / "inputs"
    inputs = bl.build_copies(bl.SHARP_JPEG, count, inputs_dir)
    bl.warm_cache(inputs)
    print(bl.machine_line())
    print(f"JPEG task: {count} × {bl.SHARP_JPEG.name} (2725×2225) → fit 720×588 Lanczos, JPEG q80; "
          f"best of {repeats}")
    reference = bl.reference_picture(bl.SHARP_JPEG, SIZE)

    rows: list[bl.Row] = []
    naive_out = work / "naive"
    jobs = lambda: [(str(p), str(naive_out / p.name), SIZE) for p in inputs]
    times = bl.best_of(repeats, lambda: bl.naive_loop(bl.naive_jpeg, jobs()), setup=lambda: bl.fresh_dir(naive_out))
    rows.append(bl.Row("naive Pillow loop (baseline)", count, times, "full decode + Lanczos + save, 1 process",
                       {"PSNR dB": f"{bl.psnr_of_file(naive_out / inputs[0].name, reference):.2f}"}))
    times = bl.best_of(repeats, lambda: bl.naive_loop(bl.naive_jpeg, jobs(), processes=workers),
                       setup=lambda: bl.fresh_dir(naive_out))
    rows.append(bl.Row(f"naive Pillow, {workers}-process pool", count, times, "warm multiprocessing.Pool"))

    pipeline = bench_pipeline()
    cli_out = work / "cli"
    cli_flags = ["--preset", "bench-sharp", "--mode", "processes", "--workers", str(workers)]
    times = bl.best_of(repeats, lambda: bl.run_cli(inputs_dir, cli_out, cli_flags, count))
    our_psnr = bl.psnr_of_file(cli_out / f"{inputs[0].stem}.jpg", reference)
    rows.append(bl.Row(f"imagebatch run (processes, {workers})", count, times,
                       "real CLI in a subprocess: interpreter + pool start-up included",
                       {"PSNR dB": f"{our_psnr:.2f}"}))
    times = bl.best_of(repeats, lambda: bl.run_cli(inputs_dir, cli_out, ["--preset", "bench-sharp"], count))
    rows.append(bl.Row("imagebatch run (auto)", count, times, "real CLI, --mode auto"))

    tasks = bl.make_tasks(inputs, work / "unused", pipeline, "jpg")
    modes = [("runner API: sequential", "sequential", None),
             (f"runner API: threads ({workers})", "threads", workers),
             ("runner API: processes (1)", "processes", 1),
             (f"runner API: processes ({workers})", "processes", workers),
             ("runner API: auto", "auto", None)]
    for row in runner_rows(tasks, work, repeats, workers, modes):
        rows.append(row)
    # the runner's outputs were written under work/runner-*/ with the same names
    rows.extend(bl.external_rows("jpeg", inputs, inputs_dir, work, workers, repeats, reference))

    bl.print_table("(a) sharp JPEG task + (c) parallel efficiency", rows, "naive Pillow loop (baseline)")
    sharp = "sharp (2 in flight)" if workers == 2 else f"sharp ({workers} in flight)"
    naive_psnr = float(rows[0].extra["PSNR dB"])
    checks = {
        f"imagebatch run (processes, {workers}) vs sharp ≥ 1.2×":
            bl.ratio(rows, f"imagebatch run (processes, {workers})", sharp),
        f"runner API processes ({workers}) (warm pool) vs sharp":
            bl.ratio(rows, f"runner API: processes ({workers})", sharp),
        "PSNR ours − naive ≥ −0.5 dB": our_psnr - naive_psnr,
        f"parallel efficiency: processes {workers} vs 1 ≥ 1.9×":
            bl.ratio(rows, f"runner API: processes ({workers})", "runner API: processes (1)"),
        f"machine ceiling: naive {workers}-process pool vs naive loop":
            bl.ratio(rows, f"naive Pillow, {workers}-process pool", "naive Pillow loop (baseline)"),
        "auto vs best fixed mode (≥ 0.9)": None,
    }
    fixed = [r for r in rows if r.name.startswith("runner API:") and "auto" not in r.name and r.times]
    auto = next((r for r in rows if r.name == "runner API: auto" and r.times), None)
    if fixed and auto:
        checks["auto vs best fixed mode (≥ 0.9)"] = auto.rate / max(r.rate for r in fixed)
    print()
    for name, value in checks.items():
        print(f"  {name}: {'n/a' if value is None else f'{value:.2f}'}")
    payload = {"machine": bl.machine_line(), "rows": [r.to_dict() for r in rows], "checks": checks}
    bl.save_json("bench_jpeg", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
