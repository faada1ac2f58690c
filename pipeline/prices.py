"""Prices at prediction time: the reference price of a match, the sharp line's fair probabilities, and the best
price the user can actually bet at.

In goes every bookmaker's pre-match 1X2 snapshots of some matches (a long table, any number of rows per match and
book); only each book's latest snapshot counts. Out comes, per match:
- the reference price `odds_home/draw/away` (book in `odds_bookmaker`): the first book of
  `bookmakers.reference_order(SHARP_BOOKMAKERS)` that prices the match (the sharp books, then the market averages,
  then Bet365, then any other, the maxima last). It is the models' market feature, so training and prediction
  pick it the same way (`pipeline.store.queries.latest_prematch_odds` ranks the store's snapshots likewise);
- the sharp price `sharp_home/draw/away` (`sharp_bookmaker`): the first SHARP_BOOKMAKERS book that prices the
  match, NaN when none does. Its margin removed with FAIR_METHOD gives the fair probabilities;
- the best price per outcome among BET_BOOKMAKERS, `best_home/draw/away`, its book in `book_home/draw/away`
  (on equal prices the book listed first). The config refuses aggregates in BET_BOOKMAKERS, so a best price is
  never a market maximum.
Beside them, what the price-error guards judge a bet by (GUARD_COLUMNS, pipeline.betting.guards): when the sharp
price and each best price were seen (`sharp_seen_at`, `seen_home/draw/away`: their snapshots' `fetched_at`), and
each outcome's prices at the other BET_BOOKMAKERS (`others_home/draw/away`, a tuple in BET_BOOKMAKERS order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any, cast

import numpy as np
import pandas as pd

from pipeline.bookmakers import canonical, reference_order, reference_rank
from pipeline.config import Settings
from pipeline.markets import MarketPrice
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES, columns

# The settings' defaults, written once in pipeline.config: rules made without settings grade as configured
_DEFAULT: dict[str, Any] = {f.name: f.default for f in fields(Settings)}
PRICE_COLUMNS = [
    *columns("odds_"),
    "odds_bookmaker",
    *columns("sharp_"),
    "sharp_bookmaker",
    *columns("best_"),
    *columns("book_"),
]
GUARD_COLUMNS = ["sharp_seen_at", "seen_home", "seen_draw", "seen_away", "others_home", "others_draw", "others_away"]
MODEL = "model"  # bets.fair_source when no sharp price existed and the model's probability stood in
CLOSE_MODEL = "close_model"  # bets.fair_source when the close model's forecast was the fair line (FAIR_LINE)


@dataclass(frozen=True)
class PriceRules:
    """Which books are the sharp reference, which the user bets with, and how margins are removed; without
    settings, the configuration's defaults (SHARP_BOOKMAKERS, BET_BOOKMAKERS, FAIR_METHOD, CLV_METHOD)."""

    sharp: tuple[str, ...] = _DEFAULT["sharp_bookmakers"]
    bet: tuple[str, ...] = _DEFAULT["bet_bookmakers"]
    fair_method: str = _DEFAULT["fair_method"]
    clv_method: str = _DEFAULT["clv_method"]

    @classmethod
    def from_settings(cls, settings) -> PriceRules:
        return cls(
            tuple(settings.sharp_bookmakers), tuple(settings.bet_bookmakers), settings.fair_method, settings.clv_method
        )

    @property
    def reference(self) -> tuple[str, ...]:
        return reference_order(self.sharp)


def empty_table(key: str = "match_id") -> pd.DataFrame:
    out = pd.DataFrame(
        {
            c: pd.Series(dtype=object if c.endswith("bookmaker") or c.startswith("book_") else float)
            for c in PRICE_COLUMNS
        }
        | {c: pd.Series(dtype="datetime64[ns, UTC]" if "seen" in c else object) for c in GUARD_COLUMNS}
    )
    out.index.name = key
    return out


