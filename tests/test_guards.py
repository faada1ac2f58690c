"""The price-error guards (pipeline.betting.guards) on the issue's cases: real rows of the shared football-data
files with the fault written in, the settings' validation, and properties over any candidate."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from conftest import FOOTBALL_DATA, needs_shared
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.betting.guards import (
    RULES,
    GuardCandidate,
    GuardSettings,
    GuardSettingsError,
    check_candidate,
    sharp_booksum,
)
from pipeline.betting.strategy import StrategyParams, select_bets
from pipeline.odds import implied_probabilities
from pipeline.outcomes import OUTCOMES, index_of
from pipeline.records import ValueCandidate

SOFT = ("B365", "BW", "IW", "WH", "VC")
KICKOFF = datetime(2023, 8, 12, 15, tzinfo=UTC)  # any kick-off: one candidate, no day cap reached
BOOK = {"B365": "Bet365", "BW": "Bet&Win", "IW": "Interwetten", "WH": "William Hill", "VC": "VC Bet"}
# every guard off, to test one rule at a time
OFF = GuardSettings(
    max_edge=None,
    max_price_ratio=None,
    sharp_booksum_min=0.5,
    sharp_booksum_max=2.0,
    max_soft_age_minutes=None,
    max_sharp_age_minutes=None,
    soft_outlier_margin=None,
    allow_model_fair=True,
)


@pytest.fixture(scope="module")
def e0():
    return pd.read_csv(FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv")


def real_row(e0, date, home, away) -> dict:
    r = e0[(e0["Date"] == date) & (e0["HomeTeam"] == home) & (e0["AwayTeam"] == away)]
    assert len(r) == 1
    return r.iloc[0].to_dict()


def candidate(row: dict, outcome: str, book: str = "B365", sharp: str = "PS", **kw) -> GuardCandidate:
    """The candidate the money path would make of a file row: fair line by power from `sharp`'s prices."""
    k = index_of(outcome)
    sharp_prices = tuple(float(row[f"{sharp}{s}"]) for s in "HDA")
    fair = implied_probabilities(sharp_prices, "power")[0]
    letter = "HDA"[k]
    others = tuple(float(row[f"{b}{letter}"]) for b in SOFT if b != book and math.isfinite(row[f"{b}{letter}"]))
    values: dict[str, Any] = dict(
        match_id=f"E0 {row['Date']} {row['HomeTeam']} v {row['AwayTeam']}",
        outcome=outcome,
        bookmaker=BOOK[book],
        price=float(row[f"{book}{letter}"]),
        fair_prob=float(fair[k]),
        fair_source="sharp",
        sharp_prices=sharp_prices,
        other_soft_prices=others,
    )
    values.update(kw)
    return GuardCandidate(**values)


@needs_shared()
def test_bet365_9_against_pinnacle_1_30_on_a_home_win_is_never_bet(e0):
    row = real_row(e0, "25/08/2023", "Chelsea", "Luton")  # Pinnacle 1.30 6.08 10.68, Bet365 1.29
    assert check_candidate(candidate(row, "home"), GuardSettings()) is None  # the real price passes
    row["B365H"] = 9.0
    c = candidate(row, "home")
    assert c.edge > 5  # "EV +578%"
    # the strategy alone would stake it at the per-bet cap
    bets = select_bets(
        [ValueCandidate(1, KICKOFF, fair_probs=(c.fair_prob, 0.1, 0.1), odds=(9.0, 1.01, 1.01))],
        1000.0,
        StrategyParams(),
    )
    assert [(b.outcome, b.stake) for b in bets] == [("home", 50.0)]
    failure = check_candidate(c, GuardSettings())
    assert failure is not None and failure.rule == "price_ratio"
    # every guard that should catch it does, each on its own
    for rule, on in (
        ("price_ratio", dict(max_price_ratio=1.5)),
        ("max_edge", dict(max_edge=0.2)),
        ("soft_outlier", dict(soft_outlier_margin=0.25)),
    ):
        got = check_candidate(c, dataclasses.replace(OFF, **on))
        assert got is not None and got.rule == rule
    assert check_candidate(c, OFF) is None


@needs_shared()
def test_the_reason_is_one_line_naming_match_outcome_book_price_fair_price_and_rule(e0):
    row = real_row(e0, "25/08/2023", "Chelsea", "Luton")
    row["B365H"] = 9.0
    c = candidate(row, "home")
    reason = check_candidate(c, GuardSettings()).reason
    assert "\n" not in reason
    for part in ("E0 25/08/2023 Chelsea v Luton", "home", "Bet365", "9.00", f"fair {c.fair_price:.2f}", "price_ratio"):
        assert part in reason


