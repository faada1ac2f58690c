"""Builds the demo's world for the test run's `cycle` fixture (see conftest._start_world), in its own process so
the other tests run meanwhile: python build_world.py DIR START DAYS SEED. Writes DIR/work (the demo's models and
store), DIR/demo.out (what the demo printed) and, last, DIR/exit_code."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import datetime
from pathlib import Path

from pipeline.jobs.demo import run
from pipeline.threads import limit_threads


def main(world: Path, start: datetime, days: int, seed: int) -> int:
    limit_threads(1)
    lines: list[str] = []
    code = 1
    try:
        code = run(start, days, world / "work", seed=seed, echo=lines.append)
    except BaseException:  # the waiting tests fail with it instead of waiting for a file that never comes
        lines.append(traceback.format_exc())
        raise
    finally:
        (world / "demo.out").write_text("\n".join(lines) + "\n")
        (world / "exit_code.tmp").write_text(str(code))
        os.replace(world / "exit_code.tmp", world / "exit_code")
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
