"""The desktop app: the only package that imports PySide6 or qasync.

- ``app``: boots QApplication and the qasync loop (``main(argv) -> int``).
- ``controller``: ``BatchController``, the core BatchRunner seen through Qt
  signals delivered on the UI thread (coalesced every 50 ms).
- ``views.main_window``: the window's layout and wiring.
- ``widgets``: drop zone, input list, pipeline editor (forms generated from
  the op registry), preset bar, output settings, preview, plan, run bar, log.
- ``tasks``: blocking work (scan, thumbnails, previews, plans) in helper
  threads, awaited by coroutines on the UI thread.
- ``worker_priority``: the pool initializer the app passes to the runner
  (imported in worker processes, so it must stay Qt-free).
"""
