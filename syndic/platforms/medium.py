"""Medium through its v1 publishing API (`<base>/v1/...`).

Credentials: `{"integration_token": "<token>"}`, from Medium's settings
(Security and apps, Integration tokens). Medium no longer issues new
integration tokens nor admits new OAuth integrations: this adapter works
for accounts that already have a token, and says so when one is refused.
Tokens do not expire; a revoked one cannot be replaced.

Publishing reads the author id once per token (`GET /v1/me`, cached),
uploads each image (`POST /v1/images`, multipart field `image`; JPEG, PNG,
GIF or TIFF) and adds it to the end of the content, then creates the post
(`POST /v1/users/{authorId}/posts`, 201). The receipt is the post's id and
URL.

The text is the post's content, Markdown unless `content_format` says
"html". Medium does not show the title inside the post, so a `title`
option that the text does not already open with is added as a heading;
without one the title is the text's first line. Medium silently ignores a
title over 100 characters, tags after the third and tags over 25
characters, so those are validation problems here rather than lost.

Options: `title`; `content_format` ("markdown" or "html"); `tags` (list,
at most 3, each at most 25 characters); `publish_status` ("public",
"draft" or "unlisted"; default public); `canonical_url`; `license`
(Medium's names, e.g. "cc-40-by"); `notify_followers`.

Medium takes no idempotency key and does not refuse duplicates: a retry
after an answer that got lost may publish twice.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from PIL import Image

from syndic import config
from syndic.platforms import _http, base

DEFAULT_TIMEOUT = 15.0  # seconds
MAX_TITLE = 100
MAX_TAGS = 3
MAX_TAG = 25
CONTENT_FORMATS = ("markdown", "html")
PUBLISH_STATUSES = ("public", "draft", "unlisted")
LICENSES = (
    "all-rights-reserved",
    "cc-40-by",
    "cc-40-by-sa",
    "cc-40-by-nd",
    "cc-40-by-nc",
    "cc-40-by-nc-nd",
    "cc-40-by-nc-sa",
    "cc-40-zero",
    "public-domain",
)
IMAGE_TYPES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
}
NO_NEW_TOKENS = (
    "Medium no longer issues new integration tokens, so only an account that "
    "already has one can publish through syndic"
)
_AUTHOR_CACHE_SIZE = 1024

TOKEN = re.compile(r"[A-Za-z0-9]{20,200}")
URL = re.compile(r"https?://[^\s/$.?#][^\s]*")
_HTML_BLOCK = re.compile(r"<(h[1-6]|p)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


class MediumAdapter:
    """Publishes with an integration token; see the module docstring."""

    name: ClassVar[str] = "medium"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        settings: config.Settings | None = None,
    ) -> None:
        """`timeout` is seconds per request phase; `settings.platform_timeout`
        replaces it when `settings` is given."""
        self._base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = settings.platform_timeout if settings is not None else timeout
        self._authors: dict[str, str] = {}  # sha256 of the token -> author id

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`{"integration_token": ...}`; else ValueError."""
        token = credentials.get("integration_token")
        if not isinstance(token, str) or TOKEN.fullmatch(token.strip()) is None:
            raise ValueError(
                "integration_token must be a Medium integration token (Medium "
                f"settings, Security and apps, Integration tokens). {NO_NEW_TOKENS}."
            )
        return {"integration_token": token.strip()}

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        options = draft.options
        problems = _option_problems(options)
        problems.extend(_tag_problems(options.get("tags", [])))
        title = _title(draft)
        if not draft.text.strip() and not draft.media:
            problems.append(
                base.Problem("medium.content.empty", "Medium refuses an empty post")
            )
        elif not title:
            problems.append(
                base.Problem(
                    "medium.title.empty",
                    "Medium needs a title: give the title option or open the text "
                    "with one",
                )
            )
        if len(title) > MAX_TITLE:
            problems.append(
                base.Problem(
                    "medium.title.too_long",
                    f"The title is {len(title)} characters; Medium ignores titles "
                    f"over {MAX_TITLE} and makes one up",
                )
            )
        problems.extend(
            problem
            for item in draft.media
            if (problem := _image_problem(item)) is not None
        )
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Create the post (after its images); the Receipt names its id and URL."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            token = self.check_credentials(credentials)["integration_token"]
        except ValueError as exc:
            raise base.CredentialsRejected(f"medium: {exc}") from exc

        author = await self._author(token)
        images = [await self._upload(token, item) for item in draft.media]
        response = await self._call(
            "POST",
            f"/v1/users/{author}/posts",
            token,
            "create_post",
            json=_post(draft, images),
        )
        if response.status_code == 403:
            self._authors.pop(_key(token), None)
        if response.status_code != 201:
            raise _error_of(response)
        post = _http.json_object(response).get("data")
        if not isinstance(post, dict) or not isinstance(post.get("id"), str):
            raise base.PermanentError(
                "medium: the post was created but the answer has no id; check the "
                "account before publishing again",
                code="bad_answer",
            )
        url = post.get("url")
        return base.Receipt(
            remote_id=post["id"], url=url if isinstance(url, str) else None
        )

    async def _call(
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
                "Accept": "application/json",
                "Accept-Charset": "utf-8",
            },
            **request,
        )

    async def _author(self, token: str) -> str:
        """The token's user id, asked once per token; also checks the token."""
        key = _key(token)
        if key in self._authors:
            return self._authors[key]
        response = await self._call("GET", "/v1/me", token, "me")
        if response.status_code != 200:
            raise _error_of(response)
        user = _http.json_object(response).get("data")
        author = user.get("id") if isinstance(user, dict) else None
        if not isinstance(author, str) or not author:
            raise base.PermanentError(
                "medium: /v1/me answered without a user id", code="bad_answer"
            )
        if len(self._authors) >= _AUTHOR_CACHE_SIZE:
            self._authors.pop(next(iter(self._authors)))
        self._authors[key] = author
        return author

    async def _upload(self, token: str, item: base.Media) -> str:
        """Upload one image; the URL Medium serves it from."""
        response = await self._call(
            "POST",
            "/v1/images",
            token,
            "upload_image",
            files={"image": (item.filename, item.data, item.content_type)},
        )
        if response.status_code != 201:
            raise _error_of(response)
        image = _http.json_object(response).get("data")
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            raise base.PermanentError(
                "medium: the image upload answered without a URL", code="bad_answer"
            )
        return url


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _title(draft: base.Draft) -> str:
    """The `title` option, else what the text opens with."""
    title = draft.options.get("title")
    if isinstance(title, str):
        return title.strip()
    return _opening(draft.text, draft.options.get("content_format") == "html")


