"""Weekly training (Sundays 02:00): fetch new results and lineups, retrain the four models and rate the players,
validate on held-out recent matches, and deploy only through the gate (pipeline.forecast.validation). The player
ratings belong to the set they were fitted with: they are written only when that set is deployed."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.betting.performance import refresh_performance
from pipeline.bookmakers import reference_order
from pipeline.config import ConfigError
from pipeline.forecast import registry
from pipeline.forecast.fair_line import PREMATCH_LEAD, CloseLine, wide_prices
from pipeline.forecast.modelset import ModelSet, TrainResult, train_model_set
from pipeline.forecast.players import fit_player_ratings
from pipeline.forecast.predictions import record_copied_set
from pipeline.forecast.validation import (
    GateVerdict,
    Thresholds,
    TrainingScores,
    compare_with_deployed,
    judge,
    judge_close_model,
    predicts_valid_probabilities,
)
from pipeline.jobs.runner import EXIT_SOFTWARE, JobContext, JobFailed
from pipeline.providers.base import LineupsUnavailable
from pipeline.store import load_match_frame, newest_result, store_batch, store_lineup
from pipeline.store.book_prices import book_snapshots
from pipeline.store.fixtures import finished_without_lineups, last_finished_kickoff
from pipeline.store.model_versions import record_model_version
from pipeline.store.players import lineup_history, store_player_ratings

LINEUP_BACKFILL_DAYS = 3 * 365  # lineups of finished matches fetched for the player database
FETCH_OVERLAP = timedelta(days=7)  # re-read the last week: late corrections and postponed matches
RATING_COLUMNS = ["player_provider_id", "rating", "appearances"]


def fetch_history(ctx: JobContext) -> None:
    source = ctx.provider.name
    with ctx.engine.connect() as conn:
        last = last_finished_kickoff(conn, source)
    start = (last - FETCH_OVERLAP) if last else ctx.now - timedelta(days=365.25 * ctx.settings.history_years)
    ctx.log.info("fetching results since %s", start.date())
    # Past seasons' over/under and handicap prices are not fetched: the models do not read them, the backtest reads
    # the files, and a followed match's are stored by the hourly and settlement runs. Seasons of them (72 rows a
    # match from the sandbox) would double every training's reading, its write and the store.
    batch = ctx.provider.history(start, ctx.now, ctx.now, markets=False)
    for p in batch.problems[:20]:
        ctx.log.warning("skipped: %s", p)
    if batch.problems:
        ctx.count("rows_skipped", len(batch.problems))
    with ctx.engine.begin() as conn:
        stored = store_batch(conn, source, batch, ctx.now, reference_order(ctx.settings.sharp_bookmakers))
        if stored["results"]:  # results of predicted matches score them (see pipeline.betting.performance)
            refresh_performance(conn, ctx.settings.starting_bankroll, ctx.now, ctx.settings.ledger)
    ctx.count("results_fetched", stored["results"])


def fetch_lineup_history(ctx: JobContext) -> None:
    """Lineups of recent finished matches not yet stored (the player database learns from them)."""
    if not ctx.provider.has_lineups:
        return
    with ctx.engine.connect() as conn:
        todo = finished_without_lineups(conn, ctx.provider.name, ctx.now - timedelta(days=LINEUP_BACKFILL_DAYS))
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
    """The player ratings the candidate set implies, with the lineup history they come from: (ratings, history)."""
    with ctx.engine.connect() as conn:
        history = lineup_history(conn, ctx.provider.name, until=ctx.now)
    if history.empty:
        return pd.DataFrame(columns=RATING_COLUMNS), history
    played = frame[frame["fixture_id"].isin(history["fixture_id"])].reset_index(drop=True)
    if played.empty:
        return pd.DataFrame(columns=RATING_COLUMNS), history
    xg = model_set.dixon_coles.expected_goals(played)
    return fit_player_ratings(history, played, np.asarray(xg)), history


def close_model_prices(ctx: JobContext, frame: pd.DataFrame, line: CloseLine) -> pd.DataFrame:
    """Each book's pre-match price (its latest snapshot PREMATCH_LEAD before kick-off) and the sharp books'
    closing prices of the matches in the close model's window, by match id (fair_line.wide_prices)."""
    since = frame["kickoff"].max() - pd.Timedelta(days=round(365.25 * line.years) + 7)
    part = frame[frame["kickoff"] >= since]
    ids = dict(zip(part["fixture_id"].astype(int), part["match_id"]))
    with ctx.engine.connect() as conn:
        pre = book_snapshots(conn, ids, line.books, lead=PREMATCH_LEAD)
        close = book_snapshots(conn, ids, line.sharp_books, closing=True)
    wide = [
        wide_prices(d.assign(match_id=d["fixture_id"].map(ids)), "match_id", k)
        for d, k in ((pre, "pre"), (close, "close"))
    ]
    return pd.concat(wide, axis=1)


def _record(ctx: JobContext, version: str, action: str, **fields) -> None:
    with ctx.engine.begin() as conn:
        record_model_version(conn, version, action, ctx.now, **fields)


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


