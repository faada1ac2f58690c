"""The container entry points (production/container.py): crontab.example read as cron reads it, and the one way
its lines run in a container.

crontab.example is the operator's copy of the job table's schedule (tests/test_crontab.py holds them equal) and
what the containers follow. A container runs each line's own job command: the interpreter, the script and its
flags, in the directory the line `cd`s to, with the same environment lines (`CRON_TZ`, ...). What only a host
crontab needs is dropped: output redirections (a container's stdout and stderr are its log) and any other command
chained around the job's (e.g. `mkdir -p logs`, a mail on failure: in a container the job's exit status is what
the orchestrator reports). The Kubernetes CronJobs are held to this form by tests/test_deploy.py; the compose
scheduler generates its crontab from the file at start (`run_scheduler`), so neither is a copy made by hand.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from pipeline.jobs.table import JOBS

SUPERCRONIC = "supercronic"

# One shell token: a control operator, a redirection (an optional fd glued to it), or a word (quotes kept).
_TOKEN = re.compile(
    r"""\s*(?:(?P<op>&&|\|\||;|\||&)|(?P<redir>\d*(?:>>|>&|<&|>\||>|<))|"""
    r"""(?P<word>(?:[^\s'"\\;&|<>]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+))"""
)
_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SCRIPT = re.compile(r"(?:^|/)production/(\w+)\.py$")


@dataclass(frozen=True)
class CronEntry:
    job: str  # the script's name, e.g. "hourly_predictions"
    schedule: str  # the five cron fields, single-spaced
    argv: tuple[str, ...]  # the job's own command: interpreter, production/<job>.py, flags
    workdir: str | None  # the directory the line cd's to before the job
    env: dict = field(default_factory=dict)  # NAME=value words before the command
    line: str = ""


def _segments(command: str) -> list[list[str]]:
    """The simple commands of a shell line, each as its words, redirections removed."""
    segments: list[list[str]] = [[]]
    pos, skip_next_word = 0, False
    while pos < len(command):
        m = _TOKEN.match(command, pos)
        if m is None or m.end() == pos:
            if command[pos:].strip():
                raise ValueError(f"cannot read shell command at {command[pos:]!r}")
            break
        pos = m.end()
        if m.group("op"):
            segments.append([])
        elif m.group("redir"):
            skip_next_word = True  # the redirection's target is the next word
        else:
            if skip_next_word:
                skip_next_word = False
                continue
            segments[-1].append(shlex.split(m.group("word"))[0])
    return [s for s in segments if s]


def parse_line(line: str) -> CronEntry:
    """One job line: five schedule fields, then a shell command that runs production/<job>.py."""
    fields = line.split(None, 5)
    if len(fields) < 6 or line.startswith("@"):
        raise ValueError(f"not a cron job line: {line!r}")
    schedule, command = " ".join(fields[:5]), fields[5]
    workdir, found = None, None
    for words in _segments(command):
        if words[0] == "cd" and len(words) == 2 and found is None:
            workdir = words[1]
            continue
        env = {}
        while words and _ASSIGNMENT.match(words[0]):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        scripts = [w for w in words if _SCRIPT.search(w)]
        if scripts:
            if found is not None:
                raise ValueError(f"more than one job in one line: {line!r}")
            found = (_SCRIPT.search(scripts[0]).group(1), tuple(words), env)
    if found is None:
        raise ValueError(f"no production/<job>.py in: {line!r}")
    job, argv, env = found
    return CronEntry(job=job, schedule=schedule, argv=argv, workdir=workdir, env=env, line=line)


def read_crontab(text: str) -> tuple[dict[str, str], list[CronEntry]]:
    """Environment lines (NAME=value) and job lines of a crontab, in file order."""
    env: dict[str, str] = {}
    entries: list[CronEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _ENV_LINE.match(line)  # a job line starts with a schedule field, never with a name
        if m:
            env[m.group(1)] = m.group(2).strip().strip("'\"")
            continue
        entries.append(parse_line(line))
    return env, entries


def container_command(entry: CronEntry) -> str:
    """The shell form of an entry's job as a container runs it (for cron implementations that take a line)."""
    words = [f"{k}={shlex.quote(v)}" for k, v in entry.env.items()] + [shlex.quote(a) for a in entry.argv]
    command = " ".join(words)
    return f"cd {shlex.quote(entry.workdir)} && {command}" if entry.workdir else command


def container_crontab(text: str, source: str = "crontab.example") -> str:
    """crontab.example in container form: the same environment lines and schedules, each job's own command."""
    env, entries = read_crontab(text)
    out = [
        f"# Generated from {source} at start by production/container.py --scheduler; edit {source}, not this.",
        "# Output is not redirected: supercronic passes it to the container's log.",
    ]
    # quoted: supercronic (v0.2.34) strips the quotes, and fails on an empty unquoted value such as `MAILTO=`
    out += [f'{k}="{v}"' for k, v in env.items()]
    out += [f"{e.schedule} {container_command(e)}" for e in entries]
    return "\n".join(out) + "\n"


def run_scheduler(crontab: Path, out: Path, execvp=os.execvp) -> int:
    """Write crontab's container form to `out`, then become supercronic on it (PID 1: it forwards signals to
    running jobs and reaps them). Returns only when supercronic cannot be started."""
    text = container_crontab(Path(crontab).read_text(), Path(crontab).name)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"scheduler: {len(read_crontab(text)[1])} jobs from {crontab}", file=sys.stderr, flush=True)
    try:
        # -passthrough-logs: the jobs' lines as they wrote them; supercronic adds its own start/exit lines
        execvp(SUPERCRONIC, [SUPERCRONIC, "-passthrough-logs", str(out)])
    except OSError as exc:
        print(f"scheduler: cannot start {SUPERCRONIC}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    return 0


def jobs_help(commands: dict, echo=print) -> int:
    """The image's default command: how to run a job, the schedule, and every script's --help (`commands`: script
    name -> click command; the job table's first, in its order)."""
    echo("One image, every job: docker run IMAGE .venv/bin/python production/<job>.py [OPTIONS]")
    echo("Schedule (UTC; crontab.example):")
    for job in JOBS.values():
        echo(f"  {job.schedule or 'by hand':<14} {job.name}")
    for name in [n for n in JOBS if n in commands] + sorted(n for n in commands if n not in JOBS):
        command = commands[name]
        with click.Context(command, info_name=f"{name}.py") as ctx:
            echo(f"\n== production/{name}.py ==\n{command.get_help(ctx)}")
    return 0


__all__ = [
    "CronEntry",
    "parse_line",
    "read_crontab",
    "container_command",
    "container_crontab",
    "run_scheduler",
    "jobs_help",
]
