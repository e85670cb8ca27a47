"""Chaos: three workers on PostgreSQL, one killed with SIGKILL every 20 s.

10,000 max-tier posts, due over 100 seconds, are published by three
`syndic worker` processes to `syndic emulators` (100 ms latency). Every 20
seconds one worker, in turn, is killed with SIGKILL and started again. At
the end the emulator's record of what it received is compared with the
database:

- lost: a post that did not end published and is not an explained unknown;
- duplicated: a post the platform received more than once;
- unknown: a delivery whose call was in flight when its worker died;
  explained when its call started before a kill and within the request
  timeout of it.

    .venv/bin/python bench/chaos.py [--posts 10000] [--spread 100] [--every 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

import httpx
from _common import Emulators, database, drop, emit, print_table
from sqlalchemy import select
from support.fleet import due_posts, user_with_account

from syndic import clock
from syndic.db.models import Delivery, Post
from syndic.platforms.emulators import discord

CREDENTIALS_KEY = os.urandom(24).hex()
TICK, LEASE, TIMEOUT = 2, 15, 10  # seconds


def worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syndic", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument(
        "--spread", type=float, default=100.0, help="seconds over which posts are due"
    )
    parser.add_argument(
        "--every", type=float, default=20.0, help="seconds between kills"
    )
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    db, name = await database("postgresql")
    logdir = Path(tempfile.gettempdir()) / f"syndic-chaos-{os.getpid()}"
    logdir.mkdir(parents=True, exist_ok=True)
    kills: list[datetime] = []
    try:
        with Emulators(latency=0.1, record=args.posts * 2) as emulators:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("SYNDIC_")},
                "SYNDIC_DATABASE_URL": db.url.replace("+asyncpg", ""),
                "SYNDIC_API_TOKEN_SECRET": os.urandom(24).hex(),
                "SYNDIC_INTERNAL_API_SECRET": os.urandom(24).hex(),
                "SYNDIC_LEMON_WEBHOOK_SECRET": os.urandom(24).hex(),
                "SYNDIC_CREDENTIALS_KEY": CREDENTIALS_KEY,
                "SYNDIC_DISCORD_BASE_URL": f"{emulators.url}/discord",
                "SYNDIC_SCHEDULER_TICK": str(TICK),
                "SYNDIC_SCHEDULER_LEASE": str(LEASE),
                "SYNDIC_PLATFORM_TIMEOUT": str(TIMEOUT),
                "SYNDIC_LOG_LEVEL": "WARNING",
            }
            user = await user_with_account(
                db, CREDENTIALS_KEY, "discord", dict(discord.SANDBOX_CREDENTIALS)
            )
            start = clock.now() + timedelta(seconds=5)
            due = [
                start + timedelta(seconds=args.spread * n / args.posts)
                for n in range(args.posts)
            ]
            await due_posts(db, user, due, "discord", text="chaos-{n}")

            fleet = [
                worker(env, logdir / f"worker-{n}.log") for n in range(args.workers)
            ]
            began = time.monotonic()
            victim = 0
            finished = False
            while time.monotonic() - began < args.spread + 240:
                await asyncio.sleep(args.every)
                if time.monotonic() - began < args.spread + 10:
                    fleet[victim].send_signal(signal.SIGKILL)
                    fleet[victim].wait(10)
                    kills.append(datetime.now(UTC))
                    fleet[victim] = worker(env, logdir / f"worker-{victim}.log")
                    victim = (victim + 1) % len(fleet)
                async with db.transaction() as session:
                    left = len(
                        (
                            await session.execute(
                                select(Post.id).where(Post.finished_at.is_(None))
                            )
                        ).all()
                    )
                if left == 0:
                    finished = True
                    break
            for process in fleet:
                process.send_signal(signal.SIGTERM)
            for process in fleet:
                process.wait(30)

            async with httpx.AsyncClient(timeout=60) as client:
                url = f"{emulators.url}/_sandbox/requests?platform=discord"
                received = (await client.get(url)).json()
            seen = Counter(
                e["body"]["content"]
                for e in received["requests"]
                if e["method"] == "POST"
            )
        async with db.transaction() as session:
            rows = (
                await session.execute(
                    select(
                        Post.text, Post.status, Delivery.status, Delivery.started_at
                    ).join(Delivery)
                )
            ).all()
    finally:
        await drop(db, name)

    published = sum(d == "published" for _, _, d, _ in rows)
    unknown = [(text, started) for text, _, d, started in rows if d == "unknown"]
    explained = sum(
        any(
            started is not None
            and timedelta(0) <= kill - started <= timedelta(seconds=TIMEOUT + LEASE)
            for kill in kills
        )
        for _, started in unknown
    )
    lost = sum(d not in ("published", "unknown") for _, _, d, _ in rows) + (
        len(unknown) - explained
    )
    duplicated = sum(count > 1 for count in seen.values())
    figures = {
        "posts": len(rows),
        "published": published,
        "unknown": len(unknown),
        "unknown_explained": explained,
        "unknown_received_by_platform": sum(seen[text] == 1 for text, _ in unknown),
        "lost": lost,
        "duplicated": duplicated,
        "kills": len(kills),
        "finished": finished,
        "workers": args.workers,
        "tick_s": TICK,
        "lease_s": LEASE,
    }
    print_table(
        f"Chaos: {args.posts} posts over {args.spread:.0f} s, {args.workers} workers, "
        f"one SIGKILLed every {args.every:.0f} s (logs in {logdir})",
        ["posts", "published", "unknown", "explained", "lost", "duplicated", "kills"],
        [[len(rows), published, len(unknown), explained, lost, duplicated, len(kills)]],
    )
    emit(figures)


if __name__ == "__main__":
    asyncio.run(main())
