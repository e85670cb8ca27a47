"""Local emulators of the platforms' APIs, one module per platform.

`create_app` mounts each emulator under `/<platform>`, so an adapter whose
base URL is `<where the app is served>/<platform>` talks to it exactly as
it talks to the real service. Each emulator module exposes:

- `SANDBOX_CREDENTIALS`: credentials of an account every new state has
  pre-registered (deterministic), which sandbox mode gives every user;
- `EMULATOR`: an `_base.Emulator`, whose `state(app)` returns the live state
  of that platform in an app, for tests: `add_account(...)` registers
  another account and returns its credentials; `fail_next`, `stall_next`
  and `rate_limit` are the knobs (see `_base`).

Adding a platform: a new module building its `EMULATOR`, plus one line in
`_EMULATORS`.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from syndic.platforms.emulators import (
    _base,
    bluesky,
    devto,
    discord,
    facebook,
    linkedin,
    medium,
    reddit,
    telegram,
    x,
)
from syndic.platforms.emulators.recorder import Recorder

_EMULATORS: tuple[_base.Emulator[Any], ...] = (
    x.EMULATOR,
    bluesky.EMULATOR,
    discord.EMULATOR,
    telegram.EMULATOR,
    linkedin.EMULATOR,
    facebook.EMULATOR,
    medium.EMULATOR,
    reddit.EMULATOR,
    devto.EMULATOR,
)

EMULATORS = {emulator.name: emulator for emulator in _EMULATORS}


def create_app(recorder: Recorder, *, strict_rate_limits: bool = True) -> Starlette:
    """Every emulator mounted under `/<platform>`, recording into `recorder`.

    `app.state.emulators` maps each platform name to its live state and
    `app.state.recorder` is `recorder`. With `strict_rate_limits` off no
    emulator refuses a call for its rate (forced faults still apply).
    """
    states: dict[str, _base.EmulatorState] = {}
    mounts = []
    for emulator in _EMULATORS:
        state, mount = emulator.mount(recorder, strict_rate_limits=strict_rate_limits)
        states[emulator.name] = state
        mounts.append(mount)

    app = Starlette(routes=mounts)
    app.state.emulators = states
    app.state.recorder = recorder
    return app


__all__ = ["EMULATORS", "Recorder", "create_app"]
