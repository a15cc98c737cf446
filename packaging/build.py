"""Build ImageBatch's release artifacts: the one-folder bundle, a .tar.gz of it, and a .deb.

    python packaging/build.py                  # everything this OS can build
    python packaging/build.py --no-deb         # bundle + tar.gz only (the default off Linux)
    python packaging/build.py --deb-compression gzip   # faster, larger .deb

Works offline from a clean clone once the build requirements are installed
(``pip install -e ".[packaging]"`` or just ``pip install "pyinstaller>=6.10"``). Outputs go to
``packaging/dist/`` (ignored by git); PyInstaller's work files to ``packaging/build/``.
A summary with sizes and timings is printed and written to ``packaging/dist/build-info.json``
(the smoke test reads it to find the artifacts).

Linux .deb layout (see packaging/README.md):
    /opt/imagebatch/                       the bundle
    /usr/bin/imagebatch -> /opt/imagebatch/imagebatch
    /usr/share/applications/imagebatch.desktop
    /usr/share/icons/hicolor/<N>x<N>/apps/imagebatch.png, scalable/apps/imagebatch.svg
No maintainer scripts: dpkg's triggers (desktop-file-utils, the hicolor icon cache) refresh
the menu and icon caches by themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "imagebatch.spec"
DIST = PACKAGING / "dist"
WORK = PACKAGING / "build"
PYINSTALLER_WORK = WORK / "pyinstaller"
BUILD_INFO = DIST / "build-info.json"

#: System packages the Linux bundle loads from the host rather than carrying itself:
#: PyInstaller deliberately never bundles libc, the GL/EGL driver stack (libEGL, libGL:
#: they must match the user's GPU driver), libxcb and libwayland-client. The xcb helper
#: libraries and xkbcommon are normally bundled too, but are listed so the package still
#: works when the build host lacked them (PyInstaller then leaves them out with a warning).
#: tests/packaging/test_bundle.py checks, with ldd + dpkg -S, that every library the bundle
#: resolves from outside itself belongs to one of these.
DEB_DEPENDS = (
    "libegl1",
    "libgl1",
    "libxcb1",
    "libx11-xcb1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xkb1",
    "libfontconfig1",
    "libdbus-1-3",
    "libwayland-client0",
    "libwayland-cursor0",
    "libwayland-egl1",
)
#: Packages of the base system every Debian/Ubuntu has; they satisfy libc6's soname set.
DEB_BASE = ("libc6", "libgcc-s1", "libstdc++6", "libglvnd0", "libglx0")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def bundle_dir() -> Path:
    return DIST / project()["name"]


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


def human_size(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB"


def tree_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def machine_arch() -> str:
    """Debian's name for this architecture (amd64, arm64…), falling back to uname."""
    if shutil.which("dpkg"):
        return subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


# --- step 1: the PyInstaller bundle ------------------------------------------------------


def build_bundle() -> Path:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit(
            "PyInstaller is missing: pip install -e '.[packaging]'  (or: pip install 'pyinstaller>=6.10')"
        ) from None
    cmd = [
        sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--clean",
        "--log-level", "WARN",
        "--distpath", str(DIST), "--workpath", str(PYINSTALLER_WORK),
    ]
    log(" ".join(cmd[2:]))
    subprocess.run(cmd, check=True, cwd=ROOT)
    bundle = bundle_dir()
    exe = ".exe" if sys.platform == "win32" else ""
    for name in (f"{bundle.name}{exe}", f"{bundle.name}-cli{exe}"):
        if not (bundle / name).is_file():
            raise SystemExit(f"build: PyInstaller finished but {bundle / name} is missing")
    return bundle


# --- step 2: .tar.gz (.zip on Windows) ---------------------------------------------------


def archive_kind() -> str:
    return "zip" if sys.platform == "win32" else "tar.gz"


def build_archive(bundle: Path, version: str) -> Path:
    """The bundle folder as <name>-<version>-<os>-<arch>.tar.gz (symlinks kept as links),
    or .zip on Windows, where Explorer opens it without extra tools."""
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    stem = DIST / f"{bundle.name}-{version}-{system}-{platform.machine().lower()}"
    if archive_kind() == "zip":
        return Path(shutil.make_archive(str(stem), "zip", root_dir=DIST, base_dir=bundle.name))
    target = stem.with_name(stem.name + ".tar.gz")
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)
    return target


# --- step 3: .deb ------------------------------------------------------------------------


def elf_files(bundle: Path):
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    yield path


def required_glibc(bundle: Path) -> str | None:
    """The newest GLIBC_x.y symbol version any file in the bundle needs (for libc6 (>= …))."""
    if not shutil.which("readelf"):
        return None
    newest = (0, 0)
    for path in elf_files(bundle):
        out = subprocess.run(["readelf", "-V", "--wide", str(path)], capture_output=True, text=True).stdout
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", out):
            newest = max(newest, (int(major), int(minor)))
    return f"{newest[0]}.{newest[1]}" if newest != (0, 0) else None


def system_libraries(bundle: Path) -> dict[str, str | None]:
    """Shared libraries the bundle resolves from the host (soname → path, None if missing).

    Uses ldd on every ELF file with the bundle's own library folder first on the search
    path, as PyInstaller's bootloader arranges at run time.
    """
    internal = bundle / "_internal"
    env = dict(os.environ, LD_LIBRARY_PATH=str(internal))
    found: dict[str, str | None] = {}
    for path in elf_files(bundle):
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
        for soname, target in re.findall(r"^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", out, re.M):
            if target == "not found":
                found.setdefault(soname, None)
            elif not Path(target).resolve().is_relative_to(bundle.resolve()):
                found[soname] = target
    return found


