"""issue 22: a football-data club identified within its country

Revision ID: 0005_issue22_identity
Revises: 0004_issue22 (chained after the rejected_rows migration of the same issue)

football-data.co.uk names a club and nothing else, and `teams.provider_id` held that bare name: a German and an
English club of one name were one row (and one Elo rating). A football-data club is now `<country>:<slug>`
(`ENG:newcastle`, the country of its division; pipeline.providers.football_data_identity). Stored rows are
rewritten so that a live store keeps its history and bets: each football-data fixture's two clubs get the key of
its league's country; a row used in one country keeps its id under the new key, a row shared by clubs of several
countries is split (a new row for each further country, the fixtures of that country moved to it). Fixtures,
results, predictions and bets keep their ids. Match ids whose team names carry accents take the accent-folded
slug the provider now gives them. Sportmonks and sandbox rows (the providers' own ids) are not touched.
The country table and slug are frozen here as they were at this revision.
"""

import re
import unicodedata
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0005_issue22_identity"
down_revision = "0004_issue22"
branch_labels = None
depends_on = None

SOURCE = "football-data"
COUNTRY_OF_DIVISION = {
    **dict.fromkeys(("E0", "E1", "E2", "E3", "EC"), "ENG"),
    **dict.fromkeys(("SC0", "SC1", "SC2", "SC3"), "SCO"),
    **dict.fromkeys(("D1", "D2"), "GER"),
    **dict.fromkeys(("I1", "I2"), "ITA"),
    **dict.fromkeys(("SP1", "SP2"), "ESP"),
    **dict.fromkeys(("F1", "F2"), "FRA"),
    "N1": "NED",
    "B1": "BEL",
    "P1": "POR",
    "T1": "TUR",
    "G1": "GRE",
}

teams = sa.table(
    "teams", sa.column("id"), sa.column("source"), sa.column("provider_id"), sa.column("name"), sa.column("league_code")
)
fixtures = sa.table(
    "fixtures",
    sa.column("id"),
    sa.column("source"),
    sa.column("provider_id"),
    sa.column("league_code"),
    sa.column("season"),
    sa.column("kickoff_time"),
    sa.column("home_team_id"),
    sa.column("away_team_id"),
    sa.column("home_team"),
    sa.column("away_team"),
)
players = sa.table("players", sa.column("id"), sa.column("team_id"))


def country_of(division: str) -> str:
    code = str(division).strip().upper()
    return COUNTRY_OF_DIVISION.get(code) or re.sub(r"\d+$", "", code) or code


def old_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def slug(name: str) -> str:
    folded = name if name.isascii() else unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return old_slug(folded)


def team_key(league: str, name: str) -> str:
    return f"{country_of(league)}:{slug(name)}"


def upgrade() -> None:
    rekey_teams(op.get_bind())


