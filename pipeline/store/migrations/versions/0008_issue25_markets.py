"""issue 25: over/under and Asian handicap beside 1X2

`market_odds`: the two-way markets' prices, one row per book, market (OU, AH), line and selection as seen at
`fetched_at`, pre-match or closing (1X2 stays in odds_snapshots). `bets.market` (every existing bet: 1X2) and
`bets.line` (NULL for 1X2); `bets.result` widened to 16 characters for half_win, push and half_loss. One bet per
selection per fixture: the unique index over the bets that are not void becomes (fixture_id, market, line,
bet_outcome), the line of a 1X2 bet read as -1000 (NULLs never collide in a unique index), so a 1X2 home bet and an
AH home bet on one match are two bets and the same one twice is still refused. `skipped_candidates` gains market and
line, in its unique key too.

SQLite cannot reflect an expression index, so a batch copy of `bets` or `skipped_candidates` would drop it: the
indexes are dropped before the tables are altered and created after.

Revision ID: 0008_issue25_markets
Revises: 0007_issue24
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.timestamps import UTCDateTime

revision = "0008_issue25_markets"
down_revision = "0007_issue24"
branch_labels = None
depends_on = None

NOT_VOID = "status <> 'void'"
LINE_KEY = "coalesce(line, -1000)"  # frozen here: pipeline.store.schema.LINE_KEY as of this revision
MARKETS = "market IN ('1X2', 'OU', 'AH')"
LINE_BY_MARKET = "(market = '1X2') = (line IS NULL)"


def upgrade() -> None:
    op.create_table(
        "market_odds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fixture_id", sa.Integer(), nullable=False),
        sa.Column("bookmaker", sa.String(length=64), nullable=False),
        sa.Column("market", sa.String(length=16), nullable=False),
        sa.Column("line", sa.Float(), nullable=False),
        sa.Column("selection", sa.String(length=8), nullable=False),
        sa.Column("odds", sa.Float(), nullable=False),
        sa.Column("is_closing", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("market IN ('OU', 'AH')", name=op.f("ck_market_odds_market")),
        sa.CheckConstraint(
            "(market = 'OU' AND selection IN ('over', 'under')) OR (market = 'AH' AND selection IN ('home', 'away'))",
            name=op.f("ck_market_odds_selection"),
        ),
        sa.CheckConstraint("odds > 1", name=op.f("ck_market_odds_odds_above_one")),
        sa.ForeignKeyConstraint(["fixture_id"], ["fixtures.id"], name=op.f("fk_market_odds_fixture_id_fixtures")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_odds")),
        sa.UniqueConstraint(
            "fixture_id",
            "bookmaker",
            "market",
            "line",
            "selection",
            "is_closing",
            "fetched_at",
            name="uq_market_odds_price",
        ),
    )
    op.create_index("ix_market_odds_fixture_market_fetched", "market_odds", ["fixture_id", "market", "fetched_at"])

    op.drop_index("uq_bets_fixture_id_bet_outcome", table_name="bets")
    with op.batch_alter_table("bets", schema=None) as batch_op:
        # NOT NULL with a default: the bets already stored become 1X2 bets, as they are
        batch_op.add_column(sa.Column("market", sa.String(length=16), server_default="1X2", nullable=False))
        batch_op.add_column(sa.Column("line", sa.Float(), nullable=True))
        batch_op.alter_column("result", existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch_op.create_check_constraint(op.f("ck_bets_market"), MARKETS)
        batch_op.create_check_constraint(op.f("ck_bets_line_by_market"), LINE_BY_MARKET)
    op.create_index(
        "uq_bets_fixture_selection",
        "bets",
        ["fixture_id", "market", sa.text(LINE_KEY), "bet_outcome"],
        unique=True,
        sqlite_where=sa.text(NOT_VOID),
        postgresql_where=sa.text(NOT_VOID),
    )

    with op.batch_alter_table("skipped_candidates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_skipped_candidates_fixture_id_outcome_rule", type_="unique")
        batch_op.add_column(sa.Column("market", sa.String(length=16), server_default="1X2", nullable=False))
        batch_op.add_column(sa.Column("line", sa.Float(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_skipped_candidates_market"), MARKETS)
        batch_op.create_check_constraint(op.f("ck_skipped_candidates_line_by_market"), LINE_BY_MARKET)
    op.create_index(
        "uq_skipped_candidates_selection_rule",
        "skipped_candidates",
        ["fixture_id", "market", sa.text(LINE_KEY), "outcome", "rule"],
        unique=True,
    )


def downgrade() -> None:
    # Before issue 25 a bet had no market: a store with an OU or AH bet cannot go back without losing money records.
    two_way = op.get_bind().execute(sa.text("SELECT count(*) FROM bets WHERE market <> '1X2'")).scalar()
    if two_way:
        raise RuntimeError(f"{two_way} bets are on markets other than 1X2: a downgrade below issue 25 would lose them")
    # skips are diagnostics: those of the two-way markets go with the columns that tell them apart
    op.execute(sa.text("DELETE FROM skipped_candidates WHERE market <> '1X2'"))
    op.drop_index("uq_skipped_candidates_selection_rule", table_name="skipped_candidates")
    with op.batch_alter_table("skipped_candidates", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_skipped_candidates_line_by_market"), type_="check")
        batch_op.drop_constraint(op.f("ck_skipped_candidates_market"), type_="check")
        batch_op.drop_column("line")
        batch_op.drop_column("market")
        batch_op.create_unique_constraint(
            op.f("uq_skipped_candidates_fixture_id_outcome_rule"), ["fixture_id", "outcome", "rule"]
        )

    op.drop_index("uq_bets_fixture_selection", table_name="bets")
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_bets_line_by_market"), type_="check")
        batch_op.drop_constraint(op.f("ck_bets_market"), type_="check")
        batch_op.alter_column("result", existing_type=sa.String(length=16), type_=sa.String(length=8))
        batch_op.drop_column("line")
        batch_op.drop_column("market")
    op.create_index(
        "uq_bets_fixture_id_bet_outcome",
        "bets",
        ["fixture_id", "bet_outcome"],
        unique=True,
        sqlite_where=sa.text(NOT_VOID),
        postgresql_where=sa.text(NOT_VOID),
    )

    op.drop_index("ix_market_odds_fixture_market_fetched", table_name="market_odds")
    op.drop_table("market_odds")
