"""Reddit's media flow: an upload lease, the leased storage, the post websocket.

    POST /api/media/asset.json          lease: storage action + signed fields
    POST /_s3/reddit-uploaded-media     the storage (S3's POST-policy upload)
    WS   /_ws/{token}                   one update once the post is processed

The lease answers `{"args": {"action": "//<host>/...", "fields": [...]},
"asset": {...}}` as Reddit does, with the action on this emulator instead of
reddit-uploaded-media.s3-accelerate.amazonaws.com. The storage checks what
S3 checks for a POST policy: the signature, the expiry, every field against
the policy's conditions (fields after the file are ignored), one file, and
the size range; errors are S3's XML documents (EntityTooLarge carries
ProposedSize and MaxSizeAllowed). An image submission answers a
`websocket_url`; the socket sends `{"type": "success", "payload":
{"redirect": <post URL>}}` once, or `{"type": "failed"}` when the file is
not an image of its declared type (the post is then not made).

The size limit Reddit leases for images (20 MiB here) is UNVERIFIED.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

BUCKET = "reddit-uploaded-media"
UPLOAD_PATH = f"/_s3/{BUCKET}"
WEBSOCKET_PATH = "/_ws"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_VIDEO_BYTES = 1024 * 1024 * 1024
LEASE_LIFETIME = timedelta(hours=1)
MIMETYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "video/mp4": None,
    "video/quicktime": None,
}
_SIGNED_ELSEWHERE = frozenset({"policy", "x-amz-signature", "file"})


@dataclass
class Asset:
    asset_id: str
    key: str
    mimetype: str
    filepath: str
    owner: str
    fields: dict[str, str]
    data: bytes | None = None
    content_type: str | None = None


def origin(request: Request | WebSocket) -> str:
    """`//host[:port]/<mount>` of the emulator as the client reached it."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"//{request.url.netloc}{root}"


def lease(
    request: Request, asset: Asset, signing_key: bytes
) -> tuple[dict[str, Any], dict[str, str]]:
    """The lease answer for `asset`, and the fields it signs."""
    now = datetime.now(UTC)
    credential = f"SYNDICEMULATOR/{now:%Y%m%d}/us-east-1/s3/aws4_request"
    fields = {
        "acl": "public-read",
        "key": asset.key,
        "X-Amz-Credential": credential,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
        "success_action_status": "201",
        "content-type": asset.mimetype,
        "x-amz-storage-class": "STANDARD",
    }
    limit = MAX_IMAGE_BYTES if asset.mimetype.startswith("image/") else MAX_VIDEO_BYTES
    policy = {
        "expiration": (now + LEASE_LIFETIME).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [
            {"bucket": BUCKET},
            *({name: value} for name, value in fields.items()),
            ["content-length-range", 0, limit],
        ],
    }
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()
    fields["policy"] = encoded
    fields["X-Amz-Signature"] = _signature(signing_key, encoded)

    body = {
        "args": {
            "action": f"{origin(request)}{UPLOAD_PATH}",
            "fields": [
                {"name": name, "value": value} for name, value in fields.items()
            ],
        },
        "asset": {
            "asset_id": asset.asset_id,
            "processing_state": "incomplete",
            "payload": {"filepath": asset.filepath},
            "websocket_url": f"{_ws_scheme(request)}:{origin(request)}"
            f"{WEBSOCKET_PATH}/asset-{asset.asset_id}",
        },
    }
    return body, fields


@dataclass(frozen=True)
class Upload:
    fields: dict[str, str]  # lower-cased names, before the file
    filename: str
    content_type: str
    data: bytes


async def read_upload(request: Request) -> Upload | Response:
    """The multipart body as S3 reads it: fields up to the one file."""
    fields: dict[str, str] = {}
    found: Upload | None = None
    files = 0
    async with request.form(max_files=10, max_fields=100) as form:
        for name, value in form.multi_items():
            if isinstance(value, str):
                if found is None:
                    fields[name.lower()] = value
                continue
            files += 1
            if found is None:
                found = Upload(
                    fields,
                    value.filename or "file",
                    value.content_type or "application/octet-stream",
                    await value.read(),
                )
    if found is None or files != 1:
        return s3_error(
            400,
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
        )
    return found


