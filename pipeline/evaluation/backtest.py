"""The walk-forward backtest: history replayed the way production would have lived it, scored and bet on.

`run_backtest` runs the walk-forward (`walk_forward`: every model refitted each week on what was known before it),
scores every forecaster on the same matches (`scoring`), and bets the rules side by side on the same test
matches (`simulation`), each summarised by the bet statistics the report uses (`bet_stats`). Given every
bookmaker's prices it also runs the close model and bets against it as the fair line (`fair_lines`: the two
fair lines compared on the same matches, FAIR_LINE says which production follows). Every setting
defaults to the configuration's default (`pipeline.config`), so a backtest without arguments runs production's
rules, the price-error guards included; `jobs/backtest.py` passes the configured settings themselves. The value
rule's candidates the guards set aside are counted by rule (`betting.skipped`), the same bets are run once more
without the guards (`betting.without_guards`), and the bets' fair CLV is given by EV at bet time
(`betting.by_edge`: does a larger EV give a larger CLV, or mostly errors?).
Given the two-way markets' prices (`market_files.TwoWayPrices`), the value rule (and its run without guards) bets
every market of MARKETS in one simulation, as production would (`two_way_bets`); its overall, by-season,
by-league and by-EV figures are of all markets together, `betting.by_market.<market>` of each alone
(`by_market`), and `scores.by_market` scores the models and the sharp prices on totals and handicaps
(`market_scores`). The previous rule and the close-model rule (and the fair lines' comparison) are 1X2 only: the
close model forecasts the 1X2 close.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from pipeline.betting.guards import RULES, GuardSettings
from pipeline.betting.strategy import StrategyParams
from pipeline.config import Settings
from pipeline.evaluation.bet_stats import EV_BUCKETS, BetStats, bet_stats, stats_json
from pipeline.evaluation.by_market import by_market_json, split
from pipeline.evaluation.fair_lines import close_model_probs, close_model_scores, compare_bets, equal_volume
from pipeline.evaluation.market_files import TwoWayPrices
from pipeline.evaluation.market_scores import score_markets
from pipeline.evaluation.scoring import score_predictions
from pipeline.evaluation.simulation import add_value_columns, grade, simulate
from pipeline.evaluation.two_way_bets import TwoWayBook
from pipeline.evaluation.walk_forward import STACK_MATCHES, check_period, probs_columns, walk_forward
from pipeline.forecast.fair_line import CloseLine
from pipeline.markets import Market, market_of
from pipeline.odds import METHODS
from pipeline.outcomes import OUTCOMES
from pipeline.prices import CLOSE_MODEL, MODEL, PriceRules
from pipeline.records import SkippedCandidate

_DEFAULT: dict[str, Any] = {f.name: f.default for f in fields(Settings) if f.default is not MISSING}
_RULES = PriceRules()  # the configuration's bookmakers and margin methods
_GUARDS = GuardSettings()  # production's price-error guards at their defaults


def group_stats(bets: pd.DataFrame) -> BetStats:
    return bet_stats(
        bets["stake"],
        bets["profit"],
        bets["match_day"],
        bets["won"],
        bets["odds"],
        bets["clv"],
        {m: bets[f"clv_{m}"] for m in METHODS},
    )


def by_edge(bets: pd.DataFrame) -> dict[str, BetStats]:
    """The bets' statistics by EV at bet time (EV_BUCKETS)."""
    e = bets["edge"].to_numpy(float)
    return {name: group_stats(bets[(e >= lo - 1e-12) & (e < hi - 1e-12)]) for lo, hi, name in EV_BUCKETS}


def skipped_by_rule(skipped: Sequence[SkippedCandidate]) -> dict[str, int]:
    """Candidates the guards set aside, by rule (every rule, 0 when it set none aside)."""
    counts = Counter(s.rule for s in skipped)
    return {rule: counts[rule] for rule in RULES}


