"""Discord's checks of an execute-webhook body, with its error bodies.

Limits are those of the API reference: content 2000, embeds 10 (title 256,
description 4096, 25 fields of name 256 and value 1024, footer 2048, author
name 256, 6000 across all embeds), 10 files of 10 MiB, 25 MiB a request.
A form error answers 400 code 50035 with an `errors` tree that mirrors the
body, every leaf an `_errors` list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syndic.platforms.emulators import _base

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_FIELDS = 25
MAX_FILES = 10
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_USERNAME = 80
MAX_THREAD_NAME = 100
ALLOWED_FLAGS = 4 | 4096  # SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS
MENTION_TYPES = frozenset({"users", "roles", "everyone"})

_EMBED_TEXTS = (("title", 256), ("description", 4096))
_NESTED_TEXTS = (("footer", "text", 2048), ("author", "name", 256))


@dataclass(frozen=True)
class Rejection:
    status: int
    body: dict[str, Any]


def errors_of(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def invalid_form_body(errors: dict[str, Any]) -> dict[str, Any]:
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


class _Errors:
    """Collects leaf errors into Discord's nested tree."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if not isinstance(value, str):
            self.add(
                path, "BASE_TYPE_STRING", f'Could not interpret "{value}" as string.'
            )
        elif len(value.strip()) > limit:
            self.add(
                path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
            )


def payload_of(body: _base.Body) -> dict[str, Any] | Rejection:
    """The JSON payload of a JSON, urlencoded or multipart body."""
    if body.error == "invalid_json":
        return Rejection(
            400, {"code": 50109, "message": "The request body contains invalid JSON."}
        )
    if body.error == "not_object":
        return Rejection(
            400,
            invalid_form_body(
                errors_of(
                    "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
                )
            ),
        )
    if "payload_json" not in body.fields:
        return dict(body.fields)
    try:
        payload = json.loads(body.fields["payload_json"])
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return Rejection(
            400, {"code": 50109, "message": "The request body contains invalid JSON."}
        )
    return payload


def check(
    payload: Mapping[str, Any], files: Mapping[str, _base.Upload]
) -> Rejection | None:
    """The first reason Discord refuses the body, or None."""
    sizes = [len(upload.data) for upload in files.values()]
    if any(size > MAX_FILE_BYTES for size in sizes) or sum(sizes) > MAX_REQUEST_BYTES:
        return Rejection(413, {"code": 40005, "message": "Request entity too large"})

    errors = _Errors()
    content = payload.get("content")
    if content is not None:
        errors.max_length(("content",), content, MAX_CONTENT)
    if payload.get("username") is not None:
        _check_username(errors, payload["username"])
    if payload.get("thread_name") is not None:
        errors.max_length(("thread_name",), payload["thread_name"], MAX_THREAD_NAME)
    _check_embeds(errors, payload.get("embeds"))
    _check_mentions(errors, payload.get("allowed_mentions"))
    flags = payload.get("flags")
    if flags is not None and (not isinstance(flags, int) or flags & ~ALLOWED_FLAGS):
        errors.add(("flags",), "MESSAGE_FLAGS_INVALID", "Invalid message flags.")
    if len(files) > MAX_FILES:
        errors.add(
            ("attachments",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_FILES} or fewer in length.",
        )
    if errors.tree:
        return Rejection(400, invalid_form_body(errors.tree))

    has_content = isinstance(content, str) and content.strip() != ""
    if not (has_content or payload.get("embeds") or files or payload.get("poll")):
        return Rejection(
            400, {"code": 50006, "message": "Cannot send an empty message"}
        )
    return None


def trimmed(embed: Any) -> dict[str, Any]:
    """An embed as Discord stores it: rich, with surrounding whitespace trimmed."""
    if not isinstance(embed, dict):
        return {"type": "rich"}
    stored = {
        key: value.strip() if isinstance(value, str) else value
        for key, value in embed.items()
    }
    stored["type"] = "rich"
    return stored


def _check_username(errors: _Errors, username: Any) -> None:
    if not isinstance(username, str) or not 1 <= len(username.strip()) <= MAX_USERNAME:
        errors.add(
            ("username",),
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_USERNAME} in length.",
        )


def _check_mentions(errors: _Errors, mentions: Any) -> None:
    if mentions is None:
        return
    parse = mentions.get("parse", []) if isinstance(mentions, dict) else None
    if not isinstance(parse, list) or not set(parse) <= MENTION_TYPES:
        errors.add(
            ("allowed_mentions", "parse"),
            "BASE_TYPE_CHOICES",
            "Value must be one of {'users', 'roles', 'everyone'}.",
        )


def _check_embeds(errors: _Errors, embeds: Any) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errors.add(("embeds",), "BASE_TYPE_LIST", "Must be a list.")
        return
    if len(embeds) > MAX_EMBEDS:
        errors.add(
            ("embeds",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_EMBEDS} or fewer in length.",
        )
        return

    total = 0
    for index, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            errors.add(
                ("embeds", index),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            )
            continue
        total += _check_embed(errors, index, embed)
    if total > MAX_EMBED_TOTAL:
        errors.add(
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
        )


def _check_embed(errors: _Errors, index: int, embed: Mapping[str, Any]) -> int:
    """Checks one embed; its size toward the 6000 total."""
    size = 0
    for key, limit in _EMBED_TEXTS:
        if embed.get(key) is not None:
            errors.max_length(("embeds", index, key), embed[key], limit)
            size += _text_size(embed[key])
    for key, inner, limit in _NESTED_TEXTS:
        part = embed.get(key)
        if isinstance(part, dict) and part.get(inner) is not None:
            errors.max_length(("embeds", index, key, inner), part[inner], limit)
            size += _text_size(part[inner])

    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors.add(("embeds", index, "fields"), "BASE_TYPE_LIST", "Must be a list.")
        return size
    if len(fields) > MAX_FIELDS:
        errors.add(
            ("embeds", index, "fields"),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {MAX_FIELDS} or fewer in length.",
        )
    for number, item in enumerate(fields):
        item = item if isinstance(item, dict) else {}
        for key, limit in (("name", 256), ("value", 1024)):
            path = ("embeds", index, "fields", number, key)
            if item.get(key) is None:
                errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
                continue
            errors.max_length(path, item[key], limit)
            size += _text_size(item[key])
    return size


def _text_size(value: Any) -> int:
    return len(value.strip()) if isinstance(value, str) else 0
