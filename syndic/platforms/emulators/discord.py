"""Discord incoming webhooks, as strict as discord.com (API v10).

    GET  /api/v10/webhooks/{id}/{token}          the webhook, with guild_id
    POST /api/v10/webhooks/{id}/{token}[?wait=true][&thread_id=...]

Execution takes JSON, or multipart with `payload_json` and `files[n]`.
Answers follow the platform: 404 code 10015 for an unknown webhook, 401 code
50027 for a wrong token, 400 code 50006 for an empty message, 400 code 50035
"Invalid Form Body" with the nested `errors` tree for limits, 413 code 40005
for a file over 10 MiB, and 429 with `retry_after`, `Retry-After` and the
`X-RateLimit-*` headers once a webhook goes over its rate (5 per 2 s unless
configured). Without `wait=true` a success is 204 with no body.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _discord_form
from syndic.platforms.emulators.recorder import Recorder

NAME = "discord"
DISCORD_EPOCH_MS = 1_420_070_400_000
FORUM_THREAD_NAME_REQUIRED = 220001
THREADS_ONLY_IN_FORUMS = 220003

SANDBOX_WEBHOOK_ID = "1100000000000000001"
SANDBOX_WEBHOOK_TOKEN = "syndic_sandbox_" + "0" * 53
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "webhook_url": (
        f"https://discord.com/api/webhooks/{SANDBOX_WEBHOOK_ID}/{SANDBOX_WEBHOOK_TOKEN}"
    )
}


@dataclass
class Webhook:
    id: str
    token: str
    guild_id: str
    channel_id: str
    name: str = "syndic"
    forum: bool = False
    threads: set[str] = field(default_factory=set)

    def as_json(self) -> dict[str, Any]:
        return {
            "application_id": None,
            "avatar": None,
            "channel_id": self.channel_id,
            "guild_id": self.guild_id,
            "id": self.id,
            "name": self.name,
            "type": 1,
            "token": self.token,
        }


class DiscordState(_base.EmulatorState):
    """Registered webhooks, the messages they received, and the knobs."""

    default_rate_limit = _base.RateLimit(requests=5, per=2.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.webhooks: dict[str, Webhook] = {}
        self.messages: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._last_snowflake = 0
        self._snowflake_lock = threading.Lock()
        self._register(
            Webhook(
                SANDBOX_WEBHOOK_ID,
                SANDBOX_WEBHOOK_TOKEN,
                guild_id="1100000000000000002",
                channel_id="1100000000000000003",
            )
        )

    def add_account(
        self, *, forum: bool = False, name: str = "syndic"
    ) -> dict[str, Any]:
        """Register a new webhook; its credentials as a user would store them."""
        webhook = Webhook(
            self.snowflake(),
            secrets.token_urlsafe(51),
            guild_id=self.snowflake(),
            channel_id=self.snowflake(),
            name=name,
            forum=forum,
        )
        self._register(webhook)
        return {
            "webhook_url": f"https://discord.com/api/webhooks/{webhook.id}/{webhook.token}"
        }

    def remove_account(self, webhook_id: str) -> None:
        """Delete a webhook, as a server admin would: it answers 404 from now on."""
        with self._lock:
            self.webhooks.pop(webhook_id, None)

    def webhook(self, webhook_id: str) -> Webhook | None:
        with self._lock:
            return self.webhooks.get(webhook_id)

    def store(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.messages.append(message)

    def open_thread(self, webhook: Webhook, thread_id: str) -> None:
        with self._lock:
            webhook.threads.add(thread_id)

    def snowflake(self) -> str:
        """A new, strictly increasing Discord id."""
        with self._snowflake_lock:
            stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last_snowflake = max(stamp | (1 << 17), self._last_snowflake + 1)
            return str(self._last_snowflake)

    def _register(self, webhook: Webhook) -> None:
        with self._lock:
            self.webhooks[webhook.id] = webhook


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "code": code}, status_code=status)


def _rate_headers(window: _base.Window, bucket: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(window.limit),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": f"{window.reset_at:.3f}",
        "X-RateLimit-Reset-After": f"{window.reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
    }


def _rate_limited(retry_after: float, headers: dict[str, str]) -> JSONResponse:
    retry_after = round(max(retry_after, 0.001), 3)
    body = {"message": "You are being rate limited.", "retry_after": retry_after}
    return JSONResponse(
        {**body, "global": False},
        status_code=429,
        headers={
            **headers,
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "user",
        },
    )


def _forced(status: int, retry_after: float | None) -> JSONResponse:
    if status == 429:
        return _rate_limited(retry_after or 1.0, {})
    return _error(status, 0, f"{status}: {HTTPStatus(status).phrase}")


def routes(state: DiscordState, recorder: Recorder) -> list[BaseRoute]:
    """The webhook routes, bound to `state`, recording into `recorder`."""

    def authenticate(webhook_id: str, token: str) -> Webhook | JSONResponse:
        if not webhook_id.isdigit():
            return JSONResponse(
                _discord_form.invalid_form_body(
                    {
                        "webhook_id": _discord_form.errors_of(
                            "NUMBER_TYPE_COERCE",
                            f'Value "{webhook_id}" is not snowflake.',
                        )
                    }
                ),
                status_code=400,
            )
        webhook = state.webhook(webhook_id)
        if webhook is None:
            return _error(404, 10015, "Unknown Webhook")
        if not secrets.compare_digest(webhook.token.encode(), token.encode()):
            return _error(401, 50027, "Invalid Webhook Token")
        return webhook

    async def webhook_endpoint(request: Request) -> Response:
        webhook_id = request.path_params["webhook_id"]
        body = await _base.read_body(request)
        recorder.record(
            NAME,
            request.method,
            f"/api/v10/webhooks/{webhook_id}/{_base.REDACTED}",
            body.recorded,
            query=dict(request.query_params),
        )

        found = authenticate(webhook_id, request.path_params["token"])
        if isinstance(found, Response):
            return found
        if request.method == "GET":
            return JSONResponse(found.as_json())
        return await execute(request, found, body)

    async def execute(request: Request, webhook: Webhook, body: _base.Body) -> Response:
        bucket = f"webhook-{webhook.id}"
        window = state.hit(bucket)
        headers = _rate_headers(window, bucket)
        if not window.allowed:
            return _rate_limited(window.reset_after, headers)
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)

        payload = _discord_form.payload_of(body)
        if isinstance(payload, _discord_form.Rejection):
            return JSONResponse(payload.body, status_code=payload.status)
        rejection = _discord_form.check(payload, body.files)
        if rejection is not None:
            return JSONResponse(rejection.body, status_code=rejection.status)
        channel_id = _channel_for(
            webhook, payload, request.query_params.get("thread_id")
        )
        if isinstance(channel_id, Response):
            return channel_id

        message = _message(state, webhook, payload, body, channel_id)
        state.store(message)
        if request.query_params.get("wait", "").lower() in ("true", "1"):
            return JSONResponse(message, headers=headers)
        return Response(status_code=204, headers=headers)

    async def not_found(request: Request) -> Response:
        recorder.record(NAME, request.method, "/" + _redact(request), None)
        return _error(404, 0, "404: Not Found")

    return [
        Route(
            "/api/v10/webhooks/{webhook_id}/{token}",
            webhook_endpoint,
            methods=["GET", "POST"],
        ),
        Route(
            "/{path:path}",
            not_found,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
    ]


def _redact(request: Request) -> str:
    """Any path under `webhooks/<id>/` loses the token segment."""
    parts = request.path_params.get("path", "").split("/")
    for index, part in enumerate(parts[:-2]):
        if part == "webhooks":
            parts[index + 2] = _base.REDACTED
    return "/".join(parts)


def _channel_for(
    webhook: Webhook, payload: dict[str, Any], thread_id: str | None
) -> str | Response:
    """The channel the message lands in: the webhook's, a new or a given thread."""
    thread_name = payload.get("thread_name")
    if thread_id is not None:
        if thread_id not in webhook.threads:
            return _error(400, 10003, "Unknown Channel")
        return thread_id
    if thread_name:
        if not webhook.forum:
            return _error(
                400,
                THREADS_ONLY_IN_FORUMS,
                "Webhooks can only create threads in forum channels",
            )
        return ""
    if webhook.forum:
        return _error(
            400,
            FORUM_THREAD_NAME_REQUIRED,
            "Webhooks posted to forum channels must have a thread_name or thread_id",
        )
    return webhook.channel_id


