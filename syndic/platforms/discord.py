"""Discord through an incoming webhook (API v10).

Credentials: `{"webhook_url": "https://discord.com/api/webhooks/<id>/<token>"}`;
the token in the URL is the whole authentication. Calls go to the configured
base URL, so an emulator can stand in for discord.com.

Publishing reads the webhook once (its guild, cached per webhook, is needed
for the message URL), then executes it with `?wait=true` once per chunk:
content over 2000 characters is split on line boundaries (a single longer
line at its last space, or hard), unless the `split` option is off. Embeds
and files go with the last chunk, `thread_name` with the first (the later
chunks follow into the new thread). Mentions are never parsed unless
`allow_mentions` is set.

Options: `username`, `avatar_url`, `embeds` (list of embed objects),
`thread_name`, `split` (default true), `suppress_embeds`,
`suppress_notifications`, `allow_mentions`.

Once one chunk is out, a later failure is a `PermanentError` with code
`partially_published`: retrying the post would repeat what was published.
A 429 on a later chunk is waited out (up to the timeout) and retried once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from syndic import config
from syndic.platforms import _http, base

DEFAULT_TIMEOUT = 15.0  # seconds
MAX_CONTENT = 2000  # code points
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_FIELDS = 25
MAX_FILES = 10
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_USERNAME = 80
MAX_THREAD_NAME = 100
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
PUBLIC_URL = "https://discord.com"

WEBHOOK_URL = re.compile(
    r"https://(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api(?:/v[0-9]+)?"
    r"/webhooks/([0-9]{15,25})/([A-Za-z0-9_-]{20,120})/?"
)

# (rule, where, limit): top-level embed texts and nested ones.
_EMBED_TEXTS = (
    ("discord.embed.title.too_long", ("title",), 256),
    ("discord.embed.description.too_long", ("description",), 4096),
    ("discord.embed.footer.too_long", ("footer", "text"), 2048),
    ("discord.embed.author.too_long", ("author", "name"), 256),
)
_GUILD_CACHE_SIZE = 1024


def split_content(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """`text` in chunks of at most `limit` characters, cut between lines.

    A line longer than `limit` is cut at its last space that fits, or hard
    at `limit`. The cut newline or space is dropped; chunks of only
    whitespace are left out (Discord refuses them).
    """
    if len(text) <= limit:
        return [text]

    chunks: list[str] = []
    current: str | None = None
    for line in text.split("\n"):
        if current is not None and len(current) + 1 + len(line) <= limit:
            current = f"{current}\n{line}"
            continue
        if current is not None:
            chunks.append(current)
        while len(line) > limit:
            cut = line.rfind(" ", 1, limit + 1)
            if cut > 0:
                chunks.append(line[:cut])
                line = line[cut + 1 :]
            else:
                chunks.append(line[:limit])
                line = line[limit:]
        current = line
    if current is not None:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


@dataclass(frozen=True)
class _Webhook:
    id: str
    token: str

    def __repr__(self) -> str:
        return f"_Webhook(id={self.id!r})"


def _parse_webhook_url(value: Any) -> _Webhook:
    match = WEBHOOK_URL.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            "webhook_url must look like https://discord.com/api/webhooks/<id>/<token>"
        )
    return _Webhook(match.group(1), match.group(2))


class DiscordAdapter:
    """Publishes through an incoming webhook; see the module docstring."""

    name: ClassVar[str] = "discord"

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
        self._guilds: dict[str, str | None] = {}

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`{"webhook_url": ...}` in its canonical discord.com form; else ValueError."""
        webhook = _parse_webhook_url(credentials.get("webhook_url"))
        return {
            "webhook_url": f"{PUBLIC_URL}/api/webhooks/{webhook.id}/{webhook.token}"
        }

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        options = draft.options
        problems: list[base.Problem] = []
        embeds = options.get("embeds") or []
        text = draft.text

        if not text.strip() and not embeds and not draft.media:
            problems.append(
                base.Problem(
                    "discord.content.empty", "Discord refuses an empty message"
                )
            )
        if not options.get("split", True) and len(text) > MAX_CONTENT:
            problems.append(
                base.Problem(
                    "discord.content.too_long",
                    f"Content is {len(text)} characters; Discord takes {MAX_CONTENT}",
                    start=MAX_CONTENT,
                    end=len(text),
                )
            )
        problems.extend(_embed_problems(embeds))
        problems.extend(_file_problems(draft.media))
        problems.extend(_option_problems(options))
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Execute the webhook once per chunk; the Receipt names every message."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            webhook = _parse_webhook_url(credentials.get("webhook_url"))
        except ValueError as exc:
            raise base.CredentialsRejected(f"discord: {exc}") from exc

        guild_id = await self._guild_of(webhook)
        payloads = _payloads(draft)
        messages: list[dict[str, Any]] = []
        for index, payload in enumerate(payloads):
            last = index == len(payloads) - 1
            thread_id = None
            if messages and "thread_name" in payloads[0]:
                thread_id = str(messages[0]["channel_id"])
            send = functools.partial(
                self._execute, webhook, payload, draft.media if last else (), thread_id
            )

            if messages:
                message, pause = await _http.follow_up(
                    send,
                    platform=self.name,
                    published=[str(sent["id"]) for sent in messages],
                    max_wait=self._timeout,
                )
            else:
                message, pause = await send()
            messages.append(message)
            if pause and not last:
                await asyncio.sleep(pause)

        first = messages[0]
        url = None
        if guild_id:
            url = (
                f"{PUBLIC_URL}/channels/{guild_id}/{first['channel_id']}/{first['id']}"
            )
        return base.Receipt(
            remote_id=str(first["id"]),
            url=url,
            extra_ids=tuple(str(message["id"]) for message in messages[1:]),
        )

    def _webhook_url(self, webhook: _Webhook) -> str:
        return f"{self._base_url}/api/v10/webhooks/{webhook.id}/{webhook.token}"

    async def _guild_of(self, webhook: _Webhook) -> str | None:
        """The webhook's guild id, read once per webhook; also checks the token."""
        if webhook.id in self._guilds:
            return self._guilds[webhook.id]
        response = await _http.send(
            self._client,
            "GET",
            self._webhook_url(webhook),
            platform=self.name,
            endpoint="get_webhook",
            phase_timeout=self._timeout,
        )
        if response.status_code != 200:
            raise _error_of(response)
        guild = _http.json_object(response).get("guild_id")
        if len(self._guilds) >= _GUILD_CACHE_SIZE:
            self._guilds.pop(next(iter(self._guilds)))
        self._guilds[webhook.id] = str(guild) if guild else None
        return self._guilds[webhook.id]

    async def _execute(
        self,
        webhook: _Webhook,
        payload: dict[str, Any],
        media: tuple[base.Media, ...],
        thread_id: str | None,
    ) -> tuple[dict[str, Any], float]:
        """One execution; the message and how long to pause if the bucket is empty."""
        params = {"wait": "true"}
        if thread_id is not None:
            params["thread_id"] = thread_id
        request: dict[str, Any] = {"params": params}
        if media:
            payload = {
                **payload,
                "attachments": [
                    {
                        "id": index,
                        "filename": item.filename,
                        **({"description": item.alt[:1024]} if item.alt else {}),
                    }
                    for index, item in enumerate(media)
                ],
            }
            request["data"] = {"payload_json": json.dumps(payload)}
            request["files"] = [
                (f"files[{index}]", (item.filename, item.data, item.content_type))
                for index, item in enumerate(media)
            ]
        else:
            request["json"] = payload

        response = await _http.send(
            self._client,
            "POST",
            self._webhook_url(webhook),
            platform=self.name,
            endpoint="execute_webhook",
            phase_timeout=self._timeout,
            **request,
        )
        if response.status_code != 200:
            raise _error_of(response)
        message = _http.json_object(response)
        if "id" not in message or "channel_id" not in message:
            raise base.PermanentError(
                "discord: the webhook answered without a message", code="bad_answer"
            )
        pause = 0.0
        if response.headers.get("X-RateLimit-Remaining") == "0":
            pause = (
                _http.seconds(response.headers.get("X-RateLimit-Reset-After")) or 0.0
            )
        return message, min(pause, self._timeout)


