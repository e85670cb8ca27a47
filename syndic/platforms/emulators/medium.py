"""Medium's publishing API (v1), as strict as api.medium.com for what syndic sends.

    GET  /v1/me                         the token's user, in a `data` envelope
    POST /v1/users/{authorId}/posts     201, the post in `data`
    POST /v1/images                     multipart field `image`, 201 url and md5
    GET  /v1/users/{userId}/publications

Every call needs `Authorization: Bearer <integration token>`: without one
401 code 6000 "An access token is required.", an unknown or revoked one
401 code 6003. Errors are `{"errors": [{"message", "code"}]}`. Posting
under another user's id, or for a user who may not publish, is 403. A
post needs `title`, `contentFormat` (html or markdown) and `content`; a
field Medium does not know is 400 code 6007 "Unexpected field (x)
specified". Medium keeps only the first three tags and drops tags over 25
characters, and ignores a title over 100 characters (making one from the
content): the emulator stores what Medium would. `publishedAt` is absent
for drafts. Images are one JPEG, PNG, GIF or TIFF per call.

UNVERIFIED, so knobs or constants here: Medium documents no rate limit
(the emulator answers 429 with `Retry-After` past 15 posts an hour per
user unless configured), and the codes and wording of errors other than
6000, 6004, 6005 and 6007 are the emulator's own.
"""

from __future__ import annotations

import hashlib
import html
import io
import math
import re
import secrets
import time
import warnings
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base
from syndic.platforms.emulators.recorder import Recorder

NAME = "medium"
TOKEN_REQUIRED = 6000
TOKEN_INVALID = 6003
USER_NOT_FOUND = 6004
UNEXPECTED_FIELD = 6007
INVALID_FIELD = 6001  # UNVERIFIED
NOT_PERMITTED = 6027  # UNVERIFIED
RATE_LIMITED = 6029  # UNVERIFIED
MAX_TAGS = 3
MAX_TAG = 25
MAX_TITLE = 100
CONTENT_FORMATS = ("html", "markdown")
PUBLISH_STATUSES = ("public", "draft", "unlisted")
LICENSES = {
    "all-rights-reserved": "https://medium.com/policy/9db0094a1e0f",
    "cc-40-by": "https://creativecommons.org/licenses/by/4.0/",
    "cc-40-by-sa": "https://creativecommons.org/licenses/by-sa/4.0/",
    "cc-40-by-nd": "https://creativecommons.org/licenses/by-nd/4.0/",
    "cc-40-by-nc": "https://creativecommons.org/licenses/by-nc/4.0/",
    "cc-40-by-nc-nd": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    "cc-40-by-nc-sa": "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    "cc-40-zero": "https://creativecommons.org/publicdomain/zero/1.0/",
    "public-domain": "https://creativecommons.org/publicdomain/mark/1.0/",
}
IMAGE_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
}
POST_FIELDS = {
    "title": str,
    "contentFormat": str,
    "content": str,
    "tags": list,
    "canonicalUrl": str,
    "publishStatus": str,
    "license": str,
    "notifyFollowers": bool,
}

# Public on purpose: it opens nothing but the emulator.
SANDBOX_TOKEN = "2" + "5" * 64
SANDBOX_USER_ID = "1" + "a" * 64
SANDBOX_CREDENTIALS: dict[str, Any] = {"integration_token": SANDBOX_TOKEN}


@dataclass
class User:
    id: str
    token: str
    username: str
    name: str = "syndic sandbox"
    revoked: bool = False
    can_publish: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "url": f"https://medium.com/@{self.username}",
            "imageUrl": "https://cdn-images-1.medium.com/fit/c/400/400/0*syndic.png",
        }


