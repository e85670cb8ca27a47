"""Discord content splitting, validation and credentials, without any I/O."""

from __future__ import annotations

import httpx
import pytest

from syndic.platforms import base, discord

LIMIT = discord.MAX_CONTENT


def rejoins(text: str, chunks: list[str]) -> bool:
    """True if `text` is the chunks in order, separated by at most one dropped
    newline or space each."""
    position = 0
    for number, chunk in enumerate(chunks):
        if number and not text.startswith(chunk, position):
            if text[position] not in "\n ":
                return False
            position += 1
        if not text.startswith(chunk, position):
            return False
        position += len(chunk)
    return position == len(text)


def numbered_lines(count: int, width: int) -> str:
    return "\n".join(f"line {i:02d} " + "x" * (width - 8) for i in range(1, count + 1))


def test_thirty_lines_of_99_characters_split_on_the_line_boundary() -> None:
    text = numbered_lines(30, 99)
    assert len(text) == 2999

    chunks = discord.split_content(text)

    assert [len(chunk) for chunk in chunks] == [1999, 999]
    assert chunks[0].endswith("xxxxxxxxxx")
    assert chunks[1].startswith("line 21 ")
    assert "\n".join(chunks) == text


def test_a_single_line_one_over_the_limit_is_split_hard() -> None:
    chunks = discord.split_content("a" * 2001)

    assert [len(chunk) for chunk in chunks] == [2000, 1]


def test_content_at_the_limit_stays_whole() -> None:
    assert discord.split_content("a" * LIMIT) == ["a" * LIMIT]


SPLIT_CASES = {
    "one over, newline in the middle": "a" * 1000 + "\n" + "b" * 1000,
    "newline right at the limit": "a" * LIMIT + "\n" + "b",
    "newline right after the limit": "a" * (LIMIT + 1) + "\n" + "b",
    "two long lines": "a" * 2500 + "\n" + "b" * 2500,
    "long line with spaces": " ".join(["word"] * 1000),
    "long line with a single far space": "a" * 10 + " " + "b" * 4000,
    "blank lines between": ("p" * 700 + "\n\n") * 6,
    "emoji": ("🙂" * 300 + "\n") * 10,
    "many short lines": "\n".join(["ok"] * 1500),
    "exactly twice the limit": "c" * (2 * LIMIT),
    "numbered lines 100": numbered_lines(100, 99),
    "line of the limit then more": "d" * LIMIT + "\n" + "e" * LIMIT + "\nf",
}


