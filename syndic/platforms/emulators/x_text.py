"""X's weighted character count (twitter-text configuration v3), with positions.

X limits a post to 280 *weighted* characters, counted on the NFC form of the
text: code points in U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F and
U+2032-U+2037 weigh 1, every other code point 2; an emoji sequence (flags,
skin tones, ZWJ sequences, keycaps) weighs 2 as a whole; a URL weighs 23
whatever its length. U+FFFE, U+FEFF and U+FFFF make a text invalid.

The weights, URL extraction and known-emoji table come from
`twitter-text-parser` (a port of twitter-text that passes its conformance
suite). Its emoji table stops at Emoji 12.0, so a newer ZWJ or modifier
sequence (❤️‍🔥, 🐦‍🔥, 🫱🏼‍🫲🏿) would be counted code point by code point there;
here a grapheme cluster that starts with an Extended_Pictographic character
and continues only with ZWJ, VS16, skin-tone modifiers, tags, keycap marks
or more pictographs counts 2, as X documents for every emoji sequence.

A post takes one cashtag (`$TSLA`) since the 2026 self-serve tiers.

Tokens carry indexes into the text as given (a grapheme cluster or a whole
URL never splits), so a limit can be located and a thread cut between tokens.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import grapheme
from grapheme.grapheme_property_group import GraphemePropertyGroup, get_group
from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.regexp.emoji import emoji as _KNOWN_EMOJI

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
EMOJI_WEIGHT = 2
INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")
MAX_CASHTAGS = 1  # a post, since the 2026 self-serve tiers

_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_KEYCAP = "\u20e3"
_MODIFIERS = range(0x1F3FB, 0x1F400)
_TAGS = range(0xE0020, 0xE0080)
_CACHE_SIZE = 4096
_CASHTAG = re.compile(
    r"(?:^|(?<=\s))\$([A-Za-z]{1,6}(?:[._][A-Za-z]{1,2})?)(?=$|\s|[^\w$])"
)


@dataclass(frozen=True)
class Token:
    """`text[start:end]`: one grapheme cluster or one URL, and what it weighs."""

    start: int
    end: int
    weight: int
    url: bool = False


def tokens(text: str) -> list[Token]:
    """The text as weighed tokens, in order; their weights sum to the count."""
    urls = sorted(
        (entity["indices"][0], entity["indices"][1])
        for entity in extract_urls_with_indices(text)
    )
    result: list[Token] = []
    position = 0
    next_url = 0
    for cluster in grapheme.graphemes(text):
        end = position + len(cluster)
        while next_url < len(urls) and urls[next_url][1] <= position:
            next_url += 1
        if next_url < len(urls) and urls[next_url][0] < end:
            url_start, url_end = urls[next_url]
            if result and result[-1].url and result[-1].start == url_start:
                result[-1] = Token(url_start, max(url_end, end), URL_WEIGHT, url=True)
            else:
                result.append(Token(position, max(url_end, end), URL_WEIGHT, url=True))
        else:
            result.append(Token(position, end, cluster_weight(cluster)))
        position = end
    return result


def weighted_length(text: str) -> int:
    """X's count for `text` (280 is the limit of a standard account)."""
    return sum(token.weight for token in tokens(text))


def index_past(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> int | None:
    """Where the first token that takes the count past `limit` starts, or None."""
    total = 0
    for token in tokens(text):
        total += token.weight
        if total > limit:
            return token.start
    return None


def invalid_characters(text: str) -> list[int]:
    """Indexes of the characters that make any text invalid on X."""
    return [index for index, char in enumerate(text) if char in INVALID_CHARACTERS]


def cashtags(text: str) -> list[str]:
    """The symbols of the cashtags (`$TSLA`) in `text`, in order."""
    return [match.group(1) for match in _CASHTAG.finditer(text)]


@functools.lru_cache(maxsize=_CACHE_SIZE)
def cluster_weight(cluster: str) -> int:
    """The weight of one grapheme cluster, counted on its NFC form."""
    normalized = unicodedata.normalize("NFC", cluster)
    if is_emoji_sequence(normalized):
        return EMOJI_WEIGHT
    return int(parse_tweet(normalized).weightedLength)


def is_emoji_sequence(cluster: str) -> bool:
    """True if the cluster is one emoji (known to twitter-text, or shaped like one)."""
    if _KNOWN_EMOJI.fullmatch(cluster):
        return True
    if len(cluster) < 2 or not _pictographic(cluster[0]):
        return False
    return all(_continues_emoji(char) for char in cluster[1:])


def _continues_emoji(char: str) -> bool:
    code = ord(char)
    return (
        char in (_ZWJ, _VS16, _KEYCAP)
        or code in _MODIFIERS
        or code in _TAGS
        or _pictographic(char)
    )


def _pictographic(char: str) -> bool:
    return bool(get_group(char) == GraphemePropertyGroup.EXTENDED_PICTOGRAPHIC)
