"""Prototypes of the proposed engine/runner changes, measured A/B in one run.

The engine and runner files belong to other developers, so nothing is edited
here: each proposal is a monkeypatch applied *inside the benchmark's own
worker processes* (through ``BatchRunner(initializer=partial(patched_init,
patches=...))``) or around an in-process run, and undone afterwards. Rows are
interleaved round by round, so the machine's load hits A and B alike.

Proposals (see README-performance.md for the diffs). Since these were
measured, ``durable_off`` and ``blocks4`` became the defaults (1193c2f),
``dct38`` went into the engine (9342ff6) and the tiny-file ``auto``/chunk
changes into the runner (51847da): on a current tree those rows equal "as
is"; check out an older commit to see the "before" side again.

- ``durable_off``: ``Limits(durable_writes=False)`` (added to the worker in
  bc60a74, default True): no ``os.fsync`` per output; the temp file +
  ``os.replace``/``os.link`` atomic rename is kept. Proposed as the default
  for new outputs (see the README section for why resume stays safe).
- ``no_fsync``: the same by monkeypatching ``os.fsync`` as worker.py sees it
  (for trees without the ``durable_writes`` knob).
- ``light_result``: ``worker._finish`` used to rebuild every TaskResult
  through ``to_dict``/``from_dict``; ``dataclasses.replace`` does the same job
  (applied upstream in bc60a74; the patch is then a no-op).
- ``dct38``: JPEG shrink-on-load at 3/8 scale. Pillow's ``draft`` only picks
  1/2, 1/4, 1/8, but its decoder passes 1/N to libjpeg-turbo, which decodes
  at k/8 with k = ceil(8/N): N=3 gives 3/8. For the sharp task (720/2725 =
  0.264 of the source) 3/8 (1022×835) is enough, so the decode writes 44 %
  fewer pixels and the Lanczos pass reads 44 % fewer than at 1/2 (1363×1113).
  The engine only uses ``decoderconfig[0]`` as the scale divisor, so it must
  become the true factor 8/k (a float) instead of N.
- ``blocks4``: ``Image.core.set_blocks_max(4)`` in the worker: Pillow keeps
  up to 4 freed 16 MiB memory blocks for the next image instead of giving
  them back to the kernel and faulting fresh zeroed pages in again (Pillow's
  default is 0). Costs at most 64 MiB per worker.
- ``png_nofilter``: write PNG scanlines unfiltered (filter type 0) with
  ``zlib.compress(level)``, like sharp's ``adaptiveFiltering: false``;
  Pillow's encoder always runs its adaptive filter heuristic.

    python tests/bench/bench_proposals.py [--quick] [--repeats N]
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
import time
import zlib
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402


# --------------------------------------------------------------------------- the patches


class _OsWithoutFsync:
    """The ``os`` module as seen by worker.py, minus the per-file fsync."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def fsync(fd):
        return None


def _finish_light(result, started):
    return dataclasses.replace(result, seconds=round(time.perf_counter() - started, 6))


def png_unfiltered(image, level: int) -> bytes | None:
    """A PNG of an 8-bit L/LA/RGB/RGBA picture with filter type 0 on every
    row, compressed by zlib at ``level``; None for anything else."""
    colour_type = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}.get(image.mode)
    if colour_type is None:
        return None
    width, height = image.size
    raw = image.tobytes()
    stride = len(raw) // height
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, level)) + chunk(b"IEND", b"")


class _DraftScale(tuple):
    """``decoderconfig`` for a k/8 JPEG draft: the C decoder receives the
    integer denominator N (libjpeg-turbo then decodes at k/8 with
    k = ceil(8/N)); Python code reading ``decoderconfig[0]`` (the engine's
    ``draft_scale`` divisor) gets the true factor 8/k."""

    def __new__(cls, denominator: int, factor: float):
        made = super().__new__(cls, (denominator, 0))
        made.factor = factor
        return made

    def __getitem__(self, index):
        return self.factor if index == 0 else tuple.__getitem__(self, index)


#: libjpeg-turbo scales reachable through Pillow's 1/N decoder argument: N → k/8.
_DCT_SCALES = ((8, 1), (4, 2), (3, 3), (2, 4), (1, 8))


