"""The Medium adapter against the Medium emulator over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic import config
from syndic.platforms import base
from syndic.platforms.emulators import _base
from syndic.platforms.emulators import medium as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.medium import MediumAdapter


@pytest.fixture(scope="session")
def served(serve_emulator: Callable[[Any], Any]) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/medium"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.MediumState]:
    medium_state = emulator.EMULATOR.state(served.app)
    yield medium_state
    medium_state.clear_faults()
    medium_state.rate_limit = emulator.MediumState.default_rate_limit


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> MediumAdapter:
    return MediumAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(state: emulator.MediumState, adapter: MediumAdapter) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def auth(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['integration_token']}"}


def picture(kind: str = "PNG", content_type: str = "image/png") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 2)).save(buffer, format=kind)
    return base.Media(content_type, buffer.getvalue(), f"p.{kind.lower()}", alt="dot")


def stored(state: emulator.MediumState, receipt: base.Receipt) -> dict[str, Any]:
    return next(post for post in state.posts if post["id"] == receipt.remote_id)


def entries(recorder: Recorder, suffix: str) -> list[dict[str, Any]]:
    return [e for e in recorder.entries("medium") if e["path"].endswith(suffix)]


async def test_a_post_returns_its_id_and_url(
    adapter: MediumAdapter,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft("# Launch day\n\nWe shipped **v2**.", {"tags": ["dev", "oss"]})

    receipt = await adapter.publish(draft, credentials)

    user = state.user_of(credentials)
    post = stored(state, receipt)
    assert receipt.url == post["url"]
    assert receipt.url.startswith(f"https://medium.com/@{user.username}/launch-day-")
    assert (post["title"], post["tags"], post["contentFormat"]) == (
        "Launch day",
        ["dev", "oss"],
        "markdown",
    )
    assert post["publishStatus"] == "public"
    assert "publishedAt" in post


async def test_options_reach_the_post(
    adapter: MediumAdapter,
    recorder: Recorder,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    options = {
        "title": "Notes",
        "content_format": "html",
        "publish_status": "draft",
        "canonical_url": "https://blog.example/notes",
        "license": "cc-40-by",
        "notify_followers": False,
    }

    receipt = await adapter.publish(base.Draft("<p>body</p>", options), credentials)

    post = stored(state, receipt)
    assert post["content"] == "<h1>Notes</h1><p>body</p>"
    assert (post["publishStatus"], post["license"]) == ("draft", "cc-40-by")
    assert post["canonicalUrl"] == "https://blog.example/notes"
    assert "publishedAt" not in post
    assert entries(recorder, "/posts")[-1]["body"]["notifyFollowers"] is False


async def test_the_author_id_is_asked_once_per_token(
    adapter: MediumAdapter,
    recorder: Recorder,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    before = len(entries(recorder, "/v1/me"))

    await adapter.publish(base.Draft("# One"), credentials)
    await adapter.publish(base.Draft("# Two"), credentials)

    user = state.user_of(credentials)
    assert len(entries(recorder, "/v1/me")) == before + 1
    assert len(entries(recorder, f"/v1/users/{user.id}/posts")) == 2


async def test_images_are_uploaded_and_end_the_content(
    adapter: MediumAdapter,
    recorder: Recorder,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    media = (picture(), picture("JPEG", "image/jpeg"))

    receipt = await adapter.publish(base.Draft("# Album", media=media), credentials)

    uploads = entries(recorder, "/v1/images")[-2:]
    assert [upload["body"]["image"]["size"] for upload in uploads] == [
        len(item.data) for item in media
    ]
    urls = list(state.images)[-2:]
    assert stored(state, receipt)["content"] == (
        f"# Album\n\n![dot]({urls[0]})\n\n![dot]({urls[1]})"
    )


async def test_the_emulator_takes_one_image_in_the_field_image_only(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    png = picture()
    url = f"{base_url}/v1/images"
    part = (png.filename, png.data, png.content_type)

    wrong_field = await http.post(url, files={"file": part}, headers=auth(credentials))
    two = await http.post(
        url, files=[("image", part), ("image2", part)], headers=auth(credentials)
    )
    webp = await http.post(
        url,
        files={"image": ("a.webp", b"RIFF0000WEBP", "image/webp")},
        headers=auth(credentials),
    )
    right = await http.post(url, files={"image": part}, headers=auth(credentials))

    assert [r.status_code for r in (wrong_field, two, webp)] == [400, 400, 400]
    assert set(right.json()["data"]) == {"url", "md5"}
    assert right.status_code == 201


async def test_medium_keeps_three_short_tags_and_ignores_a_long_title(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    user = state.user_of(credentials)
    body = {
        "title": "t" * 101,
        "contentFormat": "markdown",
        "content": "# Real title\n\ntext",
        "tags": ["one", "x" * 26, "two", "three"],
    }

    response = await http.post(
        f"{base_url}/v1/users/{user.id}/posts", json=body, headers=auth(credentials)
    )

    data = response.json()["data"]
    assert response.status_code == 201
    assert (data["title"], data["tags"]) == ("Real title", ["one", "two"])


MALFORMED = [
    ({"contentFormat": "markdown", "content": "x"}, "Missing required field (title)"),
    ({"title": "t", "content": "x"}, "Missing required field (contentFormat)"),
    ({"title": "t", "contentFormat": "rst", "content": "x"}, "(contentFormat)"),
    ({"title": "t", "contentFormat": "html", "content": "  "}, "(content)"),
    (
        {"title": "t", "contentFormat": "html", "content": "x", "status": "public"},
        "Unexpected field (status) specified",
    ),
    (
        {
            "title": "t",
            "contentFormat": "html",
            "content": "x",
            "publishStatus": "hidden",
        },
        "(publishStatus)",
    ),
    ({"title": "t", "contentFormat": "html", "content": "x", "tags": "a"}, "(tags)"),
    ({"title": 5, "contentFormat": "html", "content": "x"}, "(title)"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
async def test_the_emulator_refuses_malformed_posts(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.MediumState,
    body: dict[str, Any],
    message: str,
) -> None:
    credentials = state.add_account()
    user = state.user_of(credentials)

    response = await http.post(
        f"{base_url}/v1/users/{user.id}/posts", json=body, headers=auth(credentials)
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert all(post["authorId"] != user.id for post in state.posts)


async def test_the_emulator_answers_token_errors_as_medium_does(
    base_url: str, http: httpx.AsyncClient
) -> None:
    missing = await http.get(f"{base_url}/v1/me")
    invalid = await http.get(
        f"{base_url}/v1/me", headers={"Authorization": "Bearer " + "f" * 65}
    )

    assert (missing.status_code, missing.json()) == (
        401,
        {"errors": [{"message": "An access token is required.", "code": 6000}]},
    )
    assert (invalid.status_code, invalid.json()["errors"][0]["code"]) == (401, 6003)


@pytest.mark.parametrize("spoil", ["unknown", "revoke"])
async def test_a_refused_token_says_medium_issues_no_new_ones(
    adapter: MediumAdapter,
    state: emulator.MediumState,
    credentials: dict[str, Any],
    spoil: str,
) -> None:
    if spoil == "unknown":
        credentials = {"integration_token": "f" * 65}
    else:
        state.revoke(credentials["integration_token"])

    with pytest.raises(base.CredentialsRejected) as caught:
        await adapter.publish(base.Draft("# Hi"), credentials)

    assert "no longer issues new integration tokens" in caught.value.message
    assert "code 6003" in caught.value.message


async def test_a_token_revoked_after_the_author_was_cached_is_still_rejected(
    adapter: MediumAdapter, state: emulator.MediumState, credentials: dict[str, Any]
) -> None:
    await adapter.publish(base.Draft("# First"), credentials)
    state.revoke(credentials["integration_token"])

    with pytest.raises(base.CredentialsRejected):
        await adapter.publish(base.Draft("# Second"), credentials)


async def test_an_account_that_may_not_publish_is_rejected_credentials(
    adapter: MediumAdapter, state: emulator.MediumState
) -> None:
    credentials = adapter.check_credentials(state.add_account(can_publish=False))

    with pytest.raises(base.CredentialsRejected, match="may not publish"):
        await adapter.publish(base.Draft("# Hi"), credentials)


async def test_posting_under_another_users_id_is_forbidden(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    other = state.user_of(state.add_account())

    response = await http.post(
        f"{base_url}/v1/users/{other.id}/posts",
        json={"title": "t", "contentFormat": "markdown", "content": "x"},
        headers=auth(credentials),
    )

    assert response.status_code == 403


async def test_a_problem_is_refused_before_sending(
    adapter: MediumAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(recorder.entries("medium"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(
            base.Draft("# T", {"tags": ["a", "b", "c", "d"]}), credentials
        )

    assert caught.value.code == "medium.tags.too_many"
    assert len(recorder.entries("medium")) == before


async def test_over_the_rate_the_emulator_answers_429_and_it_is_transient(
    adapter: MediumAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=30.0)
    await adapter.publish(base.Draft("# One"), credentials)
    user = state.user_of(credentials)

    direct = await http.post(
        f"{base_url}/v1/users/{user.id}/posts",
        json={"title": "t", "contentFormat": "markdown", "content": "x"},
        headers=auth(credentials),
    )
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("# Two"), credentials)

    assert direct.status_code == 429
    assert 1 <= int(direct.headers["Retry-After"]) <= 30
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 30


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    adapter: MediumAdapter,
    state: emulator.MediumState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    await adapter.publish(base.Draft("# Warm the author cache"), credentials)
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("# Hi"), credentials)

    assert caught.value.code == "server_error"


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = MediumAdapter(f"{closed_origin}/medium", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("# Hi"), credentials)

    assert caught.value.sent is False


async def test_settings_set_the_timeout(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.MediumState,
    credentials: dict[str, Any],
) -> None:
    names = ("api_token_secret", "internal_api_secret", "lemon_webhook_secret")
    secret = {name: secrets.token_hex(32) for name in (*names, "credentials_key")}
    configured = config.Settings(_env_file=None, platform_timeout=0.3, **secret)
    adapter = MediumAdapter(base_url, http, settings=configured)
    await adapter.publish(base.Draft("# Warm"), credentials)
    state.stall_next(1.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("# Slow"), credentials)

    assert caught.value.code == "timeout"


async def test_the_sandbox_account_works_out_of_the_box(adapter: MediumAdapter) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(base.Draft("# Sandbox"), credentials)

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_a_token(
    adapter: MediumAdapter,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = credentials["integration_token"]
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("# Clean", media=(picture(),)), credentials)

    assert token not in json.dumps(recorder.entries("medium"))
    calls = [r for r in caplog.records if r.getMessage() == "platform_call"]
    assert [getattr(r, "endpoint", None) for r in calls] == [
        "me",
        "upload_image",
        "create_post",
    ]
    assert all(token not in str(record.__dict__) for record in caplog.records)
