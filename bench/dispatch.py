"""Dispatch lateness, idle queries and memory per pending post.

syndic's scheduler publishes max-tier posts to the Discord emulator (a
separate process) on SQLite and PostgreSQL:

- 10,000 posts due uniformly over one minute;
- 1,000 posts due within the same second;

and, in the same run, APScheduler 3 (AsyncIOScheduler, one date trigger per
post, memory job store) does the same publishing as the baseline.

Lateness is publish start (when the post's point of no return runs, as
stored in `publish_started_at`) minus due time; the platform calls run in
one courier process, as `syndic serve` and `syndic worker` make them.
Queries per idle minute count the statements one process sends over a real
idle minute (scheduler ticks and maintenance jobs). Memory per pending post
is what claiming and arming timers retains, measured with tracemalloc.

    .venv/bin/python bench/dispatch.py [--posts 10000] [--burst 1000]
        [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _common import (
    Emulators,
    database,
    drop,
    emit,
    percentiles,
    print_table,
    settings,
    uniform,
    until,
)
from sqlalchemy import func, select
from support import fleet

from syndic import clock, runtime
from syndic.db.models import Post
from syndic.platforms import registry
from syndic.platforms.base import Draft
from syndic.scheduler.loop import Scheduler
from syndic.scheduler.maintenance import Maintenance

LEAD = 8.0  # seconds from creating the posts to the first due one (creating
# 10,000 posts and claiming them takes a few seconds)


async def syndic_run(
    backend: str, emulators: Emulators, posts: int, burst: int
) -> dict[str, object]:
    db, name = await database(backend)
    rt = runtime.build(settings(db, emulators), db=db)
    runtime.freeze_startup_heap()  # as `syndic serve` and `syndic worker` do
    user_id = await fleet.user_with_account(
        db,
        rt.settings.credentials_key.get_secret_value(),
        "discord",
        registry.sandbox_credentials()["discord"],
    )
    figures: dict[str, object] = {}
    try:
        figures["bytes_per_pending_post"] = await _memory_per_pending(
            rt, user_id, posts
        )
        figures["queries_per_idle_minute"] = await _idle_queries(rt)

        start = clock.now() + timedelta(seconds=LEAD)
        figures["uniform"] = await _lateness(
            rt, user_id, uniform(start, 60.0, posts), within=180
        )
        start = clock.now() + timedelta(seconds=LEAD)
        burst_figures = await _lateness(
            rt, user_id, uniform(start, 1.0, burst), within=120
        )
        figures["burst"] = burst_figures
    finally:
        await rt.close()
        await drop(db, name)
    return figures


async def _memory_per_pending(rt: runtime.Runtime, user_id: str, count: int) -> float:
    due = uniform(clock.now() + timedelta(seconds=30), 20.0, count)
    await fleet.due_posts(rt.db, user_id, due, "discord")
    scheduler = Scheduler(rt, tick=60)

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    while await scheduler.tick():
        pass
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()

    armed = scheduler.armed
    await scheduler.stop()
    async with rt.db.transaction() as session:
        await session.execute(Post.__table__.delete())
    return round((after - before) / max(armed, 1), 1)


async def _idle_queries(rt: runtime.Runtime) -> float:
    """Statements sent over one real idle minute: the scheduler's ticks and
    the maintenance jobs, as a `syndic worker` runs them."""
    scheduler = Scheduler(rt, tick=60)
    maintenance = Maintenance(rt)
    await scheduler.start()
    await maintenance.start()
    await asyncio.sleep(1)  # past the start-up tick: count one steady minute
    before = rt.db.statements
    await asyncio.sleep(60)
    count = rt.db.statements - before
    await maintenance.stop()
    await scheduler.stop()
    return float(count)


async def _lateness(
    rt: runtime.Runtime, user_id: str, due: list, within: float
) -> dict[str, float]:
    async with rt.db.transaction() as session:
        await session.execute(Post.__table__.delete())
    await fleet.due_posts(rt.db, user_id, due, "discord")
    scheduler = Scheduler(rt, tick=60)
    rt.scheduler = scheduler
    await scheduler.start()

    async def finished() -> bool:
        async with rt.db.transaction() as session:
            pending = await session.scalar(
                select(func.count()).select_from(Post).where(Post.finished_at.is_(None))
            )
        return pending == 0

    # no polling while posts come due: the harness's queries would share the
    # measured loop
    await asyncio.sleep(max(0.0, (due[-1] - clock.now()).total_seconds()) + 1)
    done = await until(finished, within)
    await scheduler.stop()
    rt.scheduler = None

    async with rt.db.transaction() as session:
        rows = (
            await session.execute(
                select(Post.release_at, Post.publish_started_at, Post.status)
            )
        ).all()
    lateness = [
        (started - release).total_seconds() * 1000
        for release, started, _ in rows
        if started is not None
    ]
    result = percentiles(lateness)
    result["published"] = sum(status == "published" for *_, status in rows)
    result["posts"] = len(rows)
    result["within_1s"] = sum(value <= 1000 for value in lateness)
    result["complete"] = done
    return result


async def apscheduler_run(
    emulators: Emulators, posts: int, burst: int
) -> dict[str, object]:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    db, _ = await database("sqlite")
    rt = runtime.build(settings(db, emulators), db=db)
    adapter = rt.adapters["discord"]
    credentials = registry.sandbox_credentials()["discord"]
    runtime.freeze_startup_heap()
    figures: dict[str, object] = {}

    async def publish(due: float, lateness: list[float]) -> None:
        lateness.append((time.time() - due) * 1000)
        await adapter.publish(Draft(text="bench post"), credentials)

    async def run(
        due_times: list, within: float, measure_memory: bool = False
    ) -> dict[str, float]:
        lateness: list[float] = []
        scheduler = AsyncIOScheduler()
        scheduler.start()
        gc.collect()
        if measure_memory:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0] if measure_memory else 0
        for due in due_times:
            scheduler.add_job(
                publish,
                "date",
                run_date=due,
                args=[due.timestamp(), lateness],
                misfire_grace_time=None,
            )
        if measure_memory:
            gc.collect()
            figures["bytes_per_pending_post"] = round(
                (tracemalloc.get_traced_memory()[0] - before) / len(due_times), 1
            )
            tracemalloc.stop()

        async def finished() -> bool:
            return len(lateness) >= len(due_times)

        await until(finished, within)
        await asyncio.sleep(1)
        scheduler.shutdown(wait=False)
        result = percentiles(lateness)
        result["within_1s"] = sum(v <= 1000 for v in lateness)
        result["posts"] = len(due_times)
        return result

    try:
        start = clock.now() + timedelta(seconds=LEAD + 2)
        figures["uniform"] = await run(
            uniform(start, 60.0, posts), 180, measure_memory=True
        )
        start = clock.now() + timedelta(seconds=LEAD)
        figures["burst"] = await run(uniform(start, 1.0, burst), 120)
    finally:
        await rt.close()
        await drop(db, None)
    return figures


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    results: dict[str, dict[str, object]] = {}
    with Emulators() as emulators:
        for backend in args.backends.split(","):
            results[f"syndic_{backend}"] = await syndic_run(
                backend, emulators, args.posts, args.burst
            )
        results["apscheduler3"] = await apscheduler_run(
            emulators, args.posts, args.burst
        )

    rows = []
    for name, figures in results.items():
        uni, bur = figures["uniform"], figures["burst"]
        assert isinstance(uni, dict)
        assert isinstance(bur, dict)
        rows.append(
            [
                name,
                uni["p50"],
                uni["p99"],
                uni["max"],
                bur["p50"],
                bur["p99"],
                bur["max"],
                f"{bur['within_1s']}/{bur['posts']}",
                figures.get("queries_per_idle_minute", "-"),
                figures["bytes_per_pending_post"],
            ]
        )
    print_table(
        f"Dispatch lateness in ms ({args.posts} posts over 60 s; "
        f"{args.burst} in one second)",
        [
            "scheduler",
            "uni p50",
            "uni p99",
            "uni max",
            "burst p50",
            "burst p99",
            "burst max",
            "burst <=1s",
            "queries/idle min",
            "bytes/pending",
        ],
        rows,
    )
    base = results["apscheduler3"]
    for name, figures in results.items():
        if name == "apscheduler3":
            continue
        figures["ratio_uniform_p99_vs_apscheduler"] = ratio(
            figures["uniform"]["p99"],
            base["uniform"]["p99"],  # type: ignore[index]
        )
        figures["ratio_memory_vs_apscheduler"] = ratio(
            figures["bytes_per_pending_post"],
            base["bytes_per_pending_post"],  # type: ignore[arg-type]
        )
    emit(results)


if __name__ == "__main__":
    asyncio.run(main())
