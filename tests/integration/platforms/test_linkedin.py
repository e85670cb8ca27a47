"""The LinkedIn adapter against the LinkedIn emulator over real HTTP."""

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
from syndic.platforms.emulators import _base, linkedin_little
from syndic.platforms.emulators import linkedin as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.linkedin import LinkedInAdapter

VERSION = "202611"
DROP = object()  # a field to leave out of the body


@pytest.fixture(scope="session")
def served(serve_emulator: Callable[[Any], Any]) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/linkedin"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.LinkedInState]:
    linkedin_state = emulator.EMULATOR.state(served.app)
    yield linkedin_state
    linkedin_state.clear_faults()
    linkedin_state.rate_limit = emulator.LinkedInState.default_rate_limit
    linkedin_state.retired_versions.clear()


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> LinkedInAdapter:
    return LinkedInAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(
    state: emulator.LinkedInState, adapter: LinkedInAdapter
) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def settings(**values: Any) -> config.Settings:
    secret = {
        name: secrets.token_hex(32)
        for name in (
            "api_token_secret",
            "internal_api_secret",
            "lemon_webhook_secret",
            "credentials_key",
        )
    }
    return config.Settings(_env_file=None, **secret, **values)


def headers(token: str, version: str = VERSION) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": version,
        "X-Restli-Protocol-Version": "2.0.0",
    }


def post_body(author: str, commentary: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
        **extra,
    }


def stored(state: emulator.LinkedInState, receipt: base.Receipt) -> dict[str, Any]:
    post = state.post(receipt.remote_id)
    assert post is not None
    return post


def picture(kind: str = "PNG", name: str = "p.png", alt: str = "") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 4)).save(buffer, format=kind)
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif"}
    return base.Media(content_type[kind], buffer.getvalue(), name, alt=alt)


