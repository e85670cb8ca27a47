"""The Telegram Bot API, as strict as api.telegram.org for what syndic sends.

    GET|POST /bot<token>/<method>     getMe, sendMessage, sendPhoto,
                                      sendVideo, sendMediaGroup

Method names are case-insensitive; parameters come from the query string
and from a JSON, urlencoded or multipart body. A malformed token answers
404 "Not Found", a well-formed unknown one 401 "Unauthorized"; every answer
is `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N,
"description": "..."}`, with `parameters.retry_after` on 429. Messages go
over the per-chat rate (20 a minute unless configured) with 429
"Too Many Requests: retry after N".
"""

from __future__ import annotations

import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _telegram_methods
from syndic.platforms.emulators.recorder import Recorder

NAME = "telegram"
TOKEN_PATTERN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{30,64}")
CHANNEL_ID_BASE = -1_000_000_000_000

# Public on purpose: it opens nothing but the emulator.
SANDBOX_BOT_TOKEN = "1000000001:AAsyndicSandboxBotToken000000000000"  # noqa: S105
SANDBOX_CHAT_USERNAME = "syndic_sandbox"
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "bot_token": SANDBOX_BOT_TOKEN,
    "chat_id": f"@{SANDBOX_CHAT_USERNAME}",
}


@dataclass
class Bot:
    id: int
    token: str
    username: str
    first_name: str = "syndic"

    def as_user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }


@dataclass
class Chat:
    id: int
    type: str
    title: str
    username: str | None = None
    members: set[int] = field(default_factory=set)  # ids of bots that may post

    def as_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.username is not None:
            chat["username"] = self.username
        return chat


class TelegramState(_base.EmulatorState):
    """Bots, chats, the messages sent, and the knobs."""

    default_rate_limit = _base.RateLimit(requests=20, per=60.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.bots: dict[str, Bot] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.files: dict[str, str] = {}  # file_id -> kind
        self._last_message_id: dict[int, int] = {}
        self._next_id = 1_000_000_000
        bot = self.add_bot(SANDBOX_BOT_TOKEN, username="syndic_sandbox_bot")
        self.add_chat(username=SANDBOX_CHAT_USERNAME, bots=(bot,))

    def add_bot(self, token: str | None = None, *, username: str | None = None) -> Bot:
        """Register a bot; a fresh well-formed token unless one is given."""
        with self._lock:
            self._next_id += 1
            bot_id = self._next_id
        token = token or f"{bot_id}:AA{secrets.token_urlsafe(25)[:33]}"
        bot = Bot(bot_id, token, username or f"syndic_{bot_id}_bot")
        with self._lock:
            self.bots[token] = bot
        return bot

    def add_chat(
        self,
        *,
        username: str | None = None,
        type: str = "channel",
        title: str = "syndic test channel",
        bots: tuple[Bot, ...] = (),
    ) -> Chat:
        """Register a chat the given bots may post in; channels get -100… ids."""
        with self._lock:
            self._next_id += 1
            chat_id = CHANNEL_ID_BASE - self._next_id
            chat = Chat(chat_id, type, title, username, {bot.id for bot in bots})
            self.chats[chat_id] = chat
        return chat

    def add_account(
        self, *, public: bool = True, type: str = "channel"
    ) -> dict[str, Any]:
        """A new bot admitted to a new chat; credentials as a user stores them.

        `public` chats have a username (and `@username` as chat id); others
        are addressed by their numeric id.
        """
        bot = self.add_bot()
        username = f"syndic_{secrets.token_hex(4)}" if public else None
        chat = self.add_chat(username=username, type=type, bots=(bot,))
        return {
            "bot_token": bot.token,
            "chat_id": f"@{username}" if username else chat.id,
        }

    def revoke(self, token: str) -> None:
        """Revoke a bot token, as BotFather does: it answers 401 from now on."""
        with self._lock:
            self.bots.pop(token, None)

    def bot(self, token: str) -> Bot | None:
        with self._lock:
            return self.bots.get(token)

    def chat(self, chat_id: int | str) -> Chat | None:
        """A chat by numeric id or `@username`."""
        with self._lock:
            if isinstance(chat_id, int):
                return self.chats.get(chat_id)
            name = chat_id.removeprefix("@").lower()
            return next(
                (c for c in self.chats.values() if (c.username or "").lower() == name),
                None,
            )

    def store(
        self, bot: Bot, chat: Chat, contents: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Turn `contents` into consecutive messages of `chat`; an album if several."""
        group = str(secrets.randbits(63)) if len(contents) > 1 else None
        messages = []
        with self._lock:
            for content in contents:
                message_id = self._last_message_id.get(chat.id, 0) + 1
                self._last_message_id[chat.id] = message_id
                message: dict[str, Any] = {
                    "message_id": message_id,
                    "chat": chat.as_json(),
                    "date": int(time.time()),
                }
                if chat.type == "channel":
                    message["sender_chat"] = chat.as_json()
                else:
                    message["from"] = bot.as_user()
                if group is not None:
                    message["media_group_id"] = group
                message.update(content)
                self.messages.append(message)
                messages.append(message)
        return messages

    def new_file(self, kind: str) -> str:
        file_id = f"{kind[:2].upper()}{secrets.token_urlsafe(24)}"
        with self._lock:
            self.files[file_id] = kind
        return file_id


def routes(state: TelegramState, recorder: Recorder) -> list[BaseRoute]:
    """The Bot API routes, bound to `state`, recording into `recorder`."""

    async def bot_endpoint(request: Request) -> Response:
        method = request.path_params["method"]
        body = await _base.read_body(request)
        recorder.record(
            NAME,
            request.method,
            f"/bot{_base.REDACTED}/{method}",
            body.recorded,
            query=dict(request.query_params),
        )

        token = request.path_params["token"]
        if TOKEN_PATTERN.fullmatch(token) is None:
            return _telegram_methods.failure(404, "Not Found")
        bot = state.bot(token)
        if bot is None:
            return _telegram_methods.failure(401, "Unauthorized")
        handler = _telegram_methods.METHODS.get(method.lower())
        if handler is None:
            return _telegram_methods.failure(404, "Not Found")
        if body.error is not None:
            return _telegram_methods.failure(
                400, "Bad Request: can't parse JSON object"
            )

        call = _telegram_methods.Call(
            state, bot, {**request.query_params, **body.fields}, body.files
        )
        try:
            return await handler(call)
        except _telegram_methods.Refusal as refusal:
            return refusal.response()

    async def not_found(request: Request) -> Response:
        segments = [
            f"bot{_base.REDACTED}" if segment.startswith("bot") else segment
            for segment in request.path_params.get("path", "").split("/")
        ]
        recorder.record(NAME, request.method, "/" + "/".join(segments), None)
        return _telegram_methods.failure(404, HTTPStatus.NOT_FOUND.phrase)

    return [
        Route("/bot{token}/{method}", bot_endpoint, methods=["GET", "POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=TelegramState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
