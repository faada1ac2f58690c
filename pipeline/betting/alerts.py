"""The bet alert: a value price lasts minutes to hours, so each new bet reaches the user as soon as a run places it.

BET_ALERT_COMMAND gets one line per new bet on its stdin (kick-off UTC, league, match, selection (the outcome for
1X2; market, line and side for the two-way markets: "OU 2.5 over", "AH -0.75 away"), bookmaker, price,
minimum acceptable price, stake, EV, and the bet's id for `production/bets.py place`), and is not run at all when a
run placed none. It is run as the health check runs ALERT_COMMAND (pipeline.alert_command); a failing command is a
warning line in the job's log, never a failed job: the bets are stored either way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.alert_command import run_alert_command
from pipeline.records import Bet
from pipeline.store.ledger import LedgerBet, written_bets


def bet_alert_line(bet: LedgerBet) -> str:
    """One bet in one line, e.g. `2026-01-10 15:00 UTC | E0 | Arsenal v Wolves | home | Bet365 | price 2.10 |
    min 1.95 | stake 12.34 | EV +5.2% | bet 17` (`| OU 2.5 over |` for an over/under bet)."""
    min_odds = f"{bet.min_odds:.2f}" if bet.min_odds is not None else "-"
    return (
        f"{bet.kickoff:%Y-%m-%d %H:%M} UTC | {bet.league} | {bet.match} | {bet.selection} | {bet.bookmaker} | "
        f"price {bet.odds:.2f} | min {min_odds} | stake {bet.stake:.2f} | EV {bet.edge:+.1%} | bet {bet.id}"
    )


def send_bet_alert(command: str, bets: Sequence[LedgerBet], log: logging.Logger, secrets: Sequence[str] = ()) -> int:
    """Run `command` with one line per bet on its stdin; nothing when there are no bets or no command. Returns
    the number of lines sent (0 when the command failed: the failure is logged as a warning)."""
    if not bets or not command:
        return 0
    text = "".join(bet_alert_line(b) + "\n" for b in bets)
    problem = run_alert_command(command, text, setting="BET_ALERT_COMMAND", secrets=secrets)
    if problem:
        log.warning("bet alert not sent (%d new bets; they are stored): %s", len(bets), problem)
        return 0
    return len(bets)


def alert_new_bets(engine, settings, log: logging.Logger, bets: Sequence[Bet]) -> int:
    """After a run's transaction: BET_ALERT_COMMAND about the bets of `bets` it really wrote (read back from the
    store, with their match). Returns the number of lines sent."""
    if not bets or not settings.bet_alert_command:
        return 0
    keys = [(int(b.fixture_id), b.outcome) for b in bets if not isinstance(b.fixture_id, str)]
    with engine.connect() as conn:
        written = written_bets(conn, keys, bets[0].placed_at)
    return send_bet_alert(settings.bet_alert_command, written, log, settings.secrets())


__all__ = ["alert_new_bets", "bet_alert_line", "send_bet_alert"]
