"""Whether a trained candidate may replace the deployed set, as typed records: training's held-out scores, the
comparison with the deployed set, and the gate's verdict.

The gate: the candidate's ensemble must clear the configured thresholds on the held-out matches (log loss,
accuracy, Brier), and must not be worse than the deployed ensemble by more than DEPLOY_TOLERANCE in log loss on
the held-out matches the deployed set has never seen (those after its training window). When fewer than
MIN_COMPARE_MATCHES such matches exist, the comparison cannot be made honestly and the record says so; the
thresholds still apply.

With FAIR_LINE=close_model the close model has a gate of its own (`judge_close_model`): it must forecast the
validation matches' fair close (the sharp close, margin removed by CLV_METHOD) better than the sharp pre-match
price does, in cross-entropy; otherwise the set is deployed without it and bets stay against the sharp line.

`as_dict` gives each record's JSON as model_versions.metrics and the set's metadata.json have always stored it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.config import Settings
from pipeline.forecast.fair_line import CloseLineFit
from pipeline.forecast.modelset import ModelSet, TrainResult
from pipeline.metrics import outcomes_from_goals, score_all
from pipeline.outcomes import columns

MIN_COMPARE_MATCHES = 100


@dataclass(frozen=True)
class Scores:
    """One forecaster's scores on `n` matches (pipeline.metrics.score_all)."""

    n: int
    log_loss: float
    brier: float
    rps: float
    accuracy: float

    @classmethod
    def of(cls, probs, outcomes) -> Scores:
        return cls.from_dict(score_all(probs, outcomes))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scores:
        return cls(int(d["n"]), float(d["log_loss"]), float(d["brier"]), float(d["rps"]), float(d["accuracy"]))

    def as_dict(self) -> dict:
        return {"n": self.n, "log_loss": self.log_loss, "brier": self.brier, "rps": self.rps, "accuracy": self.accuracy}


@dataclass(frozen=True)
class TrainingScores:
    """Every forecaster's scores on the validation matches (held out in time order), by name: the ensemble, its
    members, and the market's prices on the same matches."""

    n_validation: int
    forecasters: tuple[tuple[str, Scores], ...]

    @classmethod
    def of(cls, result: TrainResult) -> TrainingScores:
        return cls(int(result.n_validation), tuple((k, Scores.from_dict(v)) for k, v in result.metrics.items()))

    def __getitem__(self, name: str) -> Scores:
        return dict(self.forecasters)[name]

    @property
    def ensemble(self) -> Scores:
        return self["ensemble"]

    def as_dict(self) -> dict:
        return {k: s.as_dict() for k, s in self.forecasters}

    def table(self) -> str:
        lines = [
            f"validation on the last {self.n_validation} matches (held out in time order):",
            f"  {'forecaster':<22}{'n':>6}{'log loss':>10}{'Brier':>8}{'RPS':>8}{'acc':>7}",
        ]
        for name, m in self.forecasters:
            lines.append(f"  {name:<22}{m.n:>6}{m.log_loss:>10.4f}{m.brier:>8.4f}{m.rps:>8.4f}{m.accuracy:>7.3f}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Comparison:
    """The candidate against the deployed ensemble on the `n` validation matches the deployed set never saw, or
    why that comparison is not possible."""

    possible: bool
    reason: str | None = None
    n: int = 0
    deployed: Scores | None = None
    candidate: Scores | None = None

    def as_dict(self) -> dict:
        if not self.possible or self.deployed is None or self.candidate is None:
            return {"possible": False, "reason": self.reason}
        return {
            "possible": True,
            "n": self.n,
            "deployed": self.deployed.as_dict(),
            "candidate": self.candidate.as_dict(),
        }

    def describe(self) -> str:
        if not self.possible or self.deployed is None or self.candidate is None:
            return f"no comparison with the deployed set: {self.reason}"
        return (
            f"against the deployed set on {self.n} unseen matches: log loss {self.deployed.log_loss:.4f} (deployed) "
            f"vs {self.candidate.log_loss:.4f} (new)"
        )


@dataclass(frozen=True)
class Thresholds:
    max_log_loss: float
    min_accuracy: float
    max_brier: float
    deploy_tolerance: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.max_log_loss, settings.min_accuracy, settings.max_brier, settings.deploy_tolerance)

    def as_dict(self) -> dict:
        return {
            "max_log_loss": self.max_log_loss,
            "min_accuracy": self.min_accuracy,
            "max_brier": self.max_brier,
            "deploy_tolerance": self.deploy_tolerance,
        }


@dataclass(frozen=True)
class CloseModelVerdict:
    """Whether the trained close model may be the fair line: its cross-entropy against the validation matches'
    fair close beside the sharp pre-match price's, on the same `n` matches."""

    used: bool
    n: int
    ce_close_model: float | None
    ce_sharp: float | None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {
            "used": self.used,
            "n": self.n,
            "ce_vs_fair_close": {"close_model": self.ce_close_model, "sharp_prematch": self.ce_sharp},
            "reason": self.reason,
        }


