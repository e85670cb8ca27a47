"""Telegram's MarkdownV2 and HTML markup, parsed as the Bot API parses them.

`parse(source, parse_mode)` returns the visible text, its entities (offsets
and lengths in UTF-16 code units, as Telegram counts them) and the cut
points: the source positions of top-level tokens, where the source can be
split without breaking an escape sequence, an entity or a tag. Bad markup
raises `MarkupError` carrying Telegram's description (what follows
"Bad Request: can't parse entities: ") and the source index.

MarkdownV2: outside entities each of ``_*[]()~`>#+-=|{}.!`` must be escaped
with a backslash; inside code and pre only a backtick and the backslash;
inside a link's URL only `)` and the backslash. HTML: the tags Telegram
knows, the named entities `&lt; &gt; &amp; &quot;` and numeric ones; every
other `<` or `&` is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKDOWN_V2 = "MarkdownV2"
HTML = "HTML"
RESERVED = frozenset("_*[]()~`>#+-=|{}.!")

_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "code": "Code",
    "pre": "Pre",
}
_OPENERS = (
    ("```", "pre"),
    ("__", "underline"),
    ("||", "spoiler"),
    ("![", "custom_emoji"),
    ("_", "italic"),
    ("*", "bold"),
    ("~", "strikethrough"),
    ("[", "text_link"),
    ("`", "code"),
)
_CLOSERS = {
    "bold": "*",
    "italic": "_",
    "underline": "__",
    "strikethrough": "~",
    "spoiler": "||",
    "text_link": "]",
    "custom_emoji": "]",
    "code": "`",
    "pre": "```",
}
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTRIBUTE = re.compile(
    r"""\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z]+));")


class MarkupError(ValueError):
    """Markup Telegram refuses; `index` is the code-point index in the source."""

    def __init__(self, description: str, index: int) -> None:
        super().__init__(description)
        self.description = description
        self.index = index


@dataclass(frozen=True)
class Entity:
    type: str
    offset: int  # UTF-16 code units
    length: int  # UTF-16 code units
    url: str | None = None


@dataclass(frozen=True)
class Parsed:
    text: str
    length: int  # UTF-16 code units
    entities: tuple[Entity, ...] = ()
    cuts: tuple[tuple[int, int], ...] = ()  # (source index, UTF-16 offset)


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def parse(source: str, parse_mode: str | None) -> Parsed:
    """Parse `source` in `parse_mode` (None: plain text); raise `MarkupError`."""
    if parse_mode is None:
        return plain(source)
    if parse_mode == MARKDOWN_V2:
        return parse_markdown_v2(source)
    if parse_mode == HTML:
        return parse_html(source)
    raise ValueError(f"unsupported parse_mode {parse_mode!r}")


def plain(text: str) -> Parsed:
    """Plain text: every position is a cut point."""
    cuts = []
    offset = 0
    for index, char in enumerate(text):
        cuts.append((index, offset))
        offset += 2 if ord(char) > 0xFFFF else 1
    return Parsed(text, offset, (), tuple(cuts))


@dataclass
class _Open:
    type: str
    offset: int
    index: int
    url: str | None = None


@dataclass
class _Output:
    parts: list[str] = field(default_factory=list)
    length: int = 0
    entities: list[Entity] = field(default_factory=list)
    cuts: list[tuple[int, int]] = field(default_factory=list)

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def close(self, opened: _Open) -> None:
        if self.length > opened.offset:
            length = self.length - opened.offset
            self.entities.append(Entity(opened.type, opened.offset, length, opened.url))

    def parsed(self) -> Parsed:
        entities = sorted(self.entities, key=lambda entity: entity.offset)
        return Parsed(
            "".join(self.parts), self.length, tuple(entities), tuple(self.cuts)
        )


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _reserved(char: str, index: int) -> MarkupError:
    return MarkupError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'",
        index,
    )


def parse_markdown_v2(source: str) -> Parsed:
    out = _Output()
    stack: list[_Open] = []
    quote: _Open | None = None
    index = 0
    while index < len(source):
        char = source[index]
        if not stack:
            out.cuts.append((index, out.length))
        top = stack[-1] if stack else None

        if (
            char == "\\"
            and index + 1 < len(source)
            and 0 < ord(source[index + 1]) <= 126
        ):
            out.emit(source[index + 1])
            index += 2
        elif top is not None and top.type in ("code", "pre"):
            index = _inside_code(source, index, top, stack, out)
        elif char == ">" and (index == 0 or source[index - 1] == "\n"):
            quote = quote or _Open("blockquote", out.length, index)
            index += 1
        elif char not in RESERVED:
            if (
                char == "\n"
                and quote is not None
                and not source.startswith(">", index + 1)
            ):
                out.close(quote)
                quote = None
            out.emit(char)
            index += 1
        elif top is not None and source.startswith(_CLOSERS[top.type], index):
            stack.pop()
            index = _close_markdown(source, index + len(_CLOSERS[top.type]), top, out)
        else:
            index = _open_markdown(source, index, stack, out)

    if stack:
        innermost = stack[-1]
        name = _NAMES[innermost.type]
        raise MarkupError(
            f"Can't find end of {name} entity at byte offset "
            f"{_byte_offset(source, innermost.index)}",
            innermost.index,
        )
    if quote is not None:
        out.close(quote)
    return out.parsed()


