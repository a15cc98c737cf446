"""Shared helpers for the hand-run benchmarks in tests/bench (not collected by pytest).

Every benchmark builds its inputs from ``../shared/corpus/bench/`` into a
scratch folder (``tests/bench/out/``, git-ignored, or ``--workdir``), times
each row best-of-N, and prints a table with images/s and the ratio against a
baseline measured *in the same run* (the machine is shared and noisy: only
ratios measured together mean anything).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parents[1]
CORPUS_BENCH = REPO.parent / "shared" / "corpus" / "bench"
SHARP_JPEG = CORPUS_BENCH / "2569067123_aca715a2ee_o.jpg"
SHARP_PNG = CORPUS_BENCH / "alpha-premultiply-2048x1536-paper.png"
DEFAULT_WORKDIR = BENCH_DIR / "out"

if str(REPO) not in sys.path:  # the repo is not pip-installed: run from its root
    sys.path.insert(0, str(REPO))


# --------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_line() -> str:
    from PIL import __version__ as pil_version
    from PIL import features

    turbo = "libjpeg-turbo " + str(features.version("jpg")) if features.check_feature("libjpeg_turbo") else "libjpeg"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"CPU: {cpu_model()} | cores: {cores()} | Python {platform.python_version()} | "
            f"Pillow {pil_version} ({turbo}, zlib {features.version('zlib')}) | load avg {load}")


# --------------------------------------------------------------------------- timing and tables


@dataclass
class Row:
    """One measured way of doing the scenario's work."""

    name: str
    images: int
    times: list[float] = field(default_factory=list)  # seconds per repetition
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # extra columns (PSNR…)
    cpu: list[float] = field(default_factory=list)  # CPU seconds (all processes) per repetition

    @property
    def cores_used(self) -> float:
        """CPU seconds ÷ wall seconds of the best repetition: how many cores
        this row actually got (on a shared machine, often fewer than it asked for)."""
        if not self.cpu or len(self.cpu) != len(self.times):
            return float("nan")
        i = self.times.index(min(self.times))
        return self.cpu[i] / self.times[i]

    @property
    def cpu_ms_per_image(self) -> float:
        """CPU cost per image, best repetition: independent of how many cores
        the other users of the machine left us (unlike images/s)."""
        return 1000 * min(self.cpu) / self.images if self.cpu else float("nan")

    @property
    def best(self) -> float:
        return min(self.times) if self.times else float("nan")

    @property
    def rate(self) -> float:
        return self.images / self.best if self.times else float("nan")

    def to_dict(self) -> dict:
        return {"name": self.name, "images": self.images, "best_s": self.best, "images_per_s": self.rate,
                "times": self.times, "cpu_s": self.cpu, "cpu_ms_per_image": self.cpu_ms_per_image,
                "cores_used": self.cores_used,
                "note": self.note, **self.extra}


def best_of(repeats: int, run_once: Callable[[], float | None], setup: Callable[[], None] | None = None) -> list[float]:
    """Run ``run_once`` ``repeats`` times; it returns its own elapsed seconds
    (or None to be timed from outside). ``setup`` runs untimed before each."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        started = time.perf_counter()
        own = run_once()
        times.append(own if own is not None else time.perf_counter() - started)
    return times


def print_table(title: str, rows: Sequence[Row], baseline: str, out=sys.stdout) -> None:
    """images/s (best of N) and the ratio to the baseline row."""
    base = next((r for r in rows if r.name == baseline and r.times), None)
    extra_keys: list[str] = []
    for r in rows:
        for k in r.extra:
            if k not in extra_keys:
                extra_keys.append(k)
    width = max([len(r.name) for r in rows] + [20])
    print(f"\n## {title}", file=out)
    head = f"{'row':<{width}} {'images':>6} {'best s':>8} {'img/s':>8} {'vs base':>8} {'CPU ms/img':>10} {'cores':>5}"
    head += "".join(f" {k:>10}" for k in extra_keys) + "  note"
    print(head, file=out)
    print("-" * len(head), file=out)
    for r in rows:
        if not r.times:
            line = f"{r.name:<{width}} {r.images:>6} {'-':>8} {'-':>8} {'-':>8} {'-':>10} {'-':>5}"
        else:
            ratio = f"{r.rate / base.rate:7.2f}x" if base else "-"
            cpu = f"{r.cpu_ms_per_image:10.1f}" if r.cpu else f"{'-':>10}"
            cores = f"{r.cores_used:5.2f}" if r.cores_used == r.cores_used else f"{'-':>5}"
            line = f"{r.name:<{width}} {r.images:>6} {r.best:>8.3f} {r.rate:>8.1f} {ratio:>8} {cpu} {cores}"
        line += "".join(f" {r.extra.get(k, ''):>10}" for k in extra_keys)
        print(line + (f"  {r.note}" if r.note else ""), file=out)
    if base:
        print(f"(baseline = {baseline!r}; best of {len(base.times)} runs; all rows measured in this run; "
              "CPU ms/img = CPU time of every process involved, best run; cores = CPU ÷ wall of the best run)", file=out)


def ratio(rows: Sequence[Row], a: str, b: str) -> float | None:
    ra = next((r for r in rows if r.name == a and r.times), None)
    rb = next((r for r in rows if r.name == b and r.times), None)
    if ra is None or rb is None:
        return None
    return ra.rate / rb.rate


def save_json(name: str, payload: dict, workdir: Path) -> Path:
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


# --------------------------------------------------------------------------- inputs


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def build_copies(source: Path, count: int, folder: Path) -> list[Path]:
    """``count`` byte copies of ``source`` (distinct files, so the OS cannot
    share one page-cache entry between them the way hard links would)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    paths = []
    for i in range(count):
        path = folder / f"{source.stem}_{i:05d}{source.suffix}"
        if not path.exists() or path.stat().st_size != len(data):
            path.write_bytes(data)
        paths.append(path)
    for extra in folder.iterdir():  # a previous run with more copies
        if extra not in set(paths):
            extra.unlink()
    return paths


