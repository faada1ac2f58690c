"""A scripted fake of the Sportmonks Football API v3 on 127.0.0.1, and builders for its documented payloads.

    with FakeSportmonks() as api:
        api.route("fixtures/multi/1,2", reply(envelope([fixture(1), fixture(2)])))
        provider = SportmonksProvider("TOKEN", base_url=api.base_url)

Each route holds a script of replies used in order; the last one repeats. A reply may be a callable taking
the `Seen` request (for pagination by `page`). Unknown paths answer 404 with the API's "no result" message.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PREFIX = "/v3/football/"
NO_RESULT = (
    "No result(s) found matching your request. Either the query did not return any results or you "
    "don't have access to it via your current subscription."
)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-reply (the faults under test) is expected: no traceback on the test's stderr."""

    def handle_error(self, request, client_address) -> None:
        pass


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; str/bytes sent as is
    headers: dict = field(default_factory=dict)


@dataclass
class Seen:
    path: str  # relative to /v3/football/
    query: dict  # name -> last value
    headers: dict
    raw_url: str


def reply(body=None, status: int = 200, **headers) -> Reply:
    return Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


class FakeSportmonks:
    def __init__(self):
        self.routes: dict[str, list] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                path = parts.path[len(PREFIX) :] if parts.path.startswith(PREFIX) else parts.path
                seen = Seen(
                    path, {k: v[-1] for k, v in parse_qs(parts.query).items()}, dict(self.headers.items()), self.path
                )
                with fake._lock:
                    fake.seen.append(seen)
                    script = fake.routes.get(path)
                    step = (script.pop(0) if len(script) > 1 else script[0]) if script else None
                r = step(seen) if callable(step) else step
                if r is None:
                    r = Reply(404, {"message": NO_RESULT})
                body = r.body
                data = (
                    body
                    if isinstance(body, bytes)
                    else body.encode()
                    if isinstance(body, str)
                    else json.dumps(body).encode()
                )
                self.send_response(r.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in r.headers.items():
                    self.send_header(k, str(v))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v3/football"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def route(self, path: str, *replies) -> FakeSportmonks:
        self.routes[path] = list(replies)
        return self

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def __enter__(self) -> FakeSportmonks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- payload builders (shapes as in /work/shared/docs/sportmonks-v3.md) ----------------------------------


def envelope(
    data,
    *,
    has_more: bool | None = None,
    page: int = 1,
    next_cursor: str | None = None,
    remaining: int = 2999,
    resets: float = 3000,
    entity: str = "Fixture",
) -> dict:
    body = {
        "data": data,
        "subscription": [
            {
                "meta": {},
                "plans": [{"plan": "Starter", "sport": "Football", "category": "Advanced"}],
                "add_ons": [],
                "widgets": [],
                "bundles": [],
            }
        ],
        "rate_limit": {"resets_in_seconds": resets, "remaining": remaining, "requested_entity": entity},
        "timezone": "UTC",
    }
    if has_more is not None:
        body["pagination"] = {
            "count": len(data),
            "per_page": 50,
            "current_page": page,
            "next_page": None,
            "has_more": has_more,
        }
        if next_cursor is not None:
            body["pagination"]["next_cursor"] = next_cursor
    return body


def no_result(remaining: int = 2999, resets: float = 3000) -> dict:
    body = envelope(None, remaining=remaining, resets=resets)
    del body["data"]
    body["message"] = NO_RESULT
    return body


def participants(
    home_id: int = 4101, away_id: int = 4377, home: str = "Northbridge FC", away: str = "Eastvale United"
) -> list[dict]:
    return [
        {
            "id": home_id,
            "sport_id": 1,
            "name": home,
            "short_code": home[:3].upper(),
            "placeholder": False,
            "meta": {"location": "home", "winner": None, "position": 6},
        },
        {
            "id": away_id,
            "sport_id": 1,
            "name": away,
            "short_code": away[:3].upper(),
            "placeholder": False,
            "meta": {"location": "away", "winner": None, "position": 11},
        },
    ]


SCORE_TYPES = {"1ST_HALF": 1, "2ND_HALF": 2, "2ND_HALF_ONLY": 48996, "CURRENT": 1525, "PENALTY_SHOOTOUT": 5}


def scores(fixture_id: int, home_id: int = 4101, away_id: int = 4377, **periods) -> list[dict]:
    """scores(1, CURRENT=(2, 1), ...) -> the flat per-(period, team) rows."""
    rows = []
    for desc, (h, a) in periods.items():
        for team, side, goals in ((home_id, "home", h), (away_id, "away", a)):
            rows.append(
                {
                    "id": len(rows) + 1,
                    "fixture_id": fixture_id,
                    "type_id": SCORE_TYPES[desc],
                    "participant_id": team,
                    "score": {"goals": goals, "participant": side},
                    "description": desc,
                }
            )
    return rows


def odds(
    fixture_id: int,
    bookmaker_id: int,
    home,
    draw,
    away,
    *,
    labels=("Home", "Draw", "Away"),
    names=None,
    stopped=(),
    update: str | None = "2025-03-15 14:58:40",
    market_id: int = 1,
    bookmaker: str | None = None,
) -> list[dict]:
    """Odds rows of one bookmaker; `bookmaker` adds the included `odds.bookmaker` object with that name."""
    names = names or labels
    rows = []
    for i, (label, name, value) in enumerate(zip(labels, names, (home, draw, away))):
        rows.append(
            {
                "id": fixture_id * 100 + bookmaker_id * 10 + i,
                "fixture_id": fixture_id,
                "market_id": market_id,
                "bookmaker_id": bookmaker_id,
                "label": label,
                "value": value,
                "name": name,
                "market_description": "Match Winner",
                "winning": False,
                "stopped": label in stopped,
                "total": None,
                "handicap": None,
                "latest_bookmaker_update": update,
            }
        )
        if bookmaker is not None:
            rows[-1]["bookmaker"] = {"id": bookmaker_id, "legacy_id": bookmaker_id, "name": bookmaker}
    return rows


def lineup(
    fixture_id: int, team_id: int, player_id: int, type_id: int = 11, position_id: int = 26, name: str | None = None
) -> dict:
    return {
        "id": fixture_id * 1000 + player_id,
        "sport_id": 1,
        "fixture_id": fixture_id,
        "player_id": player_id,
        "team_id": team_id,
        "position_id": position_id,
        "formation_field": None,
        "type_id": type_id,
        "formation_position": None,
        "player_name": name or f"Player {player_id}",
        "jersey_number": 1,
    }


def fixture(
    fixture_id: int,
    *,
    state_id: int = 1,
    starting_at: str = "2025-03-15 15:00:00",
    timestamp: int | None = None,
    league_id: int = 8,
    season_id: int = 23614,
    **extra,
) -> dict:
    fx = {
        "id": fixture_id,
        "sport_id": 1,
        "league_id": league_id,
        "season_id": season_id,
        "state_id": state_id,
        "name": "Northbridge FC vs Eastvale United",
        "starting_at": starting_at,
        "length": 90,
        "placeholder": False,
        "has_odds": True,
        "participants": participants(),
    }
    if timestamp is not None:
        fx["starting_at_timestamp"] = timestamp
    fx.update(extra)
    return fx
