"""Pool initializer used by the desktop app: batch workers run at a lower
CPU priority so the window stays responsive while every core is busy.

On a 2-core machine two busy worker processes left the UI thread waiting
for the CPU (stalls of 90-170 ms measured during a 2,000-file batch); with
the workers "niced" the scheduler serves the UI first and the batch loses
nothing while the user is not interacting. The CLI keeps normal priority.

This module must not import Qt: it is imported in every worker process.
"""

from __future__ import annotations

import multiprocessing
import os

from gui_app.core.specs import Limits

#: Added to the workers' nice value (Unix); 0..19, higher = lower priority.
WORKER_NICENESS = 5


def init_background_worker(limits: Limits | None = None) -> None:
    if multiprocessing.parent_process() is None:
        # Threads or sequential mode run this in the app's own process:
        # only the Pillow limits, never a lower priority for the window.
        from gui_app.core.imageio import configure_pillow

        configure_pillow(limits or Limits())
        return
    from gui_app.core.worker import init_worker

    from gui_app.core.pil_warnings import install

    init_worker(limits)
    install()  # Pillow's UserWarnings about damaged files are not printed to the app's terminal
    if hasattr(os, "nice"):
        try:
            os.nice(WORKER_NICENESS)
        except OSError:
            pass
