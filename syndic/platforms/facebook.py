"""A Facebook Page through the Graph API (`<base>/<version>/<page-id>/...`).

Credentials: `{"page_id": "<numeric id>", "access_token": "<Page access
token>"}`. The Page token comes from `GET /me/accounts` with a long-lived
user token, needs `pages_manage_posts` and `pages_read_engagement`, and
does not expire; it dies with a password change or a lost Page role,
after which the account must be connected again. The token travels in the
request body, never in a URL. The version is `settings.facebook_api_version`.

Text only (or with `link`): one `POST /{page-id}/feed`. One image:
`POST /{page-id}/photos` with the file as `source` and the text as
`message`. Several: each uploaded with `published=false`, then one feed
post with `attached_media`. Images are JPEG, PNG, GIF, BMP, TIFF or WEBP
under 4 MB, at most 10 a post (UNVERIFIED, Facebook documents none); a
media's `alt` goes as `alt_text_custom`. The receipt's URL is
`https://www.facebook.com/<page-id>_<post-id>`.

Options: `link` (a URL Facebook makes a preview of; not with images).

Graph signals errors in `error.code`, on HTTP 400/403/500, never 429:
190 (and 102, 104) is a refused token, 10 and 200-299 a missing
permission, 4/17/32/613/80001 throttling (`retry_after` from
`X-Business-Use-Case-Usage` when it names a wait), 506 a duplicate, 368 a
temporary block, 100 an invalid parameter. Facebook takes no idempotency
key but refuses the same message twice on a page (506): on that answer
the adapter looks for the post among the page's latest and, found, takes
it as the success of an earlier attempt whose answer got lost.
"""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import _http, base

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds
DEFAULT_VERSION: str = config.Settings.model_fields["facebook_api_version"].default
MAX_MESSAGE = 63_206  # characters (UNVERIFIED)
MAX_PHOTOS = 10  # UNVERIFIED
MAX_PHOTO_BYTES = 4 * 1024 * 1024
PHOTO_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/webp": "WEBP",
}
THROTTLING = frozenset({4, 17, 32, 613, 80001})
TOKEN_REFUSED = frozenset({102, 104, 190})
PUBLIC_URL = "https://www.facebook.com"
DUPLICATE_LOOKBACK = 10  # posts

PAGE_ID = re.compile(r"[0-9]{1,20}")
ACCESS_TOKEN = re.compile(r"[A-Za-z0-9]{20,1024}")
LINK = re.compile(r"https?://[^\s/$.?#][^\s]*")


class FacebookAdapter:
    """Publishes to a Page; see the module docstring."""

    name: ClassVar[str] = "facebook"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it and `settings.facebook_api_version` is used when given."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        self._version = (
            settings.facebook_api_version if settings is not None else DEFAULT_VERSION
        )

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`page_id` (digits) and the Page's `access_token`; else ValueError."""
        page_id = str(credentials.get("page_id", "")).strip()
        if PAGE_ID.fullmatch(page_id) is None:
            raise ValueError("page_id must be the Page's numeric id")
        token = credentials.get("access_token")
        if not isinstance(token, str) or ACCESS_TOKEN.fullmatch(token.strip()) is None:
            raise ValueError(
                "access_token must be the Page access token (from GET /me/accounts "
                "with a long-lived user token), letters and digits only"
            )
        return {"page_id": page_id, "access_token": token.strip()}

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        problems: list[base.Problem] = []
        link = draft.options.get("link")
        if link is not None and (not isinstance(link, str) or not LINK.fullmatch(link)):
            problems.append(
                base.Problem("facebook.options.link", "link must be an http(s) URL")
            )
        if link and draft.media:
            problems.append(
                base.Problem(
                    "facebook.link.with_media",
                    "A Facebook post holds a link preview or photos, not both",
                )
            )
        if not draft.text.strip() and not draft.media and not link:
            problems.append(
                base.Problem("facebook.text.empty", "Facebook refuses an empty post")
            )
        if len(draft.text) > MAX_MESSAGE:
            problems.append(
                base.Problem(
                    "facebook.text.too_long",
                    f"{len(draft.text)} characters; Facebook takes {MAX_MESSAGE}",
                    start=MAX_MESSAGE,
                    end=len(draft.text),
                )
            )
        if len(draft.media) > MAX_PHOTOS:
            problems.append(
                base.Problem(
                    "facebook.media.too_many",
                    f"{len(draft.media)} photos; syndic sends {MAX_PHOTOS} a post",
                )
            )
        problems.extend(
            problem
            for item in draft.media
            if (problem := _photo_problem(item)) is not None
        )
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """One feed post or photo post; the Receipt names its `<page>_<post>` id."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            checked = self.check_credentials(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"facebook: {exc}") from exc

        page_id, token = checked["page_id"], checked["access_token"]
        if len(draft.media) == 1:
            photo = await self._photo(page_id, token, draft.media[0], draft.text)
            return _receipt(str(photo["post_id"]))

        fields: dict[str, str] = {}
        if draft.text:
            fields["message"] = draft.text
        if draft.options.get("link"):
            fields["link"] = draft.options["link"]
        for index, item in enumerate(draft.media):
            photo = await self._photo(page_id, token, item, None)
            fields[f"attached_media[{index}]"] = json.dumps({"media_fbid": photo["id"]})
        response = await self._call(
            "POST", page_id, "feed", token, "page_feed", data=fields
        )
        body = _http.json_object(response)
        if response.status_code == 200 and isinstance(body.get("id"), str):
            return _receipt(body["id"])

        error = _error_of(response, body)
        if error.code == "duplicate" and draft.text:
            earlier = await self._earlier_post(page_id, token, draft.text)
            if earlier is not None:
                log.warning(
                    "platform_duplicate_adopted",
                    extra={"platform": self.name, "remote_id": earlier},
                )
                return _receipt(earlier)
        raise error

    async def _call(
        self,
        method: str,
        node: str,
        edge: str,
        token: str,
        endpoint: str,
        *,
        data: dict[str, str],
        **request: Any,
    ) -> httpx.Response:
        """One Graph call; the token goes in the body (or, for a GET, a header)."""
        if method == "GET":
            request["params"] = data
            request["headers"] = {"Authorization": f"Bearer {token}"}
        else:
            request["data"] = {**data, "access_token": token}
        return await _http.send(
            self._client,
            method,
            f"{self._base_url}/{self._version}/{node}/{edge}",
            platform=self.name,
            endpoint=endpoint,
            phase_timeout=self._timeout,
            **request,
        )

    async def _photo(
        self, page_id: str, token: str, item: base.Media, message: str | None
    ) -> dict[str, Any]:
        """Upload one photo: published with `message`, or unpublished when None."""
        fields = {"published": "true" if message is not None else "false"}
        if message:
            fields["message"] = message
        if item.alt:
            fields["alt_text_custom"] = item.alt
        response = await self._call(
            "POST",
            page_id,
            "photos",
            token,
            "page_photos",
            data=fields,
            files={"source": (item.filename, item.data, item.content_type)},
        )
        body = _http.json_object(response)
        if response.status_code != 200:
            raise _error_of(response, body)
        if not isinstance(body.get("id"), str) or (
            message is not None and not isinstance(body.get("post_id"), str)
        ):
            raise base.PermanentError(
                "facebook: the photo upload answered without its ids", code="bad_answer"
            )
        return body

    async def _earlier_post(self, page_id: str, token: str, message: str) -> str | None:
        """The id of the page's recent post with exactly `message`, if any."""
        try:
            response = await self._call(
                "GET",
                page_id,
                "feed",
                token,
                "page_feed_read",
                data={"fields": "id,message", "limit": str(DUPLICATE_LOOKBACK)},
            )
        except base.PlatformError:
            return None
        posts = _http.json_object(response).get("data")
        for post in posts if isinstance(posts, list) else []:
            if isinstance(post, dict) and post.get("message") == message:
                return str(post.get("id"))
        return None


