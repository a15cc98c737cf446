"""Smoke test of the frozen build and the .deb (Linux). Run by hand or through pytest.

    python packaging/smoke_test.py              # reuse a fresh build, else build first
    python packaging/smoke_test.py --rebuild    # always build first
    python packaging/smoke_test.py --only gui   # one check: version, batch, gui, open-with,
                                                # gui-batch, deb

    python -m pytest -m packaging tests/packaging   # the same checks as pytest tests

Checks (issue 6):
  version  ``imagebatch --version`` and ``imagebatch-cli --version`` print pyproject's version
           (QT_QPA_PLATFORM=offscreen).
  batch    ``imagebatch run`` in processes mode over photos of ../shared/corpus writes decodable
           outputs of the right size, and exactly --workers spawn workers ran: no respawn
           loop, no worker that starts workers of its own (children read from /proc).
  gui      the GUI executable starts under Xvfb, maps exactly one main window, a screenshot
           is saved (packaging/dist/smoke/gui.png: look at it), and it quits cleanly (exit 0)
           on Ctrl+Q typed with xdotool, the user's own way out (SIGTERM if xdotool is missing).
  open-with  the same with a folder and a file as arguments, as the desktop entry's %F
           passes them (screenshot packaging/dist/smoke/gui-open-with.png).
  gui-batch  the GUI opens a folder of photos, Ctrl+Return starts its batch (default
           pipeline and worker mode), every output is written and decodes, there is one main
           window throughout; then Escape closes the summary and Ctrl+Q quits with exit 0
           (screenshot packaging/dist/smoke/gui-batch.png).
  deb      ``dpkg --root`` installs the .deb into a scratch root (``dpkg-deb -x`` if that is
           impossible); /usr/bin/imagebatch, the desktop entry and the hicolor icons are
           there; the installed ``imagebatch --version`` runs; every system library the bundle
           loads is covered by the package's Depends (ldd + dpkg -S); apt accepts the package.
Results go to packaging/dist/smoke/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
#: The shared test corpus (override with IMAGEBATCH_CORPUS). Where it is absent (a CI
#: runner with only the repository) the batch runs over the bundled sample photos.
CORPUS = Path(os.environ.get("IMAGEBATCH_CORPUS", ROOT.parent / "shared" / "corpus"))
SAMPLES = ROOT / "resources" / "samples"
sys.path.insert(0, str(PACKAGING))

from render_icons import HICOLOR_SIZES  # noqa: E402


def _load_build_script():
    """packaging/build.py, imported under a name that cannot shadow PyPA's ``build``
    package when this module is loaded inside a larger test session."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("imagebatch_packaging_build", PACKAGING / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


build = _load_build_script()

SMOKE_DIR = build.DIST / "smoke"
#: Photos (and one each of PNG, WebP, HEIC) for the frozen batch: real decoders, real sizes.
CORPUS_INPUTS = (
    "camera/Canon_40D.jpg", "camera/Nikon_D70.jpg", "camera/Pentax_K10D.jpg",
    "camera/Konica_Minolta_DiMAGE_Z3.jpg", "camera/gps_DSCN0010.jpg", "camera/gps_DSCN0021.jpg",
    "camera/jolla.jpg", "camera/Reconyx_HC500_Hyperfire.jpg", "orientation/Landscape_6.jpg",
    "formats/hopper.png", "formats/hopper.webp", "formats/IMG_5195.HEIC", "formats/transparent.png",
)
#: Two of those for the AVIF encoder check (PNG with alpha, HEIC decode).
CORPUS_AVIF_INPUTS = ("hopper.png", "IMG_5195.HEIC")
LONG_EDGE = 320
GUI_TITLE = "ImageBatch"
#: Sources whose change makes an existing build stale.
SOURCES = ("gui_app", "resources", "packaging/imagebatch.spec", "packaging/entry_point.py",
           "packaging/build.py", "packaging/render_icons.py", "pyproject.toml")


class SmokeFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


# --- the build ---------------------------------------------------------------------------


