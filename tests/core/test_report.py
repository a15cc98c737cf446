"""Reports: one record per input plus a summary; JSON and CSV; atomic."""

from __future__ import annotations

import json
import os

import pytest

from gui_app.core.report import ReportWriter, load_report
from gui_app.core.runner import Summary
from gui_app.core.specs import Code, Status, TaskResult

REQUIRED = ("input", "output", "status", "code", "message", "width", "height", "in_bytes", "out_bytes", "seconds")


def _results():
    return [
        TaskResult(task_id=0, input_path="/in/a.jpg", output_path="/out/a.webp", width_out=640, height_out=480,
                   bytes_in=1000, bytes_out=400, seconds=0.25, warnings=("bad EXIF ignored",)),
        TaskResult(task_id=1, input_path="/in/b,\"odd\".jpg", output_path=None, status=Status.FAILED.value,
                   code=Code.TRUNCATED.value, message="image file is truncated"),
    ]


def _summary():
    return Summary(total=2, ok=1, failed=1, skipped=0, cancelled=0, bytes_in=1000, bytes_out=400, seconds=1.5,
                   mode="processes", workers=2)


@pytest.mark.parametrize("ext", ["json", "csv"])
def test_report_round_trip(tmp_path, ext):
    path = tmp_path / "reports" / f"r.{ext}"
    writer = ReportWriter(str(path))
    for r in _results():
        writer.add(r)
    assert not path.exists(), "the report appears only when complete"
    assert writer.close(_summary()) == str(path)
    data = load_report(str(path))
    assert len(data["files"]) == 2
    for key in REQUIRED:
        assert key in data["files"][0]
    first, second = data["files"]
    assert first["input"] == "/in/a.jpg" and str(first["width"]) == "640" and str(first["out_bytes"]) == "400"
    assert second["input"] == '/in/b,"odd".jpg' and second["code"] == "TRUNCATED" and second["status"] == "failed"
    assert str(data["summary"]["failed"]) == "1" and data["summary"]["mode"] == "processes"
    assert [n for n in os.listdir(path.parent)] == [f"r.{ext}"], "no temp file left"


def test_json_report_is_valid_when_empty(tmp_path):
    path = tmp_path / "r.json"
    ReportWriter(str(path)).close(_summary())
    assert json.loads(path.read_text())["files"] == []


def test_bad_extension_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ReportWriter(str(tmp_path / "r.txt"))
