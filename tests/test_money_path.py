"""The money path's shape: typed records flow one way from prices to bets, the store alone speaks SQL for it, each
of its tables has one writer, and the configuration knows nothing of the betting package."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime

import pytest
from conftest import ROOT

from pipeline import records

PACKAGE = ROOT / "pipeline"
# the modules issue 21 took the money path's SQL out of
NO_SQL = [
    "betting/strategy.py",
    "betting/placement.py",
    "betting/performance.py",
    "forecast/predictions.py",
    "jobs/hourly_predictions.py",
    "jobs/lineup_updates.py",
]
# table -> the one store module that writes it
WRITERS = {
    "performance_daily": "store/performance.py",
    "predictions": "store/predictions.py",
    "lineup_updates": "store/lineups.py",
    "lineups": "store/lineups.py",
}


def _imports(path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_records_are_frozen_and_a_leaf():
    for cls in (records.Prediction, records.ValueCandidate, records.BetProposal, records.PlacedBet, records.Bet):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert not [m for m in _imports(PACKAGE / "records.py") if m.startswith("pipeline")]
    p = records.Prediction("m1", 1, datetime(2026, 1, 1, tzinfo=UTC), "v1", 0.5, 0.3, 0.2, "k")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.id = 3  # type: ignore[misc]
    assert p.probs == (0.5, 0.3, 0.2) and p.key == (1, "v1", "k")


@pytest.mark.parametrize("module", NO_SQL)
def test_the_money_path_outside_the_store_has_no_sql(module):
    assert not [m for m in _imports(PACKAGE / module) if m.startswith("sqlalchemy")], module
    src = (PACKAGE / module).read_text()
    assert "schema." not in src


def test_the_configuration_imports_nothing_above_it():
    assert not [m for m in _imports(PACKAGE / "config.py") if m.startswith(("pipeline.betting", "pipeline.forecast"))]


def written_tables(path) -> set[str]:
    """Tables a module writes: `insert_ignore`/`upsert`(conn, schema.T, ...), `insert`/`delete`/`update`(schema.T)
    and schema.T.insert()/.delete()/.update()."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        f, args = node.func, node.args
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        targets = []
        if name in ("insert_ignore", "upsert") and len(args) > 1:
            targets.append(args[1])
        elif name in ("insert", "delete", "update"):
            targets += args[:1]
            if isinstance(f, ast.Attribute):
                targets.append(f.value)
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "schema":
                out.add(t.attr)
    return out


def test_the_writer_finder_finds_writes(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "insert_ignore(\n    conn,\n    schema.lineups,\n    rows,\n)\nconn.execute(delete(schema.bets))\n"
        "conn.execute(schema.model_versions.insert().values(v=1))\nupsert(conn, schema.results, rows, keys=())\n"
    )
    assert written_tables(f) == {"lineups", "bets", "model_versions", "results"}


@pytest.mark.parametrize("table,writer", WRITERS.items())
def test_one_writer_per_table(table, writer):
    writers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and table in written_tables(path)
    }
    assert writers == {writer}
