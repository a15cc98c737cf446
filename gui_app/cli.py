"""``imagebatch``: the headless twin of the app (same presets, plan and runner).

Commands::

    imagebatch run INPUT... -o OUTDIR [options]   # process images
    imagebatch presets                            # list built-in and user presets
    imagebatch ops                                # list the pipeline operations
    imagebatch --version

Exit codes of ``run``: 0 every file ok or skipped by policy, 1 some files
failed, 2 usage or batch-level error (bad preset, unwritable output folder,
workers that cannot start, disk full), 130 interrupted (Ctrl+C or SIGTERM).

Only the standard library is imported at module level: ``--version`` and
``--help`` stay fast (no Pillow, no Qt); the core is imported when needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Iterator, Sequence, TextIO

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130

MODES = ("auto", "processes", "threads", "sequential", "dask")
STRIP_MODES = {"none": "keep", "gps": "strip_gps", "all": "strip_all"}
FORMAT_CHOICES = ("keep", "jpeg", "png", "webp", "avif", "tiff", "gif", "bmp")


class UsageError(Exception):
    """A problem with the command line or the settings: exit code 2, one message."""


def _version() -> str:
    from gui_app import __version__

    return __version__


# --------------------------------------------------------------------------- arguments


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x", 1)
        width, height = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1920x1080, not {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError("width and height must be at least 1")
    return width, height


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagebatch", description="Fast, safe batch image processing (headless).",
        epilog="Run 'imagebatch' without a command to open the app.")
    parser.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="process images", description=(
        "Process images with a preset and/or options. Options given next to --preset override "
        "the preset's values."))
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders")
    run.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder")
    run.add_argument("--preset", metavar="NAME|FILE", help="a built-in or user preset name, or a preset JSON file")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--long-edge", type=_positive_int, metavar="N", help="resize so the long edge is N px")
    size.add_argument("--fit", type=_size, metavar="WxH", help="resize to fit inside WxH")
    size.add_argument("--fill", type=_size, metavar="WxH", help="resize and crop to fill WxH")
    size.add_argument("--scale", type=_positive_float, metavar="PCT", help="resize by a percentage")
    run.add_argument("--format", choices=FORMAT_CHOICES, help="output format (keep = same as the input)")
    run.add_argument("--quality", type=int, metavar="Q", help="encoder quality 1-100")
    run.add_argument("--png-filter", choices=("adaptive", "none"),
                     help="PNG row filter: adaptive (default, smaller photos) or none (faster)")
    run.add_argument("--strip", choices=tuple(STRIP_MODES), help="metadata: keep (none), strip GPS, strip all")
    run.add_argument("--template", metavar="T", help="output name template, e.g. '{stem}_{width}w'")
    run.add_argument("--overwrite", choices=("skip", "rename", "overwrite"),
                     help="when an output exists (default: skip)")
    run.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=True,
                     help="scan sub-folders (default: yes)")
    run.add_argument("--keep-dates", action="store_true", default=None, help="give outputs the input's mtime")
    run.add_argument("--mode", choices=MODES, default="auto", help="worker mode (default: auto)")
    run.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address for --mode dask")
    run.add_argument("--transfer", choices=("shared", "bytes"), default="shared",
                     help="--mode dask: workers read/write the paths (shared, default) or "
                          "this process ships bytes and writes outputs (bytes)")
    run.add_argument("--workers", type=_positive_int, metavar="N", help="worker count (default: cores)")
    run.add_argument("--timeout", type=_positive_float, metavar="S", help="per-file deadline in seconds (default 120)")
    run.add_argument("--durable", action="store_true",
                     help="flush every output to disk before moving it into place (survives a power cut; "
                          "slower for many small files). Outputs are always written atomically")
    run.add_argument("--report", metavar="FILE", help="write a report (.json or .csv)")
    run.add_argument("--resume", action="store_true", help="skip files finished by an earlier run of this batch")
    run.add_argument("--dry-run", action="store_true", help="print the plan and write nothing")
    run.add_argument("-q", "--quiet", action="store_true", help="print only errors")

    sub.add_parser("presets", help="list built-in and user presets")
    sub.add_parser("ops", help="list the pipeline operations and their parameters")
    sub.add_parser("help", help="show this help")
    return parser


# --------------------------------------------------------------------------- settings


def _replace_or_add(steps: list, name: str, make: Any, before: tuple[str, ...] = ()) -> list:
    """Replace every ``name`` step via ``make(old_or_None)``, or insert a new one
    (before the first step named in ``before``, else at the end)."""
    found = False
    out = []
    for step in steps:
        if step.name == name and step.enabled:
            out.append(make(step))
            found = True
        else:
            out.append(step)
    if not found:
        new = make(None)
        index = next((i for i, s in enumerate(out) if s.name in before), len(out))
        out.insert(index, new)
    return out


def apply_overrides(pipeline: Any, args: argparse.Namespace) -> Any:
    """The pipeline with the command-line options applied on top (flags win)."""
    from gui_app.core.specs import OpSpec, Pipeline

    steps = list(pipeline.steps)
    resize: dict[str, Any] | None = None
    if args.long_edge:
        resize = {"mode": "long_edge", "long_edge": args.long_edge}
    elif args.fit:
        resize = {"mode": "fit", "width": args.fit[0], "height": args.fit[1]}
    elif args.fill:
        resize = {"mode": "fill", "width": args.fill[0], "height": args.fill[1]}
    elif args.scale:
        resize = {"mode": "percent", "percent": float(args.scale)}
    if resize is not None:
        def make_resize(old):
            keep = {k: v for k, v in (old.kwargs() if old else {}).items()
                    if k in ("upscale", "filter", "anchor")}
            return OpSpec.make("resize", **keep, **resize)
        steps = _replace_or_add(steps, "resize", make_resize, before=("metadata", "encode"))
    if args.strip:
        steps = _replace_or_add(steps, "metadata", lambda old: OpSpec.make("metadata", mode=STRIP_MODES[args.strip]),
                                before=("encode",))
    png_filter = args.png_filter
    if args.format or args.quality is not None or png_filter:
        def make_encode(old):
            params = old.kwargs() if old else {}
            if args.format:
                params["format"] = args.format
            if args.quality is not None:
                params["quality"] = args.quality
            if png_filter:
                params["png_filter"] = png_filter
            return OpSpec.make("encode", **params)
        steps = _replace_or_add(steps, "encode", make_encode)
    return Pipeline(steps=tuple(steps))


def _load_preset(name: str) -> Any:
    from gui_app.core import presets

    try:
        return presets.find_preset(name)
    except (KeyError, FileNotFoundError, LookupError) as exc:
        raise UsageError(f"unknown preset {name!r}: {exc}") from None


def build_settings(args: argparse.Namespace) -> tuple[Any, list, Any, Any]:
    """(pipeline, variants, OutputSpec, Limits) from the preset and the flags."""
    import dataclasses

    from gui_app.core import registry
    from gui_app.core.specs import Limits, OpSpec, OutputSpec, Pipeline, SpecError

    out_overrides: dict[str, Any] = {}
    variants: list = []
    try:
        if args.preset:
            preset = _load_preset(args.preset)
            pipeline = preset.pipeline
            out_overrides.update(dict(getattr(preset, "output", None) or {}))
            variants = list(getattr(preset, "variants", None) or ())
            if variants and (args.long_edge or args.fit or args.fill or args.scale):
                raise UsageError(f"the preset {preset.name!r} writes several sizes; "
                                 "a size option would make them all the same")
        else:
            pipeline = Pipeline(steps=(OpSpec.make("auto_orient"),))
        pipeline = registry.validate_pipeline(apply_overrides(pipeline, args))
        variants = [(suffix, registry.validate_pipeline(apply_overrides(p, args))) for suffix, p in variants]
        for key, value in (("template", args.template), ("overwrite", args.overwrite),
                           ("keep_dates", args.keep_dates)):
            if value is not None:
                out_overrides[key] = value
        known = {f.name for f in dataclasses.fields(OutputSpec)}
        unknown = sorted(set(out_overrides) - known)
        if unknown:
            raise SpecError(f"output.{unknown[0]}", "unknown setting")
        out_overrides.update(out_dir=os.path.abspath(args.output), destination="folder")
        output = OutputSpec(**out_overrides)
        limits = Limits(**({"timeout_s": args.timeout} if args.timeout else {}), durable_writes=bool(args.durable))
    except SpecError as exc:
        raise UsageError(f"invalid settings: {exc}") from None
    return pipeline, variants, output, limits


# --------------------------------------------------------------------------- progress


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _fmt_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _make_listener(stream: TextIO, show_bar: bool) -> Any:
    from gui_app.core.runner import BatchListener

    class CliListener(BatchListener):
        """Draws a one-line progress bar on a terminal and collects failures."""

        def __init__(self) -> None:
            self.failures: list = []
            self.mode_line = ""
            self.bar_drawn = False

        def started(self, total, mode, workers, reason):
            self.mode_line = f"mode: {mode} × {workers} ({reason})"
            if show_bar:
                print(self.mode_line, file=stream, flush=True)

        def file_finished(self, result):
            if result.status == "failed":
                self.failures.append(result)

        def progress(self, p):
            if not show_bar:
                return
            width = 24
            total = p.total or 0
            filled = int(width * p.done / total) if total else 0
            name = os.path.basename(p.current)[-30:]
            count = f"{p.done}/{total}" if total else f"{p.done}"
            line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {count} "
                    f"{p.images_per_s:5.1f} img/s ETA {_fmt_duration(p.eta_s)} {name}")
            stream.write(line.ljust(100)[:110])
            stream.flush()
            self.bar_drawn = True

        def end_bar(self):
            if self.bar_drawn:
                stream.write("\n")
                stream.flush()
                self.bar_drawn = False

    return CliListener()


# --------------------------------------------------------------------------- run


class _Interrupts:
    """SIGINT/SIGTERM cancel the batch (workers stopped, temps swept, exit 130);
    a second signal stops at once."""

    def __init__(self) -> None:
        self.runner: Any = None
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # not in the main thread
                pass

    def restore(self) -> None:
        for sig, old in self._old.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError):
                pass
        self._old.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal is not None:
            # Second signal: stop now, taking the workers with us.
            if self.runner is not None:
                for pid in list(self.runner.worker_pids):
                    try:
                        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                    except OSError:
                        pass
            os._exit(EXIT_INTERRUPTED)
        self.signal = signum
        if self.runner is not None:
            self.runner.cancel()
        else:  # still scanning or planning: nothing written yet, just stop
            raise KeyboardInterrupt


def _resume_item(item: Any, journal: Any, pipelines: dict[str, Any], limits: Any, output: Any) -> Any:
    """With --resume, an output that exists only because an earlier run of this
    batch wrote it is not "someone else's file": re-plan it as a task that may
    overwrite it; the runner then skips it if the journal proves it done, or
    redoes it (settings or input changed).

    - policy skip: the plan skipped the existing output; it becomes a task.
    - policy rename: the plan picked ``name (n).ext`` because the earlier
      output exists; the task goes back to the name the journal recorded for
      this same input (same folder, same name up to the `` (n)`` number).
    """
    import dataclasses

    from gui_app.core.specs import Code, TaskSpec

    if (item.task is None and item.code == Code.SKIPPED_EXISTING and item.output_path
            and journal.owns_output(item.output_path) and item.variant in pipelines):
        try:
            st = os.stat(item.input_path)
        except OSError:
            return item
        task = TaskSpec(task_id=item.item_id, input_path=item.input_path, output_path=item.output_path,
                        pipeline=pipelines[item.variant], limits=limits, overwrite="overwrite",
                        keep_dates=output.keep_dates, input_size=st.st_size, input_mtime_ns=st.st_mtime_ns)
        return _ResumedItem(task)
    if item.task is not None and item.action == "rename":
        planned = item.task.output_path
        for earlier in journal.outputs_for_input(item.input_path):
            if (os.path.dirname(earlier) == os.path.dirname(planned)
                    and _without_number(earlier) == _without_number(planned) and os.path.isfile(earlier)):
                return _ResumedItem(dataclasses.replace(item.task, output_path=earlier, overwrite="overwrite"))
    return item


def _without_number(path: str) -> str:
    """``a/b (3).webp`` -> ``b.webp``: a name without the plan's rename number."""
    import re

    return re.sub(r" \(\d+\)(?=\.[^.]*$|$)", "", os.path.basename(path))


