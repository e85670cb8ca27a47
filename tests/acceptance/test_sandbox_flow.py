"""From `syndic serve --sandbox` to a post on Discord and Telegram, on real sockets."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.databases import PostgresDatabases, make_database_url
from support.processes import SYNDIC, Process, clean_env


def publish_in_three_seconds(server: Process, headers: dict[str, str]) -> None:
    due = datetime.now(UTC) + timedelta(seconds=3)
    answer = httpx.post(
        f"{server.url}/v1/posts/schedule",
        headers=headers,
        json={
            "text": "Shipped v1.2 (beta) - 50% faster!",
            "platforms": ["discord", "telegram"],
            "scheduled_at": due.isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    post = answer.json()
    assert post["status"] == "pending"
    assert datetime.fromisoformat(post["release_at"]) == due.replace(
        microsecond=due.microsecond
    )

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        view = httpx.get(f"{server.url}/v1/posts/{post['id']}", headers=headers).json()
        if view["status"] not in ("pending", "dispatched"):
            break
        time.sleep(0.1)

    assert view["status"] == "published", view
    started = datetime.fromisoformat(view["publish_started_at"])
    assert started >= due
    assert {d["platform"]: bool(d["url"]) for d in view["deliveries"]} == {
        "discord": True,
        "telegram": True,
    }

    received = httpx.get(f"{server.url}/_sandbox/requests").json()["requests"]
    texts = {
        entry["platform"]: entry["body"]
        for entry in received
        if entry["method"] == "POST"
    }
    assert "Shipped v1.2" in texts["discord"]["content"]
    assert "Shipped v1" in texts["telegram"]["text"]
    assert all(entry["received_at"].endswith(("Z", "+00:00")) for entry in received)


def test_sandbox_on_sqlite_publishes_to_discord_and_telegram(
    tmp_path: Path, processes: list[Process]
) -> None:
    server = Process(tmp_path, clean_env())
    processes.append(server)
    server.start("serve", "--sandbox")
    server.wait_ready()
    _, headers = server.user_and_key(tier="max")

    publish_in_three_seconds(server, headers)
    assert (tmp_path / "var" / "syndic.db").stat().st_mode & 0o077 == 0
    assert (tmp_path / "var" / ".env").stat().st_mode & 0o077 == 0

    # uvicorn re-raises the SIGTERM it handled once the shutdown is done
    assert server.stop() in (0, -signal.SIGTERM)
    assert "scheduler_stopped" in server.log.read_text()


async def test_sandbox_on_postgresql_publishes_to_discord_and_telegram(
    tmp_path: Path,
    processes: list[Process],
    sqlite_dir: Path,
    pg_databases: PostgresDatabases,
    pg_problem: str | None,
) -> None:
    url = await make_database_url("postgresql", sqlite_dir, pg_databases, pg_problem)
    server = Process(tmp_path, clean_env(SYNDIC_DATABASE_URL=url))
    processes.append(server)
    server.start("serve", "--sandbox")
    server.wait_ready()
    _, headers = server.user_and_key(tier="max")

    publish_in_three_seconds(server, headers)


def test_a_second_process_on_one_sqlite_file_is_refused(
    tmp_path: Path, processes: list[Process]
) -> None:
    first = Process(tmp_path, clean_env())
    processes.append(first)
    first.start("serve", "--sandbox")
    first.wait_ready()

    second = Process(tmp_path, clean_env())
    processes.append(second)
    second.start("serve", "--sandbox")
    assert second.popen is not None
    assert second.popen.wait(30) == 1
    assert "SQLite supports one serve or worker process" in second.log.read_text()


GOOD_SECRETS = {
    "SYNDIC_API_TOKEN_SECRET": "Tq8vN3xR6tW1yB4mK7pL0sD9fG2hJ5cV-x",
    "SYNDIC_INTERNAL_API_SECRET": "Zq8vN3xR6tW1yB4mK7pL0sD9fG2hJ5cV-x",
    "SYNDIC_LEMON_WEBHOOK_SECRET": "Aq8vN3xR6tW1yB4mK7pL0sD9fG2hJ5cV-x",
    "SYNDIC_CREDENTIALS_KEY": "Bq8vN3xR6tW1yB4mK7pL0sD9fG2hJ5cV-x",
}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SYNDIC_API_TOKEN_SECRET", "short"),
        ("SYNDIC_CREDENTIALS_KEY", "changeme-changeme-changeme-changeme"),
        ("SYNDIC_INTERNAL_API_SECRET", None),
    ],
)
def test_a_weak_or_missing_secret_stops_the_server_naming_the_variable(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    env = clean_env(**GOOD_SECRETS)
    if value is None:
        del env[variable]
    else:
        env[variable] = value

    result = subprocess.run(
        [*SYNDIC, "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert variable in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
