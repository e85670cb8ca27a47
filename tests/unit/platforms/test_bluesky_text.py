"""Bluesky text rules, facets, thread splitting, record keys, images, validation.

Facet offsets are UTF-8 bytes: any character before a facet that is not
ASCII (a flag, a ZWJ sequence, a kanji, an astral ideograph, a combining
mark) moves the byte offsets away from code-point and UTF-16 indexes.
"""

from __future__ import annotations

import base64
import io
import json
import time

import httpx
import pytest
from PIL import Image

from syndic.platforms import _bluesky_images, _bluesky_session, base, bluesky
from syndic.platforms.emulators import bluesky_richtext as richtext

adapter = bluesky.BlueskyAdapter(
    "http://127.0.0.1:9", httpx.AsyncClient(trust_env=False)
)

# Each: text, the link, its byte range, and the wrong code point and UTF-16 ranges.
LINK_AFTER_EMOJI = [
    (
        "Off to London 🇬🇧 https://example.org/trip",
        "https://example.org/trip",
        (23, 47),
        (17, 41),
        (19, 43),
    ),
    (
        "Pairing today 👨🏼\u200d💻 https://example.org/pair",
        "https://example.org/pair",
        (30, 54),
        (19, 43),
        (22, 46),
    ),
    (
        "東京で会おう 🗼 https://example.org/tokyo",
        "https://example.org/tokyo",
        (24, 49),
        (9, 34),
        (10, 35),
    ),
]


def utf16_index(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "uri", "expected", "code_points", "utf16"), LINK_AFTER_EMOJI
)
def test_link_facets_are_utf8_byte_offsets(
    text: str,
    uri: str,
    expected: tuple[int, int],
    code_points: tuple[int, int],
    utf16: tuple[int, int],
) -> None:
    (facet,) = richtext.detect(text)

    assert facet.kind == richtext.LINK
    assert facet.value == uri
    assert facet.byte_range(text) == expected
    assert (facet.start, facet.end) == code_points
    assert (utf16_index(text, facet.start), utf16_index(text, facet.end)) == utf16
    assert text.encode()[expected[0] : expected[1]].decode() == uri


FACET_TEXTS = [
    "🇬🇧🇫🇷 #travel @alice.bsky.social https://example.org/a",
    "👨\u200d👩\u200d👧\u200d👦 family day #family https://example.org/f",
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f and 1️⃣ #football",
    "👍🏽👍🏿 great work @bob.test!",
    "مرحبا بالعالم https://example.org/ar #عربي",
    "नमस्ते दुनिया @carol.bsky.social",
    "안녕하세요 #한국어 example.com/kr",
    "𠀀𠀁 astral ideographs https://example.org/ext-b",
    "e\u0301e\u0301 combining marks #café",
    "\uff03東京 full-width hash, then (https://example.org/paren)",
    "trailing punctuation https://example.org/end. and #tag!",
]


@pytest.mark.parametrize("text", FACET_TEXTS)
def test_every_facet_covers_exactly_its_bytes(text: str) -> None:
    facets = richtext.detect(text)
    encoded = text.encode()

    assert facets
    for facet in facets:
        start, end = facet.byte_range(text)
        covered = encoded[start:end].decode()
        assert covered == text[facet.start : facet.end]
        if facet.kind == richtext.LINK:
            assert facet.value.endswith(covered.removeprefix("https://"))
        elif facet.kind == richtext.MENTION:
            assert covered == f"@{facet.value}"
        else:
            assert covered[1:] == facet.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @alice.bsky.social!", [("mention", "alice.bsky.social")]),
        ("hi @bob.test", [("mention", "bob.test")]),
        ("mail me@example.com", []),
        ("@nodomain here", []),
        ("see example.com.", [("link", "https://example.com")]),
        ("(https://example.org/x)", [("link", "https://example.org/x")]),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar)",
            [("link", "https://en.wikipedia.org/wiki/Foo_(bar)")],
        ),
        ("not.a.tld/x", []),
        ("#tag, #123 #a1 #️⃣", [("tag", "tag"), ("tag", "a1")]),
        ("mid#word", []),
        ("#" + "t" * 65, []),
    ],
)
def test_detection_follows_the_official_rules(
    text: str, expected: list[tuple[str, str]]
) -> None:
    found = [
        (facet.kind.rsplit("#", 1)[-1], facet.value) for facet in richtext.detect(text)
    ]

    assert found == expected


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("a" * 300, True),
        ("a" * 301, False),
        ("👨\u200d👩\u200d👧\u200d👦" * 120, True),  # 120 graphemes, 3000 bytes
        ("👨\u200d👩\u200d👧\u200d👦" * 121, False),  # 121 graphemes, over 3000 bytes
        ("東" * 300, True),  # 900 bytes
        ("🇬🇧" * 300, True),  # 2400 bytes
        ("🇬🇧" * 301, False),
        ("e\u0301" * 300, True),  # 300 graphemes of 2 code points
    ],
)
def test_a_post_takes_300_graphemes_and_3000_bytes(text: str, fits: bool) -> None:
    assert (richtext.index_past(text) is None) is fits


