"""Helper threads make way for a busy UI thread (gui_app.qt.pacing).

The clock is driven by the tests: the rules are checked without timing
anything. The effect on real stalls is measured by the slow UI stall probe
(tests/qt/test_responsiveness.py) and tests/bench/bench_ui_stall.py.
"""

from __future__ import annotations

import sys
import threading

import pytest

from gui_app.qt import pacing


class FakeClock:
    """``pacing._now``/``pacing._nap`` stand-ins: a nap moves time on and can
    make the UI thread beat (``beat_after_naps``)."""

    def __init__(self, beat_after_naps=None):
        self.now = 1000.0
        self.naps = 0
        self.beat_after_naps = beat_after_naps

    def time(self):
        return self.now

    def nap(self, seconds):
        self.naps += 1
        self.now += seconds
        if self.beat_after_naps is not None and self.naps == self.beat_after_naps:
            pacing.Heartbeat.beat()


def idle_heartbeat(qtbot) -> pacing.Heartbeat:
    """The app's heartbeat once nothing holds it (helper work of an earlier
    test, e.g. thumbnails still loading, finishes first)."""
    heartbeat = pacing.heartbeat()
    qtbot.waitUntil(lambda: heartbeat.holds == 0, timeout=20_000)
    return heartbeat


@pytest.fixture
def clock(monkeypatch, qtbot, qloop):
    heartbeat = idle_heartbeat(qtbot)
    fake = FakeClock()
    monkeypatch.setattr(pacing, "_now", fake.time)
    monkeypatch.setattr(pacing, "_nap", fake.nap)
    heartbeat.hold()  # beats once now, at the fake time
    yield fake, heartbeat
    heartbeat.release()


def in_helper_thread(fn):
    """Run ``fn`` in another thread (make_way never naps on the UI thread)."""
    errors = []

    def run():
        try:
            fn()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "make_way did not return"
    assert not errors, errors


def test_a_helper_goes_on_while_the_ui_thread_beats(clock):
    fake, _heartbeat = clock
    fake.now += pacing.STALE_S / 2  # the last beat is recent
    in_helper_thread(pacing.make_way)
    assert fake.naps == 0


def test_a_helper_naps_until_a_busy_ui_thread_beats_again(clock):
    fake, _heartbeat = clock
    fake.beat_after_naps = 3  # the UI thread is free again after three naps
    fake.now += pacing.STALE_S * 2
    in_helper_thread(pacing.make_way)
    assert fake.naps == 3


def test_a_helper_stops_waiting_when_the_ui_thread_is_blocked_not_busy(clock):
    fake, _heartbeat = clock
    fake.now += pacing.STALE_S * 2  # the UI thread never beats again
    in_helper_thread(pacing.make_way)
    waited = fake.naps * pacing.NAP_S
    assert pacing.GIVE_UP_S - pacing.STALE_S * 2 <= waited <= pacing.GIVE_UP_S
    fake.naps = 0
    in_helper_thread(pacing.make_way)  # long silence: no more naps at all
    assert fake.naps == 0


def test_the_ui_thread_itself_never_naps(clock):
    fake, _heartbeat = clock
    fake.now += pacing.STALE_S * 2
    pacing.make_way()
    assert fake.naps == 0


def test_no_naps_once_the_heartbeat_is_released(clock):
    fake, heartbeat = clock
    heartbeat.release()
    assert heartbeat.holds == 0
    fake.now += pacing.STALE_S * 2
    in_helper_thread(pacing.make_way)
    assert fake.naps == 0
    heartbeat.hold()  # for the fixture's release


def test_no_naps_when_pacing_is_turned_off(clock, monkeypatch):
    fake, _heartbeat = clock
    monkeypatch.setattr(pacing, "enabled", False)
    fake.now += pacing.STALE_S * 2
    in_helper_thread(pacing.make_way)
    assert fake.naps == 0


def test_the_heartbeat_beats_only_while_held(qtbot, qloop):
    heartbeat = idle_heartbeat(qtbot)
    assert not heartbeat._timer.isActive()
    heartbeat.hold()
    heartbeat.hold()
    before = pacing._last_beat
    qtbot.waitUntil(lambda: pacing._last_beat > before, timeout=2_000)
    heartbeat.release()
    assert heartbeat._timer.isActive(), "one hold is left"
    heartbeat.release()
    assert not heartbeat._timer.isActive() and heartbeat.holds == 0
    heartbeat.release()  # one release too many is harmless
    assert heartbeat.holds == 0


