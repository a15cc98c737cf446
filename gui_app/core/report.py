"""Run reports: one record per input plus a summary, as JSON or CSV.

Records are streamed to a temp file next to the report as results arrive (no
per-file state kept in memory), and the finished file replaces the target
atomically when the batch ends, so a report is either complete or absent.

JSON: ``{"files": [record, …], "summary": {…}}``.
CSV: one row per record, then a blank row and ``summary,<key>,<value>`` rows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from typing import Any

from .specs import TaskResult

FIELDS = ("input", "output", "status", "code", "message", "width", "height", "in_bytes", "out_bytes",
          "seconds", "warnings", "width_in", "height_in", "format_in", "format_out")


def result_record(result: TaskResult) -> dict[str, Any]:
    """The report's view of one result (``width``/``height`` are the output's)."""
    return {
        "input": result.input_path,
        "output": result.output_path,
        "status": result.status,
        "code": result.code,
        "message": result.message,
        "width": result.width_out,
        "height": result.height_out,
        "in_bytes": result.bytes_in,
        "out_bytes": result.bytes_out,
        "seconds": round(result.seconds, 4),
        "warnings": list(result.warnings),
        "width_in": result.width_in,
        "height_in": result.height_in,
        "format_in": result.format_in,
        "format_out": result.format_out,
    }


def report_kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".json":
        return "json"
    if ext == ".csv":
        return "csv"
    raise ValueError(f"the report must end in .json or .csv: {path}")


class ReportWriter:
    """Streams records into a temp file; :meth:`close` writes the summary and
    moves the report into place atomically."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.kind = report_kind(self.path)
        folder = os.path.dirname(self.path)
        os.makedirs(folder, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".", suffix=".part", dir=folder)
        self._fh = io.open(fd, "w", encoding="utf-8", newline="")
        self._count = 0
        if self.kind == "json":
            self._fh.write('{"files": [')
        else:
            self._csv = csv.writer(self._fh)
            self._csv.writerow(FIELDS)

    def add(self, result: TaskResult) -> None:
        record = result_record(result)
        if self.kind == "json":
            self._fh.write(("\n  " if self._count == 0 else ",\n  ") + json.dumps(record, ensure_ascii=False))
        else:
            row = dict(record, warnings="; ".join(record["warnings"]))
            self._csv.writerow(["" if row[f] is None else row[f] for f in FIELDS])
        self._count += 1

    def close(self, summary: Any) -> str:
        data = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)
        data = {k: v for k, v in data.items() if k != "report_path"}
        try:
            if self.kind == "json":
                self._fh.write("\n],\n" if self._count else "],\n")
                self._fh.write('"summary": ' + json.dumps(data, ensure_ascii=False, indent=2) + "\n}\n")
            else:
                self._csv.writerow([])
                for key, value in data.items():
                    self._csv.writerow(["summary", key, "" if value is None else value])
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.unlink(self._tmp)
        except OSError:
            pass


def load_report(path: str) -> dict[str, Any]:
    """Read a report back (JSON or CSV) as ``{"files": [...], "summary": {...}}``."""
    if report_kind(path) == "json":
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    files, summary = [], {}
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    for row in rows[1:]:
        if not row:
            continue
        if row[0] == "summary" and len(row) == 3:
            summary[row[1]] = row[2]
        else:
            files.append(dict(zip(header, row)))
    return {"files": files, "summary": summary}
