"""Weekly training (Sundays 02:00): fetch new results, rebuild the player database, retrain the four models,
validate on held-out recent matches, and deploy only through the gate.

The gate: the new ensemble must clear the configured thresholds on the held-out matches (log loss, accuracy,
Brier), and must not be worse than the deployed ensemble by more than DEPLOY_TOLERANCE in log loss on the
held-out matches the deployed set has never seen (those after its training window). When fewer than
MIN_COMPARE_MATCHES such matches exist, the comparison cannot be made honestly and the record says so; the
thresholds still apply.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from pipeline.betting.performance import refresh_performance
from pipeline.bookmakers import reference_order
from pipeline.config import ConfigError
from pipeline.forecast import registry
from pipeline.forecast.modelset import ModelSet, train_model_set
from pipeline.forecast.players import fit_player_ratings, lineup_history, store_player_ratings
from pipeline.forecast.predictions import record_copied_set
from pipeline.jobs.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.metrics import outcomes_from_goals, score_all
from pipeline.providers.base import LineupsUnavailable
from pipeline.store import load_match_frame, newest_result, schema, store_batch, store_lineup

MIN_COMPARE_MATCHES = 100
LINEUP_BACKFILL_DAYS = 3 * 365  # lineups of finished matches fetched for the player database
FETCH_OVERLAP = timedelta(days=7)  # re-read the last week: late corrections and postponed matches


def fetch_history(ctx: JobContext) -> None:
    source = ctx.provider.name
    with ctx.engine.connect() as conn:
        last = conn.execute(
            select(func.max(schema.fixtures.c.kickoff_time)).where(
                schema.fixtures.c.source == source, schema.fixtures.c.status == "finished"
            )
        ).scalar()
    start = (last - FETCH_OVERLAP) if last else ctx.now - timedelta(days=365.25 * ctx.settings.history_years)
    ctx.log.info("fetching results since %s", start.date())
    batch = ctx.provider.history(start, ctx.now, ctx.now)
    for p in batch.problems[:20]:
        ctx.log.warning("skipped: %s", p)
    if batch.problems:
        ctx.count("rows_skipped", len(batch.problems))
    with ctx.engine.begin() as conn:
        stored = store_batch(conn, source, batch, ctx.now, reference_order(ctx.settings.sharp_bookmakers))
        if stored["results"]:  # results of predicted matches score them (see pipeline.betting.performance)
            refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now)
    ctx.count("results_fetched", stored["results"])


def fetch_lineup_history(ctx: JobContext) -> None:
    """Lineups of recent finished matches not yet stored (the player database learns from them)."""
    if not ctx.provider.has_lineups:
        return
    source = ctx.provider.name
    f, ln = schema.fixtures, schema.lineups
    with ctx.engine.connect() as conn:
        have = select(ln.c.fixture_id).distinct()
        todo = conn.execute(
            select(f.c.id, f.c.provider_id).where(
                f.c.source == source,
                f.c.status == "finished",
                f.c.id.not_in(have),
                f.c.kickoff_time >= ctx.now - timedelta(days=LINEUP_BACKFILL_DAYS),
            )
        ).all()
    if not todo:
        return
    ids = {pid: fid for fid, pid in todo}
    try:
        lineups = ctx.provider.lineups(list(ids), ctx.now)
    except LineupsUnavailable:
        return
    with ctx.engine.begin() as conn:
        for pid, lineup in lineups.items():
            store_lineup(conn, ids[pid], lineup, ctx.now)
    ctx.count("lineups_backfilled", len(lineups))


def rate_players(ctx: JobContext, model_set: ModelSet, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The player database the candidate set implies: (ratings, lineup history), stored only if it is deployed
    (the lineup job reads the ratings beside the deployed set's Dixon-Coles rates)."""
    with ctx.engine.connect() as conn:
        history = lineup_history(conn, ctx.provider.name, until=ctx.now)
    played = (
        frame[frame["fixture_id"].isin(history["fixture_id"])].reset_index(drop=True) if len(history) else frame[:0]
    )
    if played.empty:
        return pd.DataFrame(columns=["player_provider_id", "rating", "appearances"]), history
    xg = model_set.dixon_coles.expected_goals(played)
    return fit_player_ratings(history, played, np.asarray(xg)), history


