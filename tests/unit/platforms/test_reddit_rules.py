"""Reddit titles, validation, credentials, errors inside a 200 body and rate
windows, without any I/O."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import _reddit_rules, base, reddit
from syndic.platforms.emulators import _reddit_submit

ADAPTER = reddit.RedditAdapter(
    "http://127.0.0.1:9/reddit", httpx.AsyncClient(trust_env=False)
)


def rules(problems: list[base.Problem]) -> list[str]:
    return [problem.rule for problem in problems]


def png() -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), "p.png")


# Titles are counted in code points: one per letter of any script, one per
# emoji code point (a ZWJ sequence is several), one per combining mark.
TITLES = {
    "ascii at the limit": ("a" * 300, []),
    "ascii one over": ("a" * 301, ["reddit.title.too_long"]),
    "cjk at the limit": ("漢" * 300, []),
    "cjk one over": ("漢" * 301, ["reddit.title.too_long"]),
    "arabic at the limit": ("ب" * 300, []),
    "emoji at the limit": ("🚀" * 300, []),
    "emoji one over": ("🚀" * 301, ["reddit.title.too_long"]),
    "zwj emoji, 3 code points each, at 300": ("👩‍💻" * 100, []),
    "zwj emoji over": ("👩‍💻" * 100 + "a", ["reddit.title.too_long"]),
    "flags, 2 code points each, over": ("🇬🇧" * 151, ["reddit.title.too_long"]),
    "combining marks at the limit": ("e\u0301" * 150, []),
    "combining marks over": ("e\u0301" * 150 + "x", ["reddit.title.too_long"]),
    "empty": ("", ["reddit.title.missing"]),
    "only spaces": ("   ", ["reddit.title.missing"]),
    "only newlines and tabs": ("\n\t", ["reddit.title.missing"]),
    "absent": (None, ["reddit.title.missing"]),
    "not text": (5, ["reddit.title.invalid"]),
}


@pytest.mark.parametrize(("title", "expected"), TITLES.values(), ids=TITLES.keys())
def test_title_rules(title: Any, expected: list[str]) -> None:
    assert rules(ADAPTER.validate(base.Draft("", {"title": title}))) == expected


@pytest.mark.parametrize(("title", "expected"), TITLES.values(), ids=TITLES.keys())
def test_the_emulator_counts_titles_the_same_way(
    title: Any, expected: list[str]
) -> None:
    if not isinstance(title, str):
        return
    form = _reddit_submit.Form({"kind": "self", "title": title})

    codes = [
        error[0] for error in _reddit_submit.content_errors(form, "any", False, False)
    ]

    assert (
        codes
        == {
            (): [],
            ("reddit.title.too_long",): ["TOO_LONG"],
            ("reddit.title.missing",): ["NO_TEXT"],
        }[tuple(expected)]
    )


def test_text_over_40000_characters_points_at_the_excess() -> None:
    problems = ADAPTER.validate(base.Draft("x" * 40_005, {"title": "t"}))

    assert [(p.rule, p.start, p.end) for p in problems] == [
        ("reddit.text.too_long", 40_000, 40_005)
    ]


DRAFTS = {
    "self post": ({}, (), []),
    "link post": ({"url": "https://example.org"}, (), []),
    "link without url": ({"kind": "link"}, (), ["reddit.link.url_missing"]),
    "link to ftp": ({"url": "ftp://example.org/x"}, (), ["reddit.link.url_invalid"]),
    "unknown kind": ({"kind": "video"}, (), ["reddit.options.kind"]),
    "community with r/": ({"subreddit": "r/python"}, (), []),
    "community with spaces": (
        {"subreddit": "my sub"},
        (),
        ["reddit.subreddit.invalid"],
    ),
    "community too long": ({"subreddit": "a" * 22}, (), ["reddit.subreddit.invalid"]),
    "flair text without id": (
        {"flair_text": "News"},
        (),
        ["reddit.flair.text_without_id"],
    ),
    "flair text too long": (
        {"flair_id": "x", "flair_text": "n" * 65},
        (),
        ["reddit.flair.text_too_long"],
    ),
    "nsfw not a flag": ({"nsfw": "yes"}, (), ["reddit.options.nsfw"]),
    "image": ({}, (png(),), []),
    "image without image": ({"kind": "image"}, (), ["reddit.image.missing"]),
    "two images": ({}, (png(), png()), ["reddit.media.too_many"]),
    "video": (
        {},
        (base.Media("video/mp4", b"x", "v.mp4"),),
        ["reddit.media.unsupported"],
    ),
    "webp": (
        {},
        (base.Media("image/webp", b"x", "p.webp"),),
        ["reddit.media.unsupported"],
    ),
    "broken png": (
        {},
        (base.Media("image/png", b"nope", "p.png"),),
        ["reddit.image.unreadable"],
    ),
    "empty png": ({}, (base.Media("image/png", b"", "p.png"),), ["reddit.image.empty"]),
    "image on a self post": ({"kind": "self"}, (png(),), ["reddit.media.unexpected"]),
}


@pytest.mark.parametrize(
    ("options", "media", "expected"), DRAFTS.values(), ids=DRAFTS.keys()
)
def test_validation_rules(
    options: dict[str, Any], media: tuple[base.Media, ...], expected: list[str]
) -> None:
    draft = base.Draft("body", {"title": "t", **options}, media=media)

    assert rules(ADAPTER.validate(draft)) == expected


RATELIMITS = {
    "take a break, minutes": (
        "Looks like you've been doing that a lot. Take a break for 5 minutes "
        "before trying again.",
        300,
    ),
    "take a break, one minute": ("Take a break for 1 minute before trying again.", 60),
    "take a break, seconds": ("Take a break for 45 seconds before trying again.", 45),
    "old wording": ("you are doing that too much. try again in 9 minutes.", 540),
    "old wording, capitalised": (
        "You're doing that too much. Try again in 3 minutes.",
        180,
    ),
    "one second": ("you are doing that too much. try again in 1 second.", 1),
    "milliseconds": (
        "you are doing that too much. try again in 500 milliseconds.",
        0.5,
    ),
    "no number": ("you are doing that too much.", None),
}


@pytest.mark.parametrize(
    ("message", "seconds"), RATELIMITS.values(), ids=RATELIMITS.keys()
)
def test_ratelimit_messages_give_their_wait(
    message: str, seconds: float | None
) -> None:
    assert reddit.ratelimit_seconds(message) == seconds


def test_the_emulator_says_its_waits_as_reddit_does() -> None:
    assert reddit.ratelimit_seconds(_reddit_submit.ratelimit_message(150)) == 180
    assert reddit.ratelimit_seconds(_reddit_submit.ratelimit_message(59.2)) == 60
    assert reddit.ratelimit_seconds(_reddit_submit.ratelimit_message(0.2)) == 1
    assert "1 minute before" in _reddit_submit.ratelimit_message(60)


RATE = ["RATELIMIT", "Take a break for 2 minutes before trying again.", "ratelimit"]
FLAIR = [
    "SUBMIT_VALIDATION_FLAIR_REQUIRED",
    "Your post must contain post flair.",
    "flair",
]
TOO_LONG = ["TOO_LONG", "this is too long (max: 300)", "title"]

# errors inside a 200 body -> (class, code, retry_after)
ERRORS_IN_200 = {
    "ratelimit alone": ([RATE], base.TransientError, "rate_limited", 120),
    "ratelimit without a number": (
        [["RATELIMIT", "slow down", "ratelimit"]],
        base.TransientError,
        "rate_limited",
        None,
    ),
    "flair required": ([FLAIR], base.PermanentError, "reddit.flair.required", None),
    "no such community": (
        [["SUBREDDIT_NOEXIST", "that community doesn't exist", "sr"]],
        base.PermanentError,
        "rejected",
        None,
    ),
    "ratelimit with another error": (
        [RATE, TOO_LONG],
        base.PermanentError,
        "rejected",
        None,
    ),
    "flair among others": (
        [TOO_LONG, FLAIR],
        base.PermanentError,
        "reddit.flair.required",
        None,
    ),
    "a pair without field": (
        [["NO_SELFS", "no text posts"]],
        base.PermanentError,
        "rejected",
        None,
    ),
    "not a triple": (["weird"], base.PermanentError, "rejected", None),
}


@pytest.mark.parametrize(
    ("errors", "kind", "code", "retry_after"),
    ERRORS_IN_200.values(),
    ids=ERRORS_IN_200.keys(),
)
def test_errors_inside_a_200_body_become_ours(
    errors: list[Any],
    kind: type[base.PlatformError],
    code: str,
    retry_after: float | None,
) -> None:
    error = reddit.submit_failure(errors)

    assert type(error) is kind
    assert error.code == code
    assert getattr(error, "retry_after", None) == retry_after


def test_a_refusal_keeps_every_message_of_reddit() -> None:
    error = reddit.submit_failure([TOO_LONG, FLAIR])

    assert error.message == (
        "reddit: TOO_LONG: this is too long (max: 300) (title); "
        "SUBMIT_VALIDATION_FLAIR_REQUIRED: Your post must contain post flair. (flair)"
    )


WINDOWS = {
    "unknown": (None, None, 100.0, 0.0),
    "budget left": (5.0, 130.0, 100.0, 0.0),
    "a fraction left": (0.5, 130.0, 100.0, 30.0),
    "spent": (0.0, 130.0, 100.0, 30.0),
    "spent, already reset": (0.0, 90.0, 100.0, 0.0),
}


@pytest.mark.parametrize(
    ("remaining", "reset_at", "now", "wait"), WINDOWS.values(), ids=WINDOWS.keys()
)
def test_waits_before_a_call_follow_the_last_headers(
    remaining: float | None, reset_at: float | None, now: float, wait: float
) -> None:
    assert reddit.wait_before_call(remaining, reset_at, now) == wait


GOOD = {
    "client_id": "AbCdEf123456_-xyz",
    "client_secret": "s3cret",
    "username": "spez",
    "password": "hunter2",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": ""}, "client_id is required"),
        ({"client_secret": None}, "client_secret is required"),
        ({"password": "   "}, "password is required"),
        ({"client_id": "short"}, "client_id must be"),
        ({"username": "a b"}, "username must be"),
        ({"username": "x" * 21}, "username must be"),
        ({"user_agent": "bot"}, "user_agent must"),
    ],
)
def test_credentials_are_refused_with_a_clear_message(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ADAPTER.check_credentials({**GOOD, **change})


def test_credentials_are_trimmed_and_a_profile_prefix_dropped() -> None:
    checked = ADAPTER.check_credentials(
        {**GOOD, "client_id": " AbCdEf123456_-xyz ", "username": "u/spez"}
    )

    assert checked == {**GOOD, "username": "spez"}


def test_the_password_never_shows_in_the_account_repr() -> None:
    assert "hunter2" not in repr(_reddit_rules.account(GOOD))
    assert "s3cret" not in repr(_reddit_rules.account(GOOD))


SLUGS = {
    "words": ("Release 1.2 is out", "release_12_is_out"),
    "punctuation": ("What's new? (v2)", "whats_new_v2"),
    "unicode words stay": ("Grüße aus Köln", "grüße_aus_köln"),
    "only symbols": ("!!!", "_"),
    "long, cut on a word": (
        "one two three four five six seven eight nine ten eleven",
        "one_two_three_four_five_six_seven_eight_nine_ten",
    ),
}


@pytest.mark.parametrize(("title", "slug"), SLUGS.values(), ids=SLUGS.keys())
def test_the_emulator_makes_slugs_as_reddit_does(title: str, slug: str) -> None:
    assert _reddit_submit.slug(title) == slug


HTTP_ERRORS = {
    "429 with retry-after": (
        429,
        {"retry-after": "7", "x-ratelimit-reset": "300"},
        base.TransientError,
        "rate_limited",
        7,
    ),
    "429 with only the window": (
        429,
        {"x-ratelimit-reset": "42"},
        base.TransientError,
        "rate_limited",
        42,
    ),
    "500": (500, {}, base.TransientError, "server_error", None),
    "503": (503, {}, base.TransientError, "server_error", None),
    "401": (
        401,
        {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
        base.CredentialsRejected,
        "credentials_rejected",
        None,
    ),
    "403 for a missing scope": (
        403,
        {"www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"'},
        base.CredentialsRejected,
        "credentials_rejected",
        None,
    ),
    "403": (403, {}, base.PermanentError, "forbidden", None),
    "400": (400, {}, base.PermanentError, "rejected", None),
}


@pytest.mark.parametrize(
    ("status", "headers", "kind", "code", "retry_after"),
    HTTP_ERRORS.values(),
    ids=HTTP_ERRORS.keys(),
)
def test_http_errors_become_ours(
    status: int,
    headers: dict[str, str],
    kind: type[base.PlatformError],
    code: str,
    retry_after: float | None,
) -> None:
    response = httpx.Response(
        status,
        json={"message": "whatever", "error": status},
        headers=headers,
    )

    error = reddit._error_of(response)

    assert type(error) is kind
    assert error.code == code
    assert getattr(error, "retry_after", None) == retry_after


def storage_error(status: int, code: str, **extra: str) -> httpx.Response:
    parts = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return httpx.Response(
        status, text=f"<Error><Code>{code}</Code><Message>m</Message>{parts}</Error>"
    )


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (
            storage_error(400, "EntityTooLarge", MaxSizeAllowed="20971520"),
            base.PermanentError,
            "reddit.image.too_large",
        ),
        (storage_error(403, "AccessDenied"), base.PermanentError, "rejected"),
        (storage_error(503, "SlowDown"), base.TransientError, "server_error"),
        (storage_error(500, "InternalError"), base.TransientError, "server_error"),
    ],
)
def test_storage_errors_become_ours(
    response: httpx.Response, kind: type[base.PlatformError], code: str
) -> None:
    error = reddit._upload_error(response)

    assert type(error) is kind
    assert error.code == code
