"""The deploy files generated from the job table (pipeline.jobs.table): `python -m pipeline.jobs.table --write`
writes them, `--check` exits 1 naming any that differ from what the table gives (tests/test_generated.py runs it).

- crontab.example: the host's crontab (the operator replaces /opt/football with the checkout);
- deploy/container.crontab: the same jobs as a container runs them (output to its log), which the compose
  scheduler runs with supercronic;
- deploy/kubernetes/base/cronjobs.yaml and migrate-job.yaml: one CronJob per scheduled job and the migration Job,
  each pod's deadline from the job's own (and any `JOB_DEADLINES` in deploy/kubernetes/base/settings.env);
- the job table in README.md, between its two markers (the rest of the README is written by hand).

An edit of a generated file is undone by the next --write: change the table instead.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tomllib
from pathlib import Path

import yaml
from dotenv import dotenv_values

from pipeline.config import Settings, load_settings
from pipeline.jobs.table import JOBS, POD_MARGIN, SCHEDULED, Job, pod_deadline

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = "/opt/football"  # the image's WORKDIR, and the path the operator replaces in crontab.example
PYTHON = f"{WORKDIR}/.venv/bin/python"
# PATH puts the virtual environment first, so the production guide's spelling (`cd .../production && python
# x.py`) runs the same interpreter
CRON_ENV = (("CRON_TZ", "UTC"), ("SHELL", "/bin/sh"), ("PATH", f"{WORKDIR}/.venv/bin:/usr/local/bin:/usr/bin:/bin"))
CRONTAB = Path("crontab.example")
CONTAINER_CRONTAB = Path("deploy/container.crontab")
K8S = Path("deploy/kubernetes/base")
CRONJOBS = K8S / "cronjobs.yaml"
MIGRATE_JOB = K8S / "migrate-job.yaml"
POD_PATCH = K8S / "patches" / "job-pod.yaml"
SETTINGS_ENV = K8S / "settings.env"
README = Path("README.md")
README_BEGIN = (
    "<!-- the job table, generated from pipeline/jobs/table.py by `python -m pipeline.jobs.table --write` -->"
)
README_END = "<!-- end of the generated job table -->"
IMAGE = "football-pipeline"
# A finished migration Job is deleted after a week: each release adds one (its name carries the version)
MIGRATE_TTL = 7 * 24 * 3600
# the runner's exit codes a migration does not mend by retrying: a bad setting, a failed migration
NO_RETRY_EXIT_CODES = (70, 78)
GENERATED = (
    "Generated from pipeline/jobs/table.py by `python -m pipeline.jobs.table --write`: edit the table, not this."
)


def version(root: Path = ROOT) -> str:
    """The project's version (pyproject.toml): the image's tag and the migration Job's name follow it."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def image(root: Path = ROOT) -> str:
    """The image every manifest names: versioned, so a node never runs a stale `latest` (the production overlay
    sets the registry, `images: newName`; a digest there pins it further)."""
    return f"{IMAGE}:{version(root)}"


def migrate_name(root: Path = ROOT) -> str:
    """The migration Job's name, one per release: a Job's pod template cannot change, so `kubectl apply -k` of a
    new image creates a new Job instead of failing on the old one."""
    return "migrate-v" + re.sub(r"[^a-z0-9]+", "-", version(root).lower()).strip("-")


def argv(job: Job) -> list[str]:
    """The job's own command: the image's (and crontab.example's) interpreter, its script, its cron flags."""
    return [PYTHON, job.script, *job.cron_args]


def title(job: Job) -> str:
    return job.name.replace("_", " ").capitalize()


def host_command(job: Job) -> str:
    """A crontab.example line's command: logs/ made when missing, the output appended to logs/<job>.cron.log
    (rotated by the job), except a `cron_mail` job's, which cron mails."""
    command = f"cd {WORKDIR} && mkdir -p logs && {shlex.join(argv(job))}"
    return command if job.cron_mail else f"{command} >> logs/{job.name}.cron.log 2>&1"


CRONTAB_HEADER = f"""\
# Football prediction pipeline: the production schedule. All times are UTC.
# {GENERATED}
# Install: replace /opt/football with the path of your checkout
# (sed "s#/opt/football#$PWD#g" crontab.example > my.cron), then `crontab my.cron` (or paste the lines into
# `crontab -e`). Keep the server clock on UTC, or keep CRON_TZ below.
# Each line creates logs/ if it is missing and appends what the job prints with --quiet (warnings, errors) to
# logs/<job>.cron.log; the job rotates that file itself when it passes 5 MB, as it rotates its full log,
# logs/<job>.log. PATH puts the virtual environment first, so the production guide's own spelling
# (`cd /opt/football/production && python weekly_training.py`) runs the same interpreter.
# Each job takes a lock of its own: an overlapping run exits 0 as "skipped".
# Alerts: the health check's line is not redirected. It prints nothing while healthy; when a check fails it prints
# the failing checks and exits 1, and cron mails that output to MAILTO (by default the crontab's owner; the machine
# needs a mail transfer agent). Without mail, set ALERT_COMMAND in .env (see .env.example).
"""


