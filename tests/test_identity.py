"""Who is who (issue 22): a club is identified within its country, a rescheduled match is one fixture, a genuine
second meeting another. On copies of the real E0/D1 files with the fault written in."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FOOTBALL_DATA, ROOT, insert_prediction_and_bet, make_env, needs_shared
from sqlalchemy import select, text

from pipeline.forecast.features import TEAM_KEYS, form_features
from pipeline.forecast.models.dixon_coles import DixonColesModel
from pipeline.forecast.models.elo import EloModel
from pipeline.providers.football_data import FootballDataProvider, frame_to_batch, load_matches
from pipeline.providers.football_data_identity import country_of, identify
from pipeline.store import load_match_frame, make_engine, migrate, store_batch
from pipeline.store import schema as s

pytestmark = needs_shared()
SEASONS = ("2223", "2324")
LAST_ROUND = "19/05/2024"


def copy_files(root: Path, leagues, seasons=SEASONS, edit=None) -> Path:
    """Real season files under root/mmz4281, each passed through `edit(league, text)`."""
    for season in seasons:
        for league in leagues:
            dst = root / "mmz4281" / season / f"{league}.csv"
            dst.parent.mkdir(parents=True, exist_ok=True)
            body = (FOOTBALL_DATA / "mmz4281" / season / f"{league}.csv").read_text(encoding="utf-8-sig")
            dst.write_text(edit(league, body) if edit else body)
    return root


def bremen_is_newcastle(league: str, body: str) -> str:
    return body.replace("Werder Bremen", "Newcastle") if league == "D1" else body


# ---- clubs ----------------------------------------------------------------------------------------------------


def test_two_clubs_with_one_name_in_two_countries_are_two_clubs(tmp_path):
    renamed, _ = load_matches(copy_files(tmp_path / "renamed", ("E0", "D1"), edit=bremen_is_newcastle))
    real, _ = load_matches(copy_files(tmp_path / "real", ("E0", "D1")))
    e0, d1 = renamed[renamed["league"] == "E0"], renamed[renamed["league"] == "D1"]
    assert "Newcastle" in set(d1["home_team"]) and "Newcastle" in set(e0["home_team"])
    keys = {lg: set(part["home_team_key"]) | set(part["away_team_key"]) for lg, part in (("E0", e0), ("D1", d1))}
    assert not keys["E0"] & keys["D1"]  # E0 and D1 share no team id
    assert {"ENG:newcastle", "GER:newcastle"} <= keys["E0"] | keys["D1"]

    elo, elo_real = EloModel().fit(renamed), EloModel().fit(real)
    eng, ger = elo.ratings_["ENG:newcastle"], elo.ratings_["GER:newcastle"]
    assert abs(eng - ger) > 50  # two clubs, two ratings
    # each rating is its own club's, as if the other club did not share its name
    assert eng == pytest.approx(elo_real.ratings_["ENG:newcastle"], abs=1e-9)
    assert ger == pytest.approx(elo_real.ratings_["GER:werder_bremen"], abs=1e-9)
    # keyed by the bare name (what the models did before), the two clubs' results fed one rating
    by_name = EloModel().fit(renamed.drop(columns=list(TEAM_KEYS)))
    assert "Newcastle" in by_name.ratings_ and by_name.ratings_["Newcastle"] not in (
        pytest.approx(eng, abs=1e-6),
        pytest.approx(ger, abs=1e-6),
    )

    # form: the German club's form is Werder Bremen's, untouched by the English club's matches
    form, form_real = form_features(renamed), form_features(real)
    ger_rows = (renamed["league"] == "D1") & (renamed["home_team"] == "Newcastle")
    got = form.loc[ger_rows, "home_form_goals_for"].to_numpy()
    want = form_real.set_index(real["match_id"]).loc[
        real["match_id"][(real["league"] == "D1") & (real["home_team"] == "Werder Bremen")], "home_form_goals_for"
    ]
    np.testing.assert_allclose(got, want.to_numpy(), rtol=0, atol=1e-12)


def test_the_store_keeps_two_clubs_of_one_name_apart_and_the_models_read_them_so(tmp_path):
    data = copy_files(tmp_path / "data", ("E0", "D1"), seasons=("2324",), edit=bremen_is_newcastle)
    frame, problems = load_matches(data)
    assert problems == []
    engine = make_engine(f"sqlite:///{tmp_path / 'predictions.db'}")
    migrate(engine, tmp_path / "locks")
    now = datetime(2024, 6, 1, tzinfo=UTC)
    with engine.begin() as conn:
        store_batch(conn, "football-data", frame_to_batch(frame), now)
        newcastles = conn.execute(
            select(s.teams.c.id, s.teams.c.provider_id, s.teams.c.league_code).where(s.teams.c.name == "Newcastle")
        ).all()
        shared = conn.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT home_team_id t FROM fixtures WHERE league_code = 'E0' UNION "
                "SELECT away_team_id FROM fixtures WHERE league_code = 'E0') e JOIN (SELECT home_team_id t "
                "FROM fixtures WHERE league_code = 'D1' UNION SELECT away_team_id FROM fixtures "
                "WHERE league_code = 'D1') d ON e.t = d.t"
            )
        ).scalar()
        stored = load_match_frame(conn, "football-data", prematch_odds=False)
    engine.dispose()
    assert sorted((r.provider_id, r.league_code) for r in newcastles) == [
        ("ENG:newcastle", "E0"),
        ("GER:newcastle", "D1"),
    ]
    assert len({r.id for r in newcastles}) == 2 and shared == 0
    assert len(stored) == len(frame) == 686
    elo = EloModel().fit(stored)
    assert elo.ratings_["ENG:newcastle"] != elo.ratings_["GER:newcastle"]


def test_a_club_relegated_within_its_country_stays_one_club(tmp_path):
    """E0 2022-23, and the 2023-24 file written as E1 (another division of the same country)."""
    data = copy_files(tmp_path / "data", ("E0",), seasons=("2223",))
    body = (FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv").read_text(encoding="utf-8-sig")
    (data / "mmz4281" / "2324").mkdir()
    (data / "mmz4281" / "2324" / "E1.csv").write_text(body.replace("\nE0,", "\nE1,"))
    frame, problems = load_matches(data)
    assert problems == [] and set(frame["league"]) == {"E0", "E1"}
    assert country_of("E0") == country_of("E1") == country_of("EC") == "ENG" != country_of("D1")
    names = set(frame["home_team"]) | set(frame["away_team"])
    keys = set(frame["home_team_key"]) | set(frame["away_team_key"])
    assert len(keys) == len(names) == 23  # Arsenal of E0 and Arsenal of E1: one club
    elo = EloModel(promoted_offset=0).fit(frame)
    e1 = frame[frame["league"] == "E1"]
    first = e1.groupby("home_team_key")["match_id"].first()
    stayed = [k for k in first.index if k in set(frame.loc[frame["league"] == "E0", "home_team_key"])]
    assert len(stayed) == 17  # the clubs of both seasons carry their E0 rating into E1, not a newcomer's 1500
    assert all(elo.history_.loc[first[k], "home_rating"] != 1500.0 for k in stayed)


def test_an_alias_maps_a_spelling_onto_one_club_and_one_match():
    frame = pd.DataFrame(
        {
            "league": ["E0", "E0"],
            "season": ["2324", "2324"],
            "kickoff": pd.to_datetime(["2024-05-19 15:00", "2024-05-22 18:30"], utc=True),
            "home_team": ["Nottm Forest", "Nott'm Forest"],
            "away_team": ["Burnley", "Burnley"],
        }
    )
    plain = identify(frame, aliases={})
    assert plain["home_team_key"].nunique() == 2  # without the alias: two spellings, two clubs
    aliased = identify(frame, aliases={"ENG": {"Nottm Forest": "Nott'm Forest"}})
    assert set(aliased["home_team"]) == {"Nott'm Forest"} and set(aliased["home_team_key"]) == {"ENG:nott_m_forest"}
    assert list(aliased["match_id"]) == ["E0-2324-nott_m_forest-burnley", "E0-2324-nott_m_forest-burnley-2"]
    # case, accents and punctuation never make two clubs
    folded = identify(frame.assign(home_team=["Bayern München", "bayern munchen"], league=["D1", "D1"]), {})
    assert set(folded["home_team_key"]) == {"GER:bayern_munchen"}


def test_a_set_saved_before_team_keys_predicts_as_it_did(tmp_path):
    """Models fitted on names (a set deployed before this change has no `team_columns_`) go on keying by name when
    the frames carry team keys, so the deployed set predicts exactly as before until the next training."""
    frame, _ = load_matches(copy_files(tmp_path, ("E0",), seasons=("2324",)))
    train, upcoming = frame.iloc[:300], frame.iloc[300:].assign(home_goals=np.nan, away_goals=np.nan)
    names_only = train.drop(columns=list(TEAM_KEYS))
    for model in (EloModel(burn_in=50), DixonColesModel()):
        old = model.fit(names_only)
        del old.team_columns_  # as pickled by the version before
        np.testing.assert_array_equal(
            old.predict_proba(upcoming), old.predict_proba(upcoming.drop(columns=list(TEAM_KEYS)))
        )
        new = type(model)(**model.get_params()).fit(train)
        assert new.team_columns_ == TEAM_KEYS
        np.testing.assert_allclose(new.predict_proba(upcoming), old.predict_proba(upcoming), rtol=0, atol=1e-12)


# ---- matches ---------------------------------------------------------------------------------------------------


def last_round_site(root: Path, relist: str | None = "22/05/2024", again: tuple[str, str, str] | None = None) -> Path:
    """The real E0 2023-24 file up to the eve of its last round, and that round as fixtures.csv (scores blanked):
    Brentford v Newcastle listed again on `relist` (rescheduled), and `again` = (home, away, date) a real row of
    the season listed once more on that date."""
    season = root / "mmz4281" / "2324"
    season.mkdir(parents=True)
    lines = (FOOTBALL_DATA / "mmz4281" / "2324" / "E0.csv").read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], lines[1:]
    cols = header.split(",")
    played = [r for r in rows if r.split(",")[1] != LAST_ROUND]
    (season / "E0.csv").write_text("\n".join([header, *played]) + "\n")
    blank = {cols.index(c) for c in ("FTHG", "FTAG", "FTR", "HTHG", "HTAG", "HTR")}

    def listed(row: str, date: str | None = None, time: str = "19:30") -> str:
        f = ["" if i in blank else v for i, v in enumerate(row.split(","))]
        if date:
            f[1], f[2] = date, time
        return ",".join(f)

    fixtures = [listed(r) for r in rows if r.split(",")[1] == LAST_ROUND]
    if relist:
        fixtures.append(listed(next(r for r in rows if ",Brentford,Newcastle," in r), relist))
    if again:
        home, away, date = again
        fixtures.append(listed(next(r for r in rows if f",{home},{away}," in r), date))
    (root / "fixtures.csv").write_text("\n".join([header, *fixtures]) + "\n")
    return root


def test_a_match_listed_again_under_a_new_date_is_one_fixture_kicking_off_at_the_new_date(tmp_path):
    site = last_round_site(tmp_path / "site")
    p = FootballDataProvider(data_dir=site, leagues=("E0",))
    now = datetime(2024, 5, 18, 12, tzinfo=UTC)
    batch = p.fixtures(now, now + timedelta(days=7), now)
    ids = [m.provider_id for m in batch.matches]
    assert len(ids) == len(set(ids)) == 10
    (m,) = [m for m in batch.matches if m.home_team == "Brentford"]
    assert m.provider_id == "E0-2324-brentford-newcastle" and m.kickoff == datetime(2024, 5, 22, 18, 30, tzinfo=UTC)
    assert m.home_team_id == "ENG:brentford" and m.away_team_id == "ENG:newcastle"
    assert [x for x in batch.problems if "Brentford v Newcastle" in x and "rescheduled" in x], batch.problems

    # stored as it was before the re-listing, then the re-listing: one row, its kick-off moved, its id kept
    engine = make_engine(f"sqlite:///{tmp_path / 'predictions.db'}")
    migrate(engine, tmp_path / "locks")
    before = FootballDataProvider(data_dir=last_round_site(tmp_path / "before", relist=None), leagues=("E0",))
    with engine.begin() as conn:
        store_batch(conn, "football-data", before.fixtures(now, now + timedelta(days=7), now), now)
        (fid,) = conn.execute(select(s.fixtures.c.id).where(s.fixtures.c.home_team == "Brentford")).scalars()
        store_batch(conn, "football-data", batch, now)
        rows = conn.execute(
            select(s.fixtures.c.id, s.fixtures.c.kickoff_time).where(s.fixtures.c.home_team == "Brentford")
        ).all()
    engine.dispose()
    assert [(r.id, r.kickoff_time) for r in rows] == [(fid, datetime(2024, 5, 22, 18, 30, tzinfo=UTC))]


def test_a_genuine_second_meeting_is_a_fixture_of_its_own(tmp_path):
    """Man City v Arsenal was played on 31/03/2024; listed again (a league whose clubs meet more than twice) it is
    the second meeting, `-2`, not the played one. Two meetings in one season file stay two matches."""
    site = last_round_site(tmp_path / "site", relist=None, again=("Man City", "Arsenal", "21/05/2024"))
    p = FootballDataProvider(data_dir=site, leagues=("E0",))
    now = datetime(2024, 5, 18, 12, tzinfo=UTC)
    batch = p.fixtures(now, now + timedelta(days=7), now)
    ids = {m.provider_id for m in batch.matches}
    assert "E0-2324-man_city-arsenal-2" in ids and len(ids) == 11 and batch.problems == []
    played = p.history(None, now, now)
    assert [m.provider_id for m in played.matches if (m.home_team, m.away_team) == ("Man City", "Arsenal")] == [
        "E0-2324-man_city-arsenal"
    ]
    # a season file with the pair played twice: two matches, numbered in kick-off order
    season = site / "mmz4281" / "2324" / "E0.csv"
    body = season.read_text()
    first = next(r for r in body.splitlines() if ",Man City,Arsenal," in r)
    season.write_text(body + first.replace("31/03/2024", "12/05/2024") + "\n")
    frame, problems = load_matches(site)
    pair = frame[(frame["home_team"] == "Man City") & (frame["away_team"] == "Arsenal")]
    assert problems == [] and list(pair["match_id"]) == ["E0-2324-man_city-arsenal", "E0-2324-man_city-arsenal-2"]


# ---- the migration ---------------------------------------------------------------------------------------------


def _alembic(engine, target: str, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "pipeline" / "store" / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def test_the_migration_splits_a_name_shared_by_two_countries_and_keeps_every_bet(db_url, tmp_path):
    """A store written before: one `teams` row "Newcastle" for the English and the German club (a bet on a D1
    match), and an accented name in a match id. After the migration: two clubs, the fixtures of each country on
    its own, every fixture, result and bet where it was; the provider's next answers land on the same rows."""
    engine = make_engine(db_url)
    _alembic(engine, "0002_issue13")
    ko = datetime(2024, 5, 18, 13, 30, tzinfo=UTC)
    fixtures = [  # provider_id, league, home, away
        ("E0-2324-newcastle-brentford", "E0", "Newcastle", "Brentford"),
        ("D1-2324-newcastle-bochum", "D1", "Newcastle", "Bochum"),
        ("D1-2324-bochum-newcastle", "D1", "Bochum", "Newcastle"),
        ("D1-2324-bayern_m_nchen-bochum", "D1", "Bayern München", "Bochum"),
    ]
    with engine.begin() as conn:
        for lg in ("E0", "D1"):
            conn.execute(s.leagues.insert().values(source="football-data", code=lg, name=lg, simulated=False))
        team = {}
        for name, lg in (("Newcastle", "D1"), ("Brentford", "E0"), ("Bochum", "D1"), ("Bayern München", "D1")):
            team[name] = conn.execute(
                s.teams.insert().values(source="football-data", provider_id=name, name=name, league_code=lg)
            ).inserted_primary_key[0]
        sm = conn.execute(s.teams.insert().values(source="sportmonks", provider_id="62", name="Newcastle"))
        sm_id = sm.inserted_primary_key[0]
        fid = {}
        for i, (pid, lg, h, a) in enumerate(fixtures):
            fid[pid] = conn.execute(
                s.fixtures.insert().values(
                    source="football-data",
                    provider_id=pid,
                    league_code=lg,
                    season="2324",
                    kickoff_time=ko + timedelta(days=i),
                    home_team_id=team[h],
                    away_team_id=team[a],
                    home_team=h,
                    away_team=a,
                    status="finished",
                    simulated=False,
                    updated_at=ko,
                )
            ).inserted_primary_key[0]
        target = fid["D1-2324-newcastle-bochum"]
        conn.execute(
            s.results.insert().values(
                fixture_id=target, status="finished", home_goals=2, away_goals=1, outcome="home", recorded_at=ko
            )
        )
        insert_prediction_and_bet(
            conn,
            target,
            ko,
            bet_outcome="home",
            bookmaker="Bet365",
            odds=2.2,
            stake=10.0,
            edge=0.05,
            model_prob=0.5,
            status="settled",
            result="win",
            profit_loss=12.0,
            placed_at=ko,
        )
    _alembic(engine, "head")
    with engine.connect() as conn:
        teams = {r.provider_id: r for r in conn.execute(select(s.teams).where(s.teams.c.source == "football-data"))}
        assert set(teams) == {"ENG:newcastle", "GER:newcastle", "ENG:brentford", "GER:bochum", "GER:bayern_munchen"}
        assert teams["ENG:newcastle"].id != teams["GER:newcastle"].id and team["Newcastle"] in (
            teams["ENG:newcastle"].id,
            teams["GER:newcastle"].id,
        )
        rows = {r.provider_id: r for r in conn.execute(select(s.fixtures))}
        assert rows["E0-2324-newcastle-brentford"].home_team_id == teams["ENG:newcastle"].id
        assert rows["D1-2324-newcastle-bochum"].home_team_id == teams["GER:newcastle"].id
        assert rows["D1-2324-bochum-newcastle"].away_team_id == teams["GER:newcastle"].id
        assert rows["D1-2324-bayern_munchen-bochum"].id == fid["D1-2324-bayern_m_nchen-bochum"]  # accents folded
        assert {r.id for r in rows.values()} == set(fid.values())
        bet = conn.execute(select(s.bets)).mappings().one()
        assert (bet["fixture_id"], bet["status"], bet["profit_loss"]) == (target, "settled", 12.0)
        assert conn.execute(select(s.results.c.fixture_id)).scalars().all() == [target]
        assert conn.execute(select(s.teams.c.provider_id).where(s.teams.c.id == sm_id)).scalar() == "62"
    # what the provider answers now lands on the same rows
    batch_frame = identify(
        pd.DataFrame(
            {
                "league": [lg for _, lg, _, _ in fixtures],
                "season": "2324",
                "kickoff": [ko + timedelta(days=i) for i in range(len(fixtures))],
                "home_team": [h for _, _, h, _ in fixtures],
                "away_team": [a for _, _, _, a in fixtures],
                "home_goals": 1.0,
                "away_goals": 0.0,
            }
        )
    )
    with engine.begin() as conn:
        store_batch(conn, "football-data", frame_to_batch(batch_frame), ko)
        assert conn.execute(text("SELECT COUNT(*) FROM fixtures")).scalar() == len(fixtures)
        assert conn.execute(text("SELECT COUNT(*) FROM teams WHERE source = 'football-data'")).scalar() == 5
    # and back: one row per name again, every fixture pointing at it
    _alembic(engine, "0002_issue13", down=True)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT provider_id FROM teams WHERE source = 'football-data'")).scalars().all()
        assert sorted(names) == sorted(["Newcastle", "Brentford", "Bochum", "Bayern München"])
        assert conn.execute(text("SELECT COUNT(*) FROM bets")).scalar() == 1
    engine.dispose()


