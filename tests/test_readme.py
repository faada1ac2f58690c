"""The README stays true: every script and option it names exists, and its sqlite3 queries run verbatim on a store
the demo filled (the install, demo and test commands themselves are what CI runs)."""

from __future__ import annotations

import re
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import ROOT

from pipeline.jobs.cli import COMMANDS as CLI

README = (ROOT / "README.md").read_text()
# `production/<script>.py` and the options that follow it on the same line (inside backticks or a code block)
COMMAND = re.compile(r"production/(\w+)\.py((?:[ \t]+(?:--[\w-]+|[^\s`|]+))*)")


TABLE_ROW = re.compile(r"^\| `(\w+)\.py` \|")  # the jobs table: options listed in the script's row


def _commands() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in README.replace("\\\n", " ").splitlines():  # shell continuation lines joined
        for script, rest in COMMAND.findall(line):
            found.setdefault(script, set()).update(re.findall(r"(--[\w-]+)", rest))
        row = TABLE_ROW.match(line)
        if row:
            found.setdefault(row.group(1), set()).update(re.findall(r"`(--[\w-]+)", line))
    return found


COMMANDS = _commands()


def test_the_readme_names_every_production_script():
    scripts = {p.stem for p in (ROOT / "production").glob("*.py") if not p.name.startswith("_")}
    assert set(COMMANDS) == scripts, set(COMMANDS) ^ scripts


@pytest.mark.parametrize("script", sorted(COMMANDS))
def test_options_the_readme_uses_exist(script):
    # production/<script>.py runs exactly this command (tests/test_crontab.py runs each script file)
    r = CliRunner().invoke(CLI[script], ["--help"])
    assert r.exit_code == 0, r.output
    missing = [o for o in COMMANDS[script] if o not in r.output]
    assert not missing, f"README uses {missing} of {script}.py, which --help does not list"


def test_guide_queries_run_verbatim_on_the_demo_store(cycle):
    work, _ = cycle
    block = re.search(r"```sql\n(.*?)```", README, re.S).group(1)
    queries = [q.strip() for q in block.split(";") if q.strip()]
    assert len(queries) == 4
    con = sqlite3.connect(work / "predictions.db")
    for q in queries:
        rows = con.execute(q).fetchall()
        assert rows, f"no rows from: {q}"
    by_outcome = con.execute(queries[2]).fetchall()
    # a 1X2 and a handicap "home" count together here (MARKETS): the market-aware queries below tell them apart
    assert {r[0] for r in by_outcome} <= {"home", "draw", "away", "over", "under"} and sum(r[1] for r in by_outcome) > 0
    by_book = con.execute(queries[3]).fetchall()  # fair CLV by bookmaker: the demo bets at soft books only
    assert sum(r[2] for r in by_book) == sum(r[1] for r in by_outcome) and all(r[3] is not None for r in by_book)


def test_the_market_aware_queries_run_verbatim_and_agree_with_the_guides(cycle):
    work, _ = cycle
    (block,) = [b for b in re.findall(r"```sql\n(.*?)```", README, re.S) if "GROUP BY b.market, b.line" in b]
    queries = [q.strip() for q in block.split(";") if q.strip()]
    assert len(queries) == 3
    con = sqlite3.connect(work / "predictions.db")
    by_line, by_book, pending = (con.execute(q).fetchall() for q in queries)
    settled = dict(con.execute("SELECT market, COUNT(*) FROM bets WHERE status = 'settled' GROUP BY market").fetchall())
    assert set(settled) == {"1X2", "OU", "AH"}, settled  # the demo bets all three markets
    for rows, count in ((by_line, 3), (by_book, 3)):
        assert {m: sum(r[count] for r in rows if r[0] == m) for m in settled} == settled
    assert all((r[1] is None) == (r[0] == "1X2") for r in by_line)  # a line for every two-way bet, none for 1X2
    assert all(
        r[2] in (("home", "draw", "away") if r[0] == "1X2" else ("over", "under") if r[0] == "OU" else ("home", "away"))
        for r in by_line
    )
    guide = re.search(r"```sql\n(.*?)```", README, re.S).group(1).split(";")[2]
    net = sum(r[4] for r in con.execute(guide).fetchall())
    assert sum(r[7] for r in by_line) == pytest.approx(net)  # the same money, split by market and line
    want = con.execute("SELECT COUNT(*) FROM bets WHERE status = 'pending'").fetchone()[0]
    assert len(pending) == want > 0 and {r[2] for r in pending} <= set(settled)


def _now_paragraph() -> str:
    return next(p for p in README.split("\n\n") if "--now ISO_TIME" in p)


def test_the_scripts_the_readme_says_accept_now_and_quiet_are_exactly_those_that_do():
    named = set(re.findall(r"`(\w+)\.py`", _now_paragraph().split("accept `--now")[0]))
    for option in ("--now", "--quiet"):
        accepting = {name for name, cmd in CLI.items() if any(option in p.opts for p in cmd.params)}
        assert named == accepting - {"container"}, (option, named ^ accepting)


def _layout() -> dict[str, set[str]]:
    """The code-layout table: package (or "top level") -> the modules its row names, relative to the package."""
    section = README.split("## How the code is laid out")[1].split("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) == 4 and cells[1].strip() not in ("package", "---"):
            named = re.findall(r"`((?:\w+/)*\w+\.py)`", cells[2])
            rows[cells[1].strip().strip("`")] = {n for n in named if not n.startswith(("pipeline/", "production/"))}
    return rows


def test_the_code_layout_table_names_every_module_and_only_real_ones():
    pipeline = ROOT / "pipeline"
    packages = {f"pipeline/{p.name}/" for p in pipeline.iterdir() if (p / "__init__.py").is_file()}
    layout = _layout()
    assert set(layout) == packages | {"top level"}
    for row, named in layout.items():
        home = pipeline if row == "top level" else ROOT / row
        found = home.glob("*.py") if row == "top level" else home.rglob("*.py")
        modules = {str(f.relative_to(home)) for f in found if f.name != "__init__.py" and "migrations" not in f.parts}
        assert named == modules, f"{row}: unnamed {sorted(modules - named)}, not a module {sorted(named - modules)}"
