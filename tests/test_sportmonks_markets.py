"""Sportmonks' over/under and Asian handicap odds (issue 25) through the real local HTTP server
(tests/sportmonks_server.py): every bookmaker and line, label variants, string-typed numbers, an away-labelled
handicap row, stopped and bad rows, in the same calls as 1X2."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sportmonks_server import FakeSportmonks, envelope, fixture, odds, reply, scores

from pipeline.markets import Market, Selection
from pipeline.providers.base import Sanitized
from pipeline.providers.contract import BAD_LINE, BAD_PAIR_PRICE, ONE_SIDE
from pipeline.providers.sportmonks import SportmonksProvider
from pipeline.providers.sportmonks_markets import NO_SIDE

TOKEN = "test-token"
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
KO = datetime(2025, 3, 15, 15, 0, tzinfo=UTC)
DAY = "fixtures/between/2025-03-15/2025-03-15"
SEEN = "2025-03-15 11:30:00"


@pytest.fixture
def api():
    with FakeSportmonks() as server:
        yield server


def row(book, market, label, value, *, total=None, handicap=None, name=None, stopped=False, update=SEEN, bookname=None):
    r = {
        "id": hash((book, market, label, total, handicap)) % 10**9,
        "fixture_id": 1,
        "market_id": market,
        "bookmaker_id": book,
        "label": label,
        "value": value,
        "name": name if name is not None else label,
        "stopped": stopped,
        "total": total,
        "handicap": handicap,
        "latest_bookmaker_update": update,
    }
    if bookname:
        r["bookmaker"] = {"id": book, "name": bookname}
    return r


ROWS = odds(1, 2, "2.15", "3.40", "3.30", bookmaker="bet365") + [
    row(2, 80, "Over", "1.90", total="2.5", bookname="bet365"),  # string-typed numbers
    row(2, 80, "Under", "1.95", total="2.5"),
    row(2, "80", "over", 3.1, total=3.5),  # numbers, a lower-case label, a string market id
    row(2, 80, "UNDER", 1.36, total=3.5),
    row(2, 6, "Home", "1.93", handicap="-0.75"),  # a quarter line
    row(2, 6, "Away", "1.97", handicap="+0.75"),  # the away side's own handicap: the pair at -0.75
    row(9, 6, "1", "2.02", handicap="0.25", bookname="Pinnacle"),  # 1/2 labels
    row(9, 6, "2", "1.88", handicap="-0.25"),
    row(9, 80, "Over", "2.00", total="2.25", name="Over 2.25"),
    row(9, 80, "Under", "1.90", total="2.25", name="Under 2.25"),
    # the bad and the incomplete
    row(9, 80, "Over", "0.95", total="3.0"),  # impossible price: the pair dropped
    row(9, 80, "Under", "4.10", total="3.0"),
    row(9, 6, "Home", "1.90", handicap="-0.3"),  # not a quarter line
    row(9, 6, "Away", "1.90", handicap="0.3"),
    row(9, 80, "Exactly", "9.0", total="2.5"),  # no side of the market
    row(14, 80, "Over", "1.80", total="1.5"),  # one side only
    row(14, 6, "Home", "1.70", handicap="-1"),
    row(14, 6, "Away", "2.10", handicap="1", stopped=True),  # suspended: no pair, said nowhere
    row(14, 12, "Over", "1.5", total="2.5"),  # a market not asked for
]


def provider(api, **kw) -> SportmonksProvider:
    return SportmonksProvider(TOKEN, base_url=api.base_url, max_budget_wait=0.01, **kw)


def _by_key(batch):
    return {(p.bookmaker, p.selection, p.closing): p for p in batch.market_prices}


def test_two_way_markets_read_per_bookmaker_line_and_side(api):
    api.route(DAY, reply(envelope([fixture(1, odds=ROWS)])))
    batch = Sanitized(provider(api)).fixtures(KO, KO + timedelta(hours=1), NOW)
    got = _by_key(batch)
    seen = datetime(2025, 3, 15, 11, 30, tzinfo=UTC)
    assert got[("Bet365", Selection(Market.OU, 2.5, "over"), False)].price == 1.9
    assert got[("Bet365", Selection(Market.OU, 2.5, "under"), False)].fetched_at == seen
    assert got[("Bet365", Selection(Market.OU, 3.5, "under"), False)].price == 1.36
    assert got[("Bet365", Selection(Market.AH, -0.75, "home"), False)].price == 1.93
    assert got[("Bet365", Selection(Market.AH, -0.75, "away"), False)].price == 1.97
    assert got[("Pinnacle", Selection(Market.AH, 0.25, "away"), False)].price == 1.88
    assert got[("Pinnacle", Selection(Market.OU, 2.25, "over"), False)].price == 2.0
    assert len(batch.market_prices) == 2 * 5 and not any(p.closing for p in batch.market_prices)
    assert [(o.bookmaker, o.home) for o in batch.odds] == [("Bet365", 2.15)]  # 1X2 as before
    assert [(r.field, r.value, r.rule) for r in batch.rejected] == [
        ("odds[OU Over (bookmaker 9)].value", "'0.95'", BAD_PAIR_PRICE),
        ("odds[AH Home (bookmaker 9)].handicap", "'-0.3'", BAD_LINE),
        ("odds[AH Away (bookmaker 9)].handicap", "'0.3'", BAD_LINE),
        ("odds[OU Exactly (bookmaker 9)].label", "'Exactly'", NO_SIDE),
        ("odds[OU 1.5 under (bookmaker 14)]", "None", ONE_SIDE),
    ]
    assert all(r.file == "fixture 1" for r in batch.rejected) and [m.provider_id for m in batch.matches] == ["1"]


def test_asked_for_in_the_same_calls_and_the_ids_are_settings(api):
    api.route(DAY, reply(envelope([fixture(1, odds=ROWS)])))
    provider(api, bookmaker_ids=["2"]).fixtures(KO, KO + timedelta(hours=1), NOW)
    assert api.seen[-1].query["filters"] == "markets:1,80,6;bookmakers:2"
    batch = provider(api, ou_market_id=12, ah_market_id=6).fixtures(KO, KO + timedelta(hours=1), NOW)
    assert api.seen[-1].query["filters"] == "markets:1,12,6"
    assert {p.selection.line for p in batch.market_prices if p.selection.market is Market.OU} == set()  # 14: one side
    with pytest.raises(ValueError, match="must differ"):
        provider(api, ou_market_id=6, ah_market_id=6)


def test_finished_matches_report_the_last_pre_match_pair_as_closing(api):
    fx = fixture(1, state_id=5, odds=ROWS, scores=scores(1, CURRENT=(2, 1)))
    api.route("fixtures/multi/1", reply(envelope([fx])))
    batch = provider(api).results(["1"], NOW + timedelta(hours=6))
    closing = [p for p in batch.market_prices if p.closing]
    assert len(closing) == len(batch.market_prices) // 2 == 10
    assert all(p.fetched_at == datetime(2025, 3, 15, 11, 30, tzinfo=UTC) for p in closing)
    late = [dict(r, latest_bookmaker_update="2025-03-15 15:30:00") for r in ROWS]  # updated after kick-off
    api.route("fixtures/multi/1", reply(envelope([dict(fx, odds=late)])))
    batch = provider(api).results(["1"], NOW + timedelta(hours=6))
    assert batch.market_prices and not any(p.closing for p in batch.market_prices)


def test_history_keeps_the_pairs_of_finished_matches_only(api):
    done = fixture(1, state_id=5, odds=ROWS, scores=scores(1, CURRENT=(0, 0)))
    later = fixture(2, state_id=1, odds=[dict(r, fixture_id=2) for r in ROWS], starting_at="2025-03-15 18:00:00")
    api.route(DAY, reply(envelope([done, later])))
    batch = provider(api).history(KO - timedelta(hours=1), KO + timedelta(hours=5), NOW + timedelta(hours=12))
    assert {p.match_id for p in batch.market_prices} == {"1"}
