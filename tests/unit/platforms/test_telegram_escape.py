"""Telegram escaping, markup parsing, splitting and validation, without I/O.

Escaping is checked against the same parser the emulator uses: escaped
plain text must parse back to exactly the plain text, and the parser must
refuse what Telegram refuses.
"""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from syndic.platforms import base, telegram
from syndic.platforms.emulators import telegram_markup
from syndic.platforms.emulators.telegram_markup import MarkupError

RESERVED = "_*[]()~`>#+-=|{}.!"

adapter = telegram.TelegramAdapter(
    "http://127.0.0.1:9", httpx.AsyncClient(trust_env=False)
)


def test_plain_text_is_fully_escaped_for_markdown_v2() -> None:
    plain = "Launch v2.0 (beta) - 50% off! Use code SAVE_20 #sale"

    escaped = telegram.escape_markdown_v2(plain)

    assert (
        escaped == "Launch v2\\.0 \\(beta\\) \\- 50% off\\! Use code SAVE\\_20 \\#sale"
    )
    assert telegram_markup.parse_markdown_v2(escaped).text == plain


def test_escaping_that_misses_characters_is_refused_as_telegram_does() -> None:
    half_escaped = "Launch v2.0 (beta) - 50% off! Use code SAVE\\_20 #sale"

    with pytest.raises(MarkupError) as caught:
        telegram_markup.parse_markdown_v2(half_escaped)

    assert caught.value.description == (
        "Character '.' is reserved and must be escaped with the preceding '\\'"
    )


def test_the_reserved_set_is_the_eighteen_characters() -> None:
    assert set(RESERVED) == telegram_markup.RESERVED
    assert len(RESERVED) == 18


@pytest.mark.parametrize("char", [*RESERVED, "\\"])
def test_each_reserved_character_and_backslash_is_escaped(char: str) -> None:
    assert telegram.escape_markdown_v2(char) == "\\" + char
    assert telegram_markup.parse_markdown_v2(
        f"a{telegram.escape_markdown_v2(char)}b"
    ).text == (f"a{char}b")


@pytest.mark.parametrize("char", RESERVED)
def test_each_reserved_character_left_bare_is_refused_or_changes_the_text(
    char: str,
) -> None:
    source = f"a {char} b"
    try:
        shown = telegram_markup.parse_markdown_v2(source).text
    except MarkupError:
        return
    assert shown != source


ROUND_TRIP = {
    "all reserved": RESERVED,
    "backslashes": "C:\\path\\to\\file \\n \\\\",
    "code-like": "use `pip install x` then *run* _it_",
    "link-like": "[see](https://example.com/a_(b)) and ![x](y)",
    "markdown v1": "*bold* _italic_ ~strike~ ||spoiler|| __under__",
    "pre-like": "```python\nprint('x')\n```",
    "quote at line start": "> quoted\n>> twice\nnot > quoted",
    "html-like": "<b>not bold</b> & &amp; &lt; 3 > 2",
    "unicode": "Ünïcödé — “quotes” 🙂 👍🏽 家族",
    "numbers and signs": "1+1=2; 3-1=2; {a|b} #tag !bang.",
    "newlines and tabs": "a\n\nb\tc\r\nd",
    "empty": "",
}


