"""Bluesky post text: grapheme and byte limits, facets at UTF-8 byte offsets, TIDs.

A post's text takes 300 graphemes and 3000 UTF-8 bytes. The server never
links anything: the client sends facets, each a feature (link, mention,
tag) over a byte range `[byteStart, byteEnd)` of the UTF-8 text. Offsets
counted in code points or UTF-16 units land in the wrong place after any
character beyond ASCII (an emoji flag is 2 code points and 8 bytes).

Detection follows the official client's rules: a mention is `@handle`
after a start, space or "(" whose handle ends in a known TLD (or .test);
a link is an http(s) URL or a bare domain with a known TLD (given
`https://`), trailing `.,;:!?` and an unbalanced ")" left out; a tag is
`#` or the full-width U+FF03 after a start or space followed by a run holding something
other than digits and punctuation, trailing punctuation left out, at most
64 graphemes and 640 bytes. The TLD list is twitter-text's.

`split` cuts a text over either limit into posts that fit, never inside
a facet. Record keys of posts are TIDs: 13 characters of base32-sortable holding
53 bits of microseconds and 10 bits of clock id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import grapheme
from twitter_text.regexp.valid_cctld import valid_cctld
from twitter_text.regexp.valid_gtld import valid_gtld

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640
LINK = "app.bsky.richtext.facet#link"
MENTION = "app.bsky.richtext.facet#mention"
TAG = "app.bsky.richtext.facet#tag"

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_PATTERN = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
# Derived keys fall in 2023-01-01 .. 2025-03 (2**46 microseconds): past, so
# no record sorts as written in the future.
_DERIVED_TID_START = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
_DERIVED_TID_SPAN = 2**46

_MENTION = re.compile(r"(^|\s|\()(@)([a-zA-Z0-9.-]+)(\b)")
_URL = re.compile(
    r"(^|\s|\()((https?://\S+)|((?P<domain>[a-z][a-z0-9]*(\.[a-z0-9]+)+)\S*))",
    re.IGNORECASE | re.MULTILINE,
)
_TAG_START = re.compile("(^|\\s)[#\uff03]")
_INVISIBLE = frozenset("\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2")


@dataclass(frozen=True)
class Facet:
    """A feature over `text[start:end]` (code point indexes; see `byte_range`)."""

    kind: str  # LINK, MENTION or TAG
    start: int
    end: int
    value: str  # the URI, the handle (to resolve to a DID) or the tag

    def byte_range(self, text: str) -> tuple[int, int]:
        return byte_offset(text, self.start), byte_offset(text, self.end)


def graphemes(text: str) -> int:
    return int(grapheme.length(text))


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8"))


def byte_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of the code point at `index`."""
    return len(text[:index].encode("utf-8"))


def index_past(text: str) -> int | None:
    """Where the text first goes over 300 graphemes or 3000 bytes, or None."""
    position = size = 0
    for count, cluster in enumerate(grapheme.graphemes(text), start=1):
        size += utf8_length(cluster)
        if count > MAX_GRAPHEMES or size > MAX_BYTES:
            return position
        position += len(cluster)
    return None


def detect(text: str) -> list[Facet]:
    """Links, mentions and tags in `text`, in order, never overlapping."""
    found = [*_mentions(text), *_links(text), *_tags(text)]
    facets: list[Facet] = []
    for facet in sorted(found, key=lambda item: (item.start, item.end)):
        if facets and facet.start < facets[-1].end:
            continue
        facets.append(facet)
    return facets


def is_valid_domain(name: str) -> bool:
    """True if `name` ends in `.<a known TLD>`."""
    _, dot, tld = name.lower().rpartition(".")
    if not dot or not tld:
        return False
    return bool(valid_gtld.fullmatch(tld) or valid_cctld.fullmatch(tld))


def tag_fits(tag: str) -> bool:
    return 0 < graphemes(tag) <= MAX_TAG_GRAPHEMES and utf8_length(tag) <= MAX_TAG_BYTES


def _mentions(text: str) -> list[Facet]:
    facets = []
    for match in _MENTION.finditer(text):
        handle = match.group(3)
        if not is_valid_domain(handle) and not handle.endswith(".test"):
            continue
        start = match.start(2)
        facets.append(Facet(MENTION, start, match.end(3), handle))
    return facets


