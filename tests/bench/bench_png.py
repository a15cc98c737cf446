"""Scenario (b) of issue 5: sharp's PNG task.

2048×1536 RGBA PNG → fit 720×540 Lanczos, PNG compression level 6 (sharp:
no adaptive filtering); 60 copies (20 with --quick). Same rows as
bench_jpeg.py: the naive sequential Pillow loop (baseline), a 2-process pool,
the real CLI, the runner API per worker mode, sharp / ImageMagick / vips.

    python tests/bench/bench_png.py [--quick] [--repeats N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_jpeg import run_scenario  # noqa: E402


def main(argv=None) -> dict:
    return run_scenario("png", argv, __doc__)


if __name__ == "__main__":
    main()
