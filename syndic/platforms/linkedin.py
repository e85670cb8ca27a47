"""LinkedIn through the versioned Posts API (`<base>/rest/posts`).

Credentials: `{"access_token": "<OAuth 2 token>", "author": "urn:li:person:<id>"
or "urn:li:organization:<id>"}`. The token needs `w_member_social` (or
`w_organization_social` with an admin role on the organization); the
person id is the `sub` of `GET /v2/userinfo`. Tokens last 60 days and only
approved partners get refresh tokens: after that the account must be
connected again.

Every `/rest` call sends `LinkedIn-Version` (`settings.linkedin_version`)
and `X-Restli-Protocol-Version: 2.0.0`. A post answers 201 with its URN in
the `x-restli-id` header; its URL is `https://www.linkedin.com/feed/update/<urn>/`.

Text: commentary is LinkedIn's "little" format (`linkedin_little`). A
reserved character written bare makes LinkedIn accept the post and
silently cut it there, so syndic escapes plain text, leaving `#word`
hashtags bare. At most 3000 UTF-16 units as LinkedIn shows the text.

Images: JPEG, PNG or GIF. Each is announced (`POST /rest/images?action=
initializeUpload`, owned by the author), then PUT to the upload URL
LinkedIn returns; one goes in `content.media`, 2 to 20 in
`content.multiImage`, each with the media's `alt` text.

Options: `visibility` ("PUBLIC", "CONNECTIONS" or "LOGGED_IN"; default
PUBLIC); `markup` (the text is already little text, with mentions such as
`@[Acme](urn:li:organization:1)`: sent as is, after checking LinkedIn
reads it whole); `hashtags` (default true: `#word` stays a hashtag when
escaping); `disable_reshare`; `article` (`{"source": url, "title": ...,
"description": ...}`, a link card, not with images).

Retries: LinkedIn takes no idempotency key, but refuses the same
commentary from the same author for a few minutes with 422
`DUPLICATE_POST`, naming the first post. A retry after an answer that got
lost lands there, so that answer counts as success with the first URN.
LinkedIn's quotas are daily and reset at 00:00 UTC: a 429 naming a DAY
limit carries `retry_after` until then, another one its `Retry-After`.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import _http, base
from syndic.platforms.emulators import linkedin_little

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds
DEFAULT_VERSION: str = config.Settings.model_fields["linkedin_version"].default
PROTOCOL_VERSION = "2.0.0"
MAX_COMMENTARY = 3000  # UTF-16 units of the text LinkedIn shows
MAX_IMAGES = 20
MAX_IMAGE_PIXELS = 36_152_320
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}
VISIBILITIES = ("PUBLIC", "CONNECTIONS", "LOGGED_IN")
PUBLIC_URL = "https://www.linkedin.com"

ACCESS_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{20,2048}")
AUTHOR = re.compile(r"urn:li:(?:person|organization):[A-Za-z0-9_-]+")
POST_URN = re.compile(r"urn:li:(?:share|ugcPost):[0-9]+")


class LinkedInAdapter:
    """Publishes through the Posts API; see the module docstring."""

    name: ClassVar[str] = "linkedin"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it and `settings.linkedin_version` is sent when given."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        self._version = (
            settings.linkedin_version if settings is not None else DEFAULT_VERSION
        )

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`access_token` and `author` (person or organization URN); else ValueError."""
        token = credentials.get("access_token")
        if not isinstance(token, str) or ACCESS_TOKEN.fullmatch(token.strip()) is None:
            raise ValueError(
                "access_token must be a LinkedIn OAuth 2 access token "
                "(they last 60 days; connect the account again after that)"
            )
        author = credentials.get("author")
        if not isinstance(author, str) or AUTHOR.fullmatch(author.strip()) is None:
            raise ValueError(
                "author must be urn:li:person:<id> (the `sub` of /v2/userinfo) "
                "or urn:li:organization:<id>"
            )
        return {"access_token": token.strip(), "author": author.strip()}

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        options = draft.options
        problems = _option_problems(options)
        problems.extend(_media_problems(draft.media))
        if options.get("article") and draft.media:
            problems.append(
                base.Problem(
                    "linkedin.article.with_media",
                    "A LinkedIn post holds a link card or images, not both",
                )
            )
        if not draft.text.strip() and not draft.media and not options.get("article"):
            problems.append(
                base.Problem("linkedin.text.empty", "LinkedIn refuses an empty post")
            )
        problems.extend(_text_problems(draft))
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Upload the images, then create the post; the Receipt names its URN."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            checked = self.check_credentials(credentials)
        except ValueError as exc:
            raise base.CredentialsRejected(f"linkedin: {exc}") from exc

        token, author = checked["access_token"], checked["author"]
        images = [await self._upload(item, token, author) for item in draft.media]
        response = await self._rest(
            "POST",
            "/rest/posts",
            token,
            "create_post",
            json=_post(draft, author, images),
        )

        if response.status_code == 201:
            urn = response.headers.get("x-restli-id", "")
            if POST_URN.fullmatch(urn) is None:
                raise base.PermanentError(
                    "linkedin: the post was accepted but its URN is missing; "
                    "check the profile before publishing again",
                    code="bad_answer",
                )
            return _receipt(urn)
        duplicate = _duplicate_of(response)
        if duplicate is not None:
            log.warning(
                "platform_duplicate_adopted",
                extra={"platform": self.name, "remote_id": duplicate},
            )
            return _receipt(duplicate)
        raise _error_of(response)

    async def _rest(
        self, method: str, path: str, token: str, endpoint: str, **request: Any
    ) -> httpx.Response:
        return await _http.send(
            self._client,
            method,
            f"{self._base_url}{path}",
            platform=self.name,
            endpoint=endpoint,
            phase_timeout=self._timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self._version,
                "X-Restli-Protocol-Version": PROTOCOL_VERSION,
            },
            **request,
        )

    async def _upload(self, item: base.Media, token: str, author: str) -> str:
        """Announce and upload one image; its `urn:li:image:` URN."""
        response = await self._rest(
            "POST",
            "/rest/images",
            token,
            "initialize_upload",
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": author}},
        )
        if response.status_code != 200:
            raise _error_of(response)
        value = _http.json_object(response).get("value")
        value = value if isinstance(value, dict) else {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(image, str):
            raise base.PermanentError(
                "linkedin: initializeUpload answered without an upload URL",
                code="bad_answer",
            )
        self._check_upload_url(upload_url)

        uploaded = await _http.send(
            self._client,
            "PUT",
            upload_url,
            platform=self.name,
            endpoint="upload_image",
            phase_timeout=self._timeout,
            content=item.data,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": item.content_type,
            },
        )
        if uploaded.status_code not in (200, 201):
            raise _error_of(uploaded)
        return image

    def _check_upload_url(self, upload_url: str) -> None:
        """The bearer token goes only to LinkedIn or to where the API answers."""
        try:
            target, api = httpx.URL(upload_url), httpx.URL(self._base_url)
        except httpx.InvalidURL as exc:
            raise base.PermanentError(
                "linkedin: the upload URL is not a URL", code="bad_answer"
            ) from exc
        on_linkedin = target.scheme == "https" and (
            target.host == "linkedin.com" or target.host.endswith(".linkedin.com")
        )
        same_origin = (target.scheme, target.host, target.port) == (
            api.scheme,
            api.host,
            api.port,
        )
        if not (on_linkedin or same_origin):
            raise base.PermanentError(
                f"linkedin: the upload URL points at {target.host}, not LinkedIn; "
                "the token is not sent there",
                code="bad_answer",
            )


