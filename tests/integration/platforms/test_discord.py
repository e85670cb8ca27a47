"""The Discord adapter against the Discord emulator over real HTTP."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from syndic.platforms import base
from syndic.platforms.discord import DiscordAdapter
from syndic.platforms.emulators import _base
from syndic.platforms.emulators import discord as emulator
from syndic.platforms.emulators.recorder import Recorder


@pytest.fixture
def base_url(emulator_origin: str) -> str:
    return f"{emulator_origin}/discord"


@pytest.fixture
def state(emulator_app: Starlette) -> Iterator[emulator.DiscordState]:
    discord_state = emulator.EMULATOR.state(emulator_app)
    yield discord_state
    discord_state.clear_faults()
    discord_state.rate_limit = emulator.DiscordState.default_rate_limit


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> DiscordAdapter:
    return DiscordAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(
    state: emulator.DiscordState, adapter: DiscordAdapter
) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def webhook_of(
    state: emulator.DiscordState, credentials: dict[str, Any]
) -> emulator.Webhook:
    webhook_id = credentials["webhook_url"].split("/")[-2]
    webhook = state.webhook(webhook_id)
    assert webhook is not None
    return webhook


def execute_url(base_url: str, webhook: emulator.Webhook, token: str = "") -> str:
    return f"{base_url}/api/v10/webhooks/{webhook.id}/{token or webhook.token}"


def posts(recorder: Recorder, webhook: emulator.Webhook) -> list[dict[str, Any]]:
    return [
        entry
        for entry in recorder.entries("discord")
        if entry["method"] == "POST" and f"/{webhook.id}/" in entry["path"]
    ]


def png() -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), "pic.png", alt="a pixel")


async def test_a_post_returns_its_message_id_and_url(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(base.Draft("hello @everyone"), credentials)

    webhook = webhook_of(state, credentials)
    assert receipt.remote_id.isdigit()
    assert receipt.url == (
        f"https://discord.com/channels/{webhook.guild_id}/{webhook.channel_id}/"
        f"{receipt.remote_id}"
    )
    assert receipt.extra_ids == ()
    stored = [m for m in state.messages if m["id"] == receipt.remote_id]
    assert stored[0]["content"] == "hello @everyone"


async def test_mentions_are_not_parsed_unless_allowed(
    adapter: DiscordAdapter,
    recorder: Recorder,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    await adapter.publish(base.Draft("@everyone"), credentials)
    await adapter.publish(
        base.Draft("@everyone", {"allow_mentions": True}), credentials
    )

    bodies = [
        entry["body"] for entry in posts(recorder, webhook_of(state, credentials))
    ]
    assert bodies[0]["allowed_mentions"] == {"parse": []}
    assert bodies[1]["allowed_mentions"] == {"parse": ["users", "roles", "everyone"]}


async def test_long_content_goes_out_in_several_executions(
    adapter: DiscordAdapter,
    recorder: Recorder,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    text = "\n".join(f"line {i:02d} " + "x" * 91 for i in range(1, 31))

    receipt = await adapter.publish(base.Draft(text), credentials)

    sent = [
        entry["body"]["content"]
        for entry in posts(recorder, webhook_of(state, credentials))
    ]
    assert [len(content) for content in sent] == [1999, 999]
    assert sent[1].startswith("line 21 ")
    assert len(receipt.extra_ids) == 1


async def test_long_content_without_splitting_is_refused_before_sending(
    adapter: DiscordAdapter,
    recorder: Recorder,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("x" * 2001, {"split": False}), credentials)

    assert caught.value.code == "discord.content.too_long"
    assert posts(recorder, webhook_of(state, credentials)) == []


async def test_the_emulator_refuses_long_content_with_the_nested_form_error(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    url = execute_url(base_url, webhook_of(state, credentials))

    response = await http.post(url, json={"content": "x" * 2001})

    assert response.status_code == 400
    assert response.json() == {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {
            "content": {
                "_errors": [
                    {
                        "code": "BASE_TYPE_MAX_LENGTH",
                        "message": "Must be 2000 or fewer in length.",
                    }
                ]
            }
        },
    }


MALFORMED = [
    (
        {"content": "   "},
        400,
        {"code": 50006, "message": "Cannot send an empty message"},
    ),
    ({}, 400, {"code": 50006, "message": "Cannot send an empty message"}),
    ({"content": "x", "embeds": [{"title": "t"}] * 11}, 400, {"code": 50035}),
    ({"content": "x", "embeds": [{"description": "d" * 4097}]}, 400, {"code": 50035}),
    (
        {
            "content": "x",
            "embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}],
        },
        400,
        {"code": 50035},
    ),
    ({"content": "x", "flags": 1}, 400, {"code": 50035}),
    ({"content": "x", "allowed_mentions": {"parse": ["nobody"]}}, 400, {"code": 50035}),
    ({"content": 5}, 400, {"code": 50035}),
]


@pytest.mark.parametrize(("body", "status", "expected"), MALFORMED)
async def test_the_emulator_refuses_malformed_bodies(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    body: dict[str, Any],
    status: int,
    expected: dict[str, Any],
) -> None:
    webhook = webhook_of(state, state.add_account())

    response = await http.post(execute_url(base_url, webhook), json=body)

    assert response.status_code == status
    assert expected.items() <= response.json().items()


async def test_invalid_json_is_refused(
    base_url: str, http: httpx.AsyncClient, state: emulator.DiscordState
) -> None:
    webhook = webhook_of(state, state.add_account())

    response = await http.post(
        execute_url(base_url, webhook),
        content=b"{not json",
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["code"] == 50109


async def test_a_file_over_10_mib_is_too_large(
    base_url: str, http: httpx.AsyncClient, state: emulator.DiscordState
) -> None:
    webhook = webhook_of(state, state.add_account())
    big = b"\0" * (10 * 1024 * 1024 + 1)

    response = await http.post(
        execute_url(base_url, webhook),
        data={"payload_json": json.dumps({"content": "x"})},
        files={"files[0]": ("big.bin", big, "application/octet-stream")},
    )

    assert response.status_code == 413
    assert response.json() == {"code": 40005, "message": "Request entity too large"}


async def test_the_emulator_answers_bad_webhooks_as_discord_does(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    webhook = webhook_of(state, credentials)

    wrong_token = await http.post(
        execute_url(base_url, webhook, "x" * 68), json={"content": "x"}
    )
    unknown = await http.get(
        f"{base_url}/api/v10/webhooks/1234567890123456789/{'x' * 68}"
    )
    not_snowflake = await http.get(f"{base_url}/api/v10/webhooks/abc/{'x' * 68}")

    assert (wrong_token.status_code, wrong_token.json()) == (
        401,
        {"message": "Invalid Webhook Token", "code": 50027},
    )
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Unknown Webhook", "code": 10015},
    )
    assert not_snowflake.status_code == 400


async def test_a_wrong_token_is_rejected_credentials(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    webhook = webhook_of(state, credentials)
    wrong = {"webhook_url": f"https://discord.com/api/webhooks/{webhook.id}/{'w' * 68}"}

    with pytest.raises(base.CredentialsRejected, match="Invalid Webhook Token"):
        await adapter.publish(base.Draft("hi"), wrong)


async def test_a_deleted_webhook_is_rejected_credentials(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.remove_account(webhook_of(state, credentials).id)

    with pytest.raises(base.CredentialsRejected, match="Unknown Webhook"):
        await adapter.publish(base.Draft("hi"), credentials)


async def test_wait_false_answers_204_and_success_carries_rate_headers(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    url = execute_url(base_url, webhook_of(state, credentials))

    response = await http.post(url, json={"content": "no wait"})

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "4"
    assert float(response.headers["X-RateLimit-Reset-After"]) <= 2.0


async def test_over_the_rate_the_emulator_answers_429_as_discord_does(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    url = execute_url(base_url, webhook_of(state, credentials))
    for _ in range(5):
        assert (await http.post(url, json={"content": "x"})).status_code == 204

    response = await http.post(url, json={"content": "x"})

    body = response.json()
    assert response.status_code == 429
    assert body["message"] == "You are being rate limited."
    assert body["global"] is False
    assert 0 < body["retry_after"] <= 2.0
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Scope"] == "user"


async def test_a_rate_limited_post_is_transient_with_retry_after(
    adapter: DiscordAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    url = execute_url(base_url, webhook_of(state, credentials))
    for _ in range(5):
        await http.post(url, json={"content": "x"})

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 2.0


async def test_a_forced_429_carries_its_retry_after(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=3.5)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.retry_after == 3.5


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    adapter: DiscordAdapter,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "server_error"
    assert caught.value.sent is True


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = DiscordAdapter(f"{closed_origin}/discord", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.sent is False


async def test_no_answer_in_time_is_transient(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    adapter = DiscordAdapter(base_url, http, timeout=0.3)
    state.stall_next(1.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "timeout"
    assert caught.value.sent is True


async def test_a_failure_after_the_first_chunk_is_permanent_and_partial(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.fail_next(500, after=1)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("a" * 2000 + "\n" + "b" * 10), credentials)

    assert caught.value.code == "partially_published"
    assert "published 1 message(s)" in caught.value.message


async def test_a_429_after_the_first_chunk_is_waited_out(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=0.2, after=1)

    receipt = await adapter.publish(
        base.Draft("a" * 2000 + "\n" + "b" * 10), credentials
    )

    assert len(receipt.extra_ids) == 1


async def test_an_exhausted_bucket_pauses_between_chunks(
    adapter: DiscordAdapter, state: emulator.DiscordState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = _base.RateLimit(requests=2, per=0.5)

    receipt = await adapter.publish(
        base.Draft("\n".join(["z" * 1999] * 3)), credentials
    )

    assert len(receipt.extra_ids) == 2


async def test_embeds_and_files_go_with_the_last_chunk_as_multipart(
    adapter: DiscordAdapter,
    recorder: Recorder,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft(
        "a" * 2000 + "\nend",
        {"embeds": [{"title": " Title ", "description": "d"}], "suppress_embeds": True},
        media=(png(),),
    )

    receipt = await adapter.publish(draft, credentials)

    last = next(m for m in state.messages if m["id"] == receipt.extra_ids[0])
    assert last["embeds"][0]["title"] == "Title"
    assert last["attachments"][0]["filename"] == "pic.png"
    assert last["flags"] == 4
    recorded = posts(recorder, webhook_of(state, credentials))[-1]["body"]
    assert recorded["files[0]"] == {
        "filename": "pic.png",
        "content_type": "image/png",
        "size": len(draft.media[0].data),
    }
    assert (
        json.loads(recorded["payload_json"])["attachments"][0]["description"]
        == "a pixel"
    )


async def test_a_forum_post_opens_a_thread_and_the_rest_follows_into_it(
    adapter: DiscordAdapter, state: emulator.DiscordState
) -> None:
    credentials = state.add_account(forum=True)
    draft = base.Draft("a" * 2000 + "\nb", {"thread_name": "Release notes"})

    receipt = await adapter.publish(draft, credentials)

    messages = {m["id"]: m for m in state.messages}
    thread = messages[receipt.remote_id]["channel_id"]
    assert messages[receipt.extra_ids[0]]["channel_id"] == thread
    assert receipt.url is not None
    assert receipt.url.endswith(f"/{thread}/{receipt.remote_id}")


async def test_a_forum_post_without_thread_name_is_refused(
    adapter: DiscordAdapter, state: emulator.DiscordState
) -> None:
    with pytest.raises(base.PermanentError, match="thread_name"):
        await adapter.publish(base.Draft("x"), state.add_account(forum=True))


async def test_the_webhook_is_read_once_per_webhook(
    adapter: DiscordAdapter,
    recorder: Recorder,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
) -> None:
    await adapter.publish(base.Draft("one"), credentials)
    await adapter.publish(base.Draft("two"), credentials)

    webhook = webhook_of(state, credentials)
    reads = [
        entry
        for entry in recorder.entries("discord")
        if entry["method"] == "GET" and f"/{webhook.id}/" in entry["path"]
    ]
    assert len(reads) == 1


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: DiscordAdapter,
) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(base.Draft("sandbox"), credentials)

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_a_webhook_token(
    adapter: DiscordAdapter,
    base_url: str,
    recorder: Recorder,
    http: httpx.AsyncClient,
    state: emulator.DiscordState,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook = webhook_of(state, credentials)
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("hi"), credentials)
    await http.patch(f"{execute_url(base_url, webhook)}/messages/1", json={})

    recorded = json.dumps(recorder.entries())
    assert webhook.token not in recorded
    assert f"/api/v10/webhooks/{webhook.id}/***" in recorded
    assert "***/messages/1" in recorded
    assert "platform_call" in [record.getMessage() for record in caplog.records]
    assert all(webhook.token not in str(record.__dict__) for record in caplog.records)
