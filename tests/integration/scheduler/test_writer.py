"""The publisher's writer: grouped commits, and one bad write failing alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from support import fleet

from syndic import clock, errors
from syndic.db.engine import Database
from syndic.db.repo import leases, publishing
from syndic.events import EventHub
from syndic.scheduler.writer import Round, Writer


async def claimed(db: Database, count: int) -> list[leases.Claim]:
    user_id = await fleet.user_with_account(db, "k" * 64, "discord", {"t": 1})
    now = clock.now()
    await fleet.due_posts(db, user_id, [now] * count, "discord")
    async with db.transaction() as session:
        return await leases.claim_due(
            session,
            owner="me",
            horizon=now + timedelta(seconds=60),
            lease_until=now + timedelta(seconds=120),
            now=now,
            limit=count,
        )


async def test_points_of_no_return_due_together_share_one_transaction(
    db: Database,
) -> None:
    claims = await claimed(db, 200)
    writer = Writer(db, EventHub(), "me")
    before = db.statements

    started = await asyncio.gather(
        *(writer.start(publishing.Hold(c.post_id, c.fence)) for c in claims)
    )
    await writer.close()

    assert all(s is not None and len(s.todo) == 1 for s in started)
    # posts, deliveries, credentials: three statements for all 200 posts
    assert db.statements - before == 3


async def test_a_failing_write_fails_alone(db: Database) -> None:
    [claim] = await claimed(db, 1)
    writer = Writer(db, EventHub(), "me")
    started = await writer.start(publishing.Hold(claim.post_id, claim.fence))
    assert started is not None

    async def broken(_: Round) -> None:
        raise ValueError("a bug in one write")

    async def answer(round_: Round) -> bool:
        await publishing.begin(
            round_.conn,
            owner="me",
            hold=started.hold,
            delivery_id=started.todo[0].delivery_id,
            now=round_.now,
        )
        return await publishing.answer(
            round_.conn,
            owner="me",
            hold=started.hold,
            delivery_id=started.todo[0].delivery_id,
            status="published",
            now=round_.now,
            remote_id="r-1",
        )

    failed, recorded = await asyncio.gather(
        writer.write(broken), writer.write(answer), return_exceptions=True
    )
    await writer.close()

    assert isinstance(failed, ValueError)
    assert recorded is True


async def test_a_stopped_writer_takes_no_more_writes(db: Database) -> None:
    writer = Writer(db, EventHub(), "me")
    await writer.close()

    with pytest.raises(errors.ServiceUnavailable):
        await writer.start(publishing.Hold("pst_gone", 1))
