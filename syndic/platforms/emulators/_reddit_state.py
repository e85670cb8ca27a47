"""The state of the Reddit emulator: apps, users, communities, tokens, posts.

Every new state has the sandbox app and user (`SANDBOX_CREDENTIALS`) and the
communities the Reddit emulator's docstring lists.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from syndic.platforms.emulators import _base, _reddit_media, _reddit_submit

TOKEN_LIFETIME = 3600.0  # seconds
FIRST_POST_ID = int("1a0000", 36)
MAX_KEPT = 1000  # tokens, uploads and waiting updates kept; the oldest go first

# Public on purpose: they open nothing but the emulator.
SANDBOX_CLIENT_ID = "syndicSandboxApp0001"
SANDBOX_CLIENT_SECRET = "syndic-sandbox-client-secret-0001"  # noqa: S105
SANDBOX_USERNAME = "syndic_sandbox"
SANDBOX_PASSWORD = "syndic-sandbox-password"  # noqa: S105
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "client_id": SANDBOX_CLIENT_ID,
    "client_secret": SANDBOX_CLIENT_SECRET,
    "username": SANDBOX_USERNAME,
    "password": SANDBOX_PASSWORD,
}
FLAIR_NEWS = "5e2d4a1c-0000-4000-8000-000000000001"
FLAIR_OTHER = "5e2d4a1c-0000-4000-8000-000000000002"


@dataclass
class App:
    client_id: str
    secret: str
    developers: set[str]  # lower-cased usernames


@dataclass
class User:
    name: str
    password: str
    post_interval: float = 0.0  # seconds the posting throttle asks between posts
    last_post_at: float | None = None  # monotonic


@dataclass(frozen=True)
class Flair:
    id: str
    text: str
    text_editable: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "text_editable": self.text_editable,
            "type": "text",
            "mod_only": False,
        }


@dataclass
class Subreddit:
    name: str
    link_type: str = "any"  # any, self or link
    flair_required: bool = False
    flairs: dict[str, Flair] = field(default_factory=dict)
    owner: str | None = None  # the user of a profile community u_<name>


@dataclass(frozen=True)
class Token:
    value: str
    client_id: str
    username: str
    expires_at: float  # monotonic


class RedditState(_base.EmulatorState):
    """Apps, users, communities, tokens, posts, uploads and the knobs.

    `token_lifetime` is the `expires_in` of new tokens; `expire_tokens()`
    ends every token now; `fail_media_next()` makes the next image fail
    processing; `drop_websocket_next()` closes the next update socket
    without a word (the post is made: an unknown outcome).
    """

    default_rate_limit = _base.RateLimit(requests=1000, per=600.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.token_lifetime = TOKEN_LIFETIME
        self.apps: dict[str, App] = {}
        self.users: dict[str, User] = {}
        self.subreddits: dict[str, Subreddit] = {}
        self.tokens: dict[str, Token] = {}
        self.posts: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.assets: dict[str, _reddit_media.Asset] = {}
        self.signing_key = secrets.token_bytes(32)
        self._updates: dict[str, dict[str, Any]] = {}
        self._links: set[tuple[str, str]] = set()
        self._media_failures = 0
        self._websocket_drops = 0
        self._next_id = FIRST_POST_ID
        self._id_lock = threading.Lock()

        self.add_subreddit("syndic_sandbox")
        self.add_subreddit(
            "syndic_flair",
            flair_required=True,
            flairs=(Flair(FLAIR_NEWS, "News"), Flair(FLAIR_OTHER, "Other", True)),
        )
        self.add_subreddit("syndic_selfonly", link_type="self")
        self.add_subreddit("syndic_linkonly", link_type="link")
        self.add_account(
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            username=SANDBOX_USERNAME,
            password=SANDBOX_PASSWORD,
        )

    def add_account(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        post_interval: float = 0.0,
    ) -> dict[str, Any]:
        """A user and a script app they develop; credentials as a user stores them."""
        client_id = client_id or secrets.token_urlsafe(16)[:22]
        client_secret = client_secret or secrets.token_urlsafe(24)
        username = username or f"syndic_{secrets.token_hex(4)}"
        password = password or secrets.token_urlsafe(12)
        with self._lock:
            self.users[username.lower()] = User(username, password, post_interval)
            self.apps[client_id] = App(client_id, client_secret, {username.lower()})
        self.add_subreddit(f"u_{username}", owner=username)
        return {
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
        }

    def add_subreddit(
        self,
        name: str,
        *,
        link_type: str = "any",
        flair_required: bool = False,
        flairs: tuple[Flair, ...] = (),
        owner: str | None = None,
    ) -> Subreddit:
        subreddit = Subreddit(
            name, link_type, flair_required, {f.id: f for f in flairs}, owner
        )
        with self._lock:
            self.subreddits[name.lower()] = subreddit
        return subreddit

    def user(self, username: str) -> User | None:
        with self._lock:
            return self.users.get(username.lower())

    def app(self, client_id: str) -> App | None:
        with self._lock:
            return self.apps.get(client_id)

    def issue_token(self, app: App, user: User) -> Token:
        token = Token(
            f"{secrets.randbelow(10**8)}-{secrets.token_urlsafe(21)}",
            app.client_id,
            user.name,
            time.monotonic() + self.token_lifetime,
        )
        with self._lock:
            self.tokens[token.value] = token
            _bound(self.tokens)
        return token

    def token(self, value: str) -> Token | None:
        with self._lock:
            token = self.tokens.get(value)
        if token is None or token.expires_at <= time.monotonic():
            return None
        return token

    def expire_tokens(self) -> None:
        """End every token now, as a password change or a revocation would."""
        with self._lock:
            self.tokens.clear()

    def fail_media_next(self, times: int = 1) -> None:
        with self._lock:
            self._media_failures += times

    def drop_websocket_next(self, times: int = 1) -> None:
        with self._lock:
            self._websocket_drops += times

    def take_media_failure(self) -> bool:
        with self._lock:
            if not self._media_failures:
                return False
            self._media_failures -= 1
            return True

    def take_websocket_drop(self) -> bool:
        with self._lock:
            if not self._websocket_drops:
                return False
            self._websocket_drops -= 1
            return True

    def new_asset(
        self, mimetype: str, filepath: str, owner: str
    ) -> _reddit_media.Asset:
        asset_id = secrets.token_hex(6)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", filepath)[-100:] or "file"
        asset = _reddit_media.Asset(
            asset_id, f"rte_images/{asset_id}/{name}", mimetype, filepath, owner, {}
        )
        with self._lock:
            self.assets[asset.key] = asset
            _bound(self.assets)
        return asset

    def store_upload(self, key: str, data: bytes, content_type: str) -> None:
        with self._lock:
            asset = self.assets[key]
            asset.data, asset.content_type = data, content_type

    def submit(
        self, user: User, form: _reddit_submit.Form, subreddit: Subreddit
    ) -> dict[str, Any]:
        """Store a new post of `user`; its stored form."""
        flair = subreddit.flairs.get(form.get("flair_id"))
        flair_text = None
        if flair is not None:
            flair_text = form.get("flair_text") if flair.text_editable else None
            flair_text = flair_text or flair.text
        with self._id_lock:
            self._next_id += 1
            post_id = _base36(self._next_id)
        post = _reddit_submit.post(form, post_id, subreddit.name, user.name, flair_text)
        with self._lock:
            self.posts.append(post)
            user.last_post_at = time.monotonic()
            if post["kind"] == "link":
                self._links.add((subreddit.name.lower(), post["url"]))
        return post

    def already_submitted(self, subreddit: str, url: str) -> bool:
        with self._lock:
            return (subreddit.lower(), url) in self._links

    def hold_update(self, update: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._updates[token] = update
            _bound(self._updates)
        return token

    def release_update(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            return self._updates.pop(token, None)


def _bound(kept: dict[str, Any]) -> None:
    while len(kept) > MAX_KEPT:
        kept.pop(next(iter(kept)))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"
