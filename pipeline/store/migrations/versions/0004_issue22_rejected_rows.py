"""issue 22: rows rejected at the door

`rejected_rows`: every source row that broke the validation contract (pipeline.providers.contract), one row per
source, file, line, field and rule, with when it was first and last seen and how often.

Revision ID: 0004_issue22
Revises: 0003_issue24
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.schema import UTCDateTime

revision = "0004_issue22"
down_revision = "0003_issue24"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("times_seen", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_rows")),
        sa.UniqueConstraint(
            "source", "file", "line", "field", "reason", name=op.f("uq_rejected_rows_source_file_line_field_reason")
        ),
    )
    op.create_index(op.f("ix_rejected_rows_last_seen"), "rejected_rows", ["last_seen"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rejected_rows_last_seen"), table_name="rejected_rows")
    op.drop_table("rejected_rows")