class _ResumedItem:
    def __init__(self, task: Any):
        self.task = task


def _print_plan(plan: Any, out: TextIO) -> None:
    for item in plan.items:
        target = item.output_path or "-"
        note = f"  ({item.note})" if item.note else ""
        print(f"{item.action:<11} {item.input_path} -> {target}{note}", file=out)
    print(f"plan: {plan.describe()}", file=out)


def _print_summary(summary: Any, listener: Any, out: TextIO, err: TextIO, quiet: bool) -> None:
    if not quiet:
        rows = [("ok", summary.ok), ("failed", summary.failed), ("skipped", summary.skipped),
                ("cancelled", summary.cancelled), ("total", summary.total)]
        print(listener.mode_line, file=out)
        for label, value in rows:
            print(f"  {label:<10} {value:>8}", file=out)
        print(f"  {'read':<10} {_fmt_bytes(summary.bytes_in):>8}", file=out)
        print(f"  {'written':<10} {_fmt_bytes(summary.bytes_out):>8}", file=out)
        print(f"  {'time':<10} {summary.seconds:>7.1f}s", file=out)
        if summary.report_path:
            print(f"report: {summary.report_path}", file=out)
    if listener.failures:
        print(f"{len(listener.failures)} file(s) failed:", file=err)
        for result in listener.failures[:200]:
            print(f"  {result.input_path}: {result.code}: {result.message}", file=err)
        if len(listener.failures) > 200:
            print(f"  … and {len(listener.failures) - 200} more (see the report)", file=err)
    if summary.batch_error:
        print(f"imagebatch: error: {summary.batch_error}", file=err)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from gui_app.core import plan as planning
    from gui_app.core import scan as scanning

    pipeline, variants, output, limits = build_settings(args)
    if args.mode != "dask" and args.scheduler:
        raise UsageError("--scheduler needs --mode dask")
    if args.mode != "dask" and args.transfer != "shared":
        raise UsageError("--transfer needs --mode dask")
    missing = [p for p in args.inputs if not os.path.lexists(p)]
    if missing:
        raise UsageError(f"input not found: {missing[0]}")
    if args.report:
        from gui_app.core.report import report_kind

        try:
            report_kind(args.report)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    problem = planning.check_output_dir(output.out_dir)
    if problem:
        raise UsageError(problem)
    if args.report:
        problem = planning.check_output_dir(os.path.dirname(os.path.abspath(args.report)))
        if problem:
            raise UsageError(f"cannot write the report: {problem}")

    interrupts = _Interrupts()
    interrupts.install()
    try:
        return _plan_and_run(args, pipeline, variants, output, limits, interrupts, out, err)
    finally:
        interrupts.restore()