def _inside_code(
    source: str, index: int, top: _Open, stack: list[_Open], out: _Output
) -> int:
    """One step inside code or pre, where only a backtick and `\\` are special."""
    if source.startswith(_CLOSERS[top.type], index):
        stack.pop()
        out.close(top)
        return index + len(_CLOSERS[top.type])
    char = source[index]
    if char in "`\\":
        raise _reserved(char, index)
    out.emit(char)
    return index + 1


def _open_markdown(source: str, index: int, stack: list[_Open], out: _Output) -> int:
    for marker, kind in _OPENERS:
        if source.startswith(marker, index):
            stack.append(_Open(kind, out.length, index))
            after = index + len(marker)
            return _skip_language(source, after) if kind == "pre" else after
    raise _reserved(source[index], index)


def _skip_language(source: str, index: int) -> int:
    """After ```: a first line without spaces names the language, and is not text."""
    newline = source.find("\n", index)
    end = source.find("```", index)
    if newline == -1 or (end != -1 and end < newline):
        return index
    first_line = source[index:newline]
    if first_line == "" or not any(
        char.isspace() or char == "`" for char in first_line
    ):
        return newline + 1
    return index


def _close_markdown(source: str, index: int, opened: _Open, out: _Output) -> int:
    """Close `opened`; links also read their `(url)`. The index after it."""
    if opened.type not in ("text_link", "custom_emoji"):
        out.close(opened)
        return index
    if not source.startswith("(", index):
        if opened.type == "custom_emoji":
            raise MarkupError(
                "Custom emoji entity must have an identifier", opened.index
            )
        return index

    url: list[str] = []
    cursor = index + 1
    while cursor < len(source) and source[cursor] != ")":
        if source[cursor] == "\\" and cursor + 1 < len(source):
            cursor += 1
        url.append(source[cursor])
        cursor += 1
    if cursor >= len(source):
        raise MarkupError(
            f"Can't find end of a URL at byte offset {_byte_offset(source, index)}",
            index,
        )
    opened.url = "".join(url)
    if opened.url:
        out.close(opened)
    return cursor + 1


def parse_html(source: str) -> Parsed:
    out = _Output()
    stack: list[tuple[str, _Open]] = []
    index = 0
    while index < len(source):
        char = source[index]
        if not stack:
            out.cuts.append((index, out.length))

        if char == "&":
            value, index = _html_entity(source, index)
            out.emit(value)
        elif char != "<":
            out.emit(char)
            index += 1
        elif source.startswith("</", index):
            index = _close_tag(source, index, stack, out)
        else:
            tag, opened, index = _open_tag(source, index, out)
            stack.append((tag, opened))

    if stack:
        tag, opened = stack[-1]
        raise MarkupError(
            f'Can\'t find end tag corresponding to start tag "{tag}"', opened.index
        )
    return out.parsed()


def _reference_value(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return _HTML_NAMED.get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def _decoded_reference(match: re.Match[str]) -> str:
    return _reference_value(match) or match.group()


def _html_entity(source: str, index: int) -> tuple[str, int]:
    match = _ENTITY.match(source, index)
    value = _reference_value(match) if match is not None else None
    if match is None or value is None:
        raise MarkupError(
            f"Unsupported HTML entity at byte offset {_byte_offset(source, index)}",
            index,
        )
    return value, match.end()


def _open_tag(source: str, index: int, out: _Output) -> tuple[str, _Open, int]:
    offset = _byte_offset(source, index)
    name_match = _TAG_NAME.match(source, index + 1)
    tag = name_match.group().lower() if name_match else ""
    if name_match is None or tag not in _HTML_TAGS:
        raise MarkupError(
            f'Unsupported start tag "{tag}" at byte offset {offset}', index
        )

    attributes: dict[str, str] = {}
    cursor = name_match.end()
    while True:
        while cursor < len(source) and source[cursor].isspace():
            cursor += 1
        if source.startswith(">", cursor):
            break
        match = _ATTRIBUTE.match(source, cursor)
        if match is None or match.end() == cursor:
            raise MarkupError(
                f'Can\'t parse attributes of the tag "{tag}" at byte offset {offset}',
                index,
            )
        value = next((part for part in match.groups()[1:] if part is not None), "")
        attributes[match.group(1).lower()] = _ENTITY.sub(_decoded_reference, value)
        cursor = match.end()

    if tag == "span" and attributes.get("class") != "tg-spoiler":
        raise MarkupError(
            f'Unsupported start tag "{tag}" at byte offset {offset}', index
        )
    url = attributes.get("href") or attributes.get("emoji-id")
    return tag, _Open(_HTML_TAGS[tag], out.length, index, url), cursor + 1


def _close_tag(
    source: str, index: int, stack: list[tuple[str, _Open]], out: _Output
) -> int:
    offset = _byte_offset(source, index)
    end = source.find(">", index)
    if end == -1:
        raise MarkupError(f"Unclosed end tag at byte offset {offset}", index)
    tag = source[index + 2 : end].strip().lower()
    if not stack:
        raise MarkupError(f"Unexpected end tag at byte offset {offset}", index)
    expected, opened = stack[-1]
    if tag != expected:
        raise MarkupError(
            f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", '
            f'found "</{tag}>"',
            index,
        )
    stack.pop()
    if opened.type != "text_link" or opened.url:
        out.close(opened)
    return end + 1
