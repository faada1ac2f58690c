"""The report's own query: settled bets by outcome, verbatim the operations guide's sqlite3 query (the README
prints it; a user running it gets the report's first table)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

BY_OUTCOME_SQL = (
    "SELECT bet_outcome, COUNT(*) as total_bets, SUM(CASE WHEN result = 'win' THEN 1 ELSE 0 END) as "
    "wins, SUM(stake) as total_staked, SUM(profit_loss) as net_profit, "
    "(SUM(profit_loss) / SUM(stake) * 100) as roi FROM bets WHERE status = 'settled' "
    "GROUP BY bet_outcome;"
)


def by_outcome(conn: Connection) -> pd.DataFrame:
    return pd.DataFrame(
        conn.execute(text(BY_OUTCOME_SQL)).mappings().all(),
        columns=["bet_outcome", "total_bets", "wins", "total_staked", "net_profit", "roi"],
    )


__all__ = ["BY_OUTCOME_SQL", "by_outcome"]
