#!/usr/bin/env python3
"""The ledger of what was really placed: `list` the open recommendations with their minimum acceptable price,
`place BET_ID --odds X [--stake S] [--bookmaker B]`, `skip BET_ID [--reason TEXT]`, `show BET_ID`.

Options: `python production/bets.py --help`. The command is defined in pipeline/jobs/ledger.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under `python -I`, which leaves it out
import _venv_check  # noqa: F401 - one line and exit 78 under an interpreter without the project's packages

from pipeline.jobs.ledger import bets

if __name__ == "__main__":
    bets()
