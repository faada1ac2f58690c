"""The backtest's value rule in three markets (issue 25): the two-way prices read from football-data files by match
id, the over/under and Asian handicap candidates joined to the 1X2 ones in one weekly choice (one bankroll, the
caps across markets), each bet settled at its line and graded against the sharp close at its line, the figures by
market (`betting.by_market`) and the totals' and handicaps' scores (`scores.by_market`). Hand-made matches and
files; the shared files' test skips without ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.betting.guards import GuardSettings
from pipeline.betting.market_settlement import NO_CLOSE_AT_LINE
from pipeline.betting.strategy import StrategyParams
from pipeline.evaluation.backtest import summarise
from pipeline.evaluation.market_files import TwoWayPrices, two_way_prices
from pipeline.evaluation.market_scores import score_markets
from pipeline.evaluation.simulation import add_value_columns, grade, simulate
from pipeline.evaluation.two_way_bets import TwoWayBook
from pipeline.evaluation.walk_forward import probs_columns
from pipeline.forecast.market_probs import total_over, xg_matrix
from pipeline.markets import MarketPrice, Selection
from pipeline.outcomes import OUTCOMES
from pipeline.prices import PriceRules
from pipeline.providers.football_data import load_matches

RULES = PriceRules(("Pinnacle",), ("Bet365", "William Hill"), "power", "shin")
KO = pd.Timestamp("2024-05-18 15:00", tz="UTC")
FAIR_1X2 = {("pinnacle", "pre"): (2.0, 3.5, 4.0), ("pinnacle", "close"): (1.95, 3.6, 4.1)}
NO_VALUE = {**FAIR_1X2, ("bet365", "pre"): (1.9, 3.3, 3.7)}
VALUE = {**FAIR_1X2, ("bet365", "pre"): (2.2, 3.3, 3.7)}  # the home win 10% above Pinnacle's


def _pred(matches: list[tuple[dict, int, int]]) -> pd.DataFrame:
    """Test matches (1X2 prices by book, home goals, away goals), one a day from KO, with the value columns."""
    rows = []
    for i, (prices, hg, ag) in enumerate(matches):
        rows.append(
            {
                "match_id": f"x{i}",
                "league": "E0",
                "season": "2324",
                "kickoff": KO + pd.Timedelta(days=i),
                "home_team": f"H{i}",
                "away_team": f"A{i}",
                "home_goals": hg,
                "away_goals": ag,
                "outcome": 0 if hg > ag else 1 if hg == ag else 2,
                "dc_home_xg": 1.5,
                "dc_away_xg": 1.1,
                **{f"ensemble_{o}": p for o, p in zip(OUTCOMES, (0.45, 0.28, 0.27))},
                **{f"close_{o}": p for o, p in zip(OUTCOMES, prices[("pinnacle", "close")])},
                **{f"{book}_{kind}_{o}": p for (book, kind), v in prices.items() for o, p in zip(OUTCOMES, v)},
            }
        )
    return add_value_columns(pd.DataFrame(rows), None, RULES.sharp, RULES.bet, RULES.fair_method)


def _two_way(match_id: str, book: str, market: str, line: float, pair, closing: bool = False) -> list[MarketPrice]:
    sides = ("over", "under") if market == "OU" else ("home", "away")
    return [MarketPrice(match_id, book, Selection(market, line, s), p, closing) for s, p in zip(sides, pair)]


def _run(pred: pd.DataFrame, prices: list[MarketPrice], params: StrategyParams | None = None):
    by_match: dict[str, list[MarketPrice]] = {}
    for p in prices:
        by_match.setdefault(p.match_id, []).append(p)
    book = TwoWayBook(pred, TwoWayPrices({k: tuple(v) for k, v in by_match.items()}), RULES)
    args = (
        probs_columns(pred, "fair"),
        probs_columns(pred, "best"),
        pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object),
        params or StrategyParams(),
        1000.0,
        pred["fair_source"].to_numpy(object),
        GuardSettings(),
    )
    return grade(simulate(pred, *args, two_way=book), pred, "shin", book), book


def _mult(pair):
    inv = 1 / np.asarray(pair, float)
    return inv / inv.sum()


def test_one_weekly_choice_bets_three_markets_and_grades_each_at_its_own_line():
    # x0: value on the 1X2 home win; x1: on over 2.5 (Bet365 2.30 against Pinnacle's 2.00/1.87); x2: on the home
    # side at -0.5 (Bet365 2.20 against 1.95/1.95), Pinnacle's close moved to -0.75: no close at the bet's line
    pred = _pred([(VALUE, 2, 1), (NO_VALUE, 2, 1), (NO_VALUE, 1, 1)])
    prices = [
        *_two_way("x1", "Pinnacle", "OU", 2.5, (2.00, 1.87)),
        *_two_way("x1", "Bet365", "OU", 2.5, (2.30, 1.60)),
        *_two_way("x1", "Pinnacle", "OU", 2.5, (1.90, 1.95), closing=True),
        *_two_way("x2", "Pinnacle", "AH", -0.5, (1.95, 1.95)),
        *_two_way("x2", "Bet365", "AH", -0.5, (2.20, 1.70)),
        *_two_way("x2", "Pinnacle", "AH", -0.75, (2.10, 1.80), closing=True),
    ]
    bets, book = _run(pred, prices)
    got = {(b.match_id, b.market, b.line if b.market != "1X2" else None, b.bet_outcome) for b in bets.itertuples()}
    assert got == {("x0", "1X2", None, "home"), ("x1", "OU", 2.5, "over"), ("x2", "AH", -0.5, "home")}
    ou = bets[bets["market"] == "OU"].iloc[0]
    assert ou["bookmaker"] == "Bet365" and ou["odds"] == 2.30 and ou["result"] == "win" and ou["won"]
    assert ou["profit"] == pytest.approx(round(ou["stake"] * 1.30, 2))
    assert ou["fair_source"] == "Pinnacle" and ou["edge"] == pytest.approx(ou["fair_prob"] * 2.30 - 1)
    # graded at 2.5 against Pinnacle's close 1.90/1.95, margin removed (multiplicative by hand here)
    assert ou["clv_multiplicative"] == pytest.approx(2.30 * _mult((1.90, 1.95))[0] - 1, abs=1e-9)
    assert ou["clv"] == ou["clv_shin"] and np.isfinite(ou["clv_power"]) and pd.isna(ou["clv_note"])
    assert ou["sharp_close_odds"] == 1.90
    ah = bets[bets["market"] == "AH"].iloc[0]
    assert ah["result"] == "loss" and ah["profit"] == -ah["stake"] and not ah["won"]  # 1-1 at home -0.5
    assert ah["clv_note"] == NO_CLOSE_AT_LINE  # never graded against -0.75
    assert all(np.isnan(ah[f"clv_{m}"]) for m in ("shin", "power", "multiplicative")) and np.isnan(ah["clv"])
    x12 = bets[bets["market"] == "1X2"].iloc[0]
    assert x12["clv_shin"] == pytest.approx(grade(bets[bets["market"] == "1X2"], pred, "shin")["clv_shin"].iloc[0])
    # the JSON: by market beside the overall figures, which count every market
    rule = summarise(bets, pred, 1000.0, "shin", "value", markets=("1X2", "OU", "AH")).to_json()
    by = rule["by_market"]
    assert list(by) == ["1X2", "OU", "AH"] and [by[m]["bets"] for m in by] == [1, 1, 1] == [1] * 3
    assert rule["overall"]["bets"] == 3 == sum(by[m]["bets"] for m in by)
    assert by["AH"]["no_close_at_line"] == 1 and by["AH"]["bets_without_sharp_close"] == 1
    assert by["OU"]["no_close_at_line"] == 0 and by["OU"]["clv_fair_mean"] == pytest.approx(ou["clv_shin"])
    assert set(by["OU"]["clv_fair_by_method"]) == {"multiplicative", "power", "shin"}
    assert by["OU"]["clv_fair_by_method"]["multiplicative"]["mean"] == pytest.approx(ou["clv_multiplicative"])
    assert by["AH"]["clv_fair_mean"] is None and by["OU"]["lines"] == {"2.5": 1}
    assert by["1X2"]["clv_fair_mean"] == pytest.approx(x12["clv_shin"])
    assert "no_close_at_line" not in by["1X2"]
    json.dumps(rule)  # plain JSON


def test_the_markets_of_one_match_share_its_cap_and_the_1x2_is_sized_first():
    pred = _pred([(VALUE, 3, 1)])
    prices = [*_two_way("x0", "Pinnacle", "OU", 2.5, (2.00, 1.87)), *_two_way("x0", "Bet365", "OU", 2.5, (2.30, 1.6))]
    alone, _ = _run(pred, [])
    cap = StrategyParams(max_match_fraction=1.2 * alone["stake"].sum() / 1000)
    both, _ = _run(pred, prices, cap)
    assert list(both["market"]) == ["1X2", "OU"] and both["stake"].sum() <= cap.max_match_fraction * 1000 + 1e-9
    assert both["stake"].iloc[0] == alone["stake"].iloc[0]  # the 1X2 bet first, as alone; OU gets what is left
    assert 0 < both["stake"].iloc[1] <= 0.2 * alone["stake"].sum() + 0.01


def test_without_two_way_prices_the_value_rule_bets_as_before():
    pred = _pred([(VALUE, 2, 1), (NO_VALUE, 0, 0), (VALUE, 0, 1)])
    args = (
        probs_columns(pred, "fair"),
        probs_columns(pred, "best"),
        pred[[f"best_{o}_book" for o in OUTCOMES]].to_numpy(object),
        StrategyParams(),
        1000.0,
        pred["fair_source"].to_numpy(object),
        GuardSettings(),
    )
    before = grade(simulate(pred, *args), pred, "shin")
    after, _ = _run(pred, [])
    assert len(before) == 2
    pd.testing.assert_frame_equal(before, after)


def test_a_line_no_sharp_book_prices_takes_the_models_fair_pair_and_the_guard_sets_it_aside():
    pred = _pred([(NO_VALUE, 2, 1)])
    book = TwoWayBook(pred, TwoWayPrices({"x0": tuple(_two_way("x0", "Bet365", "OU", 2.5, (3.0, 1.3)))}), RULES)
    (c,) = book.candidates([0])
    p = total_over(xg_matrix(1.5, 1.1), 2.5)[0]
    assert c.fair_source == "model" and c.fair_probs == pytest.approx((p, 1 - p)) and c.market == "OU"
    bets, _ = _run(pred, list(book.pre["x0"]))
    assert bets.empty  # ALLOW_MODEL_FAIR is off by default


def test_scores_by_market_weight_pushes_and_need_the_close_at_the_same_line():
    # x0 2-1, x1 1-1, x2 0-0; OU 2.5 everywhere; AH: x0 at -0.5 (won), x1 at 0 (a push: no weight), x2 at -0.25
    # (a half loss: half weight); x1's close at 0 too, x2's close at -0.5 (another line: left out and counted)
    pred = _pred([(NO_VALUE, 2, 1), (NO_VALUE, 1, 1), (NO_VALUE, 0, 0)])
    ou_pre, ou_close = (1.9, 1.95), (1.85, 2.0)
    prices = []
    for mid in ("x0", "x1", "x2"):
        prices += _two_way(mid, "Pinnacle", "OU", 2.5, ou_pre) + _two_way(mid, "Pinnacle", "OU", 2.5, ou_close, True)
    ah = {"x0": (-0.5, -0.5, (1.9, 2.0)), "x1": (0.0, 0.0, (2.0, 1.9)), "x2": (-0.25, -0.5, (2.1, 1.8))}
    for mid, (line, close_line, pair) in ah.items():
        prices += _two_way(mid, "Pinnacle", "AH", line, pair) + _two_way(mid, "Pinnacle", "AH", close_line, pair, True)
    book = TwoWayBook(pred, TwoWayPrices({m: tuple(p for p in prices if p.match_id == m) for m in ah}), RULES)
    scores = score_markets(pred, book, "multiplicative")
    ou = scores["OU"]
    over = np.array([1, 0, 0])  # 3, 2 and 0 goals
    p = _mult(ou_pre)[0]
    want = -np.mean(np.where(over == 1, np.log(p), np.log(1 - p)))
    assert ou["matches"] == 3 and ou["log_loss"]["sharp_prematch"] == pytest.approx(want, abs=1e-5)
    q = total_over(xg_matrix([1.5] * 3, [1.1] * 3), 2.5)
    want_model = -np.mean(np.where(over == 1, np.log(q), np.log(1 - q)))
    assert ou["log_loss"]["dixon_coles"] == pytest.approx(want_model, abs=1e-5)
    a = scores["AH"]
    assert a["close_at_another_line"] == 1 and a["lines"] == {"-0.5": 1, "+0": 1}
    assert a["pushed"] == 1 and a["matches"] == 1  # x1's push weighs nothing; x2 is left out
    assert a["log_loss"]["sharp_prematch"] == pytest.approx(-np.log(_mult((1.9, 2.0))[0]), abs=1e-5)
    assert a["log_loss"]["sharp_close"] == pytest.approx(-np.log(_mult((1.9, 2.0))[0]), abs=1e-5)


HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,PSH,PSD,PSA,PSCH,PSCD,PSCA,B365>2.5,B365<2.5,P>2.5,P<2.5,"
    "Max>2.5,Max<2.5,AHh,B365AHH,B365AHA,PAHH,PAHA,PC>2.5,PC<2.5,B365C>2.5,B365C<2.5,AHCh,PCAHH,PCAHA"
)


def test_the_files_two_way_prices_are_taken_by_match_id_from_the_frame_the_backtest_reads(tmp_path):
    folder = tmp_path / "mmz4281" / "2324"
    folder.mkdir(parents=True)
    rows = [
        "E0,12/08/2023,15:00,Arsenal,Chelsea,2,1,H,2.0,3.5,4.0,2.1,3.4,3.9,1.8,2.0,1.85,2.05,1.9,2.1,-0.5,1.9,1.95,"
        "1.93,1.97,1.8,2.1,1.75,2.05,-0.75,2.05,1.85",
        "E0,13/08/2023,15:00,Everton,Fulham,0,0,D,2.0,3.5,4.0,2.1,3.4,3.9,0.0,0.0,1.85,2.05,,,0.3,1.9,1.95,"
        "1.93,1.97,,,,,,,",
    ]
    (folder / "E0.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    frame, problems = load_matches(tmp_path)
    assert len(frame) == 2 and len(problems) >= 2  # the reader names the bad pairs of line 3 (the row is kept)
    got = two_way_prices(frame, ["Pinnacle", "Bet365"], closing_books=["Pinnacle"])
    ids = dict(zip(frame["home_team"], frame["match_id"]))
    first = {(p.bookmaker, str(p.selection), p.closing): p.price for p in got.by_match[ids["Arsenal"]]}
    assert first == {
        ("Bet365", "OU 2.5 over", False): 1.8,
        ("Bet365", "OU 2.5 under", False): 2.0,
        ("Pinnacle", "OU 2.5 over", False): 1.85,
        ("Pinnacle", "OU 2.5 under", False): 2.05,
        ("Bet365", "AH -0.5 home", False): 1.9,
        ("Bet365", "AH -0.5 away", False): 1.95,
        ("Pinnacle", "AH -0.5 home", False): 1.93,
        ("Pinnacle", "AH -0.5 away", False): 1.97,
        ("Pinnacle", "OU 2.5 over", True): 1.8,
        ("Pinnacle", "OU 2.5 under", True): 2.1,
        ("Pinnacle", "AH -0.75 home", True): 2.05,
        ("Pinnacle", "AH -0.75 away", True): 1.85,
    }  # Max (an aggregate, not asked for) and Bet365's close (not a sharp book) are not taken
    second = {(p.bookmaker, str(p.selection)) for p in got.by_match[ids["Everton"]]}
    assert second == {("Pinnacle", "OU 2.5 over"), ("Pinnacle", "OU 2.5 under")}  # the bad pairs left out
    assert len(got) == 14 and got.of([ids["Arsenal"]], closing=True) == [
        p for p in got.by_match[ids["Arsenal"]] if p.closing
    ]


SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "football-data"


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "mmz4281" / "2324").is_dir(), reason="needs the shared football-data files")
def test_the_backtest_of_one_shared_league_season_bets_and_grades_over_under(tmp_path):
    from pipeline.jobs.backtest import run

    path, bets_csv = tmp_path / "bt.json", tmp_path / "bets.csv"
    lines: list[str] = []
    code = run(SHARED, ["E0"], "2023-07-01", "2024-06-30", path, 4, None, lines.append, bets_path=bets_csv)
    assert code == 0, lines
    data = json.loads(path.read_text())
    by = data["betting"]["by_market"]
    assert set(by) == {"1X2", "OU", "AH"} and "no_close_at_line" in by["AH"]
    assert data["betting"]["overall"]["bets"] == sum(b["bets"] for b in by.values())
    bets = pd.read_csv(bets_csv)
    ou = bets[bets["market"] == "OU"]
    assert len(ou) == by["OU"]["bets"] > 0 and (ou["line"] == 2.5).all() and ou["clv_shin"].notna().all()
    assert by["OU"]["clv_fair_mean"] == pytest.approx(ou["clv_shin"].mean())
    s = data["scores"]["by_market"]
    assert s["OU"]["matches"] > 300 and s["OU"]["log_loss"]["sharp_close"] < s["OU"]["log_loss"]["dixon_coles"]
    assert s["AH"]["matches"] > 100 and s["AH"]["close_at_another_line"] > 0
    text = "\n".join(lines)
    assert "by market (overall: all together)" in text and "OU (over at 2.5" in text