def newest_source_mtime() -> float:
    newest = 0.0
    for rel in SOURCES:
        path = ROOT / rel
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files if "__pycache__" not in f.parts)])
    return newest


def ensure_build(rebuild: bool = False, need_deb: bool = True) -> dict:
    """Return build-info.json of a build newer than every source file, building if needed."""
    if not rebuild and build.BUILD_INFO.is_file():
        info = json.loads(build.BUILD_INFO.read_text(encoding="utf-8"))
        wanted = ("bundle", "deb") if need_deb else ("bundle",)
        present = all(k in info["artifacts"] and Path(info["artifacts"][k]["path"]).exists() for k in wanted)
        if present and build.BUILD_INFO.stat().st_mtime >= newest_source_mtime():
            return info
    args = [sys.executable, str(PACKAGING / "build.py")] + ([] if need_deb else ["--no-deb"])
    subprocess.run(args, check=True, cwd=ROOT)
    return json.loads(build.BUILD_INFO.read_text(encoding="utf-8"))


def app_env(tmp: Path, **extra: str) -> dict:
    """A clean environment for the frozen app: no developer PYTHON* variables, a private
    config/cache home so QSettings and presets never touch the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_", "IMAGEBATCH_"))}
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[name] = str(tmp / name.lower())
    env["IMAGEBATCH_CONFIG_DIR"] = str(tmp / "imagebatch-config")
    env["HOME"] = str(tmp / "home")  # e.g. the GUI's default output folder, ~/Pictures/…
    (tmp / "home").mkdir(exist_ok=True)
    env.update(QT_QPA_PLATFORM="offscreen")
    env.update(extra)
    return env


def executable(info: dict, cli: bool = False) -> Path:
    """The GUI (``imagebatch``) or console (``imagebatch-cli``) executable of the build:
    inside ImageBatch.app on macOS, with .exe on Windows."""
    bundle = Path(info["artifacts"]["bundle"]["path"])
    name = bundle.name + ("-cli" if cli else "") + (".exe" if sys.platform == "win32" else "")
    if "app" in info["artifacts"]:
        return Path(info["artifacts"]["app"]["path"]) / "Contents" / "MacOS" / name
    return bundle / name


def batch_executable(info: dict) -> Path:
    """``imagebatch run`` works headless from the GUI executable (what issue 6 asks to
    test); on Windows that is a windowed exe without stdout, so use the console twin."""
    return executable(info, cli=sys.platform == "win32")


def batch_inputs() -> tuple[list[Path], tuple[str, ...]]:
    """(files for the frozen batch, names of two of them for the AVIF check)."""
    if CORPUS.is_dir():
        return [CORPUS / rel for rel in CORPUS_INPUTS], CORPUS_AVIF_INPUTS
    samples = sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".jpg", ".png", ".webp"))
    return samples, tuple(p.name for p in samples if p.suffix.lower() != ".jpg")[:2]


def run_version(executable: Path, version: str, tmp: Path) -> str:
    proc = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                          timeout=120, env=app_env(tmp))
    output = (proc.stdout + proc.stderr).strip()
    check(proc.returncode == 0, f"{executable.name} --version exited {proc.returncode}: {output[-2000:]}")
    if sys.platform == "win32" and not executable.stem.endswith("-cli"):
        return "(windowed exe: no console output; exit code 0)"
    check(version in proc.stdout, f"{executable.name} --version printed {proc.stdout!r}, not {version}")
    return proc.stdout.strip()


# --- 1. version --------------------------------------------------------------------------


def check_version(info: dict, tmp: Path) -> dict:
    return {exe.name: run_version(exe, info["version"], tmp)
            for exe in (executable(info), executable(info, cli=True))}


# --- 2. headless batch in processes mode -------------------------------------------------


def process_table() -> dict[int, tuple[int, list[str]]]:
    """pid → (parent pid, argv) for every process we can read in /proc."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, [a.decode(errors="replace") for a in argv if a])
    return table


