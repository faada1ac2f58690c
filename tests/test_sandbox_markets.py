"""The sandbox's over/under and Asian handicap prices: every book quotes the same lines from the first price to the
close, the sharp book's margin-free price is near the known truth and the soft books' further from it (with real
edges), everything is a function of the seed, and the models' over/under probabilities score within 0.02 log loss
of the truth's on held-out simulated matches (issue 25's acceptance)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline.bookmakers import SOFT_DEFAULT
from pipeline.forecast.market_probs import total_over, two_way, xg_matrix
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.markets import Market, Selection
from pipeline.odds import implied_probabilities
from pipeline.providers.base import FINISHED, Batch, sanitize_batch
from pipeline.providers.sandbox import BOOKS, SHARP_BOOK, SandboxProvider
from pipeline.providers.sandbox_markets import AH_LINES

SEASON = (datetime(2024, 8, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC))
NOW = datetime(2025, 7, 1, tzinfo=UTC)


def small_world(seed: int = 5) -> SandboxProvider:
    return SandboxProvider(seed=seed, leagues=2, teams_per_league=12, first_season=2024)


@pytest.fixture(scope="module")
def season():
    sb = small_world()
    return sb, sb.history(*SEASON, NOW)


def quotes(batch, closing: bool) -> dict[tuple[str, str], dict[Selection, float]]:
    """(match, book) -> {selection: price}."""
    out: dict = defaultdict(dict)
    for p in batch.market_prices:
        if p.closing == closing:
            out[(p.match_id, p.bookmaker)][p.selection] = p.price
    return out


def pairs(quoted: dict[Selection, float]) -> dict[tuple[Market, float], tuple[float, float]]:
    """{(market, line): (over, under) or (home, away) price}."""
    out = {}
    for s in quoted:
        if s.index == 0:
            out[(s.market, s.line)] = (quoted[s], quoted[s.others()[0]])
    return out


def test_every_book_quotes_the_same_lines_pre_match_and_at_the_close(season):
    sb, batch = season
    ids = [m.provider_id for m in batch.matches]
    assert len(ids) > 200 and all(m.status == FINISHED for m in batch.matches)
    pre, close = quotes(batch, False), quotes(batch, True)
    rates = sb.true_goal_rates(ids)
    assert set(rates) == set(ids) and sb.true_goal_rates(["SIM9-2425-R01-01", "nonsense"]) == {}
    expected = xg_matrix(*np.array([(sb._lookup(i)["lam_e"], sb._lookup(i)["mu_e"]) for i in ids]).T, max_goals=15)
    home = np.column_stack([two_way(expected, "AH", h)[:, 0] for h in AH_LINES])
    even = dict(zip(ids, AH_LINES[np.argmin(np.abs(home - 0.5), axis=1)]))
    main_totals = set()
    for m in batch.matches:
        mid = m.provider_id
        lines = set(pairs(pre[(mid, SHARP_BOOK)]))
        for book in BOOKS:  # every book, pre-match and closing, the same lines, both sides of each
            for quoted in (pre[(mid, book)], close[(mid, book)]):
                assert set(pairs(quoted)) == lines and len(quoted) == 2 * len(lines)
        totals = sorted(line for market, line in lines if market is Market.OU)
        handicaps = [line for market, line in lines if market is Market.AH]
        assert 2.5 in totals and len(totals) <= 2 and len(handicaps) == 1
        # the main total nearest the expected total goals in quarter steps, the handicap whose fair price is nearest
        # even: both from the public's expectation (a line chosen from the XI that starts would give it away)
        rec = sb._lookup(mid)
        main = next((t for t in totals if t != 2.5), 2.5)
        assert abs(main - (rec["lam_e"] + rec["mu_e"])) <= 0.125 and abs(main - sum(rates[mid])) < 0.5
        main_totals.add(main)
        assert handicaps[0] == even[mid]
        assert all((line * 4) == round(line * 4) for line in (*totals, *handicaps))
    assert len(main_totals) >= 4 and any(line % 0.5 for line in main_totals)  # quarter lines are quoted
    # when a price was seen: a day before kick-off pre-match, at kick-off closing, as for 1X2
    kickoff = {m.provider_id: m.kickoff for m in batch.matches}
    assert all(p.fetched_at == kickoff[p.match_id] - (not p.closing) * timedelta(days=1) for p in batch.market_prices)
    # the door's sanitising keeps them all
    assert len(sanitize_batch(sb.history(*SEASON, NOW)).market_prices) == len(batch.market_prices)


def fair_errors(sb, batch, closing: bool) -> dict[str, float]:
    """Each book's mean absolute error of its margin-free (Shin) probability against the truth, every line."""
    truth = sb.true_two_way([m.provider_id for m in batch.matches])
    err = {}
    for book in BOOKS:
        got, want = [], []
        for (mid, b), quoted in quotes(batch, closing).items():
            if b == book:
                for (market, line), prices in pairs(quoted).items():
                    got.append(prices)
                    want.append(truth[mid][Selection(market, line, "over" if market is Market.OU else "home")])
        err[book] = float(np.abs(implied_probabilities(np.array(got), "shin")[:, 0] - np.array(want)).mean())
    return err