def _opening(text: str, is_html: bool) -> str:
    """The first heading or paragraph of HTML, or the first line of Markdown
    without its heading marks."""
    if is_html:
        block = _HTML_BLOCK.search(text)
        inner = block.group(2) if block else text
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", inner)).split())
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip().lstrip("#").strip()


def content(draft: base.Draft, images: list[str]) -> str:
    """The post body: the title as a heading unless the text opens with it,
    the text, then each image."""
    is_html = draft.options.get("content_format") == "html"
    body = draft.text
    title = draft.options.get("title")
    if isinstance(title, str) and _opening(draft.text, is_html) != title.strip():
        heading = (
            f"<h1>{html.escape(title.strip())}</h1>"
            if is_html
            else f"# {title.strip()}\n\n"
        )
        body = heading + body
    for url, item in zip(images, draft.media, strict=True):
        if is_html:
            body += f'<img src="{html.escape(url)}" alt="{html.escape(item.alt)}">'
        else:
            alt = re.sub(r"([\[\]\\])", r"\\\1", item.alt)
            body += f"\n\n![{alt}]({url})"
    return body


def _post(draft: base.Draft, images: list[str]) -> dict[str, Any]:
    options = draft.options
    post: dict[str, Any] = {
        "title": _title(draft),
        "contentFormat": options.get("content_format", "markdown"),
        "content": content(draft, images),
        "publishStatus": options.get("publish_status", "public"),
    }
    if options.get("tags"):
        post["tags"] = list(options["tags"])
    if options.get("canonical_url"):
        post["canonicalUrl"] = options["canonical_url"]
    if options.get("license"):
        post["license"] = options["license"]
    if "notify_followers" in options:
        post["notifyFollowers"] = bool(options["notify_followers"])
    return post