def test_the_limit_is_located_at_the_first_cluster_past_it() -> None:
    text = "🇬🇧" * 301

    assert richtext.index_past(text) == 600


def rejoined(text: str) -> str:
    return "".join(text.split())


SPLIT_CASES = {
    "words": " ".join(["word"] * 200),
    "lines": "\n".join(f"{i}. item {i} 🇬🇧 https://example.org/{i}" for i in range(40)),
    "families": "👨\u200d👩\u200d👧\u200d👦 " * 200,
    "one long word": "a" * 800,
    "cjk": "東京で会おう" * 100,
    "tags and mentions": " ".join(f"#tag{i} @user{i}.bsky.social" for i in range(60)),
}


@pytest.mark.parametrize("text", SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_split_posts_fit_both_limits_and_keep_everything(text: str) -> None:
    posts = richtext.split(text)

    assert len(posts) > 1
    assert all(richtext.index_past(post) is None for post in posts)
    assert rejoined("".join(posts)) == rejoined(text)


def test_split_never_cuts_inside_a_link() -> None:
    link = "https://example.org/" + "p" * 40
    text = "x" * 280 + " " + link + " tail"

    posts = richtext.split(text)

    assert any(link in post for post in posts)


def test_a_link_longer_than_a_post_cannot_be_split() -> None:
    with pytest.raises(ValueError, match="over a post"):
        richtext.split("https://example.org/" + "p" * 400)


def test_derived_record_keys_are_stable_tids_in_the_past() -> None:
    first = richtext.derived_tid("post-1:bluesky", 0)

    assert first == richtext.derived_tid("post-1:bluesky", 0)
    assert first != richtext.derived_tid("post-1:bluesky", 1)
    assert first != richtext.derived_tid("post-2:bluesky", 0)
    assert richtext.TID_PATTERN.fullmatch(first)
    assert first < richtext.tid(int(time.time() * 1_000_000), 0)


def test_a_tid_sorts_by_time() -> None:
    earlier = richtext.tid(1_700_000_000_000_000, 7)
    later = richtext.tid(1_700_000_000_000_001, 0)

    assert earlier < later
    assert richtext.TID_PATTERN.fullmatch(earlier)


def noise_png(side: int = 1500) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((side, side), 100).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_large_image_is_reencoded_under_the_limit() -> None:
    data = noise_png()
    assert len(data) > 1_000_000

    fitted, width, height = _bluesky_images.fit_image(data, 1_000_000)

    assert len(fitted) <= 1_000_000
    with Image.open(io.BytesIO(fitted)) as image:
        assert image.format == "JPEG"
        assert image.size == (width, height)
        assert max(image.size) <= _bluesky_images.MAX_IMAGE_SIDE


def test_a_small_image_is_kept_as_it_is() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20)).save(buffer, format="PNG")

    fitted = _bluesky_images.fit_image(buffer.getvalue(), 1_000_000)

    assert fitted == (buffer.getvalue(), 30, 20)


def test_a_huge_photo_is_shrunk_to_2000_pixels_and_turned_upright() -> None:
    image = Image.effect_noise((3000, 1200), 60).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=98, exif=exif)

    fitted, width, height = _bluesky_images.fit_image(buffer.getvalue(), 500_000)

    assert len(fitted) <= 500_000
    assert height > width
    assert max(width, height) <= 2000


def test_transparency_is_flattened_on_white() -> None:
    image = Image.effect_noise((1200, 1200), 80).convert("RGBA")
    image.putalpha(0)
    image.paste((0, 0, 0, 255), (0, 0, 10, 10))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    fitted, _, _ = _bluesky_images.fit_image(buffer.getvalue(), 50_000)

    with Image.open(io.BytesIO(fitted)) as result:
        assert result.getpixel((result.width - 1, result.height - 1)) >= (250, 250, 250)