class MediumState(_base.EmulatorState):
    """Users, their posts, uploaded images, and the knobs."""

    default_rate_limit = _base.RateLimit(requests=15, per=3600.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.users: dict[str, User] = {}
        self.posts: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.images: dict[str, str] = {}  # url -> md5
        self._add(User(SANDBOX_USER_ID, SANDBOX_TOKEN, "syndic_sandbox"))

    def add_account(self, *, can_publish: bool = True) -> dict[str, Any]:
        """A new user with an integration token; credentials as a user stores them."""
        user = User(
            "1" + secrets.token_hex(32),
            secrets.token_hex(32) + "a",
            f"syndic_{secrets.token_hex(3)}",
            can_publish=can_publish,
        )
        self._add(user)
        return {"integration_token": user.token}

    def revoke(self, token: str) -> None:
        """The user revoked the token in their settings: 401 from now on."""
        with self._lock:
            user = self.users.get(token)
            if user is not None:
                user.revoked = True

    def user(self, token: str) -> User | None:
        with self._lock:
            user = self.users.get(token)
        return None if user is None or user.revoked else user

    def user_of(self, credentials: dict[str, Any]) -> User:
        """For tests: the user behind stored credentials."""
        user = self.user(credentials["integration_token"])
        if user is None:
            raise KeyError("no such Medium user")
        return user

    def store(self, post: dict[str, Any]) -> None:
        with self._lock:
            self.posts.append(post)

    def keep_image(self, url: str, md5: str) -> None:
        with self._lock:
            self.images[url] = md5

    def _add(self, user: User) -> None:
        with self._lock:
            self.users[user.token] = user


def _errors(status: int, code: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "code": code}]},
        status_code=status,
        headers=headers,
    )


def _forced(status: int, retry_after: float | None) -> Response:
    if status == 429:
        return _too_many(retry_after or 1.0)
    return _errors(status, 0, HTTPStatus(status).phrase)


def _too_many(retry_after: float) -> Response:
    return _errors(
        429,
        RATE_LIMITED,
        "Too many requests",
        **{"Retry-After": str(max(math.ceil(retry_after), 1))},
    )


def _authenticate(state: MediumState, request: Request) -> User | Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _errors(401, TOKEN_REQUIRED, "An access token is required.")
    user = state.user(token.strip())
    if user is None:
        return _errors(401, TOKEN_INVALID, "Token was invalid.")
    return user