def descendants(table, root_pid: int) -> dict[int, tuple[int, list[str]]]:
    found, frontier = {}, {root_pid}
    while frontier:
        children = {pid: row for pid, row in table.items() if row[0] in frontier and pid not in found}
        found.update(children)
        frontier = set(children)
    return found


def pool_workers(tree) -> set[int]:
    """The pool's worker processes among a process tree: ``spawn`` workers carry
    --multiprocessing-fork; ``forkserver`` workers are forked children of the fork server.
    The resource tracker and the fork server themselves are helpers, not workers."""
    servers = {pid for pid, (_pp, argv) in tree.items() if any("forkserver" in a for a in argv)}
    return {
        pid for pid, (ppid, argv) in tree.items()
        if "--multiprocessing-fork" in argv or (ppid in servers and pid not in servers)
    }


def expected_long_edge(path: Path) -> int:
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        width, height = ImageOps.exif_transpose(image).size if path.suffix.lower() == ".jpg" else image.size
    return min(LONG_EDGE, max(width, height))


def check_batch(info: dict, tmp: Path, workers: int = 2) -> dict:
    inputs, avif_names = batch_inputs()
    src, out, report = tmp / "in", tmp / "out", tmp / "report.json"
    src.mkdir(parents=True, exist_ok=True)
    for path in inputs:
        shutil.copy2(path, src / path.name)
    can_watch = Path("/proc/self/stat").is_file()  # counting workers needs Linux's /proc
    cmd = [str(batch_executable(info)), "run", str(src), "-o", str(out), "--long-edge", str(LONG_EDGE),
           "--format", "webp", "--mode", "processes", "--workers", str(workers),
           "--report", str(report), "--quiet"]
    log_path = tmp / "batch.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=app_env(tmp))
        worker_pids, most_at_once, nested, helpers = set(), 0, set(), {}
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            if can_watch:
                tree = descendants(process_table(), proc.pid)
                workers_now = pool_workers(tree)
                worker_pids |= workers_now
                most_at_once = max(most_at_once, len(workers_now))
                # A worker with a child of its own is the frozen-app respawn loop (or a leak).
                nested |= {pid for pid, (ppid, _argv) in tree.items() if ppid in workers_now}
                helpers.update({pid: " ".join(argv)[-80:] for pid, (_pp, argv) in tree.items()
                                if pid not in workers_now})
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            raise SmokeFailure(f"the frozen batch did not finish in 300 s: {log_path.read_text()[-2000:]}")
    output = log_path.read_text(errors="replace")
    check(proc.returncode == 0, f"frozen batch exited {proc.returncode}: {output[-3000:]}")
    if can_watch:
        check(not nested, f"worker processes started children of their own (respawn loop?): {sorted(nested)}")
        check(len(worker_pids) == workers,
              f"{len(worker_pids)} distinct worker processes ran, --workers was {workers}")
        check(most_at_once == workers, f"at most {most_at_once} workers at once, --workers was {workers}")

    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    outputs = {p.stem: p for p in out.rglob("*.webp")}
    for path in inputs:
        source = src / path.name
        check(source.stem in outputs, f"no output for {path.name}; outputs: {sorted(outputs)}; log: {output[-1500:]}")
        with Image.open(outputs[source.stem]) as image:
            image.load()
            check(image.format == "WEBP", f"{outputs[source.stem].name} is {image.format}, not WEBP")
            long_edge = max(image.size)
        check(long_edge == expected_long_edge(source),
              f"{path.name}: output long edge {long_edge}, expected {expected_long_edge(source)}")
    check(report.is_file(), "the batch wrote no report")
    avif = check_avif_output(info, [src / name for name in avif_names], tmp)
    return {"inputs": "corpus" if CORPUS.is_dir() else "samples", "workers_requested": workers,
            "workers_counted": can_watch, "worker_pids": sorted(worker_pids),
            "most_at_once": most_at_once, "helper_processes": sorted(helpers.values()),
            "outputs_checked": len(inputs), "avif_outputs_checked": avif}


