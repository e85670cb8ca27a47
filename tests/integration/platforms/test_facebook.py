"""The Facebook adapter against the Facebook (Graph API) emulator over real HTTP."""

from __future__ import annotations

import asyncio
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
from syndic.platforms.emulators import facebook as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.facebook import FacebookAdapter

VERSION = "v25.0"


@pytest.fixture(scope="session")
def served(serve_emulator: Callable[[Any], Any]) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/facebook"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.FacebookState]:
    facebook_state = emulator.EMULATOR.state(served.app)
    yield facebook_state
    facebook_state.clear_faults()
    facebook_state.rate_limit = emulator.FacebookState.default_rate_limit


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> FacebookAdapter:
    return FacebookAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(
    state: emulator.FacebookState, adapter: FacebookAdapter
) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def settings(**values: Any) -> config.Settings:
    names = (
        "api_token_secret",
        "internal_api_secret",
        "lemon_webhook_secret",
        "credentials_key",
    )
    secret = {name: secrets.token_hex(32) for name in names}
    return config.Settings(_env_file=None, **secret, **values)


def photo(kind: str = "PNG", name: str = "p.png", alt: str = "") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (5, 3)).save(buffer, format=kind)
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}
    return base.Media(content_type[kind], buffer.getvalue(), name, alt=alt)


def stored(state: emulator.FacebookState, receipt: base.Receipt) -> dict[str, Any]:
    post = state.post(receipt.remote_id)
    assert post is not None
    return post


def edge_url(base_url: str, credentials: dict[str, Any], edge: str) -> str:
    return f"{base_url}/{VERSION}/{credentials['page_id']}/{edge}"


def graph_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] in ("OAuthException", "GraphMethodException")
    assert error["fbtrace_id"]
    return error


