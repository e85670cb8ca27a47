"""A courier: a helper process that makes platform calls for the scheduler.

Building a request, TLS, HTTP parsing and JSON take a millisecond or more of
CPU per platform call. Made in the scheduler's own process they would share
its one event loop with the timers of every armed post; a courier makes
them on another core instead, at a lower CPU priority than the scheduler's.
It holds no database connection and no state but the adapters' own caches
(a webhook's guild, a session token).

The scheduler talks to it over two pipes, in frames: a 4-byte length, then
a pickled tuple. The first frame carries the settings (and where the
sandbox's emulators answer); the courier answers `("ready",)`. Then each
request `(call, platform, draft, credentials)` gets one answer:
`(call, "published", receipt)`, `(call, "refused", platform_error)` or
`(call, "crashed", description)`. Calls run concurrently. When the
scheduler's end of the pipe closes (it stopped, or was killed), the courier
stops at once: no answer could be recorded anyway.

    python -m syndic.scheduler.courier READ_FD WRITE_FD
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import struct
import sys
from typing import Any

from syndic import logs, runtime
from syndic.config import Settings
from syndic.platforms import registry
from syndic.platforms.base import Adapter, PlatformError

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
NICENESS = 5  # added to the courier's CPU niceness: a lower priority


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame's object; `IncompleteReadError` once the pipe is closed."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(length))  # noqa: S301 - our own pipe


def write_frame(writer: asyncio.StreamWriter, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_LENGTH.pack(len(body)) + body)


async def open_pipes(
    read_fd: int, write_fd: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Asyncio streams over two pipe ends."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**16)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", 0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def serve(read_fd: int, write_fd: int) -> None:
    # when cores are short, the scheduler's loop (which keeps time) goes first
    os.nice(NICENESS)
    reader, writer = await open_pipes(read_fd, write_fd)
    settings, emulator_root = await read_frame(reader)
    assert isinstance(settings, Settings)
    logs.configure(settings.log_level, settings.log_format)
    http = runtime.platform_client(settings)
    adapters = registry.build(settings, http, emulator_root=emulator_root)
    write_frame(writer, ("ready",))
    await writer.drain()
    log.info("courier_started", extra={"pid": os.getpid()})

    calls: set[asyncio.Task[None]] = set()
    try:
        while True:
            try:
                call, platform, draft, credentials = await read_frame(reader)
            except asyncio.IncompleteReadError:
                break  # the scheduler is gone
            task = asyncio.create_task(
                _call(writer, adapters, call, platform, draft, credentials)
            )
            calls.add(task)
            task.add_done_callback(calls.discard)
    finally:
        abandoned = [task for task in calls if not task.done()]
        for task in abandoned:
            task.cancel()
        await http.aclose()
        log.info(
            "courier_stopped", extra={"pid": os.getpid(), "abandoned": len(abandoned)}
        )


async def _call(
    writer: asyncio.StreamWriter,
    adapters: dict[str, Adapter],
    call: int,
    platform: str,
    draft: Any,
    credentials: Any,
) -> None:
    answer: tuple[object, ...]
    try:
        receipt = await adapters[platform].publish(draft, credentials)
        answer = (call, "published", receipt)
    except PlatformError as exc:
        answer = (call, "refused", exc)
    except Exception as exc:  # an adapter bug: whether the platform acted is unknown
        log.exception("adapter_crashed", extra={"platform": platform})
        answer = (call, "crashed", type(exc).__name__)
    write_frame(writer, answer)
    with contextlib.suppress(ConnectionError):
        await writer.drain()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
