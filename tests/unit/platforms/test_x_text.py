"""X's weighted count, thread splitting, validation and signing, without I/O.

The count must match twitter-text v3 (NFC, URLs 23, CJK and emoji 2, one
emoji sequence 2 however many code points it joins), never `len()` or
UTF-16 units, for every kind of emoji and script, not one sample of each.
"""

from __future__ import annotations

import io
import unicodedata

import httpx
import pytest
from PIL import Image
from twitter_text import parse_tweet

from syndic.platforms import base, x
from syndic.platforms.emulators import x_oauth, x_text

TECHNOLOGIST = "👩\u200d💻"  # woman, ZWJ, laptop: 3 code points, 5 UTF-16 units

adapter = x.XAdapter("http://127.0.0.1:9", httpx.AsyncClient(trust_env=False))


@pytest.mark.parametrize(
    ("text", "weighted", "python_len"),
    [
        ("Ship it 👉", 10, 9),
        (TECHNOLOGIST * 140, 280, 420),
        (TECHNOLOGIST * 141, 282, 423),
    ],
)
def test_emoji_sequences_weigh_two_whatever_len_says(
    text: str, weighted: int, python_len: int
) -> None:
    assert len(text) == python_len
    assert x_text.weighted_length(text) == weighted


def test_the_technologist_text_is_700_utf16_units_yet_exactly_at_the_limit() -> None:
    text = TECHNOLOGIST * 140

    assert len(text.encode("utf-16-le")) // 2 == 700
    assert x_text.weighted_length(text) == x_text.MAX_WEIGHTED_LENGTH
    assert x_text.index_past(text) is None


@pytest.mark.parametrize(
    ("emoji", "code_points"),
    [
        ("👉", 1),
        ("🇬🇧", 2),  # flag: two regional indicators
        ("👍🏽", 2),  # skin tone modifier
        ("👨🏼\u200d💻", 4),  # ZWJ with a skin tone
        ("👨\u200d👩\u200d👧\u200d👦", 7),  # family
        ("🏳️\u200d🌈", 4),  # VS16 inside a ZWJ sequence
        ("1️⃣", 3),  # keycap
        ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", 7),  # tags
        ("❤️\u200d🔥", 4),  # Emoji 13.1, newer than twitter-text's table
        ("🐦\u200d🔥", 3),  # Emoji 15.1
        ("🫱🏼\u200d🫲🏿", 5),  # Emoji 14.0 handshake with two tones
        ("🧑\u200d🧑\u200d🧒", 5),  # Emoji 15.1 family
        ("🫨", 1),  # Emoji 15.0, a single code point
    ],
)
def test_every_kind_of_emoji_sequence_weighs_two(emoji: str, code_points: int) -> None:
    assert len(emoji) == code_points
    assert x_text.weighted_length(emoji) == 2
    assert x_text.weighted_length(emoji * 140) == 280
    assert x_text.weighted_length(emoji * 141) == 282


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("hello", 5),
        ("Ελληνικά кириллица עברית عربى", 29),  # U+0000-U+10FF weigh 1
        ("ไทย देवनागरी", 12),
        (
            "\u201cquoted\u201d \u2018single\u2019 \u2013 \u2014 \u2010",
            23,
        ),  # U+2010-U+201F weigh 1
        ("\u2032\u2033\u2034", 3),  # U+2032-U+2037 weigh 1
        ("…", 2),  # U+2026 is outside every light range
        ("東京で会おう", 12),  # CJK and kana weigh 2
        ("한국어", 6),  # Hangul syllables weigh 2
        ("ሰላም", 6),  # Ethiopic (U+1200) is past U+10FF
        ("𠀀𝐀", 4),  # astral characters weigh 2 each, not per UTF-16 unit
        ("e\u0301", 1),  # NFC composes it to é first
        ("ẹ\u0301", 3),  # ẹ (U+1EB9) stays, the mark weighs 1
        ("a\r\nb", 3),
    ],
)
def test_scripts_weigh_by_code_point_range_after_nfc(text: str, weighted: int) -> None:
    assert x_text.weighted_length(text) == weighted


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("https://example.com/" + "a" * 200, 23),
        ("see https://t.co/abc and http://example.org/x?y=1", 4 + 23 + 5 + 23),
        ("example.com", 23),  # a bare domain is a URL too
        ("(https://example.com/path)", 25),
        ("東京 https://example.org/tokyo", 4 + 1 + 23),
    ],
)
def test_every_url_weighs_23(text: str, weighted: int) -> None:
    assert x_text.weighted_length(text) == weighted


