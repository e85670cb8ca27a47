"""The Lemon Squeezy webhook signature: HMAC-SHA256 of the raw body, hex.

The message is the exact bytes received. Parsing and re-serialising JSON
changes them (LS escapes `/` as `\\/`, spacing and key order differ), so the
check runs on the request body before anything parses it.
"""

from __future__ import annotations

import hashlib
import hmac

from syndic import errors


def sign(body: bytes, secret: str) -> str:
    """The lowercase hex signature Lemon Squeezy sends for `body`."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` is the signature of `body`; never raises.

    Hex case and surrounding whitespace are not significant. A missing,
    non-ASCII or otherwise junk header is simply not valid.
    """
    if not signature:
        return False
    try:
        received = signature.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign(body, secret).encode("ascii")
    return hmac.compare_digest(expected, received)


def verify(body: bytes, signature: str | None, secret: str) -> None:
    """Raise `InvalidSignature` unless `signature` signs `body`."""
    if not is_valid(body, signature, secret):
        raise errors.InvalidSignature("missing or wrong X-Signature")