async def test_a_text_post_returns_its_page_post_id_and_url(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    receipt = await adapter.publish(base.Draft("hello Page"), credentials)

    page_id, _, post_id = receipt.remote_id.partition("_")
    assert (page_id, post_id.isdigit()) == (credentials["page_id"], True)
    assert receipt.url == f"https://www.facebook.com/{receipt.remote_id}"
    assert stored(state, receipt)["message"] == "hello Page"


async def test_the_token_goes_in_the_body_and_the_version_in_the_path(
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
) -> None:
    configured = settings(facebook_api_version="v24.0", platform_timeout=5.0)
    adapter = FacebookAdapter(base_url, http, settings=configured)

    await adapter.publish(base.Draft("versioned"), credentials)

    entry = recorder.entries("facebook")[-1]
    assert entry["path"] == f"/v24.0/{credentials['page_id']}/feed"
    assert entry["query"] == {}
    assert entry["body"] == {"message": "versioned", "access_token": "***"}


async def test_a_link_is_sent_with_the_message(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    draft = base.Draft("read this", {"link": "https://example.org/post"})

    receipt = await adapter.publish(draft, credentials)

    assert stored(state, receipt)["link"] == "https://example.org/post"


async def test_one_photo_is_a_photo_post_with_the_text(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    receipt = await adapter.publish(
        base.Draft("a picture", media=(photo(alt="a dot"),)), credentials
    )

    post = stored(state, receipt)
    [photo_id] = post["attachments"]
    uploaded = state.photo(photo_id)
    assert uploaded is not None
    assert (post["message"], uploaded.published, uploaded.alt_text) == (
        "a picture",
        True,
        "a dot",
    )


async def test_several_photos_are_uploaded_unpublished_then_attached_in_order(
    adapter: FacebookAdapter,
    recorder: Recorder,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    media = (photo(), photo("JPEG", "b.jpg"), photo("GIF", "c.gif"))

    receipt = await adapter.publish(base.Draft("album", media=media), credentials)

    post = stored(state, receipt)
    uploads = [state.photo(photo_id) for photo_id in post["attachments"]]
    assert [(p.size, p.published) for p in uploads if p] == [
        (len(item.data), False) for item in media
    ]
    feed = recorder.entries("facebook")[-1]["body"]
    assert json.loads(feed["attached_media[2]"]) == {
        "media_fbid": post["attachments"][2]
    }


async def test_a_failed_upload_publishes_nothing(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    state.fail_next(500, after=1)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(
            base.Draft("album", media=(photo(), photo())), credentials
        )

    assert caught.value.code == "server_error"
    page = state.page(credentials["page_id"])
    assert page is not None
    assert list(page.posts) == []


@pytest.mark.parametrize(
    ("spoil", "match"),
    [
        ("unknown", "subcode 467"),
        ("expire", "subcode 463"),
        ("invalidate", "subcode 467"),
        ("other_page", "pages_manage_posts"),
    ],
)
async def test_refused_tokens_are_rejected_credentials(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
    spoil: str,
    match: str,
) -> None:
    if spoil == "unknown":
        credentials = {**credentials, "access_token": "EAA" + "z" * 40}
    elif spoil == "other_page":
        credentials = {**credentials, "page_id": state.add_account()["page_id"]}
    else:
        getattr(state, spoil)(credentials["access_token"])

    with pytest.raises(base.CredentialsRejected, match=match):
        await adapter.publish(base.Draft("hi"), credentials)


async def test_a_token_without_publishing_permission_is_rejected_credentials(
    adapter: FacebookAdapter, state: emulator.FacebookState
) -> None:
    credentials = adapter.check_credentials(state.add_account(can_post=False))

    with pytest.raises(base.CredentialsRejected, match=r"code 200"):
        await adapter.publish(base.Draft("hi"), credentials)


async def test_the_emulator_answers_token_errors_as_graph_does(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = edge_url(base_url, credentials, "feed")

    missing = await http.post(url, data={"message": "x"})
    malformed = await http.post(url, data={"message": "x", "access_token": "EA A"})
    header = await http.post(
        url,
        data={"message": "by header"},
        headers={"Authorization": f"OAuth {credentials['access_token']}"},
    )

    assert (missing.status_code, graph_error(missing)["code"]) == (400, 104)
    assert (malformed.status_code, graph_error(malformed)["code"]) == (400, 190)
    assert header.status_code == 200


MALFORMED = [
    ("feed", {}, None, 100, "(#100) Missing message or attachment"),
    ("feed", {"message": "x" * 63_207}, None, 100, "too long"),
    ("feed", {"message": "x", "link": "not a url"}, None, 100, "link"),
    (
        "feed",
        {"message": "x", "attached_media[0]": '{"media_fbid": "1"}'},
        None,
        100,
        "attached_media[0]",
    ),
    ("feed", {"message": "x", "attached_media[0]": "{oops"}, None, 100, "JSON"),
    ("photos", {"message": "x"}, None, 324, "(#324) Requires upload file"),
    (
        "photos",
        {},
        {"source": ("a.png", b"not a picture", "image/png")},
        324,
        "invalid image",
    ),
    (
        "photos",
        {"published": "maybe", "url": "https://e.org/a.png"},
        None,
        100,
        "boolean",
    ),
    ("comments", {"message": "x"}, None, 100, "nonexisting field (comments)"),
]


@pytest.mark.parametrize(("edge", "data", "files", "code", "message"), MALFORMED)
async def test_the_emulator_refuses_malformed_calls(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.FacebookState,
    edge: str,
    data: dict[str, str],
    files: dict[str, Any] | None,
    code: int,
    message: str,
) -> None:
    credentials = state.add_account()
    data = {**data, "access_token": credentials["access_token"]}

    response = await http.post(
        edge_url(base_url, credentials, edge), data=data, files=files
    )

    error = graph_error(response)
    assert (response.status_code, error["code"]) == (400, code)
    assert message in error["message"]
    page = state.page(credentials["page_id"])
    assert page is not None
    assert list(page.posts) == []


async def test_published_or_foreign_photos_cannot_be_attached(
    base_url: str, http: httpx.AsyncClient, state: emulator.FacebookState
) -> None:
    mine, theirs = state.add_account(), state.add_account()
    picture = photo()

    async def upload(account: dict[str, Any], published: str) -> str:
        response = await http.post(
            edge_url(base_url, account, "photos"),
            data={"published": published, "access_token": account["access_token"]},
            files={"source": (picture.filename, picture.data, picture.content_type)},
        )
        return str(response.json()["id"])

    for photo_id in (await upload(mine, "true"), await upload(theirs, "false")):
        response = await http.post(
            edge_url(base_url, mine, "feed"),
            data={
                "attached_media[0]": json.dumps({"media_fbid": photo_id}),
                "access_token": mine["access_token"],
            },
        )
        assert graph_error(response)["code"] == 100


async def test_versions_graph_does_not_have_are_unknown_paths(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    data = {"message": "x", "access_token": credentials["access_token"]}

    future = await http.post(
        f"{base_url}/v99.0/{credentials['page_id']}/feed", data=data
    )
    old = await http.post(f"{base_url}/v2.0/{credentials['page_id']}/feed", data=data)

    assert graph_error(future)["code"] == 2500
    assert old.status_code == 200


async def test_over_the_limit_is_a_problem_and_nothing_is_sent(
    adapter: FacebookAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(recorder.entries("facebook"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("x" * 63_207), credentials)

    assert caught.value.code == "facebook.text.too_long"
    assert len(recorder.entries("facebook")) == before


async def test_throttling_is_error_80001_not_429_with_the_wait_in_a_header(
    adapter: FacebookAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=2, per=90.0)
    first = await http.post(
        edge_url(base_url, credentials, "feed"),
        data={"message": "one", "access_token": credentials["access_token"]},
    )
    await adapter.publish(base.Draft("two"), credentials)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("three"), credentials)

    usage = json.loads(first.headers["X-Business-Use-Case-Usage"])
    assert usage[credentials["page_id"]][0]["call_count"] == 50
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after in (60.0, 120.0)
    throttled = await http.post(
        edge_url(base_url, credentials, "feed"),
        data={"message": "four", "access_token": credentials["access_token"]},
    )
    error = graph_error(throttled)
    assert (throttled.status_code, error["code"], error["is_transient"]) == (
        400,
        80001,
        True,
    )


async def test_a_forced_throttle_carries_its_wait(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    state.fail_next(429, retry_after=150)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert (caught.value.code, caught.value.retry_after) == ("rate_limited", 180.0)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_transient(
    adapter: FacebookAdapter,
    state: emulator.FacebookState,
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
    adapter = FacebookAdapter(f"{closed_origin}/facebook", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.sent is False


async def test_a_retry_after_a_lost_answer_returns_the_first_post(
    adapter: FacebookAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.FacebookState,
    credentials: dict[str, Any],
) -> None:
    impatient = FacebookAdapter(base_url, http, timeout=0.3)
    state.stall_next(0.8)
    with pytest.raises(base.TransientError) as caught:
        await impatient.publish(base.Draft("exactly once"), credentials)
    assert caught.value.code == "timeout"
    await asyncio.sleep(0.8)

    receipt = await adapter.publish(base.Draft("exactly once"), credentials)

    page = state.page(credentials["page_id"])
    assert page is not None
    assert [post["id"] for post in page.posts] == [receipt.remote_id]


async def test_a_duplicate_out_of_sight_is_permanent(
    adapter: FacebookAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
) -> None:
    url = edge_url(base_url, credentials, "feed")
    token = credentials["access_token"]
    await http.post(url, data={"message": "old news", "access_token": token})
    for number in range(10):
        await http.post(url, data={"message": f"later {number}", "access_token": token})

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("old news"), credentials)

    assert caught.value.code == "duplicate"
    assert "(#506) Duplicate status message" in caught.value.message


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: FacebookAdapter,
) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(
        base.Draft(f"sandbox {secrets.token_hex(4)}"), credentials
    )

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_a_token(
    adapter: FacebookAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = credentials["access_token"]
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("clean", media=(photo(), photo())), credentials)
    await http.get(
        edge_url(base_url, credentials, "feed"), params={"access_token": token}
    )
    await http.get(f"{base_url}/nowhere", params={"access_token": token})

    recorded = json.dumps(recorder.entries("facebook"))
    assert token not in recorded
    calls = [r for r in caplog.records if r.getMessage() == "platform_call"]
    assert [getattr(r, "endpoint", None) for r in calls] == [
        "page_photos",
        "page_photos",
        "page_feed",
    ]
    assert all(token not in str(record.__dict__) for record in caplog.records)