def warm_cache(paths: Iterable[Path]) -> None:
    """Read every input once so all rows start from the page cache."""
    for p in paths:
        p.read_bytes()


def common_args(description: str, default_repeats: int = 3) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help=f"best of N (default {default_repeats}, 2 with --quick)")
    parser.add_argument("--workdir", type=lambda p: Path(p).resolve(), default=DEFAULT_WORKDIR,
                        help="scratch folder (default tests/bench/out); made absolute, since the external tools "
                             "run in other folders")
    parser.add_argument("--workers", type=int, default=2, help="workers for the parallel rows (default 2)")
    parser.set_defaults(default_repeats=default_repeats)
    return parser


def repeats_for(args: argparse.Namespace) -> int:
    if args.repeats:
        return args.repeats
    return 2 if args.quick else args.default_repeats


# --------------------------------------------------------------------------- pictures


def psnr(a, b) -> float:
    """PSNR in dB of two same-size 8-bit pictures (all channels)."""
    import numpy as np

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"sizes differ: {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def reference_picture(source: Path, size: tuple[int, int], mode: str = "RGB"):
    """The lossless reference: full decode + Lanczos, not re-encoded."""
    from PIL import Image

    with Image.open(source) as im:
        return im.convert(mode).resize(size, Image.Resampling.LANCZOS)


def psnr_of_file(path: Path, reference) -> float:
    from PIL import Image

    with Image.open(path) as im:
        return psnr(im.convert(reference.mode), reference)


# --------------------------------------------------------------------------- naive Pillow loops


def naive_jpeg(src: str, dst: str, size: tuple[int, int], quality: int = 80) -> None:
    """What most scripts do: full decode, Lanczos, save."""
    from PIL import Image

    with Image.open(src) as im:
        im.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=None)
        im.save(dst, "JPEG", quality=quality)


def draft_jpeg(src: str, dst: str, size: tuple[int, int], quality: int = 80) -> None:
    """The Pillow floor for the JPEG task: DCT-scaled decode (draft), then a
    Lanczos resize of the exact source area (the drafted picture's last
    row/column is partly padding), then save. No safety checks, no metadata."""
    from PIL import Image

    with Image.open(src) as im:
        width, height = im.size
        scale = width / size[0]
        target = (size[0], round(height / scale))
        im.draft("RGB", target)
        k = im.decoderconfig[0] if getattr(im, "decoderconfig", None) else 1
        out = im.resize(target, Image.Resampling.LANCZOS, box=(0, 0, width / k, height / k))
        out.save(dst, "JPEG", quality=quality)


def naive_png(src: str, dst: str, size: tuple[int, int], level: int = 6) -> None:
    from PIL import Image

    with Image.open(src) as im:
        im.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=None)
        im.save(dst, "PNG", compress_level=level)


def naive_tiny_to_jpeg(src: str, dst: str) -> None:
    from PIL import Image

    with Image.open(src) as im:
        im.convert("RGB").save(dst, "JPEG", quality=85)


