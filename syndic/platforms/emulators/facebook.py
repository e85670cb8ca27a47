"""Facebook Pages through the Graph API, as strict as graph.facebook.com for syndic.

    POST /v{N}.0/{page-id}/feed      message, link, attached_media[i]
    POST /v{N}.0/{page-id}/photos    source (multipart) or url, message,
                                     published (false: for attached_media)
    GET  /v{N}.0/{page-id}/feed      the page's latest posts, newest first

The Page access token comes as `access_token` (query or body) or as a
bearer header. Without one: code 104; malformed: 190; unknown or
invalidated: 190 subcode 467; expired: 190 subcode 463; a token of
another page, or without `pages_manage_posts`: 403 code 200. An unknown
page is code 100 subcode 33. A feed post needs a message, a link or
attached media ("(#100) Missing message or attachment"); attached media
must be this page's unpublished photos, each attached once. The same
message on the same page within the hour is code 506 "Duplicate status
message". Photos must be JPEG, PNG, GIF, BMP, TIFF or WEBP (code 324).

Throttling answers code 80001 (`is_transient`, HTTP 400) with
`X-Business-Use-Case-Usage` naming the minutes to wait, once a page goes
over its rate (60 calls an hour unless configured); every success carries
the same header with the page's use in percent. Versions newer than
`latest_version` do not exist (code 2500); older ones are served, as
Graph upgrades calls to retired versions.

UNVERIFIED, so knobs on the state: the rate, the 63,206-character message
limit, the 10 MiB photo limit, at most 10 attached photos, the duplicate
window, the wording of the code-100 refusals other than "Missing message
or attachment".
"""

from __future__ import annotations

import math
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _facebook_edges
from syndic.platforms.emulators import _facebook_graph as graph
from syndic.platforms.emulators.recorder import Recorder

NAME = "facebook"
VERSION = re.compile(r"v([0-9]{1,3})\.0")
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9]{20,512}")
PERMISSION_MESSAGE = (
    "(#200) If posting to a page, requires both pages_read_engagement and "
    "pages_manage_posts as an admin with sufficient administrative permission"
)

# Public on purpose: it opens nothing but the emulator.
SANDBOX_PAGE_ID = "100000000000001"
SANDBOX_TOKEN = "EAAsyndicSandboxPageAccessToken0000000000000000"  # noqa: S105
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "page_id": SANDBOX_PAGE_ID,
    "access_token": SANDBOX_TOKEN,
}


@dataclass
class Page:
    id: str
    token: str
    name: str = "syndic sandbox"
    session: str = "active"  # or "expired", "invalidated"
    can_post: bool = True
    posts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass
class Photo:
    id: str
    page_id: str
    published: bool
    size: int
    content_type: str
    alt_text: str | None = None
    attached_to: str | None = None


