"""The Dev.to adapter against the Dev.to emulator over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syndic.platforms import base
from syndic.platforms.devto import DevtoAdapter
from syndic.platforms.emulators import _base
from syndic.platforms.emulators import devto as emulator
from syndic.platforms.emulators.recorder import Recorder

V1 = {"Accept": "application/vnd.forem.api-v1+json"}
RELAXED = _base.RateLimit(requests=100, per=1.0)


@pytest.fixture
def served(serve_emulator: Any) -> Any:
    return serve_emulator(emulator.EMULATOR)


@pytest.fixture
def base_url(served: Any) -> str:
    return f"{served.origin}/devto"


@pytest.fixture
def state(served: Any) -> Iterator[emulator.DevtoState]:
    devto_state = emulator.EMULATOR.state(served.app)
    yield devto_state
    devto_state.clear_faults()
    devto_state.rate_limit = emulator.DevtoState.default_rate_limit
    devto_state.article_limit = emulator.DevtoState.default_article_limit
    devto_state.reset_rate_limits()


@pytest.fixture
def adapter(base_url: str, http: httpx.AsyncClient) -> DevtoAdapter:
    return DevtoAdapter(base_url, http, timeout=5.0)


@pytest.fixture
def credentials(state: emulator.DevtoState, adapter: DevtoAdapter) -> dict[str, Any]:
    return adapter.check_credentials(state.add_account())


def draft(text: str = "Some *Markdown*.", **options: Any) -> base.Draft:
    options.setdefault("title", "Shipping syndic 1.0")
    media = options.pop("media", ())
    return base.Draft(text, options, media=media, idempotency_key="post-1:devto")


def stored(state: emulator.DevtoState, receipt: base.Receipt) -> dict[str, Any]:
    return state.articles[int(receipt.remote_id)]


def writes(recorder: Recorder) -> list[dict[str, Any]]:
    return [
        entry
        for entry in recorder.entries("devto")
        if entry["method"] in ("POST", "PUT")
    ]


async def create_directly(
    http: httpx.AsyncClient,
    base_url: str,
    credentials: dict[str, Any],
    body: Any,
    *,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await http.post(
        f"{base_url}/api/articles",
        json=body,
        headers={
            "api-key": credentials["api_key"],
            **(V1 if headers is None else headers),
        },
    )


# -- publishing ---------------------------------------------------------------


async def test_an_article_returns_its_id_and_url(
    adapter: DevtoAdapter,
    recorder: Recorder,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    receipt = await adapter.publish(
        draft(tags=["Python", "#webdev"], canonical_url="https://example.org/a"),
        credentials,
    )

    article = stored(state, receipt)
    assert receipt.url == f"https://dev.to{article['path']}"
    assert article["published"] is True
    assert article["tag_list"] == ["python", "webdev"]
    assert article["body_markdown"] == "Some *Markdown*."
    assert article["api_version"] == 1
    assert writes(recorder)[-1]["body"] == {
        "article": {
            "published": True,
            "body_markdown": "Some *Markdown*.",
            "title": "Shipping syndic 1.0",
            "tags": ["python", "webdev"],
            "canonical_url": "https://example.org/a",
        }
    }


async def test_every_call_sends_the_key_and_the_v1_media_type(
    base_url: str, credentials: dict[str, Any]
) -> None:
    seen: list[httpx.Headers] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.headers)

    async with httpx.AsyncClient(
        trust_env=False, event_hooks={"request": [note]}
    ) as client:
        await DevtoAdapter(base_url, client, timeout=5.0).publish(draft(), credentials)

    assert seen[0]["api-key"] == credentials["api_key"]
    assert seen[0]["accept"] == "application/vnd.forem.api-v1+json"
    assert seen[0]["content-type"] == "application/json"


async def test_tags_given_as_text_still_go_as_an_array(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    receipt = await adapter.publish(draft(tags="rust, WASM"), credentials)

    assert stored(state, receipt)["tag_list"] == ["rust", "wasm"]


async def test_the_emulator_drops_tags_sent_as_a_string_as_dev_to_does(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    response = await create_directly(
        http,
        base_url,
        credentials,
        {"article": {"title": "String tags", "published": True, "tags": "a, b"}},
    )

    assert response.status_code == 201
    assert response.json()["tags"] == []
    assert state.articles[response.json()["id"]]["tag_list"] == []


async def test_a_draft_has_no_public_url_and_publishing_it_later_keeps_its_tags(
    adapter: DevtoAdapter,
    recorder: Recorder,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    state.rate_limit = RELAXED
    first = await adapter.publish(
        draft(tags=["python", "release"], published=False), credentials
    )
    assert first.url is None
    assert stored(state, first)["published"] is False
    assert "-temp-slug-" in stored(state, first)["slug"]

    later = await adapter.publish(
        base.Draft("", {"article_id": int(first.remote_id), "published": True}),
        credentials,
    )

    article = stored(state, later)
    assert later.remote_id == first.remote_id
    assert article["published"] is True
    assert article["tag_list"] == ["python", "release"]
    assert later.url == f"https://dev.to{article['path']}"
    assert "-temp-slug-" not in article["slug"]
    assert writes(recorder)[-1]["method"] == "PUT"
    assert writes(recorder)[-1]["body"] == {"article": {"published": True}}


async def test_a_change_with_tags_replaces_them(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = RELAXED
    first = await adapter.publish(draft(tags=["python"]), credentials)

    await adapter.publish(
        base.Draft("", {"article_id": first.remote_id, "tags": ["go"]}), credentials
    )

    assert stored(state, first)["tag_list"] == ["go"]


async def test_changing_someone_elses_article_is_not_found(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    theirs = await adapter.publish(
        draft(), adapter.check_credentials(state.add_account())
    )

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(
            base.Draft("", {"article_id": theirs.remote_id}), credentials
        )

    assert caught.value.code == "not_found"


async def test_a_repeated_create_finds_the_article_already_made(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = RELAXED
    first = await adapter.publish(draft(), credentials)

    again = await adapter.publish(draft(), credentials)

    assert again == first
    mine = [a for a in state.articles.values() if a["title"] == "Shipping syndic 1.0"]
    assert len([a for a in mine if str(a["id"]) == first.remote_id]) == 1


async def test_the_same_text_as_another_kind_of_article_is_still_refused(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = RELAXED
    await adapter.publish(draft(published=False), credentials)

    with pytest.raises(base.PermanentError, match="already been taken"):
        await adapter.publish(draft(), credentials)


async def test_front_matter_wins_over_the_options(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    text = "---\ntitle: Notes: part 2\ntags: go, cli\n---\nBody"

    receipt = await adapter.publish(draft(text, tags=["python"]), credentials)

    article = stored(state, receipt)
    assert article["title"] == "Notes: part 2"
    assert article["tag_list"] == ["go", "cli"]


async def test_a_request_without_the_v1_media_type_is_the_legacy_api(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    response = await create_directly(
        http,
        base_url,
        credentials,
        {"article": {"title": "Legacy", "body_markdown": "x"}},
        headers={},
    )

    assert state.articles[response.json()["id"]]["api_version"] == 0


# -- refusals -----------------------------------------------------------------


async def test_an_over_long_title_is_refused_before_sending(
    adapter: DevtoAdapter, recorder: Recorder, credentials: dict[str, Any]
) -> None:
    before = len(writes(recorder))

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(draft(title="t" * 129), credentials)

    assert caught.value.code == "devto.title.too_long"
    assert len(writes(recorder)) == before


REFUSALS = [
    ({"title": "t" * 129}, "Title is too long (maximum is 128 characters)"),
    ({"title": "   "}, "Title can't be blank"),
    ({"body_markdown": "x"}, "Title can't be blank"),
    (
        {"title": "Tags", "tags": ["a", "b", "c", "d", "e"]},
        "Tag list exceed the maximum of 4 tags",
    ),
    (
        {"title": "Tags", "tags": ["c++"]},
        'Tag "c++" contains non-alphanumeric or prohibited unicode characters',
    ),
    (
        {"title": "Tags", "tags": ["tag-with-dash"]},
        'Tag "tag-with-dash" contains non-alphanumeric or prohibited unicode '
        "characters",
    ),
    (
        {"title": "Tags", "tags": ["日本語"]},
        'Tag "日本語" contains non-alphanumeric or prohibited unicode characters',
    ),
    (
        {"title": "Tags", "tags": ["x" * 31]},
        f'Tag "{"x" * 31}" is too long (maximum is 30 characters)',
    ),
    ({"title": "Cover", "main_image": "not a url"}, "Main image is not a valid URL"),
    (
        {"title": "Canon", "canonical_url": "https://example.org/a b"},
        "Canonical url must not have spaces",
    ),
    (
        {"title": "t" * 129, "tags": ["a", "b", "c", "d", "e"], "main_image": "x"},
        "Main image is not a valid URL, Title is too long (maximum is 128 "
        "characters), and Tag list exceed the maximum of 4 tags",
    ),
    (
        {"title": "Front", "body_markdown": "---\ntags: [go, cli\n---\nBody"},
        None,
    ),
]


@pytest.mark.parametrize(("article", "message"), REFUSALS)
async def test_the_emulator_refuses_articles_with_dev_tos_sentence(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    article: dict[str, Any],
    message: str | None,
) -> None:
    response = await create_directly(http, base_url, credentials, {"article": article})

    assert response.status_code == 422
    assert response.json()["status"] == 422
    if message is not None:
        assert response.json()["error"] == message


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"article": "title"}, "String"),
        ({"title": "x"}, "NilClass"),
        ({"article": [1]}, "Array"),
    ],
)
async def test_an_article_that_is_not_an_object_is_a_422(
    base_url: str,
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    body: dict[str, Any],
    kind: str,
) -> None:
    response = await create_directly(http, base_url, credentials, body)

    assert (response.status_code, response.json()) == (
        422,
        {
            "error": "article param must be a JSON object. "
            f"You provided article as a {kind}",
            "status": 422,
        },
    )


async def test_a_body_that_is_not_json_is_a_400(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    response = await http.post(
        f"{base_url}/api/articles",
        content=b"{nope",
        headers={
            **V1,
            "api-key": credentials["api_key"],
            "content-type": "application/json",
        },
    )

    assert response.status_code == 400


async def test_a_refusal_carries_dev_tos_message(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = RELAXED
    await adapter.publish(draft(canonical_url="https://example.org/once"), credentials)

    with pytest.raises(base.PermanentError) as caught:
        await adapter.publish(
            draft(title="Another", canonical_url="https://example.org/once"),
            credentials,
        )

    assert caught.value.code == "rejected"
    assert caught.value.message == "devto: Canonical url has already been taken"


# -- credentials --------------------------------------------------------------


async def test_an_unknown_key_is_rejected_credentials(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.revoke(credentials["api_key"])

    with pytest.raises(base.CredentialsRejected, match="unauthorized"):
        await adapter.publish(draft(), credentials)


async def test_the_emulator_answers_a_missing_key_with_401(
    base_url: str, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        f"{base_url}/api/articles", json={"article": {"title": "x"}}, headers=V1
    )

    assert (response.status_code, response.json()) == (
        401,
        {"error": "unauthorized", "status": 401},
    )


# -- rate limits --------------------------------------------------------------


async def test_a_second_write_within_a_second_is_429_retry_later(
    base_url: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    first = await create_directly(
        http, base_url, credentials, {"article": {"title": "one"}}
    )
    second = await create_directly(
        http, base_url, credentials, {"article": {"title": "two"}}
    )

    assert first.status_code == 201
    assert second.status_code == 429
    assert second.text == "Retry later\n"
    assert second.headers["Retry-After"] == "1"


async def test_a_throttled_write_is_transient_with_retry_after(
    adapter: DevtoAdapter, credentials: dict[str, Any]
) -> None:
    await adapter.publish(draft(), credentials)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(title="Second"), credentials)

    assert caught.value.code == "rate_limited"
    assert caught.value.retry_after == 1


async def test_the_article_creation_limit_is_transient_with_retry_after(
    adapter: DevtoAdapter, state: emulator.DevtoState, credentials: dict[str, Any]
) -> None:
    state.rate_limit = RELAXED
    state.article_limit = _base.RateLimit(requests=1, per=30.0)
    await adapter.publish(draft(), credentials)

    with pytest.raises(base.TransientError, match="try again in 30 seconds") as caught:
        await adapter.publish(draft(title="Second"), credentials)

    assert caught.value.retry_after == 30


# -- transport and server faults ----------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    adapter: DevtoAdapter,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
    status: int,
) -> None:
    state.fail_next(status)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.code == "server_error"


async def test_a_refused_connection_is_transient_and_not_sent(
    closed_origin: str, http: httpx.AsyncClient, credentials: dict[str, Any]
) -> None:
    adapter = DevtoAdapter(f"{closed_origin}/devto", http, timeout=2.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.sent is False


async def test_no_answer_in_time_is_transient(
    base_url: str,
    http: httpx.AsyncClient,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    adapter = DevtoAdapter(base_url, http, timeout=0.3)
    state.stall_next(1.0)

    with pytest.raises(base.TransientError) as caught:
        await adapter.publish(draft(), credentials)

    assert caught.value.code == "timeout"


# -- images -------------------------------------------------------------------

PNG = base.Media("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "cover.png")


async def test_an_attached_image_without_a_public_url_is_refused_in_validate(
    adapter: DevtoAdapter,
) -> None:
    problems = adapter.validate(draft(media=(PNG,)))

    assert [problem.rule for problem in problems] == ["devto.media.needs_url"]


async def test_a_cover_goes_as_main_image_and_no_bytes_are_sent(
    adapter: DevtoAdapter,
    recorder: Recorder,
    state: emulator.DevtoState,
    credentials: dict[str, Any],
) -> None:
    cover = "https://example.org/cover.png"

    receipt = await adapter.publish(draft(media=(PNG,), main_image=cover), credentials)

    assert stored(state, receipt)["main_image"] == cover
    assert writes(recorder)[-1]["body"]["article"]["main_image"] == cover
    assert "cover.png" not in json.dumps(writes(recorder)[-1]["body"]).replace(
        cover, ""
    )


# -- sandbox and secrets ------------------------------------------------------


async def test_the_sandbox_account_works_out_of_the_box(
    adapter: DevtoAdapter, state: emulator.DevtoState
) -> None:
    state.rate_limit = RELAXED
    credentials = adapter.check_credentials(emulator.SANDBOX_CREDENTIALS)

    receipt = await adapter.publish(draft(title="Sandbox"), credentials)

    assert receipt.url is not None


async def test_the_recorder_and_the_logs_never_hold_the_key(
    adapter: DevtoAdapter,
    recorder: Recorder,
    credentials: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="syndic.platforms")

    await adapter.publish(draft(), credentials)

    assert credentials["api_key"] not in json.dumps(recorder.entries())
    assert all(
        credentials["api_key"] not in str(record.__dict__) for record in caplog.records
    )
    assert [
        record.__dict__.get("endpoint")
        for record in caplog.records
        if record.getMessage() == "platform_call"
    ] == ["create_article"]
