"""The Reddit adapter against the Reddit emulator over real HTTP."""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import base
from syndic.platforms.emulators import _base
from syndic.platforms.emulators import reddit as emulator
from syndic.platforms.emulators.recorder import Recorder
from syndic.platforms.reddit import RedditAdapter

AGENT = {"User-Agent": "test:syndic-contract:1 (by /u/syndic_tests)"}


@pytest.fixture
def served(serve_emulator: Any) -> Any:
    return serve_emulator(emulator.EMULATOR, websockets=True)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/reddit"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.RedditState]:
    reddit_state = emulator.EMULATOR.state(served.app)
    yield reddit_state
    reddit_state.clear_faults()
    reddit_state.rate_limit = emulator.RedditState.default_rate_limit
    reddit_state.token_lifetime = emulator.TOKEN_LIFETIME


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> RedditAdapter:
    return RedditAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(state: emulator.RedditState, adapter: RedditAdapter) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def draft(text: str = "Body *markdown*", **options: Any) -> base.Draft:
    options.setdefault("title", "Release 1.2 is out")
    media = options.pop("media", ())
    return base.Draft(text, options, media=media, idempotency_key="post-1:reddit")


def png(width: int = 8, height: int = 8, name: str = "shot.png") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), name)


def calls(recorder: Recorder, path: str) -> list[dict[str, Any]]:
    return [entry for entry in recorder.entries("reddit") if entry["path"] == path]


def post_of(state: emulator.RedditState, receipt: base.Receipt) -> dict[str, Any]:
    return next(post for post in state.posts if post["name"] == receipt.remote_id)


async def token_for(
    http: httpx.AsyncClient, base_url: str, credentials: dict[str, Any]
) -> str:
    response = await http.post(
        f"{base_url}/api/v1/access_token",
        auth=(credentials["client_id"], credentials["client_secret"]),
        data={
            "grant_type": "password",
            "username": credentials["username"],
            "password": credentials["password"],
        },
        headers=AGENT,
    )
    return str(response.json()["access_token"])


async def submit_directly(
    http: httpx.AsyncClient, base_url: str, token: str, form: dict[str, str]
) -> httpx.Response:
    return await http.post(
        f"{base_url}/api/submit",
        data=form,
        headers={**AGENT, "Authorization": f"bearer {token}"},
    )


# -- publishing ---------------------------------------------------------------


