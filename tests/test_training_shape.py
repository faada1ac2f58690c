"""Training's shape: the weekly job, the forecasting modules and the providers speak no SQL (the store does), the
training tables have one writer each, and no module of theirs passes 400 lines."""

from __future__ import annotations

import pytest
from conftest import ROOT
from test_money_path import _imports, written_tables

PACKAGE = ROOT / "pipeline"
NO_SQL = [
    "jobs/weekly_training.py",
    *(p.relative_to(PACKAGE).as_posix() for p in sorted((PACKAGE / "forecast").rglob("*.py"))),
    *(p.relative_to(PACKAGE).as_posix() for p in sorted((PACKAGE / "providers").glob("*.py"))),
]
WRITERS = {"model_versions": "store/model_versions.py", "players": "store/players.py"}


@pytest.mark.parametrize("module", NO_SQL)
def test_no_sql_outside_the_store(module):
    assert not [m for m in _imports(PACKAGE / module) if m.startswith("sqlalchemy")], module
    assert "schema." not in (PACKAGE / module).read_text(), module


@pytest.mark.parametrize("table,writer", WRITERS.items())
def test_one_writer_per_table(table, writer):
    writers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.parts and table in written_tables(path)
    }
    assert writers == {writer}


# forecast/registry.py and forecast/predictions.py are other helpers' of issue 21
@pytest.mark.parametrize("module", [m for m in NO_SQL if m not in ("forecast/registry.py", "forecast/predictions.py")])
def test_no_module_over_400_lines(module):
    assert len((PACKAGE / module).read_text().splitlines()) <= 400, module
