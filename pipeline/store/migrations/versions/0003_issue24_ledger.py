"""issue 24: the minimum acceptable price of a bet and the ledger of what was really placed

`bets.min_odds`: the lowest price at which the bet still clears MIN_EDGE against the fair line. Rows written
before it stay NULL (the MIN_EDGE in force when they were placed is not recorded). `bets.ledger_status`
(recommended, placed, skipped, missed; every existing bet: recommended) and what the user really took:
`taken_odds`, `taken_stake`, `taken_bookmaker`, `ledger_at`, `ledger_note`.

Revision ID: 0003_issue24
Revises: 0002_issue13
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.schema import UTCDateTime

revision = "0003_issue24"
down_revision = "0002_issue13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_odds", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("ledger_status", sa.String(length=16), nullable=False, server_default="recommended")
        )
        batch_op.add_column(sa.Column("taken_odds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("taken_stake", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("taken_bookmaker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ledger_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ledger_note", sa.Text(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_bets_ledger_status"), "ledger_status IN ('recommended', 'placed', 'skipped', 'missed')"
        )
        batch_op.create_check_constraint(op.f("ck_bets_taken_odds_above_one"), "taken_odds IS NULL OR taken_odds > 1")
        batch_op.create_check_constraint(op.f("ck_bets_taken_stake_positive"), "taken_stake IS NULL OR taken_stake > 0")


def downgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        for name in ("ck_bets_taken_stake_positive", "ck_bets_taken_odds_above_one", "ck_bets_ledger_status"):
            batch_op.drop_constraint(op.f(name), type_="check")
        for column in ("ledger_note", "ledger_at", "taken_bookmaker", "taken_stake", "taken_odds"):
            batch_op.drop_column(column)
        batch_op.drop_column("ledger_status")
        batch_op.drop_column("min_odds")
