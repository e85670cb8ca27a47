"""The X adapter against the X emulator over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import base
from syndic.platforms.emulators import _base, _x_posts, x_oauth
from syndic.platforms.emulators import x as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.x import XAdapter

TECHNOLOGIST = "👩\u200d💻"


@pytest.fixture
def served(serve_emulator: Callable[[_base.Emulator[Any]], Any]) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/x"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.XState]:
    x_state = emulator.EMULATOR.state(served.app)
    yield x_state
    x_state.clear_faults()
    x_state.rate_limit = emulator.XState.default_rate_limit
    x_state.daily_limit = None
    x_state.rate_limit_body = "problem"
    x_state.reply_policy = "open"


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> XAdapter:
    return XAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(state: emulator.XState, adapter: XAdapter) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def png(width: int = 8, height: int = 6, alt: str = "") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), "p.png", alt)


def signed(
    method: str,
    url: str,
    credentials: dict[str, Any],
    form: dict[str, str] | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Headers of a correctly signed OAuth 1.0a request."""
    header = x_oauth.authorization_header(
        method,
        url,
        consumer_key=credentials["api_key"],
        consumer_secret=credentials["api_secret"],
        token=credentials["access_token"],
        token_secret=credentials["access_token_secret"],
        form=(form or {}).items(),
        nonce=nonce,
    )
    return {"Authorization": header}


async def post_tweet(
    http: httpx.AsyncClient, base_url: str, credentials: dict[str, Any], body: Any
) -> httpx.Response:
    url = f"{base_url}/2/tweets"
    return await http.post(url, json=body, headers=signed("POST", url, credentials))


def username_of(state: emulator.XState, user_id: str) -> str:
    grants = [*state.oauth1.values(), *state.oauth2.values()]
    return next(grant.user.username for grant in grants if grant.user.id == user_id)


