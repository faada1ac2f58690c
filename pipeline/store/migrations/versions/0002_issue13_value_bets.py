"""issue 13: value against the sharp line

Bets record where the fair probability came from and their closing-line value against the fair close; the
margin-inclusive ratio keeps its numbers under a name that says what it is; results name the book whose closing
price they hold; bookmaker names stored by earlier versions become the canonical ones (pipeline.bookmakers).

Revision ID: 0002_issue13
Revises: 0002_issue15 (written on 0001; chained after issue 15's migration, which main already has)
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_issue13"
down_revision = "0002_issue15"
branch_labels = None
depends_on = None

# what the football-data provider used to call the books -> canonical names
RENAMED_BOOKS = {
    "pinnacle": "Pinnacle",
    "market_avg": "Market average",
    "betbrain_avg": "Betbrain average",
    "bet365": "Bet365",
    "market_max": "Market max",
    "william_hill": "William Hill",
}


def upgrade() -> None:
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closing_bookmaker", sa.String(length=64), nullable=True))
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fair_prob", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("fair_source", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("clv", sa.Float(), nullable=True))
        batch_op.alter_column("closing_line_value", new_column_name="close_ratio_with_margin")
    for table in ("odds_snapshots", "bets"):
        t = sa.table(table, sa.column("bookmaker", sa.String))
        for old, new in RENAMED_BOOKS.items():
            op.execute(t.update().where(t.c.bookmaker == old).values(bookmaker=new))


def downgrade() -> None:
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.alter_column("close_ratio_with_margin", new_column_name="closing_line_value")
        batch_op.drop_column("clv")
        batch_op.drop_column("fair_source")
        batch_op.drop_column("fair_prob")
    with op.batch_alter_table("results", schema=None) as batch_op:
        batch_op.drop_column("closing_bookmaker")
