"""Typed Lemon Squeezy payloads: webhook events and API resources.

Only the fields syndic acts on are declared; every other key is tolerated,
since LS adds fields without notice. Every LS id becomes a string (`data.id`
is a JSON:API string, the `*_id` attributes are integers), and every time is
an aware UTC datetime. `parse` raises `ValueError` for a body it cannot use.
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
    document = json.loads(body)
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
