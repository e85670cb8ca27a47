"""What every platform emulator shares: state knobs, rate windows, body reading.

An emulator is one module that builds an `Emulator` value: its name (the
mount point), its state class (accounts plus the knobs below), a function
returning its routes, and the credentials of its sandbox account.

Knobs every state has, for tests and for `syndic serve --sandbox`:

- `fail_next(status, times=..., retry_after=..., after=...)`: the next
  publishing calls (after `after` served normally) answer `status` in the
  platform's own error shape (500, 429, ...);
- `stall_next(seconds, after=...)`: the next publishing call waits first;
- `clear_faults()`, `reset_rate_limits()`: back to normal;
- `rate_limit`: a `RateLimit(requests, per)` per bucket (webhook, chat...),
  enforced only when `strict_rate_limits` is on.

State is shared between the server thread and the test thread, so every
mutation happens under the state's lock.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from syndic.platforms.emulators.recorder import Recorder

REDACTED = "***"


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per: float  # seconds


@dataclass(frozen=True)
class Window:
    """The state of one rate bucket after a request was counted (or refused)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # seconds
    reset_at: float  # epoch seconds


@dataclass(frozen=True)
class Fault:
    status: int | None
    retry_after: float | None = None
    delay: float = 0.0  # seconds


class EmulatorState:
    """Accounts and knobs of one emulated platform; subclasses add the accounts.

    `rate_limit` applies per bucket from the next request on; it defaults to
    the subclass's `default_rate_limit`.
    """

    default_rate_limit: ClassVar[RateLimit] = RateLimit(requests=30, per=1.0)

    def __init__(
        self, *, strict_rate_limits: bool = True, rate_limit: RateLimit | None = None
    ) -> None:
        self.rate_limit = rate_limit or self.default_rate_limit
        self.strict_rate_limits = strict_rate_limits
        self._lock = threading.RLock()
        self._faults: deque[Fault] = deque()
        self._windows: dict[str, tuple[float, int]] = {}

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        retry_after: float | None = None,
        after: int = 0,
    ) -> None:
        """Let `after` publishing calls through, then answer `times` with `status`."""
        with self._lock:
            self._faults.extend(Fault(None) for _ in range(after))
            self._faults.extend(Fault(status, retry_after) for _ in range(times))

    def stall_next(self, seconds: float, *, times: int = 1, after: int = 0) -> None:
        """Let `after` publishing calls through, then delay `times` by `seconds`."""
        with self._lock:
            self._faults.extend(Fault(None) for _ in range(after))
            self._faults.extend(Fault(None, delay=seconds) for _ in range(times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._windows.clear()

    def take_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def hit(
        self, bucket: str, *, cost: int = 1, limit: RateLimit | None = None
    ) -> Window:
        """Count `cost` requests against `bucket` (a fixed window opened by its first).

        `limit` replaces `rate_limit` for buckets with a rate of their own.
        A refused request counts nothing. With `strict_rate_limits` off
        nothing is counted or refused, and every window looks fresh.
        """
        limit = limit or self.rate_limit
        now = time.monotonic()
        if not self.strict_rate_limits:
            return Window(True, limit.requests, limit.requests, 0.0, time.time())
        with self._lock:
            opened, count = self._windows.get(bucket, (now, 0))
            if now - opened >= limit.per:
                opened, count = now, 0
            allowed = count + cost <= limit.requests
            if allowed:
                count += cost
            self._windows[bucket] = (opened, count)
        reset_after = max(opened + limit.per - now, 0.0)
        return Window(
            allowed=allowed,
            limit=limit.requests,
            remaining=max(limit.requests - count, 0),
            reset_after=reset_after,
            reset_at=time.time() + reset_after,
        )


async def apply(fault: Fault | None) -> tuple[int, float | None] | None:
    """Wait out the fault's delay; the status (and retry_after) it forces, if any."""
    if fault is None:
        return None
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is None:
        return None
    return fault.status, fault.retry_after


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


@dataclass(frozen=True)
class Body:
    """A request body as the emulators use it and as the recorder keeps it.

    `error` is "invalid_json" or "not_object" when a JSON body cannot be used;
    `fields` is then empty.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    recorded: Any = None
    error: str | None = None


_RECORDED_TEXT_LIMIT = 10_000  # characters of an unparsable body kept


async def read_body(request: Request) -> Body:
    """Parse JSON, urlencoded or multipart; never raises on a malformed body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()

    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _read_form(request)

    raw = await request.body()
    if not raw:
        return Body(recorded=None)
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return Body(recorded=text[:_RECORDED_TEXT_LIMIT], error="invalid_json")
    if not isinstance(parsed, dict):
        return Body(recorded=parsed, error="not_object")
    return Body(fields=parsed, recorded=parsed)


async def _read_form(request: Request) -> Body:
    fields: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    async with request.form(max_part_size=8 * 1024 * 1024) as form:
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
                continue
            files[name] = Upload(
                filename=value.filename or "file",
                content_type=value.content_type or "application/octet-stream",
                data=await value.read(),
            )
    recorded: dict[str, Any] = dict(fields)
    recorded.update({name: upload.summary() for name, upload in files.items()})
    return Body(fields=fields, files=files, recorded=recorded)


S = TypeVar("S", bound=EmulatorState)


@dataclass(frozen=True)
class Emulator(Generic[S]):
    """One platform's emulator, as `create_app` mounts it under `/<name>`."""

    name: str
    state_type: type[S]
    routes: Callable[[S, Recorder], Sequence[BaseRoute]]
    sandbox_credentials: Mapping[str, Any]

    def mount(self, recorder: Recorder, *, strict_rate_limits: bool) -> tuple[S, Mount]:
        state = self.state_type(strict_rate_limits=strict_rate_limits)
        return state, Mount(f"/{self.name}", routes=list(self.routes(state, recorder)))

    def state(self, app: Starlette) -> S:
        """The live state of this emulator inside an app made by `create_app`."""
        state = app.state.emulators[self.name]
        if not isinstance(state, self.state_type):
            raise TypeError(f"{self.name} state is a {type(state).__name__}")
        return state
