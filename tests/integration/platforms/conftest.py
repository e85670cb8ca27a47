"""The platform emulators on a real socket, for the adapters' contract tests.

`emulator_origin` serves `create_app` with uvicorn on 127.0.0.1 (a free
port) in a background thread, once per test run. Tests register their own accounts
(`add_account()`), so rate windows and messages never mix between tests.
`serve_emulator(EMULATOR)` serves one emulator alone the same way, for an
emulator `create_app` does not mount yet.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from support import net

from syndic.platforms.emulators import _base, create_app
from syndic.platforms.emulators.recorder import Recorder

START_TIMEOUT = 10.0  # seconds
STOP_TIMEOUT = 10.0  # seconds


@contextlib.contextmanager
def serve(app: Starlette, *, websockets: bool = False) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 until the block ends; yields its origin.

    With `websockets` the server also takes websocket connections."""
    listener = net.listener()
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http="h11",
        ws="websockets-sansio" if websockets else "none",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        listener.close()


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="session")
def emulator_app(recorder: Recorder) -> Starlette:
    """Every emulator, with its live state (see `Emulator.state`)."""
    return create_app(recorder)


@pytest.fixture(scope="session")
def emulator_origin(emulator_app: Starlette) -> Iterator[str]:
    """Where `emulator_app` answers; a platform's base URL is `<origin>/<platform>`."""
    with serve(emulator_app) as origin:
        yield origin


@dataclass(frozen=True)
class Served:
    origin: str
    app: Starlette


@pytest.fixture(scope="session")
def serve_emulator(
    recorder: Recorder,
) -> Iterator[Callable[..., Served]]:
    """Serves one emulator alone under `/<name>`, once per run; `app.state` as
    `create_app` sets it. `websockets=True` lets it take websockets too."""
    served: dict[str, Served] = {}
    with contextlib.ExitStack() as stack:

        def start(emulator: _base.Emulator[Any], *, websockets: bool = False) -> Served:
            if emulator.name not in served:
                state, mount = emulator.mount(recorder, strict_rate_limits=True)
                app = Starlette(routes=[mount])
                app.state.emulators = {emulator.name: state}
                app.state.recorder = recorder
                origin = stack.enter_context(serve(app, websockets=websockets))
                served[emulator.name] = Served(origin, app)
            return served[emulator.name]

        yield start


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client that talks to loopback only: no proxies from the environment."""
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def closed_origin() -> str:
    """An origin on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
