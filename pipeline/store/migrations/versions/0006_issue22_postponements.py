"""issue 22: postponed fixtures, and a void bet that no longer blocks a new one

`bets.kickoff_at_placement`: the kick-off the bet was placed for. A postponed match's bets stay pending while it
is rescheduled within VOID_AFTER_HOURS of that kick-off and are voided otherwise (pipeline.betting.settlement);
the fixture's own `kickoff_time` follows the source, so it cannot say what the bet was placed for. Rows written
before stay NULL and count from the fixture's kick-off, as before.

One bet per outcome per fixture, void bets aside: the unique constraint on (fixture_id, bet_outcome) becomes a
unique index of the same name over the bets that are not void, so a match voided (moved too far) and played later
can get a new bet, as the hourly job's --dry-run says it would.

Revision ID: 0006_issue22_postponements
Revises: 0005_issue22_identity
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.schema import UTCDateTime

revision = "0006_issue22_postponements"
down_revision = "0005_issue22_identity"
branch_labels = None
depends_on = None

NOT_VOID = "status <> 'void'"


def upgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kickoff_at_placement", UTCDateTime(), nullable=True))
        batch_op.drop_constraint("uq_bets_fixture_id_bet_outcome", type_="unique")
    op.create_index(
        "uq_bets_fixture_id_bet_outcome",
        "bets",
        ["fixture_id", "bet_outcome"],
        unique=True,
        sqlite_where=sa.text(NOT_VOID),
        postgresql_where=sa.text(NOT_VOID),
    )


def downgrade() -> None:
    op.drop_index("uq_bets_fixture_id_bet_outcome", table_name="bets")
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_bets_fixture_id_bet_outcome", ["fixture_id", "bet_outcome"])
        batch_op.drop_column("kickoff_at_placement")