@pytest.mark.parametrize("plain", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_escaped_markdown_v2_shows_the_plain_text(plain: str) -> None:
    parsed = telegram_markup.parse_markdown_v2(telegram.escape_markdown_v2(plain))

    assert parsed.text == plain
    assert parsed.entities == ()


@pytest.mark.parametrize("plain", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_escaped_html_shows_the_plain_text(plain: str) -> None:
    parsed = telegram_markup.parse_html(telegram.escape_html(plain))

    assert parsed.text == plain
    assert parsed.entities == ()


def test_html_escaping_replaces_only_the_three_characters() -> None:
    assert telegram.escape_html("a < b && c > d \"q\" 'x'") == (
        "a &lt; b &amp;&amp; c &gt; d \"q\" 'x'"
    )


MARKDOWN_V2_ACCEPTED = [
    ("*bold*", "bold", ["bold"]),
    ("_italic_", "italic", ["italic"]),
    ("__underline__", "underline", ["underline"]),
    ("~strike~", "strike", ["strikethrough"]),
    ("||spoiler||", "spoiler", ["spoiler"]),
    ("`co\\`de`", "co`de", ["code"]),
    ("`a.b!c`", "a.b!c", ["code"]),
    ("```python\nprint(1)\n```", "print(1)\n", ["pre"]),
    ("[text](https://example.com/a\\)b)", "text", ["text_link"]),
    ("*bold _italic bold_ bold*", "bold italic bold bold", ["bold", "italic"]),
    ("> quoted\nplain", " quoted\nplain", ["blockquote"]),
    ("a\\.b \\\\ c", "a.b \\ c", []),
]


@pytest.mark.parametrize(("source", "text", "types"), MARKDOWN_V2_ACCEPTED)
def test_markdown_v2_entities_are_parsed(
    source: str, text: str, types: list[str]
) -> None:
    parsed = telegram_markup.parse_markdown_v2(source)

    assert parsed.text == text
    assert sorted(entity.type for entity in parsed.entities) == sorted(types)


MARKDOWN_V2_REFUSED = [
    ("*unclosed", "Can't find end of Bold entity at byte offset 0"),
    ("x _a *b_ c*", "Can't find end of Bold entity"),
    ("||spoiler", "Can't find end of Spoiler entity"),
    ("`code", "Can't find end of Code entity"),
    ("```pre", "Can't find end of Pre entity"),
    ("[text](https://example.com", "Can't find end of a URL"),
    ("a|b", "Character '|' is reserved"),
    ("price: 5.00", "Character '.' is reserved"),
    ("a > b", "Character '>' is reserved"),
    ("a ] b", "Character ']' is reserved"),
    ("`a\\", "Character '\\' is reserved"),
]


@pytest.mark.parametrize(("source", "description"), MARKDOWN_V2_REFUSED)
def test_bad_markdown_v2_is_refused(source: str, description: str) -> None:
    with pytest.raises(MarkupError) as caught:
        telegram_markup.parse_markdown_v2(source)

    assert caught.value.description.startswith(description)


def test_entity_offsets_count_utf16_units() -> None:
    parsed = telegram_markup.parse_markdown_v2("🙂 *b*")

    assert parsed.length == 4
    assert parsed.entities[0].offset == 3


HTML_ACCEPTED = [
    ("<b>b</b><strong>s</strong>", "bs", ["bold", "bold"]),
    ('<a href="https://e.com/?a=1&amp;b=2">l</a>', "l", ["text_link"]),
    (
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
        "st",
        ["spoiler"] * 2,
    ),
    ('<pre><code class="language-python">x</code></pre>', "x", ["code", "pre"]),
    ("&lt;&gt;&amp;&quot;&#128077;&#x1F44D;", '<>&"👍👍', []),
    ("2 > 1", "2 > 1", []),
]


@pytest.mark.parametrize(("source", "text", "types"), HTML_ACCEPTED)
def test_html_entities_are_parsed(source: str, text: str, types: list[str]) -> None:
    parsed = telegram_markup.parse_html(source)

    assert parsed.text == text
    assert sorted(entity.type for entity in parsed.entities) == sorted(types)


HTML_REFUSED = [
    ("a < b", 'Unsupported start tag ""'),
    ("<div>x</div>", 'Unsupported start tag "div"'),
    ("<span>x</span>", 'Unsupported start tag "span"'),
    ("AT&T", "Unsupported HTML entity"),
    ("&nbsp;", "Unsupported HTML entity"),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ("x</b>", "Unexpected end tag"),
]


@pytest.mark.parametrize(("source", "description"), HTML_REFUSED)
def test_bad_html_is_refused(source: str, description: str) -> None:
    with pytest.raises(MarkupError) as caught:
        telegram_markup.parse_html(source)

    assert caught.value.description.startswith(description)


def long_plain(units: int) -> str:
    words = []
    while sum(len(word) + 1 for word in words) < units:
        words.append("v1.0_(x)!" if len(words) % 7 else "line\n")
    return " ".join(words)


SPLIT_PLAIN = {
    "escaped words": long_plain(9000),
    "one huge word": "." * 9000,
    "emoji": "🙂" * 5000,
    "lines": "\n".join(["a.b-c"] * 3000),
}


@pytest.mark.parametrize("mode", [None, "MarkdownV2", "HTML"])
@pytest.mark.parametrize("plain", SPLIT_PLAIN.values(), ids=SPLIT_PLAIN.keys())
def test_long_plain_text_splits_into_messages_telegram_accepts(
    plain: str, mode: str | None
) -> None:
    draft = base.Draft(plain, {"parse_mode": mode})

    calls = telegram._calls(draft, "@channel")

    shown = [telegram_markup.parse(call.fields["text"], mode) for call in calls]
    assert len(calls) > 1
    assert all(0 < parsed.length <= telegram.MAX_TEXT for parsed in shown)
    assert "".join(parsed.text for parsed in shown).replace("\n", "").replace(
        " ", ""
    ) == (plain.replace("\n", "").replace(" ", ""))


def test_markup_splits_between_entities_and_never_inside_one() -> None:
    paragraph = "*bold " + "word " * 150 + "end* and \\. escaped _italic_\n"
    source = paragraph * 20
    draft = base.Draft(source, {"parse_mode": "MarkdownV2", "markup": True})

    texts = [call.fields["text"] for call in telegram._calls(draft, "@channel")]

    assert len(texts) > 1
    for text in texts:
        parsed = telegram_markup.parse_markdown_v2(text)
        assert parsed.length <= telegram.MAX_TEXT
        assert parsed.text.count("bold") == text.count("*bold")


def test_an_entity_longer_than_a_message_cannot_be_split() -> None:
    source = "*" + "a " * 3000 + "*"

    problems = adapter.validate(
        base.Draft(source, {"parse_mode": "MarkdownV2", "markup": True})
    )

    assert [problem.rule for problem in problems] == ["telegram.text.too_long"]


def test_too_long_without_splitting_points_at_the_overflow() -> None:
    (problem,) = adapter.validate(base.Draft("🙂" * 2049, {"split": False}))

    assert problem.rule == "telegram.text.too_long"
    assert (problem.start, problem.end) == (2048, 2049)


def rules(draft: base.Draft) -> list[str]:
    return [problem.rule for problem in adapter.validate(draft)]


def png(width: int = 8, height: int = 8) -> base.Media:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return base.Media("image/png", buffer.getvalue(), "p.png")


VALIDATE_CASES = [
    (base.Draft(""), ["telegram.text.empty"]),
    (base.Draft(" \n "), ["telegram.text.empty"]),
    (
        base.Draft("*  *", {"parse_mode": "MarkdownV2", "markup": True}),
        ["telegram.text.empty"],
    ),
    (base.Draft("", media=(png(),)), []),
    (base.Draft("c" * 1025, media=(png(),)), ["telegram.caption.too_long"]),
    (base.Draft("c" * 1024, media=(png(),)), []),
    (base.Draft("x", media=(png(),) * 11), []),
    (
        base.Draft("x", {"split": False}, media=(png(),) * 11),
        ["telegram.media.too_many"],
    ),
    (base.Draft("x", {"parse_mode": "Markdown"}), ["telegram.options.parse_mode"]),
    (
        base.Draft("a.b", {"parse_mode": "MarkdownV2", "markup": True}),
        ["telegram.markup.invalid"],
    ),
    (base.Draft("a.b", {"parse_mode": "MarkdownV2"}), []),
    (
        base.Draft("x", media=(base.Media("application/pdf", b"%PDF", "d.pdf"),)),
        ["telegram.media.unsupported"],
    ),
    (base.Draft("x", media=(png(9000, 1200),)), ["telegram.photo.dimensions"]),
    (base.Draft("x", media=(png(10, 300),)), ["telegram.photo.dimensions"]),
    (
        base.Draft("x", media=(base.Media("image/png", b"not an image", "p.png"),)),
        ["telegram.photo.unreadable"],
    ),
]


@pytest.mark.parametrize(("draft", "expected"), VALIDATE_CASES)
def test_validation_names_each_rule(draft: base.Draft, expected: list[str]) -> None:
    assert rules(draft) == expected


def test_a_caption_problem_gives_its_range() -> None:
    (problem,) = adapter.validate(base.Draft("c" * 1030, media=(png(),)))

    assert (problem.start, problem.end) == (1024, 1030)


def test_a_markup_problem_points_at_the_character() -> None:
    (problem,) = adapter.validate(
        base.Draft("ok *fine* 5.0", {"parse_mode": "MarkdownV2", "markup": True})
    )

    assert (problem.start, problem.end) == (11, 12)


@pytest.mark.parametrize(
    ("chat_id", "normalised"),
    [("@my_channel", "@my_channel"), ("-1001234567890", -1001234567890), (42, 42)],
)
def test_credentials_are_normalised(chat_id: object, normalised: object) -> None:
    token = "123456789:" + "A" * 35

    checked = adapter.check_credentials({"bot_token": f" {token} ", "chat_id": chat_id})

    assert checked == {"bot_token": token, "chat_id": normalised}


@pytest.mark.parametrize(
    "credentials",
    [
        {"bot_token": "nonsense", "chat_id": "@channel"},
        {"bot_token": "123:short", "chat_id": "@channel"},
        {"bot_token": "123456789:" + "A" * 35, "chat_id": "channel"},
        {"bot_token": "123456789:" + "A" * 35, "chat_id": "@ab"},
        {"bot_token": "123456789:" + "A" * 35, "chat_id": True},
        {"bot_token": "123456789:" + "A" * 35},
    ],
)
def test_bad_credentials_are_rejected(credentials: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"bot_token|chat_id"):
        adapter.check_credentials(credentials)


def answer(status: int, body: dict[str, object]) -> httpx.Response:
    return httpx.Response(status, json=body)


ERROR_CASES = [
    (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
        base.CredentialsRejected,
    ),
    (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
        base.CredentialsRejected,
    ),
    (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
        base.PermanentError,
    ),
    (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"},
        base.PermanentError,
    ),
    (
        500,
        {"ok": False, "error_code": 500, "description": "Internal Server Error"},
        base.TransientError,
    ),
    (502, {}, base.TransientError),
]


@pytest.mark.parametrize(("status", "body", "kind"), ERROR_CASES)
def test_error_answers_map_to_our_errors(
    status: int, body: dict[str, object], kind: type[base.PlatformError]
) -> None:
    error = telegram._error_of(answer(status, body), body)

    assert type(error) is kind


def test_too_many_requests_carries_the_bodys_retry_after() -> None:
    body = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }

    error = telegram._error_of(answer(429, body), body)

    assert isinstance(error, base.TransientError)
    assert error.retry_after == 7
