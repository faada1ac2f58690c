"""football-data.co.uk as a provider: season files `mmz4281/<season>/<Div>.csv` for history, `fixtures.csv` for
upcoming matches, read from a local directory laid out like the site (FOOTBALL_DATA_DIR), or downloaded and
cached. The files are parsed by pipeline.providers.football_data_csv; clubs and matches are identified by
pipeline.providers.football_data_identity (a club within its country, a rescheduled match as one fixture).

Each bookmaker's valid prices become odds snapshots under its canonical name, pre-match and closing (closing
prices exist from 2012-13); its over/under and Asian handicap pairs become `MarketPrice`s dated the same way
(pipeline.providers.football_data_markets). Pre-match prices are taken "a day or two before" on the site; they
are stored as seen one day before kick-off, closing prices at kick-off. This source has no lineups.

A download is cached only once it parses as a football-data CSV, and a cached copy that does not is fetched
again; a file that is not one is named in the batch's problems and skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.bookmakers import SHARP_DEFAULT
from pipeline.providers.base import FINISHED, SCHEDULED, Batch, Match, Odds, Provider, ProviderError, SourceUnavailable
from pipeline.providers.football_data_csv import (
    STATS,
    book_columns,
    content_problem,
    parse_csv,
    read_bytes,
    read_csv,
    season_of,
)
from pipeline.providers.football_data_identity import collapse_relistings, match_ids, pair_ids
from pipeline.providers.football_data_markets import market_prices
from pipeline.providers.http_client import make_session, request

log = logging.getLogger(__name__)


def frame_to_batch(
    frame: pd.DataFrame, status: str = FINISHED, odds_time: datetime | None = None, markets: bool = True
) -> Batch:
    """Matches, and every bookmaker's valid prices as snapshots (1X2 in `odds`, over/under and Asian handicap in
    `market_prices`): pre-match as seen at `odds_time` (default a day before kick-off), closing (finished matches
    only) at kick-off."""
    batch = Batch()
    finished = status == FINISHED
    kickoffs = []
    fields = ["match_id", "league", "season", "kickoff", "home_team", "away_team", "home_team_key", "away_team_key"]
    fields += ["home_goals", "away_goals", *(c for c in STATS.values() if c in frame)]
    for r in frame[fields].itertuples(index=False):  # only these: the price columns are many, some not names
        stats = {k: float(getattr(r, k)) for k in STATS.values() if hasattr(r, k) and pd.notna(getattr(r, k))}
        ko = r.kickoff.to_pydatetime()
        kickoffs.append(ko)
        batch.matches.append(
            Match(
                provider_id=r.match_id,
                league=r.league,
                season=r.season,
                kickoff=ko,
                home_team=r.home_team,
                away_team=r.away_team,
                home_team_id=r.home_team_key,
                away_team_id=r.away_team_key,
                status=status,
                home_goals=int(r.home_goals) if finished else None,
                away_goals=int(r.away_goals) if finished else None,
                stats=stats if finished else {},
            )
        )
    ids = frame["match_id"].tolist()
    for name, prefix, closing in book_columns(frame):
        if closing and not finished:
            continue
        vals = frame[[f"{prefix}H", f"{prefix}D", f"{prefix}A"]].to_numpy(float)
        for i in np.flatnonzero(np.isfinite(vals[:, 0])):
            ko = kickoffs[i]
            when = ko if closing else (odds_time or ko - timedelta(days=1))
            h, d, a = vals[i].tolist()
            batch.odds.append(Odds(ids[i], name, h, d, a, fetched_at=when, is_closing=closing))
    batch.market_prices = market_prices(frame, ids, kickoffs, finished, odds_time) if markets else []
    return batch


def load_matches(
    data_dir, leagues: Sequence[str] | None = None, seasons: Sequence[str] | None = None, **books
) -> tuple[pd.DataFrame, list[str]]:
    """Every season file under DIR/mmz4281 (optionally only some leagues/seasons) as one match frame."""
    root = Path(data_dir) / "mmz4281"
    if not root.is_dir():
        raise SourceUnavailable(f"{root} is not a directory laid out like football-data.co.uk (mmz4281/<season>/)")
    frames, problems = [], []
    for season_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if seasons and season_dir.name not in seasons:
            continue
        for f in sorted(season_dir.glob("*.csv")):
            if leagues and f.stem not in leagues:
                continue
            frame, probs = parse_csv(f, f.stem, season_dir.name, **books)
            frames.append(frame)
            problems += probs
    if not frames:
        return pd.DataFrame(), problems
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    return out.sort_values(["kickoff", "match_id"], kind="stable").reset_index(drop=True), problems


class FootballDataProvider(Provider):
    name = "football-data"
    has_lineups = False
    price_times = False  # the files carry no times: snapshots are dated by convention, not when seen

    def __init__(
        self,
        data_dir: Path | None = None,
        base_url: str = "https://www.football-data.co.uk",
        leagues: Sequence[str] = ("E0", "D1", "F1", "I1", "SP1"),
        cache_dir: Path | None = None,
        max_age_hours: float = 12.0,
        session=None,
        sharp: Sequence[str] = SHARP_DEFAULT,
        first_season: int = 2003,
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 4,
        deadline: float = 120.0,
    ):
        self.data_dir = Path(data_dir) if data_dir else None
        self.base_url = base_url.rstrip("/")
        self.leagues = tuple(leagues)
        self.cache_dir = Path(cache_dir) if cache_dir else Path(".cache")
        self.max_age_hours = max_age_hours
        self.session = session
        self.sharp = tuple(sharp)
        self.first_season = first_season
        self.timeout = timeout
        self.attempts = attempts
        self.deadline = deadline  # wall clock of one download (pipeline.providers.http_client)
        if self.data_dir is not None:
            self._local_root()  # every job using the source stops here, even one with nothing to ask it

    # ---- files ----------------------------------------------------------------------------------
    def _local_root(self) -> Path:
        """FOOTBALL_DATA_DIR, checked: a missing or misspelt directory must stop the job, not read as "no data"."""
        root = self.data_dir
        if root is None or not root.is_dir():
            raise SourceUnavailable(f"FOOTBALL_DATA_DIR {root} does not exist")
        if not (root / "mmz4281").is_dir():
            raise SourceUnavailable(
                f"FOOTBALL_DATA_DIR {root} has no mmz4281/ directory (it must be laid "
                "out like football-data.co.uk: mmz4281/<season>/<Div>.csv, fixtures.csv)"
            )
        return root

    def _file(self, relative: str, now: datetime, may_be_stale: bool) -> tuple[Path | None, list[str]]:
        """The file to read (None: the source has none) and file-level problems met on the way."""
        if self.data_dir is not None:
            p = self._local_root() / relative
            return (p if p.is_file() else None), []
        p = self.cache_dir / "football-data" / relative
        # a cached copy that is not the expected CSV (cached by an older version, damaged) is fetched again
        cached = p.is_file() and content_problem(read_bytes(p), str(p)) is None
        if cached and (not may_be_stale or time.time() - p.stat().st_mtime < self.max_age_hours * 3600):
            return p, []
        if self.session is None:
            self.session = make_session()
        url = f"{self.base_url}/{relative}"
        resp = request(self.session, url, timeout=self.timeout, attempts=self.attempts, deadline=self.deadline)
        if resp.status_code == 404:
            return (p if cached else None), []
        if resp.status_code != 200:
            raise ProviderError(f"{url}: HTTP {resp.status_code}")
        why = content_problem(resp.content, url)
        if why:  # never cached: past seasons are not fetched again once cached
            if cached:
                return p, [f"{why}; not cached, the copy cached earlier is used"]
            p.unlink(missing_ok=True)
            return None, [f"{why}; not cached, file skipped"]
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".part")
        try:
            tmp.write_bytes(resp.content)
            tmp.replace(p)
        finally:
            tmp.unlink(missing_ok=True)
        return p, []

    def _season_frame(self, league: str, season: str, now: datetime) -> tuple[pd.DataFrame, Batch]:
        """A season file's matches, and a batch holding only its problems and rejected rows (every row of the
        file is validated whenever it is read, so a bad row is reported, and its `rejected_rows` entry seen
        again, until the file is fixed)."""
        current = season == season_of(now)
        f, problems = self._file(f"mmz4281/{season}/{league}.csv", now, may_be_stale=current)
        if f is None:
            return pd.DataFrame(), Batch(problems=problems)
        parsed = read_csv(f, league, season, sharp=self.sharp)
        return parsed.frame, Batch(problems=problems + parsed.problems, rejected=parsed.rejected)

    def _seasons(self, start: datetime | None, end: datetime) -> list[str]:
        first = max(self.first_season, (start.year - 1) if start else self.first_season)
        codes = []
        for y in range(first, end.year + 1):
            code = f"{y % 100:02d}{(y + 1) % 100:02d}"
            s_start = datetime(y, 7, 1, tzinfo=UTC)
            if (start is None or s_start + timedelta(days=366) > start) and s_start < end:
                codes.append(code)
        return codes

    # ---- what a provider answers -------------------------------------------------------------------
    def history(self, start: datetime | None, end: datetime, now: datetime, *, markets: bool = True) -> Batch:
        if self.data_dir is not None:
            self._local_root()
        batch = Batch()
        for season in self._seasons(start, min(end, now)):
            for league in self.leagues:
                frame, notes = self._season_frame(league, season, now)
                batch.extend(notes)
                if frame.empty:
                    continue
                keep = frame["kickoff"] < min(end, now - timedelta(hours=2))
                if start is not None:
                    keep &= frame["kickoff"] >= start
                batch.extend(frame_to_batch(frame[keep], markets=markets))
        return batch

    def fixtures(self, start: datetime, end: datetime, now: datetime) -> Batch:
        f, problems = self._file("fixtures.csv", now, may_be_stale=True)
        if f is None and self.data_dir is not None:
            raise SourceUnavailable(self._no_fixtures(self.data_dir))
        if f is None:
            return Batch(problems=problems)
        parsed = read_csv(f, None, None, require_result=False, sharp=self.sharp)
        frame = parsed.frame
        batch = Batch(problems=problems + parsed.problems, rejected=parsed.rejected)
        if frame.empty:
            return batch
        frame = frame[frame["league"].isin(self.leagues)]
        frame, relisted = collapse_relistings(frame, str(f))  # a match listed again under a new date: one fixture
        batch.problems.extend(relisted)
        frame = frame[(frame["kickoff"] >= start) & (frame["kickoff"] < end)]
        if not frame.empty:  # a second meeting at the same ground this season: count the ones already played
            frame = frame.assign(match_id=match_ids(frame, self._played_meetings(frame, now)))
        batch.extend(frame_to_batch(frame, status=SCHEDULED, odds_time=now))
        return batch

    def _played_meetings(self, frame: pd.DataFrame, now: datetime) -> pd.Series:
        """Per `<league>-<season>-<home>-<away>` of `frame`, meetings already in the season file before it."""
        counts: dict[str, int] = {}
        for (league, season), part in frame.groupby(["league", "season"]):
            try:
                played, _ = self._season_frame(str(league), str(season), now)
            except ProviderError as exc:  # the upcoming matches are still worth predicting
                log.warning("football-data: no season file to number repeated meetings: %s", exc)
                continue
            if played.empty:
                continue
            first = part["kickoff"].groupby(pair_ids(part)).min()
            played_base = pair_ids(played)
            for key, ko in first.items():
                counts[key] = int(((played_base == key) & (played["kickoff"] < ko)).sum())
        return pd.Series(counts, dtype=int)

    def results(self, match_ids: Sequence[str], now: datetime) -> Batch:
        if self.data_dir is not None:
            self._local_root()
        batch = Batch()
        wanted: dict[tuple[str, str], set[str]] = {}
        for mid in match_ids:
            parts = mid.split("-")
            if len(parts) < 3:
                batch.problems.append(f"not a football-data match id: {mid!r}")
                continue
            wanted.setdefault((parts[0], parts[1]), set()).add(mid)
        for (league, season), ids in wanted.items():
            frame, notes = self._season_frame(league, season, now)
            batch.extend(notes)  # the file skipped, or rows of it rejected: say so
            if not frame.empty:
                batch.extend(frame_to_batch(frame[frame["match_id"].isin(ids)]))
        return batch

    @staticmethod
    def _no_fixtures(root: Path) -> str:
        return (
            f"{root / 'fixtures.csv'} is missing: the hourly job has no upcoming matches to predict "
            "(download it from the site's fixtures page into FOOTBALL_DATA_DIR)"
        )

    def check(self, now: datetime) -> str:
        if self.data_dir is not None:
            if not (self._local_root() / "fixtures.csv").is_file():
                raise SourceUnavailable(self._no_fixtures(self.data_dir))
            return f"football-data: reading {self.data_dir}"
        f, problems = self._file(f"mmz4281/{season_of(now)}/{self.leagues[0]}.csv", now, may_be_stale=True)
        if problems and f is None:
            raise ProviderError(problems[0])
        return "football-data: ok" if f else "football-data: site answers (no file for this season yet)"


__all__ = ["FootballDataProvider", "frame_to_batch", "load_matches", "parse_csv", "season_of"]
