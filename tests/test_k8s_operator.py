"""Kubernetes as an operator applies it: the production overlay rendered by `kubectl kustomize` (a versioned image
from the registry, a real source, PostgreSQL from the Secret, a migration Job named for the release, pod deadlines
at least the job table's, a StorageClass), the restore script run against a recording kubectl, and the compose
file's paths as compose interpolates them."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import IN_CI, ROOT, invoke_command, make_env

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.jobs import generated
from pipeline.jobs.table import JOBS, SCHEDULED

BASE = ROOT / "deploy" / "kubernetes" / "base"
PRODUCTION = ROOT / "deploy" / "kubernetes" / "overlays" / "production"
RESTORE = ROOT / "deploy" / "kubernetes" / "restore.sh"


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if IN_CI:
            pytest.fail("CI=true but kubectl is not installed")
        pytest.skip("kubectl not installed: the kustomize rendering is not checked")
    return found


def render(directory: Path) -> list[dict]:
    r = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def pods(docs: list[dict]) -> list[dict]:
    out = [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in docs if d["kind"] == "CronJob"]
    return out + [d["spec"]["template"]["spec"] for d in docs if d["kind"] == "Job"]


# ---- the production overlay ------------------------------------------------------------------------------------------


def test_the_production_overlay_renders_a_deployable_release():
    docs = render(PRODUCTION)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CronJob") == len(SCHEDULED) and kinds.count("Job") == 1
    version = generated.version()
    wanted = f"registry.example.com/football/football-pipeline:{version}"
    containers = [c for p in pods(docs) for c in p["containers"]]
    assert {c["image"] for c in containers} == {wanted}, "every pod runs the release's image from the registry"
    # no sandbox: the settings every pod gets name a real source and the production deployment
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["data"]["DATA_SOURCE"] in ("football-data", "sportmonks")
    assert cm["data"]["DEPLOYMENT"] == "production"
    for c in containers:
        assert {"configMapRef": {"name": cm["metadata"]["name"]}} in c["envFrom"]
        env = {e["name"]: e for e in c["env"]}
        # the store's URL from the Secret, required (a pod without it does not start)
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "football-secrets", "key": "DATABASE_URL"}
    # the migration Job is named for the release, so the next release's apply creates a new one
    (job,) = [d for d in docs if d["kind"] == "Job"]
    assert job["metadata"]["name"] == generated.migrate_name() == "migrate-v" + version.replace(".", "-")
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    # pod deadlines at least the job table's own
    for d in docs:
        if d["kind"] == "CronJob":
            own = JOBS[d["metadata"]["name"].replace("-", "_")].deadline
            assert d["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] >= own
    assert job["spec"]["activeDeadlineSeconds"] >= JOBS["migrate"].deadline
    (pvc,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert pvc["spec"]["storageClassName"] and pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert all(d["metadata"].get("namespace") == "football" for d in docs if d["kind"] != "Namespace")


def overlay_settings(docs: list[dict], database_url: str) -> Settings:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    return load_settings({**cm["data"], "DATABASE_URL": database_url}, dotenv=Path(os.devnull))


def test_the_production_settings_require_postgresql_and_a_real_source():
    docs = render(PRODUCTION)
    ok = overlay_settings(docs, "postgresql://football:pw@db:5432/football")
    assert ok.deployment == "production" and ok.data_source == "football-data" and not ok.is_sqlite
    with pytest.raises(ConfigError, match="DEPLOYMENT=production needs a PostgreSQL DATABASE_URL"):
        overlay_settings(docs, "sqlite:////var/lib/football/predictions.db")
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    cm["data"]["DATA_SOURCE"] = "sandbox"
    with pytest.raises(ConfigError, match="DEPLOYMENT=production needs DATA_SOURCE=football-data or sportmonks"):
        overlay_settings(docs, "postgresql://football:pw@db:5432/football")


@pytest.mark.parametrize("job", ["migrate", "hourly_predictions", "backup"])
def test_a_production_deployment_on_the_sandbox_or_sqlite_stops_every_job_with_one_line(job, tmp_path):
    for extra, says in (({}, "DATA_SOURCE"), ({"DATA_SOURCE": "football-data"}, "PostgreSQL DATABASE_URL")):
        r = invoke_command(job, [], make_env(tmp_path, DEPLOYMENT="production", **extra))
        assert r.exit_code == 78, r.output
        (line,) = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert "DEPLOYMENT=production" in line and says in line


def test_the_base_names_a_versioned_image_never_latest():
    kustomization = (BASE / "kustomization.yaml").read_text()
    assert "latest" not in kustomization
    docs = render(BASE)
    assert {c["image"] for p in pods(docs) for c in p["containers"]} == {generated.image()}
    assert re.fullmatch(r"football-pipeline:\d+\.\d+\.\d+", generated.image())


def test_a_new_version_renames_the_migration_job_and_retags_every_pod(tmp_path):
    for rel in (generated.POD_PATCH, generated.SETTINGS_ENV):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, tmp_path / rel)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(re.sub(r'(?m)^version = ".*"$', 'version = "1.4.0rc1"', pyproject))
    files = generated.files(tmp_path)
    migrate = yaml.safe_load(files[generated.MIGRATE_JOB].split("\n", 0)[0])
    assert migrate["metadata"]["name"] == "migrate-v1-4-0rc1"
    assert migrate["spec"]["template"]["spec"]["containers"][0]["image"] == "football-pipeline:1.4.0rc1"
    cronjobs = [d for d in yaml.safe_load_all(files[generated.CRONJOBS]) if d]
    assert {d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] for d in cronjobs} == {
        "football-pipeline:1.4.0rc1"
    }


def test_the_image_has_curl_for_webhooks_and_copies():
    text = (ROOT / "Dockerfile").read_text()
    install = next(line for line in text.splitlines() if "apt-get install" in line)
    assert re.search(r"\bcurl=8\.\*", install)


# ---- the restore procedure -------------------------------------------------------------------------------------------

FAKE_KUBECTL = r"""#!/usr/bin/env bash
# records every call; answers reads from files the test wrote; `patch --local` is the real kubectl's
echo "$*" >> "$FAKE/calls"
args=" $* "
case "$args" in
  *" get cronjobs "*) cat "$FAKE/cronjobs" ;;
  *" get jobs "*) cat "$FAKE/active" 2>/dev/null; : > "$FAKE/active" ;;
  *" create job "*"--dry-run=client"*) cat "$FAKE/job.json" ;;
  *" patch --local "*) exec "$REAL_KUBECTL" "$@" ;;
  *" create -f - "*) cat > "$FAKE/created.json" ;;
  *" wait "*) exit "$(cat "$FAKE/wait_rc")" ;;
  *" logs "*) echo "restore: file is damaged" ;;
  *" patch cronjob "*) ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""