def _message(
    state: DiscordState,
    webhook: Webhook,
    payload: dict[str, Any],
    body: _base.Body,
    channel_id: str,
) -> dict[str, Any]:
    message_id = state.snowflake()
    if not channel_id:
        # A new forum thread has the id of its starter message.
        channel_id = message_id
        state.open_thread(webhook, channel_id)
    attachments = [
        {
            "id": state.snowflake(),
            "filename": upload.filename,
            "size": len(upload.data),
            "content_type": upload.content_type,
            "url": f"https://cdn.discordapp.com/attachments/{channel_id}/{upload.filename}",
        }
        for upload in body.files.values()
    ]
    return {
        "id": message_id,
        "type": 0,
        "content": payload.get("content") or "",
        "channel_id": channel_id,
        "author": {
            "bot": True,
            "id": webhook.id,
            "username": payload.get("username") or webhook.name,
            "avatar": None,
            "discriminator": "0000",
        },
        "attachments": attachments,
        "embeds": [
            _discord_form.trimmed(embed) for embed in payload.get("embeds") or []
        ],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": bool(payload.get("tts")),
        "timestamp": datetime.now(UTC).isoformat(timespec="microseconds"),
        "edited_timestamp": None,
        "flags": payload.get("flags") or 0,
        "components": [],
        "webhook_id": webhook.id,
    }


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=DiscordState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