def _finer_draft(original):
    def draft(self, mode, size):
        width, height = self.size
        result = original(self, mode, size)
        if result is None or not size or self.decoderconfig[0] >= 8:
            return result
        for denominator, k in _DCT_SCALES:  # smallest k/8 that still covers the request
            w, h = -(-width * k // 8), -(-height * k // 8)
            if w >= size[0] and h >= size[1]:
                break
        else:
            return result
        if 8 / k >= self.decoderconfig[0] + 1e-9 and k != 8:
            tile = self.tile[0]
            self.tile = [tile._replace(extents=(0, 0, w, h))]
            self._size = (w, h)
            self.decoderconfig = _DraftScale(denominator, 8 / k)
            return self.mode, (0, 0, width * k / 8, height * k / 8)
        return result
    return draft


def apply_patches(names: str) -> callable:
    """Apply the comma-separated patches in this process; returns an undo function."""
    from gui_app.core import engine, worker

    undo = []
    for name in [n for n in names.split(",") if n]:
        if name in ("durable_off", "chunk64"):
            continue  # carried by the tasks' Limits / the runner's chunk size (runner_contender)
        if name == "blocks4":
            from PIL import Image

            undo.append(partial(Image.core.set_blocks_max, Image.core.get_blocks_max()))
            Image.core.set_blocks_max(4)
            continue
        if name == "dct38":
            from PIL import JpegImagePlugin

            original_draft = JpegImagePlugin.JpegImageFile.draft
            undo.append(partial(setattr, JpegImagePlugin.JpegImageFile, "draft", original_draft))
            JpegImagePlugin.JpegImageFile.draft = _finer_draft(original_draft)
            continue
        if name == "no_fsync":
            undo.append(partial(setattr, worker, "os", worker.os))
            worker.os = _OsWithoutFsync()
        elif name == "light_result":
            undo.append(partial(setattr, worker, "_finish", worker._finish))
            worker._finish = _finish_light
        elif name == "png_nofilter":
            original = engine._save

            def _save(frames, fmt, options, processed, original=original):
                plain = set(options) <= {"compress_level", "optimize"}
                if fmt.key == "png" and len(frames) == 1 and plain:
                    data = png_unfiltered(frames[0], int(options.get("compress_level", 6)))
                    if data is not None:
                        return data
                return original(frames, fmt, options, processed)

            undo.append(partial(setattr, engine, "_save", original))
            engine._save = _save
        else:
            raise ValueError(f"unknown patch {name!r}")

    def undo_all():
        for step in reversed(undo):
            step()

    return undo_all


def patched_init(limits=None, *, patches: str = ""):
    """Pool initializer for the benchmark's worker processes: the real one,
    then the patches (they live and die with these processes)."""
    from gui_app.core import worker

    worker.init_worker(limits)
    apply_patches(patches)


# --------------------------------------------------------------------------- scenarios


def runner_contender(label: str, mode: str, workers: int | None, patches: str, tasks, out: Path,
                     runners: list, warm=True, reference=None) -> bl.Contender:
    from gui_app.core.runner import BatchRunner

    seen = bl.ModeListener()
    in_process = mode in ("sequential", "threads")
    code_patches = ",".join(p for p in patches.split(",") if p not in ("durable_off", "chunk64"))
    init = None if in_process or not code_patches else partial(patched_init, patches=code_patches)
    chunk = 64 if "chunk64" in patches.split(",") else None
    runner = BatchRunner(mode=mode, workers=workers, listener=seen.listener, initializer=init, chunk_files=chunk)
    runners.append(runner)
    tasks = bl.retarget(tasks, out)
    if "durable_off" in patches.split(","):
        tasks = [dataclasses.replace(t, limits=dataclasses.replace(t.limits, durable_writes=False)) for t in tasks]

    def run() -> float:
        undo = apply_patches(patches) if in_process else (lambda: None)
        try:
            return bl.run_runner(runner, tasks, out)
        finally:
            undo()

    if warm:
        run()

    def after(row, seen=seen):
        row.note = f"{seen.mode} × {seen.workers}; patches: {patches or 'none'}"
        if reference is not None:
            row.extra["PSNR dB"] = f"{bl.psnr_of_file(Path(tasks[0].output_path), reference):.2f}"

    return bl.Contender(bl.Row(label, len(tasks)), run, after=after,
                        worker_pids=lambda: list(runner.worker_pids))


def main(argv=None) -> dict:
    parser = bl.common_args(__doc__.splitlines()[0])
    parser.add_argument("--only", default="tiny,jpeg,png", help="comma-separated: tiny, jpeg, png")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    repeats = bl.repeats_for(args)
    print(bl.machine_line())
    from bench_jpeg import jpeg_pipeline, png_pipeline
    from bench_tiny import build_tiny, tiny_pipeline

    work = args.workdir / "proposals"
    payload: dict = {"machine": bl.machine_line(), "tables": {}}
    runners: list = []
    try:
        # ---- tiny files: where per-file overhead shows
        count = 500 if args.quick else 2000
        if "tiny" in only:
            tiny = build_tiny(args.workdir / "tiny" / "inputs", count)
            tasks = bl.make_tasks(tiny, work / "x", tiny_pipeline(), "jpg")
            naive_out = work / "tiny-naive"
            jobs = [(str(p), str(naive_out / (p.stem + ".jpg"))) for p in tiny]
            contenders = [bl.Contender(bl.Row("plain Pillow loop (baseline)", count),
                                       lambda: bl.naive_loop(bl.naive_tiny_to_jpeg, jobs),
                                       setup=partial(bl.fresh_dir, naive_out))]
            for label, mode, workers, patches in (
                    ("sequential, as is", "sequential", None, ""),
                    ("sequential, durable_writes=False", "sequential", None, "durable_off"),
                    ("threads 2, as is (auto's choice)", "threads", 2, ""),
                    ("threads 2, durable_writes=False", "threads", 2, "durable_off"),
                    ("processes 2, as is", "processes", 2, ""),
                    ("processes 2, durable_writes=False", "processes", 2, "durable_off"),
                    ("processes 2, durable_writes=False, chunks of 64", "processes", 2, "durable_off,chunk64")):
                contenders.append(runner_contender(label, mode, workers, patches, tasks,
                                                   work / f"tiny-{len(contenders)}", runners))
            rows = bl.measure_interleaved(contenders, repeats)
            bl.print_table(f"proposals on {count} tiny PNG → JPEG (runner API, warm pools)", rows,
                           "plain Pillow loop (baseline)")
            payload["tables"]["tiny"] = [r.to_dict() for r in rows]

        # ---- the sharp JPEG and PNG tasks
        for kind, source, pipeline, ext, patch_sets in (
                ("jpeg", bl.SHARP_JPEG, jpeg_pipeline(), "jpg", ("", "durable_off", "dct38", "durable_off,dct38")),
                ("png", bl.SHARP_PNG, png_pipeline(), "png",
                 ("", "durable_off", "durable_off,png_nofilter", "durable_off,png_nofilter,blocks4"))):
            if kind not in only:
                continue
            n = (30 if args.quick else 120) if kind == "jpeg" else (20 if args.quick else 60)
            inputs = bl.build_copies(source, n, args.workdir / kind / "inputs")
            tasks = bl.make_tasks(inputs, work / "x", pipeline, ext)
            contenders = []
            for patches in patch_sets:
                reference = bl.reference_picture(source, (720, 588)) if kind == "jpeg" else None
                contenders.append(runner_contender(f"processes 2, {patches or 'as is'}", "processes", 2, patches,
                                                   tasks, work / f"{kind}-{len(contenders)}", runners,
                                                   reference=reference))
            rows = bl.measure_interleaved(contenders, repeats)
            bl.print_table(f"proposals on the {kind.upper()} task ({n} images, runner API, warm pools)", rows,
                           "processes 2, as is")
            if kind == "png":
                sizes = {}
                for i, patches in enumerate(patch_sets):
                    out = work / f"{kind}-{i}"
                    sizes[patches or "as is"] = sum(p.stat().st_size for p in out.glob("*.png")) / max(1, n)
                print("  mean PNG size: " + ", ".join(f"{k}: {v / 1024:.0f} KiB" for k, v in sizes.items()))
                payload["png_sizes"] = sizes
            payload["tables"][kind] = [r.to_dict() for r in rows]
    finally:
        for runner in runners:
            runner.close()
    bl.save_json("bench_proposals", payload, args.workdir)
    return payload


if __name__ == "__main__":
    main()