async def test_a_post_returns_its_id_and_public_url(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(base.Draft("hello from syndic"), credentials)

    stored = state.tweets[receipt.remote_id]
    username = username_of(state, stored["author_id"])
    assert receipt.remote_id.isdigit()
    assert receipt.url == f"https://x.com/{username}/status/{receipt.remote_id}"
    assert receipt.extra_ids == ()
    assert stored["text"] == "hello from syndic"


async def test_an_oauth2_user_token_publishes_too(
    adapter: XAdapter, state: emulator.XState
) -> None:
    credentials = adapter.check_credentials(state.add_account(oauth2=True))

    receipt = await adapter.publish(base.Draft("bearer"), credentials)

    assert state.tweets[receipt.remote_id]["text"] == "bearer"


async def test_the_answer_wraps_links_in_23_character_tco_links(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    response = await post_tweet(
        http, base_url, credentials, {"text": "read https://example.com/a/long/path"}
    )

    text = response.json()["data"]["text"]
    assert response.status_code == 201
    assert text.startswith("read https://t.co/")
    assert len(text.removeprefix("read ")) == 23


async def test_the_282_text_becomes_a_reply_chain_when_split_is_asked(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    draft = base.Draft(TECHNOLOGIST * 141, {"split": True})

    receipt = await adapter.publish(draft, credentials)

    first, second = (state.tweets[i] for i in (receipt.remote_id, *receipt.extra_ids))
    assert first["text"] == TECHNOLOGIST * 140
    assert second["text"] == TECHNOLOGIST
    assert second["in_reply_to_tweet_id"] == first["id"]
    assert second["conversation_id"] == first["id"]


async def test_the_282_text_without_split_is_refused_and_never_sent(
    adapter: XAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(recorder.entries("x"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft(TECHNOLOGIST * 141), credentials)

    assert caught.value.code == "x.text.too_long"
    assert len(recorder.entries("x")) == before


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        (TECHNOLOGIST * 140, True),
        (TECHNOLOGIST * 141, False),
        ("🐦\u200d🔥" * 140, True),
        ("🐦\u200d🔥" * 141, False),
        ("🇬🇧" * 140, True),
        ("🇬🇧" * 141, False),
        ("東" * 140, True),
        ("東" * 141, False),
        ("a" * 280, True),
        ("a" * 281, False),
        ("https://example.com/" + "p" * 400, True),
        ("a" * 256 + " https://example.com/x", True),
        ("a" * 257 + " https://example.com/x", False),
    ],
)
async def test_the_emulator_counts_as_x_does(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    text: str,
    accepted: bool,
) -> None:
    response = await post_tweet(http, base_url, credentials, {"text": text})

    if accepted:
        assert response.status_code == 201
    else:
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {"parameters": {"text": [text]}, "message": _x_posts.TOO_LONG}
        ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "x", "colour": "red"}, "$.colour: is not defined in the schema"),
        ({"text": 5}, "$.text: number found, string expected"),
        ({}, "One or more of text, media"),
        ({"text": "x", "media": {"media_ids": []}}, "$.media.media_ids: there must"),
        ({"text": "x", "media": {"media_ids": [123]}}, "does not match the regex"),
        ({"text": "x", "media": {"media_ids": ["1"] * 5}}, "$.media.media_ids"),
        ({"text": "x", "media": {"media_ids": ["1234"]}}, "Your media IDs are invalid"),
        ({"text": "x", "reply": {"in_reply_to_tweet_id": "abc"}}, "in_reply_to"),
        ({"text": "x", "reply_settings": "everyone"}, "$.reply_settings"),
        ({"text": "$AAPL $TSLA"}, "cashtag"),
        ({"text": "a\ufeffb"}, "invalid characters"),
    ],
)
async def test_the_emulator_refuses_bodies_x_refuses(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    body: dict[str, Any],
    message: str,
) -> None:
    response = await post_tweet(http, base_url, credentials, body)

    answer = response.json()
    assert response.status_code == 400
    assert answer["title"] == "Invalid Request"
    assert answer["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert message in answer["errors"][0]["message"]


async def test_the_emulator_wants_a_json_object(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = f"{base_url}/2/tweets"

    form = await http.post(
        url,
        data={"text": "hi"},
        headers=signed("POST", url, credentials, form={"text": "hi"}),
    )
    broken = await http.post(
        url,
        content=b"{not json",
        headers={
            "Content-Type": "application/json",
            **signed("POST", url, credentials),
        },
    )

    assert form.status_code == 400
    assert "content-type of application/json" in form.json()["errors"][0]["message"]
    assert broken.status_code == 400


async def test_replying_to_a_missing_post_is_forbidden(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    response = await post_tweet(
        http,
        base_url,
        credentials,
        {"text": "re", "reply": {"in_reply_to_tweet_id": "1234567890"}},
    )

    assert response.status_code == 403
    assert response.json()["detail"] == _x_posts.REPLY_GONE


async def test_the_same_text_twice_is_a_duplicate(
    adapter: XAdapter, credentials: dict[str, Any]
) -> None:
    await adapter.publish(base.Draft("only once"), credentials)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("only once"), credentials)

    assert caught.value.code == "duplicate"
    assert "duplicate content" in caught.value.message


async def test_the_emulator_answers_bad_auth_as_x_does(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    url = f"{base_url}/2/users/me"
    wrong_secret = {**credentials, "access_token_secret": "w" * 40}
    stale = x_oauth.authorization_header(
        "GET",
        url,
        consumer_key=credentials["api_key"],
        consumer_secret=credentials["api_secret"],
        token=credentials["access_token"],
        token_secret=credentials["access_token_secret"],
        timestamp=int(time.time()) - 3600,
    )

    missing = await http.get(url)
    unsigned = await http.get(url, headers=signed("GET", url + "?x=1", credentials))
    forged = await http.get(url, headers=signed("GET", url, wrong_secret))
    old = await http.get(url, headers={"Authorization": stale})
    app_only = await http.get(
        url, headers={"Authorization": f"Bearer {state.add_app_only_token()}"}
    )

    unauthorized = {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    for response in (missing, unsigned, forged, old):
        assert (response.status_code, response.json()) == (401, unauthorized)
    assert app_only.status_code == 403
    assert app_only.json()["title"] == "Unsupported Authentication"


async def test_a_nonce_is_good_once(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = f"{base_url}/2/users/me"
    headers = signed(
        "GET", url, credentials, nonce="once-only-nonce-" + str(time.time())
    )

    first = await http.get(url, headers=headers)
    replayed = await http.get(url, headers=headers)

    assert first.status_code == 200
    assert first.json()["data"]["id"] == credentials["access_token"].split("-")[0]
    assert replayed.status_code == 401


@pytest.mark.parametrize("kind", ["revoked", "wrong secret", "expired oauth2", "app"])
async def test_refused_tokens_are_rejected_credentials(
    adapter: XAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
    kind: str,
) -> None:
    if kind == "revoked":
        state.revoke(credentials["access_token"])
    elif kind == "wrong secret":
        credentials = {**credentials, "api_secret": "x" * 50}
    elif kind == "expired oauth2":
        credentials = state.add_account(oauth2=True, expires_in=-1)
    else:
        credentials = {"access_token": state.add_app_only_token()}
    fresh = XAdapter(base_url, http, timeout=5.0)

    with pytest.raises(base.CredentialsRejected):
        await fresh.publish(base.Draft("hi"), credentials)


async def test_over_the_rate_the_emulator_answers_429_as_x_does(
    adapter: XAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=2, per=900.0)
    await adapter.publish(base.Draft("one"), credentials)
    await adapter.publish(base.Draft("two"), credentials)

    refused = await post_tweet(http, base_url, credentials, {"text": "three"})
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("four"), credentials)

    reset = int(refused.headers["x-rate-limit-reset"])
    assert refused.status_code == 429
    assert refused.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert refused.headers["x-rate-limit-limit"] == "2"
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert time.time() < reset <= time.time() + 901
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 800 < caught.value.retry_after <= 901


async def test_the_v1_shaped_429_is_rate_limited_too(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=900.0)
    state.rate_limit_body = "v1"
    await adapter.publish(base.Draft("one"), credentials)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("two"), credentials)

    assert caught.value.code == "rate_limited"
    assert "Rate limit exceeded" in caught.value.message


async def test_the_daily_cap_waits_for_its_own_reset(
    adapter: XAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    state.daily_limit = _base.RateLimit(requests=1, per=86_400.0)
    await adapter.publish(base.Draft("one"), credentials)

    refused = await post_tweet(http, base_url, credentials, {"text": "two"})
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("three"), credentials)

    assert refused.headers["x-user-limit-24hour-remaining"] == "0"
    assert refused.headers["x-rate-limit-remaining"] != "0"
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 86_000


async def test_a_forced_429_carries_its_retry_after(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    await adapter.publish(base.Draft("warm the username cache"), credentials)
    state.fail_next(429, retry_after=30)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.retry_after is not None
    assert 28 <= caught.value.retry_after <= 31


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(
    adapter: XAdapter,
    state: emulator.XState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "server_error"


async def test_a_stalled_answer_is_a_timeout(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    adapter = XAdapter(base_url, http, timeout=0.3)
    await adapter.publish(base.Draft("warm up"), credentials)
    state.stall_next(1.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("slow"), credentials)

    assert caught.value.code == "timeout"
    assert caught.value.sent is True


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = XAdapter(f"{closed_origin}/x", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.sent is False


async def test_a_failure_after_the_first_post_is_permanent_and_partial(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    state.fail_next(500, after=1)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("a" * 300, {"split": True}), credentials)

    assert caught.value.code == "partially_published"


async def test_a_429_on_a_later_post_is_waited_out_once(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=0.2, after=1)

    receipt = await adapter.publish(base.Draft("b" * 300, {"split": True}), credentials)

    assert len(receipt.extra_ids) == 1


@pytest.mark.parametrize(("policy", "refused"), [("summoned", False), ("closed", True)])
async def test_replies_under_a_restrictive_reply_policy(
    adapter: XAdapter,
    state: emulator.XState,
    credentials: dict[str, Any],
    policy: str,
    refused: bool,
) -> None:
    state.reply_policy = policy
    draft = base.Draft("c" * 300, {"split": True})

    if refused:
        with pytest.raises(base.PermanentError) as caught:
            await adapter.publish(draft, credentials)
        assert caught.value.code == "partially_published"
        assert "not been mentioned" in caught.value.message
    else:
        receipt = await adapter.publish(draft, credentials)
        assert len(receipt.extra_ids) == 1


async def test_images_are_uploaded_with_their_alt_text_and_attached_to_the_first(
    adapter: XAdapter,
    recorder: Recorder,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft(
        "d" * 300, {"split": True}, media=(png(alt="a dark square"), png(12, 12))
    )

    receipt = await adapter.publish(draft, credentials)

    first = state.tweets[receipt.remote_id]
    media = [state.media[media_id] for media_id in first["media_ids"]]
    assert [(m.image.width, m.image.height) for m in media] == [(8, 6), (12, 12)]
    assert [m.alt_text for m in media] == ["a dark square", None]
    assert state.tweets[receipt.extra_ids[0]]["media_ids"] == []
    uploads = [e for e in recorder.entries("x") if e["path"] == "/2/media/upload"]
    assert uploads[-1]["body"]["media_category"] == "tweet_image"
    assert uploads[-1]["body"]["media"]["content_type"] == "image/png"


async def test_images_alone_post_without_text(
    adapter: XAdapter, state: emulator.XState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(base.Draft("", media=(png(),)), credentials)

    assert state.tweets[receipt.remote_id]["text"] == ""
    assert len(state.tweets[receipt.remote_id]["media_ids"]) == 1


async def test_the_emulator_refuses_uploads_x_refuses(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = f"{base_url}/2/media/upload"
    image = png().data

    async def upload(data: dict[str, str], files: dict[str, Any]) -> httpx.Response:
        return await http.post(
            url, data=data, files=files, headers=signed("POST", url, credentials)
        )

    big = await upload(
        {"media_category": "tweet_image"},
        {"media": ("b.png", image + b"\0" * (5 * 2**20), "image/png")},
    )
    garbage = await upload(
        {"media_category": "tweet_image"}, {"media": ("g.png", b"nope", "image/png")}
    )
    uncategorised = await upload({}, {"media": ("p.png", image, "image/png")})
    video = await upload(
        {"media_category": "tweet_video"}, {"media": ("v.mp4", image, "video/mp4")}
    )
    fine = await upload(
        {"media_category": "tweet_image"}, {"media": ("p.png", image, "image/png")}
    )

    assert big.json()["errors"][0]["message"] == "File size exceeds 5242880 bytes."
    assert garbage.json()["errors"][0]["message"] == "media type unrecognized."
    assert "media_category" in uncategorised.json()["errors"][0]["message"]
    assert "chunked upload" in video.json()["errors"][0]["message"]
    assert fine.status_code == 200
    data = fine.json()["data"]
    assert data["media_key"] == f"3_{data['id']}"
    assert data["image"] == {"image_type": "image/png", "w": 8, "h": 6}


async def test_someone_elses_media_cannot_be_attached(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.XState,
    credentials: dict[str, Any],
) -> None:
    url = f"{base_url}/2/media/upload"
    other = state.add_account()
    uploaded = await http.post(
        url,
        data={"media_category": "tweet_image"},
        files={"media": ("p.png", png().data, "image/png")},
        headers=signed("POST", url, other),
    )

    response = await post_tweet(
        http,
        base_url,
        credentials,
        {"text": "mine?", "media": {"media_ids": [uploaded.json()["data"]["id"]]}},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Your media IDs are invalid."


async def test_the_sandbox_account_works_out_of_the_box(adapter: XAdapter) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(
        base.Draft(f"sandbox {time.time_ns()}"), credentials
    )

    assert receipt.url is not None
    assert receipt.url.startswith("https://x.com/syndic_sandbox/status/")


async def test_the_recorder_and_the_logs_never_hold_a_secret(
    adapter: XAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("secretless", media=(png(),)), credentials)
    await http.get(
        f"{base_url}/2/nowhere", headers=signed("GET", base_url, credentials)
    )

    recorded = json.dumps(recorder.entries())
    logged = [str(record.__dict__) for record in caplog.records]
    assert "/2/tweets" in recorded
    assert "/2/nowhere" in recorded
    assert "platform_call" in [record.getMessage() for record in caplog.records]
    for secret in credentials.values():
        assert secret not in recorded
        assert all(secret not in line for line in logged)
