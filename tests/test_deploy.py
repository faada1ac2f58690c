"""The container files, checked without a daemon or a cluster: the image's contract, the compose file, the Kubernetes
manifests, and that they run the job table's jobs (the schedules, commands and deadlines generated from it; that the
committed files are the generated ones is tests/test_generated.py's). The linters (hadolint, kubernetes-validate
--strict) run in CI from deploy/lint.sh."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import IN_CI, ROOT, make_env

from pipeline.jobs import container, generated
from pipeline.jobs.cli import COMMANDS
from pipeline.jobs.runner import EXIT_CONFIG, EXIT_SOFTWARE
from pipeline.jobs.table import JOBS, SCHEDULED, longest_gap

K8S = ROOT / "deploy" / "kubernetes" / "base"
PRODUCTION = ROOT / "deploy" / "kubernetes" / "overlays" / "production"


# ---- the Dockerfile, read as Docker reads it ----------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comment lines dropped."""
    out, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.strip().startswith("#") or (not line.strip() and not current):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), " ".join(rest.split())))
        current = ""
    return out


DOCKERFILE = dockerfile()


def instructions(name: str) -> list[str]:
    return [args for word, args in DOCKERFILE if word == name]


WORKDIR = instructions("WORKDIR")[-1]
IMAGE_ENV = dict(re.findall(r"(\w+)=(\S+)", " ".join(instructions("ENV"))))


def install_step() -> str:
    return next(run for run in instructions("RUN") if "pip install" in run)


def segments(command: str) -> list[str]:
    return [" ".join(s.split()) for s in command.split("&&")]


