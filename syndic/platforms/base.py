"""What every platform adapter is: one small typed interface.

An adapter turns a `Draft` into a platform call and returns a `Receipt`
(remote id and public URL), or raises a `PlatformError`:

    PlatformError
    ├── TransientError        worth retrying: timeouts, 5xx, 429, throttling
    │                         (`retry_after` in seconds when the platform said)
    └── PermanentError        retrying cannot help: content refused, ...
        └── CredentialsRejected   bad, expired or revoked token

Adapters translate every foreign error (httpx, the platform's error body)
into one of these with `raise ... from exc`; nothing outside `platforms/`
sees an httpx exception.

`validate` is pure: it lists every rule the platform would break, with a
stable rule id, so a post is refused when scheduled, not when published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, get_args

Platform = Literal[
    "x",
    "bluesky",
    "linkedin",
    "telegram",
    "facebook",
    "discord",
    "reddit",
    "devto",
    "medium",
]
PLATFORMS: tuple[str, ...] = get_args(Platform)


@dataclass(frozen=True)
class Media:
    """One uploaded file, already typed by its content."""

    content_type: str
    data: bytes
    filename: str = "file"
    alt: str = ""

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def __repr__(self) -> str:
        return f"Media({self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Draft:
    """What to publish on one platform.

    `idempotency_key` is stable for one post on one platform across retries
    and processes; adapters whose platform accepts a client-chosen key or
    record id derive it from this.
    """

    text: str
    options: Mapping[str, Any] = field(default_factory=dict)
    media: tuple[Media, ...] = ()
    idempotency_key: str = ""


@dataclass(frozen=True)
class Receipt:
    remote_id: str
    url: str | None
    extra_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A rule the draft breaks. `start`/`end` index the text when it is about text."""

    rule: str
    message: str
    start: int | None = None
    end: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class PlatformError(Exception):
    def __init__(self, message: str, *, code: str = "platform_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientError(PlatformError):
    """The call may succeed later.

    `sent` is False when the request certainly did not reach the platform
    (connection refused, timeout while connecting), so a retry cannot make
    a duplicate.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "transient",
        retry_after: float | None = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.sent = sent


class PermanentError(PlatformError):
    pass


class CredentialsRejected(PermanentError):
    def __init__(self, message: str, *, code: str = "credentials_rejected") -> None:
        super().__init__(message, code=code)


class Adapter(Protocol):
    """One platform. Implementations live one per module in this package."""

    name: ClassVar[str]

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise credentials a user stores; raise ValueError."""
        ...

    def validate(self, draft: Draft) -> list[Problem]:
        """Every problem the platform would refuse the draft for (no I/O)."""
        ...

    async def publish(self, draft: Draft, credentials: Mapping[str, Any]) -> Receipt:
        """Publish the draft; raise a `PlatformError` on failure."""
        ...
