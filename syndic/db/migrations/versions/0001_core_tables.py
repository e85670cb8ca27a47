"""core tables

Revision ID: 0001
Revises:
Create Date: 2026-12-04 14:32:03.304103
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syndic.db.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", syndic.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("referral_code", sa.String(length=16), nullable=False),
        sa.Column("referred_by", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "billing_anchor", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("ls_customer_id", sa.String(length=32), nullable=True),
        sa.Column("ls_subscription_id", sa.String(length=32), nullable=True),
        sa.Column("ls_variant_id", sa.String(length=32), nullable=True),
        sa.Column("subscription_status", sa.String(length=32), nullable=True),
        sa.Column(
            "subscription_ends_at",
            syndic.db.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "subscription_renews_at",
            syndic.db.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "subscription_updated_at",
            syndic.db.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("portal_url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["users.id"], name=op.f("fk_users_referred_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("referral_code", name=op.f("uq_users_referral_code")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_used_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "revoked_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "bans",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("banned_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bans_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_bans")),
    )
    op.create_table(
        "platform_accounts",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "expires_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "created_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_platform_accounts_user_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "platform", name=op.f("pk_platform_accounts")
        ),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("platforms", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("has_image", sa.Boolean(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column(
            "scheduled_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "release_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "quota_period_start",
            syndic.db.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column(
            "lease_until", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column(
            "publish_started_at",
            syndic.db.models.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "finished_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_posts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint(
            "user_id", "idempotency_key", name=op.f("uq_posts_user_id")
        ),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_lease", ["status", "lease_until"], unique=False)
        batch_op.create_index(
            "ix_posts_pending_release",
            ["release_at"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(
            "ix_posts_user_created", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "usage",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "period_start", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("posts_used", sa.Integer(), nullable=False),
        sa.Column("image_posts_used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_usage_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "period_start", name=op.f("pk_usage")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "started_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "answered_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_deliveries_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("post_id", "platform", name=op.f("uq_deliveries_post_id")),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("usage")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_user_created")
        batch_op.drop_index(
            "ix_posts_pending_release",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_posts_lease")

    op.drop_table("posts")
    op.drop_table("platform_accounts")
    op.drop_table("bans")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