async def test_a_text_post_goes_to_the_profile_and_returns_its_name_and_url(
    adapter: RedditAdapter,
    recorder: Recorder,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    receipt = await adapter.publish(draft(), credentials)

    post = post_of(state, receipt)
    username = credentials["username"]
    assert receipt.remote_id == f"t3_{post['id']}"
    assert receipt.url == (
        f"https://www.reddit.com/user/{username}/comments/{post['id']}/"
        "release_12_is_out/"
    )
    assert post["subreddit"] == f"u_{username}"
    assert post["selftext"] == "Body *markdown*"
    form = calls(recorder, "/api/submit")[-1]["body"]
    assert form["api_type"] == "json"
    assert form["kind"] == "self"
    assert form["sr"] == f"u_{username}"
    assert calls(recorder, "/api/submit")[-1]["query"] == {"raw_json": "1"}


async def test_a_link_post_to_a_community(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(
        draft("", subreddit="r/syndic_sandbox", url="https://example.org/notes"),
        credentials,
    )

    post = post_of(state, receipt)
    assert post["kind"] == "link"
    assert post["url"] == "https://example.org/notes"
    assert receipt.url is not None
    assert receipt.url.startswith("https://www.reddit.com/r/syndic_sandbox/comments/")


async def test_a_link_already_submitted_is_refused_without_resubmit(
    adapter: RedditAdapter, credentials: dict[str, Any]
) -> None:
    link = {"subreddit": "syndic_sandbox", "url": "https://example.org/once"}
    await adapter.publish(draft("", **link), credentials)

    with pytest.raises(base.PermanentError, match="ALREADY_SUB") as caught:
        await adapter.publish(draft("", resubmit=False, **link), credentials)

    assert caught.value.code == "rejected"


async def test_the_token_is_fetched_once_and_cached(
    adapter: RedditAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    await adapter.publish(draft(), credentials)
    await adapter.publish(draft(title="Second"), credentials)

    grants = [
        entry
        for entry in calls(recorder, "/api/v1/access_token")
        if entry["body"].get("username") == credentials["username"]
    ]
    assert len(grants) == 1
    assert grants[0]["body"]["grant_type"] == "password"
    assert grants[0]["body"]["password"] == "***"


async def test_an_expired_token_is_fetched_again(
    adapter: RedditAdapter,
    recorder: Recorder,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    state.token_lifetime = 1
    await adapter.publish(draft(), credentials)
    await asyncio.sleep(1.1)

    await adapter.publish(draft(title="After expiry"), credentials)

    grants = [
        entry
        for entry in calls(recorder, "/api/v1/access_token")
        if entry["body"].get("username") == credentials["username"]
    ]
    assert len(grants) == 2


async def test_a_token_the_api_calls_invalid_is_renewed_once(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    await adapter.publish(draft(), credentials)
    state.expire_tokens()

    receipt = await adapter.publish(draft(title="After revocation"), credentials)

    assert post_of(state, receipt)["title"] == "After revocation"


# -- credentials --------------------------------------------------------------


async def test_a_wrong_password_is_rejected_credentials(
    adapter: RedditAdapter, credentials: dict[str, Any]
) -> None:
    with pytest.raises(base.CredentialsRejected, match="invalid_grant"):
        await adapter.publish(draft(), {**credentials, "password": "wrong"})


async def test_a_wrong_client_secret_is_rejected_credentials(
    adapter: RedditAdapter, credentials: dict[str, Any]
) -> None:
    with pytest.raises(base.CredentialsRejected, match="client id or secret"):
        await adapter.publish(draft(), {**credentials, "client_secret": "nope"})


async def test_the_token_endpoint_answers_as_reddit_does(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    url = f"{base_url}/api/v1/access_token"
    grant = {
        "grant_type": "password",
        "username": credentials["username"],
        "password": "wrong",
    }
    app = (credentials["client_id"], credentials["client_secret"])

    wrong_client = await http.post(
        url, auth=(credentials["client_id"], "x"), data=grant, headers=AGENT
    )
    wrong_password = await http.post(url, auth=app, data=grant, headers=AGENT)
    other_grant = await http.post(
        url, auth=app, data={"grant_type": "client_credentials"}, headers=AGENT
    )

    assert (wrong_client.status_code, wrong_client.json()) == (
        401,
        {"message": "Unauthorized", "error": 401},
    )
    assert (wrong_password.status_code, wrong_password.json()) == (
        200,
        {"error": "invalid_grant"},
    )
    assert other_grant.json() == {"error": "unsupported_grant_type"}


async def test_a_user_who_is_not_a_developer_of_the_app_gets_no_token(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    other = state.add_account()
    borrowed = {
        **credentials,
        "username": other["username"],
        "password": other["password"],
    }

    with pytest.raises(base.CredentialsRejected, match="developer"):
        await adapter.publish(draft(), borrowed)


async def test_a_bad_or_missing_bearer_token_is_401_invalid_token(
    base_url: str, http: httpx.AsyncClient
) -> None:
    response = await submit_directly(http, base_url, "12-nonsense", {"sr": "x"})
    bare = await http.post(f"{base_url}/api/submit", data={}, headers=AGENT)

    for answer in (response, bare):
        assert answer.status_code == 401
        assert answer.json() == {"message": "Unauthorized", "error": 401}
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_a_library_default_user_agent_is_throttled_and_ours_is_unique(
    base_url: str, adapter: RedditAdapter, credentials: dict[str, Any]
) -> None:
    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.headers["user-agent"])

    async with httpx.AsyncClient(
        trust_env=False, event_hooks={"request": [note]}
    ) as client:
        default = await client.post(f"{base_url}/api/v1/access_token")
        await RedditAdapter(base_url, client, timeout=5.0).publish(draft(), credentials)

    assert default.status_code == 429
    version = importlib.metadata.version("syndic")
    agent = (
        f"syndic:{credentials['client_id']}:{version} (by /u/{credentials['username']})"
    )
    assert seen[1:] == [agent, agent]


# -- refusals -----------------------------------------------------------------


async def test_an_over_long_title_is_refused_before_sending(
    adapter: RedditAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(calls(recorder, "/api/submit"))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(draft(title="t" * 301), credentials)

    assert caught.value.code == "reddit.title.too_long"
    assert len(calls(recorder, "/api/submit")) == before


SUBMIT_REFUSALS = [
    ({"title": "t" * 301}, [["TOO_LONG", "this is too long (max: 300)", "title"]]),
    ({"title": "   "}, [["NO_TEXT", "we need something here", "title"]]),
    ({"title": ""}, [["NO_TEXT", "we need something here", "title"]]),
    (
        {"text": "x" * 40_001},
        [["TOO_LONG", "this is too long (max: 40000)", "text"]],
    ),
    ({"sr": ""}, [["SUBREDDIT_REQUIRED", "you must specify a subreddit", "sr"]]),
    (
        {"sr": "no_such_place"},
        [["SUBREDDIT_NOEXIST", "that community doesn't exist", "sr"]],
    ),
    (
        {"sr": "u_somebody_else"},
        [["SUBREDDIT_NOEXIST", "that community doesn't exist", "sr"]],
    ),
    ({"kind": "poll"}, [["INVALID_OPTION", "that option is not valid", "kind"]]),
    ({"kind": "link"}, [["NO_URL", "a url is required", "url"]]),
    (
        {"kind": "link", "url": "ftp://example.org/x"},
        [["BAD_URL", "you should check that url", "url"]],
    ),
    (
        {"kind": "image", "url": "https://example.org/cat.png"},
        [["BAD_URL", "you should check that url", "url"]],
    ),
    (
        {"sr": "syndic_linkonly"},
        [["NO_SELFS", "that subreddit doesn't allow text posts", "sr"]],
    ),
    (
        {"sr": "syndic_selfonly", "kind": "link", "url": "https://example.org/"},
        [["NO_LINKS", "that subreddit only allows text posts", "sr"]],
    ),
    (
        {"sr": "syndic_flair"},
        [
            [
                "SUBMIT_VALIDATION_FLAIR_REQUIRED",
                "Your post must contain post flair.",
                "flair",
            ]
        ],
    ),
    (
        {"sr": "syndic_flair", "flair_id": "no-such-template"},
        [["BAD_FLAIR_TEMPLATE_ID", "That flair template doesn't exist", "flair"]],
    ),
    (
        {"title": "", "sr": "syndic_linkonly"},
        [
            ["NO_TEXT", "we need something here", "title"],
            ["NO_SELFS", "that subreddit doesn't allow text posts", "sr"],
        ],
    ),
]


@pytest.mark.parametrize(("change", "errors"), SUBMIT_REFUSALS)
async def test_the_emulator_refuses_submissions_inside_a_200_body(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    change: dict[str, str],
    errors: list[list[str]],
) -> None:
    token = await token_for(http, base_url, credentials)
    form = {
        "api_type": "json",
        "sr": "syndic_sandbox",
        "kind": "self",
        "title": "A title",
        "text": "",
        **change,
    }

    response = await submit_directly(http, base_url, token, form)

    assert response.status_code == 200
    assert response.json() == {"json": {"errors": errors}}


async def test_flair_text_without_flair_id_is_a_400(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    token = await token_for(http, base_url, credentials)
    form = {"api_type": "json", "sr": "syndic_flair", "kind": "self", "title": "t"}

    response = await submit_directly(
        http, base_url, token, {**form, "flair_text": "News"}
    )

    assert (response.status_code, response.json()) == (
        400,
        {"message": "Bad Request", "error": 400},
    )


async def test_without_api_type_json_the_answer_is_the_old_jquery_shape(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    token = await token_for(http, base_url, credentials)

    response = await submit_directly(
        http,
        base_url,
        token,
        {"sr": f"u_{credentials['username']}", "kind": "self", "title": "t"},
    )

    assert "json" not in response.json()
    assert "jquery" in response.json()


async def test_a_community_that_requires_flair_refuses_a_post_without_it(
    adapter: RedditAdapter, credentials: dict[str, Any]
) -> None:
    with pytest.raises(base.PermanentError, match="must contain post flair") as caught:
        await adapter.publish(draft(subreddit="syndic_flair"), credentials)

    assert caught.value.code == "reddit.flair.required"


async def test_a_post_with_flair_is_accepted_with_its_text(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    news = await adapter.publish(
        draft(subreddit="syndic_flair", flair_id=emulator.FLAIR_NEWS), credentials
    )
    edited = await adapter.publish(
        draft(
            title="Other",
            subreddit="syndic_flair",
            flair_id=emulator.FLAIR_OTHER,
            flair_text="Changelog",
        ),
        credentials,
    )

    assert post_of(state, news)["link_flair_text"] == "News"
    assert post_of(state, edited)["link_flair_text"] == "Changelog"


async def test_the_emulator_says_which_community_requires_flair(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    headers = {
        **AGENT,
        "Authorization": f"bearer {await token_for(http, base_url, credentials)}",
    }

    required = await http.get(
        f"{base_url}/api/v1/syndic_flair/post_requirements", headers=headers
    )
    free = await http.get(
        f"{base_url}/api/v1/syndic_sandbox/post_requirements", headers=headers
    )
    flairs = await http.get(
        f"{base_url}/r/syndic_flair/api/link_flair_v2", headers=headers
    )

    assert required.json()["is_flair_required"] is True
    assert free.json()["is_flair_required"] is False
    assert {flair["id"] for flair in flairs.json()} == {
        emulator.FLAIR_NEWS,
        emulator.FLAIR_OTHER,
    }


# -- rate limits --------------------------------------------------------------


async def test_the_posting_throttle_is_transient_with_retry_after(
    adapter: RedditAdapter, state: emulator.RedditState
) -> None:
    credentials = adapter.check_credentials(state.add_account(post_interval=150))
    await adapter.publish(draft(), credentials)

    with pytest.raises(
        base.TransientError, match="Take a break for 3 minutes"
    ) as caught:
        await adapter.publish(draft(title="Too soon"), credentials)

    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after == 180


async def test_every_api_answer_carries_the_ratelimit_headers(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    token = await token_for(http, base_url, credentials)
    form = {"api_type": "json", "sr": f"u_{credentials['username']}", "kind": "self"}

    first = await submit_directly(http, base_url, token, {**form, "title": "one"})
    second = await submit_directly(http, base_url, token, {**form, "title": "two"})

    assert first.headers["x-ratelimit-used"] == "1"
    assert first.headers["x-ratelimit-remaining"] == "999.0"
    assert second.headers["x-ratelimit-remaining"] == "998.0"
    assert 0 < int(second.headers["x-ratelimit-reset"]) <= 600


async def test_over_the_app_budget_the_emulator_answers_429(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=30.0)
    token = await token_for(http, base_url, credentials)
    form = {"api_type": "json", "sr": f"u_{credentials['username']}", "kind": "self"}
    await submit_directly(http, base_url, token, {**form, "title": "one"})

    response = await submit_directly(http, base_url, token, {**form, "title": "two"})

    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Requests", "error": 429}
    assert response.headers["x-ratelimit-remaining"] == "0.0"
    assert 1 <= int(response.headers["Retry-After"]) <= 30


async def test_a_429_is_transient_with_retry_after(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=30.0)
    await RedditAdapter(base_url, http, timeout=5.0).publish(draft(), credentials)

    with pytest.raises(base.TransientError) as caught:
        await RedditAdapter(base_url, http, timeout=5.0).publish(draft(), credentials)

    assert caught.value.code == "rate_limited"
    assert caught.value.sent is True
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 30


async def test_a_spent_budget_is_not_spent_again_before_its_reset(
    adapter: RedditAdapter,
    recorder: Recorder,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=30.0)
    await adapter.publish(draft(), credentials)
    before = len(calls(recorder, "/api/submit"))

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(title="Again"), credentials)

    assert caught.value.sent is False
    assert caught.value.retry_after is not None
    assert 20 < caught.value.retry_after <= 30
    assert len(calls(recorder, "/api/submit")) == before


async def test_a_budget_that_resets_within_the_timeout_is_waited_for(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = _base.RateLimit(requests=1, per=1.0)
    await adapter.publish(draft(), credentials)

    receipt = await adapter.publish(draft(title="After the reset"), credentials)

    assert receipt.remote_id.startswith("t3_")


async def test_a_forced_429_carries_its_retry_after(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    state.fail_next(429, retry_after=7)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.retry_after == 7


# -- transport and server faults ----------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    adapter: RedditAdapter,
    state: emulator.RedditState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.code == "server_error"
    assert caught.value.sent is True


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = RedditAdapter(f"{closed_origin}/reddit", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.sent is False


async def test_no_answer_in_time_is_transient(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    adapter = RedditAdapter(base_url, http, timeout=0.3)
    state.stall_next(1.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.code == "timeout"


# -- images -------------------------------------------------------------------


async def test_an_image_post_goes_through_the_media_flow(
    adapter: RedditAdapter,
    recorder: Recorder,
    state: emulator.RedditState,
    credentials: dict[str, Any],
) -> None:
    image = png()

    receipt = await adapter.publish(
        draft("Caption", subreddit="syndic_sandbox", media=(image,)), credentials
    )

    post = post_of(state, receipt)
    assert post["kind"] == "image"
    assert receipt.url == post["permalink"]
    lease = calls(recorder, "/api/media/asset.json")[-1]["body"]
    assert lease == {"filepath": "shot.png", "mimetype": "image/png"}
    upload = calls(recorder, "/_s3/reddit-uploaded-media")[-1]["body"]
    assert upload["file"] == {
        "filename": "shot.png",
        "content_type": "image/png",
        "size": len(image.data),
    }
    assert post["url"].endswith(upload["key"])
    assert calls(recorder, "/_ws/***")


async def test_an_image_reddit_cannot_process_fails_permanently(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    state.fail_media_next()
    posts = len(state.posts)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(draft(media=(png(),)), credentials)

    assert caught.value.code == "reddit.media.failed"
    assert len(state.posts) == posts


async def test_a_silent_websocket_leaves_an_unknown_outcome(
    adapter: RedditAdapter, state: emulator.RedditState, credentials: dict[str, Any]
) -> None:
    state.drop_websocket_next()

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(draft(media=(png(),)), credentials)

    assert caught.value.code == "unknown_outcome"
    assert f"/user/{credentials['username']}/submitted/" in caught.value.message


async def lease_for(
    http: httpx.AsyncClient, base_url: str, token: str, mimetype: str = "image/png"
) -> dict[str, Any]:
    response = await http.post(
        f"{base_url}/api/media/asset.json",
        data={"filepath": "x.png", "mimetype": mimetype},
        headers={**AGENT, "Authorization": f"bearer {token}"},
    )
    args: dict[str, Any] = response.json()["args"]
    return args


async def test_the_storage_refuses_a_file_over_the_leased_size(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    lease = await lease_for(
        http, base_url, await token_for(http, base_url, credentials)
    )
    fields = {item["name"]: item["value"] for item in lease["fields"]}
    big = b"\0" * (20 * 1024 * 1024 + 1)

    response = await http.post(
        f"http:{lease['action']}", data=fields, files={"file": ("x.png", big)}
    )

    assert response.status_code == 400
    assert "<Code>EntityTooLarge</Code>" in response.text
    assert f"<MaxSizeAllowed>{20 * 1024 * 1024}</MaxSizeAllowed>" in response.text


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"key": "rte_images/other/x.png"}, 403, "AccessDenied"),
        ({"content-type": "image/gif"}, 403, "AccessDenied"),
        ({"X-Amz-Signature": "0" * 64}, 403, "SignatureDoesNotMatch"),
        ({"policy": ""}, 403, "SignatureDoesNotMatch"),
        ({"extra": "field"}, 403, "AccessDenied"),
    ],
)
async def test_the_storage_holds_the_upload_to_its_policy(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    change: dict[str, str],
    status: int,
    code: str,
) -> None:
    lease = await lease_for(
        http, base_url, await token_for(http, base_url, credentials)
    )
    fields = {item["name"]: item["value"] for item in lease["fields"]}

    response = await http.post(
        f"http:{lease['action']}",
        data={**fields, **change},
        files={"file": ("x.png", png().data, "image/png")},
    )

    assert response.status_code == status
    assert f"<Code>{code}</Code>" in response.text


async def test_the_storage_takes_exactly_one_file(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    lease = await lease_for(
        http, base_url, await token_for(http, base_url, credentials)
    )
    fields = {item["name"]: item["value"] for item in lease["fields"]}

    response = await http.post(f"http:{lease['action']}", data=fields)

    assert response.status_code == 400
    assert "<Code>InvalidArgument</Code>" in response.text


async def test_an_image_submitted_before_its_upload_is_a_bad_url(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    token = await token_for(http, base_url, credentials)
    lease = await lease_for(http, base_url, token)
    key = next(item["value"] for item in lease["fields"] if item["name"] == "key")
    form = {
        "api_type": "json",
        "sr": "syndic_sandbox",
        "kind": "image",
        "title": "t",
        "url": f"http:{lease['action']}/{key}",
    }

    response = await submit_directly(http, base_url, token, form)

    assert response.json()["json"]["errors"][0][0] == "BAD_URL"


async def test_more_than_one_image_is_refused_in_validate(
    adapter: RedditAdapter,
) -> None:
    problems = adapter.validate(draft(media=(png(), png())))

    assert [problem.rule for problem in problems] == ["reddit.media.too_many"]


# -- sandbox and secrets --------------------------------------------------------


async def test_the_sandbox_account_works_out_of_the_box(adapter: RedditAdapter) -> None:
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(draft(subreddit="syndic_sandbox"), credentials)

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_a_secret(
    adapter: RedditAdapter,
    recorder: Recorder,
    state: emulator.RedditState,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(draft(media=(png(),)), credentials)

    tokens = [
        token.value
        for token in state.tokens.values()
        if token.username == credentials["username"]
    ]
    recorded = json.dumps(recorder.entries())
    logged = [str(record.__dict__) for record in caplog.records]
    secrets = [credentials["password"], credentials["client_secret"], *tokens]
    for secret in secrets:
        assert secret not in recorded
        assert all(secret not in line for line in logged)
    endpoints = [
        record.__dict__.get("endpoint")
        for record in caplog.records
        if record.getMessage() == "platform_call"
    ]
    assert endpoints == [
        "access_token",
        "media_asset",
        "media_upload",
        "submit",
        "media_websocket",
    ]
