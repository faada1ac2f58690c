#!/usr/bin/env python3
"""One Dixon-Coles fit on one league's last three seasons, ours beside penaltyblog's DixonColesGoalModel on the
same matches and the same time-decay weights, with both fits' weighted log-likelihoods.

    .venv/bin/python bench/bench_dixon_coles.py                     # ours only
    /tmp/venv-bench/bin/python bench/bench_dixon_coles.py           # with penaltyblog (bench/requirements.txt):
      python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install -r requirements.txt -r bench/requirements.txt

Target: median fit under 50 ms and faster than penaltyblog.
"""

from __future__ import annotations

import statistics
import time

import click
import numpy as np
import pandas as pd
from common import machine, need_data
from scipy.stats import poisson


def weighted_loglik(hg, ag, lam, mu, rho, w) -> float:
    """sum w * log(tau * Poisson * Poisson): one formula applied to both fits' parameters."""
    tau = np.ones_like(lam)
    tau = np.where((hg == 0) & (ag == 0), 1 - lam * mu * rho, tau)
    tau = np.where((hg == 0) & (ag == 1), 1 + lam * rho, tau)
    tau = np.where((hg == 1) & (ag == 0), 1 + mu * rho, tau)
    tau = np.where((hg == 1) & (ag == 1), 1 - rho, tau)
    return float((w * (np.log(tau) + poisson.logpmf(hg, lam) + poisson.logpmf(ag, mu))).sum())


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


@click.command()
@click.option("--league", default="E0", show_default=True)
@click.option("--seasons", default="2122,2223,2324", show_default=True)
@click.option("--repeats", default=21, show_default=True)
@click.option("--xi", default=0.0019, show_default=True, help="Time decay per day.")
def main(league, seasons, repeats, xi):
    from pipeline.forecast.models.dixon_coles import DixonColesModel
    from pipeline.providers.football_data import load_matches

    print(machine())
    frame, _ = load_matches(need_data(), [league], seasons.split(","))
    ref = frame["kickoff"].max() + pd.Timedelta(days=1)
    print(
        f"{league} {seasons}: {len(frame)} matches, {frame['home_team'].nunique()} teams, xi {xi}/day, "
        f"reference {ref.date()}, median of {repeats} fits"
    )
    hg, ag = frame["home_goals"].to_numpy(int), frame["away_goals"].to_numpy(int)
    age = (ref - frame["kickoff"]).dt.total_seconds().to_numpy() / 86400
    w = np.exp(-xi * age)
    w = w / w.mean()  # our fit normalises the weights so; penaltyblog gets exactly these

    # the same objective as penaltyblog's: plain weighted maximum likelihood, no prior on the team parameters
    model = DixonColesModel(xi=xi, history_days=10_000, prior_sd=None)
    ours_s, fitted = timed(lambda: model.fit(frame, reference_time=ref), repeats)
    p = fitted.leagues_[league]
    teams = pd.Index(p["teams"])
    h, a = teams.get_indexer(frame["home_team"]), teams.get_indexer(frame["away_team"])
    lam = np.exp(p["mu"] + p["home"] + p["attack"][h] - p["defence"][a])
    mu = np.exp(p["mu"] + p["attack"][a] - p["defence"][h])
    ours_ll = weighted_loglik(hg, ag, lam, mu, p["rho"], w)
    print(
        f"  ours (L-BFGS-B, analytic gradient): median {ours_s * 1000:.1f} ms, weighted log-likelihood "
        f"{ours_ll:.3f}, home {p['home']:.3f}, rho {p['rho']:.4f}, converged {p['converged']}"
    )
    prod = DixonColesModel(xi=xi, history_days=10_000)
    prod_s, _ = timed(lambda: prod.fit(frame, reference_time=ref), repeats)
    print(f"  ours as production fits it (with the team prior, sd {prod.prior_sd}): median {prod_s * 1000:.1f} ms")
    try:
        from penaltyblog.models import DixonColesGoalModel
    except ImportError:
        print("  penaltyblog: not installed in this environment (see the docstring for the bench venv)")
        return

    def pb_fit():
        m = DixonColesGoalModel(hg, ag, frame["home_team"].to_numpy(), frame["away_team"].to_numpy(), weights=w)
        m.fit()
        return m

    pb_s, m = timed(pb_fit, repeats)
    params = m.get_params()
    att = (
        np.array([params[f"attack_{t}"] for t in frame["home_team"]]),
        np.array([params[f"attack_{t}"] for t in frame["away_team"]]),
    )
    dfc = (
        np.array([params[f"defence_{t}"] for t in frame["home_team"]]),
        np.array([params[f"defence_{t}"] for t in frame["away_team"]]),
    )
    pb_lam = np.exp(params["home_advantage"] + att[0] + dfc[1])
    pb_mu = np.exp(att[1] + dfc[0])
    pb_ll = weighted_loglik(hg, ag, pb_lam, pb_mu, params["rho"], w)
    print(
        f"  penaltyblog {__import__('penaltyblog').__version__} DixonColesGoalModel (SLSQP): median "
        f"{pb_s * 1000:.1f} ms, weighted log-likelihood {pb_ll:.3f} (its own report {m.loglikelihood:.3f}), "
        f"home {params['home_advantage']:.3f}, rho {params['rho']:.4f}"
    )
    diff = np.abs(np.column_stack([lam, mu]) - np.column_stack([pb_lam, pb_mu])).max()
    print(
        f"  ours / penaltyblog time: {ours_s / pb_s:.2f}; log-likelihood difference {ours_ll - pb_ll:+.4f}; "
        f"largest difference in a fitted goal rate {diff:.4f}"
    )


if __name__ == "__main__":
    main()