@pytest.mark.parametrize(
    "text",
    [
        "Ship it 👉",
        TECHNOLOGIST * 141,
        "Off to London 🇬🇧 https://example.org/trip",
        "東京で会おう 🗼 https://example.org/tokyo",
        "café e\u0301 ẹ́ Ελληνικά",
        "👍🏽👍🏿 1️⃣ #️⃣ © ®",
        "x.com and y.org/path?q=1.",
        "@user #tag $CASH",
    ],
)
def test_the_count_agrees_with_twitter_text_where_its_emoji_table_reaches(
    text: str,
) -> None:
    assert x_text.weighted_length(text) == parse_tweet(text).weightedLength


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("$AAPL", ["AAPL"]),
        ("buy $AAPL and $TSLA.", ["AAPL", "TSLA"]),
        ("$BRK.A holds", ["BRK.A"]),
        ("US$5 and $5", []),
        ("mid$word", []),
    ],
)
def test_cashtags_are_found_as_x_finds_them(text: str, symbols: list[str]) -> None:
    assert x_text.cashtags(text) == symbols


def test_tokens_cover_the_text_and_keep_urls_and_clusters_whole() -> None:
    text = f"Pairing {TECHNOLOGIST} at https://example.org/pair 🇬🇧!"

    tokens = x_text.tokens(text)

    assert "".join(text[token.start : token.end] for token in tokens) == text
    urls = [text[token.start : token.end] for token in tokens if token.url]
    assert urls == ["https://example.org/pair"]
    assert TECHNOLOGIST in [text[token.start : token.end] for token in tokens]


def test_the_limit_is_located_at_the_first_token_past_it() -> None:
    text = "a" * 279 + "東" + "b"

    assert x_text.weighted_length(text) == 282
    assert x_text.index_past(text) == 279


def rejoined(text: str) -> str:
    return "".join(text.split())


SPLIT_CASES = {
    "141 technologists": TECHNOLOGIST * 141,
    "lines": "\n".join(f"{i}. point {i} 🎉 https://example.com/{i}" for i in range(40)),
    "words": " ".join(["word"] * 200),
    "cjk with spaces": " ".join(["東京"] * 200),
    "one long word": "a" * 700,
    "flags without spaces": "🇬🇧🇫🇷🇩🇪" * 60,
    "urls only": " ".join(f"https://example.com/{i}" for i in range(40)),
}


@pytest.mark.parametrize("text", SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_split_posts_fit_and_keep_everything(text: str) -> None:
    posts = x.split_text(text)

    assert len(posts) > 1
    assert all(0 < x_text.weighted_length(post) <= 280 for post in posts)
    assert rejoined("".join(posts)) == rejoined(text)


def test_split_never_cuts_inside_a_url_or_an_emoji() -> None:
    text = "x" * 270 + " https://example.com/a/long/path " + TECHNOLOGIST * 150

    posts = x.split_text(text)

    assert "https://example.com/a/long/path" in posts[1]
    assert all(post.replace(TECHNOLOGIST, "") == "" for post in posts[2:]), (
        "a technologist was cut in half"
    )


def test_the_282_text_is_split_into_140_and_1_technologists() -> None:
    assert x.split_text(TECHNOLOGIST * 141) == [TECHNOLOGIST * 140, TECHNOLOGIST]


def test_a_cluster_heavier_than_a_post_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="weighs over 280"):
        x.split_text("a" + "\u0301" * 400)


def test_282_without_split_is_refused_with_the_place_it_goes_over() -> None:
    text = TECHNOLOGIST * 141

    (problem,) = adapter.validate(base.Draft(text))

    assert problem.rule == "x.text.too_long"
    assert (problem.start, problem.end) == (420, 423)
    assert "282" in problem.message


def test_282_with_split_is_valid() -> None:
    assert adapter.validate(base.Draft(TECHNOLOGIST * 141, {"split": True})) == []


