"""How the X emulator tells who is calling: OAuth 1.0a or an OAuth 2.0 bearer token.

A bearer token must be a live user token (an app-only token answers 403
`unsupported-authentication`). An OAuth 1.0a request must name a known
app and user token, carry a timestamp within 5 minutes and a nonce not
seen before, and be signed over this URL, its query and any urlencoded
form. Everything else answers the 401 `Unauthorized` problem.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syndic.platforms.emulators import _base, _x_posts, x_oauth

if TYPE_CHECKING:
    from syndic.platforms.emulators.x import Grant, XState

TIMESTAMP_SKEW = 300  # seconds


def authenticate(state: XState, request: Request, body: _base.Body) -> Grant | Response:
    """The caller's grant, or the answer X gives a caller it does not accept."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer":
        token = credential.strip()
        if token in state.app_only_tokens:
            return _x_posts.problem(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                "endpoint.  Supported authentication types are [OAuth 1.0a User "
                "Context, OAuth 2.0 User Context].",
                f"{_x_posts.PROBLEMS}/unsupported-authentication",
            )
        grant = state.grant(token, oauth2=True)
        if grant is None or (grant.expires_at or 0.0) < time.time():
            return unauthorized()
        return grant
    if scheme.lower() == "oauth":
        return _oauth1(state, request, body, header) or unauthorized()
    return unauthorized()


def _oauth1(
    state: XState, request: Request, body: _base.Body, header: str
) -> Grant | None:
    """The grant of a correctly signed, fresh, first-seen OAuth 1.0a request."""
    params = x_oauth.parse_authorization(header)
    if params is None or params.get("oauth_signature_method") != "HMAC-SHA1":
        return None
    if params.get("oauth_version", "1.0") != "1.0":
        return None
    grant = state.grant(params.get("oauth_token", ""), oauth2=False)
    consumer_secret = state.apps.get(params.get("oauth_consumer_key", ""))
    if grant is None or consumer_secret is None:
        return None
    if grant.consumer_key != params["oauth_consumer_key"]:
        return None
    try:
        stamp = int(params.get("oauth_timestamp", ""))
    except ValueError:
        return None
    if abs(time.time() - stamp) > TIMESTAMP_SKEW:
        return None

    signed = [
        (k, v) for k, v in params.items() if k not in ("oauth_signature", "realm")
    ]
    form: list[tuple[str, str]] = []
    if content_type(request) == "application/x-www-form-urlencoded":
        form = [(k, str(v)) for k, v in body.fields.items()]
    url = f"{request.url.scheme}://{request.headers.get('host', '')}{request.url.path}"
    base = x_oauth.signature_base(
        request.method, url, [*signed, *request.query_params.multi_items(), *form]
    )
    expected = x_oauth.signature_of(base, consumer_secret, grant.secret)
    if not secrets.compare_digest(expected, params.get("oauth_signature", "")):
        return None
    nonce = params.get("oauth_nonce", "")
    if not nonce or not state.first_use_of(nonce):
        return None
    return grant


def unauthorized() -> JSONResponse:
    return _x_posts.problem(401, "Unauthorized", "Unauthorized")


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()
