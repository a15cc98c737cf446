"""Run every benchmark of issue 5 and print the targets met / not met.

Each scenario runs in its own process (tables printed as they come), then a
summary of the targets is printed from the JSON files they leave in the
work folder (tests/bench/out/ by default, git-ignored).

    python tests/bench/run_all.py [--quick] [--repeats N] [--only jpeg,png,...]

Scenarios: jpeg (a, c), png (b), tiny (d), startup (e), memory (f), ui (g),
proposals (the engine/runner changes proposed in README-performance.md,
prototyped by monkeypatching in the benchmark process only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SCRIPTS = {
    "jpeg": "bench_jpeg.py",
    "png": "bench_png.py",
    "tiny": "bench_tiny.py",
    "startup": "bench_startup.py",
    "memory": "bench_memory.py",
    "ui": "bench_ui_stall.py",
    "proposals": "bench_proposals.py",
}


def load(workdir: Path, name: str) -> dict | None:
    path = workdir / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def verdict(value, ok) -> str:
    if value is None:
        return "n/a"
    return "MET" if ok(value) else "NOT MET"


def summary(workdir: Path, started: float) -> None:
    """One line per target of issue 5, from the scenario results of this run."""
    lines = []

    def add(target: str, value, ok, fmt="{:.2f}") -> None:
        shown = "n/a" if value is None else fmt.format(value)
        lines.append((target, shown, verdict(value, ok)))

    def fresh(data: dict | None) -> dict | None:  # results of this run only (started=0: any)
        return data if data is not None and data.get("_mtime", 0) >= started else None

    results = {}
    for name in ("bench_jpeg", "bench_png", "bench_tiny", "bench_startup", "bench_memory", "bench_ui_stall"):
        data = load(workdir, name)
        if data is not None:
            data["_mtime"] = (workdir / f"{name}.json").stat().st_mtime
        results[name] = fresh(data)
    jpeg, png, tiny = results["bench_jpeg"], results["bench_png"], results["bench_tiny"]
    startup, memory, ui = results["bench_startup"], results["bench_memory"], results["bench_ui_stall"]

    def check(data, prefix):
        if not data:
            return None
        return next((v for k, v in data["checks"].items() if k.startswith(prefix)), None)

    add("JPEG: imagebatch run (processes, 2) vs sharp ≥ 1.2×", check(jpeg, "imagebatch run"), lambda v: v >= 1.2)
    add("JPEG: runner API, warm pool, vs sharp (info)", check(jpeg, "runner API processes"), lambda v: v >= 1.2)
    add("JPEG: CPU/img sharp ÷ imagebatch run (≥ 1.2 needed)", check(jpeg, "CPU per image: sharp ÷ imagebatch"),
        lambda v: v >= 1.2)
    add("JPEG: CPU/img sharp ÷ runner API (≥ 1.2 needed)", check(jpeg, "CPU per image: sharp ÷ runner"),
        lambda v: v >= 1.2)
    add("JPEG: PSNR ours − naive ≥ −0.5 dB", check(jpeg, "PSNR"), lambda v: v >= -0.5)
    add("PNG: imagebatch run vs sharp ≥ 1.0×", check(png, "imagebatch run"), lambda v: v >= 1.0)
    add("PNG: CPU/img sharp ÷ runner API (≥ 1.0 needed)", check(png, "CPU per image: sharp ÷ runner"),
        lambda v: v >= 1.0)
    add("parallel efficiency: 2 workers vs 1 ≥ 1.9×", check(jpeg, "parallel efficiency"), lambda v: v >= 1.9)
    add("  machine ceiling (naive 2-process pool vs loop)", check(jpeg, "machine ceiling"), lambda v: v >= 1.9)
    add("auto vs best fixed mode ≥ 0.9 (JPEG)", check(jpeg, "auto vs best"), lambda v: v >= 0.9)
    add("tiny: auto vs plain loop ≥ 1.7×", check(tiny, "auto (warm)"), lambda v: v >= 1.7)
    add("start-up: --version ≤ 0.3 s", check(startup, "--version ≤"), lambda v: v <= 0.3, "{:.3f} s")
    add("start-up: window visible ≤ 1.5 s", check(startup, "window visible ≤"), lambda v: v <= 1.5, "{:.3f} s")
    add("memory: controller 100k vs 1k ≤ 1.2× (processes)", check(memory, "controller") , lambda v: v <= 1.2)
    add("memory: worker RSS flat (≤ 1.10)", check(memory, "worker RSS"), lambda v: v <= 1.10)
    add("UI: longest gap during batch ≤ 50 ms", check(ui, "longest UI gap during"), lambda v: v <= 50, "{:.1f} ms")
    add("  UI-thread CPU between ticks (our own work)", check(ui, "most UI-thread CPU"), lambda v: v <= 50, "{:.1f} ms")
    add("  idle jitter of this machine", check(ui, "longest gap while idle"), lambda v: v <= 50, "{:.1f} ms")
    width = max(len(t) for t, _, _ in lines)
    print("\n## Targets of issue 5 (this run)")
    print(bl.machine_line())
    for target, shown, result in lines:
        print(f"  {target:<{width}}  {shown:>10}  {result}")


def markdown(workdir: Path) -> None:
    """The scenario tables as Markdown (for the README's Performance section)."""
    for name, title, base in (("bench_jpeg", "(a) sharp JPEG task, (c) parallel efficiency", "naive Pillow loop (baseline)"),
                              ("bench_png", "(b) sharp PNG task", "naive Pillow loop (baseline)"),
                              ("bench_tiny", "(d) 2,000 tiny PNG → JPEG", "plain Pillow loop (baseline)")):
        data = load(workdir, name)
        if not data:
            continue
        rows = data["rows"]
        base_row = next((r for r in rows if r["name"] == base), None)
        extra = [k for k in ("PSNR dB",) if any(k in r for r in rows)]
        print(f"\n#### {title}\n")
        print("| row | img/s | vs baseline | CPU ms/img | cores used | " + " | ".join(extra) + (" |" if extra else "")
              + " note |")
        print("|---|---:|---:|---:|---:|" + "---:|" * len(extra) + "---|")
        for r in rows:
            if not r["times"]:
                continue
            rate = r["images_per_s"]
            ratio = f"{rate / base_row['images_per_s']:.2f}×" if base_row else ""
            cpu = r.get("cpu_ms_per_image")
            cpu_text = f"{cpu:.1f}" if cpu == cpu and cpu is not None else "–"
            cores = "–"
            if r.get("cpu_s") and len(r["cpu_s"]) == len(r["times"]):
                i = r["times"].index(min(r["times"]))
                cores = f"{r['cpu_s'][i] / r['times'][i]:.2f}"
            cells = ([r["name"], f"{rate:.1f}", ratio, cpu_text, cores] + [str(r.get(k, "")) for k in extra]
                     + [r.get("note", "")])
            print("| " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--workdir", type=lambda p: Path(p).resolve(), default=bl.DEFAULT_WORKDIR)
    parser.add_argument("--only", default=",".join(SCRIPTS), help="comma-separated scenario names")
    parser.add_argument("--summary-only", action="store_true",
                        help="run nothing: print the targets from the JSON results already in the work folder")
    parser.add_argument("--markdown", action="store_true", help="with --summary-only: also the tables as Markdown")
    args = parser.parse_args(argv)
    if args.summary_only:
        summary(args.workdir, 0.0)
        if args.markdown:
            markdown(args.workdir)
        return 0
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    failures = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        script = Path(__file__).resolve().parent / SCRIPTS[name]
        if not script.exists():
            print(f"\n(skipping {name}: {script.name} not found)")
            continue
        cmd = [sys.executable, str(script), "--workdir", str(args.workdir)]
        if args.quick:
            cmd.append("--quick")
        if args.repeats and name not in ("memory", "ui"):
            cmd += ["--repeats", str(args.repeats)]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        rc = subprocess.call(cmd, cwd=bl.REPO)
        if rc != 0:
            failures.append(f"{name} (exit {rc})")
    summary(args.workdir, started)
    if failures:
        print(f"\nscenarios that failed: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
