"""The Bot API methods the Telegram emulator serves, checked in Telegram's order.

Each method reads its parameters and files (markup first, then files, then
the chat), counts its messages against the chat's rate, consumes a forced
fault if one is queued, and only then stores the messages. A refused call
stores nothing.
"""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from PIL import Image
from starlette.responses import JSONResponse

from syndic.platforms.emulators import _base, telegram_markup

if TYPE_CHECKING:
    from syndic.platforms.emulators.telegram import Bot, Chat, TelegramState

MAX_TEXT = 4096  # UTF-16 code units after parsing
MAX_CAPTION = 1024
MAX_ALBUM = 10
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000  # width + height
MAX_PHOTO_RATIO = 20
PARSE_MODES = {
    "markdownv2": telegram_markup.MARKDOWN_V2,
    "html": telegram_markup.HTML,
}
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")


class Refusal(Exception):
    """An `{"ok": false}` answer, raised from deep in a method."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def response(self) -> JSONResponse:
        return failure(self.code, self.description, self.parameters)


def failure(
    code: int, description: str, parameters: dict[str, Any] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def success(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def too_many_requests(retry_after: float) -> Refusal:
    seconds = max(math.ceil(retry_after), 1)
    return Refusal(
        429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
    )


@dataclass(frozen=True)
class Call:
    state: TelegramState
    bot: Bot
    params: Mapping[str, Any]
    files: Mapping[str, _base.Upload]

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value is None else str(value)

    async def deliver(self, contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Check the chat and its rate, apply a forced fault, then store."""
        chat = self._chat()
        window = self.state.hit(f"{self.bot.id}:{chat.id}", cost=len(contents))
        if not window.allowed:
            raise too_many_requests(window.reset_after)
        forced = await _base.apply(self.state.take_fault())
        if forced is not None:
            status, retry_after = forced
            if status == 429:
                raise too_many_requests(retry_after or 1.0)
            raise Refusal(status, HTTPStatus(status).phrase)
        return self.state.store(self.bot, chat, contents)

    def _chat(self) -> Chat:
        raw = self.params.get("chat_id")
        if raw is None or str(raw).strip() == "":
            raise Refusal(400, "Bad Request: chat_id is empty")
        key: int | str = str(raw).strip()
        if isinstance(raw, int) or _CHAT_ID.fullmatch(str(key)):
            key = int(raw)
        chat = self.state.chat(key)
        if chat is None:
            raise Refusal(400, "Bad Request: chat not found")
        if self.bot.id not in chat.members:
            kind = "channel chat" if chat.type == "channel" else "group chat"
            raise Refusal(403, f"Forbidden: bot is not a member of the {kind}")
        return chat


def _markup(text: str, parse_mode: Any) -> telegram_markup.Parsed:
    if parse_mode in (None, ""):
        return telegram_markup.plain(text)
    mode = PARSE_MODES.get(str(parse_mode).lower())
    if mode is None:
        raise Refusal(400, f"Bad Request: unsupported parse_mode {parse_mode}")
    try:
        return telegram_markup.parse(text, mode)
    except telegram_markup.MarkupError as exc:
        raise Refusal(
            400, f"Bad Request: can't parse entities: {exc.description}"
        ) from exc


def _entities(parsed: telegram_markup.Parsed) -> list[dict[str, Any]]:
    entities = []
    for entity in parsed.entities:
        item: dict[str, Any] = {
            "type": entity.type,
            "offset": entity.offset,
            "length": entity.length,
        }
        if entity.url is not None:
            item["url"] = entity.url
        entities.append(item)
    return entities


def _caption(text: str | None, parse_mode: Any) -> dict[str, Any]:
    if text is None:
        return {}
    parsed = _markup(text, parse_mode)
    if parsed.length > MAX_CAPTION:
        raise Refusal(400, "Bad Request: message caption is too long")
    content: dict[str, Any] = {"caption": parsed.text}
    if parsed.entities:
        content["caption_entities"] = _entities(parsed)
    return content


async def get_me(call: Call) -> JSONResponse:
    me = call.bot.as_user()
    me.update(can_join_groups=True, can_read_all_group_messages=False)
    return success(me)


async def send_message(call: Call) -> JSONResponse:
    text = call.text("text")
    if text is None or text.strip() == "":
        raise Refusal(400, "Bad Request: message text is empty")
    parsed = _markup(text, call.params.get("parse_mode"))
    if parsed.text.strip() == "":
        raise Refusal(400, "Bad Request: message text is empty")
    if parsed.length > MAX_TEXT:
        raise Refusal(400, "Bad Request: message is too long")

    content: dict[str, Any] = {"text": parsed.text}
    if parsed.entities:
        content["entities"] = _entities(parsed)
    (message,) = await call.deliver([content])
    return success(message)


