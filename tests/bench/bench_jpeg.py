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

BASELINE = "naive Pillow loop (baseline)"
CLI_ROW = "imagebatch run (processes, {workers})"


def cpu_ratio(rows, a: str, b: str) -> float | None:
    """CPU ms per image of row ``a`` ÷ that of row ``b``: the throughput ratio
    b/a would have if both got the same cores (robust to the machine's load)."""
    ra = next((r for r in rows if r.name == a and r.cpu), None)
    rb = next((r for r in rows if r.name == b and r.cpu), None)
    if ra is None or rb is None:
        return None
    return ra.cpu_ms_per_image / rb.cpu_ms_per_image


def jpeg_pipeline():
    from gui_app.core import presets

    return presets.builtin_presets()["bench-sharp"].pipeline


def png_pipeline():
    from gui_app.core.specs import OpSpec, Pipeline

    return Pipeline(steps=(OpSpec.make("resize", mode="fit", width=720, height=540, filter="lanczos"),
                           OpSpec.make("encode", format="png", png_compression=6, png_filter="none")))


#: The two sharp tasks: source, target box, output extension, the naive loop,
#: the CLI flags and the pipeline the runner API gets; counts (full, --quick).
KINDS = {
    "jpeg": dict(source=bl.SHARP_JPEG, size=(720, 588), ext="jpg", naive=bl.naive_jpeg, mode="RGB",
                 cli=["--preset", "bench-sharp"], pipeline=jpeg_pipeline, counts=(120, 30),
                 title="(a) sharp JPEG task + (c) parallel efficiency",
                 what="2725×2225 JPEG → fit 720×588 Lanczos, JPEG q80"),
    "png": dict(source=bl.SHARP_PNG, size=(720, 540), ext="png", naive=bl.naive_png, mode="RGBA",
                cli=["--fit", "720x540", "--format", "png", "--png-filter", "none"], pipeline=png_pipeline, counts=(60, 20),
                title="(b) sharp PNG task",
                what="2048×1536 RGBA PNG → fit 720×540 Lanczos, PNG compress_level 6, no adaptive filtering (as sharp)"),
}