#: Up to this many scanned files the scan is kept in memory and planned from
#: there; above it the inputs are scanned a second time, streaming into the
#: plan and the runner, so the CLI's memory does not grow with the batch.
KEEP_SCAN_ENTRIES = 5_000


def _streamed_plan(args: argparse.Namespace, pipeline: Any, variants: list, output: Any,
                   limits: Any) -> tuple[int, Iterator[Any], bool]:
    """``(number of plan items, plan items, streamed)``, the items made
    lazily as they are consumed.

    The plan is exactly :func:`plan.make_plan`'s: a first pass over the scan
    (directory listings and ``stat`` only) counts the items and collects the
    12-byte keys of every input, which the streaming plan needs to refuse
    outputs that would overwrite a later input. A small batch keeps its scan
    entries (``streamed`` False: the caller may hold the plan in a list); a
    big one (more than :data:`KEEP_SCAN_ENTRIES` files) is scanned a second
    time while the runner consumes the plan, so memory stays flat and the
    processing starts before the whole batch is planned (the plan reads
    image headers when the name template needs them).
    """
    from gui_app.core import plan as planning
    from gui_app.core import scan as scanning

    options = planning.scan_options_for(output)

    def scan() -> Iterator[Any]:
        return scanning.scan(args.inputs, recursive=args.recursive, **options)

    per_input = max(1, len(variants))
    kept: list[Any] | None = []
    known_inputs: set[bytes] = set()
    total = 0
    for entry in scan():
        total += per_input if entry.ok else 1
        if entry.ok:
            known_inputs.add(planning._hash_key(entry.path))
        if kept is not None:
            kept.append(entry)
            if len(kept) > KEEP_SCAN_ENTRIES:
                kept = None
    entries = kept if kept is not None else scan()
    items = planning.iter_plan(entries, pipeline, output, limits, variants=variants, _known_inputs=known_inputs)
    return total, items, kept is None


