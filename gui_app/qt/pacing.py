"""Keep the UI thread responsive while helper threads work.

Two things here: helper threads make way for a busy UI thread (the GIL,
below), and :func:`settle` keeps the garbage collector from walking the
window's long-lived data (the GC, at the end).

Each time Qt calls into Python while it paints (a model's ``data()``, a
delegate's ``paint()``, a timer slot), the UI thread has to take the GIL. A
helper thread that runs Python at the same time (planning 2,000 files,
listing a folder, feeding the worker pool) makes every one of those
hand-overs wait for a thread switch, and one repaint of the window makes
hundreds of them. Measured here: a full repaint that takes 5 ms on its own
took 90-120 ms while the batch plan ran in a helper thread (the stall the UI
probe saw right after Start). Pausing the plan a little fixed it.

So helper loops cooperate. While helper work is under way the UI thread
beats a heart: a short Python timer, which can only fire when the UI thread
is free. Helper loops call :func:`make_way` between items. When the last
beat is older than ``STALE_S`` the UI thread is busy (painting, or queueing
for the GIL), so the helper naps until the next beat and the UI thread has
the GIL to itself meanwhile. After ``GIVE_UP_S`` of silence the UI thread is
not painting but blocked (perhaps waiting for this very helper), and helpers
carry on at full speed.

Nothing here runs unless the Qt app holds a heartbeat; outside it (tests of
the core, the CLI) :func:`make_way` returns at once.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Iterable, Iterator, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer

T = TypeVar("T")

#: How often the UI thread beats while helpers work (ms).
BEAT_MS = 4
#: A beat older than this means the UI thread is busy: helpers nap.
STALE_S = 0.012
#: One nap of a helper thread (s).
NAP_S = 0.002
#: Longer silence than this: the UI thread is blocked, not busy; helpers go on.
GIVE_UP_S = 0.25

_last_beat = 0.0
_beating = False
_ui_thread: int | None = None
#: False turns pacing off (the benchmark's baseline).
enabled = True
# Indirections, so the tests can drive the clock.
_now = time.monotonic
_nap = time.sleep


def make_way() -> None:
    """Called by helper threads between items: nap while the UI thread is
    busy (see the module docstring). Returns at once on the UI thread, when
    no heartbeat runs, or when the UI thread is responsive."""
    if not (_beating and enabled) or threading.get_ident() == _ui_thread:
        return
    while True:
        silence = _now() - _last_beat
        if silence < STALE_S or silence > GIVE_UP_S or not _beating:
            return
        _nap(NAP_S)


def paced(items: Iterable[T]) -> Iterator[T]:
    """``items``, with :func:`make_way` before each one (for a generator that a
    helper thread consumes: the scan, the runner's task source)."""
    for item in items:
        make_way()
        yield item


class Heartbeat(QObject):
    """The UI thread's beat. :meth:`hold` when helper work starts and
    :meth:`release` when it ends (UI thread only); the timer runs while
    anyone holds it, so an idle app does not wake up every few ms.
    There is one per app: get it with :func:`heartbeat`."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._holds = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(BEAT_MS)
        self._timer.timeout.connect(self.beat)

    @staticmethod
    def beat() -> None:
        global _last_beat
        _last_beat = _now()

    @property
    def holds(self) -> int:
        return self._holds

    def hold(self) -> None:
        global _beating, _ui_thread
        self._holds += 1
        if self._holds == 1:
            _ui_thread = threading.get_ident()
            self.beat()
            _beating = True
            self._timer.start()

    def release(self) -> None:
        global _beating
        if self._holds == 0:
            return
        self._holds -= 1
        if self._holds == 0:
            _beating = False
            self._timer.stop()


_heartbeat: Heartbeat | None = None


def heartbeat() -> Heartbeat:
    """The app's one heartbeat (made on first use, on the UI thread)."""
    global _heartbeat
    if _heartbeat is None:
        _heartbeat = Heartbeat()
    return _heartbeat


#: Results to let through between two :func:`settle` calls during a batch.
SETTLE_EVERY_RESULTS = 2000


def settle() -> None:
    """Take everything alive now out of the cyclic garbage collector's reach.

    The window holds large, long-lived, acyclic data: a row per input, the
    plan, the results. Python's full collections walk all of it while holding
    the GIL, and they come back each time the heap grows by a quarter:
    measured while adding a 50,000-file folder, 20 full collections of 20 -
    156 ms each, in whichever thread allocated at the time; each one stalled
    the window. ``gc.freeze()`` moves the objects alive now to a generation
    that is never walked (it costs next to nothing), so later collections
    only look at newer objects. Called on the UI thread when such data has
    just been built: after a scanned batch is listed, when a plan arrives,
    at batch start and every ``SETTLE_EVERY_RESULTS`` results.
    Refcounting still frees these objects when they go away.
    """
    gc.freeze()