def commentary(draft: base.Draft) -> tuple[str, linkedin_little.Parsed]:
    """The commentary to send for `draft`, and how LinkedIn will read it."""
    if draft.options.get("markup"):
        source = draft.text
    else:
        source = linkedin_little.escape(
            draft.text, hashtags=bool(draft.options.get("hashtags", True))
        )
    return source, linkedin_little.parse(source)


def _text_problems(draft: base.Draft) -> list[base.Problem]:
    source, parsed = commentary(draft)
    markup = bool(draft.options.get("markup"))
    problems = []
    if parsed.stop is not None:
        char = source[parsed.stop]
        problems.append(
            base.Problem(
                "linkedin.text.unescaped_reserved",
                f"LinkedIn would cut the post at this {char!r}: a reserved character "
                f"of its little format; write it as \\{char} or turn markup off",
                start=parsed.stop,
                end=parsed.stop + 1,
            )
        )
    length = linkedin_little.utf16_length(parsed.text)
    if length > MAX_COMMENTARY:
        past = _index_past(parsed.text, MAX_COMMENTARY)
        start = parsed.sources[past] if markup else past
        problems.append(
            base.Problem(
                "linkedin.text.too_long",
                f"The post shows {length} UTF-16 units; LinkedIn takes "
                f"{MAX_COMMENTARY}",
                start=start,
                end=len(draft.text),
            )
        )
    return problems


