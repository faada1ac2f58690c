#!/usr/bin/env python3
"""The container image's entry points: every job's --help (the image's default command), and the compose
scheduler (--scheduler deploy/container.crontab).

Options: `python production/container.py --help`. The command is defined in pipeline/jobs/cli.py.
"""

from pipeline.jobs.cli import container

if __name__ == "__main__":
    container()
