"""issue 24: skipped_candidates, the candidates the price-error guards set aside before staking

One row per fixture, outcome and rule (pipeline.betting.guards.RULES) with the book, price, fair probability and
one-line reason, first_seen and last_seen (moved on when a later run sets the same one aside again).

Revision ID: 0007_issue24
Revises: 0006_issue22_postponements
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.schema import UTCDateTime

revision = "0007_issue24"
down_revision = "0006_issue22_postponements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skipped_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fixture_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("bookmaker", sa.String(length=64), nullable=True),
        sa.Column("odds", sa.Float(), nullable=False),
        sa.Column("fair_prob", sa.Float(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fixture_id"], ["fixtures.id"], name=op.f("fk_skipped_candidates_fixture_id_fixtures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skipped_candidates")),
        sa.UniqueConstraint(
            "fixture_id", "outcome", "rule", name=op.f("uq_skipped_candidates_fixture_id_outcome_rule")
        ),
    )
    with op.batch_alter_table("skipped_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_skipped_candidates_last_seen", ["last_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("skipped_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_skipped_candidates_last_seen")
    op.drop_table("skipped_candidates")