def test_the_image_installs_the_way_the_readme_and_ci_do():
    readme = (ROOT / "README.md").read_text()
    readme_install = next(line for line in readme.splitlines() if "pip install -r requirements.txt" in line)
    step = segments(install_step())
    assert step == segments(readme_install)[: len(step)], (step, readme_install)
    assert step == ["python3 -m venv .venv", ".venv/bin/pip install -r requirements.txt"]
    # CI makes the tests' venv with the same two commands (quietly), so the tests below run in the image's venv
    ci = [" ".join(line.replace(" -q", "").split()) for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert all(s in ci for s in step), ci


def test_requirements_go_in_before_the_code_and_every_copied_path_exists():
    copies = [args.split() for args in instructions("COPY")]
    assert copies, "the Dockerfile copies nothing"
    for args in copies:
        assert not any(a.startswith("--from") for a in args)
        for src in args[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: no such path"
    order = [(w, a) for w, a in DOCKERFILE if w in ("COPY", "RUN")]
    install = order.index(("RUN", install_step()))
    code = order.index(("COPY", ". ."))
    assert install < code, "the requirements must be installed before the code is copied (layer cache)"
    # only what the install needs goes in before it (`-e .` needs the metadata and the package's directory),
    # so a change of code does not redo the install
    before = {src for w, a in order[:install] if w == "COPY" for src in a.split()[:-1]}
    assert (
        {"requirements.txt", "pyproject.toml"}
        <= before
        <= {"requirements.txt", "pyproject.toml", "pipeline/__init__.py"}
    )


def test_base_user_and_paths():
    base = instructions("FROM")
    assert len(base) == 1 and re.fullmatch(r"python:3\.11[\w.-]*-slim[\w.-]*", base[0]), base
    user = instructions("USER")[-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"USER {user}: numeric and not root (runAsNonRoot checks it)"
    # the generated crontabs and manifests run unchanged: they cd to WORKDIR and call WORKDIR/.venv/bin/python
    assert (generated.WORKDIR, generated.PYTHON) == (WORKDIR, f"{WORKDIR}/.venv/bin/python")
    for key in ("MODEL_DIR", "BACKUP_DIR", "LOG_DIR", "LOCK_DIR", "CACHE_DIR"):
        assert IMAGE_ENV[key].startswith("/var/lib/football/"), key
    assert IMAGE_ENV["DATABASE_URL"] == "sqlite:////var/lib/football/predictions.db"


def dockerignored(path: str) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matches the path or any directory above it."""
    ignored = False
    parts = path.split("/")
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        candidates = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            ignored = not negate
    return ignored


def test_the_build_context_holds_the_code_and_no_secret_or_state():
    needed = [
        "requirements.txt",
        "pyproject.toml",
        "crontab.example",
        "deploy/container.crontab",
        "pipeline/__init__.py",
        "pipeline/config.py",
        "pipeline/migrations/env.py",
        ".env.example",
    ]
    needed += [f"production/{p.name}" for p in (ROOT / "production").glob("*.py")]
    assert [p for p in needed if dockerignored(p)] == []
    kept_out = [
        ".env",
        ".env.production",
        "predictions.db",
        "predictions.db-wal",
        "models/current",
        "models/versions/v1/elo.joblib",
        "backups/predictions_20260101_040000.dump",
        "logs/backup.log",
        ".venv/bin/python",
        ".git",
        ".locks/backup.lock",
        "pipeline/__pycache__/x.cpython-311.pyc",
        "tests/test_deploy.py",
        "deploy/kubernetes/base/cronjobs.yaml",
    ]
    assert [p for p in kept_out if not dockerignored(p)] == []


def test_default_command_and_every_job_command_run_in_this_venv():
    """CI made this interpreter's venv with the Dockerfile's step (above): the image's default command runs in it,
    as a real process, and prints every script's usage."""
    cmd = yaml.safe_load(instructions("CMD")[-1])  # exec form: a JSON list
    assert cmd[0] == ".venv/bin/python"
    r = subprocess.run([sys.executable, *cmd[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    scripts = [p for p in (ROOT / "production").glob("*.py") if not p.name.startswith("_")]
    for script in scripts:
        assert f"== production/{script.name} ==\nUsage: {script.name} [OPTIONS]" in r.stdout
    assert r.stdout.count("Usage:") == len(scripts)
    for job in SCHEDULED:
        assert f"{job.schedule:<14} {job.name}" in r.stdout


# ---- the compose scheduler: supercronic on deploy/container.crontab ----------------------------------------------


def test_the_scheduler_becomes_supercronic_on_the_generated_crontab():
    calls = []
    crontab = ROOT / generated.CONTAINER_CRONTAB
    assert container.run_scheduler(crontab, execvp=lambda f, a: calls.append((f, a))) == 0
    assert calls == [("supercronic", ["supercronic", "-passthrough-logs", str(crontab)])]


def test_the_scheduler_says_so_when_supercronic_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(container, "SUPERCRONIC", "supercronic-not-installed")
    assert container.run_scheduler(ROOT / generated.CONTAINER_CRONTAB) == 127  # real os.execvp
    assert "cannot start supercronic-not-installed" in capsys.readouterr().err


COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_postgres_migration_and_scheduler():
    services = COMPOSE["services"]
    pg = services["postgres"]
    assert re.fullmatch(r"postgres:(1[5-7])(\.\d+)?(-\w+)?", pg["image"]), "the image's pg_dump 17 must dump it"
    assert "pg_isready" in pg["healthcheck"]["test"]
    assert any(v.split(":")[0] in COMPOSE["volumes"] for v in pg["volumes"])

    migrate, scheduler = services["migrate"], services["scheduler"]
    assert migrate["command"] == [".venv/bin/python", "production/migrate.py"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert scheduler["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # the scheduler runs the generated container crontab: the repository's file, mounted where its command looks
    assert scheduler["command"] == [
        ".venv/bin/python",
        "production/container.py",
        "--scheduler",
        "deploy/container.crontab",
    ]
    path = os.path.join(WORKDIR, scheduler["command"][3])  # relative to the image's WORKDIR
    assert f"./{generated.CONTAINER_CRONTAB}:{path}:ro" in scheduler["volumes"]
    for svc in (migrate, scheduler):
        env = svc["environment"]
        assert "${POSTGRES_PASSWORD" in env["DATABASE_URL"] and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["SPORTMONKS_API_KEY"] == "${SPORTMONKS_API_KEY:-}"
        # models/ and backups/ on named volumes, where the jobs look for them
        mounts = dict(reversed(v.split(":")[:2]) for v in svc["volumes"])
        assert mounts[env["MODEL_DIR"]] in COMPOSE["volumes"] and mounts[env["BACKUP_DIR"]] in COMPOSE["volumes"]
        # threads: CPU_THREADS and the BLAS/OpenMP variables from one default
        threads = {env[k] for k in ("CPU_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        assert threads == {"${CPU_THREADS:-1}"}


# ---- Kubernetes ----------------------------------------------------------------------------------------------------


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


KUSTOMIZATION = load(K8S / "kustomization.yaml")[0]
RESOURCES = [d for name in KUSTOMIZATION["resources"] for d in load(K8S / name)]
CRONJOBS = {d["metadata"]["name"]: d for d in RESOURCES if d["kind"] == "CronJob"}
JOB_POD_PATCH = load(K8S / "patches" / "job-pod.yaml")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def cron_container(cj: dict) -> dict:
    (c,) = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return c


def test_every_cronjob_is_its_scheduled_job():
    assert list(CRONJOBS) == [job.k8s_name for job in SCHEDULED]
    for job in SCHEDULED:
        spec = CRONJOBS[job.k8s_name]["spec"]
        assert (spec["schedule"], spec["timeZone"]) == (job.schedule, "Etc/UTC")
        c = cron_container(CRONJOBS[job.k8s_name])
        assert c["command"] == [f"{WORKDIR}/.venv/bin/python", job.script, "--quiet"] and "args" not in c
        assert c["workingDir"] == WORKDIR


def test_pod_deadlines_are_never_shorter_than_the_jobs_own():
    """A pod killed before its job's deadline leaves its run `running` with no reason and its lock to the next
    one; the job must stop itself first (exit 75, run recorded). Nor may it run into the next scheduled run."""
    for job in SCHEDULED:
        pod = CRONJOBS[job.k8s_name]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
        assert job.deadline < pod <= job.every.total_seconds(), job.name
    (migrate,) = [d for d in RESOURCES if d["kind"] == "Job"]
    assert migrate["spec"]["activeDeadlineSeconds"] > JOBS["migrate"].deadline
    assert CRONJOBS["hourly-predictions"]["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] >= 3000


def test_cronjob_policies_and_resources():
    patched = {p["target"]["kind"] for p in KUSTOMIZATION["patches"]}
    assert patched == {"CronJob"} and JOB_POD_PATCH["containers"][0]["name"] == "job"
    for name, cj in CRONJOBS.items():
        spec, job = cj["spec"], cj["spec"]["jobTemplate"]["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["startingDeadlineSeconds"] > 0 and spec["successfulJobsHistoryLimit"] >= 1
        assert spec["failedJobsHistoryLimit"] >= 1 and job["backoffLimit"] == 0
        assert job["template"]["spec"]["restartPolicy"] == "Never"
        c = cron_container(cj)
        assert c["name"] == "job" and c["image"] == generated.image() == f"football-pipeline:{generated.version()}"
        res = c["resources"]
        for kind in ("cpu", "memory"):  # a CPU limit too: the thread counts are read from it
            assert kind in res["requests"] and kind in res["limits"], (name, kind)
    # a hung run is ended before the next one is due (Forbid would skip that one)
    for name, cj in CRONJOBS.items():
        gap = longest_gap(cj["spec"]["schedule"]).total_seconds()
        assert 0 < cj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] <= gap, name


def pod_shared(pod: dict) -> dict:
    """What every job's pod must share: everything but the command, its resources and the restart policy."""
    (c,) = pod["containers"]
    shared = {k: v for k, v in pod.items() if k not in ("containers", "restartPolicy")}
    shared["container"] = {
        k: v for k, v in c.items() if k not in ("command", "args", "resources", "workingDir", "image")
    }
    return shared


def test_the_migration_job_is_the_projects_migrate_step_in_the_jobs_pod():
    (job,) = [d for d in RESOURCES if d["kind"] == "Job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == [f"{WORKDIR}/.venv/bin/python", "production/migrate.py"]
    assert pod["containers"][0]["workingDir"] == WORKDIR
    assert pod_shared(pod) == pod_shared(JOB_POD_PATCH)
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0]["onExitCodes"]["containerName"] == "job"
    assert set(rules[0]["onExitCodes"]["values"]) == {EXIT_SOFTWARE, EXIT_CONFIG}  # retried: 69, unavailable


def test_settings_secret_threads_volume_and_user():
    c = JOB_POD_PATCH["containers"][0]
    env = {v["name"]: v for v in c["env"]}
    for key in ("DATABASE_URL", "SPORTMONKS_API_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {
            "name": "football-secrets",
            "key": key,
            **({"optional": True} if key != "DATABASE_URL" else {}),
        }
    for key in ("CPU_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[key]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.cpu", "divisor": "1"}, key
    (pvc,) = [d for d in RESOURCES if d["kind"] == "PersistentVolumeClaim"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    volumes = {v["name"]: v for v in JOB_POD_PATCH["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    state = os.path.commonpath([IMAGE_ENV["MODEL_DIR"], IMAGE_ENV["BACKUP_DIR"]])
    assert volumes[mounts[state]]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    uid, gid = map(int, instructions("USER")[-1].split(":"))
    sc = JOB_POD_PATCH["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["fsGroup"], sc["runAsNonRoot"]) == (uid, gid, gid, True)
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    # a read-only root: every directory a job writes is a volume
    written = {IMAGE_ENV[k] for k in ("MODEL_DIR", "BACKUP_DIR", "LOG_DIR", "CACHE_DIR")} | {env["LOCK_DIR"]["value"]}
    assert all(any(p == m or p.startswith(m + "/") for m in mounts) for p in written), (written, mounts)
    settings = (K8S / "settings.env").read_text()
    assert not re.search(r"^(MODEL_DIR|BACKUP_DIR|LOG_DIR|LOCK_DIR|CACHE_DIR)=", settings, re.M)


def test_the_kustomize_rendering_gives_every_cronjob_the_shared_pod():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if IN_CI:
            pytest.fail("CI=true but kubectl is not installed")
        pytest.skip("kubectl not installed: the kustomize rendering is not checked")
    r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    cronjobs = [d for d in docs if d["kind"] == "CronJob"]
    assert len(cronjobs) == len(SCHEDULED)
    assert all(d["metadata"].get("namespace") == "football" for d in docs if d["kind"] != "Namespace")
    pods = [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in cronjobs]
    pods += [d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Job"]
    shared = [pod_shared(p) for p in pods]
    for d in cronjobs:  # the deadlines as the cluster gets them
        job = JOBS[d["metadata"]["name"].replace("-", "_")]
        assert d["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] > job.deadline
    assert all(s == shared[0] for s in shared)
    assert shared[0]["container"]["envFrom"][0]["configMapRef"]["name"].startswith("football-settings-")


# ---- the migration step ---------------------------------------------------------------------------------------------


def migrate(env: dict, *args: str):
    return CliRunner().invoke(COMMANDS["migrate"], list(args), env=env)


def test_migrate_brings_the_schema_to_head_and_is_idempotent(tmp_path):
    for _ in range(2):
        r = migrate(make_env(tmp_path))
        assert r.exit_code == 0, r.output
        assert "database schema at revision" in r.stderr
    con = sqlite3.connect(tmp_path / "predictions.db")
    (revision,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
    runs = con.execute("SELECT status, counts FROM job_runs WHERE job = 'migrate'").fetchall()
    assert [s for s, _ in runs] == ["success", "success"] and revision in runs[-1][1]


def test_migrate_on_postgresql(pg_url, tmp_path):
    r = migrate(make_env(tmp_path, DATABASE_URL=pg_url), "--quiet")
    assert r.exit_code == 0, r.output


def test_migrate_without_a_database_exits_69_and_keeps_the_password(tmp_path):
    url = "postgresql+psycopg://football:s3cret-pw@127.0.0.1:1/football"
    r = migrate(make_env(tmp_path, DATABASE_URL=url))
    assert r.exit_code == 69 and "s3cret-pw" not in r.output


# ---- no secret in the image, the compose file or the manifests -----------------------------------------------------

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL)", re.I)
INTERPOLATED = re.compile(r"^\$\{[A-Z_]+(:?[-?][^}]*)?\}$")


def secrets_in(name: str, text: str) -> list[str]:
    """Literal secrets in a deployment file: a secret-named setting given a value, credentials in a URL,
    a Secret object, a private key."""
    found = []
    if "PRIVATE KEY-----" in text:
        found.append("a private key")
    for m in re.finditer(r"://([^:/@\s]+):([^@/\s]+)@", text):
        if not INTERPOLATED.match(m.group(2)) and not m.group(2).startswith("${"):
            found.append(f"credentials in a URL: {m.group(0)}")
    if name.endswith((".yaml", ".yml")):
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                found.append("a Secret object")
            found += _secret_values(doc)
    else:  # Dockerfile, .env-style files: NAME=value words, and ENV/ARG NAME value (comments aside)
        for line in text.splitlines():
            words = line.replace("\\", " ").split()
            if not words or words[0].startswith("#"):
                continue
            pairs = [w.split("=", 1) for w in words if "=" in w]
            if words[0].upper() in ("ENV", "ARG") and len(words) == 3 and "=" not in words[1]:
                pairs.append(words[1:])
            for k, v in pairs:
                if SECRET_NAME.search(k) and v and not INTERPOLATED.match(v):
                    found.append(f"{k} has a value")
    return found


def _secret_values(node, key: str = "") -> list[str]:
    found = []
    if isinstance(node, dict):
        if "secretGenerator" in node:
            found.append("a secretGenerator")
        if "name" in node and "value" in node and SECRET_NAME.search(str(node["name"])):  # Kubernetes env
            found.append(f"{node['name']} has a value")
        for k, v in node.items():
            found += _secret_values(v, str(k))
    elif isinstance(node, list):
        for v in node:
            found += _secret_values(v, key)
    elif isinstance(node, str) and SECRET_NAME.search(key) and node and not INTERPOLATED.match(node):
        found.append(f"{key} has a value")
    elif isinstance(node, str) and "=" in node and SECRET_NAME.search(node.split("=", 1)[0]):
        if node.split("=", 1)[1] and not INTERPOLATED.match(node.split("=", 1)[1]):
            found.append(f"{node.split('=', 1)[0]} has a value")
    return found


def deployment_files() -> list[Path]:
    files = [ROOT / "Dockerfile", ROOT / ".dockerignore", ROOT / "compose.yaml"]
    return files + sorted(p for p in K8S.rglob("*") if p.is_file())


def test_no_secret_in_the_image_compose_or_manifests():
    assert len(deployment_files()) >= 8
    found = {str(p.relative_to(ROOT)): secrets_in(p.name, p.read_text()) for p in deployment_files()}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize(
    "name,text",
    [
        ("Dockerfile", "FROM python:3.11-slim\nENV SPORTMONKS_API_KEY=abcd1234efgh\n"),
        ("Dockerfile", "ARG DB_PASSWORD=hunter22\n"),
        ("Dockerfile", "ENV SPORTMONKS_API_KEY abcd1234efgh\n"),
        ("compose.yaml", "services:\n  a:\n    environment:\n      POSTGRES_PASSWORD: hunter22\n"),
        ("compose.yaml", "services:\n  a:\n    environment:\n      - SPORTMONKS_API_KEY=abcd1234\n"),
        ("compose.yaml", "services:\n  a:\n    environment:\n      DATABASE_URL: postgresql://u:hunter22@db/x\n"),
        ("job.yaml", "kind: Job\nspec:\n  env:\n    - name: SPORTMONKS_API_KEY\n      value: abcd1234\n"),
        ("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  x: y\n"),
        ("settings.env", "DATA_SOURCE=sportmonks\nSPORTMONKS_API_KEY=abcd1234\n"),
        ("kustomization.yaml", "secretGenerator:\n  - name: s\n    literals: [DATABASE_URL=sqlite:///x.db]\n"),
    ],
)
def test_the_secret_check_finds_a_planted_secret(name, text):
    assert secrets_in(name, text)


def test_the_secret_check_lets_references_pass():
    assert (
        secrets_in(
            "compose.yaml",
            "x:\n  DATABASE_URL: postgresql+psycopg://f:${POSTGRES_PASSWORD:?set it}@pg/f\n"
            "  SPORTMONKS_API_KEY: ${SPORTMONKS_API_KEY:-}\n",
        )
        == []
    )
    assert (
        secrets_in("Dockerfile", "# no secret here: settings come from the environment\nENV SPORTMONKS_API_KEY=\n")
        == []
    )