@pytest.mark.parametrize("text", SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_every_chunk_fits_and_the_chunks_rejoin_to_the_input(text: str) -> None:
    chunks = discord.split_content(text)

    assert all(0 < len(chunk) <= LIMIT for chunk in chunks)
    assert rejoins(text, chunks)


LINES_FIT = {
    name: text
    for name, text in SPLIT_CASES.items()
    if all(len(line) <= LIMIT for line in text.split("\n"))
}


@pytest.mark.parametrize("text", LINES_FIT.values(), ids=LINES_FIT.keys())
def test_lines_that_fit_are_never_cut(text: str) -> None:
    lines = set(text.split("\n"))

    chunks = discord.split_content(text)

    assert all(line in lines for chunk in chunks for line in chunk.split("\n"))


def test_a_long_line_is_cut_at_its_last_space_that_fits() -> None:
    text = "a" * 1500 + " " + "b" * 1000

    assert discord.split_content(text) == ["a" * 1500, "b" * 1000]


def test_whitespace_only_chunks_are_left_out() -> None:
    text = "a" * 1999 + "\n" + " " * 1999 + "\n" + "b"

    assert discord.split_content(text) == ["a" * 1999, "b"]


adapter = discord.DiscordAdapter(
    "http://127.0.0.1:9", httpx.AsyncClient(trust_env=False)
)


def rules(draft: base.Draft) -> list[str]:
    return [problem.rule for problem in adapter.validate(draft)]


def test_over_long_content_is_fine_while_splitting() -> None:
    assert rules(base.Draft("x" * 5000)) == []


def test_over_long_content_without_splitting_is_refused_with_its_range() -> None:
    (problem,) = adapter.validate(base.Draft("x" * 2100, {"split": False}))

    assert problem.rule == "discord.content.too_long"
    assert (problem.start, problem.end) == (2000, 2100)


def test_an_empty_message_is_refused() -> None:
    assert rules(base.Draft("  \n")) == ["discord.content.empty"]


def test_embeds_alone_are_a_message() -> None:
    assert rules(base.Draft("", {"embeds": [{"title": "t"}]})) == []


EMBED_CASES = [
    ([{"title": "t"}] * 11, "discord.embeds.too_many"),
    ([{"title": "t" * 257}], "discord.embed.title.too_long"),
    ([{"description": "d" * 4097}], "discord.embed.description.too_long"),
    ([{"footer": {"text": "f" * 2049}}], "discord.embed.footer.too_long"),
    ([{"author": {"name": "a" * 257}}], "discord.embed.author.too_long"),
    ([{"fields": [{"name": "n", "value": "v"}] * 26}], "discord.embed.fields.too_many"),
    (
        [{"fields": [{"name": "n", "value": "v" * 1025}]}],
        "discord.embed.field.too_long",
    ),
    ([{"fields": [{"name": "n"}]}], "discord.embed.field.missing"),
    (
        [{"description": "d" * 4000}, {"description": "d" * 2001}],
        "discord.embeds.too_large",
    ),
    ("not a list", "discord.embeds.invalid"),
]


@pytest.mark.parametrize(("embeds", "rule"), EMBED_CASES)
def test_embed_limits_are_refused_by_rule(embeds: object, rule: str) -> None:
    assert rule in rules(base.Draft("text", {"embeds": embeds}))


def test_embed_text_is_measured_after_trimming() -> None:
    assert (
        rules(base.Draft("text", {"embeds": [{"title": " " * 10 + "t" * 256}]})) == []
    )


def test_files_over_the_limits_are_refused() -> None:
    small = base.Media("image/png", b"x", "a.png")
    big = base.Media("image/png", b"x" * (10 * 1024 * 1024 + 1), "big.png")

    assert rules(base.Draft("t", media=(small,) * 11)) == ["discord.files.too_many"]
    assert rules(base.Draft("t", media=(big,))) == ["discord.files.too_large"]


VALID_URLS = [
    "https://discord.com/api/webhooks/123456789012345678/" + "T" * 68,
    "https://discordapp.com/api/webhooks/123456789012345678/" + "a-b_c" * 14,
    "https://canary.discord.com/api/v10/webhooks/123456789012345678/" + "T" * 68,
    "https://discord.com/api/webhooks/123456789012345678/" + "T" * 68 + "/",
]


@pytest.mark.parametrize("url", VALID_URLS)
def test_webhook_urls_are_normalised_to_discord_com(url: str) -> None:
    checked = adapter.check_credentials({"webhook_url": url})

    assert checked["webhook_url"].startswith(
        "https://discord.com/api/webhooks/123456789012345678/"
    )


INVALID_URLS = [
    None,
    "",
    "http://discord.com/api/webhooks/123456789012345678/" + "T" * 68,
    "https://example.com/api/webhooks/123456789012345678/" + "T" * 68,
    "https://discord.com/api/webhooks/123456789012345678",
    "https://discord.com/api/webhooks/abc/" + "T" * 68,
    "https://discord.com/api/webhooks/123456789012345678/" + "T" * 68 + "/messages/1",
    "https://discord.com.evil.example/api/webhooks/123456789012345678/" + "T" * 68,
]


@pytest.mark.parametrize("url", INVALID_URLS)
def test_anything_but_a_webhook_url_is_rejected(url: object) -> None:
    with pytest.raises(ValueError, match="webhook_url") as caught:
        adapter.check_credentials({"webhook_url": url})

    assert "T" * 20 not in str(caught.value)
