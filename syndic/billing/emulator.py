"""A local stand-in for the Lemon Squeezy API, as strict as syndic needs it.

It serves what syndic calls, `POST /v1/checkouts` and
`GET /v1/subscriptions/{id}`, under the same JSON:API contract:

- `Authorization: Bearer <the configured key>`, else 401;
- `Accept` must name `application/vnd.api+json`, else 406, and a body must
  be sent as `application/vnd.api+json`, else 415 (JSON:API's rules; LS
  documents both headers as required without naming its status codes);
- a checkout body is validated: `data.type` is `checkouts`, the `store`
  and `variant` relationships carry string ids of this store and of a known
  variant, attributes have the documented shapes. Every problem is one
  entry of a 422 `errors[]` with its `source.pointer`;
- every error is a JSON:API document with `errors[]`.

Subscriptions are registered with `EmulatorState.register_subscription`
and changed with `update_subscription`, so drift can be staged; every
answer carries freshly signed portal URLs, as LS's do.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

JSON_API = "application/vnd.api+json"
PUBLIC_BASE = "https://api.lemonsqueezy.com"
URL_LIFETIME = timedelta(hours=24)


@dataclass
class EmulatorState:
    """The emulated store: its key, catalogue, subscriptions and checkouts."""

    api_key: str
    store_id: str = "90001"
    store_slug: str = "syndic-example"
    variants: set[str] = field(default_factory=lambda: {"700101", "700201", "700301"})
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkouts: list[dict[str, Any]] = field(default_factory=list)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def register_subscription(
        self, subscription_id: str, attributes: Mapping[str, Any]
    ) -> None:
        """Serve a subscription with these attributes (copied)."""
        self.subscriptions[subscription_id] = copy.deepcopy(dict(attributes))

    def update_subscription(self, subscription_id: str, **changes: Any) -> None:
        """Change a subscription as LS would: `updated_at` moves to now unless given."""
        attributes = self.subscriptions[subscription_id]
        attributes["updated_at"] = ls_time(datetime.now(UTC))
        attributes.update(changes)

    def sign(self, text: str) -> str:
        return hmac.new(self.signing_key, text.encode(), hashlib.sha256).hexdigest()


_Handler = Callable[[Request, "EmulatorState", Any], tuple[int, dict[str, Any]]]


class _Refused(Exception):
    """An answer other than success; turned into a JSON:API error document."""

    def __init__(self, status: int, title: str, problems: Iterable[tuple[str, str]]):
        super().__init__(title)
        self.status = status
        self.title = title
        self.problems = list(problems)


def create_app(state: EmulatorState) -> Starlette:
    """The emulator over `state`; `app.state.lemonsqueezy` is `state`."""

    async def checkouts(request: Request) -> Response:
        return await _answer(request, state, _create_checkout, body_expected=True)

    async def subscription(request: Request) -> Response:
        return await _answer(request, state, _show_subscription, body_expected=False)

    app = Starlette(
        routes=[
            Route("/v1/checkouts", checkouts, methods=["POST"]),
            Route("/v1/subscriptions/{subscription_id}", subscription, methods=["GET"]),
        ]
    )
    app.state.lemonsqueezy = state
    return app


def ls_time(moment: datetime) -> str:
    """A time as LS writes it: `2026-03-02T10:15:06.000000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _answer(
    request: Request, state: EmulatorState, handler: _Handler, *, body_expected: bool
) -> Response:
    try:
        _check_headers(request, state, body_expected=body_expected)
        body = _read_json(await request.body()) if body_expected else None
        status, document = handler(request, state, body)
    except _Refused as refused:
        return _document(refused.status, _errors(refused))
    return _document(status, document)


def _check_headers(
    request: Request, state: EmulatorState, *, body_expected: bool
) -> None:
    expected = f"Bearer {state.api_key}".encode()
    presented = request.headers.get("authorization", "").encode()
    if not hmac.compare_digest(expected, presented):
        raise _Refused(401, "Unauthorized", [("", "Unauthenticated.")])

    accepted = [
        part.split(";")[0].strip()
        for part in request.headers.get("accept", "").split(",")
    ]
    if JSON_API not in accepted:
        raise _Refused(406, "Not Acceptable", [("", f"Accept must be {JSON_API}.")])
    if body_expected and request.headers.get("content-type", "") != JSON_API:
        raise _Refused(
            415, "Unsupported Media Type", [("", f"Content-Type must be {JSON_API}.")]
        )


def _read_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _Refused(
            400, "Bad Request", [("", "The body is not valid JSON.")]
        ) from None


def _create_checkout(
    request: Request, state: EmulatorState, body: Any
) -> tuple[int, dict[str, Any]]:
    problems = list(_checkout_problems(state, body))
    if problems:
        raise _Refused(422, "Unprocessable Entity", problems)

    data = body["data"]
    attributes = data.get("attributes") or {}
    variant_id = data["relationships"]["variant"]["data"]["id"]
    checkout_id = str(uuid.uuid4())
    now = ls_time(datetime.now(UTC))
    state.checkouts.append(copy.deepcopy(body))
    url = (
        f"https://{state.store_slug}.lemonsqueezy.com/checkout/custom/{checkout_id}"
        f"?signature={state.sign(checkout_id)}"
    )
    resource = {
        "type": "checkouts",
        "id": checkout_id,
        "attributes": {
            "store_id": int(state.store_id),
            "variant_id": int(variant_id),
            "custom_price": attributes.get("custom_price"),
            "product_options": attributes.get("product_options") or {},
            "checkout_options": attributes.get("checkout_options") or {},
            "checkout_data": attributes.get("checkout_data") or {},
            "expires_at": attributes.get("expires_at"),
            "created_at": now,
            "updated_at": now,
            "test_mode": bool(attributes.get("test_mode", False)),
            "url": url,
        },
        "links": {"self": f"{PUBLIC_BASE}/v1/checkouts/{checkout_id}"},
    }
    return 201, {"data": resource, "links": resource["links"]}


def _checkout_problems(state: EmulatorState, body: Any) -> Iterable[tuple[str, str]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        yield "/data", "The data member is required and must be an object."
        return
    if data.get("type") != "checkouts":
        yield "/data/type", "The type must be checkouts."

    relationships = data.get("relationships")
    if not isinstance(relationships, dict):
        yield "/data/relationships", "The store and variant relationships are required."
        relationships = {}
    for name, kind, known in (
        ("store", "stores", {state.store_id}),
        ("variant", "variants", state.variants),
    ):
        yield from _relationship_problems(relationships.get(name), name, kind, known)

    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        yield "/data/attributes", "The attributes must be an object."
        return
    yield from _attribute_problems(state, attributes)


def _relationship_problems(
    relationship: Any, name: str, kind: str, known: set[str]
) -> Iterable[tuple[str, str]]:
    pointer = f"/data/relationships/{name}/data"
    linkage = relationship.get("data") if isinstance(relationship, dict) else None
    if not isinstance(linkage, dict):
        yield pointer, f"The {name} relationship is required."
        return
    if linkage.get("type") != kind:
        yield f"{pointer}/type", f"The type must be {kind}."
    identifier = linkage.get("id")
    if not isinstance(identifier, str):
        yield f"{pointer}/id", "The id must be a string."
    elif identifier not in known:
        yield f"{pointer}/id", f"The selected {name} is invalid."


def _attribute_problems(
    state: EmulatorState, attributes: dict[str, Any]
) -> Iterable[tuple[str, str]]:
    checkout_data = attributes.get("checkout_data", {})
    if not isinstance(checkout_data, dict):
        yield "/data/attributes/checkout_data", "The checkout data must be an object."
        checkout_data = {}
    email = checkout_data.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        yield "/data/attributes/checkout_data/email", "The email must be a valid email."
    custom = checkout_data.get("custom", {})
    if not isinstance(custom, dict | list):
        yield (
            "/data/attributes/checkout_data/custom",
            "The custom data must be an object.",
        )

    options = attributes.get("product_options", {})
    if not isinstance(options, dict):
        yield (
            "/data/attributes/product_options",
            "The product options must be an object.",
        )
        return
    enabled = options.get("enabled_variants", [])
    pointer = "/data/attributes/product_options/enabled_variants"
    if not isinstance(enabled, list):
        yield pointer, "The enabled variants must be an array."
        return
    for index, variant in enumerate(enabled):
        if isinstance(variant, bool) or not isinstance(variant, int):
            yield f"{pointer}/{index}", "Each enabled variant must be an integer."
        elif str(variant) not in state.variants:
            yield f"{pointer}/{index}", "The selected variant is invalid."


def _show_subscription(
    request: Request, state: EmulatorState, body: Any
) -> tuple[int, dict[str, Any]]:
    subscription_id = request.path_params["subscription_id"]
    attributes = state.subscriptions.get(subscription_id)
    if attributes is None:
        raise _Refused(404, "Not Found", [("", "The resource could not be found.")])

    attributes = copy.deepcopy(attributes)
    attributes["urls"] = _signed_urls(state, subscription_id, attributes)
    link = f"{PUBLIC_BASE}/v1/subscriptions/{subscription_id}"
    resource = {
        "type": "subscriptions",
        "id": subscription_id,
        "attributes": attributes,
        "links": {"self": link},
    }
    return 200, {"data": resource, "links": {"self": link}}


def _signed_urls(
    state: EmulatorState, subscription_id: str, attributes: dict[str, Any]
) -> dict[str, str]:
    expires = int((datetime.now(UTC) + URL_LIFETIME).timestamp())
    customer = attributes.get("customer_id", "")
    base = f"https://{state.store_slug}.lemonsqueezy.com"
    portal = f"expires={expires}&user={customer}"
    payment = f"expires={expires}"
    return {
        "customer_portal": f"{base}/billing?{portal}&signature={state.sign(portal)}",
        "update_payment_method": (
            f"{base}/subscription/{subscription_id}/payment-details?{payment}"
            f"&signature={state.sign(subscription_id + payment)}"
        ),
    }


def _errors(refused: _Refused) -> dict[str, Any]:
    errors = []
    for pointer, detail in refused.problems:
        error: dict[str, Any] = {
            "status": str(refused.status),
            "title": refused.title,
            "detail": detail,
        }
        if pointer:
            error["source"] = {"pointer": pointer}
        errors.append(error)
    return {"errors": errors}


def _document(status: int, document: dict[str, Any]) -> Response:
    document = {"jsonapi": {"version": "1.0"}, **document}
    return Response(json.dumps(document), status, media_type=JSON_API)
