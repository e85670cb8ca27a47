"""Telegram through the Bot API (`<base>/bot<token>/<method>`).

Credentials: `{"bot_token": "<bot id>:<secret>", "chat_id": "@channel" or an
integer id}`; the bot must be allowed to post in the chat.

Text only: `sendMessage`, text over 4096 UTF-16 units split into several
messages on line, then space boundaries, never inside an escape sequence,
an entity or a tag (unless the `split` option is off). One photo or video:
`sendPhoto` / `sendVideo` with the text as caption (1024 units at most).
Several: `sendMediaGroup` albums of up to 10, the caption on the first item.

Options: `parse_mode` (None, "MarkdownV2" or "HTML"); `markup` (the text
is already markup in that mode; otherwise syndic escapes plain text so it
shows as written); `split` (default true); `disable_notification`;
`disable_link_preview`.

Once one message is out, a later failure is a `PermanentError` with code
`partially_published`: retrying would repeat what was published. A 429 on
a later call is waited out (up to the timeout) and retried once.
"""

from __future__ import annotations

import bisect
import functools
import io
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import _http, base
from syndic.platforms.emulators import telegram_markup

DEFAULT_TIMEOUT = 15.0  # seconds
MAX_TEXT = 4096  # UTF-16 code units after parsing
MAX_CAPTION = 1024  # UTF-16 code units after parsing
MAX_ALBUM = 10
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000  # width + height
MAX_PHOTO_RATIO = 20

BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{30,64}")
CHAT_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
CHAT_NUMBER = re.compile(r"-?[0-9]{1,20}")
PARSE_MODES = {
    "markdownv2": telegram_markup.MARKDOWN_V2,
    "html": telegram_markup.HTML,
}
_MARKDOWN_V2_SPECIAL = re.compile(r"([\\_*\[\]()~`>#+\-=|{}.!])")


def escape_markdown_v2(text: str) -> str:
    """`text` that MarkdownV2 shows as written: each reserved character and `\\`
    escaped with a backslash."""
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


