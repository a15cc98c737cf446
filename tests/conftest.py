"""Shared test setup. Qt must run offscreen: set it before anything imports Qt."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The shared test corpus (real photos and hostile files), beside the checkout.
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"test corpus not found at {CORPUS} (expected ../shared/corpus)")
    return CORPUS


@pytest.fixture
def copy_corpus(tmp_path, corpus):
    """Copy some corpus files into a fresh folder: ``copy_corpus("camera/Canon_40D.jpg", ...)``."""

    def _copy(*relpaths: str, dest: Path | None = None) -> Path:
        target = dest or (tmp_path / "in")
        target.mkdir(parents=True, exist_ok=True)
        for rel in relpaths:
            shutil.copy2(corpus / rel, target / Path(rel).name)
        return target

    return _copy
