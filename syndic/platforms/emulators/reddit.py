"""Reddit for a script app, as strict as reddit.com for what syndic sends.

    POST /api/v1/access_token            password grant, Basic client_id:secret
    POST /api/submit                     one post (form, `api_type=json`)
    POST /api/media/asset.json           an upload lease (see `_reddit_media`)
    GET  /api/v1/me                      the token's user
    GET  /api/v1/{sr}/post_requirements  is_flair_required, title limits
    GET  /r/{sr}/api/link_flair_v2       the community's flair templates
    POST /_s3/reddit-uploaded-media      the leased storage
    WS   /_ws/{token}                    the update of an image post

Token answers: a wrong client id or secret is 401 `{"message":
"Unauthorized", "error": 401}`; a wrong password, or a user who is not a
developer of the script app, is a 200 `{"error": "invalid_grant"}`; another
grant type a 200 `{"error": "unsupported_grant_type"}`. The API takes
`Authorization: bearer <token>`; a missing, unknown or expired token is 401
with `www-authenticate: Bearer realm="reddit", error="invalid_token"`. A
missing User-Agent, or a library's default one, is throttled with 429.

Every API answer carries `x-ratelimit-used`, `x-ratelimit-remaining` (a
float) and `x-ratelimit-reset` (seconds left in the window, not an epoch),
counted per app: 1000 calls per 600 s (100 a minute averaged over ten
minutes) unless configured; past it, 429 with `Retry-After`. Submissions
are refused inside a 200 body (`json.errors`, see `_reddit_submit`),
including the posting throttle of an account (`post_interval`) as
RATELIMIT "take a break for N minutes".

Communities of every state: `syndic_sandbox` (anything),
`syndic_flair` (is_flair_required), `syndic_selfonly` (text posts only),
`syndic_linkonly` (links only), and each user's profile `u_<username>`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from syndic.platforms.emulators import _base, _reddit_media, _reddit_submit
from syndic.platforms.emulators._reddit_state import (
    FLAIR_NEWS,
    FLAIR_OTHER,
    SANDBOX_CREDENTIALS,
    TOKEN_LIFETIME,
    RedditState,
    Subreddit,
    Token,
    User,
)
from syndic.platforms.emulators.recorder import Recorder

NAME = "reddit"
_DEFAULT_AGENT = re.compile(
    r"(python-httpx|python-requests|python-urllib|aiohttp|curl|wget|"
    r"go-http-client|okhttp|axios|node-fetch|java)[/ ]",
    re.IGNORECASE,
)

__all__ = [
    "EMULATOR",
    "FLAIR_NEWS",
    "FLAIR_OTHER",
    "SANDBOX_CREDENTIALS",
    "TOKEN_LIFETIME",
    "RedditState",
]


def _error(status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"message": HTTPStatus(status).phrase, "error": status},
        status_code=status,
        headers=headers,
    )


def _rate_headers(window: _base.Window) -> dict[str, str]:
    used = window.limit - window.remaining
    return {
        "x-ratelimit-used": str(used),
        "x-ratelimit-remaining": f"{float(window.remaining):.1f}",
        "x-ratelimit-reset": str(math.ceil(window.reset_after)),
    }


def _inner_path(request: Request) -> str:
    """The request path inside the emulator's mount."""
    root = str(request.scope.get("root_path", ""))
    return str(request.scope["path"]).removeprefix(root) or "/"


