"""Dev.to's article rules: permitted fields, front matter, validations, JSON.

`permitted` keeps what the API controller permits: scalar fields, and
`tags` only as an array (a comma-separated string is dropped without a
word, as Rails' strong parameters drop it). `check` returns Dev.to's error
sentence ("Title is too long (maximum is 128 characters) and Tag list
exceed the maximum of 4 tags"), built like its Article model's
`errors.full_messages.to_sentence`. Tags are ASCII letters and digits, 30
at most each, 4 at most an article.
"""

from __future__ import annotations

import math
import re
import secrets
import time
import unicodedata
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from syndic.platforms.emulators import devto_front_matter

PUBLIC_URL = "https://dev.to"
MAX_TITLE = 128
MAX_TAGS = 4
MAX_TAG = 30
SCALAR_FIELDS = (
    "title",
    "body_markdown",
    "published",
    "series",
    "main_image",
    "canonical_url",
    "description",
    "published_at",
    "subforem_id",
    "language",
)
_TAG = re.compile(r"[a-z0-9]+", re.IGNORECASE)
_TRUE = frozenset({True, "1", "t", "T", "true", "TRUE", "True", "on", "ON"})  # and 1


def permitted(article: Mapping[str, Any]) -> dict[str, Any]:
    """The fields Dev.to's controller lets through, as given."""
    kept = {
        key: article[key]
        for key in SCALAR_FIELDS
        if key in article and _scalar(article[key])
    }
    tags = article.get("tags")
    if isinstance(tags, list):
        kept["tags"] = [tag for tag in tags if _scalar(tag) and tag is not None]
    return kept


def boolean(value: Any) -> bool:
    """Rails' reading of a boolean field."""
    return value in _TRUE


def apply(article: dict[str, Any], fields: Mapping[str, Any]) -> str | None:
    """Set `fields` on `article`, then its body's front matter on top.

    Returns the front matter's error message, if it cannot be read.
    """
    for key in ("title", "body_markdown", "series", "description", "published_at"):
        if key in fields:
            article[key] = None if fields[key] is None else str(fields[key])
    for key in ("main_image", "canonical_url"):
        if key in fields:
            article[key] = str(fields[key]) if fields[key] not in (None, "") else None
    if "published" in fields:
        article["published"] = boolean(fields["published"])
    if "tags" in fields:
        article["tag_list"] = devto_front_matter.tags(fields["tags"])

    try:
        front = devto_front_matter.parse(article.get("body_markdown") or "")
    except devto_front_matter.FrontMatterError as exc:
        return str(exc)
    for key, target in (
        ("title", "title"),
        ("canonical_url", "canonical_url"),
        ("description", "description"),
        ("series", "series"),
        ("cover_image", "main_image"),
    ):
        if front.text(key) is not None:
            article[target] = front.text(key)
    if front.text("tags") is not None:
        article["tag_list"] = devto_front_matter.tags(front.fields["tags"])
    if front.published is not None:
        article["published"] = front.published
    return None


def check(article: Mapping[str, Any], others: Sequence[Mapping[str, Any]]) -> list[str]:
    """Dev.to's full error messages for `article`, in the model's order.

    `others` are every other stored article (for the uniqueness rules).
    """
    messages = []
    title, body = article.get("title"), article.get("body_markdown") or ""
    if any(
        other["user_id"] == article["user_id"]
        and other.get("title") == title
        and (other.get("body_markdown") or "") == body
        for other in others
    ):
        messages.append("Body markdown has already been taken")
    canonical = article.get("canonical_url")
    if canonical and any(other.get("canonical_url") == canonical for other in others):
        messages.append("Canonical url has already been taken")
    if canonical and not _web_url(canonical):
        messages.append("Canonical url is not a valid URL")
    if article.get("main_image") and not _web_url(article["main_image"]):
        messages.append("Main image is not a valid URL")
    if not (title or "").strip():
        messages.append("Title can't be blank")
    elif len(title or "") > MAX_TITLE:
        messages.append(f"Title is too long (maximum is {MAX_TITLE} characters)")
    if canonical and re.search(r"\s", canonical):
        messages.append("Canonical url must not have spaces")
    messages.extend(_tag_messages(article.get("tag_list") or []))
    return messages


def sentence(messages: Sequence[str]) -> str:
    """Rails' `to_sentence`: "a", "a and b", "a, b, and c"."""
    if len(messages) < 3:
        return " and ".join(messages)
    return f"{', '.join(messages[:-1])}, and {messages[-1]}"


