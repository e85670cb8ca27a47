"""Dev.to through the Forem API v1 (`<base>/api/articles`).

Credentials: `{"api_key": "..."}` from Settings → Extensions (keys do not
expire). Every call sends the `api-key` header and `Accept:
application/vnd.forem.api-v1+json` (without it Dev.to answers as its
legacy v0 API).

A post is one article: `POST /api/articles` with the fields wrapped in
`article`, the draft text as `body_markdown`, and `tags` always as an array
(Dev.to drops a comma-separated string without a word). With the
`article_id` option the post changes that article instead (`PUT
/api/articles/{id}`), which is how a draft made earlier gets published;
tags are sent then only when given, because a `PUT` with tags replaces
them and one without keeps them. Front matter at the top of the text wins
over the options on Dev.to, so validation reads it too.

Images: Dev.to hosts no uploads. The cover is `main_image`, a public URL;
an attached image is refused (`devto.media.needs_url`) unless
`main_image` is given, and is then not sent.

Dev.to refuses the same title and body twice for one user ("Body markdown
has already been taken"). A create refused for that reason is looked up
among the user's articles; when the same title and body are there the post
is taken as done (a retry after an unknown outcome), else the refusal
stands. Dev.to has no client-chosen key, so `idempotency_key` is not used.

Options: `title` (required to create), `tags` (array or comma-separated
text, at most 4; lower-cased), `published` (default true; false makes a
draft), `main_image`, `canonical_url`, `description`, `series`,
`organization_id`, `article_id`.

The Receipt's URL is the article's, or None for a draft (its URL is a
preview only its author can open).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from syndic import config
from syndic.platforms import _http, base
from syndic.platforms.emulators import devto_front_matter

DEFAULT_TIMEOUT = 15.0  # seconds
ACCEPT = "application/vnd.forem.api-v1+json"
MAX_TITLE = 128  # characters (code points)
MAX_TAGS = 4
MAX_TAG = 30
DUPLICATE = "Body markdown has already been taken"
LOOKUP_PAGE = 1000  # articles, Dev.to's largest page

API_KEY = re.compile(r"[A-Za-z0-9_-]{16,128}")
TAG = re.compile(r"[a-z0-9]+")


def tag_problems(tags: list[str]) -> list[base.Problem]:
    """What Dev.to refuses in a tag list (already split and lower-cased)."""
    if len(tags) > MAX_TAGS:
        return [
            base.Problem(
                "devto.tags.too_many", f"{len(tags)} tags; Dev.to takes {MAX_TAGS}"
            )
        ]
    problems = []
    for tag in tags:
        if TAG.fullmatch(tag) is None:
            problems.append(
                base.Problem(
                    "devto.tags.invalid",
                    f'tag "{tag}": Dev.to takes ASCII letters and digits only',
                )
            )
        if len(tag) > MAX_TAG:
            problems.append(
                base.Problem(
                    "devto.tags.too_long",
                    f'tag "{tag}" is {len(tag)} characters; Dev.to takes {MAX_TAG}',
                )
            )
    return problems


def title_problems(title: str | None, *, required: bool) -> list[base.Problem]:
    if title is None or not title.strip():
        if not required:
            return []
        return [base.Problem("devto.title.missing", "Dev.to needs a title")]
    if len(title) > MAX_TITLE:
        return [
            base.Problem(
                "devto.title.too_long",
                f"Title is {len(title)} characters; Dev.to takes {MAX_TITLE}",
            )
        ]
    return []


def option_tags(value: Any) -> list[str] | None:
    """The `tags` option as Dev.to will store it; None if it is not tags."""
    if value is None:
        return []
    if isinstance(value, str):
        return devto_front_matter.tags(value.replace("#", ""))
    if isinstance(value, list | tuple) and all(isinstance(tag, str) for tag in value):
        return devto_front_matter.tags([tag.replace("#", "") for tag in value])
    return None


class DevtoAdapter:
    """Publishes one article per post; see the module docstring."""

    name: ClassVar[str] = "devto"

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

    def check_credentials(self, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """`{"api_key": ...}`, trimmed; else ValueError."""
        key = credentials.get("api_key")
        if not isinstance(key, str) or API_KEY.fullmatch(key.strip()) is None:
            raise ValueError("api_key must be a key from dev.to Settings → Extensions")
        return {"api_key": key.strip()}

    def validate(self, draft: base.Draft) -> list[base.Problem]:
        options = draft.options
        try:
            front = devto_front_matter.parse(draft.text)
        except devto_front_matter.FrontMatterError as exc:
            return [
                base.Problem(
                    "devto.front_matter.invalid",
                    f"Dev.to cannot read the front matter: {exc}",
                    start=0,
                    end=len(draft.text),
                )
            ]

        title = front.text("title") or _text(options.get("title"))
        problems = title_problems(title, required="article_id" not in options)
        tags = option_tags(options.get("tags"))
        if tags is None:
            problems.append(
                base.Problem(
                    "devto.tags.invalid", "tags must be a list of words or one text"
                )
            )
        if front.text("tags") is not None:
            tags = devto_front_matter.tags(front.fields["tags"])
        problems.extend(tag_problems(tags or []))

        main_image = front.text("cover_image") or options.get("main_image")
        for key, value in (
            ("main_image", main_image),
            (
                "canonical_url",
                front.text("canonical_url") or options.get("canonical_url"),
            ),
        ):
            if value is not None and not _web_url(value):
                problems.append(
                    base.Problem(
                        f"devto.{key}.invalid",
                        f"{key} must be a public http(s) URL without spaces",
                    )
                )
        if draft.media and not main_image:
            problems.append(
                base.Problem(
                    "devto.media.needs_url",
                    "Dev.to cannot host an attached image; give its public URL "
                    "as main_image (the cover) instead",
                )
            )
        problems.extend(_option_problems(options))
        return problems

    async def publish(
        self, draft: base.Draft, credentials: Mapping[str, Any]
    ) -> base.Receipt:
        """Create (or with `article_id` change) the article; the Receipt names it."""
        problems = self.validate(draft)
        if problems:
            raise base.PermanentError(problems[0].message, code=problems[0].rule)
        try:
            api_key = self.check_credentials(credentials)["api_key"]
        except ValueError as exc:
            raise base.CredentialsRejected(f"devto: {exc}") from exc

        article = _article(draft)
        article_id = draft.options.get("article_id")
        if article_id is not None:
            response = await self._call(
                api_key,
                "PUT",
                f"/api/articles/{int(article_id)}",
                "update_article",
                json={"article": article},
            )
        else:
            response = await self._call(
                api_key,
                "POST",
                "/api/articles",
                "create_article",
                json={"article": article},
            )

        if response.status_code in (200, 201):
            return _receipt(_http.json_object(response))
        error = _error_of(response)
        if article_id is None and DUPLICATE in error.message:
            existing = await self._same_article(api_key, article, draft.text)
            if existing is not None:
                return _receipt(existing)
        raise error

    async def _call(
        self, api_key: str, method: str, path: str, endpoint: str, **request: Any
    ) -> httpx.Response:
        return await _http.send(
            self._client,
            method,
            f"{self._base_url}{path}",
            platform=self.name,
            endpoint=endpoint,
            phase_timeout=self._timeout,
            headers={"api-key": api_key, "Accept": ACCEPT},
            **request,
        )

    async def _same_article(
        self, api_key: str, article: Mapping[str, Any], body: str
    ) -> dict[str, Any] | None:
        """The user's article with this title and body, if one is there."""
        response = await self._call(
            api_key,
            "GET",
            "/api/articles/me/all",
            "list_my_articles",
            params={"per_page": str(LOOKUP_PAGE)},
        )
        if response.status_code != 200:
            return None
        try:
            listed = response.json()
        except ValueError:
            return None
        title = article.get("title")
        for item in listed if isinstance(listed, list) else []:
            if (
                isinstance(item, dict)
                and item.get("body_markdown") == body
                and (title is None or item.get("title") == title)
                and bool(item.get("published")) == bool(article["published"])
            ):
                return item
        return None


