"""billing: webhook inbox, referral credits, referral bonus

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import syndic.db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=32), nullable=True),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("webhook_id", sa.String(length=64), nullable=True),
        sa.Column("test_mode", sa.Boolean(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "received_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "processed_at", syndic.db.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhook_events_dedupe_key")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_events_status_received", ["status", "received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_events_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "referral_credits",
        sa.Column("referred_user_id", sa.String(length=32), nullable=False),
        sa.Column("referrer_id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column(
            "counted_at", syndic.db.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["referred_user_id"],
            ["users.id"],
            name=op.f("fk_referral_credits_referred_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"],
            ["users.id"],
            name=op.f("fk_referral_credits_referrer_id_users"),
        ),
        sa.PrimaryKeyConstraint("referred_user_id", name=op.f("pk_referral_credits")),
    )
    with op.batch_alter_table("referral_credits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_credits_referrer_id"), ["referrer_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bonus_pro_until",
                syndic.db.models.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("bonus_pro_until")

    with op.batch_alter_table("referral_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_credits_referrer_id"))

    op.drop_table("referral_credits")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_events_user_id"))
        batch_op.drop_index("ix_webhook_events_status_received")

    op.drop_table("webhook_events")