def settle(article: dict[str, Any], username: str) -> None:
    """Slug, path, dates and description as Dev.to sets them before saving."""
    slug = article.get("slug") or ""
    base = _parameterize(article.get("title") or "")
    if not slug and not article["published"]:
        slug = f"{base}-temp-slug-{secrets.randbelow(10_000_000)}"
    elif article["published"] and (not slug or "-temp-slug-" in slug):
        slug = f"{base}-{_base26(secrets.randbelow(100_000))}"
    article["slug"] = slug
    article["path"] = f"/{username}/{slug}"
    if article["published"] and not article.get("published_at"):
        article["published_at"] = _now()
    if not (article.get("description") or "").strip():
        text = " ".join((article.get("body_markdown") or "").split())
        article["description"] = (
            f"{text[:100].strip()}..." if len(text) > 100 else text
        ) or f"A post by {username}"


def as_json(article: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """The article as `POST`, `PUT` and `GET /api/articles/{id}` answer it."""
    url = f"{PUBLIC_URL}{article['path']}"
    published_at = article.get("published_at") if article["published"] else None
    return {
        "type_of": "article",
        "id": article["id"],
        "title": article.get("title"),
        "description": article.get("description"),
        "readable_publish_date": _readable(published_at),
        "slug": article["slug"],
        "path": article["path"],
        "url": url,
        "comments_count": 0,
        "public_reactions_count": 0,
        "collection_id": None,
        "published_timestamp": published_at or "",
        "positive_reactions_count": 0,
        "cover_image": article.get("main_image"),
        "social_image": article.get("main_image") or f"{url}/social-preview.png",
        "canonical_url": article.get("canonical_url") or url,
        "created_at": article["created_at"],
        "edited_at": article.get("edited_at"),
        "crossposted_at": None,
        "published_at": published_at,
        "last_comment_at": published_at or article["created_at"],
        "reading_time_minutes": _reading_minutes(article.get("body_markdown") or ""),
        "tag_list": ", ".join(article.get("tag_list") or []),
        "tags": list(article.get("tag_list") or []),
        "body_html": f"<p>{article.get('body_markdown') or ''}</p>",
        "body_markdown": article.get("body_markdown") or "",
        "user": dict(user),
    }


def as_mine(article: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """The article as `GET /api/articles/me/...` lists it (tags as an array)."""
    full = as_json(article, user)
    return {
        **{
            key: full[key]
            for key in (
                "type_of",
                "id",
                "title",
                "description",
                "published_at",
                "slug",
                "path",
                "url",
                "comments_count",
                "public_reactions_count",
                "published_timestamp",
                "body_markdown",
                "positive_reactions_count",
                "cover_image",
                "canonical_url",
                "reading_time_minutes",
                "user",
            )
        },
        "published": bool(article["published"]),
        "page_views_count": 0,
        "tag_list": list(article.get("tag_list") or []),
    }


class Throttle:
    """Events per key in a sliding window; how long until the next is allowed."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}

    def wait(self, key: str, limit: int, per: float) -> float:
        """0.0, and counted, if an event is allowed now; else seconds to wait."""
        now = time.monotonic()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - per:
            events.popleft()
        if len(events) >= limit:
            return events[0] + per - now
        events.append(now)
        return 0.0


def retry_seconds(wait: float) -> int:
    return max(math.ceil(wait), 1)


def _tag_messages(tags: Sequence[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        return [f"Tag list exceed the maximum of {MAX_TAGS} tags"]
    messages = []
    for tag in tags:
        if len(tag) > MAX_TAG:
            messages.append(
                f'Tag "{tag}" is too long (maximum is {MAX_TAG} characters)'
            )
        if _TAG.fullmatch(tag) is None:
            messages.append(
                f'Tag "{tag}" contains non-alphanumeric or prohibited unicode '
                "characters"
            )
    return messages


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _parameterize(title: str) -> str:
    ascii_title = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    )
    slug = re.sub(r"[^a-z0-9\-_]+", "-", ascii_title.lower())
    return re.sub(r"-{2,}", "-", slug).strip("-").replace("_", "")


def _base26(number: int) -> str:
    digits = "0123456789abcdefghijklmnop"
    text = ""
    while number:
        number, rest = divmod(number, 26)
        text = digits[rest] + text
    return text or "0"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _readable(published_at: str | None) -> str | None:
    try:
        moment = datetime.fromisoformat(published_at or "")
    except ValueError:
        return None
    return f"{moment:%b} {moment.day}"


def _reading_minutes(body: str) -> int:
    return max(math.ceil(len(body.split()) / 275), 1)