def _article(draft: base.Draft) -> dict[str, Any]:
    """The `article` object: only what was given, tags always as an array
    when creating."""
    options = draft.options
    creating = options.get("article_id") is None
    article: dict[str, Any] = {"published": bool(options.get("published", True))}
    if draft.text or creating:
        article["body_markdown"] = draft.text
    if _text(options.get("title")):
        article["title"] = options["title"]
    if creating or options.get("tags") is not None:
        article["tags"] = option_tags(options.get("tags")) or []
    for key in ("main_image", "canonical_url", "description", "series"):
        if options.get(key):
            article[key] = str(options[key])
    if options.get("organization_id") is not None:
        article["organization_id"] = int(options["organization_id"])
    return article


def _receipt(article: Mapping[str, Any]) -> base.Receipt:
    if "id" not in article:
        raise base.PermanentError(
            "devto: the answer holds no article", code="bad_answer"
        )
    published = article.get("published")
    if published is None:  # the article as created or changed has no such field
        published = bool(article.get("published_at"))
    url = article.get("url") if published else None
    return base.Receipt(
        remote_id=str(article["id"]), url=url if isinstance(url, str) else None
    )


def _error_of(response: httpx.Response) -> base.PlatformError:
    """Dev.to's answer (`{"error", "status"}`, or rack-attack's text) as ours."""
    status = response.status_code
    body = _http.json_object(response)
    message = str(body.get("error") or response.text.strip() or response.reason_phrase)

    if status == 429:
        retry_after = _http.seconds(response.headers.get("Retry-After"))
        if retry_after is None:
            found = re.search(r"try again in (\d+) seconds?", message)
            retry_after = float(found.group(1)) if found else None
        return base.TransientError(
            f"devto: {message}", code="rate_limited", retry_after=retry_after
        )
    if status >= 500:
        return base.TransientError(f"devto: server error {status}", code="server_error")
    if status == 401:
        return base.CredentialsRejected(f"devto: the API key was refused ({message})")
    if status == 403:
        return base.PermanentError(f"devto: {message}", code="forbidden")
    if status == 404:
        return base.PermanentError(
            "devto: no such article of yours (article_id)", code="not_found"
        )
    return base.PermanentError(f"devto: {message}", code="rejected")


def _option_problems(options: Mapping[str, Any]) -> list[base.Problem]:
    problems = []
    if "published" in options and not isinstance(options["published"], bool):
        problems.append(
            base.Problem("devto.options.published", "published must be true or false")
        )
    for key in ("article_id", "organization_id"):
        value = options.get(key)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | str)
            or not str(value).isdigit()
        ):
            problems.append(
                base.Problem(f"devto.options.{key}", f"{key} must be a number")
            )
    for key in ("description", "series"):
        if options.get(key) is not None and not isinstance(options[key], str):
            problems.append(base.Problem(f"devto.options.{key}", f"{key} must be text"))
    return problems


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _web_url(value: Any) -> bool:
    if not isinstance(value, str) or re.search(r"\s", value):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
