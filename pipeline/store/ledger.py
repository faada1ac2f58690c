"""The ledger's SQL: open recommendations, one bet in full, and the changes the user makes to a recommendation
(placed at a price and stake, or skipped) or the settlement makes at kick-off (missed). Each change is one
transaction whose UPDATE repeats the state it expects, so two copies of `bets.py place` racing on one bet, on
SQLite or PostgreSQL, change it once and the other is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from pipeline.errors import EXIT_SOFTWARE, PipelineError
from pipeline.markets import Selection
from pipeline.store import schema

# the values of bets.ledger_status (schema.py's check constraint)
RECOMMENDED, PLACED, SKIPPED, MISSED = "recommended", "placed", "skipped", "missed"
LEDGER_STATUSES = (RECOMMENDED, PLACED, SKIPPED, MISSED)
MISSED_NOTE = "not placed by kick-off"


class LedgerRefused(PipelineError):
    """The change does not apply to the bet as it is (unknown, already placed or skipped, settled): nothing
    changed. The message is one line naming the bet and why; exit 70, as for a refused settlement by hand."""

    exit_code = EXIT_SOFTWARE


@dataclass(frozen=True)
class LedgerBet:
    """A bet as the ledger shows it: the recommendation, its match, what the user did with it, how it settled."""

    id: int
    fixture_id: int
    kickoff: datetime
    league: str
    home_team: str
    away_team: str
    bet_outcome: str
    bookmaker: str
    odds: float
    min_odds: float | None
    stake: float
    edge: float
    fair_prob: float | None
    fair_source: str | None
    recommended_at: datetime
    status: str
    result: str | None
    profit_loss: float | None
    clv: float | None
    settlement_note: str | None
    ledger_status: str
    taken_odds: float | None
    taken_stake: float | None
    taken_bookmaker: str | None
    ledger_at: datetime | None
    ledger_note: str | None
    market: str = "1X2"  # bets.market and bets.line: bet_outcome is the selection within them
    line: float | None = None

    @property
    def match(self) -> str:
        return f"{self.home_team} v {self.away_team}"

    @property
    def selection(self) -> str:
        """What was bet on as a user reads it: "home" (1X2), "OU 2.5 over", "AH -0.75 away"."""
        if self.market == "1X2":
            return self.bet_outcome
        return str(Selection(self.market, self.line, self.bet_outcome))  # type: ignore[arg-type]


def _select():
    b, f = schema.bets, schema.fixtures
    return select(
        b.c.id,
        b.c.fixture_id,
        f.c.kickoff_time.label("kickoff"),
        f.c.league_code.label("league"),
        f.c.home_team,
        f.c.away_team,
        b.c.bet_outcome,
        b.c.bookmaker,
        b.c.odds,
        b.c.min_odds,
        b.c.stake,
        b.c.edge,
        b.c.fair_prob,
        b.c.fair_source,
        b.c.placed_at.label("recommended_at"),
        b.c.status,
        b.c.result,
        b.c.profit_loss,
        b.c.clv,
        b.c.settlement_note,
        b.c.ledger_status,
        b.c.taken_odds,
        b.c.taken_stake,
        b.c.taken_bookmaker,
        b.c.ledger_at,
        b.c.ledger_note,
        b.c.market,
        b.c.line,
    ).select_from(b.join(f, f.c.id == b.c.fixture_id))


def _records(rows) -> list[LedgerBet]:
    return [LedgerBet(**dict(r)) for r in rows.mappings()]


def open_recommendations(conn: Connection) -> list[LedgerBet]:
    """Recommendations not yet placed, skipped or missed, and not settled: newest first."""
    b = schema.bets
    return _records(
        conn.execute(
            _select()
            .where(b.c.ledger_status == RECOMMENDED, b.c.status == "pending")
            .order_by(b.c.placed_at.desc(), b.c.id.desc())
        )
    )


def get_bet(conn: Connection, bet_id: int) -> LedgerBet | None:
    found = _records(conn.execute(_select().where(schema.bets.c.id == bet_id)))
    return found[0] if found else None


def bets_by_id(conn: Connection, ids: Iterable[int]) -> list[LedgerBet]:
    """These bets, by kick-off then id (the bet alert's order)."""
    ids = list(ids)
    if not ids:
        return []
    b, f = schema.bets, schema.fixtures
    return _records(conn.execute(_select().where(b.c.id.in_(ids)).order_by(f.c.kickoff_time, b.c.id)))


def written_bets(conn: Connection, keys: Iterable[tuple[int, str]], placed_at: datetime) -> list[LedgerBet]:
    """The bets a run wrote: of these (fixture id, outcome) keys, those recommended at `placed_at` (a key that
    already had a bet, from an earlier run, keeps that bet and its time), by kick-off."""
    wanted = set(keys)
    if not wanted:
        return []
    b, f = schema.bets, schema.fixtures
    rows = _records(
        conn.execute(
            _select()
            .where(b.c.fixture_id.in_({k[0] for k in wanted}), b.c.placed_at == placed_at)
            .order_by(f.c.kickoff_time, b.c.id)
        )
    )
    return [r for r in rows if (r.fixture_id, r.bet_outcome) in wanted]


def _why_not_open(bet: LedgerBet) -> str:
    if bet.ledger_status == PLACED:
        return (
            f"bet {bet.id} is already placed ({bet.taken_odds:.2f} x {bet.taken_stake:.2f} with {bet.taken_bookmaker}"
            f" at {bet.ledger_at:%Y-%m-%d %H:%M} UTC); nothing changed"
        )
    if bet.ledger_status == SKIPPED:
        reason = f": {bet.ledger_note}" if bet.ledger_note else ""
        return f"bet {bet.id} was skipped at {bet.ledger_at:%Y-%m-%d %H:%M} UTC{reason}; nothing changed"
    if bet.ledger_status == MISSED:
        return f"bet {bet.id} was missed (not placed by kick-off, {bet.kickoff:%Y-%m-%d %H:%M} UTC); nothing changed"
    return f"bet {bet.id} is already {bet.status}; the ledger records a bet before it settles; nothing changed"


def _change(engine: Engine, bet_id: int, values: dict) -> tuple[LedgerBet, LedgerBet]:
    """Apply `values` to an open recommendation in one transaction; (before, after). Raises LedgerRefused."""
    b = schema.bets
    with engine.begin() as conn:
        before = get_bet(conn, bet_id)
        if before is None:
            raise LedgerRefused(f"no bet with id {bet_id}; nothing changed")
        if before.ledger_status != RECOMMENDED or before.status != "pending":
            raise LedgerRefused(_why_not_open(before))
        done = conn.execute(
            update(b)
            .where(b.c.id == bet_id, b.c.ledger_status == RECOMMENDED, b.c.status == "pending")
            .values(**values)
        ).rowcount
        after = get_bet(conn, bet_id)
    if done != 1 or after is None:  # another copy changed it between our read and our write
        now_ = after or before
        raise LedgerRefused(_why_not_open(now_) if now_.ledger_status != RECOMMENDED else f"bet {bet_id} changed")
    return before, after


def record_placement(
    engine: Engine,
    bet_id: int,
    *,
    odds: float,
    stake: float | None,
    bookmaker: str | None,
    now: datetime,
    note: str | None = None,
) -> tuple[LedgerBet, LedgerBet]:
    """The user placed recommendation `bet_id` at `odds` (stake and bookmaker default to the recommendation's)."""
    b = schema.bets
    values = {
        "ledger_status": PLACED,
        "taken_odds": odds,
        "taken_stake": b.c.stake if stake is None else stake,
        "taken_bookmaker": b.c.bookmaker if bookmaker is None else bookmaker,
        "ledger_at": now,
        "ledger_note": note,
    }
    return _change(engine, bet_id, values)


def record_skip(engine: Engine, bet_id: int, *, reason: str | None, now: datetime) -> tuple[LedgerBet, LedgerBet]:
    return _change(engine, bet_id, {"ledger_status": SKIPPED, "ledger_at": now, "ledger_note": reason})


def mark_missed(conn: Connection, now: datetime) -> list[int]:
    """Recommendations still unplaced at kick-off become `missed` (in the caller's transaction); their ids."""
    b, f = schema.bets, schema.fixtures
    started = select(f.c.id).where(f.c.kickoff_time <= now)
    open_ = (b.c.ledger_status == RECOMMENDED, b.c.status == "pending", b.c.fixture_id.in_(started))
    ids = sorted(conn.execute(select(b.c.id).where(*open_)).scalars())
    if ids:
        conn.execute(
            update(b)
            .where(b.c.id.in_(ids), *open_)
            .values(ledger_status=MISSED, ledger_at=now, ledger_note=MISSED_NOTE)
        )
    return ids


def close_unplaced(conn: Connection, now: datetime) -> int:
    """Under LEDGER=confirmed: void the pending bets the user skipped or missed (they count nowhere: no stake, no
    profit, no CLV), the reason in `settlement_note`, in the caller's transaction. Returns how many."""
    b = schema.bets
    done = 0
    for status, why in ((SKIPPED, "not placed: skipped"), (MISSED, "not placed: " + MISSED_NOTE)):
        done += conn.execute(
            update(b)
            .where(b.c.ledger_status == status, b.c.status == "pending")
            .values(status="void", result="void", profit_loss=0.0, settled_at=now, settlement_note=why)
        ).rowcount
    return done


def ledger_counts(conn: Connection) -> dict[str, int]:
    """How many bets are in each ledger state (every state, zero included)."""
    b = schema.bets
    rows = conn.execute(select(b.c.ledger_status, func.count()).group_by(b.c.ledger_status)).all()
    found = {str(status): int(n) for status, n in rows}
    return {s: int(found.get(s, 0)) for s in LEDGER_STATUSES}


def placed_prices(conn: Connection) -> list[tuple[float, float]]:
    """(recommended price, taken price) of every placed bet, for slippage."""
    b = schema.bets
    rows = conn.execute(select(b.c.odds, b.c.taken_odds).where(b.c.ledger_status == PLACED).order_by(b.c.id))
    return [(float(o), float(t)) for o, t in rows]


__all__ = [
    "LEDGER_STATUSES",
    "RECOMMENDED",
    "PLACED",
    "SKIPPED",
    "MISSED",
    "LedgerBet",
    "LedgerRefused",
    "open_recommendations",
    "get_bet",
    "bets_by_id",
    "written_bets",
    "record_placement",
    "record_skip",
    "mark_missed",
    "close_unplaced",
    "ledger_counts",
    "placed_prices",
]