# ---- the money path ----------------------------------------------------------------------------------------------


def _run(script: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "production" / f"{script}.py"), *args, "--quiet"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.slow  # trains a model set on two seasons
def test_a_match_listed_twice_in_fixtures_csv_is_one_fixture_and_its_stakes_stay_within_the_match_cap(tmp_path):
    """Trained on E0 2022-23 and 2023-24 up to the eve of the last round; fixtures.csv is that round with
    Brentford v Newcastle listed a second time, three days later. A soft book (Bet365) prices the away win above
    Pinnacle's fair line on both listings, so each listing alone would be bet: two fixtures would be two bets,
    twice the match cap. One fixture, its stakes within MAX_MATCH_FRACTION, across hourly runs."""
    site = last_round_site(tmp_path / "site")
    (site / "mmz4281" / "2223").mkdir()
    (site / "mmz4281" / "2223" / "E0.csv").symlink_to(FOOTBALL_DATA / "mmz4281" / "2223" / "E0.csv")
    lines = (site / "fixtures.csv").read_text().splitlines()
    b365a = lines[0].split(",").index("B365A")
    for i, line in enumerate(lines):
        if ",Brentford,Newcastle," in line:
            f = line.split(",")
            f[b365a] = "2.40"  # Pinnacle's fair away probability is ~0.436: EV +4.6%
            lines[i] = ",".join(f)
    (site / "fixtures.csv").write_text("\n".join(lines) + "\n")
    cap = 0.002
    env = make_env(
        tmp_path,
        DATA_SOURCE="football-data",
        FOOTBALL_DATA_DIR=site,
        FOOTBALL_DATA_LEAGUES="E0",
        VALIDATION_MATCHES=200,
        HISTORY_YEARS=3,
        PREDICTION_HORIZON_HOURS=120,
        MAX_STAKE_FRACTION=cap,
        MAX_MATCH_FRACTION=cap,
    )
    r = _run("weekly_training", env, "--now", "2024-05-18T12:00", "--force-deploy")
    assert r.returncode == 0, r.stderr
    for now in ("2024-05-18T12:00", "2024-05-18T13:00"):
        r = _run("hourly_predictions", env, "--now", now)
        assert r.returncode == 0, r.stderr
    con = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
    try:
        fixtures = con.execute(
            "SELECT id, provider_id, kickoff_time FROM fixtures "
            "WHERE home_team = 'Brentford' AND away_team = 'Newcastle' AND season = '2324'"
        ).fetchall()
        assert [f[1:] for f in fixtures] == [("E0-2324-brentford-newcastle", "2024-05-22 18:30:00.000000")]
        bets = con.execute("SELECT bet_outcome, stake FROM bets WHERE fixture_id = ?", (fixtures[0][0],)).fetchall()
        bankroll = 1000.0
        assert bets and sum(stake for _, stake in bets) <= cap * bankroll + 1e-9, bets
        per_fixture = con.execute("SELECT fixture_id, SUM(stake) FROM bets GROUP BY fixture_id").fetchall()
        assert all(total <= cap * bankroll + 1e-9 for _, total in per_fixture)
    finally:
        con.close()
    log = (Path(env["LOG_DIR"]) / "hourly_predictions.log").read_text()
    assert "Brentford v Newcastle (E0) listed on 2024-05-19 15:00 UTC and again on 2024-05-22 18:30 UTC" in log
