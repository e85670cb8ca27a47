"""LinkedIn's "little" text format: what a commentary shows, and plain text in it.

Commentary on the Posts API is little text. The reserved characters
`| { } @ [ ] ( ) < > # \\ * _ ~` open its elements; shown as written they
take a backslash, even where no element could start. The elements:

    \\X                          the reserved character X, as written
    @[Name](urn:li:person:ID)     a mention (or urn:li:organization:ID); shows Name
    #word                         a hashtag (letters and digits); shows #word
    {hashtag|#|word}              the hashtag template; shows #word

Any other use of a reserved character is not an error: LinkedIn answers
201 and keeps the text only up to that character, the rest silently lost.
`parse` reproduces that reading (the emulator stores what it returns;
the adapter checks markup with it before sending), and `escape` writes
plain text so that `parse` gives it back whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVED = frozenset("|{}@[]()<>#\\*_~")
HASHTAG_SIGNS = ("#", "\uff03")  # and the fullwidth number sign

_RESERVED_CLASS = "".join(re.escape(char) for char in sorted(RESERVED))
_NAME_CHAR = rf"(?:\\[{_RESERVED_CLASS}]|[^{_RESERVED_CLASS}])"
_URN = r"urn:li:(?:person|organization):[A-Za-z0-9_-]+"
_MENTION = re.compile(rf"@\[({_NAME_CHAR}+)\]\(({_URN})\)")
_HASHTAG = re.compile(r"#([^\W_]+)")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|(\\#|#|\uff03)\|([^\W_]+)\}")
_ESCAPED = re.compile(rf"\\([{_RESERVED_CLASS}])")


@dataclass(frozen=True)
class Mention:
    name: str
    urn: str


@dataclass(frozen=True)
class Parsed:
    """What LinkedIn shows for a commentary.

    `stop` is the source index of the reserved character LinkedIn stops
    reading at (None when it reads the whole commentary); `sources[i]` is
    the source index that `text[i]` comes from.
    """

    text: str
    stop: int | None
    sources: tuple[int, ...]
    mentions: tuple[Mention, ...] = ()
    hashtags: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.stop is None


def parse(source: str) -> Parsed:
    """Read `source` as LinkedIn does, up to the first stray reserved character."""
    text: list[str] = []
    sources: list[int] = []
    mentions: list[Mention] = []
    hashtags: list[str] = []

    def show(shown: str, start: int) -> None:
        text.append(shown)
        sources.extend([start] * len(shown))

    index = 0
    while index < len(source):
        char = source[index]
        if char not in RESERVED:
            show(char, index)
            index += 1
            continue
        if char == "\\" and index + 1 < len(source) and source[index + 1] in RESERVED:
            show(source[index + 1], index)
            index += 2
            continue
        if char == "@" and (match := _MENTION.match(source, index)):
            name = _ESCAPED.sub(r"\1", match.group(1))
            mentions.append(Mention(name, match.group(2)))
            show(name, index)
            index = match.end()
            continue
        if char == "#" and (match := _HASHTAG.match(source, index)):
            hashtags.append(match.group(1))
            show(match.group(0), index)
            index = match.end()
            continue
        if char == "{" and (match := _HASHTAG_TEMPLATE.match(source, index)):
            sign = match.group(1).removeprefix("\\")
            hashtags.append(match.group(2))
            show(sign + match.group(2), index)
            index = match.end()
            continue
        return Parsed(
            "".join(text), index, tuple(sources), tuple(mentions), tuple(hashtags)
        )
    return Parsed("".join(text), None, tuple(sources), tuple(mentions), tuple(hashtags))


def escape(text: str, *, hashtags: bool = True) -> str:
    """`text` as little text that shows exactly `text`.

    Every reserved character gets a backslash, except, with `hashtags`, a
    `#` that starts a word and is followed by a letter or digit: that one
    stays bare so LinkedIn makes the word a hashtag (it shows the same).
    """
    escaped: list[str] = []
    for index, char in enumerate(text):
        if char in RESERVED and not (
            hashtags and char == "#" and _starts_hashtag(text, index)
        ):
            escaped.append("\\")
        escaped.append(char)
    return "".join(escaped)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as a Java service counts a string."""
    return len(text.encode("utf-16-le")) // 2


def _starts_hashtag(text: str, index: int) -> bool:
    after = text[index + 1 : index + 2]
    before = text[index - 1 : index] if index else ""
    return after.isalnum() and not before.isalnum()