def _payloads(draft: base.Draft) -> list[dict[str, Any]]:
    """One execute body per chunk: `thread_name` on the first, embeds on the last."""
    options = draft.options
    chunks = split_content(draft.text) if options.get("split", True) else [draft.text]
    if not chunks or not draft.text.strip():
        chunks = [""]

    common: dict[str, Any] = {
        "allowed_mentions": {
            "parse": ["users", "roles", "everyone"]
            if options.get("allow_mentions")
            else []
        }
    }
    for key in ("username", "avatar_url"):
        if options.get(key):
            common[key] = options[key]
    flags = (SUPPRESS_EMBEDS if options.get("suppress_embeds") else 0) | (
        SUPPRESS_NOTIFICATIONS if options.get("suppress_notifications") else 0
    )
    if flags:
        common["flags"] = flags

    payloads = [
        {**common, "content": chunk} if chunk else dict(common) for chunk in chunks
    ]
    if options.get("thread_name"):
        payloads[0]["thread_name"] = options["thread_name"]
    if options.get("embeds"):
        payloads[-1]["embeds"] = list(options["embeds"])
    return payloads


def _error_of(response: httpx.Response) -> base.PlatformError:
    """Discord's error answer as one of ours."""
    status = response.status_code
    body = _http.json_object(response)
    code = body.get("code")
    message = str(body.get("message") or response.reason_phrase or status)

    if status == 429:
        retry_after = _http.seconds(body.get("retry_after"))
        if retry_after is None:
            retry_after = _http.seconds(response.headers.get("Retry-After"))
        return base.TransientError(
            f"discord: rate limited ({message})",
            code="rate_limited",
            retry_after=retry_after,
        )
    if status >= 500:
        return base.TransientError(
            f"discord: server error {status}", code="server_error"
        )
    if status in (401, 404) or code in (10015, 50027):
        return base.CredentialsRejected(f"discord: {message} (code {code})")
    details = "; ".join(_form_errors(body.get("errors")))
    return base.PermanentError(
        f"discord: {message}" + (f": {details}" if details else ""),
        code="rejected",
    )


