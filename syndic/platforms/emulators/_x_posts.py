"""Creating a post and checking an upload, with X's checks and error bodies.

Errors are problem JSON (`title`, `detail`, `type`, `status`); a 400 for a
body X cannot use is the `invalid-request` problem with an `errors` list,
each item a `message` and, where X names it, the offending `parameters`.
Limits: 280 weighted characters (see `x_text`), 1 cashtag, 1-4 media ids
(one animated GIF alone), images up to 5 MiB as JPEG, PNG, GIF, WEBP, BMP
or TIFF, alt text up to 1000 characters.

Wording of the over-long text [OBS: tweepy users quoting the 400], of
"Your media IDs are invalid." [OBS] and of the duplicate 403 [OBS] follows
real answers; the cashtag and invalid-character refusals are UNVERIFIED
in their wording.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image
from starlette.responses import JSONResponse

from syndic.platforms.emulators import _base, x_text

if TYPE_CHECKING:
    from syndic.platforms.emulators.x import User, XState

PROBLEMS = "https://api.twitter.com/2/problems"
MAX_MEDIA = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
IMAGE_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
SIMPLE_CATEGORIES = frozenset({"tweet_image", "dm_image", "subtitles"})
CHUNKED_CATEGORIES = frozenset({"tweet_video", "tweet_gif", "dm_video", "dm_gif"})
REPLY_SETTINGS = frozenset({"following", "mentionedUsers", "subscribers", "verified"})
TWEET_FIELDS = frozenset(
    {
        "text",
        "media",
        "reply",
        "quote_tweet_id",
        "poll",
        "reply_settings",
        "for_super_followers_only",
        "nullcast",
        "geo",
        "community_id",
        "card_uri",
        "direct_message_deep_link",
        "edit_options",
        "made_with_ai",
        "paid_partnership",
        "share_with_followers",
    }
)
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines "
    "text length see https://github.com/twitter/twitter-text."
)
DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
REPLY_NOT_SUMMONED = (
    "Reply to this conversation is not allowed because you have not been "
    "mentioned or otherwise engaged by the author of the post you are replying to."
)
_NUMERIC_ID = re.compile(r"[0-9]{1,19}")


class Refusal(Exception):
    """An error answer, raised from deep in a check."""

    def __init__(self, response: JSONResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


def problem(
    status: int, title: str, detail: str, type_: str = "about:blank"
) -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "type": type_, "status": status},
        status_code=status,
    )


def invalid_request(message: str, parameters: dict[str, Any] | None = None) -> Refusal:
    error: dict[str, Any] = {"message": message}
    if parameters is not None:
        error = {"parameters": parameters, "message": message}
    return Refusal(
        JSONResponse(
            {
                "errors": [error],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": f"{PROBLEMS}/invalid-request",
            },
            status_code=400,
        )
    )


def forbidden(detail: str) -> Refusal:
    return Refusal(problem(403, "Forbidden", detail))


@dataclass(frozen=True)
class TweetRequest:
    """A create-post body that passed the checks that need no state."""

    text: str | None
    media_ids: tuple[str, ...]
    in_reply_to: str | None
    fields: Mapping[str, Any]


def tweet_request(body: _base.Body, content_type: str) -> TweetRequest:
    """The body's fields; a `Refusal` for a body X refuses before any lookup."""
    if body.recorded is not None and content_type != "application/json":
        raise invalid_request(
            "Requests with bodies must have content-type of application/json."
        )
    if body.error is not None or body.recorded is None:
        raise invalid_request("Request body is not a valid JSON object.")
    fields = body.fields
    for key in fields:
        if key not in TWEET_FIELDS:
            raise invalid_request(
                f"$.{key}: is not defined in the schema and the schema does not "
                "allow additional properties"
            )

    text = fields.get("text")
    if text is not None and not isinstance(text, str):
        raise invalid_request(f"$.text: {_json_type(text)} found, string expected")
    media_ids = _media_ids(fields.get("media"))
    in_reply_to = _reply_to(fields.get("reply"))
    settings = fields.get("reply_settings")
    if settings is not None and settings not in REPLY_SETTINGS:
        raise invalid_request(
            "$.reply_settings: does not have a value in the enumeration "
            f"{sorted(REPLY_SETTINGS)}"
        )
    if not text and not media_ids and not _has_other_content(fields):
        raise invalid_request(
            "One or more of text, media, poll, quote_tweet_id or card_uri is required."
        )
    if text:
        check_text(text)
    return TweetRequest(text or None, media_ids, in_reply_to, fields)


def check_text(text: str, limit: int = x_text.MAX_WEIGHTED_LENGTH) -> None:
    if x_text.weighted_length(text) > limit:
        raise invalid_request(TOO_LONG, {"text": [text]})
    if x_text.invalid_characters(text):
        raise invalid_request(
            "Your Tweet text contains invalid characters.", {"text": [text]}
        )
    if len(x_text.cashtags(text)) > x_text.MAX_CASHTAGS:
        raise invalid_request(
            f"Posts may contain at most {x_text.MAX_CASHTAGS} cashtag.",
            {"text": [text]},
        )


@dataclass(frozen=True)
class UploadedImage:
    """An uploaded image as X describes it."""

    mime_type: str
    width: int
    height: int
    animated: bool


