"""LinkedIn's Posts and Images APIs, as strict as api.linkedin.com for syndic's calls.

    POST /rest/images?action=initializeUpload   an upload URL for one image
    PUT  /dms-uploads/sp/v2/{id}/...?ut=...      the image bytes (bearer token)
    POST /rest/posts                              201, the URN in x-restli-id
    GET  /v2/userinfo                             the member (`sub` = person id)

`/rest` calls need `LinkedIn-Version: YYYYMM` (400 `VERSION_MISSING`
without, 426 `NONEXISTENT_VERSION` for a retired or future one) and a
bearer token (401 with serviceErrorCode 65600 invalid, 65601 revoked,
65602 expired). Bodies go through the Rest.li schema (422, see
`_linkedin_schema`), then the service checks: the author and image owner
must be the member or an organization they administer (403
`ACCESS_DENIED`), images must be uploaded and readable JPEG/PNG/GIF under
36,152,320 pixels, `multiImage` takes 2 to 20, the same commentary from
the same author within 10 minutes is 422 `DUPLICATE_POST` naming the
first post. Commentary is little text (`linkedin_little`): it is limited
to 3000 UTF-16 units as LinkedIn shows it, and a stray reserved character
is not refused: the post is stored cut before it, as LinkedIn does.

Over a member's daily quota (150 posts a day unless configured) the answer
is 429 `TOO_MANY_REQUESTS` without any rate-limit header, as LinkedIn's.
A 429 forced with `fail_next(429, retry_after=...)` carries `Retry-After`
so tests can set the wait; LinkedIn's own 429s carry none.

UNVERIFIED, so kept as knobs on the state: the 3000 limit and its unit
(`commentary_limit`), the pixel limit, the duplicate window, the quota,
the wording of `VERSION_MISSING`, the bodies for unparsable JSON and a
bad upload token.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndic.platforms.emulators import _base, _linkedin_posts, linkedin_little
from syndic.platforms.emulators import _linkedin_schema as schema
from syndic.platforms.emulators.recorder import Recorder

NAME = "linkedin"
VERSION = re.compile(r"([0-9]{4})(0[1-9]|1[0-2])(?:\.[0-9]{2})?")
UPLOAD_URL_LIFETIME = 24 * 3600  # seconds
FIRST_POST_ID = 7_400_000_000_000_000_000

# Public on purpose: it opens nothing but the emulator.
SANDBOX_TOKEN = "AQsyndicSandboxLinkedInAccessToken00000000000000000"  # noqa: S105
SANDBOX_PERSON_ID = "syndicSbx01"
SANDBOX_CREDENTIALS: dict[str, Any] = {
    "access_token": SANDBOX_TOKEN,
    "author": f"urn:li:person:{SANDBOX_PERSON_ID}",
}


@dataclass
class Member:
    person_id: str
    token: str
    organizations: set[str] = field(default_factory=set)
    name: str = "syndic sandbox"
    status: str = "active"  # or "expired", "revoked"

    @property
    def urn(self) -> str:
        return f"urn:li:person:{self.person_id}"

    def may_act_as(self, urn: str) -> bool:
        return urn == self.urn or urn in {
            f"urn:li:organization:{org}" for org in self.organizations
        }


@dataclass
class StoredImage:
    urn: str
    owner: str
    upload_token: str
    expires_at: float  # epoch seconds
    status: str = "WAITING_UPLOAD"  # then "AVAILABLE" or "PROCESSING_FAILED"
    size: int = 0


class LinkedInState(_base.EmulatorState):
    """Members, images, posts, and the knobs (see the module docstring)."""

    default_rate_limit = _base.RateLimit(requests=150, per=24 * 3600.0)

    def __init__(
        self,
        *,
        strict_rate_limits: bool = True,
        rate_limit: _base.RateLimit | None = None,
    ) -> None:
        super().__init__(strict_rate_limits=strict_rate_limits, rate_limit=rate_limit)
        self.commentary_limit = 3000  # UTF-16 units of the text LinkedIn shows
        self.max_image_pixels = 36_152_320
        self.duplicate_window = 600.0  # seconds
        self.retired_versions: set[str] = set()
        self.members: dict[str, Member] = {}
        self.images: dict[str, StoredImage] = {}
        self.posts: deque[dict[str, Any]] = deque(maxlen=10_000)
        self._recent: dict[tuple[str, str], tuple[str, float]] = {}
        self._last_post_id = FIRST_POST_ID
        self._ids = threading.Lock()
        self.add_member(SANDBOX_TOKEN, SANDBOX_PERSON_ID)

    def add_member(
        self, token: str | None = None, person_id: str | None = None
    ) -> Member:
        member = Member(
            person_id or secrets.token_urlsafe(8),
            token or f"AQ{secrets.token_urlsafe(60)}",
        )
        with self._lock:
            self.members[member.token] = member
        return member

    def add_account(self, *, organization: bool = False) -> dict[str, Any]:
        """A new member (admin of a new organization if `organization`);
        credentials as a user stores them."""
        member = self.add_member()
        author = member.urn
        if organization:
            org_id = str(secrets.randbelow(90_000_000) + 10_000_000)
            with self._lock:
                member.organizations.add(org_id)
            author = f"urn:li:organization:{org_id}"
        return {"access_token": member.token, "author": author}

    def expire(self, token: str) -> None:
        """The token outlived its 60 days: 401 EXPIRED_ACCESS_TOKEN from now on."""
        self._set_status(token, "expired")

    def revoke(self, token: str) -> None:
        """The member revoked the app: 401 REVOKED_ACCESS_TOKEN from now on."""
        self._set_status(token, "revoked")

    def member(self, token: str) -> Member | None:
        with self._lock:
            return self.members.get(token)

    def version_active(self, version: str) -> bool:
        """YYYYMM[.RR], not retired, not a month still to come (UTC)."""
        match = VERSION.fullmatch(version)
        if match is None or version[:6] in self.retired_versions:
            return False
        return version[:6] <= datetime.now(UTC).strftime("%Y%m")

    def new_image(self, owner: str) -> StoredImage:
        image = StoredImage(
            urn=f"urn:li:image:D4E10AQ{secrets.token_urlsafe(12)}",
            owner=owner,
            upload_token=secrets.token_urlsafe(24),
            expires_at=time.time() + UPLOAD_URL_LIFETIME,
        )
        with self._lock:
            self.images[image.urn] = image
        return image

    def image(self, urn: str) -> StoredImage | None:
        with self._lock:
            return self.images.get(urn)

    def image_by_id(self, image_id: str) -> StoredImage | None:
        return self.image(f"urn:li:image:{image_id}")

    def set_image(self, image: StoredImage, status: str, size: int) -> None:
        with self._lock:
            image.status, image.size = status, size

    def duplicate_of(self, author: str, commentary: str) -> str | None:
        """The URN of the same commentary by `author` within the window, if any."""
        with self._lock:
            found = self._recent.get((author, commentary))
        if found is None or time.monotonic() - found[1] > self.duplicate_window:
            return None
        return found[0]

    def store(self, post: dict[str, Any]) -> str:
        """Give `post` a new share URN, keep it, and return the URN."""
        with self._ids:
            self._last_post_id += 1 + secrets.randbelow(1000)
            urn = f"urn:li:share:{self._last_post_id}"
        with self._lock:
            self.posts.append({"id": urn, **post})
            if post.get("commentary"):
                self._recent[(post["author"], post["commentary"])] = (
                    urn,
                    time.monotonic(),
                )
        return urn

    def post(self, urn: str) -> dict[str, Any] | None:
        with self._lock:
            return next((post for post in self.posts if post["id"] == urn), None)

    def _set_status(self, token: str, status: str) -> None:
        with self._lock:
            member = self.members.get(token)
            if member is not None:
                member.status = status


_TOKEN_ERRORS = {
    "expired": (
        65602,
        "EXPIRED_ACCESS_TOKEN",
        "The token used in the request has expired",
    ),
    "revoked": (
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    ),
}


def _authenticate(state: LinkedInState, request: Request) -> Member | Response:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return schema.error(
            401, "EMPTY_ACCESS_TOKEN", "Empty or missing OAuth2 access token"
        )
    member = state.member(token)
    if member is None:
        return schema.error(
            401, "INVALID_ACCESS_TOKEN", "Invalid access token", service_code=65600
        )
    if member.status in _TOKEN_ERRORS:
        service_code, code, message = _TOKEN_ERRORS[member.status]
        return schema.error(401, code, message, service_code=service_code)
    return member


def _gate(state: LinkedInState, request: Request) -> tuple[Member, str] | Response:
    """The version header, then the token, as LinkedIn's /rest gateway checks them."""
    version = request.headers.get("linkedin-version", "").strip()
    if not version:
        return schema.error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
        )
    if not state.version_active(version):
        return schema.error(
            426,
            "NONEXISTENT_VERSION",
            f"Requested version {version[:6]}01 is not active",
        )
    member = _authenticate(state, request)
    if isinstance(member, Response):
        return member
    return member, version


