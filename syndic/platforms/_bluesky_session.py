"""A Bluesky session as the adapter keeps it, and when to refresh it.

The PDS's JWTs are read without checking their signature (only the PDS
can): `exp` and `iat` say when the access token ends and how long it lived.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syndic.platforms import _http, base

REFRESH_EARLY = 15 * 60.0  # seconds, at most


@dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access: str
    refresh: str
    refresh_after: float  # epoch seconds

    def __repr__(self) -> str:
        return f"Session({self.handle!r})"


def session_of(body: Mapping[str, Any]) -> Session:
    try:
        access, refresh = str(body["accessJwt"]), str(body["refreshJwt"])
        did, handle = str(body["did"]), str(body["handle"])
    except KeyError as exc:
        raise base.PermanentError(
            f"bluesky: the session answer has no {exc}", code="bad_answer"
        ) from exc
    return Session(did, handle, access, refresh, refresh_after(access))


def refresh_after(token: str) -> float:
    """When to refresh: before `exp` by a quarter of the lifetime, 15 min at most."""
    payload = claims(token)
    expires = _http.seconds(payload.get("exp"))
    if expires is None:
        return time.time()
    issued = _http.seconds(payload.get("iat"))
    lifetime = expires - issued if issued is not None else 4 * REFRESH_EARLY
    return expires - min(REFRESH_EARLY, max(lifetime, 0.0) / 4)


def claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified (the client cannot check the signature)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