def png(width: int = 4, height: int = 4) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (4, 4), color) for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("draft", "rule"),
    [
        (base.Draft(""), "x.text.empty"),
        (base.Draft("  \n"), "x.text.empty"),
        (base.Draft("a\ufeffb"), "x.text.invalid_characters"),
        (base.Draft("$AAPL and $TSLA"), "x.text.too_many_cashtags"),
        (base.Draft("hi", {"reply_settings": "everyone"}), "x.options.reply_settings"),
        (base.Draft("hi", {"split": "yes"}), "x.options.split"),
        (
            base.Draft("hi", media=(base.Media("image/png", png()),) * 5),
            "x.media.too_many",
        ),
        (
            base.Draft("hi", media=(base.Media("video/mp4", b"\0" * 10),)),
            "x.media.unsupported",
        ),
        (
            base.Draft("hi", media=(base.Media("image/png", b"\0" * (5 * 2**20 + 1)),)),
            "x.media.too_large",
        ),
        (
            base.Draft("hi", media=(base.Media("image/png", b"not an image"),)),
            "x.media.unreadable",
        ),
        (
            base.Draft("hi", media=(base.Media("image/gif", animated_gif()),)),
            "x.media.animated",
        ),
        (
            base.Draft("hi", media=(base.Media("image/png", png(), alt="a" * 1001),)),
            "x.media.alt_too_long",
        ),
    ],
)
def test_validation_rules(draft: base.Draft, rule: str) -> None:
    assert [problem.rule for problem in adapter.validate(draft)] == [rule]


def test_images_alone_need_no_text() -> None:
    assert (
        adapter.validate(base.Draft("", media=(base.Media("image/png", png()),))) == []
    )


def test_one_cashtag_a_post_is_fine_even_when_a_thread_holds_two() -> None:
    text = "$AAPL " + "x" * 300 + " $TSLA"

    assert adapter.validate(base.Draft(text, {"split": True})) == []


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (
            {
                "api_key": " keyABCDEFGHIJ ",
                "api_secret": "s" * 40,
                "access_token": "12345-" + "t" * 30,
                "access_token_secret": "u" * 40,
            },
            {
                "api_key": "keyABCDEFGHIJ",
                "api_secret": "s" * 40,
                "access_token": "12345-" + "t" * 30,
                "access_token_secret": "u" * 40,
            },
        ),
        (
            {
                "consumer_key": "k" * 25,
                "consumer_secret": "s" * 50,
                "access_token": "12345-" + "t" * 30,
                "access_token_secret": "u" * 40,
            },
            {
                "api_key": "k" * 25,
                "api_secret": "s" * 50,
                "access_token": "12345-" + "t" * 30,
                "access_token_secret": "u" * 40,
            },
        ),
        ({"access_token": "b" * 60}, {"access_token": "b" * 60}),
    ],
)
def test_credentials_are_normalised(
    credentials: dict[str, str], expected: dict[str, str]
) -> None:
    assert adapter.check_credentials(credentials) == expected


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({}, "OAuth 1.0a"),
        ({"access_token": "short"}, "OAuth 1.0a"),
        (
            {"api_key": "k" * 25, "api_secret": "s" * 50, "access_token": "t" * 30},
            "access_token",
        ),
        (
            {
                "api_key": "k" * 25,
                "api_secret": "s" * 50,
                "access_token": "12345-" + "t" * 30,
            },
            "access_token_secret",
        ),
        (
            {
                "api_key": "k" * 25,
                "api_secret": "bad secret with spaces",
                "access_token": "12345-" + "t" * 30,
                "access_token_secret": "u" * 40,
            },
            "api_secret",
        ),
    ],
)
def test_bad_credentials_are_refused_with_the_field_named(
    credentials: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        adapter.check_credentials(credentials)


def test_the_oauth1_signature_matches_xs_documented_example() -> None:
    url = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
    params = [
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
        ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        *x_oauth.query_params(url),
    ]

    signature = x_oauth.signature_of(
        x_oauth.signature_base("POST", url, params),
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )

    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


def test_an_authorization_header_parses_back_to_its_parameters() -> None:
    header = x_oauth.authorization_header(
        "POST",
        "http://127.0.0.1:8000/x/2/tweets?a=b c",
        consumer_key="key",
        consumer_secret="secret",
        token="1-token",
        token_secret="token secret",
        nonce="n/o+n=ce",
        timestamp=1_700_000_000,
    )

    params = x_oauth.parse_authorization(header)

    assert params is not None
    assert params["oauth_nonce"] == "n/o+n=ce"
    assert params["oauth_token"] == "1-token"
    assert set(params) >= {"oauth_signature", "oauth_timestamp", "oauth_version"}


def test_base_string_uri_drops_default_ports_and_the_query() -> None:
    assert (
        x_oauth.base_string_uri("HTTPS://API.X.com:443/2/tweets?x=1")
        == "https://api.x.com/2/tweets"
    )
    assert (
        x_oauth.base_string_uri("http://127.0.0.1:8123/x/2/tweets")
        == "http://127.0.0.1:8123/x/2/tweets"
    )


def test_nfc_is_applied_before_counting() -> None:
    decomposed = unicodedata.normalize("NFD", "é" * 280)

    assert len(decomposed) == 560
    assert x_text.weighted_length(decomposed) == 280