@needs_shared()
def test_a_pinnacle_away_price_of_22_1_instead_of_2_21_stops_every_outcome_of_the_match(e0):
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")  # Pinnacle 3.10 3.87 2.21
    assert check_candidate(candidate(row, "away"), GuardSettings()) is None
    row["PSA"] = 22.1
    assert sharp_booksum((row["PSH"], row["PSD"], row["PSA"])) == pytest.approx(0.63, abs=0.005)
    # the broken line makes the home win and the draw look like value at Bet365's real prices
    for outcome in ("home", "draw"):
        c = candidate(row, outcome)
        assert c.edge > 0.3
        failure = check_candidate(c, GuardSettings())
        assert failure is not None and failure.rule == "sharp_overround"
        assert "0.626" in failure.reason
        # the range alone catches it, whatever the price guards say
        alone = check_candidate(c, dataclasses.replace(OFF, sharp_booksum_min=1.0, sharp_booksum_max=1.12))
        assert alone is not None and alone.rule == "sharp_overround"


@needs_shared()
def test_a_sharp_book_whose_prices_add_to_under_100_percent_is_no_fair_line(e0):
    # SHARP_BOOKMAKERS=Bet365 on a copy of the row whose Bet365 line adds to under 100% (a boosted draw and away)
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")  # Bet365 3.10 3.60 2.20
    row["B365D"], row["B365A"] = 4.6, 2.45
    total = sharp_booksum((row["B365H"], row["B365D"], row["B365A"]))
    assert total < 1.0
    c = candidate(row, "away", book="VC", sharp="B365")
    failure = check_candidate(c, GuardSettings())
    assert failure is not None and failure.rule == "sharp_overround"
    assert f"{total:.3f}" in failure.reason


@needs_shared()
def test_max_odds_60_and_bet365_50_is_stopped_by_the_price_guards(e0):
    row = real_row(e0, "12/08/2023", "Arsenal", "Nott'm Forest")  # Pinnacle 1.18 7.86 15.67, Bet365 away 15.0
    row["B365A"] = 50.0
    c = candidate(row, "away")
    assert c.edge > 1.5  # EV +163% against Pinnacle's fair line
    params = StrategyParams(max_odds=60)
    bets = select_bets(
        [ValueCandidate(1, KICKOFF, fair_probs=(0.8, 0.13, c.fair_prob), odds=(1.01, 1.01, 50.0))],
        1000.0,
        params,
    )
    assert [b.outcome for b in bets] == ["away"]  # MAX_ODDS no longer stops it
    assert check_candidate(c, GuardSettings()).rule == "price_ratio"
    assert check_candidate(c, dataclasses.replace(GuardSettings(), max_price_ratio=None)).rule == "max_edge"
    assert check_candidate(c, dataclasses.replace(OFF, soft_outlier_margin=0.25)).rule == "soft_outlier"


@needs_shared()
def test_a_fair_line_from_the_models_is_off_unless_allowed(e0):
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")
    c = dataclasses.replace(candidate(row, "home"), fair_source="model", sharp_prices=None, fair_prob=0.36)
    assert check_candidate(c, GuardSettings()).rule == "model_fair"
    allowed = GuardSettings.from_settings({"ALLOW_MODEL_FAIR": "true"})
    assert check_candidate(c, allowed) is None  # no sharp line to check: the sharp rules do not apply


@needs_shared()
def test_a_sharp_line_missing_an_outcome_is_no_fair_line(e0):
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")
    c = dataclasses.replace(candidate(row, "home"), sharp_prices=(3.10, float("nan"), 2.21))
    assert check_candidate(c, GuardSettings()).rule == "sharp_incomplete"
    assert check_candidate(dataclasses.replace(c, sharp_prices=None), GuardSettings()).rule == "sharp_incomplete"
    assert check_candidate(dataclasses.replace(c, sharp_prices=(3.10, 1.0, 2.21)), OFF).rule == "sharp_incomplete"


@needs_shared()
def test_stale_prices_are_skipped_where_times_are_known(e0):
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")
    now = datetime(2023, 11, 4, 13, tzinfo=UTC)
    c = candidate(row, "home", decided_at=now)
    s = GuardSettings.from_settings({"MAX_SOFT_PRICE_AGE": "60", "MAX_SHARP_PRICE_AGE": "30"})
    assert check_candidate(c, s) is None  # no times: the age rules do not apply
    fresh = dataclasses.replace(c, price_seen_at=now - timedelta(minutes=59), sharp_seen_at=now - timedelta(minutes=29))
    assert check_candidate(fresh, s) is None
    old_soft = dataclasses.replace(fresh, price_seen_at=now - timedelta(minutes=61))
    assert check_candidate(old_soft, s).rule == "soft_age"
    old_sharp = dataclasses.replace(fresh, sharp_seen_at=now - timedelta(minutes=45))
    failure = check_candidate(old_sharp, s)
    assert failure.rule == "sharp_age" and "45 min old" in failure.reason
    assert check_candidate(old_sharp, dataclasses.replace(s, max_sharp_age_minutes=None)) is None
    # without a decision time neither price has an age
    assert check_candidate(dataclasses.replace(old_soft, decided_at=None), s) is None