async def send_photo(call: Call) -> JSONResponse:
    caption = _caption(call.text("caption"), call.params.get("parse_mode"))
    photo = _photo(call, call.files.get("photo"), call.text("photo"))
    (message,) = await call.deliver([{**photo, **caption}])
    return success(message)


async def send_video(call: Call) -> JSONResponse:
    caption = _caption(call.text("caption"), call.params.get("parse_mode"))
    video = _video(call, call.files.get("video"), call.text("video"))
    (message,) = await call.deliver([{**video, **caption}])
    return success(message)


async def send_media_group(call: Call) -> JSONResponse:
    items = call.params.get("media")
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except ValueError:
            items = None
    if items is None or items == []:
        raise Refusal(400, "Bad Request: there are no messages to send")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refusal(400, "Bad Request: can't parse media JSON object")
    if len(items) > MAX_ALBUM:
        raise Refusal(400, "Bad Request: too many messages to send as an album")

    captions = [_caption(item.get("caption"), item.get("parse_mode")) for item in items]
    kinds = [str(item.get("type")) for item in items]
    for kind in ("document", "audio"):
        if kind in kinds and set(kinds) != {kind}:
            raise Refusal(
                400, f"Bad Request: {kind} can't be mixed with other media types"
            )
    contents = []
    for item, kind, caption in zip(items, kinds, captions, strict=True):
        upload, reference = _attachment(call, item.get("media"))
        if kind == "photo":
            media = _photo(call, upload, reference)
        elif kind == "video":
            media = _video(call, upload, reference)
        else:
            raise Refusal(
                400,
                f'Bad Request: can\'t parse InputMedia: type "{kind}" is unsupported',
            )
        contents.append({**media, **caption})
    return success(await call.deliver(contents))


def _attachment(call: Call, media: Any) -> tuple[_base.Upload | None, str | None]:
    reference = None if media is None else str(media)
    if reference is not None and reference.startswith("attach://"):
        upload = call.files.get(reference.removeprefix("attach://"))
        if upload is None:
            raise Refusal(400, "Bad Request: can't parse InputMedia: media not found")
        return upload, None
    return None, reference


def _check_upload(upload: _base.Upload) -> None:
    if not upload.data:
        raise Refusal(400, "Bad Request: file must be non-empty")
    if len(upload.data) > MAX_UPLOAD_BYTES:
        raise Refusal(413, "Request Entity Too Large")


def _known_file(call: Call, reference: str | None, kind: str) -> None:
    if reference is None or reference == "":
        raise Refusal(400, f"Bad Request: there is no {kind} in the request")
    if reference.startswith(("http://", "https://")):
        return
    known = call.state.files.get(reference)
    if known is None:
        raise Refusal(400, "Bad Request: wrong file identifier/HTTP URL specified")
    if known != kind:
        raise Refusal(
            400,
            f"Bad Request: can't use file of type {known.title()} as {kind.title()}",
        )


def _photo(
    call: Call, upload: _base.Upload | None, reference: str | None
) -> dict[str, Any]:
    if upload is None:
        _known_file(call, reference, "photo")
        width, height, size = 1280, 720, 0
    else:
        _check_upload(upload)
        size = len(upload.data)
        if size > MAX_PHOTO_BYTES:
            raise Refusal(
                400,
                f"Bad Request: file of size {size} bytes is too big for a photo; "
                f"the maximum size is {MAX_PHOTO_BYTES} bytes",
            )
        width, height = _dimensions(upload.data)
    file_id = (
        reference if upload is None and reference else call.state.new_file("photo")
    )
    return {
        "photo": [
            {
                "file_id": file_id,
                "file_unique_id": file_id[-16:],
                "width": width,
                "height": height,
                "file_size": size,
            }
        ]
    }


def _dimensions(data: bytes) -> tuple[int, int]:
    """Width and height of an image Telegram accepts as a photo."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Refusal(400, "Bad Request: IMAGE_PROCESS_FAILED") from exc
    ratio = max(width, height) / max(min(width, height), 1)
    if width + height > MAX_PHOTO_SIDES or ratio > MAX_PHOTO_RATIO:
        raise Refusal(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    return width, height


def _video(
    call: Call, upload: _base.Upload | None, reference: str | None
) -> dict[str, Any]:
    if upload is None:
        _known_file(call, reference, "video")
    else:
        _check_upload(upload)
    file_id = (
        reference if upload is None and reference else call.state.new_file("video")
    )
    return {
        "video": {
            "file_id": file_id,
            "file_unique_id": file_id[-16:],
            "duration": 0,
            "width": 0,
            "height": 0,
            "mime_type": upload.content_type if upload else "video/mp4",
            "file_size": len(upload.data) if upload else 0,
        }
    }


METHODS: dict[str, Callable[[Call], Awaitable[JSONResponse]]] = {
    "getme": get_me,
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "sendvideo": send_video,
    "sendmediagroup": send_media_group,
}
