"""The app without Dask installed: everything else works, and the dask mode
says how to get it. Runs in a subprocess where ``import distributed`` fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_dask_the_mode_says_how_to_install_it(tmp_path, copy_corpus):
    src = copy_corpus("formats/hopper.jpg", "formats/hopper.png")
    script = textwrap.dedent(f"""
        import json, sys
        sys.modules["distributed"] = None  # as if the cluster extra were not installed
        sys.modules["dask"] = None
        sys.path.insert(0, {str(ROOT)!r})
        from gui_app.core import dask_backend
        from gui_app.core.plan import make_plan
        from gui_app.core.runner import BatchRunner
        from gui_app.core.scan import scan
        from gui_app.core.specs import Limits, OpSpec, OutputSpec, Pipeline

        def tasks(out):
            pipe = Pipeline((OpSpec.make("resize", mode="long_edge", long_edge=32),))
            return make_plan(scan([{str(src)!r}]), pipe, OutputSpec(out_dir=out), Limits()).tasks()

        with BatchRunner(mode="dask") as runner:
            dask = runner.run(tasks({str(tmp_path / "out-dask")!r}), total=2)
        with BatchRunner(mode="threads", workers=2) as runner:
            threads = runner.run(tasks({str(tmp_path / "out-threads")!r}), total=2)
        print(json.dumps({{"available": dask_backend.dask_available(), "dask_error": dask.batch_error,
                          "dask_cancelled": dask.cancelled, "threads_ok": threads.ok}}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["available"] is False
    assert "pip install 'imagebatch[cluster]'" in answer["dask_error"]
    assert answer["dask_cancelled"] == 2 and answer["threads_ok"] == 2
    assert not (tmp_path / "out-dask").exists()
