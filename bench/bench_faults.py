#!/usr/bin/env python3
"""The fault-injection run behind the README's "Faults injected" table: tests/test_faults.py with FAULT_TABLE set,
so each test appends what it saw (fault, exit code, the one-line message, what was kept), printed here as
Markdown. Rows that differ only in who met the fault (job, store) are merged.

    .venv/bin/python bench/bench_faults.py [--out faults.md]

Needs PostgreSQL at TEST_DATABASE_URL (CI=true is set: the PostgreSQL cases must run, not skip) and, for the
full and read-only disks, `unshare -rm` (a private mount namespace).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from common import ROOT, machine


def normalise(text: str) -> str:
    text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/[^/\s]+/", ".../", text)
    text = re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", text)
    text = re.sub(r"(\?[^\s:)]+)(?=\)?: )", "?...", text)  # long query strings
    text = re.sub(r"search_path%3D\w+", "search_path%3D<schema>", text)
    text = re.sub(r"process \d+ on \S+ ", "process PID on HOST ", text)
    text = re.sub(r"\d{8}_\d{6}", "YYYYmmdd_HHMMSS", text)
    text = re.sub(r"\(started \d{4}-\d\d-\d\d \d\d:\d\d\)", "(started ...)", text)
    text = re.sub(r"stopped after \d+ s", "stopped after a few s", text)
    return text.replace("|", "\\|")


def table(rows: list[dict]) -> str:
    merged: dict[tuple, list[str]] = {}
    for r in rows:
        fault, _, who = r["fault"].partition(" :: ")
        msg = re.sub(r"^\w+ failed: ", "", normalise(r["message"]))  # "hourly_predictions failed: ..." -> "..."
        key = (normalise(fault), r["code"], msg, normalise(r["kept"]))
        merged.setdefault(key, []).append(who)
    out = [
        "| fault | met by | exit | the one line (stderr, or the log's warning) | what was kept |",
        "|---|---|---|---|---|",
    ]
    for (fault, code, msg, kept), whos in merged.items():
        out.append(f"| {fault} | {', '.join(dict.fromkeys(whos))} | {code} | {msg} | {kept} |")
    return "\n".join(out)


@click.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the table to this file."
)
def main(out):
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        env = {**os.environ, "FAULT_TABLE": str(rows_file), "CI": "true", "PYTHONPATH": str(ROOT)}
        t = time.perf_counter()
        code = subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-n",
                "0",
                "-p",
                "no:cacheprovider",
                str(ROOT / "tests" / "test_faults.py"),
            ],
            cwd=ROOT,
            env=env,
        )
        wall = time.perf_counter() - t
        rows = [json.loads(line) for line in rows_file.read_text().splitlines()] if rows_file.exists() else []
    text = table(rows)
    print(text)
    print(f"\n{len(rows)} fault runs, tests exit {code}, {wall:.0f} s")
    if out:
        out.write_text(text + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