def _links(text: str) -> list[Facet]:
    facets = []
    for match in _URL.finditer(text):
        uri = match.group(2)
        start, end = match.start(2), match.end(2)
        if not uri.lower().startswith("http"):
            domain = match.group("domain")
            if not domain or not is_valid_domain(domain):
                continue
            uri = f"https://{uri}"
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        facets.append(Facet(LINK, start, end, uri))
    return facets


def _tags(text: str) -> list[Facet]:
    facets = []
    for match in _TAG_START.finditer(text):
        hash_at = match.end() - 1
        run_end = hash_at + 1
        while run_end < len(text) and not _separates(text[run_end]):
            run_end += 1
        run = text[hash_at + 1 : run_end]
        if not run or run[0] == "\ufe0f" or not any(_taggable(c) for c in run):
            continue
        tag = run.strip()
        while tag and _punctuation(tag[-1]):
            tag = tag[:-1]
        if not tag_fits(tag):
            continue
        facets.append(Facet(TAG, hash_at, hash_at + 1 + len(tag), tag))
    return facets


def _separates(char: str) -> bool:
    return char.isspace() or char in _INVISIBLE


def _punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def _taggable(char: str) -> bool:
    return not (char in "0123456789" or _separates(char) or _punctuation(char))


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    graphemes: int
    size: int  # UTF-8 bytes


def _tokens(text: str) -> list[_Token]:
    """Grapheme clusters, with each link, mention and tag as one token."""
    spans = [(facet.start, facet.end) for facet in detect(text)]
    tokens: list[_Token] = []
    position = span = 0
    for cluster in grapheme.graphemes(text):
        end = position + len(cluster)
        size = utf8_length(cluster)
        while span < len(spans) and spans[span][1] <= position:
            span += 1
        inside = (
            span < len(spans) and spans[span][0] < end and position > spans[span][0]
        )
        if inside and tokens:
            last = tokens[-1]
            tokens[-1] = _Token(last.start, end, last.graphemes + 1, last.size + size)
        else:
            tokens.append(_Token(position, end, 1, size))
        position = end
    return tokens


def split(text: str) -> list[str]:
    """`text` as posts of at most 300 graphemes and 3000 bytes each.

    A cut falls on the last line break in the second half of the room,
    else the last space, else the last line break, else between clusters;
    never inside a link, mention or tag. The break or space cut at is
    dropped and each post stripped. Raises ValueError when one link alone
    is over a limit.
    """
    tokens = _tokens(text)
    posts: list[str] = []
    first = 0
    while first < len(tokens):
        count = size = 0
        last = first
        while last < len(tokens) and _fits(count, size, tokens[last]):
            count, size = count + tokens[last].graphemes, size + tokens[last].size
            last += 1
        if last == first:
            raise ValueError(f"the link at {tokens[first].start} is over a post")
        if last == len(tokens):
            posts.append(text[tokens[first].start :])
            break
        cut, dropped = _cut(text, tokens, first, last)
        posts.append(text[tokens[first].start : tokens[cut].start])
        first = cut + 1 if dropped else cut
    return [post.strip() for post in posts if post.strip()]


def _fits(count: int, size: int, token: _Token) -> bool:
    return count + token.graphemes <= MAX_GRAPHEMES and size + token.size <= MAX_BYTES


def _cut(text: str, tokens: list[_Token], first: int, last: int) -> tuple[int, bool]:
    """The token to cut before, and whether that token is dropped."""
    newline = space = None
    count = 0
    for index in range(first, last):
        piece = text[tokens[index].start : tokens[index].end]
        if index > first and piece in ("\n", "\r\n", "\r"):
            newline = (index, count)
        elif index > first and piece.isspace():
            space = index
        count += tokens[index].graphemes
    if newline is not None and newline[1] * 2 >= MAX_GRAPHEMES:
        return newline[0], True
    if space is not None:
        return space, True
    if newline is not None:
        return newline[0], True
    return last, False


def tid(micros: int, clock_id: int) -> str:
    """The TID of a timestamp in microseconds and a 10-bit clock id."""
    value = ((micros & (2**53 - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def derived_tid(key: str, index: int = 0) -> str:
    """A TID that is the same for the same `key` and `index` in any process."""
    digest = hashlib.sha256(f"{key}\x00{index}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    micros = _DERIVED_TID_START + (number >> 10) % _DERIVED_TID_SPAN
    return tid(micros, number & 0x3FF)