def _form_errors(tree: Any, path: str = "") -> list[str]:
    """Flatten Discord's nested `errors` into "embeds.0.title: Must be ..." lines."""
    if not isinstance(tree, dict):
        return []
    lines: list[str] = []
    for key, value in tree.items():
        if key == "_errors" and isinstance(value, list):
            lines.extend(
                f"{path or 'body'}: {item.get('message')}"
                for item in value
                if isinstance(item, dict)
            )
        else:
            lines.extend(_form_errors(value, f"{path}.{key}" if path else key))
    return lines


def _embed_problems(embeds: Any) -> list[base.Problem]:
    if not isinstance(embeds, list | tuple) or not all(
        isinstance(embed, Mapping) for embed in embeds
    ):
        return [
            base.Problem("discord.embeds.invalid", "embeds must be a list of objects")
        ]
    problems = []
    if len(embeds) > MAX_EMBEDS:
        problems.append(
            base.Problem(
                "discord.embeds.too_many",
                f"{len(embeds)} embeds; Discord takes {MAX_EMBEDS} a message",
            )
        )
    total = 0
    for number, embed in enumerate(embeds, start=1):
        for rule, where, limit in _EMBED_TEXTS:
            value = _dig(embed, where)
            total += len(value)
            if len(value) > limit:
                problems.append(
                    base.Problem(
                        rule,
                        f"embed {number}: {'.'.join(where)} is {len(value)} "
                        f"characters; Discord takes {limit}",
                    )
                )
        problems.extend(_field_problems(number, embed.get("fields") or []))
        total += sum(
            len(_dig(item, (key,)))
            for item in embed.get("fields") or []
            if isinstance(item, Mapping)
            for key in ("name", "value")
        )
    if total > MAX_EMBED_TOTAL:
        problems.append(
            base.Problem(
                "discord.embeds.too_large",
                f"embeds hold {total} characters; Discord takes {MAX_EMBED_TOTAL}",
            )
        )
    return problems


def _field_problems(number: int, fields: Any) -> list[base.Problem]:
    if not isinstance(fields, list | tuple):
        return [
            base.Problem("discord.embed.fields.invalid", f"embed {number}: bad fields")
        ]
    problems = []
    if len(fields) > MAX_FIELDS:
        problems.append(
            base.Problem(
                "discord.embed.fields.too_many",
                f"embed {number} has {len(fields)} fields; Discord takes {MAX_FIELDS}",
            )
        )
    for item in fields:
        item = item if isinstance(item, Mapping) else {}
        name, value = _dig(item, ("name",)), _dig(item, ("value",))
        if not name.strip() or not value.strip():
            problems.append(
                base.Problem(
                    "discord.embed.field.missing",
                    f"embed {number}: every field needs a name and a value",
                )
            )
        if len(name) > 256 or len(value) > 1024:
            problems.append(
                base.Problem(
                    "discord.embed.field.too_long",
                    f"embed {number}: field names take 256 characters, values 1024",
                )
            )
    return problems


def _dig(embed: Mapping[str, Any], where: tuple[str, ...]) -> str:
    """The trimmed text at `where` in an embed ("" if absent)."""
    value: Any = embed
    for key in where:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def _file_problems(media: tuple[base.Media, ...]) -> list[base.Problem]:
    problems = []
    if len(media) > MAX_FILES:
        problems.append(
            base.Problem(
                "discord.files.too_many",
                f"{len(media)} files; Discord takes {MAX_FILES} a message",
            )
        )
    if any(len(item.data) > MAX_FILE_BYTES for item in media):
        problems.append(
            base.Problem("discord.files.too_large", "Discord takes files up to 10 MiB")
        )
    if sum(len(item.data) for item in media) > MAX_REQUEST_BYTES:
        problems.append(
            base.Problem(
                "discord.files.request_too_large",
                "Discord takes up to 25 MiB of files a message",
            )
        )
    return problems


def _option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    problems = []
    username = options.get("username")
    if username is not None and (
        not isinstance(username, str) or not 1 <= len(username.strip()) <= MAX_USERNAME
    ):
        problems.append(
            base.Problem(
                "discord.username.invalid",
                f"username must be 1 to {MAX_USERNAME} characters",
            )
        )
    thread_name = options.get("thread_name")
    if thread_name is not None and (
        not isinstance(thread_name, str) or len(thread_name) > MAX_THREAD_NAME
    ):
        problems.append(
            base.Problem(
                "discord.thread_name.too_long",
                f"thread_name takes up to {MAX_THREAD_NAME} characters",
            )
        )
    return problems