def runner_contenders(tasks, work: Path, workers: int, modes, runners: list) -> list[bl.Contender]:
    """The runner API per worker mode, each on its own warm pool (warmed by
    one small untimed run); ``runners`` collects them for closing."""
    from gui_app.core.runner import BatchRunner

    found = []
    for label, mode, count in modes:
        seen = bl.ModeListener()
        runner = BatchRunner(mode=mode, workers=count, listener=seen.listener)
        runners.append(runner)
        out = work / f"runner-{mode}-{count}"
        mine = bl.retarget(tasks, out)
        bl.run_runner(runner, mine[: max(4, len(mine) // 10)], out)  # warm-up: start the pool

        def after(row: bl.Row, seen=seen, mode=mode) -> None:
            row.note = f"chose {seen.mode} × {seen.workers}" + (f": {seen.reason}" if mode == "auto" else "")

        found.append(bl.Contender(bl.Row(label, len(tasks)), partial(bl.run_runner, runner, mine, out), after=after,
                                  worker_pids=lambda runner=runner: list(runner.worker_pids)))
    return found


def main(argv=None) -> dict:
    return run_scenario("jpeg", argv, __doc__)


def run_scenario(kind: str, argv, doc: str) -> dict:
    spec = KINDS[kind]
    args = bl.common_args(doc.splitlines()[0]).parse_args(argv)
    repeats = bl.repeats_for(args)
    count = spec["counts"][1 if args.quick else 0]
    workers = args.workers
    work = args.workdir / kind
    ext = spec["ext"]
    inputs_dir = work / "inputs"
    inputs = bl.build_copies(spec["source"], count, inputs_dir)
    bl.warm_cache(inputs)
    print(bl.machine_line())
    print(f"{kind.upper()} task: {count} × {spec['source'].name}: {spec['what']}; "
          f"best of {repeats}, rows interleaved round by round")
    reference = bl.reference_picture(spec["source"], spec["size"], spec["mode"])
    pipeline = spec["pipeline"]()
    naive = spec["naive"]

    naive_out = work / "naive"
    jobs = lambda: [(str(p), str(naive_out / p.name), spec["size"]) for p in inputs]
    cli_out, cli_auto_out = work / "cli", work / "cli-auto"
    cli_flags = spec["cli"] + ["--mode", "processes", "--workers", str(workers)]
    contenders = [
        bl.Contender(bl.Row(BASELINE, count, note="full decode + Lanczos + save, 1 process"),
                     lambda: bl.naive_loop(naive, jobs()), setup=partial(bl.fresh_dir, naive_out),
                     after=bl.psnr_after(naive_out, ext, reference)),
        bl.Contender(bl.Row(f"naive Pillow, {workers}-process pool", count, note="warm multiprocessing.Pool"),
                     lambda: bl.naive_loop(naive, jobs(), processes=workers),
                     setup=partial(bl.fresh_dir, naive_out)),
    ]
    if kind == "jpeg":  # what Pillow can do when driven well, with nothing else around it
        floor_out = work / "floor"
        floor_jobs = lambda: [(str(p), str(floor_out / p.name), spec["size"]) for p in inputs]
        contenders.append(bl.Contender(
            bl.Row(f"Pillow draft+Lanczos, {workers}-process pool", count,
                   note="the floor: draft + box Lanczos + save, warm pool, no checks/atomic write"),
            lambda: bl.naive_loop(bl.draft_jpeg, floor_jobs(), processes=workers),
            setup=partial(bl.fresh_dir, floor_out), after=bl.psnr_after(floor_out, ext, reference)))
    contenders += [
        bl.Contender(bl.Row(CLI_ROW.format(workers=workers), count,
                            note="real CLI in a subprocess: interpreter + pool start-up included"),
                     lambda: bl.run_cli(inputs_dir, cli_out, cli_flags, count),
                     after=bl.psnr_after(cli_out, ext, reference)),
        bl.Contender(bl.Row("imagebatch run (auto)", count, note="real CLI, --mode auto"),
                     lambda: bl.run_cli(inputs_dir, cli_auto_out, spec["cli"], count)),
    ]
    tasks = bl.make_tasks(inputs, work / "unused", pipeline, ext)
    modes = [("runner API: sequential", "sequential", None),
             (f"runner API: threads ({workers})", "threads", workers),
             ("runner API: processes (1)", "processes", 1),
             (f"runner API: processes ({workers})", "processes", workers),
             ("runner API: auto", "auto", None)]
    runners: list = []
    try:
        contenders += runner_contenders(tasks, work, workers, modes, runners)
        contenders += bl.external_contenders(kind, inputs, inputs_dir, work, workers, reference)
        rows = bl.measure_interleaved(contenders, repeats)
    finally:
        for runner in runners:
            runner.close()

    bl.print_table(spec["title"], rows, BASELINE)
    sharp = "sharp (2 in flight)" if workers == 2 else f"sharp ({workers} in flight)"
    naive_psnr = float(rows[0].extra.get("PSNR dB", "nan"))
    cli_row = next(r for r in rows if r.name == CLI_ROW.format(workers=workers))
    our_psnr = float(cli_row.extra.get("PSNR dB", "nan"))
    checks = {
        f"imagebatch run (processes, {workers}) vs sharp (target {'1.2' if kind == 'jpeg' else '1.0'}×)":
            bl.ratio(rows, cli_row.name, sharp),
        f"runner API processes ({workers}) (warm pool) vs sharp":
            bl.ratio(rows, f"runner API: processes ({workers})", sharp),
        "PSNR ours − naive ≥ −0.5 dB": 0.0 if our_psnr == naive_psnr else our_psnr - naive_psnr,
        f"CPU per image: sharp ÷ imagebatch run (processes, {workers})": cpu_ratio(rows, sharp, cli_row.name),
        f"CPU per image: sharp ÷ runner API processes ({workers})":
            cpu_ratio(rows, sharp, f"runner API: processes ({workers})"),
        f"parallel efficiency: processes {workers} vs 1 ≥ 1.9×":
            bl.ratio(rows, f"runner API: processes ({workers})", "runner API: processes (1)"),
        f"machine ceiling: naive {workers}-process pool vs naive loop":
            bl.ratio(rows, f"naive Pillow, {workers}-process pool", BASELINE),
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
    bl.save_json(f"bench_{kind}", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
