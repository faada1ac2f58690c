"""Alembic environment: the schema module is the source of truth; batch mode so SQLite can alter tables."""

from alembic import context
from sqlalchemy import create_engine

from pipeline.store.schema import metadata

config = context.config


def run() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Command-line use (alembic -x url=...): only for generating revisions during development.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: pass the store as -x url=... (or sqlalchemy.url in alembic.ini)")
    engine = create_engine(url)
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
