"""The Page edges the Facebook emulator serves: what each takes, refuses, answers.

`feed` (POST) creates a post from a message, a link or attached media;
`photos` (POST) takes one photo, published as a post or kept unpublished
for `attached_media`; `read_feed` (GET feed) lists the latest posts.
Refusals are raised as `GraphError`, in Graph's order of checking.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import TYPE_CHECKING, Any

from PIL import Image

from syndic.platforms.emulators import _base
from syndic.platforms.emulators import _facebook_graph as graph

if TYPE_CHECKING:
    from syndic.platforms.emulators.facebook import FacebookState, Page

PHOTO_FORMATS = frozenset({"JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP"})
LINK = re.compile(r"https?://[^\s/$.?#][^\s]*")


def feed(state: FacebookState, page: Page, params: graph.Params) -> dict[str, Any]:
    message = params.text("message")
    link = params.text("link")
    attached = params.objects("attached_media")
    if not (message or link or attached):
        raise graph.invalid_parameter("Missing message or attachment")
    if message is not None and len(message) > state.max_message:
        raise graph.invalid_parameter("Message is too long")
    if link is not None and not LINK.fullmatch(link):
        raise graph.invalid_parameter("The link must be a valid URL")
    if link is not None and attached:
        raise graph.invalid_parameter(
            "A post cannot have both a link and attached_media"
        )
    photo_ids = _attached_photos(state, page, attached)
    if message and state.is_duplicate(page, message):
        raise graph.GraphError(400, 506, "(#506) Duplicate status message")

    post: dict[str, Any] = {"message": message, "attachments": photo_ids}
    if link is not None:
        post["link"] = link
    return {"id": state.publish(page, post)["id"]}


def _attached_photos(
    state: FacebookState, page: Page, attached: list[Any]
) -> list[str]:
    if len(attached) > state.max_attached_media:
        raise graph.invalid_parameter(
            f"attached_media takes at most {state.max_attached_media} items"
        )
    photo_ids: list[str] = []
    for index, item in enumerate(attached):
        media_fbid = item.get("media_fbid") if isinstance(item, dict) else None
        photo = state.photo(str(media_fbid)) if media_fbid is not None else None
        usable = (
            photo is not None
            and photo.page_id == page.id
            and not photo.published
            and photo.attached_to is None
            and photo.id not in photo_ids
        )
        if photo is None or not usable:
            raise graph.invalid_parameter(
                f"param attached_media[{index}] has an invalid media_fbid"
            )
        photo_ids.append(photo.id)
    return photo_ids


def photos(state: FacebookState, page: Page, params: graph.Params) -> dict[str, Any]:
    upload = params.files.get("source")
    url = params.text("url")
    if upload is None and not url:
        raise graph.GraphError(400, 324, "(#324) Requires upload file")
    if upload is not None and not _photo_ok(upload, state.max_photo_bytes):
        raise graph.GraphError(400, 324, "(#324) Missing or invalid image file")
    message = params.text("message") or params.text("caption")
    if message is not None and len(message) > state.max_message:
        raise graph.invalid_parameter("Message is too long")
    published = params.flag("published", True)

    photo = state.add_photo(page, published, upload, params.text("alt_text_custom"))
    if not published:
        return {"id": photo.id}
    post = state.publish(page, {"message": message, "attachments": [photo.id]})
    return {"id": photo.id, "post_id": post["id"]}


def _photo_ok(upload: _base.Upload, max_bytes: int) -> bool:
    if not upload.data or len(upload.data) > max_bytes:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data)) as image:
                return image.format in PHOTO_FORMATS
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def read_feed(state: FacebookState, page: Page, params: graph.Params) -> dict[str, Any]:
    limit = params.text("limit") or "25"
    if not limit.isdigit():
        raise graph.invalid_parameter("Param limit must be an integer")
    posts = state.latest(page, min(int(limit), 100))
    return {
        "data": [
            {
                key: post[key]
                for key in ("id", "message", "created_time")
                if post.get(key) is not None
            }
            for post in posts
        ]
    }