def upload_request(body: _base.Body, content_type: str) -> tuple[bytes, str]:
    """The uploaded bytes and the media category of a one-shot upload."""
    if content_type == "multipart/form-data":
        upload = body.files.get("media")
        data = upload.data if upload is not None else None
        if data is None and isinstance(body.fields.get("media"), str):
            data = body.fields["media"].encode()
    elif content_type == "application/json" and body.error is None:
        data = _base64(body.fields.get("media"))
    else:
        raise invalid_request(
            "Requests with bodies must be multipart/form-data or application/json."
        )
    if data is None:
        raise invalid_request("$.media: is missing but it is required")
    category = body.fields.get("media_category")
    if category is None:
        raise invalid_request("$.media_category: is missing but it is required")
    if category in CHUNKED_CATEGORIES:
        raise invalid_request(
            f"media_category {category} needs the chunked upload "
            "(/2/media/upload/initialize)."
        )
    if category not in SIMPLE_CATEGORIES:
        raise invalid_request(
            "$.media_category: does not have a value in the enumeration "
            f"{sorted(SIMPLE_CATEGORIES | CHUNKED_CATEGORIES)}"
        )
    return data, str(category)


def image_of(data: bytes) -> UploadedImage:
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid_request(f"File size exceeds {MAX_IMAGE_BYTES} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or ""
                width, height = image.size
                animated = bool(getattr(image, "is_animated", False))
                image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise invalid_request("media type unrecognized.") from exc
    if kind not in IMAGE_FORMATS:
        raise invalid_request("media type unrecognized.")
    return UploadedImage(IMAGE_FORMATS[kind], width, height, animated)


def alt_text_request(body: _base.Body) -> tuple[str, str]:
    """The media id and alt text of a metadata body."""
    if body.error is not None or body.recorded is None:
        raise invalid_request("Request body is not a valid JSON object.")
    media_id = body.fields.get("id")
    if not isinstance(media_id, str) or _NUMERIC_ID.fullmatch(media_id) is None:
        raise invalid_request("$.id: does not match the regex pattern ^[0-9]{1,19}$")
    metadata = body.fields.get("metadata")
    alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
    text = alt.get("text") if isinstance(alt, dict) else None
    if not isinstance(text, str):
        raise invalid_request("$.metadata.alt_text.text: is missing but it is required")
    if len(text) > MAX_ALT_TEXT:
        raise invalid_request(
            f"$.metadata.alt_text.text: may only be {MAX_ALT_TEXT} characters long"
        )
    return media_id, text


def create(
    state: XState, user: User, body: _base.Body, content_type: str
) -> dict[str, Any]:
    """Store the post the body asks for; raises `Refusal` as X would answer."""
    tweet = tweet_request(body, content_type)
    if tweet.text is not None:
        check_text(tweet.text, state.max_weighted_length)
    media = [state.live_media(media_id, user.id) for media_id in tweet.media_ids]
    if any(item is None for item in media) or (
        len(media) > 1
        and any(item is not None and item.image.animated for item in media)
    ):
        raise invalid_request(
            "Your media IDs are invalid.", {"media.media_ids": list(tweet.media_ids)}
        )
    conversation = None
    if tweet.in_reply_to is not None:
        conversation = _reply_target(state, user, tweet.in_reply_to)
    if tweet.text is not None and any(
        post["text"] == tweet.text for post in state.posts_of(user.id)
    ):
        raise forbidden(DUPLICATE)

    tweet_id = state.new_id()
    stored = {
        "id": tweet_id,
        "text": tweet.text or "",
        "author_id": user.id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "media_ids": list(tweet.media_ids),
        "in_reply_to_tweet_id": tweet.in_reply_to,
        "conversation_id": conversation or tweet_id,
    }
    state.store_tweet(stored)
    return stored


def _reply_target(state: XState, user: User, tweet_id: str) -> str:
    """The conversation a reply joins; raises a 403 `Refusal` X would answer."""
    target = state.tweet(tweet_id)
    if target is None:
        raise forbidden(REPLY_GONE)
    own = target["author_id"] == user.id
    if state.reply_policy == "closed" or (state.reply_policy == "summoned" and not own):
        raise forbidden(REPLY_NOT_SUMMONED)
    return str(target["conversation_id"])


def _media_ids(media: Any) -> tuple[str, ...]:
    if media is None:
        return ()
    ids = media.get("media_ids") if isinstance(media, dict) else None
    if not isinstance(ids, list):
        raise invalid_request("$.media.media_ids: is missing but it is required")
    if not 1 <= len(ids) <= MAX_MEDIA:
        raise invalid_request(
            "$.media.media_ids: there must be between 1 and "
            f"{MAX_MEDIA} items in the array"
        )
    for index, value in enumerate(ids):
        if not isinstance(value, str) or _NUMERIC_ID.fullmatch(value) is None:
            raise invalid_request(
                f"$.media.media_ids[{index}]: does not match the regex pattern "
                "^[0-9]{1,19}$"
            )
    return tuple(ids)


def _reply_to(reply: Any) -> str | None:
    if reply is None:
        return None
    target = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
    if not isinstance(target, str) or _NUMERIC_ID.fullmatch(target) is None:
        raise invalid_request(
            "$.reply.in_reply_to_tweet_id: does not match the regex pattern "
            "^[0-9]{1,19}$"
        )
    return target


def _has_other_content(fields: Mapping[str, Any]) -> bool:
    return any(fields.get(key) for key in ("poll", "quote_tweet_id", "card_uri"))


def _base64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_request("$.media: is not valid base64") from exc


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "string"
