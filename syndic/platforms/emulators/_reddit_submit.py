"""Reddit's checks of a `POST /api/submit` form, and the post it makes.

Refusals are `[code, message, field]` triples that Reddit returns inside a
200 answer (`json.errors`); the codes are those Reddit and its clients use
(RATELIMIT, SUBREDDIT_NOEXIST, NO_TEXT, TOO_LONG, NO_URL, BAD_URL,
NO_LINKS, NO_SELFS, ALREADY_SUB, SUBMIT_VALIDATION_FLAIR_REQUIRED); the
message wording follows recorded answers where one was found. What Reddit
answers for an unknown `flair_id` was not found: this emulator answers
BAD_FLAIR_TEMPLATE_ID (UNVERIFIED).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_TITLE = 300  # code points (UNVERIFIED: code points, not UTF-16 units)
MAX_TEXT = 40_000  # UNVERIFIED
MAX_SLUG = 50
KINDS = frozenset({"self", "link", "image"})
PUBLIC_URL = "https://www.reddit.com"

_WHITESPACE = re.compile(r"\s+")
_NOT_SAFE = re.compile(r"[^\w]", re.UNICODE)
_UNDERSCORES = re.compile(r"_+")

Triple = list[str]


@dataclass(frozen=True)
class Form:
    """The submit fields syndic and other clients send, as strings."""

    fields: Mapping[str, Any]

    def get(self, key: str) -> str:
        value = self.fields.get(key)
        return value.strip() if isinstance(value, str) else ""

    def raw(self, key: str) -> str:
        value = self.fields.get(key)
        return value if isinstance(value, str) else ""

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key).lower()
        if not value:
            return default
        return value in ("true", "1", "on", "yes")


def slug(title: str) -> str:
    """The URL slug Reddit makes of a title: word characters joined by `_`."""
    text = _WHITESPACE.sub("_", title)
    text = _NOT_SAFE.sub("", text)
    text = _UNDERSCORES.sub("_", text).strip("_").lower()
    if len(text) > MAX_SLUG:
        text = text[:MAX_SLUG]
        cut = text.rfind("_")
        if cut > 0:
            text = text[:cut]
    return text or "_"


def ratelimit_message(seconds: float) -> str:
    """Reddit's posting-throttle sentence for a wait of `seconds`."""
    if seconds >= 60:
        amount, unit = math.ceil(seconds / 60), "minute"
    else:
        amount, unit = max(math.ceil(seconds), 1), "second"
    plural = "" if amount == 1 else "s"
    return (
        "Looks like you've been doing that a lot. "
        f"Take a break for {amount} {unit}{plural} before trying again."
    )


def throttled(last_post_at: float | None, interval: float) -> Triple | None:
    """RATELIMIT if the account posted less than `interval` seconds ago."""
    if last_post_at is None or interval <= 0:
        return None
    wait = last_post_at + interval - time.monotonic()
    if wait <= 0:
        return None
    return ["RATELIMIT", ratelimit_message(wait), "ratelimit"]


def where_errors(
    form: Form, username: str, subreddits: Mapping[str, Any]
) -> list[Triple]:
    """Errors about the target community (`sr`)."""
    name = form.get("sr").removeprefix("r/")
    if not name:
        return [["SUBREDDIT_REQUIRED", "you must specify a subreddit", "sr"]]
    subreddit = subreddits.get(name.lower())
    if subreddit is None:
        return [["SUBREDDIT_NOEXIST", "that community doesn't exist", "sr"]]
    owner = getattr(subreddit, "owner", None)
    if owner is not None and owner.lower() != username.lower():
        return [["SUBREDDIT_NOTALLOWED", "you aren't allowed to post there.", "sr"]]
    return []


def content_errors(
    form: Form, link_type: str, already: bool, media_known: bool
) -> list[Triple]:
    """Errors about the kind, title, text and url, as Reddit collects them."""
    errors: list[Triple] = []
    kind = form.get("kind") or "link"
    if kind not in KINDS:
        return [["INVALID_OPTION", "that option is not valid", "kind"]]

    title = form.raw("title")
    if not title.strip():
        errors.append(["NO_TEXT", "we need something here", "title"])
    elif len(title) > MAX_TITLE:
        errors.append(["TOO_LONG", f"this is too long (max: {MAX_TITLE})", "title"])
    if len(form.raw("text")) > MAX_TEXT:
        errors.append(["TOO_LONG", f"this is too long (max: {MAX_TEXT})", "text"])

    if kind == "self" and link_type == "link":
        errors.append(["NO_SELFS", "that subreddit doesn't allow text posts", "sr"])
    if kind in ("link", "image") and link_type == "self":
        errors.append(["NO_LINKS", "that subreddit only allows text posts", "sr"])
    if kind in ("link", "image"):
        errors.extend(_url_errors(form, kind, already, media_known))
    return errors


def _url_errors(
    form: Form, kind: str, already: bool, media_known: bool
) -> list[Triple]:
    url = form.get("url")
    if not url:
        return [["NO_URL", "a url is required", "url"]]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [["BAD_URL", "you should check that url", "url"]]
    if kind == "image" and not media_known:
        return [["BAD_URL", "you should check that url", "url"]]
    if kind == "link" and already and not form.flag("resubmit", True):
        return [["ALREADY_SUB", "that link has already been submitted", "url"]]
    return []


def flair_errors(form: Form, required: bool, flairs: Mapping[str, Any]) -> list[Triple]:
    flair_id = form.get("flair_id")
    if flair_id and flair_id not in flairs:
        return [["BAD_FLAIR_TEMPLATE_ID", "That flair template doesn't exist", "flair"]]
    if required and not flair_id:
        return [
            [
                "SUBMIT_VALIDATION_FLAIR_REQUIRED",
                "Your post must contain post flair.",
                "flair",
            ]
        ]
    return []


def permalink(subreddit: str, post_id: str, title: str) -> str:
    """The post's public URL; a profile post lives under /user/<name>/."""
    if subreddit.lower().startswith("u_"):
        return f"{PUBLIC_URL}/user/{subreddit[2:]}/comments/{post_id}/{slug(title)}/"
    return f"{PUBLIC_URL}/r/{subreddit}/comments/{post_id}/{slug(title)}/"


def post(
    form: Form, post_id: str, subreddit: str, author: str, flair_text: str | None
) -> dict[str, Any]:
    """The stored post, with the fields a listing would show."""
    kind = form.get("kind") or "link"
    title = form.raw("title")
    return {
        "id": post_id,
        "name": f"t3_{post_id}",
        "subreddit": subreddit,
        "author": author,
        "kind": kind,
        "title": title,
        "selftext": form.raw("text"),
        "url": form.get("url")
        if kind != "self"
        else permalink(subreddit, post_id, title),
        "permalink": permalink(subreddit, post_id, title),
        "link_flair_template_id": form.get("flair_id") or None,
        "link_flair_text": flair_text,
        "over_18": form.flag("nsfw", False),
        "spoiler": form.flag("spoiler", False),
        "send_replies": form.flag("sendreplies", True),
        "created_utc": time.time(),
    }


def answer(
    errors: list[Triple], data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The `api_type=json` answer body."""
    body: dict[str, Any] = {"errors": errors}
    if data is not None:
        body["data"] = dict(data)
    return {"json": body}


def jquery_answer() -> dict[str, Any]:
    """What Reddit answers a submit without `api_type=json`: the old jQuery calls."""
    return {
        "jquery": [[0, 1, "call", ["body"]], [1, 2, "attr", "find"]],
        "success": True,
    }
