"""The Sportmonks v3 provider against a scripted local HTTP server serving the documented payload shapes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sportmonks_server import FakeSportmonks, envelope, fixture, lineup, no_result, odds, participants, reply, scores

from pipeline.providers import base
from pipeline.providers import sportmonks as sm
from pipeline.providers.base import ProviderAuthError, ProviderError
from pipeline.providers.sportmonks import SportmonksProvider

TOKEN = "sm-TOPSECRET-9f8e7d6c5b4a"
UTC = UTC
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
KO = datetime(2025, 3, 15, 15, 0, tzinfo=UTC)
DAY = "fixtures/between/2025-03-15/2025-03-15"


@pytest.fixture(autouse=True)
def token_never_logged(caplog):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG: the URL must be clean too
    yield
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


@pytest.fixture
def api():
    with FakeSportmonks() as fake:
        yield fake


def provider(api, **kw) -> SportmonksProvider:
    kw = {"backoff": 0.01, "attempts": 3, "timeout": (2.0, 5.0), **kw}
    return SportmonksProvider(TOKEN, base_url=api.base_url, **kw)


def raises_clean(exc_type, fn, *args):
    with pytest.raises(exc_type) as info:
        fn(*args)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    return info.value


# ---- requests: auth, params, pagination ------------------------------------------------------------------


def test_pages_followed_with_token_in_header_only(api):
    pages = {1: [fixture(1), fixture(2)], 2: [fixture(3)], 3: [fixture(4, starting_at="2025-03-15 19:45:00")]}
    api.route(
        DAY,
        lambda req: reply(
            envelope(pages[int(req.query["page"])], has_more=req.query["page"] != "3", page=int(req.query["page"]))
        ),
    )
    batch = provider(api, league_ids=["8", "9"], bookmaker_ids=["2"]).fixtures(
        KO - timedelta(hours=3), KO + timedelta(hours=6), NOW
    )
    assert [m.provider_id for m in batch.matches] == ["1", "2", "3", "4"]
    seen = api.requests_to(DAY)
    assert [r.query["page"] for r in seen] == ["1", "2", "3"]
    for r in seen:
        assert r.headers["Authorization"] == TOKEN
        assert TOKEN not in r.raw_url and "api_token" not in r.query
        assert r.query["per_page"] == "50"
        assert set(r.query["include"].split(";")) >= {"participants", "odds.bookmaker"}
        assert set(r.query["filters"].split(";")) == {"fixtureLeagues:8,9", "markets:1,80,6", "bookmakers:2"}
    m = batch.matches[3]
    assert (m.league, m.season, m.home_team, m.away_team, m.home_team_id, m.away_team_id, m.status) == (
        "8",
        "23614",
        "Northbridge FC",
        "Eastvale United",
        "4101",
        "4377",
        base.SCHEDULED,
    )
    assert m.kickoff == datetime(2025, 3, 15, 19, 45, tzinfo=UTC)
    assert batch.problems == []


def test_cursor_passed_back_and_window_filters_kickoff(api):
    def page(req):
        if "cursor" not in req.query:
            return reply(envelope([fixture(1, starting_at="2025-03-15 09:00:00")], has_more=True, next_cursor="abc"))
        assert req.query["cursor"] == "abc"
        return reply(envelope([fixture(2)], has_more=False))

    api.route(DAY, page)
    batch = provider(api).fixtures(datetime(2025, 3, 15, 10, tzinfo=UTC), datetime(2025, 3, 15, 16, tzinfo=UTC), NOW)
    assert [m.provider_id for m in batch.matches] == ["2"]  # 09:00 is before the window
    assert len(api.requests_to(DAY)) == 2


def test_runaway_pagination_stops_at_max_pages(api):
    api.route(DAY, lambda req: reply(envelope([fixture(int(req.query["page"]))], has_more=True)))
    err = raises_clean(ProviderError, provider(api, max_pages=3).fixtures, KO, KO + timedelta(hours=1), NOW)
    assert "3" in str(err) and "pages" in str(err)
    assert len(api.requests_to(DAY)) == 3


def test_history_splits_long_ranges_into_100_day_windows_and_keeps_finished(api):
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)  # 152 days
    w1, w2 = "fixtures/between/2024-01-01/2024-04-09", "fixtures/between/2024-04-10/2024-05-31"
    done = fixture(
        1,
        state_id=5,
        starting_at="2024-02-03 15:00:00",
        scores=scores(1, CURRENT=(2, 0)),
        odds=odds(1, 2, "1.80", "3.60", "4.50", update="2024-02-03 14:55:00"),
    )
    api.route(w1, reply(envelope([done, fixture(2, state_id=10, starting_at="2024-03-01 15:00:00")])))
    api.route(w2, reply(no_result()))
    batch = provider(api).history(start, end, NOW)
    assert [r.path for r in api.seen] == [w1, w2]
    assert [(m.provider_id, m.status, m.home_goals, m.away_goals) for m in batch.matches] == [
        ("1", base.FINISHED, 2, 0)
    ]
    pre, close = batch.odds
    assert (pre.is_closing, close.is_closing) == (False, True)
    assert (close.bookmaker, close.home, close.draw, close.away) == ("2", 1.8, 3.6, 4.5)
    assert close.fetched_at == datetime(2024, 2, 3, 14, 55, tzinfo=UTC)


# ---- empty answers ---------------------------------------------------------------------------------------


def test_message_without_data_is_an_empty_result(api, caplog):
    api.route(DAY, reply(no_result()))
    batch = provider(api).fixtures(KO, KO + timedelta(hours=1), NOW)
    assert batch.matches == [] and batch.odds == [] and batch.problems == []
    assert "No result(s) found" in caplog.text


def test_multi_reports_ids_that_do_not_come_back(api):
    api.route("fixtures/multi/1,2", reply(envelope([fixture(1, state_id=1)])))
    batch = provider(api).results(["1", "2", "../leagues"], NOW)
    assert [m.provider_id for m in batch.matches] == ["1"]
    assert any("2" in p and "not returned" in p for p in batch.problems)
    assert any("../leagues" in p for p in batch.problems)
    api.route("fixtures/multi/3", reply({"message": "No result(s) found"}, status=404))
    batch = provider(api).results(["3"], NOW)
    assert batch.matches == [] and batch.problems == ["fixture 3: not returned (unknown id or not in the subscription)"]


def test_results_are_chunked_by_fifty(api):
    ids = [str(i) for i in range(1, 121)]
    for part in (ids[:50], ids[50:100], ids[100:]):
        api.route("fixtures/multi/" + ",".join(part), reply(envelope([fixture(int(i)) for i in part])))
    batch = provider(api).results(ids, NOW)
    assert len(api.seen) == 3 and len(batch.matches) == 120 and batch.problems == []


# ---- retries, rate limits, errors ------------------------------------------------------------------------


def test_429_waits_for_the_reset_it_is_told_then_succeeds(api):
    limited = {
        "message": "Rate limit reached",
        "code": 5005,
        "rate_limit": {"resets_in_seconds": 0, "remaining": 0, "requested_entity": "Fixture"},
    }
    api.route(DAY, reply(limited, status=429), reply(envelope([fixture(1)])))
    batch = provider(api).fixtures(KO, KO + timedelta(hours=1), NOW)
    assert [m.provider_id for m in batch.matches] == ["1"]
    assert len(api.requests_to(DAY)) == 2


def test_429_with_a_long_reset_gives_up_at_once(api):
    limited = {
        "message": "Rate limit reached",
        "code": 5005,
        "rate_limit": {"resets_in_seconds": 2874, "remaining": 0, "requested_entity": "Fixture"},
    }
    api.route(DAY, reply(limited, status=429))
    p = provider(api)
    err = raises_clean(ProviderError, p.fixtures, KO, KO + timedelta(hours=1), NOW)
    assert "2874" in str(err) and "Fixture" in str(err)
    assert len(api.requests_to(DAY)) == 1
    raises_clean(ProviderError, p.results, ["1"], NOW)  # the Fixture bucket is known to be empty: no call
    assert len(api.seen) == 1


def test_exhausted_budget_waits_for_a_short_reset(api, monkeypatch):
    slept = []
    monkeypatch.setattr(sm, "_sleep", slept.append)
    api.route(DAY, reply(envelope([fixture(1)], remaining=0, resets=0.5)))
    api.route("fixtures/multi/1", reply(envelope([fixture(1)], remaining=5)))
    p = provider(api)
    p.fixtures(KO, KO + timedelta(hours=1), NOW)
    assert slept == []
    p.results(["1"], NOW)
    assert len(slept) == 1 and 0 < slept[0] <= 0.5
    assert len(api.seen) == 2


def test_exhausted_budget_with_a_long_reset_raises(api):
    api.route(DAY, reply(envelope([fixture(1)], remaining=0, resets=1800)))
    p = provider(api)
    assert len(p.fixtures(KO, KO + timedelta(hours=1), NOW).matches) == 1  # this answer is still good
    err = raises_clean(ProviderError, p.results, ["1"], NOW)
    assert "exhausted" in str(err) and "Fixture" in str(err)
    assert len(api.seen) == 1


def test_server_errors_are_retried_then_succeed(api):
    api.route(
        DAY, reply("oops", status=500), reply("<html>bad gateway</html>", status=502), reply(envelope([fixture(1)]))
    )
    batch = provider(api, attempts=3).fixtures(KO, KO + timedelta(hours=1), NOW)
    assert len(batch.matches) == 1 and len(api.seen) == 3


def test_server_errors_until_giving_up(api, caplog):
    api.route(DAY, reply("oops", status=503))
    err = raises_clean(ProviderError, provider(api, attempts=3).fixtures, KO, KO + timedelta(hours=1), NOW)
    assert "503" in str(err) and not isinstance(err, ProviderAuthError)
    assert len(api.seen) == 3
    assert "retrying" in caplog.text


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_is_an_auth_error_without_the_token(api, status):
    api.route(DAY, reply({"message": f"Unauthenticated token {TOKEN}"}, status=status))
    err = raises_clean(ProviderAuthError, provider(api).fixtures, KO, KO + timedelta(hours=1), NOW)
    assert str(status) in str(err) and "SPORTMONKS_API_KEY" in str(err)
    assert len(api.seen) == 1  # no retry helps a bad key


def test_client_error_message_is_reported_redacted(api):
    api.route(DAY, reply({"message": f"Invalid filter for token {TOKEN}", "code": 5010}, status=400))
    err = raises_clean(ProviderError, provider(api).fixtures, KO, KO + timedelta(hours=1), NOW)
    assert "HTTP 400" in str(err) and "5010" in str(err) and "***" in str(err)


def test_truncated_body_is_fetched_once_more(api):
    api.route(DAY, reply('{"data": [{"id": 1, "sta'), reply(envelope([fixture(1)])))
    assert len(provider(api).fixtures(KO, KO + timedelta(hours=1), NOW).matches) == 1
    assert len(api.seen) == 2


def test_malformed_json_twice_is_a_provider_error(api):
    api.route(DAY, reply("not json at all"))
    err = raises_clean(ProviderError, provider(api).fixtures, KO, KO + timedelta(hours=1), NOW)
    assert "not JSON" in str(err)
    assert len(api.seen) == 2


def test_check_makes_one_cheap_call(api):
    api.route(
        "leagues",
        reply(envelope([{"id": 8, "name": "Premier League"}], has_more=True, entity="League", remaining=2990)),
    )
    assert provider(api).check(NOW) == "sportmonks: ok (League calls left this hour: 2990)"
    assert len(api.seen) == 1 and api.seen[0].query["per_page"] == "1"


def test_token_required_and_not_in_repr(api):
    with pytest.raises(ProviderAuthError):
        SportmonksProvider("")
    assert TOKEN not in repr(provider(api))


# ---- payload reading -------------------------------------------------------------------------------------


def test_malformed_fixtures_become_problems(api):
    no_teams = fixture(2, participants=[])
    one_side = fixture(3, participants=participants()[:1])
    bad_kickoff = fixture(4, starting_at="next Saturday")
    unknown_state = fixture(5, state_id=99)
    no_league = fixture(6, league_id=None)
    api.route(
        DAY,
        reply(
            envelope([fixture(1), no_teams, one_side, bad_kickoff, unknown_state, no_league, "junk", {"name": "no id"}])
        ),
    )
    batch = provider(api).fixtures(KO - timedelta(hours=15), KO + timedelta(hours=1), NOW)
    assert [m.provider_id for m in batch.matches] == ["1"]
    assert len(batch.problems) == 7
    text = "\n".join(batch.problems)
    for expected in (  # each named once: the fixture, the field and its value, the rule
        "fixture 2: participants []: missing home or away participant; row skipped",
        "fixture 3: participants ['home']: missing home or away",
        "fixture 4: starting_at 'next Saturday': bad kick-off",
        "fixture 5: state_id 99: unknown state_id",
        "fixture 6: league_id (None, ",
        "fixture without an id: id 'junk': no fixture id",
    ):
        assert expected in text
    assert [r.file for r in batch.rejected] == [f"fixture {i}" for i in (2, 3, 4, 5, 6)] + ["fixture without an id"] * 2


def test_kickoff_prefers_the_epoch_timestamp(api):
    api.route(DAY, reply(envelope([fixture(1, starting_at="2025-03-15 15:00:00", timestamp=1742054400)])))
    (m,) = provider(api).fixtures(KO - timedelta(hours=15), KO + timedelta(hours=9), NOW).matches
    assert m.kickoff == datetime(2025, 3, 15, 16, 0, tzinfo=UTC) and m.kickoff.tzinfo is not None


def test_odds_normalised_per_bookmaker(api):
    rows = (
        odds(1, 2, "2.15", "3.40", "3.30")  # Home/Draw/Away
        + odds(1, 14, "2.10", "3.50", "3.25", labels=("1", "X", "2"), update=None)  # 1/X/2, no timestamp
        + odds(1, 20, "2.00", "3.30", "3.60", stopped=("Draw",))  # suspended draw
        + odds(1, 21, "1.00", "3.30", "3.60")  # impossible price
        + odds(1, 22, "abc", "3.30", "3.60")  # not a number
        + odds(1, 23, 2.2, 3.3, 3.4, update="2025-03-15 11:00:00")  # numbers accepted
        + odds(1, 2, "1.50", "2.00", "9.00", market_id=2)
    )  # another market (Double Chance), not asked for
    api.route(DAY, reply(envelope([fixture(1, odds=rows)])))
    batch = provider(api).fixtures(KO, KO + timedelta(hours=1), NOW)
    got = {o.bookmaker: o for o in batch.odds}
    assert set(got) == {"2", "14", "23"}
    assert all(not o.is_closing and o.match_id == "1" and o.market == "1X2" for o in batch.odds)
    assert (got["2"].home, got["2"].draw, got["2"].away) == (2.15, 3.4, 3.3)
    assert got["2"].fetched_at == datetime(2025, 3, 15, 14, 58, 40, tzinfo=UTC)
    assert (got["14"].home, got["14"].draw, got["14"].away, got["14"].fetched_at) == (2.1, 3.5, 3.25, NOW)
    assert isinstance(got["23"].home, float)
    # incomplete markets are dropped in silence; impossible prices drop their bookmaker with a line each
    assert batch.problems == [
        "fixture 1: odds[home] (bookmaker 21) '1.00': price not a number in 1.01..1000; "
        "this bookmaker's prices on the row ignored",
        "fixture 1: odds[home] (bookmaker 22) 'abc': price not a number in 1.01..1000; "
        "this bookmaker's prices on the row ignored",
    ]
    assert [m.provider_id for m in batch.matches] == ["1"]  # the fixture itself is fine


def test_bookmaker_preference_orders_closing_prices(api):
    rows = odds(1, 2, "2.0", "3.4", "3.9") + odds(1, 14, "2.1", "3.3", "3.7") + odds(1, 30, "2.2", "3.2", "3.5")
    api.route(
        "fixtures/multi/1", reply(envelope([fixture(1, state_id=5, odds=rows, scores=scores(1, CURRENT=(0, 0)))]))
    )
    batch = provider(api, bookmaker_ids=["14", "2"]).results(["1"], NOW)
    assert [o.bookmaker for o in batch.odds if o.is_closing] == ["14", "2"]  # 30 is not wanted at all
    assert api.seen[0].query["filters"] == "markets:1,80,6;bookmakers:14,2"  # 1X2, over/under, Asian handicap


def test_every_bookmaker_is_named_canonically(api):
    rows = (
        odds(1, 2, "2.0", "3.4", "3.9", bookmaker="bet365")
        + odds(1, 14, "2.1", "3.3", "3.7", bookmaker="Pinnacle")
        + odds(1, 9, "2.2", "3.2", "3.5", bookmaker="Some New Book")
        + odds(1, 30, "2.3", "3.1", "3.4")
    )
    api.route(
        "fixtures/multi/1", reply(envelope([fixture(1, state_id=5, odds=rows, scores=scores(1, CURRENT=(0, 0)))]))
    )
    batch = provider(api).results(["1"], NOW)
    assert {(o.bookmaker, o.is_closing) for o in batch.odds} == {
        (b, c) for b in ("Bet365", "Pinnacle", "Some New Book", "30") for c in (False, True)
    }
    assert "odds.bookmaker" in api.seen[0].query["include"].split(";")


def test_odds_seen_after_kickoff_are_not_closing(api):
    rows = odds(1, 2, "2.0", "3.4", "3.9", update="2025-03-15 15:30:00")
    api.route(
        "fixtures/multi/1", reply(envelope([fixture(1, state_id=5, odds=rows, scores=scores(1, CURRENT=(1, 0)))]))
    )
    batch = provider(api).results(["1"], NOW)
    assert [o.is_closing for o in batch.odds] == [False]


@pytest.mark.parametrize(
    "state_id, periods, expected",
    [
        (5, {"1ST_HALF": (1, 1), "2ND_HALF": (2, 1), "2ND_HALF_ONLY": (1, 0), "CURRENT": (2, 1)}, (2, 1)),
        # After extra time: CURRENT includes it; the 90-minute score was 1-1, a draw.
        (7, {"1ST_HALF": (0, 1), "2ND_HALF": (1, 1), "2ND_HALF_ONLY": (1, 0), "CURRENT": (2, 1)}, (1, 1)),
        # Penalties: the shoot-out never counts.
        (
            8,
            {
                "1ST_HALF": (0, 0),
                "2ND_HALF": (0, 0),
                "2ND_HALF_ONLY": (0, 0),
                "CURRENT": (1, 1),
                "PENALTY_SHOOTOUT": (5, 4),
            },
            (0, 0),
        ),
        (7, {"1ST_HALF": (1, 0), "2ND_HALF_ONLY": (0, 1), "CURRENT": (2, 1)}, (1, 1)),  # no cumulative row: summed
        (7, {"1ST_HALF": (1, 0), "2ND_HALF": (2, 0), "2ND_HALF_ONLY": (0, 0), "CURRENT": (3, 0)}, None),  # disagree
        (8, {"CURRENT": (1, 1), "PENALTY_SHOOTOUT": (4, 3)}, None),  # 90 minutes unknown
        (5, {}, None),
    ],
)
def test_settles_on_the_ninety_minute_score(api, state_id, periods, expected):
    api.route("fixtures/multi/1", reply(envelope([fixture(1, state_id=state_id, scores=scores(1, **periods))])))
    batch = provider(api).results(["1"], NOW)
    (m,) = batch.matches
    assert m.status == base.FINISHED
    assert (m.home_goals, m.away_goals) == (expected or (None, None))
    assert bool(batch.problems) == (expected is None)


def test_scores_mapped_by_participant_id_when_side_missing(api):
    rows = scores(1, CURRENT=(3, 1))
    for r in rows:
        del r["score"]["participant"]
    rows.reverse()
    api.route("fixtures/multi/1", reply(envelope([fixture(1, state_id=5, scores=rows)])))
    (m,) = provider(api).results(["1"], NOW).matches
    assert (m.home_goals, m.away_goals) == (3, 1)


STATES = {
    1: base.SCHEDULED,
    13: base.SCHEDULED,
    16: base.SCHEDULED,
    26: base.SCHEDULED,
    **{i: base.LIVE for i in (2, 3, 4, 6, 9, 11, 18, 19, 21, 22, 23, 25)},
    5: base.FINISHED,
    7: base.FINISHED,
    8: base.FINISHED,
    10: base.POSTPONED,
    12: base.CANCELLED,
    15: base.ABANDONED,
    20: base.CANCELLED,
    14: base.CANCELLED,
    17: base.ABANDONED,
}


def test_states_map_by_id(api):
    ids = sorted(STATES)
    api.route(
        "fixtures/multi/" + ",".join(map(str, ids)),
        reply(
            envelope([fixture(i, state_id=i, scores=scores(i, CURRENT=(1, 0), **{"2ND_HALF": (1, 0)})) for i in ids])
        ),
    )
    batch = provider(api).results([str(i) for i in ids], NOW)
    assert {int(m.provider_id): m.status for m in batch.matches} == STATES
    assert 24 not in STATES and set(STATES.values()) == {
        base.SCHEDULED,
        base.LIVE,
        base.FINISHED,
        base.POSTPONED,
        base.CANCELLED,
        base.ABANDONED,
    }
    for m in batch.matches:
        assert (m.home_goals is not None) == (m.status == base.FINISHED)


# ---- lineups ---------------------------------------------------------------------------------------------


def test_lineups_keep_starters_and_sides(api):
    full = fixture(
        1,
        lineups=[
            lineup(1, 4101, 70011, position_id=24),
            lineup(1, 4101, 70418, position_id=27),
            lineup(1, 4101, 70990, type_id=12),
            lineup(1, 4377, 81002, position_id=24),
            lineup(1, 4377, 81777, type_id=12),
        ],
    )
    half = fixture(2, lineups=[lineup(2, 4101, 1)])  # only the home side so far
    none_yet = fixture(3, lineups=[])
    stray = fixture(4, lineups=[lineup(4, 4101, 5), lineup(4, 4377, 6), lineup(4, 999, 7)])
    api.route("fixtures/multi/1,2,3,4", reply(envelope([full, half, none_yet, stray])))
    got = provider(api).lineups(["1", "2", "3", "4"], NOW)
    assert set(got) == {"1", "4"}
    players = {(p.player_id, p.side, p.position) for p in got["1"].players}
    assert players == {("70011", "home", "GK"), ("70418", "home", "ATT"), ("81002", "away", "GK")}
    assert got["1"].match_id == "1" and all(p.name.startswith("Player") for p in got["1"].players)
    assert {p.player_id for p in got["4"].players} == {"5", "6"}
    req = api.seen[0]
    assert req.query["filters"] == "lineupTypes:11" and set(req.query["include"].split(";")) == {
        "participants",
        "lineups",
    }
    assert req.headers["Authorization"] == TOKEN
