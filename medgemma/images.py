"""Images attached to a question, for multimodal models: checked and decoded before any model sees them.

The byte limit is the caller's (the configured upload limit, `AccessConfig.upload_mb`); the pixel limit
guards decoding whatever the file's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import InputError, require
from .files import size_text

# Pillow's own bomb guard warns at ~89 Mpx; a radiograph or slide photo needs far less than this.
MAX_PIXELS = 40_000_000
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")


def load_image(path: str | Path, max_bytes: int | None = None) -> Any:
    """The image at `path` as an RGB PIL image, or InputError saying what is wrong with the file. A file over
    `max_bytes` is refused unread; None: its size was checked already."""
    require("PIL", "pillow", "Image input")
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        size = path.stat().st_size if path.is_file() else -1
    except OSError:  # e.g. a name too long for the file system
        size = -1
    if size < 0:
        raise InputError(f"Image {path.name} was not found.")
    if size == 0:
        raise InputError(f"Image {path.name} is empty.")
    if max_bytes is not None and size > max_bytes:
        raise InputError(f"Image {path.name} is {size_text(size)}; the limit is {size_text(max_bytes)}.")
    try:
        with Image.open(path) as probe:  # reads the header only
            if probe.format not in FORMATS:
                raise InputError(f"Image {path.name} is {probe.format}; use one of {', '.join(FORMATS)}.")
            if probe.width * probe.height > MAX_PIXELS:
                raise InputError(f"Image {path.name} is {probe.width}×{probe.height} pixels; the limit is "
                                 f"{MAX_PIXELS / 1e6:.0f} megapixels.")
            probe.verify()  # checks the data; the image must be reopened afterwards
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"Image {path.name} could not be read as an image: {exc}") from exc