def check_upload(upload: Upload, signing_key: bytes) -> Response | None:
    """The first reason S3 refuses the upload under its policy, or None."""
    policy_text = upload.fields.get("policy", "")
    signature = upload.fields.get("x-amz-signature", "")
    if not policy_text or not hmac.compare_digest(
        signature, _signature(signing_key, policy_text)
    ):
        return s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature "
            "you provided.",
        )
    policy = json.loads(base64.b64decode(policy_text))
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
    if expiration.replace(tzinfo=UTC) < datetime.now(UTC):
        return s3_error(
            403, "AccessDenied", "Invalid according to Policy: Policy expired."
        )

    allowed = set(_SIGNED_ELSEWHERE)
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            allowed.add(name.lower())
            if name != "bucket" and upload.fields.get(name.lower()) != value:
                return s3_error(
                    403,
                    "AccessDenied",
                    "Invalid according to Policy: Policy Condition failed: "
                    f'["eq", "${name}", "{value}"]',
                )
        elif condition[0] == "content-length-range" and not (
            condition[1] <= len(upload.data) <= condition[2]
        ):
            return s3_error(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=str(len(upload.data)),
                MaxSizeAllowed=str(condition[2]),
            )
    extra = sorted(set(upload.fields) - allowed)
    if extra:
        return s3_error(
            403,
            "AccessDenied",
            f"Invalid according to Policy: Extra input fields: {', '.join(extra)}",
        )
    return None


def upload_done(request: Request, key: str) -> Response:
    """S3's answer to `success_action_status=201`."""
    location = f"{request.url.scheme}:{origin(request)}{UPLOAD_PATH}/{key}"
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
        f"<Location>{escape(location)}</Location><Bucket>{BUCKET}</Bucket>"
        f"<Key>{escape(key)}</Key>"
        f'<ETag>"{hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()}"</ETag>'
        "</PostResponse>"
    )
    return Response(document, status_code=201, media_type="application/xml")


def s3_error(status: int, code: str, message: str, **extra: str) -> Response:
    parts = "".join(
        f"<{name}>{escape(value)}</{name}>" for name, value in extra.items()
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{parts}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(document, status_code=status, media_type="application/xml")


def media_problem(asset: Asset) -> str | None:
    """Why Reddit's processing would fail the uploaded file, or None."""
    expected = MIMETYPES.get(asset.mimetype)
    if asset.data is None:
        return "the file was never uploaded"
    if expected is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(asset.data)) as image:
                found = image.format
    except (OSError, ValueError, Image.DecompressionBombError):
        return "the file is not an image"
    if found != expected:
        return f"the file is {found}, not {asset.mimetype}"
    return None


def websocket_url(request: Request, token: str) -> str:
    return f"{_ws_scheme(request)}:{origin(request)}{WEBSOCKET_PATH}/{token}"


def success_update(url: str) -> dict[str, Any]:
    return {"type": "success", "payload": {"redirect": url}}


def failed_update(message: str) -> dict[str, Any]:
    return {"type": "failed", "payload": {"message": message}}


def known_media_key(url: str, assets: Mapping[str, Asset]) -> Asset | None:
    """The uploaded asset a submitted media URL points at, if any."""
    marker = f"{UPLOAD_PATH}/"
    if marker not in url:
        return None
    asset = assets.get(url.split(marker, 1)[1])
    return asset if asset is not None and asset.data is not None else None


def _signature(signing_key: bytes, policy: str) -> str:
    return hmac.new(signing_key, policy.encode(), hashlib.sha256).hexdigest()


def _ws_scheme(request: Request | WebSocket) -> str:
    return "wss" if request.url.scheme in ("https", "wss") else "ws"