def _star(args):
    fn, a = args
    return fn(*a)


def naive_loop(fn: Callable, jobs: Sequence[tuple], processes: int = 1) -> "float | Timing":
    """Run ``fn(*job)`` for every job, in this process or a spawn pool whose
    start-up is NOT timed (the pool is created and warmed first)."""
    if processes <= 1:
        t = time.perf_counter()
        for job in jobs:
            fn(*job)
        return time.perf_counter() - t
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        pool.map(abs, range(processes * 4))  # start the workers
        pids = [p.pid for p in pool._pool]  # noqa: SLF001 - for their CPU time only
        cpu0 = own_cpu_seconds() + proc_cpu_seconds(pids)
        t = time.perf_counter()
        pool.map(_star, [(fn, j) for j in jobs], chunksize=1)
        elapsed = time.perf_counter() - t
        cpu = own_cpu_seconds() + proc_cpu_seconds(pids) - cpu0
    return Timing(elapsed, cpu)


# --------------------------------------------------------------------------- imagebatch helpers


def make_tasks(inputs: Sequence[Path], out_dir: Path, pipeline, ext: str, limits=None) -> list:
    """TaskSpecs straight from paths (what the plan would produce, minus the scan)."""
    from gui_app.core.specs import Limits, TaskSpec

    limits = limits or Limits()
    tasks = []
    for i, p in enumerate(inputs):
        st = p.stat()
        tasks.append(TaskSpec(task_id=i, input_path=str(p), output_path=str(out_dir / f"{p.stem}.{ext}"),
                              pipeline=pipeline, limits=limits, overwrite="overwrite",
                              input_size=st.st_size, input_mtime_ns=st.st_mtime_ns))
    return tasks


def retarget(tasks: Sequence, out_dir: Path) -> list:
    """The same tasks writing into ``out_dir`` (each row gets its own folder)."""
    import dataclasses

    return [dataclasses.replace(t, output_path=str(out_dir / Path(t.output_path).name)) for t in tasks]


class ModeListener:
    """Remembers what the runner chose (for the table's note column)."""

    def __init__(self) -> None:
        from gui_app.core.runner import BatchListener

        outer = self

        class _L(BatchListener):
            def started(self, total, mode, workers, reason):
                outer.mode, outer.workers, outer.reason = mode, workers, reason

        self.listener = _L()
        self.mode, self.workers, self.reason = "?", 0, ""


def run_runner(runner, tasks: list, out_dir: Path) -> float:
    """One timed run of a (warm) BatchRunner over fresh output folder; checks every file is ok."""
    fresh_dir(out_dir)
    t = time.perf_counter()
    summary = runner.run(iter(tasks), total=len(tasks))
    elapsed = time.perf_counter() - t
    if summary.ok != len(tasks):
        raise RuntimeError(f"runner: {summary.ok}/{len(tasks)} ok ({summary.batch_error})")
    return elapsed


def cli_command(inputs_dir: Path, out_dir: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "gui_app", "run", str(inputs_dir), "-o", str(out_dir), "--quiet",
            "--overwrite", "overwrite", *flags]


def run_cli(inputs_dir: Path, out_dir: Path, flags: Sequence[str], expected: int) -> float:
    """Wall time of the real ``imagebatch run`` in a subprocess (start-up included)."""
    fresh_dir(out_dir)
    cmd = cli_command(inputs_dir, out_dir, *flags)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    produced = sum(1 for p in out_dir.iterdir() if not p.name.startswith("."))
    if proc.returncode != 0 or produced < expected:
        raise RuntimeError(f"imagebatch run failed (exit {proc.returncode}, {produced}/{expected} outputs): "
                           f"{proc.stderr[-800:]}")
    return elapsed


# --------------------------------------------------------------------------- external tools


def find_sharp() -> Path | None:
    """A folder with node_modules/sharp: $SHARP_DIR, tests/bench/out/sharp, /tmp/perfbench/sharp."""
    if not shutil.which("node"):
        return None
    for candidate in (os.environ.get("SHARP_DIR"), DEFAULT_WORKDIR / "sharp", "/tmp/perfbench/sharp"):
        if candidate and (Path(candidate) / "node_modules" / "sharp").is_dir():
            return Path(candidate)
    return None


