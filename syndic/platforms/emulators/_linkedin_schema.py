"""The Rest.li schema checks of the LinkedIn emulator, with LinkedIn's error bodies.

Rest.li validates a body against the resource's schema before the service
sees it and answers 422 with one `ERROR :: /path :: reason` line per
problem: a required field missing, a field the schema does not know, a
value of the wrong type, an enum symbol that does not exist. Services then
answer 400 (or 403, 422) with a `code` such as `INVALID_URN_TYPE`; the
content service wraps its own refusals (`DUPLICATE_POST`, commentary too
long) in an `errorDetailType` body with `errorDetails.inputErrors`.

The line texts follow Rest.li's data validator; the coded messages are
those LinkedIn's error reference lists, or as quoted in public reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

BAD_REQUEST_TYPE = "com.linkedin.common.error.BadRequest"
CONTENT_EXCEPTION = "com.linkedin.content.common.exception.BadRequestResponseException"


def error(
    status: int, code: str, message: str, *, service_code: int | None = None
) -> JSONResponse:
    """LinkedIn's common error body."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return JSONResponse(body, status_code=status)


def content_error(
    status: int, message: str, input_error: dict[str, Any]
) -> JSONResponse:
    """The content service's refusal, with one input error."""
    return JSONResponse(
        {
            "errorDetailType": BAD_REQUEST_TYPE,
            "message": f"{CONTENT_EXCEPTION}: {message}",
            "errorDetails": {"inputErrors": [input_error]},
            "status": status,
        },
        status_code=status,
    )


def invalid(lines: list[str]) -> JSONResponse:
    """Rest.li's 422 for a body that does not fit the schema."""
    return JSONResponse(
        {"message": "".join(f"ERROR :: {line}\n" for line in lines), "status": 422},
        status_code=422,
    )


@dataclass(frozen=True)
class Field:
    check: Callable[[str, Any, list[str]], None]
    required: bool = False


def string(path: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, str):
        errors.append(f"{path} :: {_show(value)} is not backed by a String")


def boolean(path: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, bool):
        errors.append(f"{path} :: {_show(value)} is not backed by a Boolean")


def long(path: str, value: Any, errors: list[str]) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(f"{path} :: {_show(value)} is not backed by a Long")


def anything(path: str, value: Any, errors: list[str]) -> None:
    """A field whose inside the emulator does not check."""


def enum(*symbols: str) -> Callable[[str, Any, list[str]], None]:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(f"{path} :: {_show(value)} is not backed by a String")
        elif value not in symbols:
            errors.append(f'{path} :: "{value}" is not an enum symbol')

    return check


def array(item: Callable[[str, Any, list[str]], None]) -> Callable[..., None]:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, list):
            errors.append(f"{path} :: {_show(value)} is not backed by a DataList")
            return
        for index, element in enumerate(value):
            item(f"{path}/{index}", element, errors)

    return check


def record(fields: Mapping[str, Field]) -> Callable[[str, Any, list[str]], None]:
    def check(path: str, value: Any, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path} :: {_show(value)} is not backed by a DataMap")
            return
        for name in value:
            if name not in fields:
                errors.append(
                    f"{path}/{name} :: unrecognized field found but not allowed"
                )
        for name, spec in fields.items():
            if name in value:
                spec.check(f"{path}/{name}", value[name], errors)
            elif spec.required:
                errors.append(
                    f"{path}/{name} :: field is required but not found and has no "
                    "default value"
                )

    return check


def validate(check: Callable[[str, Any, list[str]], None], body: Any) -> list[str]:
    """The schema's complaints about `body` (empty when it fits)."""
    errors: list[str] = []
    check("", body, errors)
    return errors


_IMAGE_REF = record(
    {"id": Field(string, required=True), "altText": Field(string)},
)
_CONTENT = record(
    {
        "media": Field(
            record(
                {
                    "id": Field(string, required=True),
                    "altText": Field(string),
                    "title": Field(string),
                }
            )
        ),
        "multiImage": Field(
            record(
                {
                    "images": Field(array(_IMAGE_REF), required=True),
                    "altText": Field(string),
                }
            )
        ),
        "article": Field(
            record(
                {
                    "source": Field(string, required=True),
                    "title": Field(string, required=True),
                    "description": Field(string),
                    "thumbnail": Field(string),
                    "thumbnailAltText": Field(string),
                }
            )
        ),
        "poll": Field(anything),
        "reference": Field(anything),
        "celebration": Field(anything),
        "carousel": Field(anything),
    }
)
POST = record(
    {
        "author": Field(string, required=True),
        "commentary": Field(string),
        "visibility": Field(
            enum("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"), required=True
        ),
        "distribution": Field(
            record(
                {
                    "feedDistribution": Field(enum("MAIN_FEED", "NONE"), required=True),
                    "targetEntities": Field(array(anything)),
                    "thirdPartyDistributionChannels": Field(array(string)),
                }
            ),
            required=True,
        ),
        "lifecycleState": Field(
            enum("DRAFT", "PUBLISHED", "PUBLISH_REQUESTED", "PUBLISH_FAILED"),
            required=True,
        ),
        "isReshareDisabledByAuthor": Field(boolean),
        "content": Field(_CONTENT),
        "contentLandingPage": Field(string),
        "contentCallToActionLabel": Field(string),
        "reshareContext": Field(anything),
        "container": Field(string),
        "adContext": Field(anything),
        "lifecycleStateInfo": Field(anything),
        "publishedAt": Field(long),
    }
)
INITIALIZE_UPLOAD = record(
    {
        "initializeUploadRequest": Field(
            record(
                {
                    "owner": Field(string, required=True),
                    "mediaLibraryMetadata": Field(anything),
                }
            ),
            required=True,
        )
    }
)


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)
