"""The migration job (production/migrate.py): the runner has already brought the schema to head, as it does at the
start of every job, under LOCK_DIR/migrate.lock; this job reports the revision the store is at, so a deploy can
run the step alone, before the jobs, and see it succeed (compose's `migrate` service, the Kubernetes Job)."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext

from pipeline.jobs.runner import JobContext, JobFailed


def run(ctx: JobContext) -> None:
    with ctx.engine.connect() as conn:
        heads = sorted(MigrationContext.configure(conn).get_current_heads())
    if not heads:
        raise JobFailed("the store has no schema revision after migrating")
    ctx.counts["revision"] = ",".join(heads)
    ctx.log.info("database schema at revision %s (%s)", ",".join(heads), ctx.settings.safe_database_url)


__all__ = ["run"]
