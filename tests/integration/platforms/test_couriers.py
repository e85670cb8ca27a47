"""Couriers: platform calls made in a helper process, answered as if made here.

Each test runs a real courier process (`python -m syndic.scheduler.courier`)
that calls the Discord emulator over real HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from support import server

from syndic.platforms import base
from syndic.platforms.discord import DiscordAdapter
from syndic.platforms.emulators import discord as emulator
from syndic.scheduler.couriers import CourierLost, Couriers


@pytest.fixture
def state(emulator_app: Starlette) -> Iterator[emulator.DiscordState]:
    discord_state = emulator.EMULATOR.state(emulator_app)
    yield discord_state
    discord_state.clear_faults()


@pytest.fixture
def credentials(state: emulator.DiscordState, emulator_origin: str) -> dict[str, Any]:
    adapter = DiscordAdapter(f"{emulator_origin}/discord", None)  # type: ignore[arg-type]
    return adapter.check_credentials(state.add_account())


async def started(emulator_origin: str, platform_timeout: float) -> Couriers:
    settings = server.test_settings(
        "sqlite:///unused.db",
        discord_base_url=f"{emulator_origin}/discord",
        platform_timeout=platform_timeout,
    )
    pool = Couriers(settings, size=1)
    await pool.start()
    return pool


@pytest.fixture
async def couriers(emulator_origin: str) -> AsyncIterator[Couriers]:
    pool = await started(emulator_origin, platform_timeout=5.0)
    yield pool
    await pool.close()


async def test_a_courier_publishes_and_returns_the_receipt(
    couriers: Couriers, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    receipt = await couriers.publish(
        "discord", base.Draft("from a courier"), credentials
    )

    [stored] = [m for m in state.messages if m["id"] == receipt.remote_id]
    assert stored["content"] == "from a courier"
    assert receipt.url is not None
    assert receipt.url.endswith(receipt.remote_id)


async def test_calls_run_concurrently_in_one_courier(
    couriers: Couriers, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.stall_next(0.5, times=5)

    started = asyncio.get_running_loop().time()
    receipts = await asyncio.gather(
        *(
            couriers.publish("discord", base.Draft(f"n{n}"), credentials)
            for n in range(5)
        )
    )

    assert len({r.remote_id for r in receipts}) == 5
    assert asyncio.get_running_loop().time() - started < 2.0  # not 5 x 0.5 s


async def test_a_platform_refusal_comes_back_as_the_same_error(
    couriers: Couriers, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=2)

    with pytest.raises(base.TransientError) as failed:
        await couriers.publish("discord", base.Draft("busy"), credentials)

    assert failed.value.retry_after == 2
    revoked = {"webhook_url": credentials["webhook_url"][:-4] + "nope"}
    with pytest.raises(base.CredentialsRejected):
        await couriers.publish("discord", base.Draft("revoked"), revoked)


async def test_a_courier_killed_during_a_call_loses_it_and_is_replaced(
    couriers: Couriers, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.stall_next(30)
    call = asyncio.create_task(
        couriers.publish("discord", base.Draft("in flight"), credentials)
    )
    await asyncio.sleep(0.5)  # the courier has sent the request; the answer stalls
    [pid] = couriers.pids
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(CourierLost):
        await asyncio.wait_for(call, 10)

    state.clear_faults()
    receipt = await couriers.publish("discord", base.Draft("after"), credentials)
    assert receipt.remote_id


async def test_a_hung_courier_loses_its_call_and_is_replaced(
    emulator_origin: str, credentials: dict[str, Any]
) -> None:
    couriers = await started(emulator_origin, platform_timeout=0.5)  # deadline 2 s
    try:
        [pid] = couriers.pids
        os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing

        with pytest.raises(CourierLost):
            await couriers.publish("discord", base.Draft("into the void"), credentials)

        receipt = await couriers.publish("discord", base.Draft("after"), credentials)
        assert receipt.remote_id
        assert couriers.pids != [pid]
    finally:
        await couriers.close()
