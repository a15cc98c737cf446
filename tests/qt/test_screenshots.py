"""The screenshot script launches the real window under Xvfb and saves every
state (run by hand: ``python -m pytest -m screenshot``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
STATES = ("1-empty", "2-loaded", "3-preview", "4-plan", "5-running", "6-done", "7-dark", "main")


@pytest.mark.screenshot
def test_screenshot_script_saves_every_state(tmp_path):
    if shutil.which("xvfb-run") is None:
        pytest.fail("xvfb-run is needed for the screenshot test (apt-get install xvfb)")
    proc = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", sys.executable, "packaging/screenshots.py",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for state in STATES:
        with Image.open(tmp_path / f"{state}.png") as im:
            assert im.size[0] >= 1200 and im.size[1] >= 700
            assert len(im.convert("L").resize((64, 40)).getcolors(4096) or ()) > 20, f"{state} looks blank"
