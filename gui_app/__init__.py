"""ImageBatch: a fast, safe batch image processor (desktop app, CLI, Dask mode)."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("imagebatch")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

APP_NAME = "ImageBatch"
