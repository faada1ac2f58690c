"""The package's shape, checked: the import graph (walked with ast) has no cycle, forecasting and betting do not
know each other, nothing outside pipeline.jobs imports a job module, no function-level import hides a cycle,
every subpackage declares its public surface, loggers are named after real modules."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.jobs.table import JOBS

PACKAGE = ROOT / "pipeline"
# Lazy imports kept on purpose, each for a reason other than a cycle.
LAZY_OK = {
    ("pipeline.providers", "pipeline.providers.sandbox"),  # a provider's libraries only when chosen
    ("pipeline.providers", "pipeline.providers.football_data"),
    ("pipeline.providers", "pipeline.providers.sportmonks"),
    # scikit-learn and XGBoost only when a set is loaded: the lineup job mostly finds nothing to predict
    ("pipeline.forecast.predictions", "pipeline.forecast.modelset"),
    ("pipeline.forecast.predictions", "pipeline.forecast.market_probs"),  # Dixon-Coles' score matrix: the same
    # the health check's alarm must sound when the settings module itself is broken (standard library at import)
    ("pipeline.jobs.health_alarm", "pipeline.config"),
}
JOB_MODULES = {f"pipeline.jobs.{name}" for name in JOBS}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def lazy_exports(package: str) -> dict[str, str]:
    """A package's `_EXPORTS` (name -> defining module, loaded on first use), read from its source."""
    for node in ast.parse(MODULES[package].read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_EXPORTS":
            return ast.literal_eval(node.value)
    return {}


def resolve(name: str, imported: str | None) -> str:
    """`from name import imported`: the submodule when there is one, the defining module of a lazy export,
    else the module."""
    if imported and f"{name}.{imported}" in MODULES:
        return f"{name}.{imported}"
    if imported and name in MODULES and MODULES[name].name == "__init__.py":
        return lazy_exports(name).get(imported, name)
    return name


def imports(module: str) -> list[tuple[str, bool]]:
    """(imported pipeline module, at top level?) for every import statement in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    out = []
    for node in ast.walk(tree):
        top = getattr(node, "col_offset", 0) == 0
        if isinstance(node, ast.Import):
            out += [(a.name, top) for a in node.names if a.name.startswith("pipeline")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline"):
            out += [(resolve(node.module, a.name), top) for a in node.names]
    return [(m, top) for m, top in out if m in MODULES]


GRAPH = {m: sorted({t for t, _ in imports(m)}) for m in MODULES}


def test_the_graph_is_read_from_the_real_package():
    assert {
        "pipeline.config",
        "pipeline.store.schema",
        "pipeline.forecast.models.elo",
        "pipeline.betting.strategy",
        "pipeline.jobs.runner",
        "pipeline.providers.http_client",
    } <= set(MODULES)
    assert "pipeline.store.schema" in GRAPH["pipeline.store.engine"]
    # a lazy export counts as an import of the module that defines it
    assert "pipeline.store.engine" in GRAPH["pipeline.jobs.runner"]


def test_importing_a_job_runner_does_not_load_the_model_libraries():
    code = (
        "import sys, pipeline.jobs.runner, pipeline.config; "
        "print([m for m in ('xgboost', 'sklearn') if m in sys.modules])"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert r.stdout.strip() == "[]"


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, []):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in graph:
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]


def test_forecasting_and_betting_do_not_import_each_other():
    for a, b in (("pipeline.forecast", "pipeline.betting"), ("pipeline.betting", "pipeline.forecast")):
        for m, targets in GRAPH.items():
            if m == a or m.startswith(a + "."):
                assert not [t for t in targets if t == b or t.startswith(b + ".")], m


def test_no_module_outside_the_jobs_imports_a_job_module():
    for m, targets in GRAPH.items():
        bad = [t for t in targets if t in JOB_MODULES and t != m]
        assert not bad, f"{m} imports the job module(s) {bad}"


def test_no_function_level_import_of_the_package_except_the_listed_lazy_ones():
    for m in MODULES:
        lazy = {(m, t) for t, top in imports(m) if not top}
        assert lazy <= LAZY_OK, f"{m}: {sorted(lazy - LAZY_OK)}"


@pytest.mark.parametrize(
    "package",
    [
        "pipeline.forecast",
        "pipeline.forecast.models",
        "pipeline.betting",
        "pipeline.providers",
        "pipeline.store",
        "pipeline.jobs",
    ],
)
def test_each_subpackage_exports_its_surface(package):
    mod = importlib.import_module(package)
    assert mod.__all__ and all(hasattr(mod, name) for name in mod.__all__)
    assert mod.__doc__


def test_importing_forecast_or_betting_loads_no_job_module():
    code = (
        "import sys, pipeline.forecast, pipeline.betting; "
        "print(sorted(m for m in sys.modules if m.startswith('pipeline.jobs')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert r.stdout.strip() == "[]"


def test_job_loggers_are_real_modules():
    # the runner logs as pipeline.jobs.<job>; every job in the table has that module, with its entry point
    for job in JOBS.values():
        assert f"pipeline.jobs.{job.name}" in MODULES
        module, _, func = job.entry.partition(":")
        assert module == f"pipeline.jobs.{job.name}" and callable(getattr(importlib.import_module(module), func))
    src = (PACKAGE / "jobs" / "runner.py").read_text()
    assert 'logging.getLogger(f"pipeline.jobs.{job}")' in src


def test_models_follow_scikit_learn_conventions():
    from sklearn.base import clone

    from pipeline.forecast.models import DixonColesModel, EloModel, StackingEnsemble, XGBoostModel

    for cls in (EloModel, DixonColesModel, XGBoostModel, StackingEnsemble):
        model = cls()
        params = model.get_params()
        assert params and clone(model).get_params() == params


def test_a_model_pickled_under_the_old_module_path_still_loads(tmp_path):
    """Sets deployed before the layout name pipeline.models.elo: the registry maps them to the new home."""
    from pipeline.forecast import registry
    from pipeline.forecast.models.elo import EloModel

    data = pickle.dumps(EloModel(k=33.0), protocol=0).replace(b"pipeline.forecast.models.elo", b"pipeline.models.elo")
    assert b"pipeline.models.elo" in data
    for old in registry.LEGACY_MODULES:
        sys.modules.pop(old, None)
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(data)
    for name in registry.MODEL_FILES.values():  # a set's files, loaded as the jobs load them
        (tmp_path / name).write_bytes(data)
    objects = registry.load_objects(tmp_path)  # the aliases are made on the first old name met
    assert {o.k for o in objects.values()} == {33.0}
    assert pickle.loads(data).k == 33.0


def test_jobs_that_need_no_model_do_not_load_the_machine_learning_libraries():
    """scikit-learn and XGBoost cost a second of start-up: settlement and backup never need them, the lineup job
    (every 15 minutes) only once a lineup has changed and it loads the models."""
    code = (
        "import sys; import pipeline.jobs.cli as cli; from pipeline.jobs.table import JOBS, resolve; "
        "[resolve(JOBS[j].entry) for j in ('lineup_updates', 'results_settlement', 'backup')]; "
        "print(sorted(m for m in ('sklearn', 'xgboost') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_config_imports_of_the_subpackages_only_the_job_table_which_imports_no_pipeline_module():
    """The settings load before anything else: the job table they read JOB_DEADLINES against is standard library
    only (README, "How the code is laid out")."""
    subpackages = {m for m in GRAPH["pipeline.config"] if m.count(".") > 1}
    assert subpackages == {"pipeline.jobs.table"}
    assert GRAPH["pipeline.jobs.table"] == []


def test_the_providers_do_not_load_the_machine_learning_libraries():
    """Every job builds its provider: the sandbox prices totals and handicaps from a score matrix
    (pipeline.distributions), not through the models, so settlement's start-up stays free of scikit-learn."""
    code = (
        "import sys, pipeline.providers.sandbox, pipeline.providers.football_data, pipeline.providers.sportmonks; "
        "print(sorted(m for m in ('sklearn', 'xgboost', 'scipy.stats') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
