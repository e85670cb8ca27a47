"""The Bluesky adapter against the Bluesky emulator over real HTTP."""

from __future__ import annotations

import asyncio
import base64
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
from syndic.platforms.bluesky import BlueskyAdapter
from syndic.platforms.emulators import _base
from syndic.platforms.emulators import bluesky as emulator
from syndic.platforms.emulators import bluesky_richtext as richtext
from syndic.platforms.emulators.recorder import Recorder

POST = "app.bsky.feed.post"


@pytest.fixture
def served(serve_emulator: Callable[[_base.Emulator[Any]], Any]) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/bluesky"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.BlueskyState]:
    bluesky_state = emulator.EMULATOR.state(served.app)
    yield bluesky_state
    bluesky_state.clear_faults()
    bluesky_state.rate_limit = emulator.BlueskyState.default_rate_limit
    bluesky_state.session_rate_limit = _base.RateLimit(requests=30, per=300.0)
    bluesky_state.access_lifetime = 2 * 60 * 60.0
    bluesky_state.duplicate_rkey = "internal_error"
    bluesky_state.blob_limit = 1_000_000


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> BlueskyAdapter:
    return BlueskyAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(
    state: emulator.BlueskyState, adapter: BlueskyAdapter
) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def key() -> str:
    return f"post-{time.time_ns()}:bluesky"


def stored(
    state: emulator.BlueskyState, credentials: dict[str, Any], receipt: base.Receipt
) -> list[dict[str, Any]]:
    """The records of the receipt's posts, in its order."""
    posts = state.posts_of(credentials["identifier"])
    return [posts[uri]["value"] for uri in (receipt.remote_id, *receipt.extra_ids)]


def paths(recorder: Recorder, since: int) -> list[str]:
    return [
        entry["path"].removeprefix("/xrpc/")
        for entry in recorder.entries("bluesky")[since:]
    ]


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * 4)))