def png(alt: str = "") -> base.Media:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), "p.png", alt)


@pytest.mark.parametrize(
    ("draft", "rules"),
    [
        (base.Draft(""), ["bluesky.text.empty"]),
        (base.Draft("a" * 301), ["bluesky.text.too_many_graphemes"]),
        (
            base.Draft("👨\u200d👩\u200d👧\u200d👦" * 121),
            ["bluesky.text.too_many_bytes"],
        ),
        (
            base.Draft("👨\u200d👩\u200d👧\u200d👦" * 301),
            ["bluesky.text.too_many_graphemes", "bluesky.text.too_many_bytes"],
        ),
        (
            base.Draft("https://example.org/" + "p" * 400, {"split": True}),
            ["bluesky.text.unsplittable"],
        ),
        (base.Draft("hi", media=(png(),) * 5), ["bluesky.media.too_many"]),
        (
            base.Draft("hi", media=(base.Media("video/mp4", b"\0"),)),
            ["bluesky.media.unsupported"],
        ),
        (
            base.Draft("hi", media=(base.Media("image/png", b"junk"),)),
            ["bluesky.media.unreadable"],
        ),
        (
            base.Draft("hi", {"langs": ["en", "fr", "de", "es"]}),
            ["bluesky.options.langs"],
        ),
        (base.Draft("hi", {"langs": ["not a tag"]}), ["bluesky.options.langs"]),
        (base.Draft("hi", {"tags": ["t" * 65]}), ["bluesky.options.tags"]),
        (base.Draft("hi", {"split": "yes"}), ["bluesky.options.split"]),
    ],
)
def test_validation_rules(draft: base.Draft, rules: list[str]) -> None:
    assert [problem.rule for problem in adapter.validate(draft)] == rules


def test_the_grapheme_problem_points_at_the_301st_grapheme() -> None:
    text = "🇬🇧" * 301

    (problem,) = adapter.validate(base.Draft(text))

    assert problem.rule == "bluesky.text.too_many_graphemes"
    assert (problem.start, problem.end) == (600, 602)


@pytest.mark.parametrize(
    "draft",
    [
        base.Draft("a" * 301, {"split": True}),
        base.Draft("", media=(png(),)),
        base.Draft("hi", {"langs": ["en", "pt-BR"], "tags": ["syndic"]}),
    ],
)
def test_valid_drafts(draft: base.Draft) -> None:
    assert adapter.validate(draft) == []


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (
            {
                "identifier": " @Alice.BSKY.social ",
                "app_password": "ABCD-efgh-2345-ijkl",
            },
            {"identifier": "alice.bsky.social", "app_password": "abcd-efgh-2345-ijkl"},
        ),
        (
            {"identifier": "did:plc:AbC123", "app_password": "abcd-efgh-2345-ijkl"},
            {"identifier": "did:plc:AbC123", "app_password": "abcd-efgh-2345-ijkl"},
        ),
        (
            {"identifier": "me@example.com", "app_password": "abcd-efgh-2345-ijkl"},
            {"identifier": "me@example.com", "app_password": "abcd-efgh-2345-ijkl"},
        ),
    ],
)
def test_credentials_are_normalised(
    credentials: dict[str, str], expected: dict[str, str]
) -> None:
    assert adapter.check_credentials(credentials) == expected


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({}, "identifier"),
        (
            {"identifier": "not a handle", "app_password": "abcd-efgh-2345-ijkl"},
            "identifier",
        ),
        (
            {"identifier": "alice.bsky.social", "app_password": "hunter2hunter2"},
            "app password",
        ),
        ({"identifier": "alice.bsky.social"}, "app password"),
    ],
)
def test_bad_credentials_are_refused_with_the_field_named(
    credentials: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        adapter.check_credentials(credentials)


def jwt(payload: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256'})}.{part(payload)}.signature"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"iat": 1000, "exp": 1000 + 7200}, 1000 + 7200 - 900),  # 15 min early
        ({"iat": 1000, "exp": 1040}, 1030),  # a quarter of a short life
        ({"exp": 5000}, 5000 - 900),
    ],
)
def test_a_session_is_refreshed_before_its_access_token_ends(
    payload: dict[str, object], expected: float
) -> None:
    assert _bluesky_session.refresh_after(jwt(payload)) == expected


def test_an_unreadable_token_is_refreshed_at_once() -> None:
    before = time.time()

    assert _bluesky_session.refresh_after("not-a-jwt") >= before
