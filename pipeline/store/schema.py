"""The store's schema: every table, in SQLAlchemy Core. Users query these tables with plain `sqlite3`,
so names are part of the interface. Migrations (pipeline/migrations) are generated from this module.

Timestamps are UTC (`UTCDateTime`, pipeline.store.timestamps): text on SQLite, `timestamptz` on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from pipeline.store.timestamps import UTCDateTime

# Named constraints so Alembic's batch mode can alter SQLite tables later.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _ts(name: str, **kw) -> Column:
    return Column(name, UTCDateTime(), **kw)


# A bet's or skip's line in a unique key: 1X2 has none (NULL), and NULLs never collide in a unique index, so the key
# reads NULL as a number no line can be (lines are multiples of 0.25). An expression index: SQLite cannot reflect
# it, so a batch migration that recreates `bets` or `skipped_candidates` must drop it first and create it after.
LINE_KEY = "coalesce(line, -1000)"


def line_key():
    return text(LINE_KEY)


leagues = Table(
    "leagues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("simulated", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("source", "code"),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("league_code", String(64)),
    UniqueConstraint("source", "provider_id"),
)

players = Table(
    "players",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("team_id", Integer, ForeignKey("teams.id")),
    Column("position", String(32)),
    # From the weekly player-database build: the player's estimated effect on his team's goal rates.
    Column("rating", Float),
    Column("appearances", Integer),
    _ts("rating_updated_at"),
    UniqueConstraint("source", "provider_id"),
)

fixtures = Table(
    "fixtures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),
    Column("provider_id", String(128), nullable=False),
    Column("league_code", String(64), nullable=False),
    Column("season", String(16), nullable=False),
    _ts("kickoff_time", nullable=False),
    Column("home_team_id", Integer, ForeignKey("teams.id"), nullable=False),
    Column("away_team_id", Integer, ForeignKey("teams.id"), nullable=False),
    Column("home_team", String(200), nullable=False),
    Column("away_team", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("simulated", Boolean, nullable=False, server_default="0"),
    _ts("updated_at", nullable=False),
    UniqueConstraint("source", "provider_id"),
    Index("ix_fixtures_kickoff_time", "kickoff_time"),
    Index("ix_fixtures_status_kickoff", "status", "kickoff_time"),
)

odds_snapshots = Table(
    "odds_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    Column("bookmaker", String(64), nullable=False),
    Column("market", String(16), nullable=False, server_default="1X2"),
    Column("home_odds", Float, nullable=False),
    Column("draw_odds", Float, nullable=False),
    Column("away_odds", Float, nullable=False),
    Column("is_closing", Boolean, nullable=False, server_default="0"),
    _ts("fetched_at", nullable=False),
    UniqueConstraint("fixture_id", "bookmaker", "market", "fetched_at"),
    Index("ix_odds_snapshots_fixture_fetched", "fixture_id", "fetched_at"),
)

# The two-way markets' prices (pipeline.markets): one row per book, market, line and selection as seen at
# `fetched_at` (never overwritten), pre-match or closing; written and read by pipeline.store.market_odds. 1X2 stays
# in odds_snapshots, one row per book with its three prices.
market_odds = Table(
    "market_odds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    Column("bookmaker", String(64), nullable=False),
    Column("market", String(16), nullable=False),  # OU (over/under total goals), AH (Asian handicap)
    Column("line", Float, nullable=False),  # the total (OU); the HOME side's handicap (AH), for both selections
    Column("selection", String(8), nullable=False),  # over, under (OU); home, away (AH)
    Column("odds", Float, nullable=False),
    Column("is_closing", Boolean, nullable=False, server_default="0"),
    _ts("fetched_at", nullable=False),
    UniqueConstraint(
        "fixture_id",
        "bookmaker",
        "market",
        "line",
        "selection",
        "is_closing",
        "fetched_at",
        name="uq_market_odds_price",
    ),
    Index("ix_market_odds_fixture_market_fetched", "fixture_id", "market", "fetched_at"),
    CheckConstraint("market IN ('OU', 'AH')", name="market"),
    CheckConstraint(
        "(market = 'OU' AND selection IN ('over', 'under')) OR (market = 'AH' AND selection IN ('home', 'away'))",
        name="selection",
    ),
    CheckConstraint("odds > 1", name="odds_above_one"),
)

results = Table(
    "results",
    metadata,
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), primary_key=True),
    Column("status", String(16), nullable=False),  # finished, postponed, cancelled, abandoned
    Column("home_goals", Integer),  # 90-minute score
    Column("away_goals", Integer),
    Column("outcome", String(8)),  # home, draw, away (NULL when void)
    Column("home_shots", Integer),
    Column("away_shots", Integer),
    Column("home_shots_on_target", Integer),
    Column("away_shots_on_target", Integer),
    Column("home_corners", Integer),
    Column("away_corners", Integer),
    Column("closing_home_odds", Float),
    Column("closing_draw_odds", Float),
    Column("closing_away_odds", Float),
    Column("closing_bookmaker", String(64)),  # whose closing price (the first in reference order)
    _ts("recorded_at", nullable=False),
)

lineups = Table(
    "lineups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    Column("side", String(4), nullable=False),  # home / away
    Column("player_provider_id", String(128), nullable=False),
    Column("player_name", String(200), nullable=False),
    Column("position", String(32)),
    _ts("seen_at", nullable=False),
    UniqueConstraint("fixture_id", "side", "player_provider_id"),
)

lineup_updates = Table(
    "lineup_updates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    _ts("detected_at", nullable=False),
    Column("lineup_hash", String(64), nullable=False),  # changes when the announced XI changes
    Column("home_players", Integer, nullable=False),
    Column("away_players", Integer, nullable=False),
    Column("home_strength_change", Float),  # log-rate change vs the usual XI (player ratings)
    Column("away_strength_change", Float),
    Column("prediction_id", Integer, ForeignKey("predictions.id")),
    UniqueConstraint("fixture_id", "lineup_hash"),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    _ts("prediction_time", nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("home_prob", Float, nullable=False),
    Column("draw_prob", Float, nullable=False),
    Column("away_prob", Float, nullable=False),
    Column("home_xg", Float),
    Column("away_xg", Float),
    Column("uses_lineups", Boolean, nullable=False, server_default="0"),
    # What the prediction was made from: the odds snapshot (or 'none') and the lineup hash ('' before lineups).
    Column("input_key", String(128), nullable=False),
    Column("odds_snapshot_id", Integer, ForeignKey("odds_snapshots.id")),
    Column("market_home_prob", Float),  # the bookmaker's margin-free view, for comparison
    Column("market_draw_prob", Float),
    Column("market_away_prob", Float),
    Column("details", Text),  # JSON: each base model's probabilities
    UniqueConstraint("fixture_id", "model_version", "input_key"),
    Index("ix_predictions_prediction_time", "prediction_time"),
    Index("ix_predictions_fixture", "fixture_id"),
)

bets = Table(
    "bets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    Column("prediction_id", Integer, ForeignKey("predictions.id"), nullable=False),
    Column("bet_outcome", String(8), nullable=False),  # the selection: home, draw, away; over, under; home, away
    # pipeline.markets: 1X2 (rows from before issue 25 too), OU or AH; the line: the total (OU) or the HOME side's
    # handicap (AH, whichever side is bet), NULL for 1X2
    Column("market", String(16), nullable=False, server_default="1X2"),
    Column("line", Float),
    Column("bookmaker", String(64), nullable=False),  # where the bet is placed: the best of BET_BOOKMAKERS
    Column("odds", Float, nullable=False),
    Column("stake", Float, nullable=False),
    Column("edge", Float, nullable=False),  # expected value: fair_prob x odds - 1
    Column("model_prob", Float, nullable=False),  # the deployed models' probability, for comparison
    Column("fair_prob", Float),  # the sharp line's margin-free probability
    Column("fair_source", String(64)),  # the sharp book it came from, or 'model' when none priced it
    Column("lineup_based", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending, settled, void
    Column("result", String(16)),  # win, loss, void; two-way markets also half_win, push, half_loss
    Column("profit_loss", Float),
    _ts("placed_at", nullable=False),
    _ts("settled_at"),
    Column("closing_odds", Float),  # the closing line's price for this outcome (margin in)
    Column("clv", Float),  # odds x fair closing probability - 1 (CLV_METHOD)
    Column("close_ratio_with_margin", Float),  # odds / closing_odds - 1: margin included, not CLV
    Column("settlement_note", Text),  # the result it was settled on, why it was voided or re-settled, or by whom
    # The lowest price at which the bet still clears MIN_EDGE against the fair line: fair odds x (1 + MIN_EDGE)
    Column("min_odds", Float),
    # The ledger of what the user really did (production/bets.py): recommended until placed or skipped; one still
    # recommended at kick-off is missed. With LEDGER=confirmed only placed bets count, at the taken price and stake.
    Column("ledger_status", String(16), nullable=False, server_default="recommended"),
    Column("taken_odds", Float),
    Column("taken_stake", Float),
    Column("taken_bookmaker", String(64)),
    _ts("ledger_at"),  # when it was placed, skipped or marked missed
    Column("ledger_note", Text),  # the reason given for a skip, or a placement's note
    # the kick-off the bet was placed for: a postponed match voids its bets when not played within VOID_AFTER_HOURS
    _ts("kickoff_at_placement"),
    # One bet per selection (market, line, outcome) per fixture, void bets aside (a match voided, then played, may
    # get a new bet): a placed bet is never changed or duplicated; a 1X2 home and an AH home bet are two selections.
    Index(
        "uq_bets_fixture_selection",
        "fixture_id",
        "market",
        line_key(),
        "bet_outcome",
        unique=True,
        sqlite_where=text("status <> 'void'"),
        postgresql_where=text("status <> 'void'"),
    ),
    CheckConstraint("status IN ('pending', 'settled', 'void')", name="status"),
    CheckConstraint("market IN ('1X2', 'OU', 'AH')", name="market"),
    CheckConstraint("(market = '1X2') = (line IS NULL)", name="line_by_market"),
    CheckConstraint("stake > 0", name="stake_positive"),
    CheckConstraint("ledger_status IN ('recommended', 'placed', 'skipped', 'missed')", name="ledger_status"),
    CheckConstraint("taken_odds IS NULL OR taken_odds > 1", name="taken_odds_above_one"),
    CheckConstraint("taken_stake IS NULL OR taken_stake > 0", name="taken_stake_positive"),
    Index("ix_bets_status", "status"),
)

# Candidates the price-error guards set aside before staking (pipeline.betting.screening): never bet. One row per
# fixture, selection (market, line, outcome) and rule; a later run that sets the same one aside again moves last_seen
# on and keeps the latest book, price, fair probability and reason.
skipped_candidates = Table(
    "skipped_candidates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("fixture_id", Integer, ForeignKey("fixtures.id"), nullable=False),
    Column("outcome", String(8), nullable=False),  # the selection, as bets.bet_outcome
    Column("market", String(16), nullable=False, server_default="1X2"),  # as bets.market and bets.line
    Column("line", Float),
    Column("bookmaker", String(64)),  # the book whose price was set aside
    Column("odds", Float, nullable=False),
    Column("fair_prob", Float, nullable=False),  # the fair probability it was judged against
    Column("rule", String(32), nullable=False),  # pipeline.betting.guards.RULES
    Column("reason", Text, nullable=False),  # the one log line: match, outcome, book, price, fair price, rule
    _ts("first_seen", nullable=False),
    _ts("last_seen", nullable=False),
    Index("uq_skipped_candidates_selection_rule", "fixture_id", "market", line_key(), "outcome", "rule", unique=True),
    Index("ix_skipped_candidates_last_seen", "last_seen"),
    CheckConstraint("market IN ('1X2', 'OU', 'AH')", name="market"),
    CheckConstraint("(market = '1X2') = (line IS NULL)", name="line_by_market"),
)

performance_daily = Table(
    "performance_daily",
    metadata,
    Column("day", Date, primary_key=True),  # UTC match day of settlement
    Column("predictions_scored", Integer, nullable=False),
    Column("log_loss", Float),
    Column("brier", Float),
    Column("rps", Float),
    Column("accuracy", Float),
    Column("bets_settled", Integer, nullable=False),
    Column("staked", Float, nullable=False),
    Column("profit_loss", Float, nullable=False),
    Column("roi", Float),
    Column("avg_clv", Float),
    Column("cumulative_profit", Float, nullable=False),
    Column("bankroll", Float, nullable=False),
    Column("max_drawdown", Float, nullable=False),
    _ts("updated_at", nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(64), nullable=False),
    _ts("started_at", nullable=False),
    _ts("finished_at"),
    _ts("run_for"),  # the job's --now (simulated time) if given
    Column("status", String(16), nullable=False),  # running, success, failed, skipped, killed, abandoned
    Column("counts", Text),  # JSON
    Column("error", Text),
    Column("pid", Integer),  # the process and host of the run: a `running` row whose
    Column("host", String(255)),  # process is gone is closed as killed by the next run
    Index("ix_job_runs_job_started", "job", "started_at"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # deploy, rollback, rejected, dry_run
    _ts("created_at", nullable=False),
    Column("forced", Boolean, nullable=False, server_default="0"),
    Column("training_matches", Integer),
    Column("metrics", Text),  # JSON validation report
    Column("backup_path", Text),
    Column("notes", Text),
)

# Rows a provider rejected at the door (pipeline.providers.contract): one row per bad source row and rule, however
# often it is read again (first_seen, last_seen, times_seen move); written by pipeline.store.rejected_rows.
rejected_rows = Table(
    "rejected_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(32), nullable=False),  # DATA_SOURCE: football-data, sportmonks, sandbox
    Column("file", String(500), nullable=False),  # the file read, or "fixture <id>" for an API object
    Column("line", Integer, nullable=False),  # the file's line (header = 1); 0 when there is none
    Column("field", String(100), nullable=False),  # the column or payload field ('' for a row-wide rule)
    Column("value", String(200), nullable=False),  # the offending value, as Python's repr
    Column("reason", String(200), nullable=False),  # the rule broken, and what was done
    _ts("first_seen", nullable=False),
    _ts("last_seen", nullable=False),
    Column("times_seen", Integer, nullable=False, server_default="1"),
    UniqueConstraint("source", "file", "line", "field", "reason"),
    Index("ix_rejected_rows_last_seen", "last_seen"),
)

ALL_TABLES = [t.name for t in metadata.sorted_tables]
