"""PyInstaller's entry script for both executables (``imagebatch`` and ``imagebatch-cli``).

It only hands over to :func:`gui_app.__main__.main`, whose first statement is
``multiprocessing.freeze_support()``: a frozen ``spawn`` worker re-runs this
executable with ``--multiprocessing-fork`` and must turn into a worker there,
before any argument parsing, so it never opens a window or starts a batch of its own.
Importing ``gui_app.__main__`` first is safe: it imports nothing heavy (no Qt).
"""

import sys

from gui_app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
