#!/usr/bin/env python3
"""Reading football-data.co.uk files through the door (pipeline.providers.football_data_csv.parse_csv: decoding,
the row contract, prices): the median time per file over every shared file, and E0 2023-24 alone. parse_csv is
older than the contract, so the same script times a checkout from before it (PYTHONPATH=that checkout).

    .venv/bin/python bench/bench_parse.py [--repeat 21]

Target: a file's parse stays within ~46 ms (the figure before the validation contract, issue 22).
"""

from __future__ import annotations

import statistics
import time

import click
from common import machine, need_data

from pipeline.providers.football_data_csv import parse_csv


@click.command()
@click.option("--repeat", default=21, show_default=True, help="Reads of E0 2023-24 (the median is shown).")
def main(repeat: int) -> None:
    root = need_data() / "mmz4281"
    files = sorted(root.glob("*/*.csv"))
    for f in files[:3]:
        parse_csv(f)  # imports and caches warm
    per_file, rows, problems = [], 0, 0
    for f in files:
        t = time.perf_counter()
        frame, found = parse_csv(f, f.stem, f.parent.name)
        per_file.append(time.perf_counter() - t)
        rows, problems = rows + len(frame), problems + len(found)
    e0 = root / "2324" / "E0.csv"
    one = []
    for _ in range(repeat):
        t = time.perf_counter()
        parse_csv(e0, "E0", "2324")
        one.append(time.perf_counter() - t)
    print(machine())
    print(
        f"{len(files)} files, {rows} rows, {problems} problems: {sum(per_file):.2f} s, "
        f"median {statistics.median(per_file) * 1000:.1f} ms a file (max {max(per_file) * 1000:.1f} ms)"
    )
    print(
        f"E0 2023-24 (380 rows): median {statistics.median(one) * 1000:.1f} ms, "
        f"min {min(one) * 1000:.1f} ms of {repeat}"
    )


if __name__ == "__main__":
    main()
