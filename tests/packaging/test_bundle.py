"""The frozen build and the .deb, end to end (issue 6). Minutes, Linux only, so they are
marked ``packaging`` and left out of the default run:

    python -m pytest -m packaging tests/packaging -v

They build the bundle with packaging/build.py unless a build newer than every source file
exists already (packaging/dist/build-info.json), then run the checks of
packaging/smoke_test.py, which can also be run by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import smoke_test  # noqa: E402  (packaging/smoke_test.py)

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the .deb and /proc checks are Linux-only"),
]

#: Issue 6: "bundle should stay under ~200 MB".
MAX_BUNDLE_BYTES = 200_000_000


@pytest.fixture(scope="module")
def build_info() -> dict:
    return smoke_test.ensure_build()


def test_build_info_matches_pyproject(build_info):
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert build_info["version"] == version
    recorded = json.loads((ROOT / "packaging" / "dist" / "build-info.json").read_text())
    assert set(recorded["artifacts"]) >= {"bundle", "tar.gz", "deb"}


def test_bundle_stays_under_200_mb(build_info):
    bundle = Path(build_info["artifacts"]["bundle"]["path"])
    assert smoke_test.build.tree_size(bundle) < MAX_BUNDLE_BYTES


def test_bundle_carries_resources_where_resources_path_looks(build_info):
    internal = Path(build_info["artifacts"]["bundle"]["path"]) / "_internal"
    for rel in ("resources/imagebatch.svg", "resources/imagebatch.desktop", "resources/samples"):
        assert (internal / rel).exists(), rel


def test_version_from_both_executables(build_info, tmp_path):
    printed = smoke_test.check_version(build_info, tmp_path)
    assert all(build_info["version"] in line for line in printed.values())


def test_frozen_processes_batch_uses_exactly_the_requested_workers(build_info, tmp_path):
    result = smoke_test.check_batch(build_info, tmp_path, workers=2)
    assert len(result["worker_pids"]) == 2
    assert result["outputs_checked"] == len(smoke_test.batch_inputs()[0])


def test_gui_shows_one_main_window_under_xvfb_and_quits(build_info, tmp_path):
    result = smoke_test.check_gui(build_info, tmp_path)
    assert Path(result["screenshot"]).is_file()
    assert result["quit_by"] in ("Ctrl+Q", "SIGTERM")
    assert result["exit_code"] == 0 or (result["quit_by"] == "SIGTERM" and result["exit_code"] == -15)


def test_gui_opens_a_folder_and_a_file_given_as_arguments(build_info, tmp_path):
    result = smoke_test.check_open_with(build_info, tmp_path)
    assert result["exit_code"] == 0 or result["quit_by"] == "SIGTERM"


def test_gui_batch_writes_every_output_with_one_window(build_info, tmp_path):
    result = smoke_test.check_gui_batch(build_info, tmp_path)
    assert result["outputs"] == len(smoke_test.batch_inputs()[0])


def test_deb_installs_into_scratch_root_and_runs(build_info, tmp_path):
    result = smoke_test.check_deb(build_info, tmp_path)
    assert build_info["version"] in result["version"]
    assert {"libegl1", "libgl1", "libxcb-cursor0", "libxkbcommon-x11-0"} <= set(result["depends"])
