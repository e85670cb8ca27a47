"""The webhook signature: HMAC-SHA256 hex over the exact bytes received."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures import lemonsqueezy as ls

from syndic import errors
from syndic.billing import signature

CASES = Path(__file__).parents[2] / "fixtures" / "cases"


@pytest.mark.parametrize("name", ls.TIMELINE)
def test_every_fixture_verifies_byte_for_byte(name: str) -> None:
    raw = ls.body(name)

    assert signature.sign(raw, ls.SECRET) == ls.signature(name)
    assert signature.is_valid(raw, ls.signature(name), ls.SECRET)
    signature.verify(raw, ls.signature(name), ls.SECRET)


@pytest.mark.parametrize("name", ls.TIMELINE)
def test_a_reencoded_body_fails(name: str) -> None:
    raw = ls.body(name)
    reencoded = json.dumps(json.loads(raw)).encode()
    compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()

    assert not signature.is_valid(reencoded, ls.signature(name), ls.SECRET)
    assert not signature.is_valid(compact, ls.signature(name), ls.SECRET)


def test_one_changed_byte_fails() -> None:
    raw = ls.body("subscription_created")
    altered = raw.replace(b'"variant_id":700201', b'"variant_id":700301')

    assert altered != raw
    assert not signature.is_valid(
        altered, ls.signature("subscription_created"), ls.SECRET
    )


def test_a_trailing_newline_fails() -> None:
    raw = ls.body("subscription_created") + b"\n"

    assert not signature.is_valid(raw, ls.signature("subscription_created"), ls.SECRET)


def test_a_signature_made_with_another_secret_fails() -> None:
    raw = ls.body("subscription_created")
    forged = signature.sign(raw, "an-attacker-guess-0123456789abcdef01234")

    assert not signature.is_valid(raw, forged, ls.SECRET)
    with pytest.raises(errors.InvalidSignature):
        signature.verify(raw, forged, ls.SECRET)


def test_a_signature_of_another_event_fails() -> None:
    raw = ls.body("subscription_expired")

    assert not signature.is_valid(raw, ls.signature("subscription_created"), ls.SECRET)


def test_hex_case_and_surrounding_whitespace_do_not_matter() -> None:
    raw = ls.body("subscription_created")
    sig = ls.signature("subscription_created")

    assert signature.is_valid(raw, sig.upper(), ls.SECRET)
    assert signature.is_valid(raw, f"  {sig}\t", ls.SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        " ",
        "sha256=" + "0" * 64,
        "é" * 64,
        "\x00" * 64,
        "0" * 63,
        "0" * 65,
        "zz" * 32,
        "0" * 100_000,
        "🍋",
    ],
)
def test_junk_headers_are_refused_without_raising(header: str | None) -> None:
    raw = ls.body("subscription_created")

    assert signature.is_valid(raw, header, ls.SECRET) is False
    with pytest.raises(errors.InvalidSignature):
        signature.verify(raw, header, ls.SECRET)


def test_b17_raw_bytes_verify_and_reserialised_json_does_not() -> None:
    case = json.loads((CASES / "B17.json").read_text())
    secret = case["input"]["secret"]
    raw = case["input"]["raw_body_utf8"].encode("utf-8")
    parsed = json.loads(raw)
    default = json.dumps(parsed).encode()
    compact = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()

    assert len(raw) == case["expected"]["raw_len"]
    assert signature.sign(raw, secret) == case["expected"]["hmac_raw"]
    assert signature.is_valid(raw, case["input"]["x_signature"], secret)
    assert (
        signature.sign(default, secret) == case["expected"]["hmac_json_dumps_default"]
    )
    assert (
        signature.sign(compact, secret)
        == case["expected"]["hmac_json_dumps_compact_no_ascii"]
    )
    assert not signature.is_valid(default, case["input"]["x_signature"], secret)
    assert not signature.is_valid(compact, case["input"]["x_signature"], secret)