async def test_a_post_returns_its_urn_and_feed_url(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    receipt = await adapter.publish(base.Draft("hello LinkedIn"), credentials)

    assert receipt.remote_id.startswith("urn:li:share:")
    assert receipt.url == f"https://www.linkedin.com/feed/update/{receipt.remote_id}/"
    post = stored(state, receipt)
    assert post["author"] == credentials["author"]
    assert post["text"] == "hello LinkedIn"
    assert post["visibility"] == "PUBLIC"
    assert post["lifecycleState"] == "PUBLISHED"


async def test_every_rest_call_names_the_version_and_the_protocol(
    base_url: str, state: emulator.LinkedInState, credentials: dict[str, Any]
) -> None:
    sent: list[httpx.Request] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(request)

    configured = settings(linkedin_version="202510", platform_timeout=5.0)
    async with httpx.AsyncClient(
        trust_env=False, event_hooks={"request": [keep]}
    ) as client:
        adapter = LinkedInAdapter(base_url, client, settings=configured)
        await adapter.publish(base.Draft("versioned", media=(picture(),)), credentials)

    rest = [request for request in sent if "/rest/" in request.url.path]
    assert [request.url.path.rsplit("/", 1)[-1] for request in rest] == [
        "images",
        "posts",
    ]
    for request in rest:
        assert request.headers["LinkedIn-Version"] == "202510"
        assert request.headers["X-Restli-Protocol-Version"] == "2.0.0"
        assert (
            request.headers["Authorization"] == f"Bearer {credentials['access_token']}"
        )


@pytest.mark.parametrize("char", sorted(linkedin_little.RESERVED))
async def test_every_reserved_character_arrives_whole(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
    char: str,
) -> None:
    text = f"Release {char} notes ({char}) end"

    receipt = await adapter.publish(base.Draft(text), credentials)

    post = stored(state, receipt)
    assert post["text"] == text
    assert post["truncated"] is False


@pytest.mark.parametrize("char", sorted(linkedin_little.RESERVED))
async def test_sent_bare_a_reserved_character_cuts_the_post_silently(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.LinkedInState,
    char: str,
) -> None:
    account = state.add_account()
    body = post_body(account["author"], f"Release {char} notes")

    response = await http.post(
        f"{base_url}/rest/posts", json=body, headers=headers(account["access_token"])
    )

    assert response.status_code == 201
    post = state.post(response.headers["x-restli-id"])
    assert post is not None
    assert post["text"] == "Release "
    assert post["truncated"] is True


@pytest.mark.parametrize(
    "text",
    [
        "Off to London 🇬🇧 (trip) https://example.org/a_b",
        "Pairing today 👨🏼‍💻 [pair] #pairing",
        "東京で会おう 🗼 <tokyo> {meetup}",
        "مرحبا *بالعالم* ~ها~ | #عربي",  # noqa: RUF001
        "C:\\Users\\me and snake_case and me@example.org",
    ],
)
async def test_other_scripts_and_emoji_arrive_whole(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
    text: str,
) -> None:
    receipt = await adapter.publish(base.Draft(text), credentials)

    assert stored(state, receipt)["text"] == text


async def test_hashtags_and_mentions_stay_elements(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    plain = await adapter.publish(base.Draft("New #release (v2)"), credentials)
    markup = await adapter.publish(
        base.Draft("Thanks @[Acme](urn:li:organization:42)!", {"markup": True}),
        credentials,
    )

    assert stored(state, plain)["hashtags"] == ["release"]
    assert stored(state, markup)["text"] == "Thanks Acme!"
    assert stored(state, markup)["mentions"] == ["urn:li:organization:42"]


async def test_options_reach_the_post(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    options = {
        "visibility": "CONNECTIONS",
        "disable_reshare": True,
        "article": {"source": "https://example.org/post", "title": "Read me"},
    }

    receipt = await adapter.publish(base.Draft("link", options), credentials)

    post = stored(state, receipt)
    assert post["visibility"] == "CONNECTIONS"
    assert post["isReshareDisabledByAuthor"] is True
    assert post["content"] == {
        "article": {"source": "https://example.org/post", "title": "Read me"}
    }


async def test_an_organization_posts_as_itself(
    adapter: LinkedInAdapter, state: emulator.LinkedInState
) -> None:
    credentials = adapter.check_credentials(state.add_account(organization=True))

    receipt = await adapter.publish(base.Draft("from the page"), credentials)

    assert stored(state, receipt)["author"].startswith("urn:li:organization:")


async def test_one_image_goes_in_media_with_its_alt_text(
    adapter: LinkedInAdapter,
    recorder: Recorder,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    media = (picture(alt="a tiny picture"),)

    receipt = await adapter.publish(base.Draft("look", media=media), credentials)

    content = stored(state, receipt)["content"]
    image = state.image(content["media"]["id"])
    assert image is not None
    assert (image.status, image.size, image.owner) == (
        "AVAILABLE",
        len(media[0].data),
        credentials["author"],
    )
    assert content["media"]["altText"] == "a tiny picture"
    upload = [e for e in recorder.entries("linkedin") if e["method"] == "PUT"][-1]
    assert upload["query"] == {"ut": "***"}
    assert upload["body"] == {"content_type": "image/png", "size": len(media[0].data)}


async def test_several_images_go_in_multi_image_in_order(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    media = (picture(), picture("JPEG", "b.jpg"), picture("GIF", "c.gif"))

    receipt = await adapter.publish(base.Draft("album", media=media), credentials)

    images = stored(state, receipt)["content"]["multiImage"]["images"]
    sizes = [state.image(image["id"]).size for image in images]  # type: ignore[union-attr]
    assert sizes == [len(item.data) for item in media]


async def test_the_emulator_refuses_images_that_are_not_ready_or_not_the_authors(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account, other = state.add_account(), state.add_account()
    token = account["access_token"]
    waiting = state.new_image(account["author"])
    broken = state.new_image(account["author"])
    state.set_image(broken, "PROCESSING_FAILED", 3)
    foreign = state.new_image(other["author"])
    state.set_image(foreign, "AVAILABLE", 3)
    url = f"{base_url}/rest/posts"

    answers = [
        await http.post(
            url,
            json=post_body(account["author"], content={"media": {"id": urn}}),
            headers=headers(token),
        )
        for urn in (waiting.urn, broken.urn, foreign.urn, "urn:li:image:nope")
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (400, "MEDIA_ASSET_WAITING_UPLOAD"),
        (400, "MEDIA_ASSET_PROCESSING_FAILED"),
        (400, "INVALID_CONTENT_OWNERSHIP"),
        (400, "INVALID_IMAGE_ID"),
    ]


async def test_an_unreadable_upload_fails_processing(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()
    token = account["access_token"]
    started = await http.post(
        f"{base_url}/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": account["author"]}},
        headers=headers(token),
    )
    value = started.json()["value"]

    put = await http.put(
        value["uploadUrl"],
        content=b"not an image",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert put.status_code == 201
    image = state.image(value["image"])
    assert image is not None
    assert image.status == "PROCESSING_FAILED"


async def test_an_image_for_someone_else_is_access_denied(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account, other = state.add_account(), state.add_account()

    response = await http.post(
        f"{base_url}/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": other["author"]}},
        headers=headers(account["access_token"]),
    )

    assert response.status_code == 403
    assert response.json()["code"] == "ACCESS_DENIED"


MALFORMED = [
    (
        {"author": DROP},
        422,
        "/author :: field is required but not found and has no default value",
    ),
    (
        {"distribution": DROP},
        422,
        "/distribution :: field is required but not found",
    ),
    (
        {"visibility": "EVERYONE"},
        422,
        '/visibility :: "EVERYONE" is not an enum symbol',
    ),
    ({"commentary": 5}, 422, "/commentary :: 5 is not backed by a String"),
    ({"shareCommentary": "x"}, 422, "/shareCommentary :: unrecognized field"),
    (
        {"distribution": {"feedDistribution": "MAIN_FEED", "targetEnties": []}},
        422,
        "/distribution/targetEnties :: unrecognized field found but not allowed",
    ),
    (
        {"content": {"multiImage": {"images": [{"id": "urn:li:image:a"}]}}},
        422,
        "array size 1 is out of range 2...20",
    ),
    ({"lifecycleState": "PUBLISH_REQUESTED"}, 400, "INVALID_VALUE_FOR_FIELD"),
    ({"commentary": "   "}, 400, "INVALID_VALUE_BLANK_FIELD"),
    ({"author": "urn:li:company:1"}, 400, "INVALID_URN_TYPE"),
    ({"author": "urn:li:person:someone_else"}, 403, "ACCESS_DENIED"),
]


@pytest.mark.parametrize(("change", "status", "expected"), MALFORMED)
async def test_the_emulator_refuses_malformed_bodies(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.LinkedInState,
    change: dict[str, Any],
    status: int,
    expected: str,
) -> None:
    account = state.add_account()
    body = {**post_body(account["author"]), **change}
    body = {key: value for key, value in body.items() if value is not DROP}

    response = await http.post(
        f"{base_url}/rest/posts", json=body, headers=headers(account["access_token"])
    )

    answer = response.json()
    assert response.status_code == status
    assert expected in answer["message"] or expected == answer.get("code")
    assert all(post["author"] != account["author"] for post in state.posts)


async def test_invalid_json_is_refused(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()

    response = await http.post(
        f"{base_url}/rest/posts",
        content=b"{not json",
        headers={
            **headers(account["access_token"]),
            "Content-Type": "application/json",
        },
    )

    assert response.status_code == 400


async def test_the_version_header_is_required_and_must_be_active(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()
    body = post_body(account["author"])
    token_only = {"Authorization": f"Bearer {account['access_token']}"}
    state.retired_versions.add("202501")

    missing = await http.post(f"{base_url}/rest/posts", json=body, headers=token_only)
    retired = await http.post(
        f"{base_url}/rest/posts",
        json=body,
        headers=headers(account["access_token"], "202501"),
    )
    future = await http.post(
        f"{base_url}/rest/posts",
        json=body,
        headers=headers(account["access_token"], "209912"),
    )

    assert (missing.status_code, missing.json()["code"]) == (400, "VERSION_MISSING")
    assert (retired.status_code, retired.json()) == (
        426,
        {
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": "Requested version 20250101 is not active",
        },
    )
    assert future.status_code == 426


async def test_a_retired_version_is_permanent_and_says_what_to_change(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    state.retired_versions.add("202410")
    adapter = LinkedInAdapter(
        base_url, http, settings=settings(linkedin_version="202410")
    )

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("old"), credentials)

    assert caught.value.code == "version_retired"
    assert "SYNDIC_LINKEDIN_VERSION" in caught.value.message


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (None, "Invalid access token"),
        ("expire", "has expired"),
        ("revoke", "revoked"),
    ],
)
async def test_bad_expired_and_revoked_tokens_are_rejected_credentials(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
    spoil: str | None,
    message: str,
) -> None:
    if spoil is None:
        credentials = {**credentials, "access_token": "AQ" + "w" * 60}
    else:
        getattr(state, spoil)(credentials["access_token"])

    with pytest.raises(base.CredentialsRejected, match=message):
        await adapter.publish(base.Draft("hi"), credentials)


async def test_the_emulator_answers_token_errors_as_linkedin_does(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()
    state.expire(account["access_token"])
    body = post_body(account["author"])

    expired = await http.post(
        f"{base_url}/rest/posts", json=body, headers=headers(account["access_token"])
    )
    no_token = await http.post(
        f"{base_url}/rest/posts", json=body, headers={"LinkedIn-Version": VERSION}
    )

    assert (expired.status_code, expired.json()) == (
        401,
        {
            "status": 401,
            "serviceErrorCode": 65602,
            "code": "EXPIRED_ACCESS_TOKEN",
            "message": "The token used in the request has expired",
        },
    )
    assert (no_token.status_code, no_token.json()["code"]) == (
        401,
        "EMPTY_ACCESS_TOKEN",
    )


async def test_posting_for_an_author_the_token_does_not_hold_is_rejected_credentials(
    adapter: LinkedInAdapter, state: emulator.LinkedInState, credentials: dict[str, Any]
) -> None:
    other = state.add_account(organization=True)
    borrowed = {**credentials, "author": other["author"]}

    with pytest.raises(base.CredentialsRejected, match="w_organization_social"):
        await adapter.publish(base.Draft("not mine"), borrowed)


async def test_over_the_limit_is_a_problem_and_nothing_is_sent(
    adapter: LinkedInAdapter,
    recorder: Recorder,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    before = len(recorder.entries("linkedin"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(base.Draft("x" * 3001), credentials)

    assert caught.value.code == "linkedin.text.too_long"
    assert len(recorder.entries("linkedin")) == before


@pytest.mark.parametrize(
    ("commentary", "status"),
    [
        ("x" * 3000, 201),
        ("x" * 3001, 400),
        ("😀" * 1500, 201),
        ("😀" * 1501, 400),
        ("\\(" * 3000, 201),
    ],
)
async def test_the_emulator_limits_the_shown_text_in_utf16_units(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.LinkedInState,
    commentary: str,
    status: int,
) -> None:
    account = state.add_account()

    response = await http.post(
        f"{base_url}/rest/posts",
        json=post_body(account["author"], commentary),
        headers=headers(account["access_token"]),
    )

    assert response.status_code == status
    if status == 400:
        body = response.json()
        assert "exceeded the maximum allowed (3000 characters)" in body["message"]
        assert body["errorDetails"]["inputErrors"][0]["code"] == (
            "FIELD_ARRAY_SIZE_TOO_HIGH"
        )


async def test_over_the_daily_quota_the_answer_is_429_without_headers(
    adapter: LinkedInAdapter,
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=2, per=86_400.0)
    await adapter.publish(base.Draft("one"), credentials)
    await adapter.publish(base.Draft("two"), credentials)

    direct = await http.post(
        f"{base_url}/rest/posts",
        json=post_body(credentials["author"], "three"),
        headers=headers(credentials["access_token"]),
    )
    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("three"), credentials)

    assert direct.status_code == 429
    assert direct.json()["code"] == "TOO_MANY_REQUESTS"
    assert "DAY limit" in direct.json()["message"]
    assert "Retry-After" not in direct.headers
    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 86_400


async def test_a_forced_429_carries_its_retry_after(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    state.fail_next(429, retry_after=3)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert (caught.value.code, caught.value.retry_after) == ("rate_limited", 3.0)


@pytest.mark.parametrize("status", [500, 503, 504])
async def test_server_errors_are_transient(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.code == "server_error"
    assert caught.value.sent is True


async def test_a_failed_upload_publishes_nothing(
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    state.fail_next(503, after=1)

    with pytest.raises(base.TransientError):
        await adapter.publish(base.Draft("pic", media=(picture(),)), credentials)

    assert all(post["author"] != credentials["author"] for post in state.posts)


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = LinkedInAdapter(f"{closed_origin}/linkedin", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(base.Draft("hi"), credentials)

    assert caught.value.sent is False


async def test_a_retry_after_a_lost_answer_returns_the_first_post(
    base_url: str,
    http: httpx.AsyncClient,
    adapter: LinkedInAdapter,
    state: emulator.LinkedInState,
    credentials: dict[str, Any],
) -> None:
    impatient = LinkedInAdapter(base_url, http, timeout=0.3)
    state.stall_next(0.8)
    with pytest.raises(base.TransientError) as caught:
        await impatient.publish(base.Draft("exactly once"), credentials)
    assert caught.value.code == "timeout"
    await asyncio.sleep(0.8)

    receipt = await adapter.publish(base.Draft("exactly once"), credentials)

    mine = [post for post in state.posts if post["author"] == credentials["author"]]
    assert [post["id"] for post in mine] == [receipt.remote_id]


async def test_the_emulator_names_the_first_post_of_a_duplicate(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()
    body = post_body(account["author"], "same words")
    first = await http.post(
        f"{base_url}/rest/posts", json=body, headers=headers(account["access_token"])
    )

    again = await http.post(
        f"{base_url}/rest/posts", json=body, headers=headers(account["access_token"])
    )

    assert again.status_code == 422
    assert again.json()["message"].endswith(
        f"Content is a duplicate of {first.headers['x-restli-id']}"
    )
    assert again.json()["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"


async def test_userinfo_names_the_person(
    base_url: str, http: httpx.AsyncClient, state: emulator.LinkedInState
) -> None:
    account = state.add_account()

    response = await http.get(
        f"{base_url}/v2/userinfo",
        headers={"Authorization": f"Bearer {account['access_token']}"},
    )

    assert f"urn:li:person:{response.json()['sub']}" == account["author"]


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: LinkedInAdapter,
) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(base.Draft("sandbox (hello)"), credentials)

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_a_token(
    adapter: LinkedInAdapter,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(base.Draft("secret-free", media=(picture(),)), credentials)

    recorded = json.dumps(recorder.entries("linkedin"))
    assert credentials["access_token"] not in recorded
    assert "ut=" not in recorded
    calls = [r for r in caplog.records if r.getMessage() == "platform_call"]
    assert [getattr(r, "endpoint", None) for r in calls] == [
        "initialize_upload",
        "upload_image",
        "create_post",
    ]
    token = credentials["access_token"]
    assert all(token not in str(record.__dict__) for record in caplog.records)
