"""Tables. One schema for SQLite and PostgreSQL, changed only by migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    tier: Mapped[str] = mapped_column(String(16), default="free")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # billing; a paid user's quota period runs from billing_anchor
    billing_anchor: Mapped[datetime | None]
    ls_customer_id: Mapped[str | None] = mapped_column(String(32))
    ls_subscription_id: Mapped[str | None] = mapped_column(String(32))
    ls_variant_id: Mapped[str | None] = mapped_column(String(32))
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    subscription_ends_at: Mapped[datetime | None]
    subscription_renews_at: Mapped[datetime | None]
    subscription_updated_at: Mapped[datetime | None]
    portal_url: Mapped[str | None] = mapped_column(Text)
    # referral reward: the effective tier is at least pro until then
    bonus_pro_until: Mapped[datetime | None]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Ban(Base):
    __tablename__ = "bans"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    banned_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Usage(Base):
    """Posts counted against a user's quota in one period."""

    __tablename__ = "usage"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(primary_key=True)
    posts_used: Mapped[int] = mapped_column(Integer, default=0)
    image_posts_used: Mapped[int] = mapped_column(Integer, default=0)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        Index(
            "ix_posts_pending_release",
            "release_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_posts_user_created", "user_id", "created_at"),
        Index("ix_posts_lease", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    text: Mapped[str] = mapped_column(Text)
    platforms: Mapped[list[Any]]
    options: Mapped[dict[str, Any]]
    media: Mapped[list[Any]]
    has_image: Mapped[bool] = mapped_column(Boolean, default=False)
    tier: Mapped[str] = mapped_column(String(16))
    scheduled_at: Mapped[datetime]
    release_at: Mapped[datetime]
    quota_period_start: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # the lease: who holds the post, until when, under which fence number
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    publish_started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Delivery(Base):
    """One post on one platform: its own state, attempts and result."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("post_id", "platform"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    remote_id: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class PlatformAccount(Base):
    """A user's credentials for one platform, encrypted with the credentials key."""

    __tablename__ = "platform_accounts"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    label: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    details: Mapped[dict[str, Any]]


class WebhookEvent(Base):
    """One verified Lemon Squeezy delivery, stored before it is answered.

    `dedupe_key` is unique: a redelivery of the same event finds the row
    instead of adding one (see `syndic.billing.inbox.dedupe_key`).
    """

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_name: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    webhook_id: Mapped[str | None] = mapped_column(String(64))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # received -> processed | ignored | failed; failed and ignored can be replayed
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class ReferralCredit(Base):
    """A referred user's first paid subscription, counted once for the referrer."""

    __tablename__ = "referral_credits"

    referred_user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id"), primary_key=True
    )
    referrer_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    subscription_id: Mapped[str] = mapped_column(String(32))
    counted_at: Mapped[datetime]


class MediaFile(Base):
    """An image or video uploaded once, referenced by posts; typed by its bytes."""

    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    alt: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
