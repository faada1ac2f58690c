"""Scores for 1X2 forecasts. Outcomes are coded 0 = home win, 1 = draw, 2 = away win; probabilities are (n, 3).

- log loss: mean of -ln p(outcome), probabilities clipped to [1e-15, 1] so one impossible event stays finite;
- Brier: the 3-class sum of squared errors, averaged over matches (0 perfect, 2 worst);
- RPS: the ranked probability score over the ordered outcomes home < draw < away, averaged (0 perfect, 1 worst);
- accuracy: how often the most probable outcome happened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.outcomes import OUTCOMES

EPS = 1e-15


def _arrays(probs, outcomes) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float).reshape(-1, 3)
    y = np.asarray(outcomes, dtype=int).ravel()
    if len(p) != len(y):
        raise ValueError(f"{len(p)} forecasts but {len(y)} outcomes")
    if len(y) and (y.min() < 0 or y.max() > 2):
        raise ValueError("outcomes must be 0 (home), 1 (draw) or 2 (away)")
    return p, y


def outcomes_from_goals(home_goals, away_goals) -> np.ndarray:
    h = np.asarray(home_goals, dtype=float)
    a = np.asarray(away_goals, dtype=float)
    return np.where(h > a, 0, np.where(h == a, 1, 2)).astype(int)


def log_loss(probs, outcomes) -> float:
    p, y = _arrays(probs, outcomes)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0))))


def brier(probs, outcomes) -> float:
    p, y = _arrays(probs, outcomes)
    onehot = np.eye(3)[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def rps(probs, outcomes) -> float:
    p, y = _arrays(probs, outcomes)
    cum_p = np.cumsum(p, axis=1)[:, :2]
    cum_o = np.cumsum(np.eye(3)[y], axis=1)[:, :2]
    return float(np.mean(np.sum((cum_p - cum_o) ** 2, axis=1) / 2))


def accuracy(probs, outcomes) -> float:
    p, y = _arrays(probs, outcomes)
    return float(np.mean(np.argmax(p, axis=1) == y))


def score_all(probs, outcomes) -> dict:
    p, y = _arrays(probs, outcomes)
    if len(y) == 0:
        return {"n": 0, "log_loss": float("nan"), "brier": float("nan"), "rps": float("nan"), "accuracy": float("nan")}
    return {
        "n": int(len(y)),
        "log_loss": log_loss(p, y),
        "brier": brier(p, y),
        "rps": rps(p, y),
        "accuracy": accuracy(p, y),
    }


def calibration_table(probs, outcomes, bins: int = 10) -> pd.DataFrame:
    """Per outcome class and probability bin: mean predicted probability, observed frequency, count."""
    p, y = _arrays(probs, outcomes)
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for k, name in enumerate(OUTCOMES):
        idx = np.clip(np.digitize(p[:, k], edges[1:-1]), 0, bins - 1)
        for b in range(bins):
            mask = idx == b
            if mask.any():
                rows.append(
                    {
                        "outcome": name,
                        "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                        "predicted": float(p[mask, k].mean()),
                        "observed": float((y[mask] == k).mean()),
                        "n": int(mask.sum()),
                    }
                )
    return pd.DataFrame(rows, columns=["outcome", "bin", "predicted", "observed", "n"])