def escape_html(text: str) -> str:
    """`text` that HTML mode shows as written: `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_ESCAPES = {
    telegram_markup.MARKDOWN_V2: escape_markdown_v2,
    telegram_markup.HTML: escape_html,
}


class _Refused(Exception):
    def __init__(self, problem: base.Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def split_markup(source: str, parsed: telegram_markup.Parsed, limit: int) -> list[str]:
    """`source` in pieces of at most `limit` visible UTF-16 units each.

    Cuts only at `parsed.cuts` (top-level token starts): the last newline
    that fits, else the last space, else the last cut point; the newline
    or space cut at is dropped. Whitespace-only pieces are left out.
    Raises ValueError when an entity alone is longer than `limit`.
    """
    indexes = [index for index, _ in parsed.cuts]
    offsets = [offset for _, offset in parsed.cuts]
    pieces: list[str] = []
    start, start_offset = 0, 0
    while parsed.length - start_offset > limit:
        low = bisect.bisect_right(indexes, start)
        high = bisect.bisect_right(offsets, start_offset + limit)
        chosen = _best_cut(source, indexes, low, high)
        if chosen is None:
            raise ValueError(f"an entity at {start} is longer than {limit} units")
        index, offset = parsed.cuts[chosen]
        pieces.append(source[start:index])
        if source[index] in "\n ":
            index, offset = index + 1, offset + 1
        start, start_offset = index, offset
    pieces.append(source[start:])
    return [piece for piece in pieces if piece.strip()]


def _best_cut(source: str, indexes: list[int], low: int, high: int) -> int | None:
    space = None
    for position in range(high - 1, low - 1, -1):
        char = source[indexes[position]]
        if char == "\n":
            return position
        if char == " " and space is None:
            space = position
    if space is not None:
        return space
    return high - 1 if high > low else None


@dataclass(frozen=True)
class _TextRules:
    limit: int
    too_long: str  # rule id
    split: bool
    empty: str | None = None  # rule id, when nothing visible is refused


def _prepare(
    text: str, parse_mode: str | None, markup: bool, rules: _TextRules
) -> list[str]:
    """The texts to send, escaped or checked for `parse_mode`; raises `_Refused`."""
    parsed = telegram_markup.plain(text)
    if parse_mode is not None and markup:
        try:
            parsed = telegram_markup.parse(text, parse_mode)
        except telegram_markup.MarkupError as exc:
            raise _Refused(
                base.Problem(
                    "telegram.markup.invalid",
                    f"Telegram cannot parse this {parse_mode}: {exc.description}",
                    start=exc.index,
                    end=exc.index + 1,
                )
            ) from exc
    if rules.empty is not None and not parsed.text.strip():
        raise _Refused(base.Problem(rules.empty, "Telegram refuses an empty message"))

    pieces = [text]
    if parsed.length > rules.limit:
        too_long = base.Problem(
            rules.too_long,
            f"{parsed.length} UTF-16 units after parsing; Telegram takes {rules.limit}",
            start=_index_at(parsed, rules.limit),
            end=len(text),
        )
        if not rules.split:
            raise _Refused(too_long)
        try:
            pieces = split_markup(text, parsed, rules.limit)
        except ValueError as exc:
            raise _Refused(too_long) from exc
    if parse_mode is not None and not markup:
        pieces = [_ESCAPES[parse_mode](piece) for piece in pieces]
    return pieces


def _index_at(parsed: telegram_markup.Parsed, units: int) -> int:
    """The source index of the first top-level token at or past `units`."""
    offsets = [offset for _, offset in parsed.cuts]
    position = bisect.bisect_left(offsets, units)
    return parsed.cuts[position][0] if position < len(parsed.cuts) else 0


@dataclass
class _Call:
    method: str
    fields: dict[str, Any]
    files: list[tuple[str, tuple[str, bytes, str]]] = field(default_factory=list)


class TelegramAdapter:
    """Publishes through a bot; see the module docstring."""

    name: ClassVar[str] = "telegram"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it when `settings` is given."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`bot_token` and `chat_id` (an int, or "@username"); else ValueError."""
        token = credentials.get("bot_token")
        if not isinstance(token, str) or BOT_TOKEN.fullmatch(token.strip()) is None:
            raise ValueError("bot_token must look like 123456:ABC-... (from BotFather)")
        return {
            "bot_token": token.strip(),
            "chat_id": _chat_id(credentials.get("chat_id")),
        }

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        try:
            parse_mode = _parse_mode(draft.options)
        except _Refused as refused:
            return [refused.problem]

        problems = [
            problem for item in draft.media for problem in _media_problems(item)
        ]
        if len(draft.media) > MAX_ALBUM and not draft.options.get("split", True):
            problems.append(
                base.Problem(
                    "telegram.media.too_many",
                    f"{len(draft.media)} files; an album takes {MAX_ALBUM}",
                )
            )
        try:
            _texts(draft, parse_mode)
        except _Refused as refused:
            problems.append(refused.problem)
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Send the messages in order; the Receipt names every one of them."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            checked = self.check_credentials(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"telegram: {exc}") from exc

        calls = _calls(draft, checked["chat_id"])
        messages: list[dict[str, Any]] = []
        for call in calls:
            send = functools.partial(self._send, checked["bot_token"], call)
            if messages:
                sent = await _http.follow_up(
                    send,
                    platform=self.name,
                    published=[str(message["message_id"]) for message in messages],
                    max_wait=self._timeout,
                )
            else:
                sent = await send()
            messages.extend(sent)

        first = messages[0]
        return base.Receipt(
            remote_id=str(first["message_id"]),
            url=_message_url(first.get("chat") or {}, first["message_id"]),
            extra_ids=tuple(str(message["message_id"]) for message in messages[1:]),
        )

    async def _send(self, token: str, call: _Call) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"json": call.fields}
        if call.files:
            request = {
                "data": {
                    key: value if isinstance(value, str) else json.dumps(value)
                    for key, value in call.fields.items()
                },
                "files": call.files,
            }
        response = await _http.send(
            self._client,
            "POST",
            f"{self._base_url}/bot{token}/{call.method}",
            platform=self.name,
            endpoint=call.method,
            phase_timeout=self._timeout,
            **request,
        )

        body = _http.json_object(response)
        if response.status_code != 200 or body.get("ok") is not True:
            raise _error_of(response, body)
        result = body.get("result")
        candidates = result if isinstance(result, list) else [result]
        messages = [
            message
            for message in candidates
            if isinstance(message, dict) and "message_id" in message
        ]
        if not messages or len(messages) != len(candidates):
            raise base.PermanentError(
                "telegram: the answer holds no message", code="bad_answer"
            )
        return messages


def _texts(draft: base.Draft, parse_mode: str | None) -> list[str]:
    """The message texts (no media) or the one caption; raises `_Refused`."""
    markup = bool(draft.options.get("markup"))
    if draft.media:
        rules = _TextRules(MAX_CAPTION, "telegram.caption.too_long", split=False)
        return _prepare(draft.text, parse_mode, markup, rules) if draft.text else []

    rules = _TextRules(
        MAX_TEXT,
        "telegram.text.too_long",
        split=draft.options.get("split", True),
        empty="telegram.text.empty",
    )
    return _prepare(draft.text, parse_mode, markup, rules)


def _calls(draft: base.Draft, chat_id: int | str) -> list[_Call]:
    parse_mode = _parse_mode(draft.options)
    texts = _texts(draft, parse_mode)
    common: dict[str, Any] = {"chat_id": chat_id}
    if parse_mode is not None:
        common["parse_mode"] = parse_mode
    if draft.options.get("disable_notification"):
        common["disable_notification"] = True

    if not draft.media:
        if draft.options.get("disable_link_preview"):
            common["link_preview_options"] = {"is_disabled": True}
        return [_Call("sendMessage", {**common, "text": text}) for text in texts]

    caption = texts[0] if texts else None
    if len(draft.media) == 1:
        return [_single_media(draft.media[0], common, caption)]
    calls = []
    for group in _albums(draft.media):
        calls.append(_album(group, common, caption))
        caption = None
    return calls


