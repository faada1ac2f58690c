"""Deployed models -> Prediction records (pipeline.records): the upcoming fixtures as a match frame, the models'
probabilities beside the market's margin-free view (stored idempotently by pipeline.store.predictions: one row
per fixture, model version and input).

`input_key` names what a prediction was made from (the prices: reference, sharp and best bettable, see
pipeline.prices.prices_key; and the lineup once it is out), so a run that finds nothing new writes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.forecast import registry
from pipeline.odds import implied_probabilities
from pipeline.outcomes import columns
from pipeline.prices import PRICE_COLUMNS, PriceRules, price_table
from pipeline.providers.base import SCHEDULED, Batch
from pipeline.records import Prediction
from pipeline.store import FRAME_COLUMNS
from pipeline.store.model_versions import record_model_version
from pipeline.store.predictions import predicted_inputs

if TYPE_CHECKING:
    from pipeline.forecast.modelset import ModelSet

HISTORY_DAYS = 800  # recent results the models need for form and rating updates


@dataclass
class LoadedModels:
    model_set: ModelSet
    version: str
    deployed: registry.Deployed | None = None  # `copied_from` says when the set was copied in by hand


def load_models(model_dir) -> LoadedModels:
    """The deployed model set, ready to predict; raises registry.ModelLoadError when there is none usable."""
    # imported here, not at the top: the models pull in scikit-learn and XGBoost (a second of start-up), which the
    # lineup job, run every 15 minutes, needs only when a lineup has changed
    from pipeline.forecast.modelset import ModelSet

    deployed = registry.load_deployed(model_dir)
    return LoadedModels(ModelSet.from_objects(deployed.objects), deployed.version, deployed)


def record_copied_set(engine, model_dir, deployed: registry.Deployed | None, now: datetime, log=None) -> bool:
    """A set copied into MODEL_DIR by hand (`cp models/backup_X/*.joblib models/`): record it once as a manual
    rollback in model_versions and make it the registry's live set. Returns whether this call recorded it (the
    caller counts it in its run); several jobs may notice the same copy, exactly one records it."""
    if deployed is None or deployed.copied_from is None or engine is None:
        return False

    def record(note: str) -> None:
        with engine.begin() as conn:
            record_model_version(
                conn, deployed.version, "manual_rollback", now, backup_path=deployed.copied_from, notes=note
            )
        if log is not None:
            log.warning("manual rollback recorded: %s", note)

    return registry.adopt_copied_set(model_dir, deployed, record, now)


def fixtures_frame(batch: Batch, now: datetime, rules: PriceRules | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Upcoming matches of a provider batch as match-frame rows with their prices (pipeline.prices: the
    reference price in odds_*, the sharp price, the best bettable prices) from each book's latest snapshot."""
    rules = rules or PriceRules()
    problems, rows = [], []
    for m in batch.matches:
        if m.status != SCHEDULED or m.kickoff <= now:
            continue
        if not m.home_team or not m.away_team or m.home_team == m.away_team:
            problems.append(f"fixture {m.provider_id}: missing or identical teams")
            continue
        rows.append(
            {
                "match_id": m.provider_id,
                "league": m.league,
                "season": str(m.season),
                "kickoff": m.kickoff,
                "home_team": m.home_team,
                "away_team": m.away_team,
                "home_team_key": m.home_team_id or m.home_team,  # the club as the store keys it (store.writes)
                "away_team_key": m.away_team_id or m.away_team,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=["match_id", "league", "season", "kickoff", "home_team", "away_team", "home_team_key", "away_team_key"],
    )
    odds = pd.DataFrame(
        [
            (o.match_id, o.bookmaker, o.home, o.draw, o.away, o.fetched_at)
            for o in batch.odds
            if not o.is_closing and o.fetched_at <= now and o.market == "1X2"
        ],
        columns=["match_id", "bookmaker", "home", "draw", "away", "fetched_at"],
    )
    frame = frame.merge(price_table(odds, rules), left_on="match_id", right_index=True, how="left")
    for c in FRAME_COLUMNS + PRICE_COLUMNS:
        if c not in frame:
            frame[c] = np.nan
    frame["kickoff"] = pd.to_datetime(frame["kickoff"], utc=True)
    return frame.sort_values(["kickoff", "match_id"]).reset_index(drop=True), problems


def market_probabilities(frame: pd.DataFrame, method: str) -> np.ndarray:
    odds = frame[columns("odds_")].to_numpy(float)
    return implied_probabilities(odds, method=method)


def prediction_rows(
    frame: pd.DataFrame,
    preds: pd.DataFrame,
    ids: dict,
    version: str,
    now: datetime,
    keys: list[str],
    uses_lineups: bool,
    market: np.ndarray,
) -> list[Prediction]:
    """One Prediction per fixture of `frame` (in its order): the models' `preds` (by match_id), the market's
    margin-free `market` (aligned with `frame`), `keys` the inputs; `ids` maps match_id to fixtures.id (a fixture
    not stored yet has none)."""
    preds = preds.set_index("match_id").loc[frame["match_id"]]
    base_cols = [
        c
        for c in preds.columns
        if c not in (*columns("p_"), "home_xg", "away_xg") and pd.api.types.is_numeric_dtype(preds[c])
    ]
    # plain Python values column by column: row-wise pandas access costs ~0.5 ms a fixture
    probs = preds[columns("p_")].to_numpy(float).tolist()
    xg = [
        [None if pd.isna(v) else float(v) for v in preds[c]] if c in preds else [None] * len(preds)
        for c in ("home_xg", "away_xg")
    ]
    base = {c: [None if pd.isna(v) else float(v) for v in preds[c]] for c in base_cols}
    mk = [[None if np.isnan(v) else float(v) for v in row] for row in market.tolist()]
    rows = []
    for i, match_id in enumerate(frame["match_id"]):
        details = {c: base[c][i] for c in base_cols}
        rows.append(
            Prediction(
                match_id=match_id,
                fixture_id=ids.get(match_id),
                prediction_time=now,
                model_version=version,
                home_prob=probs[i][0],
                draw_prob=probs[i][1],
                away_prob=probs[i][2],
                input_key=keys[i],
                uses_lineups=uses_lineups,
                home_xg=xg[0][i],
                away_xg=xg[1][i],
                market_home_prob=mk[i][0],
                market_draw_prob=mk[i][1],
                market_away_prob=mk[i][2],
                details=json.dumps(details, sort_keys=True),
            )
        )
    return rows


def model_two_way(predictions: list[Prediction]):
    """The models' fair probabilities of both selections of a two-way market at a line (pipeline.betting.two_way's
    ModelFair, keyed by match id), from each prediction's expected goals: the Dixon-Coles score matrix of
    independent goals (pipeline.forecast.market_probs.xg_matrix, rho 0: a stored prediction keeps no rho), which
    prices every total and handicap (quarter lines as the average of their halves). None for a match whose
    prediction has no expected goals. The lineup step's predictions carry the lineup-adjusted ones."""
    # the score matrix is Dixon-Coles' (scikit-learn): loaded only when predictions are made anyway
    from pipeline.forecast.market_probs import two_way, xg_matrix

    xg = {
        p.match_id: (p.home_xg, p.away_xg)
        for p in predictions
        if p.home_xg is not None and p.away_xg is not None and np.isfinite([p.home_xg, p.away_xg]).all()
    }
    matrices: dict[str, np.ndarray] = {}

    def fair(match_id: str, market, line: float) -> np.ndarray | None:
        if match_id not in xg:
            return None
        if match_id not in matrices:
            matrices[match_id] = xg_matrix(*xg[match_id])
        p = two_way(matrices[match_id], market, line)[0]
        return p if np.isfinite(p).all() else None

    return fair


def two_way_view(markets, predictions: list[Prediction]):
    """The models' two-way view of `predictions` (model_two_way) where MARKETS bets a two-way market, else None."""
    return model_two_way(predictions) if any(str(m) in ("OU", "AH") for m in markets) else None


def already_predicted(conn, fixture_id_by_match: dict, version: str, keys: dict[str, str]) -> set[str]:
    """The match ids whose fixture model `version` has already predicted from the same input (`keys`)."""
    ids = [fid for fid in fixture_id_by_match.values() if fid is not None]
    if not ids:
        return set()
    done = predicted_inputs(conn, ids, version)
    return {m for m, fid in fixture_id_by_match.items() if (fid, keys[m]) in done}


__all__ = [
    "HISTORY_DAYS",
    "LoadedModels",
    "load_models",
    "record_copied_set",
    "fixtures_frame",
    "market_probabilities",
    "prediction_rows",
    "already_predicted",
    "model_two_way",
    "two_way_view",
]
