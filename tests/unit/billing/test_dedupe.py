"""The inbox's dedupe key: stable across redeliveries, distinct across events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fixtures import lemonsqueezy as ls

from syndic.billing import inbox

CASES = Path(__file__).parents[2] / "fixtures" / "cases"


def _key(raw: bytes) -> str:
    return inbox.dedupe_key(inbox.envelope(raw), hashlib.sha256(raw).hexdigest())


def test_the_envelope_reads_name_resource_version_and_mode() -> None:
    delivery = inbox.envelope(ls.body("subscription_payment_success"))

    assert delivery == inbox.Envelope(
        event_name="subscription_payment_success",
        resource_type="subscription-invoices",
        resource_id="6100001",
        updated_at="2026-03-02T10:15:07.000000Z",
        webhook_id="3d9a4e6f-2c1b-4083-95f4-7e0c9b1a2f33",
        test_mode=False,
    )


def test_a_redelivery_with_a_new_webhook_id_has_the_same_key() -> None:
    def new_id(doc: dict[str, Any]) -> None:
        doc["meta"]["webhook_id"] = "00000000-0000-4000-8000-000000000000"

    again = ls.varied("subscription_created", new_id)

    assert again != ls.body("subscription_created")
    assert _key(again) == _key(ls.body("subscription_created"))


def test_every_timeline_event_has_its_own_key() -> None:
    keys = {_key(ls.body(name)) for name in ls.TIMELINE}

    assert len(keys) == len(ls.TIMELINE)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("meta", "event_name"), "subscription_updated"),
        (("data", "id"), "1800002"),
        (("data", "attributes", "updated_at"), "2026-03-02T10:15:06.000001Z"),
        (("meta", "test_mode"), True),
    ],
)
def test_event_name_resource_version_and_mode_each_change_the_key(
    path: tuple[str, ...], value: Any
) -> None:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    assert _key(ls.varied("subscription_created", change)) != _key(
        ls.body("subscription_created")
    )


def test_a_body_without_a_version_falls_back_to_its_hash() -> None:
    case = json.loads((CASES / "B19.json").read_text())
    raw = case["input"]["raw_body_utf8"].encode()

    assert _key(raw) == case["expected"]["dedupe_key_example"]["sha256_raw_body"]


@pytest.mark.parametrize(
    "raw", [b"", b"\xff\xfe", b"[1,2]", b'{"meta":"x","data":[]}', b"null"]
)
def test_unreadable_bodies_still_get_an_envelope_and_a_key(raw: bytes) -> None:
    delivery = inbox.envelope(raw, "subscription_created")

    assert delivery.event_name == "subscription_created"
    assert _key(raw) == hashlib.sha256(raw).hexdigest()


def test_oversized_fields_are_cut_to_their_columns() -> None:
    raw = json.dumps(
        {"meta": {"event_name": "x" * 500, "webhook_id": 7}, "data": {"id": 5}}
    ).encode()

    delivery = inbox.envelope(raw)

    assert len(delivery.event_name) == 64
    assert delivery.webhook_id == "7"
    assert delivery.resource_id == "5"