async def session_of(
    http: httpx.AsyncClient, base_url: str, credentials: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(
        f"{base_url}/xrpc/com.atproto.server.createSession",
        json={
            "identifier": credentials["identifier"],
            "password": credentials["app_password"],
        },
    )
    assert response.status_code == 200
    return dict(response.json())


async def create(
    http: httpx.AsyncClient, base_url: str, session: dict[str, Any], body: Any
) -> httpx.Response:
    return await http.post(
        f"{base_url}/xrpc/com.atproto.repo.createRecord",
        json=body,
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
    )


def post_body(session: dict[str, Any], **record: Any) -> dict[str, Any]:
    return {
        "repo": session["did"],
        "collection": POST,
        "record": {
            "$type": POST,
            "text": "hello",
            "createdAt": "2026-01-05T10:00:00.000Z",
            **record,
        },
    }


def noise_png(side: int = 1500) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 100).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def small_png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_post_returns_its_uri_and_public_url(
    adapter: BlueskyAdapter,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    idempotency_key = key()

    receipt = await adapter.publish(
        base.Draft("hello from syndic", idempotency_key=idempotency_key), credentials
    )

    account = state.account(credentials["identifier"])
    assert account is not None
    rkey = richtext.derived_tid(idempotency_key, 0)
    assert receipt.remote_id == f"at://{account.did}/{POST}/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{account.handle}/post/{rkey}"
    (record,) = stored(state, credentials, receipt)
    assert record["text"] == "hello from syndic"
    assert record["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("text", "uri"),
    [
        ("Off to London 🇬🇧 https://example.org/trip", "https://example.org/trip"),
        (
            "Pairing today 👨🏼\u200d💻 https://example.org/pair",
            "https://example.org/pair",
        ),
        ("東京で会おう 🗼 https://example.org/tokyo", "https://example.org/tokyo"),
        ("𠀀 مرحبا 1️⃣ 👨\u200d👩\u200d👧 example.org/more", "https://example.org/more"),
    ],
)
async def test_stored_link_facets_cover_the_link_bytes(
    adapter: BlueskyAdapter,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
    text: str,
    uri: str,
) -> None:
    receipt = await adapter.publish(
        base.Draft(text, idempotency_key=key()), credentials
    )

    (record,) = stored(state, credentials, receipt)
    (facet,) = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert facet["features"] == [{"$type": richtext.LINK, "uri": uri}]
    covered = text.encode()[start:end].decode()
    assert uri in (covered, f"https://{covered}")


async def test_mentions_resolve_to_dids_and_unknown_ones_stay_text(
    adapter: BlueskyAdapter,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    did = state.add_handle("friend-uk.bsky.social")
    text = "🇬🇧 thanks @friend-uk.bsky.social and @nobody-here.bsky.social #thanks"

    receipt = await adapter.publish(
        base.Draft(text, idempotency_key=key()), credentials
    )

    (record,) = stored(state, credentials, receipt)
    features = [facet["features"][0] for facet in record["facets"]]
    assert features == [
        {"$type": richtext.MENTION, "did": did},
        {"$type": richtext.TAG, "tag": "thanks"},
    ]
    mention = record["facets"][0]["index"]
    assert (
        text.encode()[mention["byteStart"] : mention["byteEnd"]].decode()
        == "@friend-uk.bsky.social"
    )


async def test_a_thread_names_its_root_and_parent(
    adapter: BlueskyAdapter,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    text = " ".join(f"word{i}" for i in range(150)) + " https://example.org/end"

    receipt = await adapter.publish(
        base.Draft(text, {"split": True}, idempotency_key=key()), credentials
    )

    records = stored(state, credentials, receipt)
    posts = state.posts_of(credentials["identifier"])
    root = {"uri": receipt.remote_id, "cid": posts[receipt.remote_id]["cid"]}
    assert len(records) == len(receipt.extra_ids) + 1 >= 3
    assert "reply" not in records[0]
    for number, record in enumerate(records[1:], start=1):
        parent_uri = (receipt.remote_id, *receipt.extra_ids)[number - 1]
        assert record["reply"]["root"] == root
        assert record["reply"]["parent"] == {
            "uri": parent_uri,
            "cid": posts[parent_uri]["cid"],
        }
    assert all(richtext.index_past(record["text"]) is None for record in records)
    assert records[-1]["facets"][0]["features"][0]["uri"] == "https://example.org/end"


async def test_over_the_limits_without_split_is_refused_and_never_sent(
    adapter: BlueskyAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(recorder.entries("bluesky"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("🇬🇧" * 301), credentials)

    assert caught.value.code == "bluesky.text.too_many_graphemes"
    assert len(recorder.entries("bluesky")) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a" * 301, "Record/text must not be longer than 300 graphemes"),
        ("🇬🇧" * 301, "Record/text must not be longer than 300 graphemes"),
        (
            "👨\u200d👩\u200d👧\u200d👦" * 121,
            "Record/text must not be longer than 3000 characters",
        ),
    ],
)
async def test_the_emulator_refuses_text_over_the_limits(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    text: str,
    message: str,
) -> None:
    session = await session_of(http, base_url, credentials)

    response = await create(http, base_url, session, post_body(session, text=text))

    assert response.status_code == 400
    assert response.json() == {
        "error": "InvalidRequest",
        "message": f"Invalid {POST} record: {message}",
    }


async def test_the_emulator_accepts_exactly_the_limits(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    session = await session_of(http, base_url, credentials)

    graphemes = await create(
        http, base_url, session, post_body(session, text="🇬🇧" * 300)
    )
    size = await create(
        http,
        base_url,
        session,
        post_body(session, text="👨\u200d👩\u200d👧\u200d👦" * 120),
    )

    assert graphemes.status_code == 200
    assert size.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"collection": POST, "record": {}}, 'Input must have the property "repo"'),
        ("no record", 'Input must have the property "record"'),
        ("bad rkey", "record key syntax not valid (regex)"),
        (
            {"createdAt": "yesterday"},
            "Record/createdAt must be an valid atproto datetime",
        ),
        ({"text": 5}, "Record/text must be a string"),
        (
            {"facets": [{"features": []}]},
            'Record/facets/0 must have the property "index"',
        ),
        (
            {"facets": [{"index": {"byteStart": -1, "byteEnd": 2}, "features": []}]},
            "Record/facets/0/index/byteStart can not be less than 0",
        ),
        (
            {
                "facets": [
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [{"did": "x"}],
                    }
                ]
            },
            'Record/facets/0/features/0 must be an object which includes the "$type"',
        ),
        (
            {"reply": {"root": {"uri": "at://did:plc:x/p/1", "cid": "nope"}}},
            "Record/reply/root/cid must be a cid string",
        ),
        ({"reply": {"root": {}}}, 'Record/reply/root must have the property "uri"'),
        ({"langs": ["en", "fr", "de", "es"]}, "Record/langs must not have more than 3"),
        (
            {
                "embed": {
                    "$type": "app.bsky.embed.images",
                    "images": [{"alt": ""}] * 5,
                }
            },
            "Record/embed/images must not have more than 4 elements",
        ),
        ({"$type": "app.bsky.feed.like"}, "Invalid $type: expected app.bsky.feed.post"),
    ],
)
async def test_the_emulator_refuses_records_the_pds_refuses(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    body: Any,
    message: str,
) -> None:
    session = await session_of(http, base_url, credentials)
    if body == "no record":
        request = {"repo": session["did"], "collection": POST}
    elif body == "bad rkey":
        request = {**post_body(session), "rkey": "no/slashes"}
    elif "collection" in body:
        request = body
    else:
        request = post_body(session, **body)

    response = await create(http, base_url, session, request)

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert message in response.json()["message"]


