"""Entry point for ``imagebatch`` and ``python -m gui_app``.

``freeze_support()`` must run before anything else so that a frozen
(PyInstaller) build's ``spawn`` workers do not start a second copy of the app.
Qt is imported only when the GUI is wanted: the CLI path stays light.
"""

from __future__ import annotations

import multiprocessing
import sys

#: First arguments that mean "headless": everything else opens the window.
CLI_COMMANDS = ("run", "presets", "--version", "-V", "--help", "-h", "help", "ops")


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in CLI_COMMANDS:
        from gui_app import cli

        return cli.main(args)
    from gui_app.qt import app

    return app.main(args)


if __name__ == "__main__":
    sys.exit(main())