def crontab_example(jobs=SCHEDULED) -> str:
    lines = [CRONTAB_HEADER.rstrip("\n"), *(f"{k}={v}" for k, v in CRON_ENV), ""]
    for job in jobs:
        mail = "; silent while healthy, its failures go to MAILTO (and ALERT_COMMAND)" if job.cron_mail else ""
        lines += [f"# {title(job)}: {job.when}{mail}", f"{job.schedule:<12} {host_command(job)}"]
    return "\n".join(lines) + "\n"


def container_crontab(jobs=SCHEDULED) -> str:
    """The jobs as a container runs them: each job's own command, its output to the container's log."""
    lines = [
        "# The compose scheduler's crontab (supercronic): crontab.example's jobs as a container runs them.",
        f"# {GENERATED}",
        "# Output is not redirected: supercronic passes it to the container's log.",
        # quoted: supercronic (v0.2.34) strips the quotes, and fails on an empty unquoted value
        *(f'{k}="{v}"' for k, v in CRON_ENV),
    ]
    lines += [f"{job.schedule} cd {WORKDIR} && {shlex.join(argv(job))}" for job in jobs]
    return "\n".join(lines) + "\n"


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key (as kubectl and the Kubernetes docs write them)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _yaml(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=120)


def _resources(job: Job) -> dict:
    assert job.pod is not None
    (cpu_req, cpu_lim), (mem_req, mem_lim) = job.pod.cpu, job.pod.memory
    return {"requests": {"cpu": cpu_req, "memory": mem_req}, "limits": {"cpu": cpu_lim, "memory": mem_lim}}


def _container(job: Job, root: Path = ROOT) -> dict:
    return {
        "name": "job",
        "image": image(root),
        "workingDir": WORKDIR,
        "command": argv(job),
        "resources": _resources(job),
    }


def deploy_settings(root: Path = ROOT) -> Settings:
    """The settings every pod gets (settings.env), for the JOB_DEADLINES an operator sets there."""
    return load_settings({k: v or "" for k, v in dotenv_values(root / SETTINGS_ENV).items()}, dotenv=Path(os.devnull))


def _deadline_comment(job: Job, settings: Settings) -> str:
    own = settings.job_deadline(job.name)
    source = "JOB_DEADLINES in settings.env" if own != job.deadline else "its deadline in the job table"
    runtime = f"\n#   run time: {job.runtime}" if job.runtime else ""
    return f"#   activeDeadlineSeconds: the job's own {own:g} s ({source}) + {POD_MARGIN} s{runtime}"


CRONJOBS_HEADER = f"""\
# One CronJob per scheduled job of the job table: its schedule (UTC) and its own command, in the image's
# WORKDIR. {GENERATED}
# Output goes to the pod's log (`kubectl logs job/<name>`); --quiet leaves warnings and errors there, the full
# log is in logs/ on the volume.
#
# Requests and limits from BENCHMARKS.md and a measured sandbox cycle (peak resident memory, wall time on a
# 2-CPU machine). Memory: request about the measured peak, limit two to three times it, for growth of the data.
# CPU: every job but training is single-threaded work of seconds, so a little CPU requested and one allowed
# (CPU_THREADS follows the limit: 1); training gets two (XGBoost and BLAS threads).
# Deadlines: startingDeadlineSeconds skips a run started that late (the next run catches up: every job works
# out from the store what is left to do); activeDeadlineSeconds is the job's own deadline plus a margin, so a
# hung run stops itself (exit 75, run recorded, lock released) before Kubernetes would kill it, and before the
# next run is due. backoffLimit 0: a failed run is not retried at once; it stays visible as a failed Job and the
# schedule retries. History: the last 3 successful and 5 failed Jobs (and their pods' logs) are kept.
"""


def cronjob(job: Job, settings: Settings, root: Path = ROOT) -> dict:
    assert job.pod is not None
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": job.k8s_name},
        "spec": {
            "schedule": job.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": job.pod.starting_deadline,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": pod_deadline(job, settings.job_deadline(job.name)),
                    "template": {"spec": {"restartPolicy": "Never", "containers": [_container(job, root)]}},
                }
            },
        },
    }


def cronjobs_yaml(settings: Settings, jobs=SCHEDULED, root: Path = ROOT) -> str:
    docs = []
    for job in jobs:
        assert job.pod is not None
        notes = [f"# {job.name}: {job.description}", f"#   resources: measured {job.pod.measured}"]
        notes.append(_deadline_comment(job, settings))
        if job.pod.starting_note:
            notes.append(f"#   startingDeadlineSeconds: {job.pod.starting_note}")
        if job.cron_mail:
            notes.append(
                "#   exit 1 when unhealthy fails its Job (backoffLimit 0), so a problem shows as a failed Job "
                "(`kubectl get jobs`, an event, kube-state-metrics' kube_job_status_failed) for the cluster's alerting"
            )
        docs.append("\n".join(notes) + "\n" + _yaml(cronjob(job, settings, root)))
    return CRONJOBS_HEADER + "---\n".join(docs)