async def test_the_emulator_checks_encoding_and_method_as_xrpc_does(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    session = await session_of(http, base_url, credentials)
    headers = {"Authorization": f"Bearer {session['accessJwt']}"}
    url = f"{base_url}/xrpc/com.atproto.repo.createRecord"

    text_body = await http.post(
        url, content=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    empty = await http.post(url, headers=headers)
    wrong_verb = await http.get(url, headers=headers)
    unknown = await http.get(f"{base_url}/xrpc/app.bsky.nothing.here")

    assert (
        text_body.json()["message"]
        == "Wrong request encoding (Content-Type): text/plain"
    )
    assert empty.json()["message"] == "A request body is expected but none was provided"
    assert wrong_verb.json()["message"] == "Incorrect HTTP method (GET) expected POST"
    assert (unknown.status_code, unknown.json()) == (
        501,
        {"error": "MethodNotImplemented", "message": "Method Not Implemented"},
    )


async def test_the_session_is_reused_and_its_jwts_decode(
    adapter: BlueskyAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
) -> None:
    before = len(recorder.entries("bluesky"))

    await adapter.publish(base.Draft("one", idempotency_key=key()), credentials)
    await adapter.publish(base.Draft("two", idempotency_key=key()), credentials)
    session = await session_of(http, base_url, credentials)

    assert paths(recorder, before).count("com.atproto.server.createSession") == 2
    access, refresh = claims(session["accessJwt"]), claims(session["refreshJwt"])
    assert 7100 < access["exp"] - time.time() <= 7200
    assert access["sub"] == session["did"]
    assert access["scope"] == "com.atproto.appPass"
    assert refresh["exp"] - time.time() > 80 * 24 * 3600
    assert "didDoc" not in session


async def test_an_expired_access_token_is_refreshed_and_the_call_retried(
    adapter: BlueskyAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    stale = await session_of(http, base_url, credentials)
    await adapter.publish(base.Draft("before", idempotency_key=key()), credentials)
    state.expire_access_tokens()
    before = len(recorder.entries("bluesky"))

    refused = await create(http, base_url, stale, post_body(stale))
    await adapter.publish(base.Draft("after", idempotency_key=key()), credentials)

    assert (refused.status_code, refused.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has expired"},
    )
    assert paths(recorder, before) == [
        "com.atproto.repo.createRecord",
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]


async def test_a_refused_refresh_token_falls_back_to_a_new_session(
    adapter: BlueskyAdapter,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    await adapter.publish(base.Draft("before", idempotency_key=key()), credentials)
    state.expire_access_tokens()
    state.revoke_refresh_tokens()
    before = len(recorder.entries("bluesky"))

    await adapter.publish(base.Draft("after", idempotency_key=key()), credentials)

    assert paths(recorder, before) == [
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
    ]


async def test_a_short_lived_session_is_refreshed_before_it_expires(
    adapter: BlueskyAdapter,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    state.access_lifetime = 2.0
    await adapter.publish(base.Draft("first", idempotency_key=key()), credentials)
    await asyncio.sleep(1.7)
    before = len(recorder.entries("bluesky"))

    await adapter.publish(base.Draft("second", idempotency_key=key()), credentials)

    assert paths(recorder, before) == [
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]


async def test_a_refresh_token_is_good_once(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    session = await session_of(http, base_url, credentials)
    url = f"{base_url}/xrpc/com.atproto.server.refreshSession"
    headers = {"Authorization": f"Bearer {session['refreshJwt']}"}

    first = await http.post(url, headers=headers)
    await asyncio.sleep(0.01)
    again = await http.post(url, headers=headers)

    assert first.status_code == 200
    assert claims(first.json()["accessJwt"])["sub"] == session["did"]
    assert (again.status_code, again.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has been revoked"},
    )


async def test_the_emulator_answers_bad_tokens_as_the_pds_does(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    session = await session_of(http, base_url, credentials)
    url = f"{base_url}/xrpc/com.atproto.server.getSession"
    forged = session["accessJwt"][:-4] + "AAAA"

    missing = await http.get(url)
    bad = await http.get(url, headers={"Authorization": f"Bearer {forged}"})
    refresh_as_access = await http.get(
        url, headers={"Authorization": f"Bearer {session['refreshJwt']}"}
    )
    fine = await http.get(
        url, headers={"Authorization": f"Bearer {session['accessJwt']}"}
    )

    assert (missing.status_code, missing.json()["error"]) == (401, "AuthMissing")
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "InvalidToken", "message": "Token could not be verified"},
    )
    assert refresh_as_access.json() == {
        "error": "InvalidToken",
        "message": "Bad token scope",
    }
    assert fine.json()["did"] == session["did"]


async def test_a_wrong_app_password_is_rejected_credentials(
    adapter: BlueskyAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
) -> None:
    wrong = {**credentials, "app_password": "aaaa-bbbb-cccc-dddd"}

    refused = await http.post(
        f"{base_url}/xrpc/com.atproto.server.createSession",
        json={"identifier": wrong["identifier"], "password": wrong["app_password"]},
    )
    with pytest.raises(base.CredentialsRejected):
        await adapter.publish(base.Draft("hi", idempotency_key=key()), wrong)

    assert (refused.status_code, refused.json()) == (
        401,
        {
            "error": "AuthenticationRequired",
            "message": "Invalid identifier or password",
        },
    )


async def test_a_retry_finds_the_post_already_there(
    adapter: BlueskyAdapter,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft("only once", idempotency_key=key())
    first = await adapter.publish(draft, credentials)
    before = len(recorder.entries("bluesky"))

    again = await adapter.publish(draft, credentials)

    assert again == first
    assert paths(recorder, before) == [
        "com.atproto.repo.createRecord",
        "com.atproto.repo.getRecord",
    ]
    texts = [
        p["value"]["text"] for p in state.posts_of(credentials["identifier"]).values()
    ]
    assert texts.count("only once") == 1


async def test_an_explicit_already_exists_answer_is_success_too(
    adapter: BlueskyAdapter, state: emulator.BlueskyState, credentials: dict[str, Any]
) -> None:
    state.duplicate_rkey = "explicit"
    draft = base.Draft("explicitly once", idempotency_key=key())
    first = await adapter.publish(draft, credentials)

    assert await adapter.publish(draft, credentials) == first


async def test_a_thread_that_failed_halfway_is_completed_by_a_retry(
    adapter: BlueskyAdapter, state: emulator.BlueskyState, credentials: dict[str, Any]
) -> None:
    draft = base.Draft("z" * 700, {"split": True}, idempotency_key=key())
    state.fail_next(500, after=1)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft, credentials)
    receipt = await adapter.publish(draft, credentials)

    assert caught.value.code == "server_error"
    records = stored(state, credentials, receipt)
    assert [len(record["text"]) for record in records] == [300, 300, 100]
    texts = [
        p["value"]["text"] for p in state.posts_of(credentials["identifier"]).values()
    ]
    assert texts.count("z" * 300) == 2


async def test_without_an_idempotency_key_a_later_failure_is_partial(
    adapter: BlueskyAdapter, state: emulator.BlueskyState, credentials: dict[str, Any]
) -> None:
    state.fail_next(500, after=1)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("y" * 400, {"split": True}), credentials)

    assert caught.value.code == "partially_published"


async def test_over_the_write_rate_the_emulator_answers_429_as_the_pds_does(
    adapter: BlueskyAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=6, per=3600.0)
    session = await session_of(http, base_url, credentials)
    for number in range(2):
        accepted = await create(
            http, base_url, session, post_body(session, text=f"{number}")
        )
        assert accepted.status_code == 200

    refused = await create(http, base_url, session, post_body(session))
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(
            base.Draft("one more", idempotency_key=key()), credentials
        )

    assert (refused.status_code, refused.json()) == (
        429,
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
    )
    assert refused.headers["RateLimit-Limit"] == "6"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Policy"] == "6;w=3600"
    assert time.time() < int(refused.headers["RateLimit-Reset"]) <= time.time() + 3601
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 3500 < caught.value.retry_after <= 3601


async def test_create_session_has_its_own_rate(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    state.session_rate_limit = _base.RateLimit(requests=2, per=300.0)
    for _ in range(2):
        await session_of(http, base_url, credentials)

    with pytest.raises(base.TransientError) as caught:
        await BlueskyAdapter(base_url, http, timeout=5.0).publish(
            base.Draft("hi", idempotency_key=key()), credentials
        )

    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 250 < caught.value.retry_after <= 301


async def test_a_forced_429_carries_its_retry_after(
    adapter: BlueskyAdapter, state: emulator.BlueskyState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=20)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi", idempotency_key=key()), credentials)

    assert caught.value.retry_after is not None
    assert 18 <= caught.value.retry_after <= 21


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors_are_transient(
    adapter: BlueskyAdapter,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi", idempotency_key=key()), credentials)

    assert caught.value.code == "server_error"


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = BlueskyAdapter(f"{closed_origin}/bluesky", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi", idempotency_key=key()), credentials)

    assert caught.value.sent is False


async def test_a_large_image_is_recompressed_under_the_blob_limit(
    adapter: BlueskyAdapter,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    big = base.Media("image/png", noise_png(), "noise.png", "static on a screen")
    small = base.Media("image/png", small_png(), "small.png")
    before = len(recorder.entries("bluesky"))

    receipt = await adapter.publish(
        base.Draft("look", media=(big, small), idempotency_key=key()), credentials
    )

    uploads = [
        entry["body"]
        for entry in recorder.entries("bluesky")[before:]
        if entry["path"] == "/xrpc/com.atproto.repo.uploadBlob"
    ]
    assert uploads[0]["content_type"] == "image/jpeg"
    assert uploads[0]["size"] <= 1_000_000 < len(big.data)
    assert uploads[1] == {"content_type": "image/png", "size": len(small.data)}
    (record,) = stored(state, credentials, receipt)
    images = record["embed"]["images"]
    assert record["embed"]["$type"] == "app.bsky.embed.images"
    assert [image["alt"] for image in images] == ["static on a screen", ""]
    assert images[0]["image"]["mimeType"] == "image/jpeg"
    assert images[1]["aspectRatio"] == {"width": 40, "height": 30}


async def test_the_blob_limit_is_configurable(
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    state.blob_limit = 2_000_000
    adapter = BlueskyAdapter(base_url, http, timeout=5.0, blob_limit=2_000_000)
    image = base.Media("image/png", noise_png(900), "noise.png")
    assert 1_000_000 < len(image.data) <= 2_000_000

    await adapter.publish(
        base.Draft("", media=(image,), idempotency_key=key()), credentials
    )

    upload = recorder.entries("bluesky")[-2]["body"]
    assert upload == {"content_type": "image/png", "size": len(image.data)}


async def test_the_emulator_refuses_blobs_the_pds_refuses(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.BlueskyState,
    credentials: dict[str, Any],
) -> None:
    session = await session_of(http, base_url, credentials)
    headers = {"Authorization": f"Bearer {session['accessJwt']}"}
    upload_url = f"{base_url}/xrpc/com.atproto.repo.uploadBlob"
    big = await http.post(
        upload_url,
        content=noise_png(),
        headers={**headers, "Content-Type": "image/png"},
    )
    small = await http.post(
        upload_url,
        content=small_png(),
        headers={**headers, "Content-Type": "image/jpeg"},
    )
    other = await session_of(http, base_url, state.add_account())
    foreign = await http.post(
        upload_url,
        content=small_png(8, 8),
        headers={
            "Authorization": f"Bearer {other['accessJwt']}",
            "Content-Type": "image/png",
        },
    )

    def embed(blob: dict[str, Any]) -> dict[str, Any]:
        return {
            "$type": "app.bsky.embed.images",
            "images": [{"image": blob, "alt": ""}],
        }

    small_blob = small.json()["blob"]
    too_big = await create(
        http, base_url, session, post_body(session, embed=embed(big.json()["blob"]))
    )
    wrong_mime = await create(
        http,
        base_url,
        session,
        post_body(session, embed=embed({**small_blob, "mimeType": "image/jpeg"})),
    )
    wrong_size = await create(
        http,
        base_url,
        session,
        post_body(session, embed=embed({**small_blob, "size": 1})),
    )
    not_mine = await create(
        http, base_url, session, post_body(session, embed=embed(foreign.json()["blob"]))
    )

    assert small_blob["mimeType"] == "image/png"  # sniffed, not as declared
    assert too_big.json()["message"].endswith("file too big (max 1000000 bytes)")
    assert wrong_mime.json()["error"] == "InvalidMimeType"
    assert wrong_size.json()["error"] == "InvalidSize"
    assert not_mine.json()["error"] == "BlobNotFound"


async def test_resolve_handle_answers_as_the_pds_does(
    base_url: str, http: httpx.AsyncClient, state: emulator.BlueskyState
) -> None:
    did = state.add_handle("known.bsky.social")
    url = f"{base_url}/xrpc/com.atproto.identity.resolveHandle"

    known = await http.get(url, params={"handle": "Known.bsky.social"})
    unknown = await http.get(url, params={"handle": "unknown.bsky.social"})
    missing = await http.get(url)

    assert known.json() == {"did": did}
    assert (unknown.status_code, unknown.json()["error"]) == (400, "HandleNotFound")
    assert missing.json()["message"] == 'Params must have the property "handle"'


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: BlueskyAdapter,
) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(
        base.Draft("sandbox", idempotency_key=key()), credentials
    )

    assert receipt.url is not None
    assert receipt.url.startswith(
        f"https://bsky.app/profile/{emulator.SANDBOX_HANDLE}/post/"
    )


async def test_the_recorder_and_the_logs_never_hold_a_secret(
    adapter: BlueskyAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="syndic.platforms")
    session = await session_of(http, base_url, credentials)

    await adapter.publish(
        base.Draft(
            "secretless",
            media=(base.Media("image/png", small_png()),),
            idempotency_key=key(),
        ),
        credentials,
    )

    recorded = json.dumps(recorder.entries())
    logged = [str(record.__dict__) for record in caplog.records]
    assert "com.atproto.server.createSession" in recorded
    assert "platform_call" in [record.getMessage() for record in caplog.records]
    for secret in (
        credentials["app_password"],
        session["accessJwt"],
        session["refreshJwt"],
    ):
        assert secret not in recorded
        assert all(secret not in line for line in logged)