def rekey_teams(conn) -> dict[str, int]:
    """Rewrite football-data clubs to `<country>:<slug>` and repoint their fixtures. Returns counts."""
    old = {r.id: r for r in conn.execute(sa.select(teams).where(teams.c.source == SOURCE))}
    rows = conn.execute(
        sa.select(fixtures).where(fixtures.c.source == SOURCE).order_by(fixtures.c.kickoff_time, fixtures.c.id)
    ).all()
    uses: dict[int, Counter] = {}
    latest: dict[str, tuple[str, str]] = {}  # key -> (name, league) of its latest fixture
    sides = []
    for f in rows:
        for side, tid, name in (("home", f.home_team_id, f.home_team), ("away", f.away_team_id, f.away_team)):
            key = team_key(f.league_code, name)
            uses.setdefault(tid, Counter())[key] += 1
            latest[key] = (name, f.league_code)
            sides.append((f.id, side, tid, key))
    id_of = {r.provider_id: r.id for r in old.values() if r.provider_id in latest}  # already keys: kept
    renamed = inserted = 0
    for tid in sorted(uses):
        for key, _ in sorted(uses[tid].items(), key=lambda kv: (-kv[1], kv[0])):
            if key in id_of:
                continue
            name, league = latest[key]
            values = {"provider_id": key, "name": name, "league_code": league}
            if tid in old and old[tid].provider_id not in latest and tid not in id_of.values():
                conn.execute(sa.update(teams).where(teams.c.id == tid).values(**values))
                id_of[key] = tid
                renamed += 1
            else:  # the same name in another country: a club of its own
                conn.execute(sa.insert(teams).values(source=SOURCE, **values))
                id_of[key] = conn.execute(
                    sa.select(teams.c.id).where(teams.c.source == SOURCE, teams.c.provider_id == key)
                ).scalar_one()
                inserted += 1
    moved = [(fid, side, id_of[key]) for fid, side, tid, key in sides if id_of[key] != tid]
    for side in ("home", "away"):
        col = f"{side}_team_id"
        changes = [{"fid": fid, "tid": new} for fid, s, new in moved if s == side]
        if changes:
            conn.execute(
                sa.update(fixtures).where(fixtures.c.id == sa.bindparam("fid")).values({col: sa.bindparam("tid")}),
                changes,
            )
    # rows no fixture uses any more (a bare name whose clubs all went elsewhere) and no player points at
    used = set(id_of.values())
    for tid, r in old.items():
        if tid in used:
            continue
        if r.league_code and team_key(r.league_code, r.name) not in id_of:
            key = team_key(r.league_code, r.name)
            conn.execute(sa.update(teams).where(teams.c.id == tid).values(provider_id=key))
            id_of[key] = tid
        elif conn.execute(sa.select(sa.func.count()).where(players.c.team_id == tid)).scalar() == 0:
            conn.execute(sa.delete(teams).where(teams.c.id == tid))
    return {"renamed": renamed, "inserted": inserted, "fixtures_moved": len(moved), **_fold_match_ids(conn, rows)}


def _fold_match_ids(conn, rows) -> dict[str, int]:
    """Match ids built from accented names (`m_nchen`) as the provider now builds them (`munchen`)."""
    taken = {f.provider_id for f in rows}
    changes = []
    for f in rows:
        old_base = f"{f.league_code}-{f.season}-{old_slug(f.home_team)}-{old_slug(f.away_team)}"
        new_base = f"{f.league_code}-{f.season}-{slug(f.home_team)}-{slug(f.away_team)}"
        if old_base == new_base or not f.provider_id.startswith(old_base):
            continue
        suffix = f.provider_id[len(old_base) :]
        if suffix and not re.fullmatch(r"-\d+", suffix):
            continue
        new = new_base + suffix
        if new not in taken:
            changes.append({"fid": f.id, "new": new})
            taken.add(new)
    if changes:
        conn.execute(
            sa.update(fixtures).where(fixtures.c.id == sa.bindparam("fid")).values(provider_id=sa.bindparam("new")),
            changes,
        )
    return {"match_ids_folded": len(changes)}


def downgrade() -> None:
    """football-data clubs back under their bare names: clubs of one name in several countries become one row
    again (the lowest id; fixtures and players moved to it), as they were before this revision."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(teams).where(teams.c.source == SOURCE).order_by(teams.c.id)).all()
    keep: dict[str, int] = {}
    for r in rows:
        target = keep.setdefault(r.name, r.id)
        if target != r.id:
            for col in (fixtures.c.home_team_id, fixtures.c.away_team_id):
                conn.execute(sa.update(fixtures).where(col == r.id).values({col.name: target}))
            conn.execute(sa.update(players).where(players.c.team_id == r.id).values(team_id=target))
            conn.execute(sa.delete(teams).where(teams.c.id == r.id))
    for name, tid in keep.items():
        conn.execute(sa.update(teams).where(teams.c.id == tid).values(provider_id=name))