MIGRATE_HEADER = f"""\
# The schema to the latest revision (production/migrate.py), once per release; every job also migrates at start, so
# this only makes the step explicit and its failure visible. A Job's pod template cannot change, so the Job is named
# for the release (migrate-v<version>, pyproject.toml's version, which is also the image's tag): `kubectl apply -k`
# of a new release creates a new Job, and a finished one is deleted after a week (ttlSecondsAfterFinished).
# {GENERATED}
# The pod is the CronJobs' (patches/job-pod.yaml, copied in by the generator); backoffLimit 6: the database may
# come up after the apply, and "unavailable" (69) is retried; a bad setting (78) or a failed migration (70) does
# not mend by retrying. activeDeadlineSeconds (all tries together) is the job's own deadline plus a margin.
"""


def migrate_job(job: Job, pod_patch: dict, settings: Settings, root: Path = ROOT) -> dict:
    """The migration Job: the job's command in the pod every CronJob gets from the kustomize patch."""
    shared = pod_patch["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (patch_container,) = shared["containers"]
    container = {**_container(job, root), **{k: v for k, v in patch_container.items() if k != "name"}}
    pod = {"restartPolicy": "Never", **{k: v for k, v in shared.items() if k != "containers"}}
    pod["containers"] = [container]
    rule = {"containerName": "job", "operator": "In", "values": list(NO_RETRY_EXIT_CODES)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": migrate_name(root)},
        "spec": {
            "backoffLimit": 6,
            "ttlSecondsAfterFinished": MIGRATE_TTL,
            "activeDeadlineSeconds": pod_deadline(job, settings.job_deadline(job.name)),
            "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": rule}]},
            "template": {"spec": pod},
        },
    }


def migrate_job_yaml(settings: Settings, root: Path = ROOT) -> str:
    (job,) = [j for j in JOBS.values() if j.kind == "deploy"]
    assert job.pod is not None
    patch = yaml.safe_load((root / POD_PATCH).read_text())
    notes = f"# resources: measured {job.pod.measured}\n"
    return MIGRATE_HEADER + notes + _yaml(migrate_job(job, patch, settings, root))


def readme_job_table() -> str:
    """The README's job table: each script, when it runs and what it does."""
    lines = ["| script | schedule | what it does |", "|---|---|---|"]
    lines += [f"| `{job.name}.py` | {job.when} | {job.doc} |" for job in JOBS.values()]
    return "\n".join(lines) + "\n"


def readme(text: str) -> str:
    """The README's text with the part between its markers generated from the table."""
    head, begin, rest = text.partition(README_BEGIN + "\n")
    _, end, tail = rest.partition(README_END)
    if not (begin and end):
        raise ValueError(f"{README} lacks the job table's markers: {README_BEGIN} ... {README_END}")
    return head + begin + readme_job_table() + end + tail


def sections(root: Path = ROOT) -> dict[Path, str]:
    """The files generated in part (relative path -> the whole content, the generated part as the table gives it)."""
    return {README: readme((root / README).read_text())}


def files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (relative path -> content), as the table gives it."""
    settings = deploy_settings(root)
    return {
        CRONTAB: crontab_example(),
        CONTAINER_CRONTAB: container_crontab(),
        CRONJOBS: cronjobs_yaml(settings, root=root),
        MIGRATE_JOB: migrate_job_yaml(settings, root),
    }


def _wanted(root: Path) -> dict[Path, str]:
    return {**files(root), **sections(root)}


def stale(root: Path = ROOT) -> list[Path]:
    """The generated files (or parts) whose committed content differs from the table's (or that are missing)."""
    return [p for p, text in _wanted(root).items() if not (root / p).is_file() or (root / p).read_text() != text]


def write(root: Path = ROOT) -> list[Path]:
    """Write the stale files; returns them."""
    changed = stale(root)
    wanted = _wanted(root)
    for p in changed:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_text(wanted[p])
    return changed


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.jobs.table",
        description="The files generated from the job table: crontab.example, deploy/container.crontab, the "
        "Kubernetes CronJobs and migration Job, the README's job table.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the files that differ from the table")
    mode.add_argument("--check", action="store_true", help="exit 1 naming the files that differ from the table")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout (default: this one)")
    opts = parser.parse_args(args)
    try:
        changed = write(opts.root) if opts.write else stale(opts.root)
    except ValueError as e:  # the README without its markers: nothing to generate into
        print(e, file=sys.stderr)
        return 1
    if opts.write:
        print("\n".join(f"wrote {p}" for p in changed) or "every generated file is up to date")
        return 0
    for p in changed:
        print(f"stale: {p} (run: python -m pipeline.jobs.table --write)", file=sys.stderr)
    return 1 if changed else 0


__all__ = [
    "WORKDIR",
    "PYTHON",
    "CRON_ENV",
    "argv",
    "host_command",
    "crontab_example",
    "container_crontab",
    "cronjobs_yaml",
    "migrate_job_yaml",
    "readme_job_table",
    "readme",
    "sections",
    "files",
    "stale",
    "write",
    "main",
]
