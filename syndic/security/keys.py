"""API keys: generation, format check and verification.

A key is `syn_live_` followed by 48 lowercase hex characters drawn from 24
bytes of OS entropy. The first 8 hex characters, with the `syn_live_`
marker, form the public prefix that finds the key (indexed) and names it to
its owner. Only HMAC-SHA256(key, server secret) is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

MARKER = "syn_live_"
RANDOM_BYTES = 24
PREFIX_HEX = 8
KEY_PATTERN = re.compile(rf"^{MARKER}[0-9a-f]{{{RANDOM_BYTES * 2}}}$")
PREFIX_PATTERN = re.compile(rf"^{MARKER}[0-9a-f]{{{PREFIX_HEX}}}$")


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    digest: str

    def __repr__(self) -> str:
        return f"NewKey(prefix={self.prefix!r})"


def generate(secret: str) -> NewKey:
    """A fresh key; `plaintext` is to be shown once and then forgotten."""
    plaintext = MARKER + secrets.token_hex(RANDOM_BYTES)
    return NewKey(plaintext, prefix_of(plaintext), digest(plaintext, secret))


def is_well_formed(token: str) -> bool:
    return KEY_PATTERN.fullmatch(token) is not None


def prefix_of(token: str) -> str:
    return token[: len(MARKER) + PREFIX_HEX]


def digest(token: str, secret: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def matches(token: str, stored_digest: str, secret: str) -> bool:
    """Constant-time check of `token` against the stored digest."""
    return hmac.compare_digest(digest(token, secret), stored_digest)


def equal_secrets(presented: str, expected: str) -> bool:
    """Constant-time comparison of two shared secrets of any length."""
    return hmac.compare_digest(presented.encode(), expected.encode())
