"""SPORTMONKS_LEAGUES checked against the plan's league ids (`GET /leagues`), read from a local fake of the API
and cached under CACHE_DIR."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from conftest import make_env
from faults import run_here
from sportmonks_server import FakeSportmonks, envelope, reply

from pipeline.errors import ConfigError
from pipeline.providers.sportmonks import SportmonksProvider
from pipeline.providers.sportmonks_leagues import CACHE_NAME

TOKEN = "sm-leagues-token"
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
PLAN = [
    {"id": 8, "sport_id": 1, "name": "Premier League"},
    {"id": 9, "sport_id": 1, "name": "Championship"},
    {"id": 564, "sport_id": 1, "name": "La Liga"},
]


def plan_pages(req):
    """The plan's leagues over two pages (the API pages every list)."""
    page = int(req.query.get("page", "1"))
    return reply(envelope(PLAN[:2] if page == 1 else PLAN[2:], has_more=page == 1, page=page, entity="League"))


@pytest.fixture
def api():
    with FakeSportmonks() as fake:
        fake.route("leagues", plan_pages)
        yield fake


def provider(base_url: str, cache_dir, league_ids) -> SportmonksProvider:
    return SportmonksProvider(
        TOKEN, base_url=base_url, league_ids=league_ids, cache_dir=cache_dir, backoff=0.01, attempts=2
    )


def test_an_unknown_league_id_stops_the_job_with_one_line_and_exit_78(api, tmp_path):
    env = make_env(
        tmp_path,
        DATA_SOURCE="sportmonks",
        SPORTMONKS_API_KEY=TOKEN,
        SPORTMONKS_LEAGUES="8,560",
        SPORTMONKS_BASE_URL=api.base_url,
        HTTP_ATTEMPTS=2,
    )
    out = run_here("weekly_training", env, now="2025-03-20T02:00:00")
    assert out.code == 78, out.stderr
    assert "Traceback" not in out.stderr and TOKEN not in out.stderr
    assert "SPORTMONKS_LEAGUES: league id 560 is not in the Sportmonks plan's 3 leagues" in out.line
    assert "nearest: 564 (La Liga), 9 (Championship), 8 (Premier League)" in out.line
    assert not any(s.path.startswith("fixtures") for s in api.seen), "the job fetched before the check"
    runs = sqlite3.connect(tmp_path / "predictions.db").execute("SELECT status, error FROM job_runs").fetchall()
    assert runs[0][0] == "failed" and "league id 560" in runs[0][1]


def test_known_ids_pass_and_the_list_is_cached_with_its_fetch_time(api, tmp_path):
    p = provider(api.base_url, tmp_path, ["8", "564"])
    assert p.check(NOW).startswith("sportmonks: ok")
    assert [s.query.get("page") for s in api.requests_to("leagues")] == ["1", "2", None]  # the plan, then check()
    cache = json.loads((tmp_path / CACHE_NAME).read_text())
    assert cache["leagues"] == {"8": "Premier League", "9": "Championship", "564": "La Liga"}
    fetched = datetime.fromisoformat(cache["fetched_at"])
    assert abs(datetime.now(UTC) - fetched) < timedelta(minutes=5)
    # a second job within the week reads the file, not the API
    api.seen.clear()
    provider(api.base_url, tmp_path, ["9"]).fixtures(NOW, NOW + timedelta(hours=1), NOW)
    assert api.requests_to("leagues") == []


def test_the_cache_is_used_when_the_server_is_down(tmp_path):
    with FakeSportmonks() as fake:
        fake.route("leagues", plan_pages)
        provider(fake.base_url, tmp_path, ["8"]).check(NOW)
        base_url = fake.base_url
    path = tmp_path / CACHE_NAME
    # even a cache older than a week beats no answer
    cache = json.loads(path.read_text())
    cache["fetched_at"] = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    path.write_text(json.dumps(cache))
    with pytest.raises(ConfigError) as info:
        provider(base_url, tmp_path, ["8", "565"]).fixtures(NOW, NOW + timedelta(hours=1), NOW)
    assert "league id 565" in info.value.line() and "564 (La Liga)" in info.value.line()


def test_a_stale_cache_is_refreshed_and_an_id_missing_from_the_cache_is_asked_again(api, tmp_path):
    path = tmp_path / CACHE_NAME
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    path.write_text(json.dumps({"fetched_at": old, "leagues": {"8": "Premier League"}}))
    provider(api.base_url, tmp_path, ["8"]).lineups([], NOW)
    assert len(api.requests_to("leagues")) == 2
    assert json.loads(path.read_text())["fetched_at"] > old
    # a fresh cache without the id (the plan was upgraded this week): asked again before refusing
    path.write_text(json.dumps({"fetched_at": datetime.now(UTC).isoformat(), "leagues": {"8": "Premier League"}}))
    api.seen.clear()
    provider(api.base_url, tmp_path, ["564"]).lineups([], NOW)
    assert len(api.requests_to("leagues")) == 2
    assert "564" in json.loads(path.read_text())["leagues"]


def test_no_cache_and_no_answer_is_one_info_line_and_no_check(tmp_path, caplog):
    with FakeSportmonks() as fake:
        base_url = fake.base_url
    caplog.set_level(logging.INFO, logger="pipeline.providers.sportmonks_leagues")
    p = provider(base_url, tmp_path, ["560"])
    p._check_leagues()
    lines = [r.getMessage() for r in caplog.records if r.name == "pipeline.providers.sportmonks_leagues"]
    assert len(lines) == 1 and "not checked against the plan's leagues" in lines[0], lines
    assert not (tmp_path / CACHE_NAME).exists()