def test_paced_yields_every_item_and_makes_way_before_each(monkeypatch):
    calls = []
    monkeypatch.setattr(pacing, "make_way", lambda: calls.append("way"))
    items = []
    for item in pacing.paced(iter("abc")):
        items.append(item)
        calls.append(item)
    assert items == ["a", "b", "c"]
    assert calls == ["way", "a", "way", "b", "way", "c"]


def test_the_window_paces_its_plan_and_scan_and_holds_the_heartbeat_while_busy(make_window, qtbot, tmp_path,
                                                                                monkeypatch):
    """Wiring: the plan gets the pace hook, the scan and the batch's task
    source make way between items, and the heartbeat runs exactly while
    helper work or a batch is under way."""
    from PIL import Image

    from gui_app.core import plan as core_plan
    from gui_app.core.specs import OpSpec, OutputSpec, Pipeline

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(src / f"p{i:02d}.png")
    paces = []
    real_make_plan = core_plan.make_plan

    def spy_make_plan(*args, **kwargs):
        paces.append(kwargs.get("pace"))
        return real_make_plan(*args, **kwargs)

    monkeypatch.setattr(core_plan, "make_plan", spy_make_plan)
    ways = []  # who made way: paced() (scan, task source), iter_plan, read_details
    real_make_way = pacing.make_way

    def spy_make_way():
        ways.append(sys._getframe(1).f_code.co_name)
        real_make_way()

    monkeypatch.setattr(pacing, "make_way", spy_make_way)

    window = make_window()
    window.pipeline_editor.set_pipeline(Pipeline(steps=(OpSpec.make("encode", format="png"),)))
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    window.run_settings.set_values("threads", 2, None)
    with qtbot.waitSignal(window.scan_finished, timeout=20_000):
        window.add_paths([str(src)])
    scanned = ways.count("paced")
    assert scanned >= 12, "the scan makes way before each file it hands over"
    holds_during = []
    window.controller.started.connect(lambda *_: holds_during.append(pacing.heartbeat().holds))
    with qtbot.waitSignal(window.batch_done, timeout=60_000) as blocker:
        assert window.start_batch()
    assert blocker.args[0].ok == 12
    assert paces and all(p is not None for p in paces), "every plan the window makes is paced"
    assert ways.count("iter_plan") >= 12 * len(paces)
    assert ways.count("paced") - scanned >= 12, "the runner's thread makes way before pulling each task"
    assert "read_details" in ways, "the thumbnail reader makes way too"
    assert holds_during and holds_during[0] >= 1
    qtbot.waitUntil(lambda: pacing.heartbeat().holds == 0, timeout=20_000)


def test_the_window_settles_its_long_lived_data_out_of_the_gc(make_window, qtbot, tmp_path, monkeypatch, load):
    """gc.freeze() (pacing.settle) after each scanned batch, when the plan
    arrives, at batch start and every SETTLE_EVERY_RESULTS results."""
    import gc

    from PIL import Image

    from gui_app.core.specs import OpSpec, OutputSpec, Pipeline

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        Image.new("RGB", (8, 8), (0, i * 20, 0)).save(src / f"p{i:02d}.png")
    settled = []
    monkeypatch.setattr(pacing, "settle", lambda: (settled.append(gc.get_freeze_count()), gc.freeze()))
    monkeypatch.setattr(pacing, "SETTLE_EVERY_RESULTS", 5)
    window = make_window()
    window.pipeline_editor.set_pipeline(Pipeline((OpSpec.make("encode", format="png"),)))
    window.output_settings.set_output_spec(OutputSpec(out_dir=str(tmp_path / "out")))
    window.run_settings.set_values("sequential", 1, None)
    load(window, [src])
    after_loading = len(settled)
    assert after_loading >= 2, "after the scanned batch and after the plan"
    with qtbot.waitSignal(window.batch_done, timeout=60_000) as blocker:
        window.start_batch()
    assert blocker.args[0].ok == 12
    assert len(settled) - after_loading >= 1 + 12 // 5 - 1, "at batch start and as results come in"
    assert gc.get_freeze_count() > 0
