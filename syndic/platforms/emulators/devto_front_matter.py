"""The front matter Dev.to reads at the top of `body_markdown`, and its tags.

A body that starts with a `---` line and has another `---` line later holds
YAML between them; Dev.to takes `title`, `tags`, `published`,
`cover_image`, `canonical_url`, `description` and `series` from it, and
those win over the API's fields (its Article model applies the front
matter after the attributes). Before parsing, an unquoted `title:` value is
quoted, as Dev.to's Markdown fixer does, so a title may hold `: `.

Tags, from the API's array or the front matter's text, are read as Dev.to's
tagging library reads them: split on commas, trimmed, lower-cased, without
repeats. Both the adapter (to validate what Dev.to will see) and the
emulator (to apply it) use this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml  # type: ignore[import-untyped]

_OPENING = re.compile(r"\A---[ \t]*\n")
_CLOSING = re.compile(r"^---[ \t]*$", re.MULTILINE)
_TITLE_LINE = re.compile(r"^(title:[ \t]*)(.*?)[ \t]*$", re.MULTILINE)
KEYS = frozenset(
    {
        "title",
        "tags",
        "published",
        "cover_image",
        "canonical_url",
        "description",
        "series",
    }
)


class FrontMatterError(ValueError):
    """The front matter is not YAML Dev.to can read; the message says why."""


@dataclass(frozen=True)
class FrontMatter:
    fields: dict[str, Any] = field(default_factory=dict)
    body: str = ""

    def text(self, key: str) -> str | None:
        """A field as Dev.to uses it: present and not blank, as text."""
        value = self.fields.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return str(value)

    @property
    def published(self) -> bool | None:
        """`published` when it is true or false (Dev.to ignores anything else)."""
        value = self.fields.get("published")
        text = str(value).strip().lower()
        return {"true": True, "false": False}.get(text)


def parse(markdown: str) -> FrontMatter:
    """The front matter of `markdown` (empty if none); raises FrontMatterError."""
    text = markdown.replace("\r\n", "\n")
    opening = _OPENING.match(text)
    closing = _CLOSING.search(text, opening.end()) if opening else None
    if opening is None or closing is None:
        return FrontMatter(body=markdown)

    source = _TITLE_LINE.sub(_quoted_title, text[opening.end() : closing.start()])
    try:
        loaded = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise FrontMatterError(" ".join(str(exc).split())) from exc
    body = text[closing.end() :].removeprefix("\n")
    if not isinstance(loaded, dict):
        return FrontMatter(body=body)
    return FrontMatter({str(key): value for key, value in loaded.items()}, body)


def tags(value: Any) -> list[str]:
    """Tags as Dev.to stores them, from an array or a comma-separated text."""
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    found: list[str] = []
    for item in items:
        if item is None or isinstance(item, dict | list):
            continue
        for part in str(item).split(","):
            tag = part.strip().strip("\"'").strip().lower()
            if tag and tag not in found:
                found.append(tag)
    return found


def _quoted_title(match: re.Match[str]) -> str:
    prefix, value = match.group(1), match.group(2)
    if not value or value[0] in "\"'":
        return match.group(0)
    return prefix + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