@pytest.fixture
def cluster(tmp_path):
    """A recording kubectl over the rendered base: three CronJobs (one suspended by the operator), the backup
    CronJob's Job as `kubectl create job --from` gives it."""
    real = kubectl()
    docs = render(BASE)
    (backup,) = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["name"] == "backup"]
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "restore", "namespace": "football"},
        "spec": backup["spec"]["jobTemplate"]["spec"],
    }
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "job.json").write_text(json.dumps(job))
    (fake / "cronjobs").write_text("backup false\nhourly-predictions false\nweekly-training true\n")
    (fake / "active").write_text("hourly-predictions-29012345 ")
    (fake / "wait_rc").write_text("0")
    bin_ = tmp_path / "kubectl"
    bin_.write_text(FAKE_KUBECTL)
    bin_.chmod(bin_.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "FAKE": str(fake), "REAL_KUBECTL": real, "KUBECTL": str(bin_), "KUBECONFIG": os.devnull}
    return fake, env


def restore(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(RESTORE), *args],
        env={**env, "WAIT_RUNNING": "30", "POLL_SECONDS": "0.1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


BACKUP_FILE = "/var/lib/football/backups/predictions_20260118_040000.dump"


def calls(fake: Path) -> list[str]:
    return (fake / "calls").read_text().splitlines()


def suspends(lines: list[str], value: str) -> list[str]:
    return [ln.split()[4] for ln in lines if " patch cronjob " in f" {ln} " and f'"suspend":{value}' in ln]


def test_restore_suspends_the_schedule_restores_then_resumes(cluster):
    fake, env = cluster
    r = restore(env, BACKUP_FILE)
    assert r.returncode == 0, r.stderr
    log = calls(fake)
    create = next(i for i, ln in enumerate(log) if ln.endswith("create -f -"))
    wait = next(i for i, ln in enumerate(log) if " wait " in f" {ln} ")
    # the operator's suspended CronJob is left alone; the others suspended before, resumed after
    assert sorted(suspends(log[:create], "true")) == ["backup", "hourly-predictions"]
    assert sorted(suspends(log[wait:], "false")) == ["backup", "hourly-predictions"]
    assert "weekly-training" not in " ".join(ln for ln in log if "patch cronjob" in ln)
    # the running Job was waited for before the restore began
    assert [i for i, ln in enumerate(log) if " get jobs " in f" {ln} "][-1] < create
    created = json.loads((fake / "created.json").read_text())
    (c,) = created["spec"]["template"]["spec"]["containers"]
    assert c["command"][-3:] == ["production/backup.py", "--quiet", f"--restore={BACKUP_FILE}"]
    assert "--for=condition=complete" in log[wait]


def test_a_failed_restore_leaves_the_schedule_suspended_and_says_how_to_resume(cluster):
    fake, env = cluster
    (fake / "wait_rc").write_text("1")
    r = restore(env, BACKUP_FILE)
    assert r.returncode == 1
    assert suspends(calls(fake), "false") == []
    assert "file is damaged" in r.stderr and "--resume" in r.stderr
    (fake / "calls").write_text("")
    r = restore(env, "--resume")
    assert r.returncode == 0 and sorted(suspends(calls(fake), "false")) == [
        "backup",
        "hourly-predictions",
        "weekly-training",
    ]


def test_the_dry_run_changes_nothing_and_prints_every_change(cluster):
    fake, env = cluster
    r = restore(env, "--dry-run", BACKUP_FILE)
    assert r.returncode == 0, r.stderr
    log = calls(fake)
    assert suspends(log, "true") == [] and not (fake / "created.json").exists()
    assert not any(" wait " in f" {ln} " for ln in log)
    printed = r.stdout.splitlines()
    assert [ln for ln in printed if '"suspend":true' in ln] == [
        f"+ {env['KUBECTL']} -n football patch cronjob backup --type=merge -p " + '{"spec":{"suspend":true}}',
        f"+ {env['KUBECTL']} -n football patch cronjob hourly-predictions --type=merge -p "
        + '{"spec":{"suspend":true}}',
    ]
    assert any(f"--restore={BACKUP_FILE}" in ln for ln in printed)
    assert len([ln for ln in printed if '"suspend":false' in ln]) == 2


def test_restore_refuses_a_path_outside_the_pods(cluster):
    fake, env = cluster
    r = restore(env, "backups/predictions_20260118_040000.dump")
    assert r.returncode == 2 and "/var/lib/football/backups" in r.stderr
    assert not (fake / "calls").exists()


# ---- compose: only container-valid paths reach the containers -------------------------------------------------------

COMPOSE_VAR = re.compile(r"\$\{(\w+)(?:(:?[-+?])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation (the compose specification): ${V}, ${V:-default}, ${V:+replacement}, ${V:?error}."""

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        value = env.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        if op in (":?", "?"):
            if unset_or_empty:
                raise ValueError(arg)
            return str(value)
        return value or ""

    return COMPOSE_VAR.sub(one, text)


def interpolated(node, env: dict[str, str]):
    """The parsed file with every string interpolated, as compose does it (after parsing the YAML)."""
    if isinstance(node, dict):
        return {k: interpolated(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolated(v, env) for v in node]
    return interpolate(node, env) if isinstance(node, str) else node


PATH_SETTINGS = [n for n, f in Settings.__dataclass_fields__.items() if "Path" in str(f.type)]


@pytest.mark.parametrize("host_data_dir", ["/srv/football-data", None])
def test_compose_passes_only_container_paths_and_mounts_the_data_directory(host_data_dir):
    host = {"POSTGRES_PASSWORD": "x" * 24}
    if host_data_dir:
        host["FOOTBALL_DATA_DIR"] = host_data_dir
    compose = interpolated(yaml.safe_load((ROOT / "compose.yaml").read_text()), host)
    assert PATH_SETTINGS and "football_data_dir" in PATH_SETTINGS
    for name in ("migrate", "scheduler"):
        svc = compose["services"][name]
        env = svc["environment"]
        # every path setting is set here, over whatever the host's .env (env_file) says
        for setting in (s.upper() for s in PATH_SETTINGS):
            assert setting in env, (name, setting)
            assert env[setting] == "" or env[setting].startswith("/var/lib/football/"), (name, setting)
        mounts = {v.rsplit(":", 2)[1]: v.rsplit(":", 2)[0] for v in svc["volumes"] if v.count(":") == 2}
        target = "/var/lib/football/football-data"
        if host_data_dir:
            assert env["FOOTBALL_DATA_DIR"] == target and mounts[target] == host_data_dir
        else:
            assert env["FOOTBALL_DATA_DIR"] == "" and mounts[target] in compose["volumes"]