def _compare_with_deployed(ctx: JobContext, deployed: registry.Deployed | None, result, frame) -> dict:
    """Score the deployed ensemble and the candidate on validation matches the deployed set never saw."""
    if deployed is None:
        return {"possible": False, "reason": "no deployed set"}
    end = deployed.metadata.get("training_end")
    val = result.validation_frame
    if end is None or val is None:
        return {"possible": False, "reason": "deployed set records no training window"}
    unseen = val[val["kickoff"] > pd.Timestamp(end)]
    if len(unseen) < MIN_COMPARE_MATCHES:
        return {
            "possible": False,
            "reason": f"only {len(unseen)} held-out matches after the deployed set's "
            f"training window (need {MIN_COMPARE_MATCHES})",
        }
    old = ModelSet.from_objects(deployed.objects)
    history = frame[frame["kickoff"] <= pd.Timestamp(end)]
    y = outcomes_from_goals(unseen["home_goals"].to_numpy(), unseen["away_goals"].to_numpy())
    old_p = old.predict(unseen.assign(home_goals=np.nan, away_goals=np.nan), history)
    new_p = result.validation_predictions.set_index("match_id").loc[unseen["match_id"]]
    cols = ["p_home", "p_draw", "p_away"]
    return {
        "possible": True,
        "n": int(len(unseen)),
        "deployed": score_all(old_p[cols].to_numpy(float), y),
        "candidate": score_all(new_p[cols].to_numpy(float), y),
    }


def gate(settings, metrics: dict, comparison: dict) -> list[str]:
    """Reasons the candidate may not be deployed (empty: it may)."""
    m = metrics["ensemble"]
    reasons = []
    if not m["log_loss"] < settings.max_log_loss:
        reasons.append(f"log loss {m['log_loss']:.4f} not below MAX_LOG_LOSS {settings.max_log_loss}")
    if not m["accuracy"] > settings.min_accuracy:
        reasons.append(f"accuracy {m['accuracy']:.3f} not above MIN_ACCURACY {settings.min_accuracy}")
    if not m["brier"] < settings.max_brier:
        reasons.append(f"Brier {m['brier']:.4f} not below MAX_BRIER {settings.max_brier}")
    if comparison.get("possible"):
        new, old = comparison["candidate"]["log_loss"], comparison["deployed"]["log_loss"]
        if new > old + settings.deploy_tolerance:
            reasons.append(
                f"log loss {new:.4f} worse than the deployed set's {old:.4f} on the same "
                f"{comparison['n']} matches (tolerance {settings.deploy_tolerance})"
            )
    return reasons


def _record(
    ctx: JobContext, version: str, action: str, *, forced=False, n=None, report=None, backup=None, notes=None
) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(
            schema.model_versions.insert().values(
                version=version,
                action=action,
                created_at=ctx.now,
                forced=forced,
                training_matches=n,
                metrics=json.dumps(report, default=str) if report is not None else None,
                backup_path=str(backup) if backup else None,
                notes=notes,
            )
        )


def format_report(metrics: dict, n_val: int) -> str:
    lines = [
        f"validation on the last {n_val} matches (held out in time order):",
        f"  {'forecaster':<22}{'n':>6}{'log loss':>10}{'Brier':>8}{'RPS':>8}{'acc':>7}",
    ]
    for name, m in metrics.items():
        if isinstance(m, dict) and "log_loss" in m:
            lines.append(
                f"  {name:<22}{m['n']:>6}{m['log_loss']:>10.4f}{m['brier']:>8.4f}{m['rps']:>8.4f}{m['accuracy']:>7.3f}"
            )
    return "\n".join(lines)


def _record_copied_set(ctx: JobContext, deployed: registry.Deployed | None) -> None:
    if record_copied_set(ctx.engine, ctx.settings.model_dir, deployed, ctx.now, ctx.log):
        ctx.count("manual_rollback", 1)


def _check_model_dir_writable(model_dir) -> None:
    """Found before hours of training, not after: a model directory we cannot write to is a setting to fix."""
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        probe = model_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"MODEL_DIR {model_dir} is not writable ({exc.strerror})") from None