def write_deb_tree(bundle: Path, staging: Path, version: str, icons_dir: Path) -> None:
    name = bundle.name
    if staging.exists():
        shutil.rmtree(staging)
    opt = staging / "opt" / name
    shutil.copytree(bundle, opt, symlinks=True)
    usr_bin = staging / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / name).symlink_to(f"/opt/{name}/{name}")
    share = staging / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copy2(ROOT / "resources" / f"{name}.desktop", share / "applications" / f"{name}.desktop")
    hicolor = share / "icons" / "hicolor"
    for png in sorted(icons_dir.glob("*x*/imagebatch.png")):
        target = hicolor / png.parent.name / "apps" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(ROOT / "resources" / "imagebatch.svg", hicolor / "scalable" / "apps" / f"{name}.svg")
    doc = share / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        f"{name} {version}: MIT licence, (c) ImageBatch developers.\n"
        "Bundled third-party components (Python, Qt/PySide6 under LGPLv3, Pillow, libheif,\n"
        "libwebp, libavif…) keep their own licences; see the files in /opt/imagebatch/_internal.\n",
        encoding="utf-8",
    )
    for path in staging.rglob("*"):  # dpkg wants 0755 dirs and no group/world-writable files
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)


def deb_control(bundle: Path, version: str, arch: str, installed_kb: int) -> str:
    glibc = required_glibc(bundle)
    depends = ([f"libc6 (>= {glibc})"] if glibc else ["libc6"]) + list(DEB_DEPENDS)
    meta = project()
    return (
        f"Package: {bundle.name}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        "Section: graphics\n"
        "Priority: optional\n"
        f"Maintainer: {meta['authors'][0]['name']} <noreply@imagebatch.invalid>\n"
        f"Installed-Size: {installed_kb}\n"
        f"Depends: {', '.join(depends)}\n"
        "Recommends: fonts-dejavu-core | fonts-liberation2, xdg-desktop-portal\n"
        f"Description: {meta['description']}\n"
        " ImageBatch resizes, converts (JPEG, PNG, WebP, AVIF, TIFF, HEIC input…),\n"
        " watermarks and strips metadata from whole folders of images, using every\n"
        " CPU core. The same presets run headless: imagebatch run SRC DST --preset web.\n"
        " This package carries its own Python, Qt and Pillow under /opt/imagebatch.\n"
    )


def build_deb(bundle: Path, version: str, compression: str) -> Path:
    if not shutil.which("dpkg-deb"):
        raise SystemExit("build: dpkg-deb not found (apt-get install dpkg-dev), or pass --no-deb")
    arch = machine_arch()
    staging = WORK / "deb" / f"{bundle.name}_{version}_{arch}"
    sys.path.insert(0, str(PACKAGING))
    from render_icons import render_icons

    icons = WORK / "icons"
    render_icons(icons)
    write_deb_tree(bundle, staging, version, icons)
    installed_kb = (tree_size(staging) + 1023) // 1024
    (staging / "DEBIAN").mkdir()
    (staging / "DEBIAN" / "control").write_text(
        deb_control(bundle, version, arch, installed_kb), encoding="utf-8"
    )
    (staging / "DEBIAN").chmod(0o755)
    target = DIST / f"{staging.name}.deb"
    cmd = ["dpkg-deb", "--build", f"-Z{compression}", str(staging), str(target)]
    # Files must be owned by root in the package: fakeroot pretends so; without it
    # dpkg-deb (>= 1.19) can force the ownership itself.
    cmd = ["fakeroot", *cmd] if shutil.which("fakeroot") else [*cmd[:2], "--root-owner-group", *cmd[2:]]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return target


# --- driver ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-deb", action="store_true", help="skip the .deb (always skipped off Linux)")
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz (.zip on Windows)")
    parser.add_argument(
        "--deb-compression", choices=("xz", "gzip", "none"), default="xz",
        help="dpkg-deb compressor: xz (default, smallest, slowest), gzip (faster, larger)",
    )
    args = parser.parse_args(argv)

    version = project()["version"]
    info: dict = {"version": version, "platform": sys.platform, "artifacts": {}, "seconds": {}}

    def timed(step, func, *func_args):
        started = time.monotonic()
        result = func(*func_args)
        info["seconds"][step] = round(time.monotonic() - started, 1)
        return result

    bundle = timed("bundle", build_bundle)
    info["artifacts"]["bundle"] = {"path": str(bundle), "bytes": tree_size(bundle)}
    app = DIST / "ImageBatch.app"  # the spec's BUNDLE, macOS only
    if sys.platform == "darwin" and app.is_dir():
        info["artifacts"]["app"] = {"path": str(app), "bytes": tree_size(app)}
    if not args.no_archive:
        archive = timed(archive_kind(), build_archive, bundle, version)
        info["artifacts"][archive_kind()] = {"path": str(archive), "bytes": archive.stat().st_size}
    if sys.platform.startswith("linux") and not args.no_deb:
        deb = timed("deb", build_deb, bundle, version, args.deb_compression)
        info["artifacts"]["deb"] = {"path": str(deb), "bytes": deb.stat().st_size}
        info["deb_compression"] = args.deb_compression

    BUILD_INFO.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    for kind, artifact in info["artifacts"].items():
        log(f"{kind:7} {human_size(artifact['bytes']):>9}  {artifact['path']}")
    log("seconds: " + ", ".join(f"{k} {v}" for k, v in info["seconds"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
