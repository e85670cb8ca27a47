"""Media: typed by their bytes, never by a file name or a client's word.

Images must open with Pillow as JPEG, PNG, GIF or WebP; videos must carry
an MP4/QuickTime `ftyp` box. Anything else is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from syndic import clock, errors
from syndic.db.models import MediaFile
from syndic.db.repo import media as media_rows
from syndic.platforms.base import Media
from syndic.runtime import Runtime

IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
VIDEO_BRANDS = {b"qt  ": "video/quicktime"}
MAX_PER_POST = 10


@dataclass(frozen=True)
class Inline:
    """A file sent inside a post body, base64-encoded."""

    data_base64: str
    alt: str = ""


def sniff(data: bytes) -> tuple[str, int | None, int | None]:
    """(content type, width, height) read from the bytes, or `InvalidInput`."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return VIDEO_BRANDS.get(data[8:12], "video/mp4"), None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                kind, size = image.format, image.size
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        raise errors.InvalidInput(
            "unsupported media: send a JPEG, PNG, GIF or WebP image, or an MP4 video",
            details={"rule": "media.unsupported_type"},
        ) from None
    if kind not in IMAGE_TYPES:
        raise errors.InvalidInput(
            f"unsupported image format {kind}",
            details={"rule": "media.unsupported_type"},
        )
    return IMAGE_TYPES[kind], size[0], size[1]


def build(rt: Runtime, user_id: str, data: bytes, *, alt: str = "") -> MediaFile:
    """A new, unsaved media row for `data`, after checking size and type."""
    limit = rt.settings.media_max_bytes
    if not data:
        raise errors.InvalidInput("the file is empty", details={"rule": "media.empty"})
    if len(data) > limit:
        raise errors.InvalidInput(
            f"the file is {len(data)} bytes; the limit is {limit}",
            details={"rule": "media.too_large"},
        )
    content_type, width, height = sniff(data)
    return MediaFile(
        id=clock.new_id("med"),
        user_id=user_id,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        alt=alt,
        data=data,
        created_at=clock.now(),
    )


async def upload(rt: Runtime, user_id: str, data: bytes, *, alt: str = "") -> MediaFile:
    row = build(rt, user_id, data, alt=alt)
    async with rt.db.transaction() as session:
        return await media_rows.add(session, row)


async def resolve(
    rt: Runtime, user_id: str, refs: Sequence[str | Inline]
) -> list[MediaFile]:
    """The files a post names: stored ids of the user's, or inline files (unsaved)."""
    if len(refs) > MAX_PER_POST:
        raise errors.InvalidInput(
            f"a post carries at most {MAX_PER_POST} media files",
            details={"rule": "media.too_many"},
        )
    ids = [ref for ref in refs if isinstance(ref, str)]
    async with rt.db.transaction() as session:
        stored = {m.id: m for m in await media_rows.of_user(session, user_id, ids)}
    missing = [i for i in ids if i not in stored]
    if missing:
        raise errors.InvalidInput(
            f"unknown media {', '.join(missing)}", details={"rule": "media.unknown"}
        )

    files = []
    for ref in refs:
        if isinstance(ref, str):
            files.append(stored[ref])
            continue
        try:
            data = base64.b64decode(ref.data_base64, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidInput(
                "media data is not valid base64", details={"rule": "media.bad_base64"}
            ) from None
        files.append(build(rt, user_id, data, alt=ref.alt))
    return files


class Stored(Protocol):
    """A stored media file as adapters need it (a row or a loaded copy)."""

    @property
    def id(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def alt(self) -> str: ...


def for_adapters(files: Sequence[Stored]) -> tuple[Media, ...]:
    return tuple(
        Media(
            content_type=f.content_type,
            data=f.data,
            filename=f"{f.id}{_suffix(f.content_type)}",
            alt=f.alt,
        )
        for f in files
    )


def _suffix(content_type: str) -> str:
    return "." + content_type.split("/", 1)[1].replace("quicktime", "mov").replace(
        "jpeg", "jpg"
    )
