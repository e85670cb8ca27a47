"""Typed parsing of webhook payloads: ids as strings, aware times, lenient extras."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fixtures import lemonsqueezy as ls

from syndic.billing import events


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("order_created", events.OtherEvent),
        ("subscription_created", events.SubscriptionEvent),
        ("subscription_updated", events.SubscriptionEvent),
        ("subscription_cancelled", events.SubscriptionEvent),
        ("subscription_resumed", events.SubscriptionEvent),
        ("subscription_expired", events.SubscriptionEvent),
        ("subscription_payment_success", events.InvoiceEvent),
        ("subscription_payment_failed", events.InvoiceEvent),
    ],
)
def test_every_fixture_parses_to_its_kind(name: str, kind: type) -> None:
    event = events.parse(ls.body(name))

    assert isinstance(event, kind)
    assert event.meta.event_name == name
    assert event.meta.user_id == ls.USER_ID
    assert not events.is_test_mode(event)


def test_subscription_ids_are_strings_and_times_are_aware_utc() -> None:
    event = events.parse(ls.body("subscription_created"))

    assert isinstance(event, events.SubscriptionEvent)
    attributes = event.data.attributes
    assert event.data.id == ls.SUBSCRIPTION_ID
    assert attributes.variant_id == "700201"
    assert attributes.customer_id == "4100001"
    assert attributes.created_at == datetime(2026, 3, 2, 10, 15, 6, tzinfo=UTC)
    assert attributes.renews_at == datetime(2026, 4, 2, 10, 15, 2, tzinfo=UTC)
    assert attributes.ends_at is None
    assert attributes.urls.customer_portal is not None
    assert attributes.urls.customer_portal.startswith("https://syndic-example.")


def test_an_invoice_links_to_its_subscription_not_its_own_id() -> None:
    event = events.parse(ls.body("subscription_payment_failed"))

    assert isinstance(event, events.InvoiceEvent)
    assert event.data.id == "6100002"
    assert event.data.attributes.subscription_id == ls.SUBSCRIPTION_ID
    assert event.data.attributes.billing_reason == "renewal"


@pytest.mark.parametrize(
    ("custom_data", "user_id"),
    [
        ([], None),
        ({}, None),
        (None, None),
        ({"user_id": 123}, "123"),
        ({"user_id": " usr_1 "}, "usr_1"),
        ({"user_id": ""}, None),
        ({"user_id": True}, None),
        ({"user_id": ["usr_1"]}, None),
        ({"account_id": "acc_7"}, None),
    ],
)
def test_custom_data_user_id_is_a_string_or_nothing(
    custom_data: Any, user_id: str | None
) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"] = custom_data

    event = events.parse(ls.varied("subscription_created", change))

    assert event.meta.user_id == user_id


def test_missing_custom_data_is_no_user_id() -> None:
    def change(doc: dict[str, Any]) -> None:
        del doc["meta"]["custom_data"]

    assert events.parse(ls.varied("subscription_created", change)).meta.user_id is None


def test_unknown_fields_and_event_names_are_tolerated() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["event_name"] = "affiliate_activated"
        doc["meta"]["brand_new"] = {"x": 1}
        doc["data"]["type"] = "affiliates"

    event = events.parse(ls.varied("subscription_created", change))

    assert isinstance(event, events.OtherEvent)
    assert event.meta.event_name == "affiliate_activated"


def test_test_mode_is_read_from_meta_or_attributes() -> None:
    def in_meta(doc: dict[str, Any]) -> None:
        doc["meta"]["test_mode"] = True

    def in_attributes(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["test_mode"] = True

    assert events.is_test_mode(events.parse(ls.varied("subscription_created", in_meta)))
    assert events.is_test_mode(
        events.parse(ls.varied("subscription_created", in_attributes))
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "Expecting value"),
        (b"not json", "Expecting value"),
        (b"[]", "not a JSON object"),
        (b'{"data":{}}', "validation error for Meta"),
        (
            b'{"meta":{"event_name":"subscription_created"},"data":{"type":"orders"}}',
            "validation errors for SubscriptionEvent",
        ),
    ],
)
def test_unusable_bodies_raise_value_error(raw: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        events.parse(raw)


def test_an_invoice_event_typed_as_a_subscription_is_refused() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["data"]["type"] = "subscription_invoices"

    with pytest.raises(ValueError, match="validation error for InvoiceEvent"):
        events.parse(ls.varied("subscription_payment_success", change))


def test_a_naive_time_is_refused() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["data"]["attributes"]["updated_at"] = "2026-03-02T10:15:06"

    with pytest.raises(ValueError, match="timezone"):
        events.parse(ls.varied("subscription_created", change))


def test_a_body_nested_too_deeply_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        events.parse(b"[" * 5000 + b"]" * 5000)


def test_nul_characters_are_removed_from_every_string_and_key() -> None:
    raw = b'{"a\\u0000":["x\\u0000y",{"\\u0000":"\\u0000"}],"b":"\\\\u0000"}'

    assert events.load(raw) == {"a": ["xy", {"": ""}], "b": "\\u0000"}


def test_a_parsed_event_carries_no_nul() -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["custom_data"]["user_id"] = "usr\u0000_test_0001"
        doc["data"]["attributes"]["user_email"] = "user@example.test\u0000"

    event = events.parse(ls.varied("subscription_created", change))

    assert isinstance(event, events.SubscriptionEvent)
    assert event.meta.user_id == ls.USER_ID
    assert event.data.attributes.user_email == ls.EMAIL


@pytest.mark.parametrize(
    ("name", "store"),
    [
        ("subscription_created", "90001"),
        ("subscription_payment_failed", "90001"),
        ("order_created", "90001"),
    ],
)
def test_every_event_names_its_store(name: str, store: str) -> None:
    assert events.store_id(events.parse(ls.body(name))) == store
