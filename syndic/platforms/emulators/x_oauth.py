"""OAuth 1.0a request signing (RFC 5849, HMAC-SHA1), as X's user context uses it.

The signature covers the method, the URL without its query, and every
parameter: the `oauth_*` ones, the query string's and those of a
form-urlencoded body. JSON and multipart bodies are not signed. The adapter
signs with `authorization_header`; the emulator checks with `signature_of`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

SIGNATURE_METHOD = "HMAC-SHA1"
VERSION = "1.0"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_]+)="([^"]*)"\s*(?:,|$)')


def percent_encode(value: str) -> str:
    """RFC 3986 encoding: everything but ALPHA, DIGIT and `-._~` as %XX (UTF-8)."""
    return quote(value, safe="~")


def base_string_uri(url: str) -> str:
    """The URL as signed: lower-case scheme and host, no default port, no query."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{parts.port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def signature_base(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature base string of a request with these (unencoded) parameters."""
    encoded = sorted(
        (percent_encode(key), percent_encode(value)) for key, value in params
    )
    normalized = "&".join(f"{key}={value}" for key, value in encoded)
    return "&".join(
        (
            method.upper(),
            percent_encode(base_string_uri(url)),
            percent_encode(normalized),
        )
    )


def signature_of(base: str, consumer_secret: str, token_secret: str = "") -> str:
    """HMAC-SHA1 of the base string, base64; the key joins both secrets."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def query_params(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def authorization_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    form: Iterable[tuple[str, str]] = (),
    nonce: str | None = None,
    timestamp: int | None = None,
) -> str:
    """The `Authorization: OAuth ...` value for one request to `url`."""
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": SIGNATURE_METHOD,
        "oauth_timestamp": str(
            timestamp if timestamp is not None else int(time.time())
        ),
        "oauth_token": token,
        "oauth_version": VERSION,
    }
    params = [*oauth.items(), *query_params(url), *form]
    oauth["oauth_signature"] = signature_of(
        signature_base(method, url, params), consumer_secret, token_secret
    )
    return "OAuth " + ", ".join(
        f'{percent_encode(key)}="{percent_encode(value)}"'
        for key, value in sorted(oauth.items())
    )


def parse_authorization(header: str) -> dict[str, str] | None:
    """The parameters of an `OAuth ...` header (decoded), or None if malformed."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "oauth" or not rest.strip():
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _HEADER_PARAM.match(rest, position)
        if match is None:
            return None
        key, value = match.group(1), match.group(2)
        params[key] = unquote(value)
        position = match.end()
    return params
