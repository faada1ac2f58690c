"""Sportmonks' over/under and Asian handicap odds rows read into `MarketPrice` records, every bookmaker, every line.

The shared Sportmonks notes (`../shared/docs/sportmonks-v3.md` §3.6) give the odds row (`market_id`, `label`,
`name`, `value`, `total`, `handicap`, `bookmaker_id`, `stopped`, `latest_bookmaker_update`) and market 1 (1X2), but
not the ids of the two-way markets. They are settings: SPORTMONKS_MARKET_OU (default 80, "Goals Over/Under",
developer name GOALS_OVER_UNDER) and SPORTMONKS_MARKET_AH (default 6, "Asian Handicap", ASIAN_HANDICAP), the ids
`/v3/odds/markets` lists; rows are selected by these ids, never by name. Choices:
- Rows are grouped per (bookmaker, market, line): one price pair. The side is the row's `name`, else its `label`
  ("Over"/"Under", "Home"/"Away" or "1"/"2", any case; "Over 2.5" reads as over).
- The line is `total` (over/under) or `handicap` (Asian handicap), numbers or numeric strings ("2.5", "+0.25").
  A handicap row carries its own side's handicap: a home row's is the line (pipeline.markets: the home team's
  handicap), an away row's is the line's negative, so "away +0.5" is the pair at line -0.5.
- As for 1X2, a stopped (suspended) row is no price, a pair without both sides is no pair (a pair left one-sided
  by a stopped row is said nowhere; otherwise the missing side is a rejection), and a finished match's pre-match
  pair last updated at or before kick-off is also reported as its closing pair.
- A row that cannot be read (a price not in 1.01..1000, a side that is none of the market's, a line that is
  missing or not a multiple of 0.25, a total not above 0) is a `Rejection` naming the fixture, the field and its
  value; its pair is dropped, the fixture and its other prices are kept. Never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from pipeline.bookmakers import canonical
from pipeline.markets import SELECTIONS, Market, MarketPrice, Selection
from pipeline.providers.base import FINISHED, Batch, Match
from pipeline.providers.contract import (
    BAD_LINE,
    BAD_PAIR_PRICE,
    LINE_NONE,
    NO_LINE,
    ONE_SIDE,
    PAIR_IGNORED,
    Rejection,
    price_ok,
    shown,
)
from pipeline.providers.sportmonks_payload import _int, _timestamp

MARKET_OU = 80  # "Goals Over/Under" in /v3/odds/markets (not in the shared notes: SPORTMONKS_MARKET_OU)
MARKET_AH = 6  # "Asian Handicap" (SPORTMONKS_MARKET_AH)
DEFAULT_TWO_WAY: Mapping[int, Market] = {MARKET_OU: Market.OU, MARKET_AH: Market.AH}
SIDE_NAMES = {
    Market.OU: {"over": "over", "o": "over", "under": "under", "u": "under"},
    Market.AH: {"home": "home", "1": "home", "away": "away", "2": "away"},
}
LINE_FIELD = {Market.OU: "total", Market.AH: "handicap"}
NO_SIDE = f"not a side of the market; {PAIR_IGNORED}"


def two_way_markets(ou: int = MARKET_OU, ah: int = MARKET_AH) -> dict[int, Market]:
    if ou == ah:
        raise ValueError(f"the over/under and Asian handicap market ids must differ, both are {ou}")
    return {int(ou): Market.OU, int(ah): Market.AH}


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(str(value).strip())
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _side(market: Market, row: dict) -> str | None:
    for key in ("name", "label"):
        words = str(row.get(key) or "").strip().lower().split()
        if words and words[0] in SIDE_NAMES[market]:
            return SIDE_NAMES[market][words[0]]
    return None


def add_market_prices(
    batch: Batch, fx, now: datetime, bookmaker_ids: Sequence[str] = (), markets: Mapping[int, Market] = DEFAULT_TWO_WAY
) -> Batch:
    """`batch` (read_fixture's, of the fixture object `fx`) with the fixture's two-way prices and rejections."""
    if not batch.matches or not isinstance(fx, dict):
        return batch
    match = batch.matches[0]
    rejected: list[Rejection] = []
    batch.market_prices += read_market_prices(
        match.provider_id, fx.get("odds"), match, now, bookmaker_ids, markets, rejected
    )
    for r in rejected:
        batch.reject(r)
    return batch


def read_market_prices(
    fid: str,
    rows,
    match: Match,
    now: datetime,
    bookmaker_ids: Sequence[str] = (),
    markets: Mapping[int, Market] = DEFAULT_TWO_WAY,
    rejected: list[Rejection] | None = None,
) -> list[MarketPrice]:
    """The fixture's complete two-way pairs (of `bookmaker_ids` when given), pre-match as seen at their latest
    update (else `now`) and, for a finished match, closing; unreadable rows appended to `rejected`."""
    if not isinstance(rows, list):
        return []
    rejected = rejected if rejected is not None else []
    where = f"fixture {fid}"
    names: dict[str, str] = {}
    pairs: dict[tuple[str, Market, float], dict] = {}  # side -> (price, seen); "stopped", "bad" flags
    for row in rows:
        if not isinstance(row, dict):
            continue
        market = markets.get(_int(row.get("market_id")) or 0)  # 0: no market
        book = row.get("bookmaker_id")
        if market is None or book is None or (bookmaker_ids and str(book) not in bookmaker_ids):
            continue
        book = str(book)
        info = row.get("bookmaker")
        if isinstance(info, dict) and isinstance(info.get("name"), str) and info["name"].strip():
            names[book] = canonical(info["name"])
        label = f"{market.value} {row.get('name') or row.get('label')!s} (bookmaker {book})"
        side = _side(market, row)
        if side is None:
            rejected.append(Rejection(where, LINE_NONE, f"odds[{label}].label", shown(row.get("label")), NO_SIDE))
            continue
        field = LINE_FIELD[market]
        raw_line = row.get(field)
        line = _number(raw_line)
        if line is not None and market is Market.AH and side == "away":
            line = -line + 0.0  # the away team's handicap: the home side's line is its negative
        try:
            Selection(market, line, side)
        except ValueError:
            rule = NO_LINE if raw_line in (None, "") else BAD_LINE
            rejected.append(Rejection(where, LINE_NONE, f"odds[{label}].{field}", shown(raw_line), rule))
            continue
        entry = pairs.setdefault((book, market, float(line) + 0.0), {})  # type: ignore[arg-type]
        if row.get("stopped"):
            entry["stopped"] = True
            continue
        price = _number(row.get("value"))
        if price is None or not price_ok(price):
            value = shown(row.get("value"))
            rejected.append(Rejection(where, LINE_NONE, f"odds[{label}].value", value, BAD_PAIR_PRICE))
            entry["bad"] = True
            continue
        seen = _timestamp(row.get("latest_bookmaker_update"))
        old = entry.get(side)
        if old is None or (seen is not None and (old[1] is None or seen > old[1])):
            entry[side] = (price, seen)
    out: list[MarketPrice] = []
    closing: list[MarketPrice] = []
    for (book, market, line), entry in sorted(pairs.items(), key=lambda kv: (kv[0][0], kv[0][1].value, kv[0][2])):
        sides = SELECTIONS[market]
        if entry.get("bad"):
            continue
        missing = [s for s in sides if s not in entry]
        if missing:
            if not entry.get("stopped") and len(missing) < len(sides):
                field = f"odds[{market.value} {line:g} {missing[0]} (bookmaker {book})]"
                rejected.append(Rejection(where, LINE_NONE, field, shown(None), ONE_SIDE))
            continue
        times = [entry[s][1] for s in sides if entry[s][1] is not None]
        seen = max(times) if times else None
        for side in sides:
            sel = Selection(market, line, side)
            out.append(MarketPrice(fid, names.get(book, book), sel, entry[side][0], False, seen or now))
            if match.status == FINISHED and seen is not None and seen <= match.kickoff:
                closing.append(MarketPrice(fid, names.get(book, book), sel, entry[side][0], True, seen))
    return out + closing


__all__ = ["DEFAULT_TWO_WAY", "MARKET_AH", "MARKET_OU", "add_market_prices", "read_market_prices", "two_way_markets"]