def _index_past(text: str, limit: int) -> int:
    """The index of the first character of `text` past `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    problems = []
    visibility = options.get("visibility", "PUBLIC")
    if visibility not in VISIBILITIES:
        problems.append(
            base.Problem(
                "linkedin.options.visibility",
                f"visibility must be one of {', '.join(VISIBILITIES)}",
            )
        )
    article = options.get("article")
    if article is not None and not _article_ok(article):
        problems.append(
            base.Problem(
                "linkedin.options.article",
                "article must be {source: http(s) URL, title: text, description?}",
            )
        )
    return problems


def _article_ok(article: Any) -> bool:
    if not isinstance(article, Mapping):
        return False
    source, title = article.get("source"), article.get("title")
    description = article.get("description", "")
    return (
        isinstance(source, str)
        and source.startswith(("https://", "http://"))
        and isinstance(title, str)
        and bool(title.strip())
        and isinstance(description, str)
    )


def _media_problems(media: tuple[base.Media, ...]) -> list[base.Problem]:
    problems = []
    if len(media) > MAX_IMAGES:
        problems.append(
            base.Problem(
                "linkedin.media.too_many",
                f"{len(media)} images; a LinkedIn post takes {MAX_IMAGES}",
            )
        )
    for item in media:
        problem = _image_problem(item)
        if problem is not None:
            problems.append(problem)
    return problems


def _image_problem(item: base.Media) -> base.Problem | None:
    kind = IMAGE_TYPES.get(item.content_type)
    if kind is None:
        return base.Problem(
            "linkedin.media.unsupported",
            f"{item.filename}: syndic sends JPEG, PNG and GIF images to LinkedIn, "
            f"not {item.content_type}",
        )
    if not item.data:
        return base.Problem("linkedin.media.empty", f"{item.filename} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as image:
                found, (width, height) = image.format, image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        found, width, height = None, 0, 0
    if found != kind:
        return base.Problem(
            "linkedin.image.unreadable",
            f"{item.filename} is not a readable {kind.lower()} image",
        )
    if width * height > MAX_IMAGE_PIXELS:
        return base.Problem(
            "linkedin.image.too_many_pixels",
            f"{item.filename} is {width}x{height}; LinkedIn takes up to "
            f"{MAX_IMAGE_PIXELS} pixels",
        )
    return None


def _post(draft: base.Draft, author: str, images: list[str]) -> dict[str, Any]:
    options = draft.options
    body: dict[str, Any] = {
        "author": author,
        "commentary": commentary(draft)[0],
        "visibility": options.get("visibility", "PUBLIC"),
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": bool(options.get("disable_reshare")),
    }
    refs = [
        {"id": urn, **({"altText": item.alt} if item.alt else {})}
        for urn, item in zip(images, draft.media, strict=True)
    ]
    if len(refs) == 1:
        body["content"] = {"media": refs[0]}
    elif refs:
        body["content"] = {"multiImage": {"images": refs}}
    elif options.get("article"):
        article = options["article"]
        body["content"] = {
            "article": {
                key: article[key]
                for key in ("source", "title", "description")
                if article.get(key)
            }
        }
    return body


def _receipt(urn: str) -> base.Receipt:
    return base.Receipt(remote_id=urn, url=f"{PUBLIC_URL}/feed/update/{urn}/")


def _duplicate_of(response: httpx.Response) -> str | None:
    """The first post's URN when LinkedIn refused a duplicate of it."""
    if response.status_code != 422:
        return None
    body = _http.json_object(response)
    if "DUPLICATE_POST" not in _input_codes(body):
        return None
    match = POST_URN.search(str(body.get("message", "")))
    return match.group(0) if match else None


def _input_codes(body: Mapping[str, Any]) -> list[str]:
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    return [
        str(item.get("code"))
        for item in errors or []
        if isinstance(item, dict) and item.get("code")
    ]


def until_midnight_utc(now: datetime) -> float:
    """Seconds from `now` to the next 00:00 UTC, when LinkedIn's day quotas reset."""
    now = now.astimezone(UTC)
    midnight = (now + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return (midnight - now).total_seconds()


def _error_of(response: httpx.Response) -> base.PlatformError:
    """LinkedIn's error answer as one of ours."""
    status = response.status_code
    body = _http.json_object(response)
    code = body.get("code") or ", ".join(_input_codes(body)) or status
    message = str(body.get("message") or response.reason_phrase or status).strip()
    message = message.replace("ERROR :: ", "").replace("\n", "; ")

    if status == 429:
        retry_after = _http.seconds(response.headers.get("Retry-After"))
        if retry_after is None and " DAY " in message:
            retry_after = until_midnight_utc(datetime.now(UTC))
        return base.TransientError(
            f"linkedin: rate limited ({message})",
            code="rate_limited",
            retry_after=retry_after,
        )
    if status >= 500 or status == 409:
        return base.TransientError(
            f"linkedin: {message} ({status})",
            code="server_error" if status >= 500 else "conflict",
        )
    if status == 401:
        return base.CredentialsRejected(
            f"linkedin: {message} ({code}); connect the account again"
        )
    if status == 403:
        return base.CredentialsRejected(
            f"linkedin: {message} ({code}); the token needs w_member_social, or "
            "w_organization_social and an admin role to post as an organization"
        )
    if status == 426:
        return base.PermanentError(
            f"linkedin: {message}; set SYNDIC_LINKEDIN_VERSION to an active "
            "version (YYYYMM)",
            code="version_retired",
        )
    return base.PermanentError(f"linkedin: {message} ({code})", code="rejected")
