"""The API client against the emulator on a real socket: checkout, portal, errors."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from billing_support import MakeUser, ServedEmulator, UserOf, make_settings
from fixtures import lemonsqueezy as ls

from syndic import errors
from syndic.billing import customer, emulator
from syndic.billing.lemonsqueezy import JSON_API, LemonSqueezy

CHECKOUT_URL = re.compile(
    r"^https://syndic-example\.lemonsqueezy\.com/checkout/custom/"
    r"[0-9a-f-]{36}\?signature=[0-9a-f]{64}$"
)


def _subscription_attributes(**changes: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = ls.document("subscription_created")["data"][
        "attributes"
    ]
    attributes.update(changes)
    return attributes


async def test_a_checkout_is_locked_to_the_tier_variant_and_carries_the_user(
    lemon: ServedEmulator, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    url = await customer.create_checkout(lemon.settings, await user_of(), "pro")

    assert CHECKOUT_URL.match(url)
    [sent] = lemon.state.checkouts
    data = sent["data"]
    assert data["relationships"]["store"]["data"] == {"type": "stores", "id": "90001"}
    assert data["relationships"]["variant"]["data"] == {
        "type": "variants",
        "id": "700201",
    }
    assert data["attributes"]["checkout_data"] == {
        "email": ls.EMAIL,
        "custom": {"user_id": ls.USER_ID},
    }
    assert data["attributes"]["product_options"]["enabled_variants"] == [700201]


@pytest.mark.parametrize("tier", ["free", "gold", ""])
async def test_a_checkout_for_a_tier_without_variant_is_invalid(
    lemon: ServedEmulator, make_user: MakeUser, user_of: UserOf, tier: str
) -> None:
    await make_user()

    with pytest.raises(errors.InvalidInput):
        await customer.create_checkout(lemon.settings, await user_of(), tier)
    assert lemon.state.checkouts == []


async def test_a_subscriber_is_sent_to_the_portal_instead_of_a_second_checkout(
    lemon: ServedEmulator, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user(ls_subscription_id="1800001", subscription_status="active")

    with pytest.raises(errors.Conflict):
        await customer.create_checkout(lemon.settings, await user_of(), "max")


async def test_the_portal_url_is_fetched_fresh_from_the_subscription(
    lemon: ServedEmulator, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user(ls_subscription_id=ls.SUBSCRIPTION_ID, subscription_status="active")
    lemon.state.register_subscription(ls.SUBSCRIPTION_ID, _subscription_attributes())
    stale = _subscription_attributes()["urls"]["customer_portal"]

    url = await customer.portal_url(lemon.settings, await user_of())

    assert url != stale
    assert url.startswith("https://syndic-example.lemonsqueezy.com/billing?expires=")
    assert re.search(r"&signature=[0-9a-f]{64}$", url)


async def test_the_portal_needs_a_subscription(
    lemon: ServedEmulator, make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()

    with pytest.raises(errors.NotFound):
        await customer.portal_url(lemon.settings, await user_of())


async def test_a_subscription_unknown_to_lemon_squeezy_is_not_found(
    lemon: ServedEmulator,
) -> None:
    async with LemonSqueezy.from_settings(lemon.settings) as api:
        with pytest.raises(errors.NotFound):
            await api.get_subscription("1234567")


async def test_a_wrong_api_key_is_service_unavailable(lemon: ServedEmulator) -> None:
    wrong = make_settings(lemon_base_url=lemon.url, lemon_api_key="not-the-key")

    async with LemonSqueezy.from_settings(wrong) as api:
        with pytest.raises(errors.ServiceUnavailable, match="API key"):
            await api.get_subscription(ls.SUBSCRIPTION_ID)


async def test_a_validation_error_is_invalid_input_with_pointers(
    lemon: ServedEmulator,
) -> None:
    async with LemonSqueezy.from_settings(lemon.settings) as api:
        with pytest.raises(errors.InvalidInput) as raised:
            await api.create_checkout(
                store_id="90002", variant_id="700201", email="a@example.test", custom={}
            )

    assert raised.value.details == [
        {
            "detail": "The selected store is invalid.",
            "pointer": "/data/relationships/store/data/id",
        }
    ]


async def test_an_unreachable_api_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed = make_settings(lemon_base_url=f"http://127.0.0.1:{port}")

    async with LemonSqueezy.from_settings(closed) as api:
        with pytest.raises(errors.ServiceUnavailable, match="cannot be reached"):
            await api.get_subscription(ls.SUBSCRIPTION_ID)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, errors.ServiceUnavailable),
        (502, errors.ServiceUnavailable),
        (429, errors.RateLimited),
        (422, errors.InvalidInput),
    ],
)
async def test_answers_map_into_syndic_errors(
    status: int, error: type[errors.SyndicError]
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": "7"}, json={"errors": []})

    api = LemonSqueezy(
        base_url="http://127.0.0.1:9",
        api_key="k",
        transport=httpx.MockTransport(answer),
    )
    async with api:
        with pytest.raises(error) as raised:
            await api.get_subscription(ls.SUBSCRIPTION_ID)

    if isinstance(raised.value, errors.RateLimited):
        assert raised.value.retry_after == 7


async def test_a_timeout_is_service_unavailable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    api = LemonSqueezy(
        base_url="http://127.0.0.1:9",
        api_key="k",
        transport=httpx.MockTransport(answer),
    )
    async with api:
        with pytest.raises(errors.ServiceUnavailable, match="in time"):
            await api.get_subscription(ls.SUBSCRIPTION_ID)


async def test_billing_without_an_api_key_is_unavailable(
    make_user: MakeUser, user_of: UserOf
) -> None:
    await make_user()
    unconfigured = make_settings(lemon_api_key=None)

    with pytest.raises(errors.ServiceUnavailable, match="SYNDIC_LEMON_API_KEY"):
        await customer.create_checkout(unconfigured, await user_of(), "pro")


def _mocked(answer: Callable[[httpx.Request], httpx.Response]) -> LemonSqueezy:
    """A client whose requests never leave the process."""
    transport = httpx.MockTransport(answer)
    return LemonSqueezy(base_url="http://127.0.0.1:9", api_key="k", transport=transport)


def _headers(state: emulator.EmulatorState, **changes: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "Authorization": f"Bearer {state.api_key}",
        "Accept": JSON_API,
        "Content-Type": JSON_API,
    }
    headers.update(changes)
    return {name: value for name, value in headers.items() if value is not None}


def _checkout_body(**relationships: Any) -> dict[str, Any]:
    links = {
        "store": {"data": {"type": "stores", "id": "90001"}},
        "variant": {"data": {"type": "variants", "id": "700201"}},
    }
    links.update(relationships)
    return {"data": {"type": "checkouts", "relationships": links}}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"Authorization": None}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Accept": None}, 406),
        ({"Accept": "application/json"}, 406),
        ({"Content-Type": "application/json"}, 415),
        ({}, 201),
    ],
)
async def test_the_emulator_is_strict_about_headers(
    lemon: ServedEmulator, changes: dict[str, str | None], status: int
) -> None:
    async with httpx.AsyncClient(base_url=lemon.url) as client:
        response = await client.post(
            "/v1/checkouts",
            json=_checkout_body(),
            headers=_headers(lemon.state, **changes),
        )

    assert response.status_code == status
    assert response.headers["content-type"] == JSON_API
    if status != 201:
        assert response.json()["errors"][0]["status"] == str(status)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/data"),
        (
            _checkout_body(store={"data": {"type": "stores", "id": 90001}}),
            "/data/relationships/store/data/id",
        ),
        (
            _checkout_body(variant={"data": {"type": "variants", "id": "799999"}}),
            "/data/relationships/variant/data/id",
        ),
        (
            _checkout_body(variant={"data": {"type": "products", "id": "700201"}}),
            "/data/relationships/variant/data/type",
        ),
        (
            {
                "data": {
                    **_checkout_body()["data"],
                    "attributes": {"product_options": {"enabled_variants": ["700201"]}},
                }
            },
            "/data/attributes/product_options/enabled_variants/0",
        ),
    ],
)
async def test_the_emulator_validates_checkout_bodies_with_pointers(
    lemon: ServedEmulator, body: dict[str, Any], pointer: str
) -> None:
    async with httpx.AsyncClient(base_url=lemon.url) as client:
        response = await client.post(
            "/v1/checkouts", json=body, headers=_headers(lemon.state)
        )

    assert response.status_code == 422
    assert [error["source"]["pointer"] for error in response.json()["errors"]] == [
        pointer
    ]
