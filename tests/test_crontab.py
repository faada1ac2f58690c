"""crontab.example, read as cron reads it: schedules, and every command exists and answers --help."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, make_env

FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def expand(field: str, lo: int, hi: int) -> set[int]:
    """One cron field: *, N, A-B, lists and /steps."""
    out = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        step = int(step) if step else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = map(int, rng.split("-"))
        else:
            a = b = int(rng)
        if not (lo <= a <= hi and lo <= b <= hi) or step < 1:
            raise ValueError(f"bad cron field {field!r}")
        out |= set(range(a, b + 1, step))
    return out


def entries():
    env, jobs = {}, []
    for line in (ROOT / "crontab.example").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line.split()[0]:
            k, v = line.split("=", 1)
            env[k] = v
            continue
        parts = line.split(None, 5)
        sched = [expand(f, lo, hi) for f, (lo, hi) in zip(parts[:5], FIELDS)]
        jobs.append((sched, parts[5]))
    return env, jobs


def script_of(command: str) -> str:
    return next(w for w in shlex.split(command) if w.startswith("production/"))


EXPECTED = {
    "production/weekly_training.py": ({0}, {2}, set(range(1, 32)), set(range(1, 13)), {0}),
    "production/hourly_predictions.py": ({0}, set(range(24)), set(range(1, 32)), set(range(1, 13)), set(range(8))),
    "production/lineup_updates.py": ({0, 15, 30, 45}, set(range(24)), set(range(1, 32)), set(range(1, 13)),
                                     set(range(8))),
    "production/results_settlement.py": ({0, 30}, set(range(24)), set(range(1, 32)), set(range(1, 13)),
                                         set(range(8))),
    "production/backup.py": ({0}, {4}, set(range(1, 32)), set(range(1, 13)), set(range(8))),
    "production/health_check.py": (set(range(0, 60, 10)), set(range(24)), set(range(1, 32)), set(range(1, 13)),
                                   set(range(8))),
}


def test_schedules_are_the_documented_ones():
    env, jobs = entries()
    assert env.get("CRON_TZ") == "UTC"
    found = {script_of(cmd): tuple(sched) for sched, cmd in jobs}
    assert found == {k: tuple(v) for k, v in EXPECTED.items()}


def test_commands_use_the_venv_interpreter_and_append_to_logs():
    _, jobs = entries()
    for _, cmd in jobs:
        words = shlex.split(cmd)
        python = next(w for w in words if w.endswith("/python"))
        assert python.startswith("/") and "/.venv/bin/python" in python
        assert ">>" in cmd and "2>&1" in cmd and cmd.strip().startswith("cd /")


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_every_command_exists_and_answers_help(script, tmp_path):
    path = ROOT / script
    assert path.is_file()
    r = subprocess.run([sys.executable, str(path), "--help"], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **make_env(tmp_path)}, timeout=120)
    assert r.returncode == 0 and "Usage:" in r.stdout