def test_sharp_margin_free_price_near_the_truth_soft_books_noisier_with_real_edges(season):
    sb, batch = season
    for closing in (False, True):
        err = fair_errors(sb, batch, closing)
        # (measured: a day out sharp 0.0072, soft 0.0122-0.0156; closing sharp 0.0053, soft 0.0094-0.0121)
        assert err[SHARP_BOOK] < (0.01 if not closing else 0.007), err
        assert all(err[SHARP_BOOK] < 0.7 * err[b] for b in SOFT_DEFAULT), err
    for book, lo, hi in ((SHARP_BOOK, 0.02, 0.03), ("Bet365", 0.045, 0.055), ("Interwetten", 0.065, 0.075)):
        pre = quotes(batch, False)
        over = [sum(1 / p for p in pr) - 1 for (_, b), q in pre.items() if b == book for pr in pairs(q).values()]
        assert lo < np.mean(over) < hi, book
    # the sharp line moves towards the truth as kick-off nears (the XI is out an hour before); a soft price beating
    # the sharp fair line by 5% is value against the truth
    truth = sb.true_two_way([m.provider_id for m in batch.matches])
    evs, true_ev, err = [], [], {}
    for hours in (40, 6, 0.5):
        prices, true_p = [], []
        for m in batch.matches:
            at = m.kickoff - timedelta(hours=hours)
            quoted = quotes(Batch(market_prices=sb._market_prices(sb._lookup(m.provider_id), at, BOOKS)), False)
            for key in pairs(quoted[(m.provider_id, SHARP_BOOK)]):
                prices.append([pairs(quoted[(m.provider_id, b)])[key] for b in BOOKS])  # (books, 2)
                true_p.append(truth[m.provider_id][Selection(*key, "over" if key[0] is Market.OU else "home")])
        o = np.array(prices)
        fair = implied_probabilities(o[:, BOOKS.index(SHARP_BOOK)], "shin")
        truth_pair = np.column_stack([true_p, 1 - np.array(true_p)])
        err[hours] = np.abs(fair - truth_pair)[:, 0].mean()
        best = o[:, [BOOKS.index(b) for b in SOFT_DEFAULT]].max(axis=1)
        value = fair * best - 1 >= 0.05
        evs.extend((fair * best - 1)[value])
        true_ev.extend((truth_pair * best - 1)[value])
    # (measured: sharp error 0.0078 / 0.0063 / 0.0054; 32 value prices in 2,274 looks, their true EV +6.1%)
    assert err[40] > err[6] > err[0.5], err
    assert len(evs) >= 20 and np.mean(true_ev) > 0.02, (len(evs), np.mean(true_ev))


