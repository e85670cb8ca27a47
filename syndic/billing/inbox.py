"""The webhook inbox: verify, store durably, then process, list and replay.

`receive` is the whole of `POST /v1/webhooks/lemon`:

1. `X-Signature` is checked over the raw bytes before anything parses
   them; a missing or wrong one raises `InvalidSignature` (401) and nothing
   is written.
2. The delivery is stored as `received` in its own transaction. If that
   fails the error propagates (503), so Lemon Squeezy retries; its retries
   stop after about 2.5 minutes, which is why nothing is answered before
   the row is committed.
3. It is processed right away, after that commit. However processing ends,
   the delivery is stored, and the route answers 200.

Deduplication: see `dedupe_key`. A redelivery finds the stored row and
gets 200 with no second effect; if that row failed or never finished, the
redelivery processes it again (a dashboard "Resend" then acts as a retry).

Processing locks the row, applies the event through `lifecycle` inside a
savepoint, and records the outcome on the row in the same transaction:
`processed`, `ignored` (with the reason) or `failed` (with the error; the
event's partial changes are rolled back). An unexpected exception is
recorded as `failed` in a transaction of its own. Admins list events by
status and replay failed or ignored ones; `process_pending` picks up
events whose processing never finished (a crash between commit and apply).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from syndic import clock, config, errors
from syndic.billing import events, lifecycle, signature
from syndic.db.engine import Database
from syndic.db.models import WebhookEvent
from syndic.db.repo import webhooks

log = logging.getLogger(__name__)

RECEIVED = "received"
STATUSES = (RECEIVED, lifecycle.PROCESSED, lifecycle.IGNORED, lifecycle.FAILED)
# what a redelivery processes again, and what an admin may replay
RETRYABLE = (RECEIVED, lifecycle.FAILED)
REPLAYABLE = (RECEIVED, lifecycle.FAILED, lifecycle.IGNORED)

MAX_ERROR_LENGTH = 2000
_LOG_EVENTS = {
    lifecycle.PROCESSED: "webhook_processed",
    lifecycle.IGNORED: "webhook_ignored",
    lifecycle.FAILED: "webhook_failed",
}


@dataclass(frozen=True)
class Receipt:
    """What became of one delivery: its event row, and whether it was a repeat."""

    event_id: int
    duplicate: bool
    status: str


@dataclass(frozen=True)
class EventView:
    """An inbox row as admins see it (without the raw body)."""

    id: int
    event_name: str
    status: str
    attempts: int
    resource_type: str | None
    resource_id: str | None
    webhook_id: str | None
    test_mode: bool
    user_id: str | None
    note: str | None
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, row: WebhookEvent) -> EventView:
        return cls(
            id=row.id,
            event_name=row.event_name,
            status=row.status,
            attempts=row.attempts,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            webhook_id=row.webhook_id,
            test_mode=row.test_mode,
            user_id=row.user_id,
            note=row.note,
            last_error=row.last_error,
            received_at=row.received_at,
            processed_at=row.processed_at,
        )


@dataclass(frozen=True)
class Envelope:
    """The few fields read from a verified body before it is stored."""

    event_name: str
    resource_type: str | None = None
    resource_id: str | None = None
    updated_at: str | None = None
    webhook_id: str | None = None
    test_mode: bool = False


async def receive(
    db: Database,
    settings: config.Settings,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> Receipt:
    """Verify, store and process one delivery of `POST /v1/webhooks/lemon`.

    Raises `InvalidSignature` (nothing stored) or, when the delivery cannot
    be stored, `ServiceUnavailable`; otherwise the delivery is stored.
    """
    now = now or clock.now()
    secret = settings.lemon_webhook_secret.get_secret_value()
    if not signature.is_valid(body, _header(headers, "x-signature"), secret):
        log.warning(
            "webhook_rejected", extra={"reason": "signature", "bytes": len(body)}
        )
        raise errors.InvalidSignature("missing or wrong X-Signature")

    delivery = envelope(body, _header(headers, "x-event-name"))
    body_sha256 = hashlib.sha256(body).hexdigest()
    key = dedupe_key(delivery, body_sha256)
    async with db.transaction() as session:
        event_id = await webhooks.store(
            session,
            dedupe_key=key,
            event_name=delivery.event_name,
            resource_type=delivery.resource_type,
            resource_id=delivery.resource_id,
            webhook_id=delivery.webhook_id,
            test_mode=delivery.test_mode,
            body_sha256=body_sha256,
            body=body,
            now=now,
        )
        duplicate = event_id is None
        status = RECEIVED
        if event_id is None:
            existing = await webhooks.by_dedupe_key(session, key)
            if existing is None:
                raise errors.ServiceUnavailable("the webhook inbox changed; try again")
            event_id, status = existing.id, existing.status

    log.info(
        "webhook_duplicate" if duplicate else "webhook_stored",
        extra={
            "event_id": event_id,
            "event_name": delivery.event_name,
            "webhook_id": delivery.webhook_id,
            "status": status,
        },
    )
    if status not in RETRYABLE:
        return Receipt(event_id, duplicate, status)
    results = await process(db, settings, [event_id], now=now)
    return Receipt(event_id, duplicate, results[event_id])


def envelope(body: bytes, event_name_header: str | None = None) -> Envelope:
    """The event name, resource, version and mode of a body, read leniently.

    Never raises: a body syndic cannot read is still stored (and fails in
    processing, visible to admins) rather than lost.
    """
    fallback = Envelope(event_name=_text(event_name_header, 64) or "")
    try:
        document = events.load(body)
    except ValueError:
        return fallback
    if not isinstance(document, dict):
        return fallback

    meta = _object(document.get("meta"))
    data = _object(document.get("data"))
    attributes = _object(data.get("attributes"))
    return Envelope(
        event_name=_text(meta.get("event_name"), 64) or fallback.event_name,
        resource_type=_text(data.get("type"), 32),
        resource_id=_text(data.get("id"), 64),
        updated_at=_text(attributes.get("updated_at"), 64),
        webhook_id=_text(meta.get("webhook_id"), 64),
        test_mode=meta.get("test_mode") is True or attributes.get("test_mode") is True,
    )


def dedupe_key(delivery: Envelope, body_sha256: str) -> str:
    """The key under which one event is stored once, however often it arrives.

    sha256 of event name, resource type and id, `updated_at` (as sent) and
    mode. These are what make an event distinct, and they survive a retry
    or a dashboard resend even if LS gives each delivery a new
    `meta.webhook_id` (undocumented either way), which would change the
    body's hash. Two events that share them describe the same resource
    version, so applying one of them is right. A body without a resource
    version falls back to the hash of its exact bytes.
    """
    if not (delivery.resource_id and delivery.updated_at):
        return body_sha256
    material = "\n".join(
        (
            delivery.event_name,
            delivery.resource_type or "",
            delivery.resource_id,
            delivery.updated_at,
            "test" if delivery.test_mode else "live",
        )
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


async def process(
    db: Database,
    settings: config.Settings,
    event_ids: Iterable[int],
    *,
    now: datetime | None = None,
    statuses: tuple[str, ...] = RETRYABLE,
) -> dict[int, str]:
    """Process each event whose status is in `statuses`; {id: status after}.

    An event in another status is left as it is. `ServiceUnavailable`
    stops the run, since no outcome could be recorded either.
    """
    results: dict[int, str] = {}
    for event_id in event_ids:
        at = now or clock.now()
        try:
            results[event_id] = await _process_one(db, settings, event_id, at, statuses)
        except errors.ServiceUnavailable:
            raise
        except Exception as exc:  # the loop top: record the crash, go on
            log.exception("webhook_crashed", extra={"event_id": event_id})
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
            async with db.transaction() as session:
                await webhooks.record_failure(session, event_id, error=error, now=at)
            results[event_id] = lifecycle.FAILED
    return results


async def process_pending(
    db: Database,
    settings: config.Settings,
    *,
    now: datetime | None = None,
    grace: timedelta = timedelta(minutes=1),
    limit: int = 100,
) -> dict[int, str]:
    """Process events left `received` for longer than `grace` (for the scheduler)."""
    now = now or clock.now()
    async with db.transaction() as session:
        stuck = await webhooks.unprocessed(
            session, received_before=now - grace, limit=limit
        )
    return await process(db, settings, stuck, now=now)


async def replay(
    db: Database,
    settings: config.Settings,
    event_id: int,
    *,
    actor: str,
    now: datetime | None = None,
) -> EventView:
    """Process a failed or ignored event again (`POST /v1/admin/webhooks/{id}/replay`).

    Raises `NotFound` for an unknown id and `Conflict` for a processed event.
    """
    async with db.transaction() as session:
        event = await webhooks.get(session, event_id)
        if event is None:
            raise errors.NotFound(f"no webhook event {event_id}")
        if event.status == lifecycle.PROCESSED:
            raise errors.Conflict(f"webhook event {event_id} is processed already")

    log.info("webhook_replayed", extra={"event_id": event_id, "actor": actor})
    await process(db, settings, [event_id], now=now, statuses=REPLAYABLE)
    async with db.transaction() as session:
        event = await webhooks.get(session, event_id)
        assert event is not None
        return EventView.of(event)


async def listing(
    db: Database,
    *,
    status: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[EventView]:
    """Inbox rows newest first, for `GET /v1/admin/webhooks?status=failed`."""
    if status is not None and status not in STATUSES:
        raise errors.InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 200:
        raise errors.InvalidInput("limit must be between 1 and 200")
    async with db.transaction() as session:
        rows = await webhooks.page(session, status=status, before=before, limit=limit)
        return [EventView.of(row) for row in rows]


async def _process_one(
    db: Database,
    settings: config.Settings,
    event_id: int,
    now: datetime,
    statuses: tuple[str, ...],
) -> str:
    async with db.transaction() as session:
        event = await webhooks.claim(session, event_id, statuses)
        if event is None:
            current = await webhooks.get(session, event_id)
            return current.status if current is not None else "missing"

        event_name = event.event_name
        savepoint = await session.begin_nested()
        outcome = await lifecycle.apply(
            session, event.body, settings, now=now, actor=f"webhook:{event_id}"
        )
        if outcome.status == lifecycle.FAILED:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        await webhooks.finish(
            session,
            event_id,
            status=outcome.status,
            note=outcome.note,
            user_id=outcome.user_id,
            now=now,
        )

    level = logging.WARNING if outcome.status == lifecycle.FAILED else logging.INFO
    log.log(
        level,
        _LOG_EVENTS[outcome.status],
        extra={
            "event_id": event_id,
            "event_name": event_name,
            "user_id": outcome.user_id,
            "note": outcome.note,
        },
    )
    return outcome.status


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """`headers[name]`, case-insensitively, for Starlette headers or a plain dict."""
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, limit: int) -> str | None:
    """`value` as text for a column of `limit` characters, without NULs."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).replace("\x00", "")[:limit] or None