class FacebookState(_base.EmulatorState):
    """Pages, their posts and photos, and the knobs (see the module docstring)."""

    default_rate_limit = _base.RateLimit(requests=60, per=3600.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.latest_version = 26
        self.max_message = 63_206  # characters
        self.max_photo_bytes = 10 * 1024 * 1024
        self.max_attached_media = 10
        self.duplicate_window = 3600.0  # seconds
        self.pages: dict[str, Page] = {}
        self.photos: dict[str, Photo] = {}
        self._next_id = 100_000_000_000_100
        self._ids = threading.Lock()
        self._add_page(Page(SANDBOX_PAGE_ID, SANDBOX_TOKEN))

    def add_account(self, *, can_post: bool = True) -> dict[str, Any]:
        """A new page and its Page token; credentials as a user stores them.

        Without `can_post` the token lacks `pages_manage_posts`.
        """
        page = Page(self.new_id(), f"EAA{secrets.token_hex(40)}", can_post=can_post)
        self._add_page(page)
        return {"page_id": page.id, "access_token": page.token}

    def expire(self, token: str) -> None:
        self._set_session(token, "expired")

    def invalidate(self, token: str) -> None:
        """As a password change or a lost Page role does: code 190, subcode 467."""
        self._set_session(token, "invalidated")

    def page(self, page_id: str) -> Page | None:
        with self._lock:
            return self.pages.get(page_id)

    def page_of(self, token: str) -> Page | None:
        with self._lock:
            return next((p for p in self.pages.values() if p.token == token), None)

    def new_id(self) -> str:
        with self._ids:
            self._next_id += 1 + secrets.randbelow(50)
            return str(self._next_id)

    def add_photo(
        self,
        page: Page,
        published: bool,
        upload: _base.Upload | None,
        alt_text: str | None,
    ) -> Photo:
        """Keep a photo of `page` (from a URL when `upload` is None)."""
        photo = Photo(
            self.new_id(),
            page.id,
            published,
            len(upload.data) if upload else 0,
            upload.content_type if upload else "",
            alt_text,
        )
        with self._lock:
            self.photos[photo.id] = photo
        return photo

    def photo(self, photo_id: str) -> Photo | None:
        with self._lock:
            return self.photos.get(photo_id)

    def publish(self, page: Page, post: dict[str, Any]) -> dict[str, Any]:
        """Store `post` on `page` under a new `<page>_<post>` id; attach its photos."""
        post_id = f"{page.id}_{self.new_id()}"
        stored = {
            "id": post_id,
            "created_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "created_at": time.monotonic(),
            **post,
        }
        with self._lock:
            for photo_id in post.get("attachments", []):
                self.photos[photo_id].attached_to = post_id
            page.posts.appendleft(stored)
        return stored

    def post(self, post_id: str) -> dict[str, Any] | None:
        page = self.page(post_id.partition("_")[0])
        if page is None:
            return None
        with self._lock:
            return next((post for post in page.posts if post["id"] == post_id), None)

    def latest(self, page: Page, limit: int) -> list[dict[str, Any]]:
        """The page's `limit` newest posts, newest first."""
        with self._lock:
            return list(page.posts)[:limit]

    def is_duplicate(self, page: Page, message: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(
                post.get("message") == message
                and now - post["created_at"] <= self.duplicate_window
                for post in page.posts
            )

    def _add_page(self, page: Page) -> None:
        with self._lock:
            self.pages[page.id] = page

    def _set_session(self, token: str, status: str) -> None:
        page = self.page_of(token)
        if page is not None:
            with self._lock:
                page.session = status


def _token_of(request: Request, params: graph.Params) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credential.strip():
        return credential.strip()
    value = params.values.get("access_token")
    return value if isinstance(value, str) and value else None


def _authorize(state: FacebookState, token: str | None, page_id: str) -> Page:
    """The page the call acts on, if `token` may post to it; else `graph.GraphError`."""
    if token is None:
        raise graph.GraphError(
            400, 104, "An access token is required to request this resource."
        )
    if TOKEN_PATTERN.fullmatch(token) is None:
        raise graph.GraphError(400, 190, "Malformed access token")
    owner = state.page_of(token)
    if owner is None or owner.session == "invalidated":
        raise graph.GraphError(
            400,
            190,
            "Error validating access token: The session has been invalidated "
            "because the user changed their password or Facebook has changed "
            "the session for security reasons.",
            subcode=467,
        )
    if owner.session == "expired":
        raise graph.GraphError(
            400,
            190,
            "Error validating access token: Session has expired on "
            f"{datetime.now(UTC):%A, %d-%b-%y %H:%M:%S} PST.",
            subcode=463,
        )
    page = state.page(page_id)
    if page is None:
        raise graph.GraphError(
            400,
            100,
            f"Unsupported post request. Object with ID '{page_id}' does not exist, "
            "cannot be loaded due to missing permissions, or does not support this "
            "operation.",
            subcode=33,
            type="GraphMethodException",
        )
    if page is not owner or not page.can_post:
        raise graph.GraphError(403, 200, PERMISSION_MESSAGE)
    return page


def _check_version(state: FacebookState, version: str) -> None:
    match = VERSION.fullmatch(version)
    if match is None or int(match.group(1)) > state.latest_version:
        raise graph.GraphError(400, 2500, f"Unknown path components: /{version}")


async def _rate(state: FacebookState, page: Page) -> dict[str, str]:
    """Count the call against the page; the usage header, or a `graph.GraphError`."""
    window = state.hit(f"page-{page.id}")
    if not window.allowed:
        raise graph.throttled(page.id, window.reset_after)
    fault = await _base.apply(state.take_fault())
    if fault is not None:
        raise graph.forced(fault[0], page.id, fault[1])
    used = window.limit - window.remaining
    return graph.usage_header(
        page.id, min(100, math.ceil(100 * used / window.limit)), 0
    )


def _recorded(body: Any) -> Any:
    if isinstance(body, dict) and "access_token" in body:
        return {**body, "access_token": _base.REDACTED}
    return body


def _query(request: Request) -> dict[str, str]:
    query = dict(request.query_params)
    if "access_token" in query:
        query["access_token"] = _base.REDACTED
    return query


def routes(state: FacebookState, recorder: Recorder) -> list[BaseRoute]:
    """The Graph routes, bound to `state`, recording into `recorder`."""

    async def edge(request: Request) -> Response:
        version = request.path_params["version"]
        node, name = request.path_params["node"], request.path_params["edge"]
        body = await _base.read_body(request)
        recorder.record(
            NAME,
            request.method,
            f"/{version}/{node}/{name}",
            _recorded(body.recorded),
            query=_query(request),
        )

        try:
            _check_version(state, version)
            params = graph.Params.of(request.query_params, body)
            page = _authorize(state, _token_of(request, params), node)
            if request.method == "GET" and name == "feed":
                return JSONResponse(_facebook_edges.read_feed(state, page, params))
            handler = {
                "feed": _facebook_edges.feed,
                "photos": _facebook_edges.photos,
            }.get(name)
            if handler is None or request.method != "POST":
                raise graph.invalid_parameter(
                    f"Tried accessing nonexisting field ({name}) on node type (Page)"
                )
            headers = await _rate(state, page)
            return JSONResponse(handler(state, page, params), headers=headers)
        except graph.GraphError as refusal:
            return refusal.response()

    async def unknown(request: Request) -> Response:
        path = request.path_params["path"]
        recorder.record(NAME, request.method, f"/{path}", None, query=_query(request))
        return graph.GraphError(
            400, 2500, f"Unknown path components: /{path}"
        ).response()

    return [
        Route("/{version}/{node}/{edge}", edge, methods=["GET", "POST"]),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=FacebookState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
