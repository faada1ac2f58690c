"""Upstream faults seen by a whole job (the real weekly_training script, whose first act is fetching results)
against a local server: retried where it helps, then one clean failure recorded in job_runs, nothing stored from a
half-fetched batch, no traceback for cron. Two cases run the script in a process of its own, the others its command
in this process. The client-level cases are in test_sportmonks.py."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from conftest import make_env
from faults import QuietServer, run_here, run_script
from sportmonks_server import envelope, fixture, scores

NOW = "2025-03-20T02:00:00"


def _first_page() -> bytes:
    """A valid page of two finished fixtures that says more pages follow."""
    rows = [fixture(i, state_id=5, scores=scores(i, CURRENT=(2, 1))) for i in (101, 102)]
    return json.dumps(envelope(rows, has_more=True)).encode()


class Upstream(BaseHTTPRequestHandler):
    mode = "500"
    calls = 0

    def _send(self, status: int, body: bytes, length: int | None = None, **headers) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if "/leagues" in self.path:  # the plan's leagues (test_sportmonks_leagues): the faults are in the fixtures
            self._send(200, json.dumps(envelope([{"id": 8, "name": "Premier League"}], entity="League")).encode())
            return
        Upstream.calls += 1
        mode = Upstream.mode
        if mode == "timeout":
            time.sleep(3)
            self._send(200, b"{}")
        elif mode == "500":
            self._send(500, b'{"message": "internal error"}', Retry_After="0")
        elif mode == "429":
            self._send(
                429,
                json.dumps(
                    {"message": "Too Many Attempts.", "rate_limit": {"resets_in_seconds": 3000, "remaining": 0}}
                ).encode(),
            )
        elif mode == "truncated":
            self._send(200, b'{"data": [{"id": 1, "name": "Nor', length=500)
        elif mode == "malformed":
            self._send(200, b'{"data": [}')
        elif mode == "401":
            self._send(401, b'{"message": "Unauthenticated."}')
        elif mode == "page2_fails":
            if Upstream.calls == 1:
                self._send(200, _first_page())
            else:
                self._send(503, b'{"message": "maintenance"}', Retry_After="0")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def upstream():
    server = QuietServer(("127.0.0.1", 0), Upstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# These cases as cron runs them, in a process of their own (its exit status, everything it prints); the others
# run the same command in this process (conftest.invoke_command): what they check is the job's own handling.
AS_CRON_RUNS_IT = {"500", "timeout"}


@pytest.mark.parametrize(
    "mode, code, reason",
    [
        ("refused", 75, "ConnectionError"),
        ("timeout", 75, "Timeout"),
        ("500", 75, "HTTP 500"),
        ("429", 75, "429"),
        ("truncated", 75, "data source unavailable"),
        ("malformed", 75, "data source unavailable"),
        ("401", 69, "HTTP 401"),
        ("page2_fails", 75, "HTTP 503"),
    ],
)
def test_a_failing_source_is_one_clean_failure_and_stores_nothing(upstream, tmp_path, mode, code, reason):
    Upstream.mode, Upstream.calls = mode, 0
    port = _closed_port() if mode == "refused" else upstream.server_address[1]
    env = make_env(
        tmp_path,
        DATA_SOURCE="sportmonks",
        SPORTMONKS_API_KEY="k-123",
        SPORTMONKS_LEAGUES="8",
        SPORTMONKS_BASE_URL=f"http://127.0.0.1:{port}/v3/football",
        HTTP_TIMEOUT=1,
        HTTP_ATTEMPTS=2,
    )
    # run here, an exception escaping the command fails the test, as a traceback would fail the "no Traceback" check
    run = run_script if mode in AS_CRON_RUNS_IT else run_here
    out = run("weekly_training", env, now=NOW)
    assert out.code == code, out.stderr
    assert "Traceback" not in out.stderr and "k-123" not in out.stderr
    assert reason in out.line, out.stderr
    if mode not in ("refused", "401"):
        assert Upstream.calls >= (1 if mode in ("429", "401") else 2), "no retry"
    assert out.elapsed < 60
    con = sqlite3.connect(tmp_path / "predictions.db")
    runs = con.execute("SELECT job, status, error FROM job_runs").fetchall()
    assert runs == [("weekly_training", "failed", runs[0][2])] and reason in runs[0][2]
    # nothing from a half-fetched history: the first page of page2_fails is not stored either
    assert con.execute("SELECT COUNT(*) FROM fixtures").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0