def price_table(long: pd.DataFrame, rules: PriceRules, key: str = "match_id") -> pd.DataFrame:
    """Per `key` (the index), the reference, sharp and best bettable prices (PRICE_COLUMNS).

    `long` has columns key, bookmaker, home, draw, away, fetched_at (and optionally id, the tie-breaker).
    """
    if long is None or long.empty:
        return empty_table(key)
    prices = long[list(OUTCOMES)].to_numpy(float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(prices).all(axis=1) & (prices > 1.0).all(axis=1)
    d = long.loc[ok].copy()
    if d.empty:
        return empty_table(key)
    names = {b: canonical(str(b)) for b in d["bookmaker"].unique()}
    d["book"] = d["bookmaker"].map(names)
    d["fetched_at"] = pd.to_datetime(d["fetched_at"], utc=True)
    order = [key, "book", "fetched_at"] + (["id"] if "id" in d else [])
    d = d.sort_values(order, kind="stable").groupby([key, "book"], sort=False).tail(1)  # each book's latest
    ref = rules.reference
    d["_rank"] = d["book"].map({b: reference_rank(b, ref) for b in d["book"].unique()})
    # the most preferred book; among unlisted ones the freshest price
    first = (
        d.sort_values([key, "_rank", "fetched_at", "book"], ascending=[True, True, False, True], kind="stable")
        .groupby(key, sort=False)
        .head(1)
    )
    out = pd.DataFrame(index=pd.Index(sorted(d[key].unique()), name=key))
    first = first.set_index(key)
    for o in OUTCOMES:
        out[f"odds_{o}"] = first[o]
    out["odds_bookmaker"] = first["book"]
    sharp = d[d["book"].isin(rules.sharp)].copy()
    sharp["_rank"] = sharp["book"].map({b: i for i, b in enumerate(rules.sharp)})
    sharp = sharp.sort_values([key, "_rank"], kind="stable").groupby(key, sort=False).head(1).set_index(key)
    for o in OUTCOMES:
        out[f"sharp_{o}"] = sharp[o]
    out["sharp_bookmaker"] = sharp["book"]
    out["sharp_seen_at"] = sharp["fetched_at"]
    bet = d[d["book"].isin(rules.bet)].copy()
    bet["_rank"] = bet["book"].map({b: i for i, b in enumerate(rules.bet)})
    bet = bet.sort_values([key, "_rank"], kind="stable").reset_index(drop=True)
    for o in OUTCOMES:
        if bet.empty:
            out[f"best_{o}"], out[f"book_{o}"], out[f"seen_{o}"] = np.nan, None, pd.NaT
            out[f"others_{o}"] = [()] * len(out)
            continue
        chosen = bet.groupby(key, sort=False)[o].idxmax()  # first of equal prices
        best = bet.loc[chosen].set_index(key)
        out[f"best_{o}"], out[f"book_{o}"], out[f"seen_{o}"] = best[o], best["book"], best["fetched_at"]
        others = bet.drop(index=chosen.to_numpy()).groupby(key, sort=False)[o].agg(tuple).to_dict()
        out[f"others_{o}"] = [others.get(k, ()) for k in out.index]
    for c in PRICE_COLUMNS:
        if c.endswith("bookmaker") or c.startswith("book_"):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        else:
            out[c] = out[c].astype(float)
    for c in GUARD_COLUMNS:
        if "seen" in c:
            out[c] = pd.to_datetime(out[c], utc=True)
    return out[PRICE_COLUMNS + GUARD_COLUMNS]


def fair_probabilities(frame: pd.DataFrame, method: str) -> np.ndarray:
    """(n, 3) margin-free probabilities of the sharp price (NaN rows where no sharp book priced the match)."""
    return implied_probabilities(frame[columns("sharp_")].to_numpy(float), method)


def prices_key(row) -> str:
    """What a prediction was made from, as far as prices go: the reference price, the sharp price and the best
    bettable prices. A change in any of them is a new prediction (and a new look for value); none: 'odds:none'."""
    parts = []
    for cols in (
        ("odds_bookmaker", *columns("odds_")),
        ("sharp_bookmaker", *columns("sharp_")),
        ("book_home", "best_home"),
        ("book_draw", "best_draw"),
        ("book_away", "best_away"),
    ):
        values = [row.get(c) if isinstance(row, dict) else getattr(row, c, None) for c in cols]
        if values[0] is None or (isinstance(values[0], float) and np.isnan(values[0])):
            parts.append("-")
        else:
            parts.append("|".join([str(values[0])] + [f"{float(cast(float, v)):.4f}" for v in values[1:]]))
    if all(p == "-" for p in parts):
        return "odds:none"
    return "odds:" + hashlib.sha1("#".join(parts).encode()).hexdigest()[:16]


def two_way_keys(prices: Iterable[MarketPrice], books: Iterable[str]) -> dict[str, str]:
    """Per match id, what its two-way candidates (over/under, Asian handicap) are made from: a digest of each of
    `books`' (the sharp and the bet books) latest pre-match price of every selection it quotes. Appended to the
    prediction's input_key (beside prices_key) where MARKETS bets a two-way market, so a new over/under or handicap
    price alone is a new look for value, and the same prices seen again are nothing new (`fetched_at` is left
    out). Matches without such prices are absent."""
    wanted = {canonical(b) for b in books}
    latest: dict[tuple, tuple] = {}
    for p in prices:
        book = canonical(p.bookmaker)
        if p.closing or book not in wanted:
            continue
        key = (p.match_id, book, str(p.selection))
        seen = p.fetched_at.timestamp() if p.fetched_at is not None else float("inf")  # a file's row: seen now
        if key not in latest or seen >= latest[key][0]:
            latest[key] = (seen, p.price)
    parts: dict[str, list[str]] = {}
    for (match_id, book, selection), (_, price) in sorted(latest.items()):
        parts.setdefault(match_id, []).append(f"{book}|{selection}|{float(price):.4f}")
    return {m: "2way:" + hashlib.sha1("#".join(v).encode()).hexdigest()[:16] for m, v in parts.items()}


__all__ = [
    "PriceRules",
    "PRICE_COLUMNS",
    "GUARD_COLUMNS",
    "MODEL",
    "CLOSE_MODEL",
    "price_table",
    "fair_probabilities",
    "prices_key",
    "two_way_keys",
    "empty_table",
]