def _photo_problem(item: base.Media) -> base.Problem | None:
    kind = PHOTO_TYPES.get(item.content_type)
    if kind is None:
        return base.Problem(
            "facebook.media.unsupported",
            f"{item.filename}: syndic sends photos to Facebook (JPEG, PNG, GIF, BMP, "
            f"TIFF, WEBP), not {item.content_type}",
        )
    if not item.data:
        return base.Problem("facebook.media.empty", f"{item.filename} is empty")
    if len(item.data) > MAX_PHOTO_BYTES:
        return base.Problem(
            "facebook.photo.too_large", f"{item.filename}: Facebook takes up to 4 MB"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as image:
                found = image.format
    except (OSError, ValueError, Image.DecompressionBombError):
        found = None
    if found != kind:
        return base.Problem(
            "facebook.photo.unreadable",
            f"{item.filename} is not a readable {kind.lower()} image",
        )
    return None


def _receipt(post_id: str) -> base.Receipt:
    return base.Receipt(remote_id=post_id, url=f"{PUBLIC_URL}/{post_id}")


def regain_seconds(header: str | None) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) in an
    `X-Business-Use-Case-Usage` header, in seconds; None when it names none."""
    try:
        usage = json.loads(header or "")
    except ValueError:
        return None
    minutes = [
        _http.seconds(entry.get("estimated_time_to_regain_access"))
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    longest = max((value for value in minutes if value), default=None)
    return longest * 60 if longest is not None else None


def _error_of(response: httpx.Response, body: Mapping[str, Any]) -> base.PlatformError:
    """Graph's `{"error": {...}}` answer as one of ours."""
    status = response.status_code
    error = body.get("error")
    error = error if isinstance(error, Mapping) else {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(
        error.get("error_user_msg")
        or error.get("message")
        or response.reason_phrase
        or status
    )
    detail = f"facebook: {message} (code {code}" + (
        f", subcode {subcode})" if subcode else ")"
    )

    if code in THROTTLING or status == 429:
        retry_after = regain_seconds(response.headers.get("X-Business-Use-Case-Usage"))
        if retry_after is None:
            retry_after = _http.seconds(response.headers.get("Retry-After"))
        return base.TransientError(detail, code="rate_limited", retry_after=retry_after)
    if code in TOKEN_REFUSED:
        return base.CredentialsRejected(
            f"{detail}; connect the Page again for a new Page token"
        )
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return base.CredentialsRejected(
            f"{detail}; the Page token needs pages_manage_posts and "
            "pages_read_engagement"
        )
    if code == 506:
        return base.PermanentError(
            f"{detail}: the Page already has this exact post", code="duplicate"
        )
    if status >= 500 or error.get("is_transient") is True or code in (1, 2):
        return base.TransientError(detail, code="server_error")
    if code == 368:
        return base.PermanentError(detail, code="blocked")
    return base.PermanentError(detail, code="rejected")
