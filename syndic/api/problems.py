"""Every error answer, in one shape and mapped to its status in one place:

{"error": {"code": "quota_exceeded", "message": "...", "details": ...}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from syndic import errors

log = logging.getLogger(__name__)

STATUS: tuple[tuple[type[errors.SyndicError], int], ...] = (
    (errors.InvalidInput, 422),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.RateLimited, 429),
    (errors.ServiceUnavailable, 503),
)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def status_of(error: errors.SyndicError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.SyndicError, _syndic_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _syndic_error(request: Request, exc: errors.SyndicError) -> JSONResponse:
    status = status_of(exc)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        body(exc.code, exc.message, exc.details), status, headers=headers
    )


async def _validation_error(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    problems = [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": error.get("msg", "invalid"),
            "type": error.get("type", "invalid"),
        }
        for error in exc.errors()
    ]
    return JSONResponse(
        body("invalid_input", "the request is not valid", problems), 422
    )


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(body(code, message), exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("request_failed", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(body("internal_error", "something went wrong on our side"), 500)
