"""The scheduler's couriers: helper processes that make its platform calls.

`Couriers.publish` sends a call to the least busy courier and waits for its
answer: a `Receipt`, or the adapter's `PlatformError` raised here as if the
adapter had run in this process. A courier that dies (killed, out of
memory) fails every call it held with `CourierLost`: such a call may or may
not have reached the platform. So does a call left unanswered for four
platform timeouts: its courier is taken as hung, killed and replaced. The
next call starts a new courier; one that cannot start fails the call as not
sent, to be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from syndic.config import Settings
from syndic.platforms.base import Draft, PlatformError, Receipt, TransientError
from syndic.scheduler.courier import open_pipes, read_frame, write_frame

log = logging.getLogger(__name__)

READY_WITHIN = 60.0  # seconds for a new courier to import syndic and say ready
# a call unanswered after this many platform timeouts means a hung courier
DEADLINE_IN_TIMEOUTS = 4


class CourierLost(Exception):
    """The courier stopped while it held the call: its outcome is unknown."""


class Couriers:
    def __init__(
        self, settings: Settings, *, size: int, emulator_root: str | None = None
    ) -> None:
        self._settings = settings
        self._emulator_root = emulator_root
        self._deadline = DEADLINE_IN_TIMEOUTS * settings.platform_timeout
        self._size = size
        self._couriers: list[_Courier] = []
        self._calls = itertools.count()
        self._starting: asyncio.Lock | None = None

    async def start(self) -> None:
        """Start every courier and wait until each is ready."""
        self._starting = asyncio.Lock()
        self._couriers = await asyncio.gather(
            *(self._spawn() for _ in range(self._size))
        )

    @property
    def pids(self) -> list[int]:
        """The couriers' process ids."""
        return [c.pid for c in self._couriers if c.pid is not None]

    async def publish(
        self, platform: str, draft: Draft, credentials: Mapping[str, Any]
    ) -> Receipt:
        try:
            courier = await self._pick()
        except (OSError, RuntimeError, EOFError, TimeoutError) as exc:
            raise TransientError(
                f"{platform}: no courier could start ({type(exc).__name__})",
                code="courier_unavailable",
                sent=False,
            ) from exc
        return await courier.call(
            next(self._calls), platform, draft, credentials, self._deadline
        )

    async def close(self) -> None:
        await asyncio.gather(*(courier.close() for courier in self._couriers))
        self._couriers = []

    async def _pick(self) -> _Courier:
        assert self._starting is not None, "Couriers.start() was not awaited"
        async with self._starting:  # replace the dead, one at a time
            for index, courier in enumerate(self._couriers):
                if not courier.alive:
                    self._couriers[index] = await self._spawn()
        return min(self._couriers, key=lambda courier: courier.load)

    async def _spawn(self) -> _Courier:
        courier = _Courier()
        await courier.start(self._settings, self._emulator_root)
        return courier


class _Courier:
    def __init__(self) -> None:
        self._pending: dict[int, asyncio.Future[Receipt]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._listener: asyncio.Task[None] | None = None
        self.alive = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def load(self) -> int:
        return len(self._pending)

    async def start(self, settings: Settings, emulator_root: str | None) -> None:
        to_courier, from_us = os.pipe()
        to_us, from_courier = os.pipe()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "syndic.scheduler.courier",
            str(to_courier),
            str(from_courier),
            pass_fds=(to_courier, from_courier),
        )
        os.close(to_courier)
        os.close(from_courier)
        reader, self._writer = await open_pipes(to_us, from_us)
        write_frame(self._writer, (settings, emulator_root))
        await self._writer.drain()
        ready = await asyncio.wait_for(read_frame(reader), READY_WITHIN)
        if ready != ("ready",):
            raise RuntimeError(f"the courier answered {ready!r} instead of ready")
        self.alive = True
        self._listener = asyncio.create_task(self._listen(reader), name="courier")
        log.info("courier_ready", extra={"pid": self._process.pid})

    async def call(
        self,
        call: int,
        platform: str,
        draft: Draft,
        credentials: Mapping[str, Any],
        deadline: float,
    ) -> Receipt:
        """The call's answer; `CourierLost` if the courier dies, or does not
        answer within `deadline` seconds (it is then killed and replaced)."""
        assert self._writer is not None
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._pending[call] = future
        try:
            try:
                write_frame(self._writer, (call, platform, draft, dict(credentials)))
                await self._writer.drain()
            except ConnectionError as exc:  # it never read the call
                raise TransientError(
                    f"{platform}: the courier was not there to take the call",
                    code="courier_unavailable",
                    sent=False,
                ) from exc
            try:
                return await asyncio.wait_for(future, deadline)
            except TimeoutError as exc:
                log.error(
                    "courier_stalled", extra={"pid": self.pid, "deadline_s": deadline}
                )
                self.kill()
                raise CourierLost(
                    f"the courier gave no answer in {deadline:g} s"
                ) from exc
        finally:
            self._pending.pop(call, None)
            if future.done() and not future.cancelled():
                future.exception()  # retrieved, whichever way this call ended

    def kill(self) -> None:
        self.alive = False
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def close(self) -> None:
        """Close its pipe (it stops at once) and wait for it to exit."""
        if self._writer is not None:
            self._writer.close()
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._listener is not None:
            await asyncio.wait([self._listener])

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                call, outcome, value = await read_frame(reader)
                future = self._pending.get(call)
                if future is None or future.done():
                    continue
                if outcome == "published":
                    future.set_result(value)
                elif outcome == "refused" and isinstance(value, PlatformError):
                    future.set_exception(value)
                else:
                    future.set_exception(
                        RuntimeError(f"the adapter failed unexpectedly ({value})")
                    )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.alive = False
            lost = [f for f in self._pending.values() if not f.done()]
            for future in lost:
                future.set_exception(CourierLost("the courier stopped during the call"))
            pid = self._process.pid if self._process else None
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                if self._process is not None and self._process.returncode is None:
                    await asyncio.wait_for(self._process.wait(), 1)
            log.log(
                logging.WARNING if lost else logging.INFO,
                "courier_exited",
                extra={"pid": pid, "calls_lost": len(lost)},
            )
