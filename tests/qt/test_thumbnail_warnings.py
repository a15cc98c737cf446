"""Pillow's UserWarnings about hostile files are recorded per file by the
thumbnail reader (helper threads) and never printed to the terminal."""

from __future__ import annotations

import threading
import warnings

from gui_app.core.specs import Limits
from gui_app.core import pil_warnings
from gui_app.qt.widgets.input_list import read_details

HOSTILE_TIFF = "crash-0c7e0e8e11ce787078f00b5b0ca409a167f070e0.tif"
BAD_EXIF = "hopper_bad_exif.jpg"


def test_warnings_are_recorded_for_the_file_not_printed(corpus, capfd):
    *_details, notes = read_details(str(corpus / "hostile" / BAD_EXIF), Limits())
    assert any("Corrupt EXIF data" in n for n in notes)
    *_details, notes = read_details(str(corpus / "hostile" / HOSTILE_TIFF), Limits())
    assert notes == ["Tag data larger than file. Skipping tag 42112"], "each message once per file"
    err = capfd.readouterr().err
    assert "UserWarning" not in err and "Tag data larger" not in err and "Corrupt EXIF" not in err


def test_warnings_go_to_the_file_whose_thread_raised_them(corpus):
    paths = [corpus / "hostile" / HOSTILE_TIFF, corpus / "camera" / "Canon_40D.jpg",
             corpus / "hostile" / BAD_EXIF, corpus / "formats" / "hopper.png"] * 6
    results: dict[int, list[str]] = {}
    start = threading.Barrier(4)

    def read(worker: int) -> None:
        start.wait()
        for i in range(worker, len(paths), 4):
            results[i] = read_details(str(paths[i]), Limits())[-1]

    threads = [threading.Thread(target=read, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for i, path in enumerate(paths):
        if path.name == HOSTILE_TIFF:
            assert results[i] and all("Tag data" in n for n in results[i])
        elif path.name == BAD_EXIF:
            assert results[i] and all("EXIF" in n for n in results[i])
        else:
            assert results[i] == [], f"{path.name} got another file's warnings"


def test_other_warnings_still_reach_the_previous_handler():
    seen = []
    with warnings.catch_warnings():  # the test's own warning state, restored afterwards
        warnings.simplefilter("always")
        warnings.showwarning = pil_warnings._hook(lambda *args: seen.append(str(args[0])))
        with pil_warnings.collect() as notes:
            warnings.warn_explicit("not from Pillow", UserWarning, "/somewhere/else.py", 1)
            warnings.warn_explicit("from Pillow", UserWarning, "/site-packages/PIL/TiffImagePlugin.py", 1)
    assert seen == ["not from Pillow"] and notes == ["from Pillow"]


def test_the_row_tooltip_shows_the_notes(window, qtbot, corpus, load):
    load(window, [corpus / "hostile" / BAD_EXIF])
    qtbot.waitUntil(lambda: not window.model.details_pending(), timeout=20_000)
    row = window.model.rows[0]
    assert any("Corrupt EXIF" in n for n in row.notes)
    assert "Note: Corrupt EXIF" in window.model._tooltip(row)


def test_the_apps_batch_workers_do_not_print_pillow_warnings(corpus, tmp_path, capfd):
    from gui_app.core.plan import make_plan
    from gui_app.core.runner import BatchRunner
    from gui_app.core.scan import scan
    from gui_app.core.specs import OutputSpec, Pipeline
    from gui_app.qt.worker_priority import init_background_worker

    src = tmp_path / "in"
    src.mkdir()
    for name in (HOSTILE_TIFF, BAD_EXIF):
        (src / name).write_bytes((corpus / "hostile" / name).read_bytes())
    plan = make_plan(scan([str(src)]), Pipeline(), OutputSpec(out_dir=str(tmp_path / "out")), Limits())
    with BatchRunner("processes", workers=1, initializer=init_background_worker) as runner:
        summary = runner.run(plan.tasks())
    assert summary.total == 2
    err = capfd.readouterr().err
    assert "UserWarning" not in err and "Tag data larger" not in err