def stale_data(ctx: JobContext, newest) -> str | None:
    """Why the store's results are too old to train on (the newest older than MAX_DATA_AGE_DAYS), or None."""
    if newest is None:
        return None
    age = ctx.now - newest
    if age <= timedelta(days=ctx.settings.max_data_age_days):
        return None
    return (
        f"the newest result is from {newest:%Y-%m-%d}, {age.days} days old (MAX_DATA_AGE_DAYS="
        f"{ctx.settings.max_data_age_days:g}): is the data source still being updated?"
    )


def nothing_new(frame: pd.DataFrame, deployed: registry.Deployed | None) -> str | None:
    """Why retraining would learn nothing (no result after the deployed set's training window), or None."""
    end = deployed.metadata.get("training_end") if deployed is not None else None
    if end is None or not len(frame) or frame["kickoff"].max() > pd.Timestamp(end):
        return None
    return (
        f"no result newer than the deployed set's training window (newest {frame['kickoff'].max():%Y-%m-%d}; "
        f"{deployed.version} was trained on results up to {pd.Timestamp(end):%Y-%m-%d})"
    )


def _deployed_set(ctx: JobContext) -> registry.Deployed | None:
    try:
        deployed = registry.load_deployed(ctx.settings.model_dir)
    except registry.ModelLoadError as exc:
        if registry.has_live_set(ctx.settings.model_dir):
            ctx.log.warning("the deployed set cannot be loaded (%s): it will be replaced if the gate passes", exc)
        return None
    _record_copied_set(ctx, deployed)
    return deployed


def run(ctx: JobContext, *, dry_run: bool = False, force_deploy: bool = False, rollback: str | None = None) -> None:
    """The weekly job; `rollback` ("latest" or a backup's timestamp) restores a backup instead of training."""
    if rollback is not None:
        run_rollback(ctx, None if rollback == "latest" else rollback)
    else:
        run_training(ctx, dry_run=dry_run, force_deploy=force_deploy)


