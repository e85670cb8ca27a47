"""Typed Lemon Squeezy payloads: webhook events and API resources.

Only the fields syndic acts on are declared; every other key is tolerated,
since LS adds fields without notice. Every LS id becomes a string (`data.id`
is a JSON:API string, the `*_id` attributes are integers), and every time is
an aware UTC datetime. `parse` raises `ValueError` for a body it cannot use.

Every string read from a payload, keys included, has its NUL characters
removed (`load`): JSON may carry U+0000 as `\\u0000`, and syndic's text
columns refuse it. The signature covers the raw bytes, which are stored as
they came.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

SUBSCRIPTION_EVENTS = frozenset(
    {
        "subscription_created",
        "subscription_updated",
        "subscription_cancelled",
        "subscription_resumed",
        "subscription_expired",
        "subscription_paused",
        "subscription_unpaused",
    }
)
INVOICE_EVENTS = frozenset(
    {
        "subscription_payment_success",
        "subscription_payment_failed",
        "subscription_payment_recovered",
        "subscription_payment_refunded",
    }
)


def _as_id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


LSId = Annotated[str, BeforeValidator(_as_id)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Meta(_Model):
    event_name: str
    test_mode: bool = False
    webhook_id: str | None = None
    custom_data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("custom_data", mode="before")
    @classmethod
    def _empty_is_a_dict(cls, value: Any) -> Any:
        # PHP encodes an empty map as []
        return {} if value is None or value == [] else value

    @property
    def user_id(self) -> str | None:
        """`custom_data.user_id` from our checkout, as a string, if usable."""
        value = self.custom_data.get("user_id")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        return str(value).strip() or None


class Pause(_Model):
    mode: str
    resumes_at: AwareDatetime | None = None


class SubscriptionURLs(_Model):
    customer_portal: str | None = None
    update_payment_method: str | None = None


class SubscriptionAttributes(_Model):
    store_id: LSId
    customer_id: LSId
    variant_id: LSId
    user_email: str = ""
    status: str
    pause: Pause | None = None
    cancelled: bool = False
    renews_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    test_mode: bool = False
    urls: SubscriptionURLs = Field(default_factory=SubscriptionURLs)


class InvoiceAttributes(_Model):
    store_id: LSId
    subscription_id: LSId
    customer_id: LSId
    user_email: str = ""
    billing_reason: str
    status: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    test_mode: bool = False


class Subscription(_Model):
    """A `subscriptions` resource, from a webhook or from the API."""

    type: Literal["subscriptions"]
    id: LSId
    attributes: SubscriptionAttributes


class Invoice(_Model):
    type: Literal["subscription-invoices"]
    id: LSId
    attributes: InvoiceAttributes


class Resource(_Model):
    type: str
    id: LSId | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("attributes", mode="before")
    @classmethod
    def _object_or_nothing(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}


class SubscriptionEvent(_Model):
    meta: Meta
    data: Subscription


class InvoiceEvent(_Model):
    meta: Meta
    data: Invoice


class OtherEvent(_Model):
    """An event syndic stores but has nothing to do for."""

    meta: Meta
    data: Resource | None = None


Event = SubscriptionEvent | InvoiceEvent | OtherEvent


def parse(body: bytes) -> Event:
    """The typed event in `body`, chosen by `meta.event_name`.

    A subscription or invoice event whose data is not of the matching type
    is refused rather than guessed at.
    """
    document = load(body)
    if not isinstance(document, dict):
        raise ValueError("the body is not a JSON object")

    meta = Meta.model_validate(document.get("meta"))
    if meta.event_name in SUBSCRIPTION_EVENTS:
        return SubscriptionEvent.model_validate(document)
    if meta.event_name in INVOICE_EVENTS:
        return InvoiceEvent.model_validate(document)
    return OtherEvent.model_validate(document)


def is_test_mode(event: Event) -> bool:
    """Whether the event comes from the store's test mode."""
    if isinstance(event, OtherEvent):
        return event.meta.test_mode
    return event.meta.test_mode or event.data.attributes.test_mode


def store_id(event: Event) -> str | None:
    """The id of the store the event comes from, if it names one."""
    if not isinstance(event, OtherEvent):
        return event.data.attributes.store_id
    if event.data is None:
        return None
    value = _as_id(event.data.attributes.get("store_id"))
    return value if isinstance(value, str) else None


def load(raw: bytes) -> Any:
    """The JSON value in `raw`, without a NUL in any of its strings or keys.

    Raises `ValueError` for bytes that are not JSON, including a document
    nested too deeply for the parser.
    """
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise ValueError("the body is nested too deeply") from exc
    return _without_nul(value)


def _without_nul(value: Any) -> Any:
    """`value` with NULs removed from every string in it, walked without recursion."""
    root = [value]
    pending: list[list[Any] | dict[str, Any]] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            items = list(node.items())
            node.clear()
            node.update((_strip(key), _strip(item)) for key, item in items)
            children = list(node.values())
        else:
            node[:] = [_strip(item) for item in node]
            children = node
        pending.extend(item for item in children if isinstance(item, list | dict))
    return root[0]


def _strip(value: Any) -> Any:
    return value.replace("\x00", "") if isinstance(value, str) else value
