"""The Facebook adapter's pure parts: credentials, validation, Graph error codes."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import base, facebook
from syndic.platforms.facebook import FacebookAdapter

TOKEN = "EAA" + "b" * 40


@pytest.fixture
def adapter() -> FacebookAdapter:
    return FacebookAdapter("http://127.0.0.1:9/facebook", httpx.AsyncClient())


def photo(kind: str = "PNG", content_type: str = "image/png") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format=kind)
    return base.Media(content_type, buffer.getvalue(), f"p.{kind.lower()}")


def test_credentials_are_a_page_id_and_its_token(adapter: FacebookAdapter) -> None:
    checked = adapter.check_credentials({"page_id": 1234567, "access_token": TOKEN})

    assert checked == {"page_id": "1234567", "access_token": TOKEN}


@pytest.mark.parametrize(
    ("credentials", "complaint"),
    [
        ({"access_token": TOKEN}, "page_id"),
        ({"page_id": "my-page", "access_token": TOKEN}, "page_id"),
        ({"page_id": "1"}, "access_token"),
        ({"page_id": "1", "access_token": "EAA short"}, "access_token"),
        ({"page_id": "1", "access_token": "EAA|" + "x" * 30}, "access_token"),
    ],
)
def test_bad_credentials_are_refused_with_a_clear_message(
    adapter: FacebookAdapter, credentials: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        adapter.check_credentials(credentials)


@pytest.mark.parametrize(
    "draft",
    [
        base.Draft("hello"),
        base.Draft("x" * 63_206),
        base.Draft("", {"link": "https://example.org/a"}),
        base.Draft("", media=(photo(),)),
        base.Draft("album", media=(photo("JPEG", "image/jpeg"),) * 10),
        base.Draft(
            "kinds", media=(photo("GIF", "image/gif"), photo("BMP", "image/bmp"))
        ),
    ],
)
def test_drafts_facebook_takes_have_no_problem(
    adapter: FacebookAdapter, draft: base.Draft
) -> None:
    assert adapter.validate(draft) == []


@pytest.mark.parametrize(
    ("draft", "rule"),
    [
        (base.Draft(" \n"), "facebook.text.empty"),
        (base.Draft("x" * 63_207), "facebook.text.too_long"),
        (base.Draft("a", {"link": "example.org"}), "facebook.options.link"),
        (
            base.Draft("a", {"link": "https://e.org"}, media=(photo(),)),
            "facebook.link.with_media",
        ),
        (base.Draft("a", media=(photo(),) * 11), "facebook.media.too_many"),
        (
            base.Draft("a", media=(base.Media("video/mp4", b"\0"),)),
            "facebook.media.unsupported",
        ),
        (
            base.Draft("a", media=(base.Media("image/png", b""),)),
            "facebook.media.empty",
        ),
        (
            base.Draft("a", media=(base.Media("image/png", b"\x89PNG broken"),)),
            "facebook.photo.unreadable",
        ),
        (
            base.Draft("a", media=(base.Media("image/png", b"\0" * (4 * 2**20 + 1)),)),
            "facebook.photo.too_large",
        ),
    ],
)
def test_each_refusal_has_its_rule(
    adapter: FacebookAdapter, draft: base.Draft, rule: str
) -> None:
    assert rule in [problem.rule for problem in adapter.validate(draft)]


def test_too_long_points_past_the_limit(adapter: FacebookAdapter) -> None:
    [problem] = adapter.validate(base.Draft("y" * 63_210))

    assert (problem.start, problem.end) == (63_206, 63_210)


def graph_error(
    code: int,
    *,
    status: int = 400,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"error": {"message": f"(#{code}) text", "type": "OAuthException"}}
    body["error"].update({"code": code, **extra})
    return httpx.Response(status, json=body, headers=headers)


def usage(minutes: int) -> dict[str, str]:
    entry = {
        "type": "pages",
        "call_count": 100,
        "estimated_time_to_regain_access": minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({"1": [entry]})}


ERRORS = [
    (graph_error(4, is_transient=True), base.TransientError, "rate_limited"),
    (graph_error(17, status=403), base.TransientError, "rate_limited"),
    (graph_error(32), base.TransientError, "rate_limited"),
    (graph_error(613), base.TransientError, "rate_limited"),
    (graph_error(80001, headers=usage(3)), base.TransientError, "rate_limited"),
    (graph_error(190, error_subcode=463), base.CredentialsRejected, None),
    (graph_error(190, error_subcode=467), base.CredentialsRejected, None),
    (graph_error(104), base.CredentialsRejected, None),
    (graph_error(200, status=403), base.CredentialsRejected, None),
    (graph_error(10, status=403), base.CredentialsRejected, None),
    (graph_error(506), base.PermanentError, "duplicate"),
    (graph_error(368), base.PermanentError, "blocked"),
    (graph_error(100), base.PermanentError, "rejected"),
    (graph_error(1609005), base.PermanentError, "rejected"),
    (
        graph_error(2, status=500, is_transient=True),
        base.TransientError,
        "server_error",
    ),
    (graph_error(1, status=500), base.TransientError, "server_error"),
    (httpx.Response(502, text="<html>bad gateway</html>"), base.TransientError, None),
]


@pytest.mark.parametrize(("response", "kind", "code"), ERRORS)
def test_graph_error_codes_map_to_ours(
    response: httpx.Response, kind: type[base.PlatformError], code: str | None
) -> None:
    error = facebook._error_of(response, facebook._http.json_object(response))

    assert type(error) is kind
    if code is not None:
        assert error.code == code


def test_throttling_waits_as_long_as_the_usage_header_says() -> None:
    response = graph_error(80001, headers=usage(3))

    error = facebook._error_of(response, response.json())

    assert isinstance(error, base.TransientError)
    assert error.retry_after == 180.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("not json", None),
        (json.dumps({"1": [{"estimated_time_to_regain_access": 0}]}), None),
        (
            json.dumps(
                {
                    "1": [{"estimated_time_to_regain_access": 2}],
                    "2": [{"estimated_time_to_regain_access": 5}],
                }
            ),
            300.0,
        ),
        (json.dumps([1, 2]), None),
    ],
)
def test_regain_seconds_reads_the_longest_wait(
    header: str | None, seconds: float | None
) -> None:
    assert facebook.regain_seconds(header) == seconds
