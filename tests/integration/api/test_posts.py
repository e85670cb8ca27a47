"""The posts API over a real socket: schedule, read, list, cancel, validate."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from support.server import Server, serve

from syndic.db.engine import Database


@pytest.fixture
async def sandbox(db: Database) -> AsyncIterator[Server]:
    async with serve(
        db, sandbox=True, run_scheduler=True, scheduler_tick=3600, scheduler_lease=4000
    ) as running:
        yield running


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def png(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def wait_published(server: Server, headers: dict[str, str], post_id: str) -> dict:
    for _ in range(200):
        view = (await server.client.get(f"/v1/posts/{post_id}", headers=headers)).json()
        if view["status"] not in ("pending", "dispatched"):
            return view
        await asyncio.sleep(0.05)
    pytest.fail(f"post stayed {view['status']}")


async def test_a_post_without_time_goes_out_now(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="max")

    answer = await sandbox.client.post(
        "/v1/posts/schedule",
        headers=headers,
        json={"text": "now", "platforms": ["discord"]},
    )

    assert answer.status_code == 201
    view = await wait_published(sandbox, headers, answer.json()["id"])
    assert view["status"] == "published"
    [delivery] = view["deliveries"]
    assert delivery["remote_id"]
    assert delivery["url"].startswith("https://discord.com/channels/")


async def test_a_free_post_tells_the_client_its_release_time(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    asked = datetime.now(UTC) + timedelta(hours=2, minutes=5)

    answer = await sandbox.client.post(
        "/v1/posts/schedule",
        headers=headers,
        json={
            "text": "hourly",
            "platforms": ["telegram"],
            "scheduled_at": asked.isoformat(),
        },
    )

    assert answer.status_code == 201
    release = datetime.fromisoformat(answer.json()["release_at"])
    assert (release.minute, release.second) == (0, 0)
    assert timedelta(0) <= release - asked < timedelta(hours=1)


@pytest.mark.parametrize(
    ("scheduled_at", "timezone", "message"),
    [
        ("2031-01-15T08:00:00", None, "no UTC offset"),
        ("2020-01-15T08:00:00Z", None, "in the past"),
        ("soon", None, "RFC 3339"),
        ("2031-01-15T08:00", "Nowhere/Land", "unknown IANA timezone"),
    ],
)
async def test_bad_times_are_refused_with_a_clear_message(
    sandbox: Server, scheduled_at: str, timezone: str | None, message: str
) -> None:
    _, headers = await sandbox.user_with_key()
    body = {
        "text": "t",
        "platforms": ["discord"],
        "scheduled_at": scheduled_at,
        "timezone": timezone,
    }

    answer = await sandbox.client.post("/v1/posts/schedule", headers=headers, json=body)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_schedule"
    assert message in answer.json()["error"]["message"]


async def test_a_local_time_with_a_zone_is_accepted(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="max")
    body = {
        "text": "t",
        "platforms": ["discord"],
        "scheduled_at": "2031-07-01T08:00",
        "timezone": "America/New_York",
    }

    answer = await sandbox.client.post("/v1/posts/schedule", headers=headers, json=body)

    assert answer.status_code == 201
    assert answer.json()["release_at"].startswith("2031-07-01T12:00:00")


async def test_a_post_a_platform_would_refuse_is_rejected_without_using_quota(
    sandbox: Server,
) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    body = {
        "text": "x" * 5000,
        "platforms": ["telegram"],
        "options": {"telegram": {"split": False}},
    }

    refused = await sandbox.client.post(
        "/v1/posts/schedule", headers=headers, json=body
    )
    dry_run = await sandbox.client.post(
        "/v1/posts/validate", headers=headers, json=body
    )
    status = await sandbox.client.get("/v1/billing/status", headers=headers)

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "post_rejected"
    assert "telegram" in refused.json()["error"]["details"]
    assert dry_run.status_code == 200
    assert dry_run.json()["valid"] is False
    assert status.json()["posts_used"] == 0


async def test_the_same_idempotency_key_returns_the_first_post(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    body = {"text": "once", "platforms": ["discord"], "scheduled_at": later(7200)}
    keyed = {**headers, "Idempotency-Key": "abc-123"}

    first, second = await asyncio.gather(
        sandbox.client.post("/v1/posts/schedule", headers=keyed, json=body),
        sandbox.client.post("/v1/posts/schedule", headers=keyed, json=body),
    )
    other = await sandbox.client.post(
        "/v1/posts/schedule", headers=keyed, json={**body, "text": "twice"}
    )
    listing = await sandbox.client.get("/v1/posts", headers=headers)

    assert {first.status_code, second.status_code} == {201}
    assert first.json()["id"] == second.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert len(listing.json()["posts"]) == 1


async def test_cancel_gives_the_quota_back_and_a_second_cancel_conflicts(
    sandbox: Server,
) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    post = (
        await sandbox.client.post(
            "/v1/posts/schedule",
            headers=headers,
            json={"text": "c", "platforms": ["discord"], "scheduled_at": later(7200)},
        )
    ).json()

    cancelled = await sandbox.client.delete(f"/v1/posts/{post['id']}", headers=headers)
    again = await sandbox.client.delete(f"/v1/posts/{post['id']}", headers=headers)
    missing = await sandbox.client.delete("/v1/posts/pst_nope", headers=headers)
    status = (await sandbox.client.get("/v1/billing/status", headers=headers)).json()

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert missing.status_code == 404
    assert status["posts_used"] == 0


async def test_listing_pages_and_filters_by_status(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    ids = []
    for n in range(5):
        answer = await sandbox.client.post(
            "/v1/posts/schedule",
            headers=headers,
            json={
                "text": f"p{n}",
                "platforms": ["discord"],
                "scheduled_at": later(7200),
            },
        )
        ids.append(answer.json()["id"])
    await sandbox.client.delete(f"/v1/posts/{ids[0]}", headers=headers)

    first = (await sandbox.client.get("/v1/posts?limit=2", headers=headers)).json()
    second = (
        await sandbox.client.get(
            f"/v1/posts?limit=2&before={first['next_before']}", headers=headers
        )
    ).json()
    cancelled = (
        await sandbox.client.get("/v1/posts?status=cancelled", headers=headers)
    ).json()
    bad = await sandbox.client.get("/v1/posts?status=bogus", headers=headers)

    assert [p["id"] for p in first["posts"] + second["posts"]] == ids[::-1][:4]
    assert [p["id"] for p in cancelled["posts"]] == [ids[0]]
    assert bad.status_code == 422


async def test_another_users_post_is_not_found(sandbox: Server) -> None:
    _, alice = await sandbox.user_with_key(tier="free")
    _, bob = await sandbox.user_with_key(tier="free")
    post = (
        await sandbox.client.post(
            "/v1/posts/schedule",
            headers=alice,
            json={
                "text": "mine",
                "platforms": ["discord"],
                "scheduled_at": later(7200),
            },
        )
    ).json()

    assert (
        await sandbox.client.get(f"/v1/posts/{post['id']}", headers=bob)
    ).status_code == 404
    assert (
        await sandbox.client.delete(f"/v1/posts/{post['id']}", headers=bob)
    ).status_code == 404


async def test_an_uploaded_image_is_typed_by_its_bytes_and_published(
    sandbox: Server,
) -> None:
    _, headers = await sandbox.user_with_key(tier="max")

    uploaded = await sandbox.client.post(
        "/v1/media",
        headers=headers,
        files={"file": ("cat.gif", png(), "text/plain")},
        data={"alt": "a cat"},
    )
    fake = await sandbox.client.post(
        "/v1/media",
        headers=headers,
        files={"file": ("cat.png", b"not an image at all", "image/png")},
    )
    media_id = uploaded.json()["id"]
    post = await sandbox.client.post(
        "/v1/posts/schedule",
        headers=headers,
        json={"text": "with a picture", "platforms": ["telegram"], "media": [media_id]},
    )
    view = await wait_published(sandbox, headers, post.json()["id"])

    assert uploaded.status_code == 201
    assert uploaded.json()["content_type"] == "image/png"
    assert fake.status_code == 422
    assert view["status"] == "published"
    received = (
        await sandbox.client.get("/_sandbox/requests?platform=telegram")
    ).json()["requests"]
    assert any("sendPhoto" in entry["path"] for entry in received)


async def test_image_posts_count_against_the_free_image_quota(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="free")
    inline = {"data": base64.b64encode(png()).decode(), "alt": ""}
    body = {
        "text": "pic",
        "platforms": ["discord"],
        "scheduled_at": later(7200),
        "media": [inline],
    }

    answers = [
        await sandbox.client.post("/v1/posts/schedule", headers=headers, json=body)
        for _ in range(11)
    ]
    text_only = await sandbox.client.post(
        "/v1/posts/schedule", headers=headers, json={**body, "media": []}
    )

    assert [a.status_code for a in answers] == [201] * 10 + [403]
    assert answers[-1].json()["error"]["code"] == "quota_exceeded"
    assert text_only.status_code == 201


async def test_unknown_media_ids_are_refused(sandbox: Server) -> None:
    _, headers = await sandbox.user_with_key(tier="max")

    answer = await sandbox.client.post(
        "/v1/posts/schedule",
        headers=headers,
        json={"text": "x", "platforms": ["discord"], "media": ["med_nope"]},
    )

    assert answer.status_code == 422
    assert "unknown media" in answer.json()["error"]["message"]