def _image_problem(item: base.Media) -> base.Problem | None:
    kind = IMAGE_TYPES.get(item.content_type)
    if kind is None:
        return base.Problem(
            "medium.media.unsupported",
            f"{item.filename}: Medium takes JPEG, PNG, GIF and TIFF images, "
            f"not {item.content_type}",
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
            "medium.image.unreadable",
            f"{item.filename} is not a readable {kind.lower()} image",
        )
    return None


def _option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    checks = (
        (
            "medium.options.content_format",
            options.get("content_format", "markdown") in CONTENT_FORMATS,
            "content_format must be markdown or html",
        ),
        (
            "medium.options.publish_status",
            options.get("publish_status", "public") in PUBLISH_STATUSES,
            "publish_status must be public, draft or unlisted",
        ),
        (
            "medium.options.license",
            options.get("license", LICENSES[0]) in LICENSES,
            f"license must be one of {', '.join(LICENSES)}",
        ),
        (
            "medium.options.canonical_url",
            options.get("canonical_url") is None
            or (
                isinstance(options["canonical_url"], str)
                and URL.fullmatch(options["canonical_url"]) is not None
            ),
            "canonical_url must be an http(s) URL",
        ),
        (
            "medium.options.title",
            options.get("title") is None or isinstance(options["title"], str),
            "title must be text",
        ),
    )
    return [base.Problem(rule, message) for rule, ok, message in checks if not ok]


def _tag_problems(tags: Any) -> list[base.Problem]:
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        return [base.Problem("medium.tags.invalid", "tags must be a list of text")]
    problems = []
    if len(tags) > MAX_TAGS:
        problems.append(
            base.Problem(
                "medium.tags.too_many",
                f"{len(tags)} tags; Medium uses only the first {MAX_TAGS}",
            )
        )
    problems.extend(
        base.Problem(
            "medium.tag.too_long",
            f"tag {tag!r} is {len(tag)} characters; Medium ignores tags over {MAX_TAG}",
        )
        for tag in tags
        if len(tag) > MAX_TAG
    )
    return problems


def _error_of(response: httpx.Response) -> base.PlatformError:
    """Medium's `{"errors": [...]}` answer as one of ours."""
    status = response.status_code
    errors = _http.json_object(response).get("errors")
    found = [
        f"{item.get('message')} (code {item.get('code')})"
        for item in (errors if isinstance(errors, list) else [])
        if isinstance(item, dict)
    ]
    message = "; ".join(found) or str(response.reason_phrase or status)

    if status == 429:
        return base.TransientError(
            f"medium: rate limited ({message})",
            code="rate_limited",
            retry_after=_http.seconds(response.headers.get("Retry-After")),
        )
    if status >= 500:
        return base.TransientError(
            f"medium: server error {status} ({message})", code="server_error"
        )
    if status == 401:
        return base.CredentialsRejected(
            f"medium: the integration token was refused ({message}). {NO_NEW_TOKENS}; "
            "a revoked token cannot be replaced"
        )
    if status == 403:
        return base.CredentialsRejected(
            f"medium: this account may not publish through the API ({message})"
        )
    return base.PermanentError(f"medium: {message}", code="rejected")
