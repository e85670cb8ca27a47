"""What syndic checks of a Reddit post and its credentials, without I/O.

Titles and texts are counted in code points (whether Reddit counts code
points or UTF-16 units is UNVERIFIED; they differ only outside the Basic
Multilingual Plane, such as for emoji). A post is one submission: self
(text), link (`url`) or image (one PNG, JPEG or GIF of at most 20 MiB, a
limit that is UNVERIFIED); galleries and video are not sent.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from syndic.platforms import base

MAX_TITLE = 300  # code points
MAX_TEXT = 40_000  # code points
MAX_FLAIR_TEXT = 64
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
KINDS = ("self", "link", "image")

SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")
USERNAME = re.compile(r"[A-Za-z0-9_-]{3,20}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{10,40}")

try:
    _VERSION = importlib.metadata.version("syndic")
except importlib.metadata.PackageNotFoundError:  # running from a checkout
    _VERSION = "0"


def title_problems(title: Any) -> list[base.Problem]:
    """What Reddit refuses in a title: none, blank, or over 300 characters."""
    if title is None or (isinstance(title, str) and not title.strip()):
        return [base.Problem("reddit.title.missing", "Reddit needs a title")]
    if not isinstance(title, str):
        return [base.Problem("reddit.title.invalid", "title must be text")]
    if len(title) > MAX_TITLE:
        return [
            base.Problem(
                "reddit.title.too_long",
                f"Title is {len(title)} characters; Reddit takes {MAX_TITLE}",
            )
        ]
    return []


def problems(draft: base.Draft) -> list[base.Problem]:
    """Every rule of Reddit (and of syndic's Reddit posts) the draft breaks."""
    options = draft.options
    found = title_problems(options.get("title"))
    kind = kind_of(draft)

    if kind not in KINDS:
        found.append(
            base.Problem("reddit.options.kind", "kind must be self, link or image")
        )
    subreddit = options.get("subreddit")
    if subreddit is not None and (
        not isinstance(subreddit, str)
        or SUBREDDIT.fullmatch(bare_subreddit(subreddit)) is None
    ):
        found.append(
            base.Problem(
                "reddit.subreddit.invalid",
                "subreddit must be a community name such as python, "
                "without r/ (leave it out to post to your profile)",
            )
        )
    if len(draft.text) > MAX_TEXT:
        found.append(
            base.Problem(
                "reddit.text.too_long",
                f"Text is {len(draft.text)} characters; Reddit takes {MAX_TEXT}",
                start=MAX_TEXT,
                end=len(draft.text),
            )
        )
    found.extend(_kind_problems(kind, draft))
    found.extend(_flair_problems(options))
    found.extend(_flag_problems(options))
    return found


@dataclass(frozen=True)
class Account:
    client_id: str
    client_secret: str
    username: str
    password: str
    user_agent: str

    @property
    def key(self) -> tuple[str, str]:
        return self.client_id, self.username.lower()

    def __repr__(self) -> str:
        return f"Account(client_id={self.client_id!r}, username={self.username!r})"


def account(credentials: Mapping[str, Any]) -> Account:
    """The script app and user in `credentials`, with a user agent; or ValueError."""
    values = {
        key: credentials.get(key)
        for key in ("client_id", "client_secret", "username", "password")
    }
    for key, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"{key} is required (from the script app at reddit.com/prefs/apps)"
            )
    client_id = str(values["client_id"]).strip()
    username = str(values["username"]).strip().removeprefix("/").removeprefix("u/")
    if CLIENT_ID.fullmatch(client_id) is None:
        raise ValueError("client_id must be the app id shown under the app's name")
    if USERNAME.fullmatch(username) is None:
        raise ValueError("username must be a Reddit username such as spez (no u/)")

    user_agent = credentials.get("user_agent")
    if user_agent is not None and (
        not isinstance(user_agent, str) or len(user_agent.strip()) < 10
    ):
        raise ValueError(
            "user_agent must describe the app, such as "
            "<platform>:<app id>:<version> (by /u/<username>)"
        )
    return Account(
        client_id=client_id,
        client_secret=str(values["client_secret"]).strip(),
        username=username,
        password=str(values["password"]),
        user_agent=(user_agent or "").strip()
        or f"syndic:{client_id}:{_VERSION} (by /u/{username})",
    )


def bare_subreddit(value: str) -> str:
    return value.strip().removeprefix("/").removeprefix("r/")


def kind_of(draft: base.Draft) -> Any:
    kind = draft.options.get("kind")
    if kind is not None:
        return kind
    if draft.media:
        return "image"
    return "link" if draft.options.get("url") else "self"


def _kind_problems(kind: Any, draft: base.Draft) -> list[base.Problem]:
    url = draft.options.get("url")
    if kind == "link":
        if not url:
            return [base.Problem("reddit.link.url_missing", "a link post needs a url")]
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            return [
                base.Problem("reddit.link.url_invalid", "url must be an http(s) URL")
            ]
    if kind != "image":
        if draft.media:
            return [
                base.Problem(
                    "reddit.media.unexpected",
                    f"a {kind} post carries no files; use kind image for one image",
                )
            ]
        return []
    return _image_problems(draft.media)


def _image_problems(media: tuple[base.Media, ...]) -> list[base.Problem]:
    if not media:
        return [base.Problem("reddit.image.missing", "an image post needs an image")]
    if len(media) > 1:
        return [
            base.Problem(
                "reddit.media.too_many",
                f"{len(media)} files; syndic posts one image to Reddit",
            )
        ]
    image = media[0]
    if image.content_type not in IMAGE_TYPES:
        return [
            base.Problem(
                "reddit.media.unsupported",
                f"{image.filename}: Reddit image posts take PNG, JPEG or GIF, "
                f"not {image.content_type}",
            )
        ]
    if not image.data:
        return [base.Problem("reddit.image.empty", f"{image.filename} is empty")]
    if len(image.data) > MAX_IMAGE_BYTES:
        return [
            base.Problem(
                "reddit.image.too_large",
                f"{image.filename} is over {MAX_IMAGE_BYTES // (1024 * 1024)} MiB",
            )
        ]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image.data)) as opened:
                opened.verify()
    except (OSError, ValueError, Image.DecompressionBombError):
        return [
            base.Problem(
                "reddit.image.unreadable", f"{image.filename} is not a readable image"
            )
        ]
    return []


def _flair_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    flair_id, flair_text = options.get("flair_id"), options.get("flair_text")
    problems = []
    if flair_text is not None and not flair_id:
        problems.append(
            base.Problem(
                "reddit.flair.text_without_id",
                "flair_text needs flair_id (the template it edits)",
            )
        )
    if flair_text is not None and (
        not isinstance(flair_text, str) or len(flair_text) > MAX_FLAIR_TEXT
    ):
        problems.append(
            base.Problem(
                "reddit.flair.text_too_long",
                f"flair_text takes up to {MAX_FLAIR_TEXT} characters",
            )
        )
    if flair_id is not None and not isinstance(flair_id, str):
        problems.append(
            base.Problem("reddit.flair.id_invalid", "flair_id must be a template id")
        )
    return problems


def _flag_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    return [
        base.Problem(f"reddit.options.{key}", f"{key} must be true or false")
        for key in ("nsfw", "spoiler", "send_replies", "resubmit")
        if options.get(key) is not None and not isinstance(options[key], bool)
    ]