@needs_shared()
def test_one_soft_book_far_above_the_others_is_suspect_only_with_enough_others(e0):
    row = real_row(e0, "04/11/2023", "Everton", "Brighton")  # away: Bet365 2.20, IW 2.20, WH 2.10, VC 2.15
    row["B365A"] = 2.80
    c = candidate(row, "away")
    s = dataclasses.replace(OFF, soft_outlier_margin=0.25)
    assert check_candidate(c, s).rule == "soft_outlier"  # 2.80 / 2.20 - 1 = 27%
    assert check_candidate(dataclasses.replace(c, price=2.70), s) is None  # 23%
    assert check_candidate(dataclasses.replace(c, other_soft_prices=(2.2,)), s) is None  # one other: not enough
    assert check_candidate(c, dataclasses.replace(s, soft_outlier_min_books=4)) is None


def test_settings_from_the_environment():
    s = GuardSettings.from_settings(
        {
            "MAX_EDGE": "0.15",
            "MAX_PRICE_RATIO": "none",
            "SHARP_BOOKSUM_MIN": " 0.99 ",
            "SHARP_BOOKSUM_MAX": "1.10",
            "MAX_SOFT_PRICE_AGE": "off",
            "MAX_SHARP_PRICE_AGE": "",  # empty: the default
            "SOFT_OUTLIER_MIN_BOOKS": "3",
            "ALLOW_MODEL_FAIR": "yes",
            "DATABASE_URL": "sqlite:///x.db",  # other settings are not the guards' business
        }
    )
    assert (s.max_edge, s.max_price_ratio, s.sharp_booksum_min, s.sharp_booksum_max) == (0.15, None, 0.99, 1.10)
    assert s.max_soft_age_minutes is None and s.max_sharp_age_minutes == GuardSettings().max_sharp_age_minutes
    assert s.soft_outlier_min_books == 3 and s.allow_model_fair is True
    assert GuardSettings.from_settings({}) == GuardSettings()


@pytest.mark.parametrize(
    "env, named",
    [
        ({"MAX_EDGE": "ten percent"}, "MAX_EDGE must be a number"),
        ({"MAX_EDGE": "0"}, "MAX_EDGE must be above 0"),
        ({"MAX_EDGE": "nan"}, "MAX_EDGE must be a finite number"),
        ({"MAX_PRICE_RATIO": "1"}, "MAX_PRICE_RATIO must be above 1"),
        ({"SHARP_BOOKSUM_MIN": "1.12", "SHARP_BOOKSUM_MAX": "1.05"}, "SHARP_BOOKSUM_MIN (1.12) must be below"),
        ({"SHARP_BOOKSUM_MAX": "3"}, "SHARP_BOOKSUM_MAX (3.0)"),
        ({"SHARP_BOOKSUM_MIN": "none"}, "SHARP_BOOKSUM_MIN cannot be turned off"),
        ({"MAX_SOFT_PRICE_AGE": "-5"}, "MAX_SOFT_PRICE_AGE must be above 0"),
        ({"SOFT_OUTLIER_MARGIN": "0"}, "SOFT_OUTLIER_MARGIN must be above 0"),
        ({"SOFT_OUTLIER_MIN_BOOKS": "1.5"}, "SOFT_OUTLIER_MIN_BOOKS must be a whole number"),
        ({"SOFT_OUTLIER_MIN_BOOKS": "0"}, "SOFT_OUTLIER_MIN_BOOKS must be a whole number >= 1"),
        ({"ALLOW_MODEL_FAIR": "maybe"}, "ALLOW_MODEL_FAIR must be true or false"),
    ],
)
def test_settings_refused_with_the_variable_named(env, named):
    with pytest.raises(GuardSettingsError, match=named.replace("(", r"\(").replace(")", r"\)")):
        GuardSettings.from_settings(env)


def test_candidates_that_cannot_be_judged_are_refused():
    base = dict(match_id="m", outcome="home", bookmaker="Bet365", price=2.0, fair_prob=0.5, fair_source="sharp")
    GuardCandidate(**base)
    for bad in (
        dict(outcome="H"),
        dict(price=1.0),
        dict(price=float("nan")),
        dict(fair_prob=0.0),
        dict(fair_prob=1.2),
        dict(fair_source="Pinnacle"),
        dict(sharp_prices=(2.0, 3.0)),
    ):
        with pytest.raises(ValueError):
            GuardCandidate(**(base | bad))


