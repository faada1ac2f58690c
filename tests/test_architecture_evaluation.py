"""The evaluation package's place in the layout: it imports no job module (the jobs call it), the backtest job only
reads arguments and files and writes output, every evaluation module stays small, and the jobs that settle and
report hold no SQL (pipeline/store does)."""

from __future__ import annotations

import ast
import importlib

from conftest import ROOT

PACKAGE = ROOT / "pipeline"
SQL_VERBS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ")
EVALUATION = sorted((PACKAGE / "evaluation").glob("*.py"))


def imported_modules(path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_evaluation_exists_and_imports_no_job_module():
    assert {p.stem for p in EVALUATION} >= {"walk_forward", "simulation", "scoring", "bet_stats", "text"}
    for path in EVALUATION:
        jobs = sorted(m for m in imported_modules(path) if m == "pipeline.jobs" or m.startswith("pipeline.jobs."))
        assert not jobs, f"{path.name} imports {jobs}"


def test_the_backtest_job_is_short_and_computes_nothing_itself():
    path = PACKAGE / "jobs" / "backtest.py"
    assert len(path.read_text().splitlines()) < 150
    defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert not defined & {"run_backtest", "simulate", "grade", "score_predictions", "format_result"}


def test_evaluation_modules_stay_under_400_lines():
    for path in EVALUATION:
        assert len(path.read_text().splitlines()) <= 400, path.name


def test_settlement_and_report_jobs_and_evaluation_hold_no_sql():
    for path in [PACKAGE / "jobs" / "report.py", PACKAGE / "jobs" / "results_settlement.py", *EVALUATION]:
        mods = imported_modules(path)
        assert not [m for m in mods if m.startswith("sqlalchemy")], path.name
        strings = [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)]
        sql = [x for x in strings if isinstance(x, str) and x.lstrip().upper().startswith(SQL_VERBS)]
        assert not sql, f"{path.name}: {sql}"


def test_evaluation_exports_its_surface():
    mod = importlib.import_module("pipeline.evaluation")
    assert mod.__doc__ and mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