def check_avif_output(info: dict, inputs: list[Path], tmp: Path) -> int:
    """The AVIF encoder is a separate Pillow extension (PIL._avif): make sure it came along."""
    from PIL import Image

    out = tmp / "out-avif"
    cmd = [str(batch_executable(info)), "run", *map(str, inputs), "-o", str(out),
           "--long-edge", str(LONG_EDGE), "--format", "avif", "--mode", "sequential", "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=app_env(tmp))
    check(proc.returncode == 0, f"frozen AVIF batch exited {proc.returncode}: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    outputs = sorted(out.rglob("*.avif"))
    check(len(outputs) == len(inputs), f"expected {len(inputs)} AVIF outputs, got {outputs}")
    for path in outputs:
        with Image.open(path) as image:
            image.load()
            check(image.format == "AVIF", f"{path.name} is {image.format}, not AVIF")
    return len(outputs)


# --- 3. the GUI under Xvfb ---------------------------------------------------------------


def start_xvfb(tmp: Path) -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (-displayfd makes the server pick and tell it)."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=(tmp / "xvfb.log").open("w"),
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    check(number.isdigit(), "Xvfb did not start (see xvfb.log)")
    return server, f":{number}"


def app_windows(display: str) -> list[tuple[str, int, int]]:
    """(title, width, height) of the windows titled like the app, from xwininfo."""
    tree = subprocess.run(["xwininfo", "-root", "-tree", "-display", display],
                          capture_output=True, text=True).stdout
    windows = []
    for line in tree.splitlines():
        line = line.strip()
        if f'"{GUI_TITLE}' not in line:
            continue
        title = line.split('"')[1]
        size = line.split(")")[-1].split()[0].split("+")[0]  # e.g. 1100x760+0+0
        width, height = (int(n) for n in size.split("x"))
        windows.append((title, width, height))
    return windows


def screenshot(display: str, target: Path) -> None:
    if shutil.which("import"):
        cmd = ["import", "-display", display, "-window", "root", str(target)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    else:  # xwd + Pillow (Pillow reads no XWD, so go through ImageMagick's convert)
        raw = target.with_suffix(".xwd")
        subprocess.run(["xwd", "-root", "-silent", "-display", display, "-out", str(raw)], check=True)
        subprocess.run(["convert", f"xwd:{raw}", str(target)], check=True)


def visible_windows(display: str, *search: str) -> list[str]:
    """Ids of mapped windows matching an ``xdotool search`` (--onlyvisible: Qt also creates
    an unmapped 1x1 helper window with the app's title)."""
    if not shutil.which("xdotool"):
        return []
    proc = subprocess.run(["xdotool", "search", "--onlyvisible", *search], capture_output=True,
                          text=True, env=dict(os.environ, DISPLAY=display), timeout=10)
    return proc.stdout.split()


def type_keys(display: str, window_id: str, keys: str) -> bool:
    """Focus a window and type ``keys`` (XTEST, through xdotool); False if that failed."""
    env = dict(os.environ, DISPLAY=display)
    try:
        subprocess.run(["xdotool", "windowfocus", "--sync", window_id], env=env, capture_output=True, timeout=10)
        return subprocess.run(["xdotool", "key", "--clearmodifiers", keys], env=env, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def main_window_keys(display: str, keys: str) -> bool:
    windows = visible_windows(display, "--name", f"^{GUI_TITLE}$")
    return bool(windows) and type_keys(display, windows[0], keys)


def quit_gui(app: subprocess.Popen, display: str) -> tuple[str, int]:
    """Quit as a user would: Ctrl+Q in the main window, which runs its closeEvent (settings
    saved, workers shut down). Without xdotool, or if the app ignores it for 20 s, fall back
    to SIGTERM (and SIGKILL, which fails the check)."""
    quit_by = "SIGTERM"
    # A message box (e.g. "Batch finished") is modal: dismiss it with Escape first.
    main = set(visible_windows(display, "--name", f"^{GUI_TITLE}$"))
    for window_id in set(visible_windows(display, "--pid", str(app.pid))) - main:
        type_keys(display, window_id, "Escape")
        time.sleep(0.5)
    if main_window_keys(display, "ctrl+q"):
        try:
            return "Ctrl+Q", app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            quit_by = "SIGTERM after Ctrl+Q was ignored"
    app.send_signal(signal.SIGTERM)
    try:
        return quit_by, app.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()
        raise SmokeFailure(f"the GUI ignored {quit_by} for 15 s and had to be killed") from None


def check_gui(info: dict, tmp: Path, args: tuple[str, ...] = (), shot_name: str = "gui.png",
              interact=None) -> dict:
    """Start the GUI under Xvfb with ``args``; once its window is up, run
    ``interact(app, display)`` if given (its dict joins the result), screenshot, quit."""
    for tool in ("Xvfb", "xwininfo"):
        check(shutil.which(tool) is not None, f"{tool} is not installed (apt-get install xvfb x11-utils)")
    SMOKE_DIR.mkdir(parents=True, exist_ok=True)
    shot = SMOKE_DIR / shot_name
    shot.unlink(missing_ok=True)
    server, display = start_xvfb(tmp)
    log_path = tmp / "gui.log"
    app = None
    try:
        env = app_env(tmp, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        with log_path.open("w") as log_file:
            app = subprocess.Popen([str(executable(info)), *args], stdout=log_file,
                                   stderr=subprocess.STDOUT, env=env)
            started = time.monotonic()
            windows = []
            while app.poll() is None and time.monotonic() - started < 90:
                windows = [w for w in app_windows(display) if w[1] >= 300 and w[2] >= 200]
                if windows:
                    break
                time.sleep(0.2)
            check(bool(windows), f"no main window appeared (exit {app.poll()}): "
                                 f"{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(1.5)  # let the first paint and the sample thumbnails land
            interaction = interact(app, display) if interact else {}
            screenshot(display, shot)
            windows = [w for w in app_windows(display) if w[1] >= 300 and w[2] >= 200]
            second_window = len(windows) > 1
            quit_by, code = quit_gui(app, display)
    finally:
        if app is not None and app.poll() is None:  # a failed check above: do not leak it
            app.kill()
            app.wait()
        server.terminate()
        server.wait(timeout=30)
    log_text = log_path.read_text(errors="replace")
    check(not second_window, f"more than one main window: {windows}")
    clean = {"Ctrl+Q": (0,), "SIGTERM": (0, -signal.SIGTERM)}.get(quit_by, ())
    check(code in clean, f"the GUI exited {code} after {quit_by}: {log_text[-3000:]}")
    check("Traceback" not in log_text, f"the GUI printed a traceback: {log_text[-3000:]}")
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    check(colours is None or len(colours) > 64, f"the screenshot {shot} is nearly blank")
    saved = sorted(str(p.relative_to(tmp)) for home in ("xdg_config_home", "imagebatch-config")
                   for p in (tmp / home).rglob("*") if p.is_file())
    return {"screenshot": str(shot), "window": windows[0], "quit_by": quit_by, "exit_code": code,
            "settings_saved": saved, **interaction}


def check_open_with(info: dict, tmp: Path) -> dict:
    """What the desktop entry's ``Exec=imagebatch %F`` does for "Open with" on a folder and a
    file: the same GUI check with both on the command line (look at gui-open-with.png: the
    folder's images and the file are listed)."""
    inputs, _avif = batch_inputs()
    folder = tmp / "opened folder"
    folder.mkdir()
    for path in inputs[:2]:
        shutil.copy2(path, folder / path.name)
    heic = [p for p in inputs if p.suffix.lower() == ".heic"]  # the iPhone photo, if any
    single = tmp / (heic or inputs)[-1].name
    shutil.copy2((heic or inputs)[-1], single)
    result = check_gui(info, tmp, args=(str(folder), str(single)), shot_name="gui-open-with.png")
    return {**result, "opened": [folder.name, single.name]}


def check_gui_batch(info: dict, tmp: Path) -> dict:
    """The GUI's own batch, frozen: open a folder of photos, press Ctrl+Return (Start) with
    the default pipeline and worker mode, and wait for every output. Meanwhile: still one
    main window (workers never open one), no worker with children of its own. Then close
    the "Batch finished" message with Escape and quit with Ctrl+Q."""
    inputs, _avif = batch_inputs()
    folder = tmp / "photos"
    folder.mkdir()
    for path in inputs:
        shutil.copy2(path, folder / path.name)
    home = tmp / "home"
    image_suffixes = {".webp", ".jpg", ".jpeg", ".png", ".avif", ".tif", ".tiff", ".gif", ".bmp"}

    originals = {folder / path.name for path in inputs}

    def outputs() -> list[Path]:
        """New images wherever the GUI's default output setting puts them: under the
        (private) home, e.g. ~/Pictures/ImageBatch, or beside the inputs."""
        found = [p for root in (home, folder) for p in root.rglob("*")]
        return [p for p in found if p.is_file() and p.suffix.lower() in image_suffixes
                and p not in originals and ".imagebatch-tmp-" not in p.name]

    def run_batch(app: subprocess.Popen, display: str) -> dict:
        check(main_window_keys(display, "ctrl+Return"), "could not type Ctrl+Return (xdotool)")
        most_windows, worker_pids, nested = 1, set(), set()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(outputs()) < len(inputs) and app.poll() is None:
            big = [w for w in app_windows(display) if w[1] >= 300 and w[2] >= 200]
            most_windows = max(most_windows, len(big))
            if Path("/proc/self/stat").is_file():
                tree = descendants(process_table(), app.pid)
                workers_now = pool_workers(tree)
                worker_pids |= workers_now
                nested |= {pid for pid, (ppid, _argv) in tree.items() if ppid in workers_now}
            time.sleep(0.1)
        time.sleep(1.5)  # the summary message and the last progress repaint
        written = outputs()
        check(len(written) == len(inputs), f"the GUI batch wrote {len(written)} of {len(inputs)} outputs")
        from PIL import Image

        for path in written:
            with Image.open(path) as image:
                image.load()  # decodes: not truncated, not a temp file
        check(most_windows == 1, f"{most_windows} main windows during the GUI batch")
        check(not nested, f"GUI workers started children of their own (respawn loop?): {sorted(nested)}")
        return {"outputs": len(written), "output_folder": str(written[0].parent.relative_to(tmp)),
                "worker_processes": len(worker_pids)}

    return check_gui(info, tmp, args=(str(folder),), shot_name="gui-batch.png", interact=run_batch)


# --- 4. the .deb -------------------------------------------------------------------------


def debian_package_for(soname: str, path: str | None) -> str:
    """The Debian package owning a library (dpkg -S), or its conventional name if absent."""
    # dpkg knows the path it unpacked (/lib/… on a merged-/usr system), not always the
    # resolved one (/usr/lib/…): ask for both.
    for candidate in dict.fromkeys([path, os.path.realpath(path)] if path else []):
        owner = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if owner.returncode == 0:
            return owner.stdout.split(":")[0]
    stem, _, version = soname.partition(".so.")
    stem = stem.lower()
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def install_deb(deb: Path, root: Path) -> str:
    """Install into a scratch root with dpkg --root (a real dpkg install: database, file
    list, ownership), falling back to plain extraction where dpkg cannot."""
    admin = root / "var" / "lib" / "dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    for name in ("status", "available"):
        (admin / name).touch()
    proc = subprocess.run(
        ["dpkg", f"--root={root}", "--force-depends", "--force-not-root",
         "--force-script-chrootless", "--log=/dev/null", "-i", str(deb)],
        capture_output=True, text=True,
    )
    if proc.returncode == 0:
        return "dpkg --root -i"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return "dpkg-deb -x"


def check_deb(info: dict, tmp: Path) -> dict:
    check("deb" in info["artifacts"], "build-info.json lists no .deb (built with --no-deb?)")
    deb = Path(info["artifacts"]["deb"]["path"])
    bundle = Path(info["artifacts"]["bundle"]["path"])
    name, version = bundle.name, info["version"]
    fields = {f: subprocess.run(["dpkg-deb", "-f", str(deb), f], capture_output=True, text=True,
                                check=True).stdout.strip() for f in ("Package", "Version", "Depends")}
    check(fields["Package"] == name and fields["Version"] == version, f"control fields: {fields}")
    depends = {d.split()[0] for d in fields["Depends"].split(", ")}

    root = tmp / "root"
    how = install_deb(deb, root)
    link = root / "usr" / "bin" / name
    check(link.is_symlink() and os.readlink(link) == f"/opt/{name}/{name}",
          f"/usr/bin/{name} should link to /opt/{name}/{name}")
    installed = root / os.readlink(link).lstrip("/")
    check(os.access(installed, os.X_OK), f"{installed} is not an executable")
    desktop = root / "usr" / "share" / "applications" / f"{name}.desktop"
    text = desktop.read_text(encoding="utf-8")
    check("Exec=imagebatch %F" in text and "inode/directory" in text and "image/jpeg" in text,
          f"desktop entry lacks Exec %F / MimeType: {text}")
    if shutil.which("desktop-file-validate"):
        valid = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        check(valid.returncode == 0, f"desktop-file-validate: {valid.stdout}{valid.stderr}")
    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    missing_icons = [s for s in HICOLOR_SIZES if not (hicolor / f"{s}x{s}" / "apps" / f"{name}.png").is_file()]
    check(not missing_icons and (hicolor / "scalable" / "apps" / f"{name}.svg").is_file(),
          f"hicolor icons missing for sizes {missing_icons}")
    printed = run_version(installed, version, tmp)

    # Everything the bundle loads from the system must come from a package in Depends.
    uncovered = {}
    for soname, path in build.system_libraries(bundle).items():
        package = debian_package_for(soname, path)
        if package not in depends and package not in build.DEB_BASE:
            uncovered[soname] = package
    check(not uncovered, f"system libraries not covered by Depends: {uncovered}")

    apt = "not checked (no apt-get)"
    if shutil.which("apt-get"):
        sim = subprocess.run(["apt-get", "install", "-s", "--no-install-recommends", str(deb)],
                             capture_output=True, text=True)
        check(sim.returncode == 0, f"apt-get cannot satisfy the package: {sim.stdout[-1500:]}{sim.stderr}")
        apt = "apt-get install -s: dependencies resolvable"
    return {"installed_with": how, "version": printed, "depends": sorted(depends), "apt": apt}


# --- driver ------------------------------------------------------------------------------

CHECKS = {"version": check_version, "batch": check_batch, "gui": check_gui,
          "open-with": check_open_with, "gui-batch": check_gui_batch, "deb": check_deb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke test of the frozen ImageBatch build")
    parser.add_argument("--rebuild", action="store_true", help="build even if a fresh build exists")
    parser.add_argument("--only", action="append", choices=sorted(CHECKS), help="run only these checks")
    args = parser.parse_args(argv)
    chosen = args.only or list(CHECKS)
    info = ensure_build(rebuild=args.rebuild, need_deb="deb" in chosen)
    results, failed = {}, 0
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"imagebatch-smoke-{name}-") as tmp:
            started = time.monotonic()
            try:
                detail = CHECKS[name](info, Path(tmp))
                results[name] = {"ok": True, "detail": detail}
            except (SmokeFailure, subprocess.SubprocessError, OSError) as exc:
                failed += 1
                results[name] = {"ok": False, "error": str(exc)}
            results[name]["seconds"] = round(time.monotonic() - started, 1)
        verdict = "PASS" if results[name]["ok"] else "FAIL"
        print(f"[smoke] {verdict} {name} ({results[name]['seconds']} s): "
              f"{results[name].get('detail') or results[name].get('error')}", flush=True)
    SMOKE_DIR.mkdir(parents=True, exist_ok=True)
    (SMOKE_DIR / "results.json").write_text(json.dumps({"build": info, "checks": results}, indent=2,
                                                       default=str) + "\n", encoding="utf-8")
    print(f"{len(chosen) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
