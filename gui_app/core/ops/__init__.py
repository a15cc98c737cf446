"""Image operations, one module per family. Importing this package registers
every operation with :mod:`gui_app.core.registry`."""

from . import geometry, color, effects, watermark, metadata, encode  # noqa: F401  (registration)

__all__ = ["geometry", "color", "effects", "watermark", "metadata", "encode"]
