"""Dev.to titles, tags, front matter, validation and error mapping, without I/O."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syndic.platforms import base, devto
from syndic.platforms.emulators import _devto_articles, devto_front_matter

ADAPTER = devto.DevtoAdapter(
    "http://127.0.0.1:9/devto", httpx.AsyncClient(trust_env=False)
)


def rules(draft: base.Draft) -> list[str]:
    return [problem.rule for problem in ADAPTER.validate(draft)]


# Titles are counted in code points, as Ruby's String#length counts them.
TITLES = {
    "ascii at the limit": ("a" * 128, []),
    "ascii one over": ("a" * 129, ["devto.title.too_long"]),
    "cjk at the limit": ("字" * 128, []),
    "cjk one over": ("字" * 129, ["devto.title.too_long"]),
    "emoji at the limit": ("🔥" * 128, []),
    "zwj emoji over": ("👩‍💻" * 43, ["devto.title.too_long"]),
    "combining marks over": ("a\u0308" * 65, ["devto.title.too_long"]),
    "empty": ("", ["devto.title.missing"]),
    "blank": ("  \t", ["devto.title.missing"]),
    "absent": (None, ["devto.title.missing"]),
}


@pytest.mark.parametrize(("title", "expected"), TITLES.values(), ids=TITLES.keys())
def test_title_rules(title: Any, expected: list[str]) -> None:
    assert rules(base.Draft("body", {"title": title})) == expected


@pytest.mark.parametrize(("title", "expected"), TITLES.values(), ids=TITLES.keys())
def test_the_emulator_counts_titles_the_same_way(
    title: Any, expected: list[str]
) -> None:
    article = {"user_id": 1, "title": title, "body_markdown": "", "tag_list": []}

    messages = _devto_articles.check(article, [])

    assert bool(messages) == bool(expected)


def test_a_title_is_not_needed_to_change_an_existing_article() -> None:
    assert rules(base.Draft("", {"article_id": 12})) == []


TAG_OPTIONS = {
    "array": (["python", "webdev"], ["python", "webdev"]),
    "upper case and hash": (["Python", "#WebDev"], ["python", "webdev"]),
    "comma text": ("rust, wasm", ["rust", "wasm"]),
    "comma text with blanks": ("rust,, ,wasm,", ["rust", "wasm"]),
    "repeats": (["go", "Go", "go"], ["go"]),
    "a comma inside an item splits it": (["a,b"], ["a", "b"]),
    "absent": (None, []),
    "empty": ([], []),
    "not text": (["ok", 5], None),
    "a number": (5, None),
}


@pytest.mark.parametrize(
    ("value", "tags"), TAG_OPTIONS.values(), ids=TAG_OPTIONS.keys()
)
def test_the_tags_option_is_read_as_dev_to_stores_tags(
    value: Any, tags: list[str] | None
) -> None:
    assert devto.option_tags(value) == tags


TAGS = {
    "four": (["a", "b", "c", "d"], []),
    "five": (["a", "b", "c", "d", "e"], ["devto.tags.too_many"]),
    "dash": (["github-actions"], ["devto.tags.invalid"]),
    "plus": (["c++"], ["devto.tags.invalid"]),
    "dot": (["node.js"], ["devto.tags.invalid"]),
    "space": (["python automation"], ["devto.tags.invalid"]),
    "underscore": (["snake_case"], ["devto.tags.invalid"]),
    "accented": (["café"], ["devto.tags.invalid"]),
    "cyrillic": (["питон"], ["devto.tags.invalid"]),
    "cjk": (["日本語"], ["devto.tags.invalid"]),
    "emoji": (["🔥"], ["devto.tags.invalid"]),
    "thirty": (["x" * 30], []),
    "thirty-one": (["x" * 31], ["devto.tags.too_long"]),
    "digits": (["web3", "2024"], []),
}


@pytest.mark.parametrize(("tags", "expected"), TAGS.values(), ids=TAGS.keys())
def test_tag_rules(tags: list[str], expected: list[str]) -> None:
    assert rules(base.Draft("body", {"title": "t", "tags": tags})) == expected


@pytest.mark.parametrize(("tags", "expected"), TAGS.values(), ids=TAGS.keys())
def test_the_emulator_refuses_the_same_tags(
    tags: list[str], expected: list[str]
) -> None:
    article = {"user_id": 1, "title": "t", "body_markdown": "", "tag_list": tags}

    assert bool(_devto_articles.check(article, [])) == bool(expected)


COVER = "https://example.org/cover.png"
IMAGE = base.Media("image/png", b"\x89PNG", "cover.png")
DRAFTS = {
    "plain": ({}, (), []),
    "image without a url": ({}, (IMAGE,), ["devto.media.needs_url"]),
    "image with a cover url": ({"main_image": COVER}, (IMAGE,), []),
    "cover that is not a url": (
        {"main_image": "cover.png"},
        (),
        ["devto.main_image.invalid"],
    ),
    "cover over ftp": (
        {"main_image": "ftp://x/y.png"},
        (),
        ["devto.main_image.invalid"],
    ),
    "canonical url with a space": (
        {"canonical_url": "https://example.org/a b"},
        (),
        ["devto.canonical_url.invalid"],
    ),
    "published as text": ({"published": "yes"}, (), ["devto.options.published"]),
    "draft": ({"published": False}, (), []),
    "article id as text digits": ({"article_id": "42"}, (), []),
    "article id not a number": ({"article_id": "x1"}, (), ["devto.options.article_id"]),
    "article id true": ({"article_id": True}, (), ["devto.options.article_id"]),
    "description not text": ({"description": 3}, (), ["devto.options.description"]),
}


@pytest.mark.parametrize(
    ("options", "media", "expected"), DRAFTS.values(), ids=DRAFTS.keys()
)
def test_validation_rules(
    options: dict[str, Any], media: tuple[base.Media, ...], expected: list[str]
) -> None:
    assert rules(base.Draft("body", {"title": "t", **options}, media=media)) == expected


FRONT = {
    "title from the front matter": (
        "---\ntitle: From the front\n---\nBody",
        {},
        [],
    ),
    "an over-long front title": (
        "---\ntitle: " + "t" * 129 + "\n---\n",
        {},
        ["devto.title.too_long"],
    ),
    "front tags win over fine options": (
        "---\ntags: a, b, c, d, e\n---\n",
        {"title": "t", "tags": ["ok"]},
        ["devto.tags.too_many"],
    ),
    "front tags fix bad options": (
        "---\ntags: [go, cli]\n---\n",
        {"title": "t", "tags": ["c++"]},
        [],
    ),
    "front cover image": (
        "---\ncover_image: not-a-url\n---\n",
        {"title": "t"},
        ["devto.main_image.invalid"],
    ),
    "unreadable yaml": (
        "---\ntags: [a, b\n---\n",
        {"title": "t"},
        ["devto.front_matter.invalid"],
    ),
    "no closing line is no front matter": ("---\ntitle: x\nBody", {"title": "t"}, []),
}


@pytest.mark.parametrize(
    ("text", "options", "expected"), FRONT.values(), ids=FRONT.keys()
)
def test_front_matter_counts_as_dev_to_reads_it(
    text: str, options: dict[str, Any], expected: list[str]
) -> None:
    assert rules(base.Draft(text, options)) == expected


PARSED = {
    "none": ("Just text", {}, "Just text"),
    "title with a colon": (
        "---\ntitle: Notes: part 2\n---\nB",
        {"title": "Notes: part 2"},
        "B",
    ),
    "quoted title": ('---\ntitle: "Q: A"\n---\nB', {"title": "Q: A"}, "B"),
    "windows line ends": ("---\r\ntitle: T\r\n---\r\nB", {"title": "T"}, "B"),
    "published flag": ("---\npublished: true\n---\n", {"published": True}, ""),
    "a yaml list is no front matter": ("---\n- a\n- b\n---\nB", {}, "B"),
    "not at the top": (
        "Intro\n---\ntitle: T\n---\n",
        {},
        "Intro\n---\ntitle: T\n---\n",
    ),
}


@pytest.mark.parametrize(("text", "fields", "body"), PARSED.values(), ids=PARSED.keys())
def test_front_matter_is_parsed_from_the_top_only(
    text: str, fields: dict[str, Any], body: str
) -> None:
    front = devto_front_matter.parse(text)

    assert (front.fields, front.body) == (fields, body)


@pytest.mark.parametrize(
    ("value", "published"),
    [(True, True), ("false", False), ("True", True), ("yes", None), (None, None)],
)
def test_front_matter_published_is_only_true_or_false(
    value: Any, published: bool | None
) -> None:
    assert devto_front_matter.FrontMatter({"published": value}).published is published


SENTENCES = [
    ([], ""),
    (["a"], "a"),
    (["a", "b"], "a and b"),
    (["a", "b", "c"], "a, b, and c"),
]


@pytest.mark.parametrize(("messages", "sentence"), SENTENCES)
def test_the_emulator_joins_errors_as_rails_does(
    messages: list[str], sentence: str
) -> None:
    assert _devto_articles.sentence(messages) == sentence


HTTP_ERRORS = {
    "rack-attack 429": (
        httpx.Response(429, text="Retry later\n", headers={"Retry-After": "1"}),
        base.TransientError,
        "rate_limited",
        1,
    ),
    "creation limit without header": (
        httpx.Response(
            429,
            json={
                "error": "Rate limit reached, try again in 30 seconds",
                "status": 429,
            },
        ),
        base.TransientError,
        "rate_limited",
        30,
    ),
    "401": (
        httpx.Response(401, json={"error": "unauthorized", "status": 401}),
        base.CredentialsRejected,
        "credentials_rejected",
        None,
    ),
    "404": (
        httpx.Response(404, json={"error": "not found", "status": 404}),
        base.PermanentError,
        "not_found",
        None,
    ),
    "422": (
        httpx.Response(422, json={"error": "Title can't be blank", "status": 422}),
        base.PermanentError,
        "rejected",
        None,
    ),
    "500": (
        httpx.Response(500, text="<html>"),
        base.TransientError,
        "server_error",
        None,
    ),
}


@pytest.mark.parametrize(
    ("response", "kind", "code", "retry_after"),
    HTTP_ERRORS.values(),
    ids=HTTP_ERRORS.keys(),
)
def test_answers_become_ours(
    response: httpx.Response,
    kind: type[base.PlatformError],
    code: str,
    retry_after: float | None,
) -> None:
    error = devto._error_of(response)

    assert type(error) is kind
    assert error.code == code
    assert getattr(error, "retry_after", None) == retry_after


def test_a_422_keeps_dev_tos_sentence() -> None:
    response = httpx.Response(
        422, json={"error": "Tag list exceed the maximum of 4 tags", "status": 422}
    )

    assert devto._error_of(response).message == (
        "devto: Tag list exceed the maximum of 4 tags"
    )


@pytest.mark.parametrize(
    "key", ["", "short", "has spaces in it here", None, 12345678901234567890]
)
def test_bad_keys_are_refused(key: Any) -> None:
    with pytest.raises(ValueError, match="api_key"):
        ADAPTER.check_credentials({"api_key": key})


def test_a_key_is_trimmed() -> None:
    assert ADAPTER.check_credentials({"api_key": " abcdefghijklmnopqrstuvwx "}) == {
        "api_key": "abcdefghijklmnopqrstuvwx"
    }
