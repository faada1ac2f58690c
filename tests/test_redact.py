"""Credentials masked in any form an upstream may echo them in (as configured, URL-encoded with upper- or
lower-case hex, `+` for spaces, JSON-escaped, lower- or upper-cased): the function, and the Sportmonks client
against a server on 127.0.0.1 whose error bodies echo the token in each form."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from conftest import invoke_command, make_env
from sportmonks_server import FakeSportmonks, reply
from sqlalchemy import select

from pipeline.providers.base import Batch, Match, ProviderError
from pipeline.providers.sportmonks import SportmonksProvider
from pipeline.records import Bet
from pipeline.redact import Redactor, redact
from pipeline.store import make_engine, migrate, store_batch
from pipeline.store import schema as s
from pipeline.store.bets import insert_bets

KEY = "Sk9/aB+cD=eF gH%7zQ"  # characters that URL-encoding and case change


def echoes(secret: str) -> dict[str, str]:
    """The forms of `secret` an upstream has been seen to send back."""
    return {
        "as configured": secret,
        "url-encoded": quote(secret, safe=""),
        "url-encoded, lower-case hex": quote(secret, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
        "form-encoded": quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
        "lower-cased": secret.lower(),
        "upper-cased": secret.upper(),
        "url-encoded, upper-cased": quote(secret, safe="").upper(),
    }


@pytest.mark.parametrize("form", list(echoes(KEY)))
def test_every_form_is_masked(form):
    text = f"error: invalid token '{echoes(KEY)[form]}' (see docs)"
    out = redact(text, [KEY])
    assert out == "error: invalid token '***' (see docs)"
    for spelling in echoes(KEY).values():
        assert spelling.lower() not in out.lower()


def test_short_or_missing_secrets_mask_nothing():
    assert redact("the pw is ok", ["pw", None, ""]) == "the pw is ok"
    assert not Redactor([None])


@pytest.mark.parametrize("form", list(echoes(KEY)))
def test_sportmonks_errors_never_carry_the_token(form):
    body = {"message": f"Unauthenticated: the token {echoes(KEY)[form]} is not valid for this league", "code": 5002}
    with FakeSportmonks() as api:
        api.route("fixtures/multi/7", reply(body, status=400))
        provider = SportmonksProvider(KEY, base_url=api.base_url, attempts=1, backoff=0.0)
        with pytest.raises(ProviderError) as err:
            provider.results(["7"], None)
    message = str(err.value)
    assert "HTTP 400" in message and "***" in message
    for spelling in echoes(KEY).values():
        assert spelling.lower() not in message.lower(), form


# ---- a job whose upstream echoes the key: nothing reaches the log, stderr, job_runs, the store or a backup ------

JOB_KEY = "Sk9/aB+cD=eFgH%7zQxY"  # no space: it travels in a header as configured


def _store_with_a_pending_bet(env: dict, kickoff: datetime) -> None:
    engine = make_engine(env["DATABASE_URL"])
    migrate(engine, Path(env["LOCK_DIR"]))
    match = Match(provider_id="101", league="8", season="23614", kickoff=kickoff, home_team="H", away_team="A")
    with engine.begin() as conn:
        store_batch(conn, "sportmonks", Batch(matches=[match]), kickoff - timedelta(days=1))
        fid = conn.execute(select(s.fixtures.c.id)).scalar_one()
        pid = conn.execute(
            s.predictions.insert().values(
                fixture_id=fid,
                prediction_time=kickoff - timedelta(hours=3),
                model_version="v1",
                home_prob=0.5,
                draw_prob=0.3,
                away_prob=0.2,
                input_key="k",
            )
        ).inserted_primary_key[0]
        bet = Bet(fid, pid, "home", "Bet365", 2.0, 10.0, 0.05, 0.5, "Pinnacle", 0.5, False, kickoff, kickoff=kickoff)
        insert_bets(conn, [bet])
    engine.dispose()


@pytest.mark.parametrize("form", list(echoes(JOB_KEY)))
def test_a_job_never_writes_the_key_an_upstream_echoes(form, tmp_path):
    kickoff = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    with FakeSportmonks() as api:
        echoed = echoes(JOB_KEY)[form]
        api.route(
            "fixtures/multi/101",
            reply({"message": f"token {echoed} has no access to fixture 101", "code": 5002}, status=400),
        )
        env = make_env(
            tmp_path,
            DATA_SOURCE="sportmonks",
            SPORTMONKS_API_KEY=JOB_KEY,
            SPORTMONKS_BASE_URL=api.base_url,
            SPORTMONKS_LEAGUES="8",
            HTTP_ATTEMPTS=1,
        )
        _store_with_a_pending_bet(env, kickoff)
        settled = invoke_command("results_settlement", ["--now", (kickoff + timedelta(hours=3)).isoformat()], env)
        backup = invoke_command("backup", [], env)
    assert settled.exit_code == 75 and backup.exit_code == 0, (settled.output, backup.output)
    db = sqlite3.connect(tmp_path / "predictions.db")
    runs = db.execute("SELECT job, status, error FROM job_runs ORDER BY id").fetchall()
    dump = "\n".join(db.iterdump())
    db.close()
    assert runs[0][:2] == ("results_settlement", "failed") and "HTTP 400" in runs[0][2] and "***" in runs[0][2]
    places = {
        "stdout and stderr": settled.output + backup.output,
        "job_runs": repr(runs),
        "the store": dump,
        **{f"log {p.name}": p.read_text() for p in (tmp_path / "logs").glob("*.log*")},
        **{
            f"backup {p.name}": p.read_bytes().decode("latin-1")
            for p in (tmp_path / "backups").rglob("*")
            if p.is_file()
        },
    }
    assert any(name.startswith("backup ") for name in places) and any(name.startswith("log ") for name in places)
    for where, text_ in places.items():
        for spelling in echoes(JOB_KEY).values():
            assert spelling.lower() not in text_.lower(), f"{form} echoed: {spelling!r} found in {where}"


def test_the_runner_masks_what_a_job_logs_or_fails_with_whatever_its_origin(tmp_path, settings):
    """No provider in between: a job's own warning, its traceback and its failure carry the key in every form;
    the log formatter and the job_runs writer mask them all."""
    import dataclasses
    import logging

    from pipeline.errors import ProviderError as Upstream
    from pipeline.jobs.runner import run_job

    st = dataclasses.replace(settings, sportmonks_api_key=JOB_KEY)
    every = " | ".join(echoes(JOB_KEY).values())

    def job(ctx):
        ctx.log.warning("upstream said: %s", every)
        try:
            raise ValueError(every)
        except ValueError:
            logging.getLogger("pipeline.test").exception("while reading")
        raise Upstream(f"gave up: {every}")

    engine = make_engine(st.database_url)
    migrate(engine, st.lock_dir)
    engine.dispose()
    assert run_job("results_settlement", job, settings=st, now="2026-03-14T18:00") == 75
    db = sqlite3.connect(tmp_path / "predictions.db")
    (error,) = db.execute("SELECT error FROM job_runs").fetchone()
    db.close()
    log_text = (st.log_dir / "results_settlement.log").read_text()
    assert "gave up: ***" in error and "upstream said: ***" in log_text and "ValueError: ***" in log_text
    for spelling in echoes(JOB_KEY).values():
        assert spelling.lower() not in error.lower() and spelling.lower() not in log_text.lower(), spelling