# ---- properties over any candidate and any settings --------------------------------------------------------
prices = st.floats(min_value=1.01, max_value=100.0)
maybe_price = st.one_of(st.none(), st.just(float("nan")), prices)
NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
ages = st.one_of(st.none(), st.integers(min_value=-60, max_value=24 * 60).map(lambda m: NOW - timedelta(minutes=m)))

candidates = st.builds(
    GuardCandidate,
    match_id=st.just("m"),
    outcome=st.sampled_from(OUTCOMES),
    bookmaker=st.just("Bet365"),
    price=prices,
    fair_prob=st.floats(min_value=0.01, max_value=0.99),
    fair_source=st.sampled_from(["sharp", "model"]),
    sharp_prices=st.one_of(st.none(), st.tuples(maybe_price, maybe_price, maybe_price)),
    other_soft_prices=st.lists(prices, max_size=5).map(tuple),
    decided_at=st.one_of(st.none(), st.just(NOW)),
    price_seen_at=ages,
    sharp_seen_at=ages,
)
positive = st.floats(min_value=0.001, max_value=10.0)
guard_settings = st.builds(
    GuardSettings,
    max_edge=st.one_of(st.none(), positive),
    max_price_ratio=st.one_of(st.none(), st.floats(min_value=1.001, max_value=10.0)),
    sharp_booksum_min=st.floats(min_value=0.5, max_value=1.05),
    sharp_booksum_max=st.floats(min_value=1.06, max_value=2.0),
    max_soft_age_minutes=st.one_of(st.none(), st.floats(min_value=1, max_value=600)),
    max_sharp_age_minutes=st.one_of(st.none(), st.floats(min_value=1, max_value=600)),
    soft_outlier_margin=st.one_of(st.none(), positive),
    soft_outlier_min_books=st.integers(min_value=1, max_value=4),
    allow_model_fair=st.booleans(),
)
# turning a rule off: the settings that make it pass
TURN_OFF = {
    "model_fair": dict(allow_model_fair=True),
    "sharp_overround": dict(sharp_booksum_min=0.5, sharp_booksum_max=2.0),
    "sharp_age": dict(max_sharp_age_minutes=None),
    "soft_age": dict(max_soft_age_minutes=None),
    "price_ratio": dict(max_price_ratio=None),
    "max_edge": dict(max_edge=None),
    "soft_outlier": dict(soft_outlier_margin=None),
}


@settings(max_examples=300, deadline=None)
@given(candidates, guard_settings)
def test_a_passing_candidate_is_within_every_limit(c, s):
    failure = check_candidate(c, s)
    if failure is not None:
        assert failure.rule in RULES and "\n" not in failure.reason and failure.rule in failure.reason
        return
    assert c.fair_source == "sharp" or s.allow_model_fair
    if c.fair_source == "sharp":
        assert s.sharp_booksum_min <= sharp_booksum(c.sharp_prices) <= s.sharp_booksum_max
    if s.max_edge is not None:
        assert c.edge <= s.max_edge
    if s.max_price_ratio is not None:
        assert c.price * c.fair_prob <= s.max_price_ratio


@settings(max_examples=300, deadline=None)
@given(candidates, guard_settings)
def test_the_rule_named_is_the_first_that_fails(c, s):
    failure = check_candidate(c, s)
    if failure is None or failure.rule == "sharp_incomplete":  # no setting turns that one off
        return
    total = sharp_booksum(c.sharp_prices)
    if failure.rule == "sharp_overround" and not 0.5 <= total <= 2.0:  # nor a sum beyond any allowed range
        return
    looser = check_candidate(c, dataclasses.replace(s, **TURN_OFF[failure.rule]))
    # with the named rule off the candidate passes or fails a later rule, never an earlier one
    assert looser is None or RULES.index(looser.rule) > RULES.index(failure.rule)


@settings(max_examples=300, deadline=None)
@given(candidates, guard_settings, st.floats(min_value=1.0, max_value=3.0))
def test_looser_limits_never_stop_a_candidate_that_passed(c, s, factor):
    if check_candidate(c, s) is not None:
        return
    looser = dataclasses.replace(
        s,
        max_edge=None if s.max_edge is None else s.max_edge * factor,
        max_price_ratio=None if s.max_price_ratio is None else s.max_price_ratio * factor,
        sharp_booksum_min=max(0.5, s.sharp_booksum_min / factor),
        sharp_booksum_max=min(2.0, s.sharp_booksum_max * factor),
        soft_outlier_margin=None if s.soft_outlier_margin is None else s.soft_outlier_margin * factor,
    )
    assert check_candidate(c, looser) is None