SHARP_SCRIPT = r"""
// Process every file with at most IN_FLIGHT images in flight (sharp's own
// benchmark style); prints the elapsed seconds (node start-up excluded).
const sharp = require('sharp');
const fs = require('fs');
const path = require('path');
const [kind, inDir, outDir, inFlight] = process.argv.slice(2);
sharp.cache(false);
const files = fs.readdirSync(inDir).filter(f => !f.startsWith('.')).sort();
let next = 0;
async function worker() {
  while (next < files.length) {
    const f = files[next++];
    const src = path.join(inDir, f);
    const base = path.join(outDir, path.parse(f).name);
    if (kind === 'jpeg') {
      await sharp(src).resize(720, 588, {fit: 'inside', kernel: 'lanczos3'})
        .jpeg({quality: 80}).toFile(base + '.jpg');
    } else {
      await sharp(src).resize(720, 540, {fit: 'inside', kernel: 'lanczos3'})
        .png({compressionLevel: 6, adaptiveFiltering: false}).toFile(base + '.png');
    }
  }
}
const t = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
Promise.all(Array.from({length: Number(inFlight)}, worker)).then(() => {
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({seconds: Number(process.hrtime.bigint() - t) / 1e9,
                              cpu_seconds: (cpu.user + cpu.system) / 1e6,
                              libvips: sharp.versions.vips, concurrency: sharp.concurrency()}));
});
"""


def run_sharp(kind: str, inputs_dir: Path, out_dir: Path, in_flight: int, sharp_dir: Path) -> tuple[float, float, dict]:
    """(wall seconds incl. node start-up, sharp's own seconds, info)."""
    fresh_dir(out_dir)
    script = sharp_dir / "imagebatch_bench.js"
    script.write_text(SHARP_SCRIPT)
    t = time.perf_counter()
    proc = subprocess.run(["node", str(script), kind, str(inputs_dir), str(out_dir), str(in_flight)],
                          capture_output=True, text=True, cwd=sharp_dir)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"sharp failed: {proc.stderr[-500:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, info["seconds"], info


def split_evenly(items: Sequence, parts: int) -> list[list]:
    return [list(items[i::parts]) for i in range(parts) if items[i::parts]]


def run_parallel_commands(commands: Sequence[Sequence[str]], env: dict | None = None) -> float:
    """Start every command at once (one per image stream) and wait for all."""
    t = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for c in commands]
    errors = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            errors.append(err.decode(errors="replace")[-300:])
    elapsed = time.perf_counter() - t
    if errors:
        raise RuntimeError("; ".join(errors))
    return elapsed


def imagemagick_command(files: Sequence[Path], out_dir: Path, kind: str, size_hint: bool) -> list[str] | None:
    """``mogrify`` over a list of files (one process per image stream)."""
    exe = shutil.which("mogrify")
    if exe is None:
        return None
    cmd = [exe, "-path", str(out_dir)]
    if kind == "jpeg":
        if size_hint:  # libjpeg shrink-on-load, like our draft (2× the target)
            cmd += ["-define", "jpeg:size=1440x1176"]
        cmd += ["-resize", "720x588", "-quality", "80"]
    else:
        cmd += ["-resize", "720x540", "-define", "png:compression-level=6",
                "-define", "png:compression-filter=0"]
    return cmd + [str(f) for f in files]


def vips_command(files: Sequence[Path], out_dir: Path, kind: str) -> list[str] | None:
    exe = shutil.which("vipsthumbnail")
    if exe is None:
        return None
    if kind == "jpeg":
        return [exe, "-s", "720x588", "-o", f"{out_dir}/%s.jpg[Q=80]", *map(str, files)]
    return [exe, "-s", "720x540", "-o", f"{out_dir}/%s.png[compression=6,filter=none]", *map(str, files)]


