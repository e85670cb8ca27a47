"""The Medium adapter's pure parts: credentials, validation, title and content."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from syndic.platforms import base, medium
from syndic.platforms.medium import MediumAdapter


@pytest.fixture
def adapter() -> MediumAdapter:
    return MediumAdapter("http://127.0.0.1:9/medium", httpx.AsyncClient())


def picture(kind: str = "PNG", content_type: str = "image/png") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3)).save(buffer, format=kind)
    return base.Media(content_type, buffer.getvalue(), "p", alt="a [dot]")


def test_credentials_are_one_integration_token(adapter: MediumAdapter) -> None:
    token = "2" + "a" * 64

    assert adapter.check_credentials({"integration_token": f"{token}\n"}) == {
        "integration_token": token
    }


@pytest.mark.parametrize(
    "credentials",
    [{}, {"integration_token": "short"}, {"integration_token": "a b" * 10}],
)
def test_a_bad_token_is_refused_saying_medium_issues_no_new_ones(
    adapter: MediumAdapter, credentials: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="no longer issues new integration tokens"):
        adapter.check_credentials(credentials)


VALID = [
    base.Draft("# Title\n\nbody"),
    base.Draft("body", {"title": "T", "tags": ["a", "b", "c"]}),
    base.Draft("body", {"title": "x" * 100, "tags": ["y" * 25]}),
    base.Draft("<h1>T</h1><p>b</p>", {"content_format": "html"}),
    base.Draft("x", {"publish_status": "draft", "license": "cc-40-by"}),
    base.Draft("x", {"canonical_url": "https://blog.example/x"}),
    base.Draft("", {"title": "Pictures"}, media=(picture(),)),
    base.Draft("t", media=(picture("TIFF", "image/tiff"), picture("GIF", "image/gif"))),
]


@pytest.mark.parametrize("draft", VALID)
def test_drafts_medium_takes_have_no_problem(
    adapter: MediumAdapter, draft: base.Draft
) -> None:
    assert adapter.validate(draft) == []


INVALID = [
    (base.Draft("  "), "medium.content.empty"),
    (base.Draft("\n\n", media=(picture(),)), "medium.title.empty"),
    (base.Draft("x", {"title": "x" * 101}), "medium.title.too_long"),
    (base.Draft("#" + "y" * 101), "medium.title.too_long"),
    (base.Draft("x", {"tags": ["a", "b", "c", "d"]}), "medium.tags.too_many"),
    (base.Draft("x", {"tags": ["z" * 26]}), "medium.tag.too_long"),
    (base.Draft("x", {"tags": "a,b"}), "medium.tags.invalid"),
    (base.Draft("x", {"tags": [1]}), "medium.tags.invalid"),
    (base.Draft("x", {"content_format": "rst"}), "medium.options.content_format"),
    (base.Draft("x", {"publish_status": "private"}), "medium.options.publish_status"),
    (base.Draft("x", {"license": "mit"}), "medium.options.license"),
    (
        base.Draft("x", {"canonical_url": "blog.example"}),
        "medium.options.canonical_url",
    ),
    (base.Draft("x", {"title": 5}), "medium.options.title"),
    (
        base.Draft("x", media=(base.Media("image/webp", b"RIFF"),)),
        "medium.media.unsupported",
    ),
    (
        base.Draft("x", media=(base.Media("image/png", b"broken"),)),
        "medium.image.unreadable",
    ),
]


@pytest.mark.parametrize(("draft", "rule"), INVALID)
def test_each_refusal_has_its_rule(
    adapter: MediumAdapter, draft: base.Draft, rule: str
) -> None:
    assert rule in [problem.rule for problem in adapter.validate(draft)]


@pytest.mark.parametrize(
    ("draft", "title"),
    [
        (base.Draft("# Launch day\n\nWe shipped."), "Launch day"),
        (base.Draft("\n\n## Notes ##\nmore"), "Notes ##"),
        (base.Draft("plain first line\nsecond"), "plain first line"),
        (base.Draft("body", {"title": "  Given  "}), "Given"),
        (
            base.Draft(
                "<h2>Caf&eacute; <em>notes</em></h2><p>x</p>",
                {"content_format": "html"},
            ),
            "Café notes",
        ),
        (
            base.Draft("<p>Only a paragraph</p>", {"content_format": "html"}),
            "Only a paragraph",
        ),
    ],
)
def test_the_title_is_the_option_or_what_the_text_opens_with(
    draft: base.Draft, title: str
) -> None:
    assert medium._title(draft) == title


@pytest.mark.parametrize(
    ("draft", "images", "expected"),
    [
        (base.Draft("# T\n\nbody", {"title": "T"}), [], "# T\n\nbody"),
        (base.Draft("body", {"title": "T"}), [], "# T\n\nbody"),
        (
            base.Draft("<p>b</p>", {"title": "A & B", "content_format": "html"}),
            [],
            "<h1>A &amp; B</h1><p>b</p>",
        ),
        (
            base.Draft("# T", media=(picture(),)),
            ["https://cdn.example/1.png"],
            "# T\n\n![a \\[dot\\]](https://cdn.example/1.png)",
        ),
        (
            base.Draft("<p>T</p>", {"content_format": "html"}, media=(picture(),)),
            ["https://cdn.example/1.png"],
            '<p>T</p><img src="https://cdn.example/1.png" alt="a [dot]">',
        ),
    ],
)
def test_the_content_opens_with_the_title_and_ends_with_the_images(
    draft: base.Draft, images: list[str], expected: str
) -> None:
    assert medium.content(draft, images) == expected
