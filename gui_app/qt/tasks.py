"""Background work for the window on the qasync loop.

Blocking work (scanning, thumbnails, previews, planning) runs in a small
thread pool and its result is awaited by a coroutine on the UI thread, so a
slot never blocks. ``spawn`` keeps a reference to each task (asyncio only
holds weak ones) and turns an unexpected exception into a status message
instead of a traceback on the console.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Coroutine

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_tasks: set[asyncio.Task] = set()


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="imagebatch-ui")
    return _pool


async def run_blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in the UI's helper threads and await its result."""
    return await asyncio.get_running_loop().run_in_executor(pool(), fn, *args)


def spawn(coro: Coroutine, on_error: Callable[[BaseException], None] | None = None) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)

    def done(t: asyncio.Task) -> None:
        _tasks.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            log.error("background task failed", exc_info=exc)
            if on_error is not None:
                on_error(exc)

    task.add_done_callback(done)
    return task


def shutdown() -> None:
    """Stop helper threads without waiting for a slow decode (app exit)."""
    global _pool
    for task in list(_tasks):
        task.cancel()
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
