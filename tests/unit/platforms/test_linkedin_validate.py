"""The LinkedIn adapter's pure parts: credentials, validation rules, the commentary."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import base, linkedin
from syndic.platforms.linkedin import LinkedInAdapter

TOKEN = "AQV" + "x" * 40


@pytest.fixture
def adapter() -> LinkedInAdapter:
    return LinkedInAdapter("http://127.0.0.1:9/linkedin", httpx.AsyncClient())


def image(kind: str = "PNG", size: tuple[int, int] = (4, 4)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format=kind)
    return buffer.getvalue()


def rules(adapter: LinkedInAdapter, draft: base.Draft) -> list[str]:
    return [problem.rule for problem in adapter.validate(draft)]


@pytest.mark.parametrize(
    "author", ["urn:li:person:z6_nnTIGu-", "urn:li:organization:2414183"]
)
def test_credentials_name_a_token_and_an_author(
    adapter: LinkedInAdapter, author: str
) -> None:
    checked = adapter.check_credentials(
        {"access_token": f" {TOKEN} ", "author": author}
    )

    assert checked == {"access_token": TOKEN, "author": author}


@pytest.mark.parametrize(
    ("credentials", "complaint"),
    [
        ({}, "access_token"),
        ({"access_token": "short", "author": "urn:li:person:a"}, "access_token"),
        ({"access_token": TOKEN + " x", "author": "urn:li:person:a"}, "access_token"),
        ({"access_token": TOKEN}, "author"),
        ({"access_token": TOKEN, "author": "12345"}, "author"),
        ({"access_token": TOKEN, "author": "urn:li:company:1"}, "author"),
        ({"access_token": TOKEN, "author": "urn:li:person:"}, "author"),
    ],
)
def test_bad_credentials_are_refused_with_a_clear_message(
    adapter: LinkedInAdapter, credentials: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        adapter.check_credentials(credentials)


VALID = [
    base.Draft("hello"),
    base.Draft("x" * 3000),
    base.Draft("(" * 3000),
    base.Draft("😀" * 1500),
    base.Draft("", media=(base.Media("image/png", image()),)),
    base.Draft("read", {"article": {"source": "https://e.org", "title": "T"}}),
    base.Draft("hi @[Acme](urn:li:organization:1)", {"markup": True}),
    base.Draft("hi", {"visibility": "CONNECTIONS"}),
    base.Draft("gif", media=(base.Media("image/gif", image("GIF")),)),
    base.Draft("jpeg", media=(base.Media("image/jpeg", image("JPEG")),) * 20),
]


@pytest.mark.parametrize("draft", VALID)
def test_drafts_linkedin_takes_have_no_problem(
    adapter: LinkedInAdapter, draft: base.Draft
) -> None:
    assert adapter.validate(draft) == []


INVALID = [
    (base.Draft("   "), "linkedin.text.empty"),
    (base.Draft("x" * 3001), "linkedin.text.too_long"),
    (base.Draft("😀" * 1501), "linkedin.text.too_long"),
    (base.Draft("a (b)", {"markup": True}), "linkedin.text.unescaped_reserved"),
    (base.Draft("hi", {"visibility": "public"}), "linkedin.options.visibility"),
    (base.Draft("hi", {"article": {"source": "e.org"}}), "linkedin.options.article"),
    (base.Draft("hi", {"article": "https://e.org"}), "linkedin.options.article"),
    (
        base.Draft(
            "hi",
            {"article": {"source": "https://e.org", "title": "T"}},
            media=(base.Media("image/png", image()),),
        ),
        "linkedin.article.with_media",
    ),
    (
        base.Draft("v", media=(base.Media("video/mp4", b"\0"),)),
        "linkedin.media.unsupported",
    ),
    (
        base.Draft("w", media=(base.Media("image/webp", image("WEBP")),)),
        "linkedin.media.unsupported",
    ),
    (base.Draft("e", media=(base.Media("image/png", b""),)), "linkedin.media.empty"),
    (
        base.Draft("u", media=(base.Media("image/png", b"not a png"),)),
        "linkedin.image.unreadable",
    ),
    (
        base.Draft("m", media=(base.Media("image/png", image("JPEG")),)),
        "linkedin.image.unreadable",
    ),
    (
        base.Draft("many", media=(base.Media("image/png", image()),) * 21),
        "linkedin.media.too_many",
    ),
]


@pytest.mark.parametrize(("draft", "rule"), INVALID)
def test_each_refusal_has_its_rule(
    adapter: LinkedInAdapter, draft: base.Draft, rule: str
) -> None:
    assert rule in rules(adapter, draft)


def test_too_many_pixels_is_a_problem(
    adapter: LinkedInAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linkedin, "MAX_IMAGE_PIXELS", 15)
    draft = base.Draft("big", media=(base.Media("image/png", image()),))

    assert rules(adapter, draft) == ["linkedin.image.too_many_pixels"]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("x" * 3001, 3000),
        ("😀" * 1501, 1500),
        ("a" + "😀" * 1500, 1500),
        ("(" * 3001, 3000),
        ("東京" * 1501, 3000),
    ],
)
def test_too_long_points_at_the_first_character_past_the_limit(
    adapter: LinkedInAdapter, text: str, start: int
) -> None:
    [problem] = adapter.validate(base.Draft(text))

    assert (problem.rule, problem.start, problem.end) == (
        "linkedin.text.too_long",
        start,
        len(text),
    )


def test_with_markup_too_long_points_into_the_source(adapter: LinkedInAdapter) -> None:
    text = "@[Acme](urn:li:organization:1) " + "x" * 2996

    [problem] = adapter.validate(base.Draft(text, {"markup": True}))

    assert problem.start == len(text) - 1


def test_a_stray_reserved_character_in_markup_is_pointed_at(
    adapter: LinkedInAdapter,
) -> None:
    [problem] = adapter.validate(base.Draft("fine \\( then (bad)", {"markup": True}))

    assert (problem.start, problem.end) == (13, 14)
    assert "'('" in problem.message


@pytest.mark.parametrize(
    ("options", "sent"),
    [
        ({}, "Launch v2 \\(beta\\) #ship"),
        ({"hashtags": False}, "Launch v2 \\(beta\\) \\#ship"),
        ({"markup": True}, "Launch v2 (beta) #ship"),
    ],
)
def test_the_commentary_is_escaped_unless_it_is_markup(
    options: dict[str, Any], sent: str
) -> None:
    source, _ = linkedin.commentary(base.Draft("Launch v2 (beta) #ship", options))

    assert source == sent


@pytest.mark.parametrize(
    ("now", "seconds"),
    [
        (datetime(2026, 12, 4, 23, 59, 30, tzinfo=UTC), 30.0),
        (datetime(2026, 12, 4, 0, 0, 0, tzinfo=UTC), 86400.0),
        (datetime(2026, 12, 31, 12, 0, 0, tzinfo=UTC), 43200.0),
    ],
)
def test_day_quotas_reset_at_midnight_utc(now: datetime, seconds: float) -> None:
    assert linkedin.until_midnight_utc(now) == seconds


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://www.linkedin.com/dms-uploads/sp/v2/x?ut=1", True),
        ("https://api.linkedin.com/mediaUpload/x", True),
        ("http://127.0.0.1:9/linkedin/dms-uploads/sp/v2/x", True),
        ("http://www.linkedin.com/dms-uploads/x", False),
        ("https://linkedin.com.evil.example/x", False),
        ("http://127.0.0.1:10/x", False),
        ("https://example.org/upload", False),
    ],
)
def test_the_token_goes_only_to_linkedin_or_the_api_origin(
    adapter: LinkedInAdapter, url: str, allowed: bool
) -> None:
    if allowed:
        adapter._check_upload_url(url)
    else:
        with pytest.raises(base.PermanentError, match="not sent there"):
            adapter._check_upload_url(url)