def _forced(status: int, retry_after: float | None) -> Response:
    if status == 429:
        response = schema.error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle limit for calls to this resource is reached.",
            service_code=101,
        )
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(round(retry_after), 1))
        return response
    code = HTTPStatus(status).phrase.upper().replace(" ", "_")
    return schema.error(status, code, HTTPStatus(status).phrase)


def _unparsable(body: _base.Body) -> Response | None:
    if body.error is None:
        return None
    return JSONResponse(
        {"message": "Unable to parse the JSON request body", "status": 400},
        status_code=400,
    )


def routes(state: LinkedInState, recorder: Recorder) -> list[BaseRoute]:
    """The routes, bound to `state`, recording into `recorder`."""

    async def create_post(request: Request) -> Response:
        body = await _base.read_body(request)
        recorder.record(NAME, "POST", "/rest/posts", body.recorded)

        gated = _gate(state, request)
        if isinstance(gated, Response):
            return gated
        member, version = gated
        window = state.hit(f"member-{member.person_id}")
        if not window.allowed:
            return schema.error(
                429,
                "TOO_MANY_REQUESTS",
                "Resource level throttle APPLICATION_AND_MEMBER DAY limit for calls "
                "to this resource is reached.",
                service_code=101,
            )
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)

        refused = _unparsable(body)
        if refused is not None:
            return refused
        errors = schema.validate(schema.POST, body.fields)
        if errors:
            return schema.invalid(errors)
        refused = _linkedin_posts.check_post(state, member, version, body.fields)
        if refused is not None:
            return refused

        commentary = body.fields.get("commentary", "")
        shown = linkedin_little.parse(commentary)
        post = {
            **body.fields,
            "commentary": commentary,
            "text": shown.text,
            "truncated": not shown.complete,
            "mentions": [mention.urn for mention in shown.mentions],
            "hashtags": list(shown.hashtags),
            "createdAt": int(time.time() * 1000),
        }
        urn = state.store(post)
        return Response(status_code=201, headers={"x-restli-id": urn})

    async def images(request: Request) -> Response:
        body = await _base.read_body(request)
        recorder.record(
            NAME,
            "POST",
            "/rest/images",
            body.recorded,
            query=dict(request.query_params),
        )

        gated = _gate(state, request)
        if isinstance(gated, Response):
            return gated
        member, _ = gated
        if request.query_params.get("action") != "initializeUpload":
            return schema.error(
                400, "ILLEGAL_ARGUMENT", "Unsupported action for the images resource"
            )
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)

        refused = _unparsable(body)
        if refused is not None:
            return refused
        errors = schema.validate(schema.INITIALIZE_UPLOAD, body.fields)
        if errors:
            return schema.invalid(errors)
        owner = body.fields["initializeUploadRequest"]["owner"]
        if _linkedin_posts.AUTHOR.fullmatch(owner) is None:
            return schema.error(
                400,
                "INVALID_URN_TYPE",
                f"owner value {owner} must be a person or organization URN",
            )
        if not member.may_act_as(owner):
            return _linkedin_posts.access_denied()

        image = state.new_image(owner)
        base = str(request.url.replace(query="")).removesuffix("/rest/images")
        image_id = image.urn.removeprefix("urn:li:image:")
        return JSONResponse(
            {
                "value": {
                    "uploadUrlExpiresAt": int(image.expires_at * 1000),
                    "uploadUrl": (
                        f"{base}/dms-uploads/sp/v2/{image_id}/uploaded-image/0"
                        f"?ut={image.upload_token}"
                    ),
                    "image": image.urn,
                }
            }
        )

    async def upload(request: Request) -> Response:
        data = await request.body()
        image_id = request.path_params["image_id"]
        recorder.record(
            NAME,
            "PUT",
            f"/dms-uploads/sp/v2/{image_id}/uploaded-image/0",
            {
                "content_type": request.headers.get("content-type", ""),
                "size": len(data),
            },
            query={"ut": _base.REDACTED} if "ut" in request.query_params else {},
        )

        member = _authenticate(state, request)
        if isinstance(member, Response):
            return member
        image = state.image_by_id(image_id)
        token = request.query_params.get("ut", "")
        if image is None or not secrets.compare_digest(
            image.upload_token.encode(), token.encode()
        ):
            return schema.error(403, "ACCESS_DENIED", "Invalid upload URL")
        if time.time() > image.expires_at:
            return schema.error(400, "EXPIRED_UPLOAD_URL", "The upload URL is expired")
        if not member.may_act_as(image.owner):
            return _linkedin_posts.access_denied()
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            return _forced(*forced)
        if not data:
            return schema.error(400, "EMPTY_UPLOAD", "The uploaded file is empty")

        readable = _linkedin_posts.image_ok(data, state.max_image_pixels)
        state.set_image(
            image, "AVAILABLE" if readable else "PROCESSING_FAILED", len(data)
        )
        return Response(status_code=201)

    async def userinfo(request: Request) -> Response:
        recorder.record(NAME, "GET", "/v2/userinfo", None)
        member = _authenticate(state, request)
        if isinstance(member, Response):
            return member
        return JSONResponse(
            {
                "sub": member.person_id,
                "name": member.name,
                "locale": {"country": "US", "language": "en"},
            }
        )

    async def not_found(request: Request) -> Response:
        recorder.record(NAME, request.method, "/" + request.path_params["path"], None)
        return schema.error(404, "NOT_FOUND", "Could not find entity")

    return [
        Route("/rest/posts", create_post, methods=["POST"]),
        Route("/rest/images", images, methods=["POST"]),
        Route(
            "/dms-uploads/sp/v2/{image_id}/uploaded-image/0", upload, methods=["PUT"]
        ),
        Route("/v2/userinfo", userinfo, methods=["GET"]),
        Route(
            "/{path:path}",
            not_found,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
    ]


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=LinkedInState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