@dataclass(frozen=True)
class RuleBets:
    """One betting rule's graded bets (simulation.grade) and their statistics, overall, by season and league."""

    rule: str
    clv_method: str
    bankroll: float  # at the start
    bets: pd.DataFrame
    overall: BetStats
    by_season: dict[str, BetStats]
    by_league: dict[str, BetStats]
    skipped: dict[str, int] | None = None  # candidates the guards set aside, by rule (None: no guards)
    without_guards: BetStats | None = None  # the same rule's bets with no guard
    markets: tuple[str, ...] = ("1X2",)  # the markets it bets (MARKETS for the value rule)

    @property
    def by_market_stats(self) -> dict[str, BetStats]:
        return {m: group_stats(b) for m, b in split(self.bets, self.markets).items()}

    @property
    def by_market(self) -> dict[str, dict]:
        """{market: its bets' statistics as the JSON has them} (`by_market`)."""
        return by_market_json(self.bets, self.markets, group_stats)

    @property
    def by_edge(self) -> dict[str, BetStats]:
        return by_edge(self.bets)

    @property
    def margin_inclusive(self) -> float:
        """The mean of price / closing price - 1 (not CLV), NaN without a closing price."""
        ratio = self.bets["clv_margin_inclusive"].to_numpy(float)
        return float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan")

    def _json(self, s: BetStats, bets: pd.DataFrame) -> dict:
        ratio = bets["clv_margin_inclusive"].to_numpy(float)
        return {
            **stats_json(s),
            "bets_fair_from_model": int((bets["fair_source"] == MODEL).sum()),
            "clv_margin_inclusive_mean": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else None,
        }

    def to_json(self) -> dict:
        b = self.bets
        return {
            "rule": self.rule,
            "clv_method": self.clv_method,
            "overall": {
                **self._json(self.overall, b),
                "starting_bankroll": self.bankroll,
                "final_bankroll": round(self.bankroll + (float(b["profit"].sum()) if len(b) else 0.0), 2),
            },
            "by_season": {k: self._json(s, b[b["season"].astype(str) == k]) for k, s in self.by_season.items()},
            "by_league": {k: self._json(s, b[b["league"].astype(str) == k]) for k, s in self.by_league.items()},
            "by_edge": {
                k: {key: v for key, v in stats_json(s).items() if key in ("bets", "clv_fair_mean", "clv_fair_ci95")}
                for k, s in self.by_edge.items()
            },
            "by_market": self.by_market,
            **({} if self.skipped is None else {"skipped": self.skipped}),
            **({} if self.without_guards is None else {"without_guards": stats_json(self.without_guards)}),
        }


def summarise(
    bets: pd.DataFrame,
    pred: pd.DataFrame,
    bankroll: float,
    clv_method: str,
    rule: str = "",
    skipped: dict[str, int] | None = None,
    without_guards: pd.DataFrame | None = None,
    markets: Sequence[str] = ("1X2",),
) -> RuleBets:
    """A rule's graded bets with their statistics overall and by every season and league of `pred`; with the
    guards' skips by rule and the same rule's bets without guards, when it ran with them."""
    by = {
        col: {str(v): group_stats(bets[bets[col] == v]) for v in sorted(pred[col].unique())}
        for col in ("season", "league")
    }
    unguarded = None if without_guards is None else group_stats(without_guards)
    return RuleBets(
        rule,
        clv_method,
        bankroll,
        bets,
        group_stats(bets),
        by["season"],
        by["league"],
        skipped,
        unguarded,
        tuple(markets),
    )


@dataclass
class BacktestResult:
    start: pd.Timestamp
    end: pd.Timestamp
    predictions: pd.DataFrame  # one row per test match: ids, outcome, every forecaster and every price
    scores: dict  # {"overall"|league: {forecaster: {n, log_loss, brier, rps, accuracy}}}
    value: RuleBets  # the value bets (soft books against the fair sharp line)
    previous: RuleBets  # the ensemble's bets at the sharp price
    info: dict = field(default_factory=dict)
    weeks: dict = field(default_factory=dict)  # fitted models of the weeks asked for by `keep_weeks`
    close: RuleBets | None = None  # the value rule with the close model as the fair line (given prices)
    fair_lines: dict = field(default_factory=dict)  # the two fair lines' bets compared (fair_lines.compare_bets)
    market_scores: dict = field(default_factory=dict)  # scores.by_market: totals and handicaps (market_scores)

    @property
    def bets(self) -> pd.DataFrame:
        return self.value.bets

    @property
    def previous_bets(self) -> pd.DataFrame:
        return self.previous.bets

    @property
    def betting(self) -> dict:
        """The betting figures as the JSON has them: the plain sharp rule's at the top, the previous rule under
        "model_at_sharp_price", the close-model rule under "close_model", the comparison under "fair_lines"."""
        out = {**self.value.to_json(), "model_at_sharp_price": self.previous.to_json()}
        if self.close is not None:
            out["close_model"] = self.close.to_json()
            out["fair_lines"] = self.fair_lines
        return out

    def to_json(self) -> dict:
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            **self.info,
            "scores": {**self.scores, "by_market": self.market_scores} if self.market_scores else self.scores,
            "betting": self.betting,
        }


