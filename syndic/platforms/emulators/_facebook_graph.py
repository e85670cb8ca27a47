"""Graph API conventions the Facebook emulator shares: error bodies and parameters.

Every refusal is `{"error": {"message", "type", "code", "error_subcode"?,
"is_transient"?, "fbtrace_id"}}`; the HTTP status is 400 for most, 403
for permissions, 500 for Facebook's own failures. Throttling is an error
code (4, 17, 32, 613, 80001), never a 429.

Parameters come from the query string and the body, JSON, urlencoded or
multipart, as strings in forms; `Params` reads them the way Graph does
(booleans as "true"/"false", lists as JSON or as `name[0]`, `name[1]`...).
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from syndic.platforms.emulators import _base

THROTTLE_MESSAGE = (
    "(#80001) There have been too many calls to this Page account. Wait a bit "
    "and try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
)


class GraphError(Exception):
    """An error answer, raised from deep inside a handler."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        transient: bool | None = None,
        type: str = "OAuthException",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.subcode = subcode
        self.transient = transient
        self.type = type
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = secrets.token_urlsafe(8)
        return JSONResponse(
            {"error": error}, status_code=self.status, headers=self.headers
        )


def invalid_parameter(message: str) -> GraphError:
    return GraphError(400, 100, f"(#100) {message}")


def usage_header(page_id: str, percent: int, regain_minutes: int) -> dict[str, str]:
    """`X-Business-Use-Case-Usage` for a page: use in percent, wait in minutes."""
    usage = {
        page_id: [
            {
                "type": "pages",
                "call_count": percent,
                "total_cputime": max(percent // 4, 1),
                "total_time": max(percent // 3, 1),
                "estimated_time_to_regain_access": regain_minutes,
            }
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage, separators=(",", ":"))}


def throttled(page_id: str, retry_after: float) -> GraphError:
    """The Pages business-use-case throttle (code 80001)."""
    minutes = max(math.ceil(retry_after / 60), 1)
    return GraphError(
        400,
        80001,
        THROTTLE_MESSAGE,
        transient=True,
        headers=usage_header(page_id, 100, minutes),
    )


def forced(status: int, page_id: str, retry_after: float | None) -> GraphError:
    """A fault forced by a test, in Graph's shape (429 means throttling)."""
    if status == 429:
        return throttled(page_id, retry_after or 60.0)
    if status >= 500:
        return GraphError(
            status,
            2,
            "An unexpected error has occurred. Please retry your request later.",
            transient=True,
        )
    return GraphError(status, 1, HTTPStatus(status).phrase)


@dataclass(frozen=True)
class Params:
    """A call's parameters: query string first, then the body over it."""

    values: Mapping[str, Any]
    files: Mapping[str, _base.Upload]

    @classmethod
    def of(cls, query: Mapping[str, str], body: _base.Body) -> Params:
        if body.error is not None:
            raise GraphError(400, 100, "(#100) Invalid JSON in the request body")
        return cls({**query, **body.fields}, body.files)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise invalid_parameter(f"Param {name} must be a string")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise invalid_parameter(f"Param {name} must be a boolean")

    def objects(self, name: str) -> list[Any]:
        """A list parameter, as a JSON array or as `name[0]`, `name[1]`..."""
        value = self.values.get(name)
        if value is not None:
            items = _json(name, value)
            if not isinstance(items, list):
                raise invalid_parameter(f"Param {name} must be an array")
            return items
        indexed = []
        index = 0
        while f"{name}[{index}]" in self.values:
            indexed.append(_json(f"{name}[{index}]", self.values[f"{name}[{index}]"]))
            index += 1
        return indexed


def _json(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise invalid_parameter(f"Param {name} must be a valid JSON value") from exc