def test_prices_are_a_function_of_the_seed_and_agree_across_questions(season):
    sb, batch = season
    again = small_world().history(*SEASON, NOW)
    assert again.market_prices == batch.market_prices and again.odds == batch.odds
    other = small_world(seed=6).history(*SEASON, NOW)
    assert other.market_prices != batch.market_prices
    # the closing prices settlement fetches are the history's; a fixture's pre-match price a day out is the history's
    m = next(m for m in batch.matches if m.kickoff.minute == 0)
    finished = sb.results([m.provider_id], m.kickoff + timedelta(hours=3))
    assert finished.market_prices == [p for p in batch.market_prices if p.match_id == m.provider_id and p.closing]
    day_before = m.kickoff - timedelta(days=1)
    ahead = sb.fixtures(m.kickoff - timedelta(hours=1), m.kickoff + timedelta(hours=1), day_before)
    assert [p for p in ahead.market_prices if p.match_id == m.provider_id] == [
        p for p in batch.market_prices if p.match_id == m.provider_id and not p.closing
    ]
    # the 1X2 prices are still the ones `_price` makes (their random stream is not shared with these)
    rec = sb._lookup(m.provider_id)
    assert [o for o in ahead.odds if o.match_id == m.provider_id] == [sb._price(rec, day_before, b) for b in BOOKS]


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_dixon_coles_over_under_within_002_log_loss_of_the_truth():
    """Dixon-Coles fitted on the simulated seasons before, refitted each quarter of the held-out season (only the
    matches before the quarter starts), predicts expected goals; its over/under 2.5 probabilities against the
    truth's (the world's goal rates through the same function) on the realised totals."""
    # four seasons before the held-out one (the model keeps three): with two, a world of more extreme teams leaves
    # the fit further from the truth (seed 2: 0.043)
    sb = SandboxProvider(seed=23, leagues=2, teams_per_league=20, first_season=2019)
    end = datetime(2024, 6, 1, tzinfo=UTC)
    # the results from the world's records (what `history` reports, without pricing thousands of matches): the
    # three seasons the model keeps, and the held-out one
    frame = pd.DataFrame(
        {
            "match_id": m["match_id"],
            "league": sb.league_codes()[m["league"]],
            "kickoff": pd.Timestamp(m["kickoff"]),
            "home_team": sb.team_name(m["league"], m["home"]),
            "away_team": sb.team_name(m["league"], m["away"]),
            "home_goals": float(m["hg"]),
            "away_goals": float(m["ag"]),
        }
        for m in sb._matches(datetime(2020, 7, 1, tzinfo=UTC), end)
        if not m["postponed"]
    ).sort_values("kickoff", kind="stable")
    held_out = frame[frame["kickoff"] >= pd.Timestamp("2023-08-01", tz="UTC")]
    quarters = held_out["kickoff"].dt.tz_localize(None).dt.to_period("Q-JUL")
    rows, xg = [], []
    for quarter, g in held_out.groupby(quarters):
        start = quarter.start_time.tz_localize("UTC")
        model = DixonColesModel().fit(frame[frame["kickoff"] < start], reference_time=start)
        rows.append(g)
        xg.append(model.expected_goals(g.reset_index(drop=True)))
    g = pd.concat(rows)
    xg_ = np.concatenate(xg)
    rates = sb.true_goal_rates(g["match_id"].tolist())
    true = np.array([rates[m] for m in g["match_id"]])
    assert len(g) >= 700
    y = ((g["home_goals"] + g["away_goals"]).to_numpy() > 2.5).astype(float)
    model_p = total_over(xg_matrix(xg_[:, 0], xg_[:, 1]), 2.5)
    true_p = total_over(xg_matrix(true[:, 0], true[:, 1], max_goals=15), 2.5)
    model_ll, true_ll = _log_loss(model_p, y), _log_loss(true_p, y)
    base_ll = _log_loss(np.full(len(y), y.mean()), y)
    # the sharp book's margin-free close on the same matches, for scale
    close = {
        (p.match_id, p.selection.side): p.price
        for p in sb.results(g["match_id"].tolist(), end).market_prices
        if p.bookmaker == SHARP_BOOK and p.selection.market is Market.OU and p.selection.line == 2.5
    }
    sharp_p = implied_probabilities(
        np.array([[close[(m, "over")], close[(m, "under")]] for m in g["match_id"]]), "shin"
    )
    sharp_ll = _log_loss(sharp_p[:, 0], y)
    print(
        f"OU 2.5 log loss on {len(y)}: model {model_ll:.4f} truth {true_ll:.4f} sharp close {sharp_ll:.4f}",
        f"base {base_ll:.4f}",
    )
    # (measured: model 0.5739, truth 0.5596, sharp close 0.5592, base rate 0.6634 on 750 held-out matches; the gap
    # on seeds 1, 2, 3, 5: 0.002, 0.017, 0.018, 0.012)
    assert model_ll - true_ll <= 0.02, (model_ll, true_ll)
    assert true_ll < base_ll - 0.05 and model_ll < base_ll - 0.05  # the truth and the model know something
    assert abs(sharp_ll - true_ll) < 0.005


def test_history_without_markets_is_the_same_history_without_two_way_prices(season):
    sb, batch = season
    bare = sb.history(*SEASON, NOW, markets=False)
    assert bare.market_prices == [] and batch.market_prices
    assert bare.odds == batch.odds and [m.provider_id for m in bare.matches] == [m.provider_id for m in batch.matches]
