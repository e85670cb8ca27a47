"""LinkedIn's little text format: escaping plain text, and reading it as LinkedIn does.

The pitfall: a reserved character written bare is not refused, LinkedIn
keeps the post only up to it. Every reserved character is covered, in
several positions and scripts.
"""

from __future__ import annotations

import pytest

from syndic.platforms.emulators import linkedin_little

RESERVED = sorted(linkedin_little.RESERVED)


def test_the_reserved_set_is_the_documented_one() -> None:
    assert set(RESERVED) == set("|{}@[]()<>#\\*_~")


@pytest.mark.parametrize("char", RESERVED)
def test_a_bare_reserved_character_cuts_the_post_there(char: str) -> None:
    text = f"Ship it {char} today"

    shown = linkedin_little.parse(text)

    assert shown.text == "Ship it "
    assert shown.stop == len("Ship it ")
    assert not shown.complete


@pytest.mark.parametrize("char", RESERVED)
def test_an_escaped_reserved_character_shows_as_written(char: str) -> None:
    text = f"Ship it {char} today"

    escaped = linkedin_little.escape(text)

    assert escaped == f"Ship it \\{char} today"
    assert linkedin_little.parse(escaped).text == text
    assert linkedin_little.parse(escaped).complete


@pytest.mark.parametrize("char", RESERVED)
@pytest.mark.parametrize(
    "template",
    [
        "{c}",
        "{c}{c}",
        "{c}start",
        "end{c}",
        "mid{c}dle",
        "東京で{c}会おう",
        "Pairing 👨🏼‍💻{c}👩‍💻",
        "Off to London 🇬🇧 {c}trip{c}",
        "مرحبا {c} بالعالم",
        "हिंदी{c}पाठ",
        "\\{c}",
        "{c}\\",
    ],
)
def test_escaping_then_reading_gives_the_text_back_whole(
    char: str, template: str
) -> None:
    text = template.format(c=char)

    shown = linkedin_little.parse(linkedin_little.escape(text))

    assert shown.complete
    assert shown.text == text


@pytest.mark.parametrize(
    "text",
    [
        "Launch v2.0 (beta) - 50% off! Use code SAVE_20 #sale",
        "C:\\Users\\me\\notes_final.txt",
        "mail me@example.org or ping @team",
        "a < b > c | d ~ e * f",
        '{"json": [1, 2, {"k": "v"}]}',
        "https://example.org/wiki/Rust_(language)?q=a_b#frag",
        "#日本語 #café #launch2026 and C# and issue#12 and ## and #_x",
        "",
        "no reserved characters at all",
    ],
)
def test_whole_texts_survive_escaping(text: str) -> None:
    shown = linkedin_little.parse(linkedin_little.escape(text))

    assert (shown.text, shown.stop) == (text, None)


HASHTAGS = [
    ("#launch day", "#launch day", ("launch",)),
    ("Big #news: (v2)", "Big #news: \\(v2\\)", ("news",)),
    ("#日本 と #café", "#日本 と #café", ("日本", "café")),
    ("C# rocks", "C\\# rocks", ()),
    ("C#10", "C\\#10", ()),
    ("issue#12", "issue\\#12", ()),
    ("# heading", "\\# heading", ()),
    ("##double", "\\##double", ("double",)),
    ("(#tag)", "\\(#tag\\)", ("tag",)),
    ("#rust_lang", "#rust\\_lang", ("rust",)),
]


@pytest.mark.parametrize(("text", "escaped", "tags"), HASHTAGS)
def test_a_word_starting_with_hash_stays_a_hashtag(
    text: str, escaped: str, tags: tuple[str, ...]
) -> None:
    assert linkedin_little.escape(text) == escaped
    shown = linkedin_little.parse(escaped)
    assert shown.text == text
    assert shown.hashtags == tags


def test_without_hashtags_every_hash_is_escaped() -> None:
    escaped = linkedin_little.escape("#launch day", hashtags=False)

    assert escaped == "\\#launch day"
    assert linkedin_little.parse(escaped).hashtags == ()


ELEMENTS = [
    (
        "Thanks @[Acme Corp](urn:li:organization:2414183)!",
        "Thanks Acme Corp!",
        ("urn:li:organization:2414183",),
        (),
    ),
    (
        "cc @[Eddy \\(EU\\)](urn:li:person:z6_nnTIGu-)",
        "cc Eddy (EU)",
        ("urn:li:person:z6_nnTIGu-",),
        (),
    ),
    (
        "the {hashtag|\\#|Technology} future",
        "the #Technology future",
        (),
        ("Technology",),
    ),
    ("the {hashtag|#|Tech} future", "the #Tech future", (), ("Tech",)),
    ("the {hashtag|\uff03|Tech}", "the \uff03Tech", (), ("Tech",)),
]


@pytest.mark.parametrize(("source", "text", "mentions", "hashtags"), ELEMENTS)
def test_mentions_and_hashtag_templates_show_their_text(
    source: str, text: str, mentions: tuple[str, ...], hashtags: tuple[str, ...]
) -> None:
    shown = linkedin_little.parse(source)

    assert shown.complete
    assert shown.text == text
    assert tuple(mention.urn for mention in shown.mentions) == mentions
    assert shown.hashtags == hashtags


STOPS = [
    ("write to me@example.org", 11),
    ("@[Acme](https://acme.example)", 0),
    ("@[Acme](urn:li:company:1)", 0),
    ("@[](urn:li:person:1)", 0),
    ("{hashtag|#|}", 0),
    ("{hashtag|#|a b}", 0),
    ("ends with a backslash \\", 22),
    ("\\n is not an escape", 0),
    ("\\(ok\\) then (not)", 12),
]


@pytest.mark.parametrize(("source", "stop"), STOPS)
def test_a_malformed_element_cuts_the_post_at_its_first_character(
    source: str, stop: int
) -> None:
    shown = linkedin_little.parse(source)

    assert shown.stop == stop
    assert len(shown.sources) == len(shown.text)


def test_sources_point_back_into_the_source() -> None:
    source = "a\\(b @[Zoë](urn:li:person:x) #go"

    shown = linkedin_little.parse(source)

    assert shown.text == "a(b Zoë #go"
    assert [source[index] for index in shown.sources[:4]] == ["a", "\\", "b", " "]
    assert source[shown.sources[4]] == "@"
    assert source[shown.sources[-1]] == "#"


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("abc", 3),
        ("é", 1),
        ("東京", 2),
        ("😀", 2),
        ("🇬🇧", 4),
        ("👨🏼‍💻", 7),
    ],
)
def test_length_is_counted_in_utf16_units(text: str, units: int) -> None:
    assert linkedin_little.utf16_length(text) == units