def _parse_mode(options: Mapping[str, Any]) -> str | None:
    value = options.get("parse_mode")
    if value in (None, ""):
        return None
    mode = PARSE_MODES.get(str(value).lower())
    if mode is None:
        raise _Refused(
            base.Problem(
                "telegram.options.parse_mode",
                "parse_mode must be MarkdownV2, HTML or absent",
            )
        )
    return mode


def _chat_id(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if CHAT_NUMBER.fullmatch(text):
            return int(text)
        if CHAT_USERNAME.fullmatch(text):
            return text
    raise ValueError("chat_id must be an integer chat id or @channelusername")


def _kind(item: base.Media) -> str | None:
    if item.is_image:
        return "photo"
    if item.content_type.startswith("video/"):
        return "video"
    return None


def _media_problems(item: base.Media) -> list[base.Problem]:
    kind = _kind(item)
    if kind is None:
        return [
            base.Problem(
                "telegram.media.unsupported",
                f"{item.filename}: syndic sends photos and videos to Telegram, "
                f"not {item.content_type}",
            )
        ]
    if not item.data:
        return [base.Problem("telegram.media.empty", f"{item.filename} is empty")]
    if len(item.data) > MAX_UPLOAD_BYTES:
        return [
            base.Problem("telegram.media.too_large", f"{item.filename}: over 50 MiB")
        ]
    if kind != "photo":
        return []
    if len(item.data) > MAX_PHOTO_BYTES:
        return [
            base.Problem("telegram.photo.too_large", f"{item.filename}: over 10 MiB")
        ]
    return _photo_problems(item)


def _photo_problems(item: base.Media) -> list[base.Problem]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as image:
                width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return [
            base.Problem(
                "telegram.photo.unreadable", f"{item.filename} is not a readable image"
            )
        ]
    ratio = max(width, height) / max(min(width, height), 1)
    if width + height > MAX_PHOTO_SIDES or ratio > MAX_PHOTO_RATIO:
        return [
            base.Problem(
                "telegram.photo.dimensions",
                f"{item.filename} is {width}x{height}; Telegram takes width + height "
                f"up to {MAX_PHOTO_SIDES} and a ratio up to {MAX_PHOTO_RATIO}",
            )
        ]
    return []


def _albums(media: tuple[base.Media, ...]) -> list[tuple[base.Media, ...]]:
    """Albums of 2 to 10 items, as even as possible, in order."""
    count = -(-len(media) // MAX_ALBUM)
    size, extra = divmod(len(media), count)
    albums = []
    start = 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        albums.append(media[start:end])
        start = end
    return albums


def _upload(item: base.Media) -> tuple[str, bytes, str]:
    return (item.filename, item.data, item.content_type)


def _single_media(
    item: base.Media, common: dict[str, Any], caption: str | None
) -> _Call:
    kind = _kind(item) or "photo"
    fields = dict(common)
    if caption is not None:
        fields["caption"] = caption
    method = "sendPhoto" if kind == "photo" else "sendVideo"
    return _Call(method, fields, [(kind, _upload(item))])


def _album(
    group: tuple[base.Media, ...], common: dict[str, Any], caption: str | None
) -> _Call:
    fields = {key: value for key, value in common.items() if key != "parse_mode"}
    items = []
    for index, item in enumerate(group):
        entry: dict[str, Any] = {"type": _kind(item), "media": f"attach://file{index}"}
        if index == 0 and caption is not None:
            entry["caption"] = caption
            if "parse_mode" in common:
                entry["parse_mode"] = common["parse_mode"]
        items.append(entry)
    fields["media"] = items
    files = [(f"file{index}", _upload(item)) for index, item in enumerate(group)]
    return _Call("sendMediaGroup", fields, files)


def _message_url(chat: Mapping[str, Any], message_id: Any) -> str | None:
    """t.me link: by username, else by id for channels and supergroups."""
    username = chat.get("username")
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id", ""))
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id.removeprefix('-100')}/{message_id}"
    return None


def _error_of(response: httpx.Response, body: Mapping[str, Any]) -> base.PlatformError:
    """Telegram's `{"ok": false}` answer as one of ours."""
    status = response.status_code
    description = str(body.get("description") or response.reason_phrase or status)
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, Mapping) else {}

    if status == 429 or body.get("error_code") == 429:
        retry_after = _http.seconds(parameters.get("retry_after"))
        if retry_after is None:
            retry_after = _http.seconds(response.headers.get("Retry-After"))
        return base.TransientError(
            f"telegram: {description}", code="rate_limited", retry_after=retry_after
        )
    if status >= 500:
        return base.TransientError(
            f"telegram: server error {status}", code="server_error"
        )
    if status in (401, 404):
        return base.CredentialsRejected(
            f"telegram: the bot token was refused ({description})"
        )
    if status == 403:
        return base.PermanentError(f"telegram: {description}", code="forbidden")
    if "migrate_to_chat_id" in parameters:
        description += f" (the group is now chat {parameters['migrate_to_chat_id']})"
    return base.PermanentError(f"telegram: {description}", code="rejected")
