"""Images brought under Bluesky's blob limit just before they are uploaded."""

from __future__ import annotations

import io
import math
import warnings

from PIL import Image, ImageOps

MAX_IMAGE_SIDE = 2000  # pixels, when an image is re-encoded
_JPEG_QUALITIES = (85, 75, 65)
_FIT_ATTEMPTS = 12


def fit_image(data: bytes, limit: int) -> tuple[bytes, int, int]:
    """The image within `limit` bytes, with its width and height.

    An image already within the limit is kept as it is. Otherwise it is
    turned upright, flattened on white, shrunk to 2000 pixels on its long
    side and encoded as JPEG at falling quality, then smaller, until it
    fits. Raises ValueError if it never does, OSError if it is unreadable.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as opened:
            if len(data) <= limit:
                return data, opened.width, opened.height
            upright = ImageOps.exif_transpose(opened)
            flat = _flattened(upright)

    scale = min(1.0, MAX_IMAGE_SIDE / max(flat.width, flat.height))
    quality_index = 0
    for _ in range(_FIT_ATTEMPTS):
        size = (max(1, round(flat.width * scale)), max(1, round(flat.height * scale)))
        candidate = (
            flat if size == flat.size else flat.resize(size, Image.Resampling.LANCZOS)
        )
        buffer = io.BytesIO()
        quality = _JPEG_QUALITIES[quality_index]
        candidate.save(buffer, format="JPEG", quality=quality, optimize=True)
        if buffer.tell() <= limit:
            return buffer.getvalue(), candidate.width, candidate.height
        if quality_index < len(_JPEG_QUALITIES) - 1:
            quality_index += 1
        else:
            scale *= max(0.5, min(0.9, math.sqrt(limit / buffer.tell()) * 0.95))
    raise ValueError(f"cannot bring the image under {limit} bytes")


def _flattened(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
