"""issue 15: job_runs.pid/host, bets.settlement_note, football-data fixture ids without the date

Revision ID: 0002_issue15
Revises: 0001
Create Date: 2026-11-24

football-data.co.uk ids were `<Div>-<season>-<yyyymmdd>-<home>-<away>`: a postponed match listed again under its
new date became a second fixture, and its bets never settled. The id is now `<Div>-<season>-<home>-<away>`
(`-N` for the N-th meeting of the same home and away team in a season; see providers/football_data.py). Stored
ids are rewritten so that the provider's next answers land on the same rows. One case stays as it was: a fixture
with no result whose date has passed while another fixture of the same pair exists (a postponed copy, or an
earlier meeting) cannot be told apart safely; it keeps its old id, settlement reports it as not found and voids
its bets after VOID_AFTER_HOURS, or they can be settled by hand.
"""

import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0002_issue15"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD_ID = re.compile(r"^([^-]+)-([^-]+)-(\d{8})-([a-z0-9_]*)-([a-z0-9_]*)$")


def upgrade() -> None:
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settlement_note", sa.Text(), nullable=True))
    rekey_football_data(op.get_bind())


def rekey_football_data(conn, today=None) -> int:
    """Rewrite football-data fixture ids to the date-free form. Returns how many were rewritten."""
    f = sa.table("fixtures", sa.column("id"), sa.column("source"), sa.column("provider_id"))
    r = sa.table("results", sa.column("fixture_id"))
    rows = conn.execute(
        sa.select(f.c.id, f.c.provider_id, r.c.fixture_id.label("result"))
        .select_from(f.outerjoin(r, r.c.fixture_id == f.c.id))
        .where(f.c.source == "football-data")
    ).all()
    groups: dict[str, list] = {}
    for row in rows:
        m = OLD_ID.match(row.provider_id)
        if m:
            league, season, day, home, away = m.groups()
            groups.setdefault(f"{league}-{season}-{home}-{away}", []).append((day, row.id, row.result is not None))
    cutoff = ((today or datetime.now(UTC).date()) - timedelta(days=1)).strftime("%Y%m%d")
    changes = []
    for base, members in groups.items():
        members.sort()
        if len(members) > 1:  # a past fixture without a result beside others: ambiguous, left as it was
            members = [m for m in members if m[2] or m[0] >= cutoff]
        for n, (_, fid, _) in enumerate(members, start=1):
            changes.append({"fid": fid, "new_id": base if n == 1 else f"{base}-{n}"})
    if changes:
        conn.execute(
            sa.update(f).where(f.c.id == sa.bindparam("fid")).values(provider_id=sa.bindparam("new_id")), changes
        )
    return len(changes)


def downgrade() -> None:
    # football-data ids keep their date-free form: the old ids cannot be told from the new ones' rows alone.
    with op.batch_alter_table("bets", schema=None) as batch_op:
        batch_op.drop_column("settlement_note")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("pid")
