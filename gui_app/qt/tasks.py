"""Background work for the window on the qasync loop.

Blocking work (scanning, thumbnails, previews, planning) runs in a small
thread pool and its result is awaited by a coroutine on the UI thread, so a
slot never blocks. ``spawn`` keeps a reference to each task (asyncio only
holds weak ones) and turns an unexpected exception into a status message
instead of a traceback on the console.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Coroutine

from . import pacing

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_tasks: set[asyncio.Task] = set()
#: Tasks per owning QObject (by id): cancelled when the owner is destroyed,
#: so a late result never touches a deleted widget.
_owned: dict[int, set[asyncio.Task]] = {}


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="imagebatch-ui")
    return _pool


async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in the UI's helper threads and await its result.
    The UI's heartbeat runs meanwhile, so ``fn`` may call
    :func:`pacing.make_way` between items to keep the window responsive."""
    heartbeat = pacing.heartbeat()
    heartbeat.hold()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool(), fn, *args)
    finally:
        heartbeat.release()


def spawn(coro: Coroutine, on_error: Callable[[BaseException], None] | None = None, owner=None) -> asyncio.Task:
    """Run ``coro`` on the loop. ``owner`` (a QObject): cancel the task when
    the owner is destroyed. ``on_error`` gets an unexpected exception."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    key = None
    if owner is not None:
        key = id(owner)
        if key not in _owned:
            _owned[key] = set()
            owner.destroyed.connect(functools.partial(cancel_owned, key))
        _owned[key].add(task)

    def done(t: asyncio.Task) -> None:
        _tasks.discard(t)
        if key is not None and key in _owned:
            _owned[key].discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None and not _is_deleted_widget_error(exc):
            log.error("background task failed", exc_info=exc)
            if on_error is not None:
                try:
                    on_error(exc)
                except RuntimeError:  # the widget to report on is gone
                    pass

    task.add_done_callback(done)
    return task


def cancel_owned(key: int, *_args) -> None:
    for task in _owned.pop(key, set()):
        task.cancel()


def _is_deleted_widget_error(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and "already deleted" in str(exc)


def shutdown() -> None:
    """Stop helper threads without waiting for a slow decode (app exit)."""
    global _pool
    for task in list(_tasks):
        task.cancel()
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
