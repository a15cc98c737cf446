"""Where the time goes: a sampling profile of the real CLI and its workers.

Runs ``py-spy record --subprocesses --native`` (``pip install py-spy``) on
``imagebatch run`` for the JPEG and PNG tasks and sorts every sample of the
worker processes into buckets by the frames on its stack (decode, resize,
mode conversions, encode, fsync, temp-file/rename, imports, idle…). The
parent process is summarised the same way (start-up, scan/plan, dispatch).
Without py-spy it falls back to cProfile of ``worker.run_task`` in-process.

    python tests/bench/bench_profile.py [--quick] [--kind jpeg|png|tiny|all]

Raw collapsed stacks are kept in tests/bench/out/profiles/ (feed them to
flamegraph.pl or speedscope for a picture).
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

#: (bucket, substrings of a frame): the first bucket with a frame on the stack wins.
BUCKETS = [
    ("write: fsync", ("fsync",)),
    ("write: temp file, rename, unlink", ("write_file (gui_app/core/worker.py",)),
    ("decode (incl. JPEG draft)", ("load (PIL/ImageFile.py", "ImagingJpegDecode", "ImagingZipDecode")),
    ("resize (Lanczos)", ("resample (gui_app/core/ops/geometry.py", "resize (PIL/Image.py", "ImagingResample")),
    ("mode conversions", ("_to_working_mode", "prepare (gui_app/core/ops/encode.py", "convert (PIL/Image.py")),
    ("encode", ("encode (gui_app/core/engine.py", "_save (PIL/", "ImagingZipEncode", "ImagingJpegEncode")),
    ("open + header (allowlist)", ("open_image (gui_app/core/imageio.py",)),
    ("metadata (EXIF/ICC/XMP)", ("read_exif", "exif_for_output", "icc_for_output", "xmp_for_output")),
    ("other per-task Python", ("run_task (gui_app/core/worker.py", "run_chunk")),
    ("imports (start-up)", ("_find_and_load",)),
    ("idle: waiting for work", ("_recv_bytes", "wait (multiprocessing", "recv (", "poll (", "select (")),
]
PARENT_BUCKETS = [
    ("imports (start-up)", ("_find_and_load",)),
    ("pool start (spawn + probe)", ("_start_pool", "_probe (gui_app/core/executors.py", "_adjust_process_count")),
    ("scan + plan", ("scan (gui_app/core/scan.py", "make_plan", "iter_plan", "plan_entry")),
    ("dispatch: waiting for results", ("get (queue", "_dispatch (gui_app/core/runner.py")),
    ("pool shutdown", ("shutdown (gui_app/core/executors.py", "close (gui_app/core/runner.py")),
    ("pool threads (manager, queue feeder)", ("_ExecutorManagerThread", "Queue._feed")),
    ("multiprocessing resource tracker", ("resource_tracker",)),
]


def bucket_of(frames: list[str], buckets) -> str:
    for name, needles in buckets:
        for frame in frames:
            if any(n in frame for n in needles):
                return name
    return "other" if any(".py:" in f for f in frames) else "native only (no Python frame)"


def summarise(raw: Path) -> tuple[Counter, Counter]:
    workers, parent = Counter(), Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        if any("spawn_main" in f for f in frames[:4]):
            workers[bucket_of(frames, BUCKETS)] += n
        else:
            parent[bucket_of(frames, PARENT_BUCKETS)] += n
    return workers, parent


def print_buckets(title: str, counts: Counter) -> None:
    total = sum(counts.values())
    idle = counts.get("idle: waiting for work", 0)
    busy = total - idle
    print(f"  {title}: {total} samples" + (f" ({busy} busy)" if idle else ""))
    for name, n in counts.most_common():
        share_busy = f"{100 * n / busy:5.1f} % of busy" if busy and name != "idle: waiting for work" else ""
        print(f"    {name:<36} {100 * n / total:5.1f} %  {share_busy}")


def pyspy_run(kind: str, inputs_dir: Path, flags: list[str], out: Path, raw: Path, expected: int) -> None:
    bl.fresh_dir(out)
    cmd = ["py-spy", "record", "--subprocesses", "--native", "--rate", "250", "--format", "raw", "-o", str(raw),
           "--", *bl.cli_command(inputs_dir, out, *flags)]
    proc = subprocess.run(cmd, cwd=bl.REPO, capture_output=True, text=True)
    if proc.returncode != 0 or not raw.exists():
        raise RuntimeError(f"py-spy failed: {proc.stderr[-500:]}")


def cprofile_run(tasks) -> str:
    from gui_app.core import worker

    worker.init_worker()
    worker.run_chunk(tuple(tasks[:2]))
    profiler = cProfile.Profile()
    profiler.enable()
    worker.run_chunk(tuple(tasks))
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(14)
    return text.getvalue()


def main(argv=None) -> dict:
    parser = bl.common_args(__doc__.splitlines()[0])
    parser.add_argument("--kind", default="all", help="jpeg, png, tiny or all")
    args = parser.parse_args(argv)
    from bench_jpeg import KINDS
    from bench_tiny import build_tiny, tiny_pipeline

    print(bl.machine_line())
    kinds = ["jpeg", "png", "tiny"] if args.kind == "all" else [args.kind]
    profiles = args.workdir / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    payload = {"machine": bl.machine_line(), "profiles": {}}
    for kind in kinds:
        if kind == "tiny":
            count = 500 if args.quick else 2000
            inputs = build_tiny(args.workdir / "tiny" / "inputs", count)
            inputs_dir, flags, ext, pipeline = inputs[0].parent, ["--format", "jpeg", "--quality", "85"], "jpg", tiny_pipeline()
        else:
            spec = KINDS[kind]
            count = spec["counts"][1 if args.quick else 0]
            inputs = bl.build_copies(spec["source"], count, args.workdir / kind / "inputs")
            inputs_dir, flags, ext, pipeline = inputs[0].parent, spec["cli"], spec["ext"], spec["pipeline"]()
        flags = flags + ["--mode", "processes", "--workers", str(args.workers)]
        print(f"\n## profile: {kind} task, {count} files, imagebatch run {' '.join(flags)}")
        if shutil.which("py-spy"):
            raw = profiles / f"{kind}_cli.txt"
            pyspy_run(kind, inputs_dir, flags, args.workdir / f"profile-{kind}", raw, count)
            workers, parent = summarise(raw)
            print_buckets("worker processes", workers)
            print_buckets("parent (CLI) process", parent)
            payload["profiles"][kind] = {"workers": dict(workers), "parent": dict(parent), "raw": str(raw)}
        else:
            print("  (py-spy not installed: cProfile of worker.run_task in this process instead)")
            tasks = bl.make_tasks(inputs, bl.fresh_dir(args.workdir / f"profile-{kind}"), pipeline, ext)
            text = cprofile_run(tasks)
            print(text)
            payload["profiles"][kind] = {"cprofile": text}
    bl.save_json("bench_profile", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
