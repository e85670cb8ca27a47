"""The Lemon Squeezy REST API as syndic uses it: checkouts and subscriptions.

JSON:API over HTTP: every request sends `Accept` and `Content-Type:
application/vnd.api+json` and `Authorization: Bearer <api key>`; the base
URL comes from `SYNDIC_LEMON_BASE_URL`. Answers are mapped into
`syndic.errors` here, once:

    400, 422                  InvalidInput (details: the JSON:API errors)
    404                       NotFound
    429                       RateLimited (Retry-After, else 60 s)
    401, 403                  ServiceUnavailable (syndic's API key is refused)
    other status, timeout,    ServiceUnavailable
    connection error,
    unreadable answer
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from syndic import config, errors
from syndic.billing import events

log = logging.getLogger(__name__)

JSON_API = "application/vnd.api+json"
TIMEOUT = 10.0  # seconds
DEFAULT_RETRY_AFTER = 60  # seconds

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _CheckoutAttributes(_Model):
    url: str


class _CheckoutResource(_Model):
    type: Literal["checkouts"]
    id: str
    attributes: _CheckoutAttributes


class _CheckoutDocument(_Model):
    data: _CheckoutResource


class _SubscriptionDocument(_Model):
    data: events.Subscription


class LemonSqueezy:
    """A client of the Lemon Squeezy API; use it as an async context manager."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "Accept": JSON_API,
                "Content-Type": JSON_API,
                "Authorization": f"Bearer {api_key}",
                "User-Agent": "syndic/0.1 (self-hosted publishing backend)",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: config.Settings) -> LemonSqueezy:
        """A client for the configured API; `ServiceUnavailable` if no key is set."""
        if settings.lemon_api_key is None:
            raise errors.ServiceUnavailable(
                "billing is not configured on this server (SYNDIC_LEMON_API_KEY)"
            )
        return cls(
            base_url=settings.lemon_base_url,
            api_key=settings.lemon_api_key.get_secret_value(),
        )

    async def __aenter__(self) -> LemonSqueezy:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create_checkout(
        self,
        *,
        store_id: str,
        variant_id: str,
        email: str,
        custom: Mapping[str, str],
    ) -> Checkout:
        """A checkout locked to one variant; webhooks bring `custom` back."""
        body = {
            "data": {
                "type": "checkouts",
                "attributes": {
                    "checkout_data": {"email": email, "custom": dict(custom)},
                    # without this the customer could switch to any variant
                    "product_options": {"enabled_variants": [_numeric(variant_id)]},
                },
                "relationships": {
                    "store": {"data": {"type": "stores", "id": store_id}},
                    "variant": {"data": {"type": "variants", "id": variant_id}},
                },
            }
        }
        document = await self._request("POST", "/v1/checkouts", body=body)
        resource = _parse(_CheckoutDocument, document).data
        return Checkout(id=resource.id, url=resource.attributes.url)

    async def get_subscription(self, subscription_id: str) -> events.Subscription:
        """The subscription as Lemon Squeezy has it now (fresh signed URLs included)."""
        path = f"/v1/subscriptions/{quote(subscription_id, safe='')}"
        document = await self._request("GET", path)
        return _parse(_SubscriptionDocument, document).data

    async def _request(
        self, method: str, path: str, *, body: dict[str, Any] | None = None
    ) -> Any:
        started = time.perf_counter()
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            log.warning("lemonsqueezy_timeout", extra={"method": method, "path": path})
            raise errors.ServiceUnavailable(
                "Lemon Squeezy did not answer in time"
            ) from exc
        except httpx.HTTPError as exc:
            log.warning(
                "lemonsqueezy_unreachable",
                extra={"method": method, "path": path, "error": type(exc).__name__},
            )
            raise errors.ServiceUnavailable("Lemon Squeezy cannot be reached") from exc

        log.info(
            "lemonsqueezy_request",
            extra={
                "method": method,
                "path": path,
                "status": response.status_code,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                raise errors.ServiceUnavailable(
                    "Lemon Squeezy sent an unreadable answer"
                ) from exc
        raise _error(response)


def _error(response: httpx.Response) -> errors.SyndicError:
    status = response.status_code
    problems = _problems(response)
    if status in (400, 422):
        return errors.InvalidInput(
            "Lemon Squeezy refused the request", details=problems
        )
    if status == 404:
        return errors.NotFound("Lemon Squeezy has no such resource")
    if status == 429:
        return errors.RateLimited(
            "Lemon Squeezy is rate limiting syndic",
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    if status in (401, 403):
        return errors.ServiceUnavailable(
            "Lemon Squeezy refused syndic's API key (SYNDIC_LEMON_API_KEY)"
        )
    return errors.ServiceUnavailable(f"Lemon Squeezy answered {status}")


def _problems(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON:API `errors` of an answer: detail and pointer of each."""
    try:
        document = response.json()
    except ValueError:
        return []
    found = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(found, list):
        return []
    problems = []
    for error in found:
        if not isinstance(error, dict):
            continue
        source = error.get("source")
        pointer = source.get("pointer") if isinstance(source, dict) else None
        problems.append({"detail": error.get("detail"), "pointer": pointer})
    return problems


def _retry_after(value: str | None) -> int:
    if value is not None and value.strip().isdigit():
        return max(1, int(value.strip()))
    return DEFAULT_RETRY_AFTER


def _numeric(variant_id: str) -> int:
    if not variant_id.isdigit():
        raise errors.ConfigurationError(
            f"variant id {variant_id!r} in SYNDIC_LEMON_VARIANTS is not a number"
        )
    return int(variant_id)


def _parse(model: type[ModelT], document: Any) -> ModelT:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise errors.ServiceUnavailable(
            "Lemon Squeezy sent an answer syndic does not understand"
        ) from exc
