"""What every benchmark prints and needs: the machine, library versions, a child process measured on its own."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOOTBALL_DATA = Path(os.environ.get("FOOTBALL_DATA_DIR", ROOT.parent / "shared" / "data" / "football-data"))
sys.path.insert(0, str(ROOT))

LIBS = ("numpy", "pandas", "scipy", "scikit-learn", "xgboost", "xgboost-cpu", "sqlalchemy", "penaltyblog")


def machine() -> str:
    libs = []
    for name in LIBS:
        try:
            libs.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, " + ", ".join(
        libs
    )


def need_data() -> Path:
    if not (FOOTBALL_DATA / "mmz4281").is_dir():
        sys.exit(f"football-data files not found at {FOOTBALL_DATA} (set FOOTBALL_DATA_DIR)")
    return FOOTBALL_DATA


def measured(cmd: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """Run `cmd`; return (wall seconds, peak resident memory in MB of that process, exit code, output)."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    return wall, usage.ru_maxrss / 1024.0, proc.returncode, out