def stale_data(ctx: JobContext, newest: datetime | None) -> str | None:
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
    if deployed is None:
        return None
    end = deployed.metadata.get("training_end")
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
        _record(ctx, version, "rejected" if stale else "skipped", training_matches=len(frame), notes=stale or same)
        ctx.count("deployed", 0)
        if stale:
            raise JobFailed(f"not trained, nothing deployed: {stale}", EXIT_SOFTWARE)
        ctx.log.warning("not trained, nothing deployed: %s", same)
        return
    ctx.log.info(
        "training on %d matches (%s to %s)", len(frame), frame["kickoff"].min().date(), frame["kickoff"].max().date()
    )
    # the close model is trained only when it is the fair line: it needs every book's prices, and a switch to it
    # takes effect at the next training (as MARGIN_METHOD does)
    line = CloseLine.from_settings(settings) if settings.fair_line == "close_model" else None
    result = train_model_set(
        frame,
        validation_matches=settings.validation_matches,
        xi=settings.dc_xi,
        margin_method=settings.margin_method,
        progress=lambda msg: ctx.log.info("  %s", msg),
        close_line=line,
        close_prices=close_model_prices(ctx, frame, line) if line is not None else None,
    )
    close_verdict = judge_close_model(result.close_line) if line is not None else None
    if close_verdict is not None and not close_verdict.used:
        result.model_set.close_model = None
        ctx.log.warning(
            "FAIR_LINE=close_model: the close model is not used, bets stay against the sharp line: %s",
            close_verdict.reason,
        )
    ctx.count("training_matches", len(frame))
    players, lineups = rate_players(ctx, result.model_set, frame)
    scores = TrainingScores.of(result)
    ctx.log.info("%s", scores.table())

    old, end = (
        (ModelSet.from_objects(deployed.objects), deployed.metadata.get("training_end")) if deployed else (None, None)
    )
    comparison = compare_with_deployed(old, end, result, frame)
    ctx.log.info("%s", comparison.describe())
    verdict = judge(
        scores, comparison, Thresholds.from_settings(settings), tuple(p for p in (stale, same) if p), close_verdict
    )
    version = registry.new_version(settings.model_dir, ctx.now)
    if dry_run:
        ctx.log.info("dry run: %s", "gate passed" if verdict.passed else "gate failed: " + "; ".join(verdict.reasons))
        _record(ctx, version, "dry_run", training_matches=len(frame), metrics=verdict.report())
        ctx.count("deployed", 0)
        return
    if not verdict.passed and not force_deploy:
        reasons = "; ".join(verdict.reasons)
        _record(ctx, version, "rejected", training_matches=len(frame), metrics=verdict.report(), notes=reasons)
        ctx.count("deployed", 0)
        raise JobFailed("new models not deployed: " + reasons, EXIT_SOFTWARE)
    deploy(ctx, version, result, frame, verdict, deployed, (players, lineups))


def deploy(
    ctx: JobContext,
    version: str,
    result: TrainResult,
    frame: pd.DataFrame,
    verdict: GateVerdict,
    deployed: registry.Deployed | None,
    ratings: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Make the candidate live (past a failed gate only with --force-deploy: `verdict` has reasons), then write its
    player `ratings` (ratings, lineup history) and the deploy record together; `deployed` is the set it replaces."""
    settings = ctx.settings
    model_set = result.model_set
    forced = not verdict.passed
    if forced:
        ctx.log.warning("--force-deploy: deploying despite: %s", "; ".join(verdict.reasons))
    metadata = {
        "version": version,
        "trained_at": ctx.now.isoformat(),
        "source": ctx.provider.name,
        "training_start": frame["kickoff"].min().isoformat(),
        "training_end": frame["kickoff"].max().isoformat(),
        "training_matches": int(len(frame)),
        "validation_matches": int(result.n_validation),
        "metrics": verdict.scores.as_dict(),
        "comparison": verdict.comparison.as_dict(),
        "forced": forced,
        "thresholds": verdict.thresholds.as_dict(),
        "features": result.feature_names,
    }
    if verdict.close_model is not None:
        metadata["close_model"] = verdict.close_model.as_dict()
    sample = frame.tail(5).assign(home_goals=np.nan, away_goals=np.nan)

    def check(loaded: registry.Deployed) -> None:
        if not predicts_valid_probabilities(ModelSet.from_objects(loaded.objects), sample, frame):
            raise JobFailed("the new model set reloads but does not predict valid probabilities")

    damaged = deployed is None and registry.has_live_set(settings.model_dir)
    _, backup = registry.deploy(settings.model_dir, model_set.to_objects(), metadata, now=ctx.now, check=check)
    if damaged:
        ctx.log.warning("the set it replaced could not be loaded and was not backed up")
    removed = registry.prune(settings.model_dir, settings.keep_model_backups)
    players, lineups = ratings
    with ctx.engine.begin() as conn:
        if len(players):
            ctx.count("players_rated", store_player_ratings(conn, ctx.provider.name, players, lineups, ctx.now))
        record_model_version(
            conn,
            version,
            "deploy",
            ctx.now,
            forced=forced,
            training_matches=len(frame),
            metrics=verdict.report(),
            backup_path=backup,
            notes="forced past the gate: " + "; ".join(verdict.reasons) if forced else None,
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
    _record(ctx, deployed.version, "rollback", backup_path=source, notes=f"restored {source.name}")
    ctx.count("rolled_back", 1)
    ctx.log.info("rolled back to %s (now live as %s)", source.name, deployed.version)