def run_training(ctx: JobContext, *, dry_run: bool = False, force_deploy: bool = False) -> None:
    settings = ctx.settings
    if not dry_run:
        _check_model_dir_writable(settings.model_dir)
    fetch_history(ctx)
    fetch_lineup_history(ctx)
    with ctx.engine.connect() as conn:
        frame = load_match_frame(
            conn,
            ctx.provider.name,
            until=ctx.now,
            since=ctx.now - timedelta(days=365.25 * settings.history_years),
            reference=reference_order(settings.sharp_bookmakers),
        )
        newest = newest_result(conn, ctx.provider.name)
    # Bad data must not look like success: nothing is trained or deployed, and the reason is recorded and shown.
    stale = stale_data(ctx, newest)
    if len(frame) < settings.validation_matches + 200 and not stale:
        raise JobFailed(
            f"only {len(frame)} finished matches in the store: need at least "
            f"{settings.validation_matches + 200} (VALIDATION_MATCHES + 200) to train and validate",
            EXIT_SOFTWARE,
        )
    deployed = _deployed_set(ctx)
    same = nothing_new(frame, deployed)
    if (stale or same) and not (dry_run or force_deploy):
        version = registry.new_version(settings.model_dir, ctx.now)
        _record(ctx, version, "rejected" if stale else "skipped", n=len(frame), notes=stale or same)
        ctx.count("deployed", 0)
        if stale:
            raise JobFailed(f"not trained, nothing deployed: {stale}", EXIT_SOFTWARE)
        ctx.log.warning("not trained, nothing deployed: %s", same)
        return
    problems = [p for p in (stale, same) if p]
    ctx.log.info(
        "training on %d matches (%s to %s)", len(frame), frame["kickoff"].min().date(), frame["kickoff"].max().date()
    )
    result = train_model_set(
        frame,
        validation_matches=settings.validation_matches,
        xi=settings.dc_xi,
        margin_method=settings.margin_method,
        progress=lambda msg: ctx.log.info("  %s", msg),
    )
    ctx.count("training_matches", len(frame))
    players, lineups = rate_players(ctx, result.model_set, frame)
    ctx.log.info("%s", format_report(result.metrics, result.n_validation))

    comparison = _compare_with_deployed(ctx, deployed, result, frame)
    if comparison.get("possible"):
        ctx.log.info(
            "against the deployed set on %d unseen matches: log loss %.4f (deployed) vs %.4f (new)",
            comparison["n"],
            comparison["deployed"]["log_loss"],
            comparison["candidate"]["log_loss"],
        )
    else:
        ctx.log.info("no comparison with the deployed set: %s", comparison["reason"])
    reasons = problems + gate(settings, result.metrics, comparison)
    version = registry.new_version(settings.model_dir, ctx.now)
    report = {
        "validation": result.metrics,
        "comparison": comparison,
        "gate_failures": reasons,
        "thresholds": {
            "max_log_loss": settings.max_log_loss,
            "min_accuracy": settings.min_accuracy,
            "max_brier": settings.max_brier,
            "deploy_tolerance": settings.deploy_tolerance,
        },
    }
    if dry_run:
        ctx.log.info("dry run: %s", "gate passed" if not reasons else "gate failed: " + "; ".join(reasons))
        _record(ctx, version, "dry_run", n=len(frame), report=report)
        ctx.count("deployed", 0)
        return
    if reasons and not force_deploy:
        _record(ctx, version, "rejected", n=len(frame), report=report, notes="; ".join(reasons))
        ctx.count("deployed", 0)
        raise JobFailed("new models not deployed: " + "; ".join(reasons), EXIT_SOFTWARE)
    if reasons:
        ctx.log.warning("--force-deploy: deploying despite: %s", "; ".join(reasons))
    metadata = {
        "version": version,
        "trained_at": ctx.now.isoformat(),
        "source": ctx.provider.name,
        "training_start": frame["kickoff"].min().isoformat(),
        "training_end": frame["kickoff"].max().isoformat(),
        "training_matches": int(len(frame)),
        "validation_matches": int(result.n_validation),
        "metrics": result.metrics,
        "comparison": comparison,
        "forced": bool(reasons and force_deploy),
        "thresholds": report["thresholds"],
        "features": result.feature_names,
    }
    sample = frame.tail(5).assign(home_goals=np.nan, away_goals=np.nan)

    def check(loaded: registry.Deployed) -> None:
        p = ModelSet.from_objects(loaded.objects).predict(sample, frame)
        probs = p[["p_home", "p_draw", "p_away"]].to_numpy(float)
        if not (np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1, atol=1e-6)):
            raise JobFailed("the new model set reloads but does not predict valid probabilities")

    damaged = deployed is None and registry.has_live_set(settings.model_dir)
    new, backup = registry.deploy(settings.model_dir, result.model_set.to_objects(), metadata, now=ctx.now, check=check)
    if damaged:
        ctx.log.warning("the set it replaced could not be loaded and was not backed up")
    removed = registry.prune(settings.model_dir, settings.keep_model_backups)
    if len(players):
        with ctx.engine.begin() as conn:
            ctx.count("players_rated", store_player_ratings(conn, ctx.provider.name, players, lineups, ctx.now))
    _record(
        ctx,
        version,
        "deploy",
        forced=bool(reasons and force_deploy),
        n=len(frame),
        report=report,
        backup=backup,
        notes="forced past the gate: " + "; ".join(reasons) if reasons else None,
    )
    ctx.count("deployed", 1)
    ctx.log.info(
        "deployed %s%s; pruned %d old sets", version, f" (backup {backup.name})" if backup else "", len(removed)
    )


def run_rollback(ctx: JobContext, timestamp: str | None) -> None:
    try:
        _record_copied_set(ctx, registry.load_deployed(ctx.settings.model_dir))
    except registry.ModelLoadError:
        pass  # a damaged or missing live set is what a rollback replaces
    try:
        deployed, source = registry.rollback(ctx.settings.model_dir, timestamp, now=ctx.now)
    except registry.ModelLoadError as exc:
        raise JobFailed(f"rollback failed: {exc}", EXIT_SOFTWARE) from None
    _record(ctx, deployed.version, "rollback", backup=source, notes=f"restored {source.name}")
    ctx.count("rolled_back", 1)
    ctx.log.info("rolled back to %s (now live as %s)", source.name, deployed.version)
