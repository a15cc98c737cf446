"""Screenshots of the real window in its main states, for the README and review.

Run under Xvfb (no desktop needed):

    xvfb-run -a -s "-screen 0 1400x900x24" python packaging/screenshots.py [--out DIR] [--corpus DIR]

It opens the real main window, loads ``../shared/corpus`` (or the bundled
samples), and saves PNGs of: the empty window, the loaded list with
thumbnails, the preview, the plan, a running batch, the finished batch with
its summary, and the same window in a dark palette. ``main.png`` is the
preview state (the README picture).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

#: Window size: None = the app's own first-run size for the screen (90 % of a small one).
SIZE: tuple[int, int] | None = None
#: Size without a real screen (QT_QPA_PLATFORM=offscreen).
OFFSCREEN_SIZE = (1400, 860)


async def wait_for(signal, timeout: float = 60.0):
    """Await one emission of a Qt signal (returns its arguments)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def fire(*args):
        if not future.done():
            future.set_result(args)

    signal.connect(fire)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        signal.disconnect(fire)


async def pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


def save(window, out: Path, name: str, whole_screen: bool = False) -> Path:
    from PySide6.QtWidgets import QApplication

    path = out / f"{name}.png"
    if whole_screen and QApplication.platformName() == "xcb":
        # The summary dialog is a separate window: grab the screen area.
        geometry = window.frameGeometry()
        pixmap = QApplication.primaryScreen().grabWindow(0, geometry.x(), geometry.y(), geometry.width(), geometry.height())
    else:
        pixmap = window.grab()
    pixmap.save(str(path))
    print(f"saved {path}")
    return path


def dark_palette():
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023", QPalette.ColorRole.AlternateBase: "#26282c",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#35373c",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d7be0",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#35373c",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#9a9ca3",
        QPalette.ColorRole.Mid: "#4a4c52", QPalette.ColorRole.Light: "#45474d", QPalette.ColorRole.Dark: "#18191b",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7177"))
    return p


async def shoot(out: Path, inputs: list[str], select: str | None) -> None:
    from PySide6.QtWidgets import QApplication

    from gui_app.core.specs import OpSpec, OutputSpec, Pipeline
    from gui_app.qt.views.main_window import MainWindow

    app = QApplication.instance()
    window = MainWindow()
    if SIZE or app.platformName() == "offscreen":  # the offscreen "screen" is a fake 800×800
        window.resize(*(SIZE or OFFSCREEN_SIZE))
    else:
        window.resize(window._first_run_size())
    window.move(0, 0)
    window.show()
    work = Path(tempfile.mkdtemp(prefix="imagebatch-shots-"))
    try:
        window.pipeline_editor.set_pipeline(Pipeline(steps=(
            OpSpec.make("auto_orient"),
            OpSpec.make("resize", mode="long_edge", long_edge=1600),
            OpSpec.make("sharpen"),
            OpSpec.make("metadata", mode="strip_gps"),
            OpSpec.make("encode", format="webp", quality=80),
        )))
        window.output_settings.set_output_spec(OutputSpec(out_dir=str(work / "web"), template="{stem}_{width}w"))
        window.run_settings.set_values("processes", None, None)
        window.pipeline_editor.steps.setCurrentRow(1)
        await pause(0.5)
        save(window, out, "1-empty")

        window.add_paths(inputs, remember=False)
        await wait_for(window.scan_finished)
        deadline = asyncio.get_running_loop().time() + 30
        while window.model.details_pending() and asyncio.get_running_loop().time() < deadline:
            await pause(0.2)
        await pause(0.3)
        save(window, out, "2-loaded")

        # The preview of a good-looking photo.
        if select:
            row = next((i for i, r in enumerate(window.model.rows) if r.name == select), 0)
        else:
            row = 0
        index = window.filter_model.mapFromSource(window.model.index(row, 0))
        window.input_view.setCurrentIndex(index)
        window.input_view.scrollTo(index)
        await wait_for(window.preview.rendered, 60)
        window.preview.view.split = 0.5
        await pause(0.4)
        main = save(window, out, "3-preview")
        shutil.copy(main, out / "main.png")

        window.center_tabs.setCurrentWidget(window.plan_panel)
        window.refresh_plan()
        await wait_for(window.plan_ready, 60)
        window.settings_tabs.setCurrentIndex(1)
        await pause(0.3)
        save(window, out, "4-plan")
        window.settings_tabs.setCurrentIndex(0)

        window.center_tabs.setCurrentWidget(window.log)
        done = asyncio.ensure_future(wait_for(window.batch_done, 300))
        window.start_batch()
        total = len(window.model.rows)
        while not done.done() and window.run_bar.bar.value() < total * 0.4:
            await pause(0.05)
        save(window, out, "5-running")
        await done
        await pause(0.6)
        save(window, out, "6-done", whole_screen=True)
        if window.summary_box is not None:
            window.summary_box.close()

        window.center_tabs.setCurrentWidget(window.preview)
        from gui_app.qt.app import schedule_repolish

        app.setPalette(dark_palette())
        schedule_repolish()  # what a system light/dark switch triggers (colorSchemeChanged)
        await pause(0.8)
        save(window, out, "7-dark")
    finally:
        window.controller.shutdown()
        window.close()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "build" / "screenshots"),
                        help="folder for the PNGs (default build/screenshots; copy main.png to "
                             "resources/screenshots/ to update the README picture)")
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"),
                        help="folder to load (default ../shared/corpus, else the bundled samples)")
    parser.add_argument("--select", default="jolla.jpg", help="file shown in the preview")
    parser.add_argument("--size", default="", help="window size WxH (default: the app's first-run size "
                                                   "for the screen, as a new user sees it)")
    args = parser.parse_args(argv)
    if args.size:
        global SIZE
        SIZE = tuple(int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["IMAGEBATCH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="imagebatch-shots-config-")

    import qasync

    from gui_app.qt.app import create_application
    from gui_app.resources_path import sample_folder

    corpus = Path(args.corpus)
    inputs = [str(corpus)] if corpus.is_dir() else [str(sample_folder())]
    app = create_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(shoot(out, inputs, args.select))
    return 0


if __name__ == "__main__":
    sys.exit(main())