def _basic_auth(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, sep, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (client_id, secret) if sep else None


def routes(state: RedditState, recorder: Recorder) -> list[BaseRoute]:
    """The Reddit routes, bound to `state`, recording into `recorder`."""

    def record(request: Request, body: _base.Body, path: str | None = None) -> None:
        recorded = body.recorded
        if isinstance(recorded, dict) and "password" in recorded:
            recorded = {**recorded, "password": _base.REDACTED}
        recorder.record(
            NAME,
            request.method,
            path or _inner_path(request),
            recorded,
            query=dict(request.query_params),
        )

    def throttled_agent(request: Request) -> bool:
        agent = request.headers.get("user-agent", "").strip()
        return not agent or _DEFAULT_AGENT.match(agent) is not None

    async def access_token(request: Request) -> Response:
        body = await _base.read_body(request)
        record(request, body)
        if throttled_agent(request):
            return _error(429)
        credentials = _basic_auth(request)
        app = state.app(credentials[0]) if credentials else None
        if (
            app is None
            or credentials is None
            or not secrets.compare_digest(app.secret.encode(), credentials[1].encode())
        ):
            return _error(401)

        fields = body.fields
        if fields.get("grant_type") != "password":
            return JSONResponse({"error": "unsupported_grant_type"})
        user = state.user(str(fields.get("username", "")))
        if (
            user is None
            or user.name.lower() not in app.developers
            or not secrets.compare_digest(
                user.password.encode(), str(fields.get("password", "")).encode()
            )
        ):
            return JSONResponse({"error": "invalid_grant"})
        token = state.issue_token(app, user)
        return JSONResponse(
            {
                "access_token": token.value,
                "token_type": "bearer",
                "expires_in": int(state.token_lifetime),
                "scope": "*",
            }
        )

    def authenticate(request: Request) -> tuple[Token, dict[str, str]] | Response:
        if throttled_agent(request):
            return _error(429)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = state.token(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            return _error(
                401,
                {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
        window = state.hit(f"app-{token.client_id}")
        headers = _rate_headers(window)
        if not window.allowed:
            retry_after = str(max(math.ceil(window.reset_after), 1))
            return _error(429, {**headers, "Retry-After": retry_after})
        return token, headers

    async def submit(request: Request) -> Response:
        body = await _base.read_body(request)
        record(request, body)
        found = authenticate(request)
        if isinstance(found, Response):
            return found
        token, headers = found
        forced = await _base.apply(state.take_fault())
        if forced is not None:
            status, retry_after = forced
            extra = {"Retry-After": f"{retry_after:g}"} if retry_after else {}
            return _error(status, {**headers, **extra})

        user = state.user(token.username)
        assert user is not None
        form = _reddit_submit.Form(body.fields)
        if form.get("flair_text") and not form.get("flair_id"):
            return _error(400, headers)
        limited = _reddit_submit.throttled(user.last_post_at, user.post_interval)
        if limited is not None:
            return JSONResponse(_reddit_submit.answer([limited]), headers=headers)
        errors = _reddit_submit.where_errors(form, user.name, state.subreddits)
        if errors:
            return JSONResponse(_reddit_submit.answer(errors), headers=headers)

        subreddit = state.subreddits[form.get("sr").removeprefix("r/").lower()]
        asset = _reddit_media.known_media_key(form.get("url"), state.assets)
        errors = _reddit_submit.content_errors(
            form,
            subreddit.link_type,
            state.already_submitted(subreddit.name, form.get("url")),
            asset is not None and asset.owner.lower() == user.name.lower(),
        )
        errors += _reddit_submit.flair_errors(
            form, subreddit.flair_required, subreddit.flairs
        )
        if errors:
            return JSONResponse(_reddit_submit.answer(errors), headers=headers)

        if form.get("kind") == "image":
            data = image_post(request, user, form, subreddit, asset)
        else:
            post = state.submit(user, form, subreddit)
            data = {
                "url": post["permalink"],
                "drafts_count": 0,
                "id": post["id"],
                "name": post["name"],
            }
        if form.get("api_type") != "json":
            return JSONResponse(_reddit_submit.jquery_answer(), headers=headers)
        return JSONResponse(_reddit_submit.answer([], data), headers=headers)

    def image_post(
        request: Request,
        user: User,
        form: _reddit_submit.Form,
        subreddit: Subreddit,
        asset: _reddit_media.Asset | None,
    ) -> dict[str, Any]:
        """Process the image now; the update waits for the client's socket."""
        assert asset is not None
        problem = _reddit_media.media_problem(asset)
        if problem is None and state.take_media_failure():
            problem = "the media could not be processed"
        if problem is not None:
            update = _reddit_media.failed_update(problem)
        else:
            post = state.submit(user, form, subreddit)
            update = _reddit_media.success_update(post["permalink"])
        submitted = f"{_reddit_submit.PUBLIC_URL}/user/{user.name}/submitted/"
        return {
            "user_submitted_page": submitted,
            "websocket_url": _reddit_media.websocket_url(
                request, state.hold_update(update)
            ),
        }

    async def media_asset(request: Request) -> Response:
        body = await _base.read_body(request)
        record(request, body)
        found = authenticate(request)
        if isinstance(found, Response):
            return found
        token, headers = found
        mimetype = str(body.fields.get("mimetype", ""))
        filepath = str(body.fields.get("filepath", ""))
        if mimetype not in _reddit_media.MIMETYPES or not filepath:
            return _error(400, headers)
        asset = state.new_asset(mimetype, filepath, token.username)
        answer, fields = _reddit_media.lease(request, asset, state.signing_key)
        asset.fields = fields
        return JSONResponse(answer, headers=headers)

    async def upload(request: Request) -> Response:
        received = await _reddit_media.read_upload(request)
        if isinstance(received, Response):
            recorder.record(NAME, "POST", _reddit_media.UPLOAD_PATH, None)
            return received
        recorder.record(
            NAME,
            "POST",
            _reddit_media.UPLOAD_PATH,
            {
                **received.fields,
                "file": {
                    "filename": received.filename,
                    "content_type": received.content_type,
                    "size": len(received.data),
                },
            },
        )
        refused = _reddit_media.check_upload(received, state.signing_key)
        if refused is not None:
            return refused
        key = received.fields["key"]
        state.store_upload(key, received.data, received.content_type)
        return _reddit_media.upload_done(request, key)

    async def updates(websocket: WebSocket) -> None:
        recorder.record(
            NAME, "GET", f"{_reddit_media.WEBSOCKET_PATH}/{_base.REDACTED}", None
        )
        update = state.release_update(websocket.path_params["token"])
        if update is None:
            await websocket.close(code=1008)
            return
        await websocket.accept()
        if not state.take_websocket_drop():
            await websocket.send_json(update)
        await websocket.close()

    async def me(request: Request) -> Response:
        record(request, _base.Body())
        found = authenticate(request)
        if isinstance(found, Response):
            return found
        token, headers = found
        return JSONResponse(
            {"name": token.username, "is_suspended": False}, headers=headers
        )

    async def post_requirements(request: Request) -> Response:
        record(request, _base.Body())
        found = authenticate(request)
        if isinstance(found, Response):
            return found
        _, headers = found
        subreddit = state.subreddits.get(request.path_params["sr"].lower())
        if subreddit is None:
            return _error(404, headers)
        return JSONResponse(
            {
                "is_flair_required": subreddit.flair_required,
                "title_text_max_length": None,
                "title_text_min_length": None,
                "body_text_max_length": None,
                "link_restriction_policy": "none",
                "body_restriction_policy": "none",
            },
            headers=headers,
        )

    async def link_flairs(request: Request) -> Response:
        record(request, _base.Body())
        found = authenticate(request)
        if isinstance(found, Response):
            return found
        _, headers = found
        subreddit = state.subreddits.get(request.path_params["sr"].lower())
        if subreddit is None:
            return _error(404, headers)
        return JSONResponse(
            [flair.as_json() for flair in subreddit.flairs.values()], headers=headers
        )

    async def not_found(request: Request) -> Response:
        record(request, _base.Body())
        return _error(404)

    return [
        Route("/api/v1/access_token", access_token, methods=["POST"]),
        Route("/api/submit", submit, methods=["POST"]),
        Route("/api/media/asset.json", media_asset, methods=["POST"]),
        Route("/api/v1/me", me, methods=["GET"]),
        Route("/api/v1/{sr}/post_requirements", post_requirements, methods=["GET"]),
        Route("/r/{sr}/api/link_flair_v2", link_flairs, methods=["GET"]),
        Route(_reddit_media.UPLOAD_PATH, upload, methods=["POST"]),
        WebSocketRoute(f"{_reddit_media.WEBSOCKET_PATH}/{{token}}", updates),
        Route(
            "/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
        ),
    ]


EMULATOR = _base.Emulator(
    name=NAME,
    state_type=RedditState,
    routes=routes,
    sandbox_credentials=SANDBOX_CREDENTIALS,
)
