"""The LinkedIn emulator's service checks: what LinkedIn refuses in a post that
fits the Rest.li schema, in the order it checks, with its answers.

The author must be the member or an organization they administer (403),
the lifecycle state PUBLISHED or DRAFT, images known, uploaded, readable
and the author's, `multiImage` 2 to 20 of them, the commentary not blank
without content, at most `commentary_limit` UTF-16 units as shown, and not
a duplicate of the author's recent post (422 naming it).
"""

from __future__ import annotations

import io
import re
import warnings
from typing import TYPE_CHECKING, Any

from PIL import Image
from starlette.responses import Response

from syndic.platforms.emulators import _linkedin_schema as schema
from syndic.platforms.emulators import linkedin_little

if TYPE_CHECKING:
    from syndic.platforms.emulators.linkedin import LinkedInState, Member

AUTHOR = re.compile(r"urn:li:(person|organization):([A-Za-z0-9_-]+)")
IMAGE_FORMATS = frozenset({"JPEG", "PNG", "GIF"})
MULTI_IMAGE = (2, 20)


def access_denied() -> Response:
    return schema.error(
        403,
        "ACCESS_DENIED",
        "Insufficient permissions to perform the requested action",
        service_code=100,
    )


def check_post(
    state: LinkedInState, member: Member, version: str, post: dict[str, Any]
) -> Response | None:
    """The service's refusals of a body that fits the schema, in LinkedIn's order."""
    author = post["author"]
    if AUTHOR.fullmatch(author) is None:
        return schema.error(
            400,
            "INVALID_URN_TYPE",
            f"author value {author} must be a person or organization URN",
        )
    if not member.may_act_as(author):
        return schema.error(
            403,
            "ACCESS_DENIED",
            f"Not enough permissions to access: partnerApiPostsExternal.CREATE."
            f"{version[:6]}01",
            service_code=100,
        )
    if post["lifecycleState"] not in ("PUBLISHED", "DRAFT"):
        return schema.error(
            400,
            "INVALID_VALUE_FOR_FIELD",
            f"lifecycleState can't be set to {post['lifecycleState']}",
        )

    content = post.get("content") or {}
    refused = _check_content(state, author, content)
    if refused is not None:
        return refused

    commentary = post.get("commentary", "")
    if not commentary.strip() and not content:
        return schema.error(
            400, "INVALID_VALUE_BLANK_FIELD", "commentary can't be blank"
        )
    shown = linkedin_little.utf16_length(linkedin_little.parse(commentary).text)
    if shown > state.commentary_limit:
        return schema.content_error(
            400,
            f"ShareCommentary text length ({shown} characters) exceeded the maximum "
            f"allowed ({state.commentary_limit} characters)",
            {
                "description": "Size of array cannot be higher than the maxLength",
                "input": {"inputPath": {"fieldPath": "commentary"}},
                "code": "FIELD_ARRAY_SIZE_TOO_HIGH",
                "maxLength": state.commentary_limit,
            },
        )
    duplicate = state.duplicate_of(author, commentary) if commentary else None
    if duplicate is not None:
        return schema.content_error(
            422,
            f"Content is a duplicate of {duplicate}",
            {
                "description": "Duplicate post is detected",
                "input": {},
                "code": "DUPLICATE_POST",
            },
        )
    return None


def _check_content(
    state: LinkedInState, author: str, content: dict[str, Any]
) -> Response | None:
    if len(content) > 1:
        return schema.error(
            400,
            "INVALID_VALUE_FOR_FIELD",
            f"content can't be set to more than one of {sorted(content)}",
        )
    image_ids: list[str] = []
    if "media" in content:
        image_ids = [content["media"]["id"]]
    if "multiImage" in content:
        images = content["multiImage"]["images"]
        low, high = MULTI_IMAGE
        if not low <= len(images) <= high:
            return schema.invalid(
                [
                    f"/content/multiImage/images :: array size {len(images)} is out "
                    f"of range {low}...{high}"
                ]
            )
        image_ids = [image["id"] for image in images]
    for urn in image_ids:
        refused = _check_image(state, author, urn)
        if refused is not None:
            return refused
    return None


def _check_image(state: LinkedInState, author: str, urn: str) -> Response | None:
    if not urn.startswith("urn:li:image:"):
        return schema.error(
            400, "INVALID_URN_TYPE", f"content value {urn} must be a image URN"
        )
    image = state.image(urn)
    if image is None:
        return schema.error(400, "INVALID_IMAGE_ID", "This Image ID is invalid")
    if image.owner != author:
        return schema.error(
            400,
            "INVALID_CONTENT_OWNERSHIP",
            f"The author {author} does not own the content {urn}",
        )
    if image.status == "WAITING_UPLOAD":
        return schema.error(
            400, "MEDIA_ASSET_WAITING_UPLOAD", "Media asset is waiting upload"
        )
    if image.status == "PROCESSING_FAILED":
        return schema.error(
            400, "MEDIA_ASSET_PROCESSING_FAILED", "Media asset failed processing"
        )
    return None


def image_ok(data: bytes, max_pixels: int) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind, (width, height) = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    return kind in IMAGE_FORMATS and width * height <= max_pixels