def routes(state: MediumState, recorder: Recorder) -> list[BaseRoute]:
    """The v1 routes, bound to `state`, recording into `recorder`."""

    async def me(request: Request) -> Response:
        recorder.record(NAME, "GET", "/v1/me", None)
        user = _authenticate(state, request)
        if isinstance(user, Response):
            return user
        return JSONResponse({"data": user.as_json()})

    async def publications(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        recorder.record(NAME, "GET", f"/v1/users/{user_id}/publications", None)
        user = _authenticate(state, request)
        if isinstance(user, Response):
            return user
        if user_id != user.id:
            return _errors(
                403, NOT_PERMITTED, "Cannot list another user's publications"
            )
        return JSONResponse({"data": []})

    async def create_post(request: Request) -> Response:
        author_id = request.path_params["author_id"]
        body = await _base.read_body(request)
        recorder.record(NAME, "POST", f"/v1/users/{author_id}/posts", body.recorded)

        user = _authenticate(state, request)
        if isinstance(user, Response):
            return user
        if author_id != user.id or not user.can_publish:
            return _errors(
                403, NOT_PERMITTED, "User does not have permission to publish."
            )
        window = state.hit(f"user-{user.id}")
        if not window.allowed:
            return _too_many(window.reset_after)
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)

        if body.error is not None:
            return _errors(400, INVALID_FIELD, "Request body is not valid JSON.")
        refusal = _check_post(body.fields)
        if refusal is not None:
            return refusal
        post = _post(user, body.fields)
        state.store(post)
        shown = {k: v for k, v in post.items() if k not in ("content", "contentFormat")}
        return JSONResponse({"data": shown}, status_code=201)

    async def images(request: Request) -> Response:
        body = await _base.read_body(request)
        recorder.record(NAME, "POST", "/v1/images", body.recorded)

        user = _authenticate(state, request)
        if isinstance(user, Response):
            return user
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)

        if len(body.files) > 1:
            return _errors(
                400, INVALID_FIELD, "Only one image may be sent per request."
            )
        upload = body.files.get("image")
        if upload is None:
            return _errors(400, INVALID_FIELD, "Missing required field (image).")
        kind = IMAGE_TYPES.get(upload.content_type)
        if kind is None or _format_of(upload.data) != kind:
            return _errors(400, INVALID_FIELD, "Unsupported or unreadable image.")

        md5 = hashlib.md5(upload.data, usedforsecurity=False).hexdigest()
        url = f"https://cdn-images-1.medium.com/0*{md5[:16]}.{kind.lower()}"
        state.keep_image(url, md5)
        return JSONResponse({"data": {"url": url, "md5": md5}}, status_code=201)

    async def not_found(request: Request) -> Response:
        recorder.record(NAME, request.method, "/" + request.path_params["path"], None)
        return _errors(404, 0, "Not found.")

    return [
        Route("/v1/me", me, methods=["GET"]),
        Route("/v1/users/{user_id}/publications", publications, methods=["GET"]),
        Route("/v1/users/{author_id}/posts", create_post, methods=["POST"]),
        Route("/v1/images", images, methods=["POST"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


def _check_post(fields: dict[str, Any]) -> Response | None:
    """Medium's first refusal of a post body, or None."""
    for name in fields:
        if name not in POST_FIELDS:
            return _errors(
                400, UNEXPECTED_FIELD, f"Unexpected field ({name}) specified"
            )
    for name in ("title", "contentFormat", "content"):
        if name not in fields:
            return _errors(400, INVALID_FIELD, f"Missing required field ({name}).")
    for name, kind in POST_FIELDS.items():
        if name in fields and not isinstance(fields[name], kind):
            return _errors(400, INVALID_FIELD, f"Invalid value for field ({name}).")
    tags = fields.get("tags", [])
    checks = (
        (fields["contentFormat"] in CONTENT_FORMATS, "contentFormat"),
        (bool(fields["content"].strip()), "content"),
        (all(isinstance(tag, str) for tag in tags), "tags"),
        (fields.get("publishStatus", "public") in PUBLISH_STATUSES, "publishStatus"),
        (fields.get("license", "all-rights-reserved") in LICENSES, "license"),
    )
    for ok, name in checks:
        if not ok:
            return _errors(400, INVALID_FIELD, f"Invalid value for field ({name}).")
    return None


def _post(user: User, fields: dict[str, Any]) -> dict[str, Any]:
    """The post as Medium stores it: its tags and title cut to what Medium uses."""
    post_id = secrets.token_hex(6)
    title = fields["title"].strip()
    if len(title) > MAX_TITLE or not title:
        title = _synthesized_title(fields["content"], fields["contentFormat"])
    tags = [tag for tag in fields.get("tags", [])[:MAX_TAGS] if len(tag) <= MAX_TAG]
    status = fields.get("publishStatus", "public")
    license = fields.get("license", "all-rights-reserved")
    slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "post"

    post: dict[str, Any] = {
        "id": post_id,
        "title": title,
        "authorId": user.id,
        "tags": tags,
        "url": f"https://medium.com/@{user.username}/{slug}-{post_id}",
        "publishStatus": status,
        "license": license,
        "licenseUrl": LICENSES[license],
        "content": fields["content"],
        "contentFormat": fields["contentFormat"],
    }
    if fields.get("canonicalUrl"):
        post["canonicalUrl"] = fields["canonicalUrl"]
    if status != "draft":
        post["publishedAt"] = int(time.time() * 1000)
    return post


def _synthesized_title(content: str, content_format: str) -> str:
    text = content
    if content_format == "html":
        text = html.unescape(re.sub(r"<[^>]+>", " ", content))
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip().lstrip("#").strip()[:MAX_TITLE]


def _format_of(data: bytes) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.format
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=MediumState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