def _plan_and_run(args: argparse.Namespace, pipeline: Any, variants: list, output: Any, limits: Any,
                  interrupts: _Interrupts, out: TextIO, err: TextIO) -> int:
    from gui_app.core import plan as planning
    from gui_app.core import scan as scanning

    if args.dry_run:
        entries = scanning.scan(args.inputs, recursive=args.recursive, **planning.scan_options_for(output))
        _print_plan(planning.make_plan(entries, pipeline, output, limits, variants=variants), out)
        return EXIT_OK

    from gui_app.core.journal import Journal, sweep_temp_files
    from gui_app.core.runner import BatchRunner

    try:
        os.makedirs(output.out_dir, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the output folder {output.out_dir}: {exc.strerror or exc}") from None
    sweep_temp_files(output.out_dir)
    journal = Journal.for_output_dir(output.out_dir, resume=args.resume)
    pipelines = dict(variants) if variants else {"": pipeline}

    total, planned, streamed = _streamed_plan(args, pipeline, variants, output, limits)

    def work() -> Iterator[Any]:
        for item in planned:
            if args.resume:
                item = _resume_item(item, journal, pipelines, limits, output)
            yield item.task if item.task is not None else item.result()

    # A list when small: the runner then knows the bytes to do, and after a
    # cancel reports every file not run one by one (a streamed batch reports
    # the files it can reach in half a second and counts the rest).
    tasks = work() if streamed else list(work())

    show_bar = not args.quiet and err.isatty()
    listener = _make_listener(err, show_bar)
    runner = BatchRunner(mode=args.mode, workers=args.workers, limits=limits, listener=listener,
                         dask_scheduler=args.scheduler, transfer=args.transfer)
    interrupts.runner = runner
    if interrupts.signal is not None:
        runner.cancel()
    try:
        summary = runner.run(tasks, total=total, journal=journal, report=args.report)
    finally:
        runner.close()
        journal.close()
        listener.end_bar()
    _print_summary(summary, listener, out, err, args.quiet)
    if interrupts.signal is not None:
        print("imagebatch: interrupted; run again with --resume to finish", file=err)
        return EXIT_INTERRUPTED
    if summary.batch_error:
        return EXIT_ERROR
    return EXIT_FAILED if summary.failed else EXIT_OK


def cmd_presets(out: TextIO, err: TextIO) -> int:
    from gui_app.core import presets

    errors: list[tuple[str, str]] = []
    for preset in presets.list_presets(errors):
        kind = "built-in" if preset.builtin else "user"
        print(f"{preset.name:<16} {kind:<8} {preset.description}", file=out)
    for path, reason in errors:
        print(f"imagebatch: warning: preset {path} ignored: {reason}", file=err)
    return EXIT_OK


def cmd_ops(out: TextIO) -> int:
    from gui_app.core import registry

    for info in registry.all_ops():
        print(f"{info.name:<16} {info.family:<10} {info.label}", file=out)
        for p in info.params:
            extra = ""
            if p.choices:
                extra = " (" + "|".join(c for c, _ in p.choices) + ")"
            elif p.minimum is not None and p.maximum is not None:
                extra = f" ({p.minimum:g}..{p.maximum:g})"
            print(f"    {p.name:<16} {p.type:<7} default {p.default!r}{extra}", file=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in ("--version", "-V"):
        print(f"imagebatch {_version()}", file=out)
        return EXIT_OK
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.version:
        print(f"imagebatch {_version()}", file=out)
        return EXIT_OK
    try:
        if args.command == "run":
            return cmd_run(args, out, err)
        if args.command == "presets":
            return cmd_presets(out, err)
        if args.command == "ops":
            return cmd_ops(out)
        parser.print_help(out)
        return EXIT_OK if args.command == "help" else EXIT_ERROR
    except UsageError as exc:
        print(f"imagebatch: error: {exc}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl+C while scanning or planning: nothing was written yet
        print("imagebatch: interrupted", file=err)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `imagebatch ops | head`: the reader left
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