def proc_cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of live processes, from /proc (Linux; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def own_cpu_seconds() -> float:
    """CPU of this process (all threads) plus every child already waited for."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Timing:
    """What a run may return instead of bare seconds: with its own CPU figure."""

    seconds: float
    cpu_seconds: float | None = None


@dataclass
class Contender:
    """A row plus how to run it once (returns its own seconds or None to be timed from outside)."""

    row: Row
    run: Callable[[], float | None] | None  # None: the row is filled in by another contender
    setup: Callable[[], None] | None = None
    after: Callable[[Row], None] | None = None  # once, after all rounds (e.g. PSNR of an output)
    #: Long-lived worker processes whose CPU belongs to this row (warm pools).
    worker_pids: Callable[[], list[int]] | None = None


def measure_interleaved(contenders: Sequence[Contender], repeats: int) -> list[Row]:
    """Round-robin: every round runs each contender once, so the load of the
    other users of this machine hits all rows alike; each row keeps its best."""
    failed: set[int] = set()
    for round_no in range(repeats):
        for i, c in enumerate(contenders):
            if i in failed or c.run is None:
                continue
            try:
                if c.setup is not None:
                    c.setup()
                pids = c.worker_pids() if c.worker_pids else []
                cpu0 = own_cpu_seconds() + proc_cpu_seconds(pids)
                started = time.perf_counter()
                own = c.run()
                elapsed = time.perf_counter() - started
                cpu = own_cpu_seconds() + proc_cpu_seconds(c.worker_pids() if c.worker_pids else pids) - cpu0
                if isinstance(own, Timing):
                    c.row.times.append(own.seconds)
                    c.row.cpu.append(own.cpu_seconds if own.cpu_seconds is not None else cpu)
                else:
                    c.row.times.append(own if own is not None else elapsed)
                    c.row.cpu.append(cpu)
            except Exception as exc:  # noqa: BLE001 - a broken row must not end the benchmark
                failed.add(i)
                c.row.times.clear()
                c.row.cpu.clear()
                c.row.note = f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"
        print(f"  round {round_no + 1}/{repeats} done", file=sys.stderr, flush=True)
    for i, c in enumerate(contenders):
        if c.after is not None and i not in failed:
            try:
                c.after(c.row)
            except Exception as exc:  # noqa: BLE001
                c.row.note += f" (after: {exc})"
    return [c.row for c in contenders]


def psnr_after(out_dir: Path, ext: str, reference, key: str = "PSNR dB") -> Callable[[Row], None]:
    def after(row: Row) -> None:
        first = sorted(p for p in out_dir.glob("*." + ext) if not p.name.startswith("."))[0]
        row.extra[key] = f"{psnr_of_file(first, reference):.2f}"
    return after


def external_contenders(kind: str, inputs: Sequence[Path], inputs_dir: Path, work: Path, in_flight: int,
                        reference=None) -> list[Contender]:
    """sharp / ImageMagick / vipsthumbnail with ``in_flight`` images at a
    time; each tool is skipped cleanly (with a message) when not installed."""
    found: list[Contender] = []
    ext = "jpg" if kind == "jpeg" else "png"
    sharp_dir = find_sharp()
    if sharp_dir is None:
        print("  (sharp not installed: `npm install sharp` in tests/bench/out/sharp, or set SHARP_DIR)")
    else:
        out = work / "sharp"
        wall_row = Row("sharp incl. node start-up", len(inputs), note="whole `node` process")
        row = Row(f"sharp ({in_flight} in flight)", len(inputs))

        def run_sharp_once() -> Timing:
            wall, own, info = run_sharp(kind, inputs_dir, out, in_flight, sharp_dir)
            wall_row.times.append(wall)
            row.note = (f"libvips {info.get('libvips')}, {in_flight} in flight, "
                        f"vips threads {info.get('concurrency')}, node start-up excluded")
            return Timing(own, info.get("cpu_seconds"))

        def after(r: Row) -> None:
            if reference is not None:
                psnr_after(out, ext, reference)(r)

        found.append(Contender(row, run_sharp_once, after=after))
        found.append(Contender(wall_row, None))  # its times are filled in by the sharp run
    variants = [("ImageMagick mogrify (defaults)", False)]
    if kind == "jpeg":
        variants.append(("ImageMagick mogrify -define jpeg:size", True))
    for name, hint in variants:
        out = work / ("im-hint" if hint else "im")
        if imagemagick_command(inputs[:1], out, kind, hint) is None:
            print("  (ImageMagick not installed: apt-get install imagemagick)")
            break
        def run_im(out=out, hint=hint) -> float:
            return run_parallel_commands([imagemagick_command(part, out, kind, hint)
                                          for part in split_evenly(inputs, in_flight)])
        found.append(Contender(Row(name, len(inputs), note=f"{in_flight} processes, one per share of the files"),
                               run_im, setup=partial(fresh_dir, out),
                               after=psnr_after(out, ext, reference) if reference is not None else None))
    out = work / "vips"
    if vips_command(inputs[:1], out, kind) is None:
        print("  (vipsthumbnail not installed: apt-get install libvips-tools)")
    else:
        def run_vips() -> float:
            return run_parallel_commands([vips_command(part, out, kind) for part in split_evenly(inputs, in_flight)])
        found.append(Contender(Row("vipsthumbnail", len(inputs), note=f"{in_flight} processes, one per share of the files"),
                               run_vips, setup=partial(fresh_dir, out),
                               after=psnr_after(out, ext, reference) if reference is not None else None))
    return found


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def encode_bytes(image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()
