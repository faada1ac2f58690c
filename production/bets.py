#!/usr/bin/env python3
"""The ledger of what was really placed: `list` the open recommendations with their minimum acceptable price,
`place BET_ID --odds X [--stake S] [--bookmaker B]`, `skip BET_ID [--reason TEXT]`, `show BET_ID`.

Options: `python production/bets.py --help`. The command is defined in pipeline/jobs/ledger.py.
"""

from pipeline.jobs.ledger import bets

if __name__ == "__main__":
    bets()