def run_backtest(
    matches: pd.DataFrame,
    start,
    end,
    *,
    xi: float = _DEFAULT["dc_xi"],
    margin_method: str = _DEFAULT["margin_method"],
    strategy: StrategyParams | None = None,
    bankroll: float = _DEFAULT["starting_bankroll"],
    xgb_refit_weeks: int = 1,
    seed: int = 0,
    prices: pd.DataFrame | None = None,
    sharp_books: Sequence[str] = _RULES.sharp,
    bet_books: Sequence[str] = _RULES.bet,
    fair_method: str = _RULES.fair_method,
    clv_method: str = _RULES.clv_method,
    validation_matches: int = _DEFAULT["validation_matches"],
    stack_matches: int = STACK_MATCHES,
    keep_weeks: Sequence = (),
    progress: Callable[[str], None] | None = None,
    fair_line: str = _DEFAULT["fair_line"],
    guards: GuardSettings | None = _GUARDS,
    two_way_prices: TwoWayPrices | None = None,
    markets: Sequence[str] = _DEFAULT["markets"],
) -> BacktestResult:
    """`prices`: every bookmaker's prices by match id (simulation.book_prices), from CLOSE_MODEL_YEARS before
    `start` for the close model; without them only the previous rule is simulated. `keep_weeks`: dates whose
    week's fitted models are kept in `result.weeks` (for tests). `fair_line`: the one production follows
    (FAIR_LINE); both are run and reported. `guards`: the price-error guards the value rules run before staking
    (production's; None: none). `two_way_prices`: the over/under and Asian handicap prices by match id
    (market_files.read_two_way); the value rule bets those of `markets` (MARKETS) beside 1X2."""
    for name, m in (("fair_method", fair_method), ("clv_method", clv_method)):
        if m not in METHODS:
            raise ValueError(f"{name} must be one of {METHODS}, got {m!r}")
    has_prices = prices is not None and len(prices) > 0
    close_line = CloseLine(tuple(sharp_books), tuple(bet_books), fair_method, clv_method) if has_prices else None
    wf = walk_forward(
        matches,
        start,
        end,
        xi=xi,
        margin_method=margin_method,
        xgb_refit_weeks=xgb_refit_weeks,
        seed=seed,
        validation_matches=validation_matches,
        stack_matches=stack_matches,
        keep_weeks=keep_weeks,
        progress=progress,
        close_line=close_line,
        prices=prices,
    )
    pred = add_value_columns(wf.predictions, prices, sharp_books, bet_books, fair_method)
    params = strategy or StrategyParams()
    timings = wf.timings
    t = time.perf_counter()
    best_book = pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object)
    fair, best, source = probs_columns(pred, "fair"), probs_columns(pred, "best"), pred["fair_source"].to_numpy(object)
    skipped: list[SkippedCandidate] = []
    rules = PriceRules(tuple(sharp_books), tuple(bet_books), fair_method, clv_method)
    book = TwoWayBook(pred, two_way_prices or TwoWayPrices(), rules, markets)
    bet_markets = [market_of(m).value for m in markets]
    # MARKETS without 1X2: the value rule bets the two-way markets alone
    priced = best if Market.X12.value in bet_markets else np.full_like(best, np.nan)
    bets = grade(
        simulate(pred, fair, priced, best_book, params, bankroll, source, guards, skipped, book), pred, clv_method, book
    )
    unguarded = (
        None
        if guards is None
        else grade(
            simulate(pred, fair, priced, best_book, params, bankroll, source, two_way=book), pred, clv_method, book
        )
    )
    prev_books = (
        np.repeat(pred["odds_bookmaker"].to_numpy(object)[:, None], 3, axis=1)
        if "odds_bookmaker" in pred
        else np.full((len(pred), 3), None, dtype=object)
    )
    ens, odds = probs_columns(pred, "ensemble"), probs_columns(pred, "odds")
    previous = grade(simulate(pred, ens, odds, prev_books, params, bankroll), pred, clv_method)
    close, fair_lines = None, {}
    # without prices before the test period the close model cannot be fitted: nothing to compare
    fitted = close_line is not None and bool(np.isfinite(probs_columns(pred, "close_model")).any())
    if fitted:
        close_fair, fallback = close_model_probs(pred)
        close_source = np.where(fallback, source, CLOSE_MODEL)
        close_bets = grade(
            simulate(pred, close_fair, best, best_book, params, bankroll, close_source, guards), pred, clv_method
        )
        fair_lines = compare_bets(close_bets, split(bets, ["1X2"])["1X2"])  # the 1X2 fair lines compared
        edge, same_volume = equal_volume(
            lambda p: grade(simulate(pred, fair, best, best_book, p, bankroll, source, guards), pred, clv_method),
            params,
            len(close_bets),
        )
        fair_lines["equal_volume"] = {
            "sharp_min_edge": edge,
            "sharp": summarise(same_volume, pred, bankroll, clv_method).to_json()["overall"],
            "close_model_minus_sharp": compare_bets(close_bets, same_volume)["close_model_minus_sharp"],
        }
        fair_lines["production"] = fair_line
        close_rule = (
            f"fair probability: the close model's forecast of the fair {', '.join(sharp_books)} close (the plain "
            f"rule's fair line where it has none); price: the best of {', '.join(bet_books)}; bet when EV >= "
            f"{params.min_edge:g}{'' if guards is None else ' and the price-error guards pass'}; CLV against the "
            f"fair close ({clv_method})"
        )
        close = summarise(close_bets, pred, bankroll, clv_method, close_rule)
    timings["betting"] = time.perf_counter() - t
    scores, info = score_predictions(pred)
    market_scores = score_markets(pred, book, clv_method)
    if fitted:
        info["paired_close_model"] = close_model_scores(scores, pred, clv_method, fair_method)
    model_fair = "" if guards is None or guards.allow_model_fair else ", not bet: ALLOW_MODEL_FAIR is off"
    value_rule = (
        f"fair probability: {', '.join(sharp_books)} pre-match, margin removed by {fair_method} "
        f"(the ensemble where no sharp price{model_fair}); price: the best of {', '.join(bet_books)}; "
        f"bet when EV >= {params.min_edge:g}"
        f"{'' if guards is None else ' and the price-error guards pass'}; CLV against the fair "
        f"{', '.join(sharp_books)} close ({clv_method})"
    )
    previous_rule = (
        "the previous way: the ensemble's probability against the sharp pre-match price itself, "
        "graded against the same fair close"
    )
    info["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    info["xgb_refit_weeks"] = xgb_refit_weeks
    info["windows"] = wf.windows
    info["value"] = {
        "sharp_bookmakers": list(sharp_books),
        "bet_bookmakers": list(bet_books),
        "fair_method": fair_method,
        "clv_method": clv_method,
        "fair_line": fair_line,
        "matches_with_sharp_prematch": int(np.isfinite(probs_columns(pred, "sharp_pre")).all(axis=1).sum()),
        "matches_with_sharp_close": int(np.isfinite(probs_columns(pred, "sharp_close")).all(axis=1).sum()),
        "guards": None if guards is None else asdict(guards),
    }
    return BacktestResult(
        *check_period(start, end),
        pred,
        scores,
        summarise(
            bets,
            pred,
            bankroll,
            clv_method,
            value_rule,
            None if guards is None else skipped_by_rule(skipped),
            unguarded,
            bet_markets,
        ),
        summarise(previous, pred, bankroll, clv_method, previous_rule),
        info,
        wf.weeks,
        close,
        fair_lines,
        market_scores,
    )


__all__ = [
    "EV_BUCKETS",
    "BacktestResult",
    "RuleBets",
    "by_edge",
    "run_backtest",
    "skipped_by_rule",
    "summarise",
    "group_stats",
]