def judge_close_model(fit: CloseLineFit | None) -> CloseModelVerdict:
    """The close model's gate: used only when it beats the sharp pre-match price on the validation matches'
    fair close (strictly lower cross-entropy)."""
    if fit is None or fit.model is None:
        return CloseModelVerdict(False, 0 if fit is None else fit.n, None, None, fit.reason if fit else "not trained")
    ce, sharp = float(fit.ce_close_model), float(fit.ce_sharp)
    if not (np.isfinite(ce) and np.isfinite(sharp)) or not ce < sharp:
        reason = (
            f"its cross-entropy against the fair close on {fit.n} validation matches, {ce:.5f}, is not below the "
            f"sharp pre-match price's {sharp:.5f}"
        )
        return CloseModelVerdict(False, fit.n, ce, sharp, reason)
    return CloseModelVerdict(True, fit.n, ce, sharp)


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision on a candidate: the reasons it may not be deployed (none: it may), with what it was
    judged on."""

    scores: TrainingScores
    comparison: Comparison
    thresholds: Thresholds
    reasons: tuple[str, ...]
    close_model: CloseModelVerdict | None = None  # FAIR_LINE=close_model only; it does not stop the deploy

    @property
    def passed(self) -> bool:
        return not self.reasons

    def report(self) -> dict:
        """model_versions.metrics for this candidate."""
        out = {
            "validation": self.scores.as_dict(),
            "comparison": self.comparison.as_dict(),
            "gate_failures": list(self.reasons),
            "thresholds": self.thresholds.as_dict(),
        }
        if self.close_model is not None:
            out["close_model"] = self.close_model.as_dict()
        return out


def compare_with_deployed(
    deployed: ModelSet | None, training_end: str | None, result: TrainResult, frame: pd.DataFrame
) -> Comparison:
    """Score the deployed ensemble (`deployed`, trained on results up to `training_end`) and the candidate on the
    validation matches the deployed set never saw; `frame` is the match frame the candidate was trained on."""
    if deployed is None:
        return Comparison(False, "no deployed set")
    val = result.validation_frame
    if training_end is None or val is None:
        return Comparison(False, "deployed set records no training window")
    end = pd.Timestamp(training_end)
    unseen = val[val["kickoff"] > end]
    if len(unseen) < MIN_COMPARE_MATCHES:
        return Comparison(
            False,
            f"only {len(unseen)} held-out matches after the deployed set's training window "
            f"(need {MIN_COMPARE_MATCHES})",
        )
    history = frame[frame["kickoff"] <= end]
    y = outcomes_from_goals(unseen["home_goals"].to_numpy(), unseen["away_goals"].to_numpy())
    old_p = deployed.predict(unseen.assign(home_goals=np.nan, away_goals=np.nan), history)
    new_p = result.validation_predictions.set_index("match_id").loc[unseen["match_id"]]
    return Comparison(
        True,
        n=int(len(unseen)),
        deployed=Scores.of(old_p[columns("p_")].to_numpy(float), y),
        candidate=Scores.of(new_p[columns("p_")].to_numpy(float), y),
    )


def judge(
    scores: TrainingScores,
    comparison: Comparison,
    thresholds: Thresholds,
    problems: tuple[str, ...] = (),
    close_model: CloseModelVerdict | None = None,
) -> GateVerdict:
    """The gate on a candidate; `problems` (stale or unchanged data) are reasons found before training;
    `close_model` the close model's own verdict, recorded beside."""
    m, t = scores.ensemble, thresholds
    reasons = list(problems)
    if not m.log_loss < t.max_log_loss:
        reasons.append(f"log loss {m.log_loss:.4f} not below MAX_LOG_LOSS {t.max_log_loss}")
    if not m.accuracy > t.min_accuracy:
        reasons.append(f"accuracy {m.accuracy:.3f} not above MIN_ACCURACY {t.min_accuracy}")
    if not m.brier < t.max_brier:
        reasons.append(f"Brier {m.brier:.4f} not below MAX_BRIER {t.max_brier}")
    if comparison.possible and comparison.candidate is not None and comparison.deployed is not None:
        new, old = comparison.candidate.log_loss, comparison.deployed.log_loss
        if new > old + t.deploy_tolerance:
            reasons.append(
                f"log loss {new:.4f} worse than the deployed set's {old:.4f} on the same "
                f"{comparison.n} matches (tolerance {t.deploy_tolerance})"
            )
    return GateVerdict(scores, comparison, thresholds, tuple(reasons), close_model)


def predicts_valid_probabilities(model_set: ModelSet, fixtures: pd.DataFrame, history: pd.DataFrame) -> bool:
    """Whether `model_set` gives finite probabilities summing to 1 for `fixtures` (the check of a set reloaded
    from disk before it goes live)."""
    probs = model_set.predict(fixtures, history)[columns("p_")].to_numpy(float)
    return bool(np.isfinite(probs).all() and np.allclose(probs.sum(axis=1), 1, atol=1e-6))


__all__ = [
    "MIN_COMPARE_MATCHES",
    "Scores",
    "TrainingScores",
    "Comparison",
    "Thresholds",
    "GateVerdict",
    "CloseModelVerdict",
    "judge_close_model",
    "compare_with_deployed",
    "judge",
    "predicts_valid_probabilities",
]
