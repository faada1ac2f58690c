"""The report's charts and tables read with few bets: with 1, 2 and 18 settled bets the profit and bankroll lines
exist with markers, the x range spans the bets (not a time axis with one instant on it), every chart has axis
labels, and every table prints percentages and money formatted, never raw floats."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from test_value_report import _store

from pipeline.jobs.report import build_report, figures, format_report, write_plots


@pytest.fixture(params=[1, 2, 18])
def report(request, sqlite_url, tmp_path):
    n = request.param
    eng = _store(sqlite_url, tmp_path, [2.2 + 0.1 * (i % 4) for i in range(n)])
    with eng.connect() as conn:
        rep = build_report(conn, 1000.0)
    eng.dispose()
    assert len(rep["bets"]) == n
    return n, rep


def spans(ax, n: int) -> None:
    lo, hi = ax.get_xlim()
    assert lo <= 0 and hi >= n, (lo, hi, n)
    assert hi - lo <= n + 1.5, "the x range is the bets', not a wide empty axis"


def test_profit_and_bankroll_draw_every_bet_with_markers_over_the_bets(report):
    n, rep = report
    figs = figures(rep)
    ax = figs["bankroll.png"].axes[0]
    (line,) = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2 or ln.get_marker() == "o"]
    assert list(line.get_xdata()) == list(range(n + 1)) and line.get_marker() == "o"
    assert line.get_ydata()[0] == 1000.0
    assert line.get_ydata()[-1] == pytest.approx(1000.0 + rep["bets"]["profit_loss"].sum())
    spans(ax, n)
    ax = figs["profit.png"].axes[0]
    drawn = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert [ln.get_label() for ln in drawn] == ["profit", "expected profit (sum of stake x fair CLV)"]
    for ln in drawn:
        assert list(ln.get_xdata()) == list(range(n + 1)) and ln.get_ydata()[0] == 0.0
    assert drawn[0].get_ydata()[-1] == pytest.approx(rep["bets"]["profit_loss"].sum())
    spans(ax, n)
    for name, fig in figs.items():
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel(), name
    plt.close("all")


def test_the_saved_pngs_exist(report, tmp_path):
    n, rep = report
    written = write_plots(rep, tmp_path / f"charts{n}")
    assert sorted(p.name for p in written) == ["bankroll.png", "calibration.png", "clv_by_month.png", "profit.png"]
    assert all(p.stat().st_size > 5000 for p in written)


RAW_FLOAT = re.compile(r"(?<![\d.])\d+\.\d{4,}(?![\d%])")


def test_every_table_formats_its_numbers(report):
    n, rep = report
    text = format_report(rep)
    outcome = text.split("By outcome:")[1].split("\n\n")[0]
    assert "roi" in outcome and re.search(r"[+-]\d+\.\d%", outcome)
    calibration = text.split("Calibration")[1]
    assert re.search(r"\d+\.\d%", calibration)
    # no raw float anywhere (110.086957), except the model's scores (log loss 0.6931 style, 4 decimals)
    scored = [ln for ln in text.splitlines() if "log loss" in ln]
    assert RAW_FLOAT.findall("\n".join(ln for ln in text.splitlines() if ln not in scored)) == []
